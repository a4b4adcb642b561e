//! Prices, new sales orders, sync runs, and the log's JSON.

use chrono::{Duration, Utc};
use rusqlite::params;
use workstation::events::{self, Envelope, Event};

use crate::support::{Db, kinds, now, one_item};

#[test]
fn a_price_edited_by_hand_is_one_event_with_the_first_before_and_the_last_after() {
    let mut db = one_item();
    db.sql(
        "BEGIN;
         UPDATE products SET list_price = 6.0 WHERE url = '/p/1';
         UPDATE products SET list_price = 7.5, cost = 2.5 WHERE url = '/p/1';
         COMMIT;",
    );
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["price_changed"]);
    let Event::PriceChanged(p) = &ev[0] else {
        panic!()
    };
    assert_eq!(p.sku, "P1");
    assert_eq!(
        (p.list_price.before, p.list_price.after),
        (Some(5.0), Some(7.5))
    );
    assert_eq!((p.cost.before, p.cost.after), (Some(2.0), Some(2.5)));

    // Changed and changed back before anyone derived: nothing happened.
    db.sql(
        "UPDATE products SET cost = 9 WHERE url = '/p/1';
         UPDATE products SET cost = 2.5 WHERE url = '/p/1';",
    );
    assert!(db.derive().is_empty());
    // Other columns are not journalled at all.
    db.sql("UPDATE products SET name = 'Renamed' WHERE url = '/p/1'");
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 0);
}

fn order(db: &Db, url: &str, kind: &str, age: Duration) {
    let date = (Utc::now() - age).timestamp_millis();
    db.conn
        .execute(
            "INSERT INTO orders (url, order_id, order_type, status, order_date, party_url, total,
                    content_hash)
             VALUES (?1, ?1, ?2, 'ORDER_PLACED', ?3, '/party/c', 12.5, zeroblob(32))",
            params![url, kind, date],
        )
        .unwrap();
}

#[test]
fn only_new_recent_sales_orders_are_reported_with_their_lines() {
    let mut db = one_item();
    db.sql("BEGIN");
    order(&db, "/o/new", "SALES_ORDER", Duration::hours(1));
    db.sql(
        "INSERT INTO order_lines (order_url, seq, product_url, quantity)
         VALUES ('/o/new', 0, '/p/1', 2), ('/o/new', 1, '/p/unknown', 1);",
    );
    order(&db, "/o/old", "SALES_ORDER", Duration::days(3));
    order(&db, "/o/ancient", "SALES_ORDER", Duration::days(400));
    order(&db, "/o/po", "PURCHASE_ORDER", Duration::hours(1));
    db.sql("COMMIT");
    // The trigger's coarse window (7 days) journals the new and the 3-day-old order only.
    assert_eq!(
        db.count("SELECT count(*) FROM event_journal WHERE kind = 'order'"),
        2
    );
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["new_sales_order"]);
    let Event::NewSalesOrder(o) = &ev[0] else {
        panic!()
    };
    assert_eq!(o.order_url, "/o/new");
    assert_eq!(o.total, Some(12.5));
    let lines: Vec<_> = o
        .lines
        .iter()
        .map(|l| (l.sku.as_deref(), l.quantity))
        .collect();
    assert_eq!(lines, [(Some("P1"), 2.0), (None, 1.0)]);
    // An update of the order is not new.
    db.sql("UPDATE orders SET status = 'ORDER_COMPLETED' WHERE url = '/o/new'");
    assert!(db.derive().is_empty());
}

#[test]
fn sync_runs_report_start_and_finish_with_counts() {
    let mut db = Db::new();
    let t = now().timestamp_millis();
    db.conn
        .execute(
            "INSERT INTO sync_runs (strategy, started_at, runner) VALUES ('smart', ?1, 'me')",
            [t],
        )
        .unwrap();
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["sync_started"]);
    let Event::SyncStarted(s) = &ev[0] else {
        panic!()
    };
    assert_eq!(
        (s.strategy.as_str(), s.runner.as_deref()),
        ("smart", Some("me"))
    );
    let id = s.run_id;
    db.conn
        .execute(
            "UPDATE sync_runs SET finished_at = ?2, success = 1, duration_ms = 1500,
                    items_seen = 500, items_changed = 12, items_failed = 1 WHERE id = ?1",
            params![id, t + 1500],
        )
        .unwrap();
    let ev = db.derive();
    let Event::SyncFinished(f) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (
            f.run_id,
            f.success,
            f.items_seen,
            f.items_changed,
            f.items_failed
        ),
        (id, true, 500, 12, 1)
    );
    // Opened and closed between two derivations: both, in order.
    db.sql(
        "BEGIN;
         INSERT INTO sync_runs (strategy, started_at) VALUES ('stock', 1000);
         UPDATE sync_runs SET finished_at = 2000, success = 0 WHERE strategy = 'stock';
         COMMIT;",
    );
    assert_eq!(kinds(&db.derive()), ["sync_started", "sync_finished"]);
}

