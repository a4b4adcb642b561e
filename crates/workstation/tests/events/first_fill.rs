//! A first fill of thousands of rows raises no alert storm.

use rusqlite::{Connection, TransactionBehavior, params};
use workstation::events::{self, BASELINE_MIN_KEYS, Level};

use crate::support::{Db, kinds, now};

/// `n` products at one location: every third out of stock, every third below its point.
fn fill(conn: &Connection, from: usize, n: usize) {
    for i in from..from + n {
        let p = format!("/p/{i:05}");
        conn.execute(
            "INSERT INTO products (url, sku, content_hash) VALUES (?1, ?2, zeroblob(32))",
            params![p, format!("S{i:05}")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point)
             VALUES (?1, 0, '/f/main', 5)",
            [&p],
        )
        .unwrap();
        let on_hand = match i % 3 {
            0 => 0.0,
            1 => 3.0,
            _ => 40.0,
        };
        crate::support::stock_on(conn, &p, "/f/main", on_hand, 0.0);
    }
}

#[test]
fn a_first_fill_of_thousands_of_products_raises_nothing() {
    let mut db = Db::new();
    db.facility("/f/main", None, "Main");
    let n = 3 * BASELINE_MIN_KEYS;
    db.sql("BEGIN");
    fill(&db.conn, 0, n);
    db.sql("INSERT INTO sync_runs (strategy, started_at) VALUES ('full', 1)");
    db.sql("COMMIT");
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["sync_started"], "sync progress only");
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
    assert_eq!(
        db.count("SELECT count(*) FROM event_levels"),
        2 * n as i64,
        "the total and the location of every product"
    );
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 0);
    assert_eq!(db.levels("/p/00000")[0].1, Level::Out);

    // From then on, changes are events.
    db.stock("/p/00002", "/f/main", 0.0, 0.0);
    assert_eq!(
        kinds(&db.derive()),
        ["stock_changed", "stocked_out", "stocked_out", "alert"]
    );
}

#[test]
fn a_fill_in_batches_stays_silent_by_first_sight() {
    // The engine's full load commits in batches smaller than the baseline threshold, and a
    // follower derives after each: every product is new, so nothing is said.
    let mut db = Db::new();
    db.facility("/f/main", None, "Main");
    for batch in 0..6 {
        db.sql("BEGIN");
        fill(&db.conn, batch * 500, 500);
        db.sql("COMMIT");
        let ev = db.derive();
        assert!(ev.is_empty(), "batch {batch}: {:?}", kinds(&ev));
    }
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
    assert_eq!(db.count("SELECT count(*) FROM event_levels"), 6000);
}

#[test]
fn baseline_after_a_hydration_records_everything_silently() {
    let mut db = Db::new();
    db.facility("/f/main", None, "Main");
    fill(&db.conn, 0, 300);
    // The mirror hydrates and baselines in one transaction.
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    assert_eq!(events::baseline(&tx, now()).unwrap(), 300);
    tx.commit().unwrap();
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 0);
    assert_eq!(db.count("SELECT count(*) FROM cache_events"), 0);
    assert_eq!(db.count("SELECT count(*) FROM event_levels"), 600);

    // An alert raised before a re-hydration survives it while the item is still out, and
    // is resolved by one where the item is fine again.
    db.stock("/p/00002", "/f/main", 0.0, 0.0);
    db.stock("/p/00005", "/f/main", 0.0, 0.0);
    db.derive();
    assert_eq!(events::active_alerts(&db.conn).unwrap().len(), 2);
    db.stock("/p/00005", "/f/main", 90.0, 0.0);
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    events::baseline(&tx, now()).unwrap();
    tx.commit().unwrap();
    let active = events::active_alerts(&db.conn).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].sku, "S00002");
}

#[test]
fn products_first_then_their_stock_is_silent() {
    // The engine's full load writes the product snapshot (with guidelines) before the stock
    // snapshot; a follower derives in between.
    let mut db = Db::new();
    db.facility("/f/main", None, "Main");
    db.sql("BEGIN");
    for i in 0..300 {
        let p = format!("/p/{i:03}");
        db.product(&p, &format!("S{i:03}"));
        db.guideline(&p, 0, Some("/f/main"), 5.0);
    }
    db.sql("COMMIT");
    assert!(db.derive().is_empty());
    assert_eq!(
        db.count("SELECT count(*) FROM event_levels"),
        0,
        "no state before any stock"
    );
    for batch in 0..3 {
        db.sql("BEGIN");
        for i in batch * 100..(batch + 1) * 100 {
            let on_hand = [0.0, 3.0, 40.0][i % 3];
            db.stock(&format!("/p/{i:03}"), "/f/main", on_hand, 0.0);
        }
        db.sql("COMMIT");
        let ev = db.derive();
        assert!(ev.is_empty(), "batch {batch}: {:?}", kinds(&ev));
    }
    assert_eq!(db.count("SELECT count(*) FROM event_levels"), 600);
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
}

#[test]
fn upgrading_a_stocked_store_records_its_levels_at_the_first_derivation() {
    // The schema before the events migration, with stock in it; then the migration.
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("old.db")).unwrap();
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(&migrations)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (events_file, before): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.to_string_lossy().contains("V20261205050000__events"));
    for f in before {
        conn.execute_batch(&std::fs::read_to_string(f).unwrap())
            .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO facilities (url, facility_id, content_hash) VALUES ('/f/main', 'm', zeroblob(32));",
    )
    .unwrap();
    fill(&conn, 0, 30);
    conn.execute_batch(&std::fs::read_to_string(&events_file[0]).unwrap())
        .unwrap();

    let ev = crate::support::derive_on(&mut conn, now());
    assert!(ev.is_empty(), "{:?}", kinds(&ev));
    let n: i64 = conn
        .query_row("SELECT count(*) FROM event_levels", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 60);
    // The next stockout of a product stocked before the upgrade is reported.
    crate::support::stock_on(&conn, "/p/00002", "/f/main", 0.0, 0.0);
    assert_eq!(
        kinds(&crate::support::derive_on(&mut conn, now())),
        ["stock_changed", "stocked_out", "stocked_out", "alert"]
    );
}