#[test]
fn the_log_holds_the_events_as_tagged_json() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let derived = db.derive();
    let logged = events::read_after(&db.conn, 0, 100).unwrap();
    assert_eq!(
        logged.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        derived
    );
    let seqs: Vec<_> = logged.iter().map(|e| e.seq.unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(events::last_seq(&db.conn).unwrap(), *seqs.last().unwrap());

    let json: Vec<String> = db
        .conn
        .prepare("SELECT json FROM cache_events ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json[1]).unwrap();
    assert_eq!(v["type"], "stocked_out");
    assert_eq!(v["location_url"], "/f/main");
    assert_eq!(v["level"], "out");
    assert_eq!(v["previous_level"], "ok");
    let v: serde_json::Value = serde_json::from_str(&json[3]).unwrap();
    assert_eq!(v["type"], "alert");
    assert_eq!(v["alerts"][0]["sku"], "P1");

    // An envelope flattens the event beside seq and at, and reads back.
    let text = serde_json::to_string(&logged[0]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "stock_changed");
    assert!(v["seq"].is_i64() && v["at"].is_string(), "{text}");
    let back: Envelope = serde_json::from_str(&text).unwrap();
    assert_eq!(back, logged[0]);

    // A status event, as the mirror would append it.
    let status = workstation::CacheStatus {
        state: workstation::CacheState::Live,
        since: now(),
        position: None,
        data_as_of: None,
        loading: vec![],
        message: None,
    };
    let e = Envelope {
        seq: None,
        at: now(),
        event: Event::Status(status),
    };
    let v: serde_json::Value = serde_json::to_value(&e).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["state"].as_str()),
        (Some("status"), Some("live"))
    );
    assert!(v.get("seq").is_none());
}

#[test]
fn the_log_is_pruned_by_age_and_count() {
    let db = Db::new();
    let old = now() - Duration::days(8);
    let fake = |n: usize| -> Vec<Event> {
        (0..n)
            .map(|i| {
                Event::SyncStarted(events::SyncStarted {
                    run_id: i as i64,
                    strategy: "smart".into(),
                    started_at: None,
                    runner: None,
                })
            })
            .collect()
    };
    events::append(&db.conn, fake(3), old).unwrap();
    events::append(&db.conn, fake(2), now()).unwrap();
    let n = events::prune(&db.conn, now()).unwrap();
    assert_eq!(n, 3);
    let left = events::read_after(&db.conn, 0, 100).unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].seq, Some(4), "seq is never reused");
    // A log pruned empty still starts after the last seq.
    db.sql("DELETE FROM cache_events");
    assert_eq!(events::last_seq(&db.conn).unwrap(), 5);
    // Bad input: a corrupt row is an error, not a silent skip.
    db.sql("INSERT INTO cache_events (at, type, json) VALUES (0, 'x', '{\"type\":\"nope\"}')");
    assert!(events::read_after(&db.conn, 5, 10).is_err());
}

#[test]
fn a_rolled_back_derivation_leaves_the_journal_for_the_next() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    {
        let tx = db.conn.transaction().unwrap();
        assert_eq!(events::derive(&tx, now()).unwrap().len(), 4);
        // Dropped: rolled back (a mirror whose catch-up failed).
    }
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 1);
    assert_eq!(db.count("SELECT count(*) FROM cache_events"), 0);
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
    assert_eq!(
        kinds(&db.derive()),
        ["stock_changed", "stocked_out", "stocked_out", "alert"]
    );
}

#[test]
fn unknown_journal_entries_are_ignored() {
    let mut db = one_item();
    // Bad input: a kind no trigger writes, and a run key that is not a number.
    db.sql(
        "INSERT INTO event_journal (kind, key) VALUES ('nonsense', 'x'), ('run_start', 'abc'),
                ('item', '/p/does-not-exist'), ('order', '/o/does-not-exist'),
                ('price', '/p/does-not-exist');",
    );
    assert!(db.derive().is_empty());
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 0);
}
