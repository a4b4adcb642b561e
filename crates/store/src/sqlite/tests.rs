//! Tests of the local store against real SQLite: files in a temporary directory and
//! `:memory:` databases.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::{Connection, params};

use super::*;
use crate::{Strategy, SyncCandidate};

const VIEWS: [&str; 3] = crate::VIEWS;

fn fresh() -> Connection {
    let mut conn = open_in_memory().expect("open in memory");
    migrate(&mut conn).expect("migrate");
    conn
}

fn names(conn: &Connection, kind: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = ?1 ORDER BY name")
        .expect("prepare");
    stmt.query_map([kind], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn hash(b: u8) -> Vec<u8> {
    vec![b; 32]
}

// ------------------------------------------------------------------------------------------
// open and migrate

#[test]
fn migrate_creates_every_table_and_view_in_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    let mut conn = open(&path).expect("open");
    assert_eq!(database_version(&conn).expect("version"), None);
    let report = migrate(&mut conn).expect("migrate");
    assert_eq!(report.previous_version, None);
    assert_eq!(report.current_version, known_version());
    assert_eq!(report.known_version, known_version());
    assert!(
        report
            .applied
            .iter()
            .any(|m| m.version == 20261123230000 && m.name == "initial_schema"),
        "{report:?}"
    );
    let tables = names(&conn, "table");
    for t in crate::all_tables().chain(["refinery_schema_history"]) {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
    let views = names(&conn, "view");
    for v in VIEWS {
        assert!(views.iter().any(|x| x == v), "missing view {v}: {views:?}");
    }
    // Every domain table is STRICT.
    for t in crate::all_tables() {
        let strict: i64 = conn
            .query_row(
                "SELECT strict FROM pragma_table_list WHERE name = ?1",
                [t],
                |r| r.get(0),
            )
            .expect("table list");
        assert_eq!(strict, 1, "{t} is not STRICT");
    }
    drop(conn);
    // Reopening the file sees the migrated schema.
    let conn = open(&path).expect("reopen");
    assert_eq!(
        database_version(&conn).expect("version"),
        Some(known_version())
    );
}

#[test]
fn connections_migrating_one_fresh_file_at_once_wait_for_each_other() {
    // Without the migration lock, the losers of this race fail with "table ... already
    // exists" (refinery reads the history before it starts its transactions).
    for round in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(format!("race-{round}.db"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // Every worker reaches the barrier, so a failed open fails the test
                    // instead of leaving the others waiting for ever.
                    let conn = open(&path);
                    barrier.wait();
                    let mut conn = conn.expect("every connection opens the fresh file");
                    migrate(&mut conn).map(|r| r.applied.len())
                })
            })
            .collect();
        let applied: Vec<usize> = workers
            .into_iter()
            .map(|w| w.join().expect("thread").expect("every migration succeeds"))
            .collect();
        let known = std::fs::read_dir("../../migrations/sqlite")
            .expect("migrations")
            .count();
        assert_eq!(
            applied.iter().sum::<usize>(),
            known,
            "applied exactly once: {applied:?}"
        );
        assert!(migrate_lock_path(&path).exists());
    }
}

/// The stock-pulse migration rebuilds `sync_runs` (SQLite cannot alter a CHECK): every run
/// and every quarantined record survives it with its id, `'stock'` becomes a valid strategy,
/// ids keep counting up, and the quarantine still cascades with its run.
#[test]
fn the_stock_pulse_migration_keeps_runs_and_quarantine() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite/");
    let file = |name: &str| std::fs::read_to_string(format!("{dir}{name}")).expect("migration");
    let conn = open_in_memory().expect("open in memory");
    conn.execute_batch(&file("V20261123230000__initial_schema.sql"))
        .expect("initial schema");
    conn.execute_batch(&file("V20261124010000__engine_columns.sql"))
        .expect("engine columns");
    let insert_run = |strategy: &str| {
        conn.execute(
            "INSERT INTO sync_runs (strategy, started_at) VALUES (?1, 1000)",
            [strategy],
        )
    };
    insert_run("full").expect("full");
    insert_run("smart").expect("smart");
    assert!(insert_run("stock").is_err(), "not a strategy before");
    conn.execute(
        "UPDATE sync_runs SET finished_at = 2000, duration_ms = 1000, success = 1, \
         notes = 'kept' WHERE id = 1",
        [],
    )
    .expect("finish");
    for run in [1, 2, 2] {
        conn.execute(
            "INSERT INTO sync_errors (run_id, collection, reason, raw_text, at) \
             VALUES (?1, 'order', 'bad', 'x', 1500)",
            [run],
        )
        .expect("quarantine");
    }
    let runs_before: Vec<(i64, String, Option<String>)> = conn
        .prepare("SELECT id, strategy, notes FROM sync_runs ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .expect("runs");

    let tx = conn.unchecked_transaction().expect("begin");
    tx.execute_batch(&file("V20261204040000__stock_pulse.sql"))
        .expect("the stock-pulse migration applies");
    tx.commit().expect("commit");

    let runs_after: Vec<(i64, String, Option<String>)> = conn
        .prepare("SELECT id, strategy, notes FROM sync_runs ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .expect("runs");
    assert_eq!(runs_after, runs_before);
    let errors: Vec<(i64, i64)> = conn
        .prepare("SELECT id, run_id FROM sync_errors ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("errors");
    assert_eq!(
        errors,
        vec![(1, 1), (2, 2), (3, 2)],
        "the quarantine survives"
    );
    insert_run("stock").expect("'stock' is a strategy now");
    let id: i64 = conn
        .query_row("SELECT max(id) FROM sync_runs", [], |r| r.get(0))
        .expect("id");
    assert_eq!(id, 3, "ids keep counting");
    assert!(insert_run("weekly").is_err(), "still checked");
    conn.execute("DELETE FROM sync_runs WHERE id = 2", [])
        .expect("delete a run");
    let left: i64 = conn
        .query_row("SELECT count(*) FROM sync_errors", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 1, "the quarantine still cascades with its run");
    assert!(names(&conn, "index").contains(&"sync_runs_strategy_success".to_owned()));
    assert!(names(&conn, "index").contains(&"sync_errors_run_id".to_owned()));
    let fk: Vec<String> = conn
        .prepare("SELECT \"table\" FROM pragma_foreign_key_list('sync_errors')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("fk");
    assert_eq!(fk, vec!["sync_runs".to_owned()]);
}

#[test]
fn migrating_twice_is_a_no_op_and_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    let mut conn = open(&path).expect("open");
    migrate(&mut conn).expect("first");
    conn.execute(
        "INSERT INTO sync_state (key, value, updated_at) VALUES ('cursor:product', '{}', 1)",
        [],
    )
    .expect("insert state");
    let before = names(&conn, "table");
    drop(conn);
    let mut conn = open(&path).expect("reopen");
    let report = migrate(&mut conn).expect("second");
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.previous_version, Some(known_version()));
    assert_eq!(report.current_version, known_version());
    assert_eq!(names(&conn, "table"), before);
    let history: i64 = conn
        .query_row("SELECT count(*) FROM refinery_schema_history", [], |r| {
            r.get(0)
        })
        .expect("history");
    assert_eq!(history, migration_files());
    let kept: i64 = conn
        .query_row("SELECT count(*) FROM sync_state", [], |r| r.get(0))
        .expect("state");
    assert_eq!(kept, 1);
}

/// How many migration files `migrations/sqlite/` ships (each is one history row).
fn migration_files() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    let n = std::fs::read_dir(dir)
        .expect("read migrations/sqlite")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count();
    i64::try_from(n).expect("count")
}

fn record_future_migration(conn: &Connection, version: i64) {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS refinery_schema_history( \
             version int8 PRIMARY KEY, name VARCHAR(255), \
             applied_on VARCHAR(255), checksum VARCHAR(255)); \
         INSERT INTO refinery_schema_history VALUES \
             ({version}, 'from_the_future', '2099-01-01T00:00:00Z', '42');"
    ))
    .expect("record a future migration");
}

#[test]
fn a_newer_schema_is_refused_before_anything_is_applied() {
    // An empty database that a newer Stockpulse has started to migrate.
    let mut conn = open_in_memory().expect("open");
    record_future_migration(&conn, 20990101000000);
    let err = migrate(&mut conn).expect_err("must refuse");
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                database: 20990101000000,
                known
            } if known == known_version()
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "database schema version 20990101000000 is newer than this Stockpulse \
             (knows up to {}); upgrade Stockpulse",
            known_version()
        )
    );
    assert!(!names(&conn, "table").iter().any(|t| t == "products"));

    // A migrated database that later got a newer migration.
    let mut conn = fresh();
    record_future_migration(&conn, known_version() + 1);
    assert!(matches!(
        migrate(&mut conn),
        Err(StoreError::SchemaTooNew { .. })
    ));
}

#[test]
fn a_corrupt_history_version_is_reported_not_guessed() {
    let conn = open_in_memory().expect("open");
    conn.execute_batch(
        "CREATE TABLE refinery_schema_history(version, name, applied_on, checksum); \
         INSERT INTO refinery_schema_history VALUES ('soon', 'x', 'y', 'z');",
    )
    .expect("setup");
    assert!(matches!(
        database_version(&conn),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn open_sets_wal_synchronous_foreign_keys_and_busy_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    for _ in 0..2 {
        let conn = open(&path).expect("open");
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .expect("synchronous");
        assert_eq!(sync, 1, "NORMAL");
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .expect("foreign_keys");
        assert_eq!(fk, 1);
        let busy: i64 = conn
            .pragma_query_value(None, "busy_timeout", |r| r.get(0))
            .expect("busy_timeout");
        assert_eq!(busy, 10_000);
    }
    let mem = open_in_memory().expect("memory");
    let fk: i64 = mem
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("foreign_keys");
    assert_eq!(fk, 1);
}

#[test]
fn open_refuses_a_file_that_is_not_a_database_and_a_missing_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("notes.txt");
    std::fs::write(&garbage, vec![0x42_u8; 8192]).expect("write garbage");
    let err = open(&garbage).expect_err("garbage file");
    assert!(matches!(err, StoreError::SqliteOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.txt"), "{err}");

    let missing = dir.path().join("no/such/dir/store.sqlite");
    let err = open(&missing).expect_err("missing directory");
    assert!(matches!(err, StoreError::SqliteOpen { .. }), "{err:?}");
}

#[test]
fn the_seeds_indexes_exist_with_their_partial_predicates() {
    let conn = fresh();
    let sql_of = |name: &str| -> String {
        conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1 \
               AND tbl_name = 'inventory_items'",
            [name],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("index {name}: {e}"))
    };
    let priority = sql_of("idx_inventory_sync_priority");
    assert!(
        priority.contains("(finale_last_sync, stock, sales_velocity)")
            && priority.contains("WHERE stock <= reorder_point"),
        "{priority}"
    );
    let change = sql_of("idx_inventory_change_detection");
    assert!(
        change.contains("(finale_id, finale_last_sync, cost, stock)") && !change.contains("WHERE"),
        "{change}"
    );
    let active = sql_of("idx_inventory_active_sync");
    assert!(
        active.contains("(finale_id, stock, last_updated)")
            && active.contains("WHERE finale_id IS NOT NULL"),
        "{active}"
    );
    // The planner uses the partial index for the critical predicate.
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM inventory_items \
              WHERE stock <= reorder_point AND finale_last_sync < 5",
        )
        .expect("plan")
        .query_map([], |r| r.get::<_, String>(3))
        .expect("plan rows")
        .collect::<Result<_, _>>()
        .expect("plan rows");
    assert!(
        plan.iter()
            .any(|p| p.contains("idx_inventory_sync_priority")),
        "{plan:?}"
    );
}

// ------------------------------------------------------------------------------------------
// constraints and derived columns

/// Runs `sql` with `params` and asserts it fails as a constraint violation.
fn rejects(conn: &Connection, sql: &str, params: impl rusqlite::Params) {
    let result = conn
        .execute(sql, params)
        .map_err(StoreError::sqlite("test insert"));
    match result {
        Ok(_) => panic!("accepted garbage: {sql}"),
        Err(e) => assert!(e.is_constraint_violation(), "{sql}: {e:?}"),
    }
}

fn accepts(conn: &Connection, sql: &str, params: impl rusqlite::Params) {
    conn.execute(sql, params)
        .unwrap_or_else(|e| panic!("rejected good row: {sql}: {e}"));
}

#[test]
fn inventory_items_reject_non_finite_negative_and_mistyped_values() {
    let conn = fresh();
    let ins = "INSERT INTO inventory_items (sku, stock, reorder_point, cost, sales_velocity, \
               finale_last_sync, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    accepts(
        &conn,
        ins,
        params!["OK", -3.0, 1.0, 2.5, 0.0, 1_i64, hash(1)],
    );
    for (sku, stock, rp, cost, vel) in [
        ("INF", f64::INFINITY, 1.0, 1.0, 0.0),
        ("NEG-INF", f64::NEG_INFINITY, 1.0, 1.0, 0.0),
        ("NAN", f64::NAN, 1.0, 1.0, 0.0),
        ("NEG-RP", 1.0, -1.0, 1.0, 0.0),
        ("INF-RP", 1.0, f64::INFINITY, 1.0, 0.0),
        ("NEG-COST", 1.0, 1.0, -0.01, 0.0),
        ("NEG-VEL", 1.0, 1.0, 1.0, -1.0),
        ("INF-VEL", 1.0, 1.0, 1.0, f64::INFINITY),
        ("NAN-VEL", 1.0, 1.0, 1.0, f64::NAN),
    ] {
        rejects(
            &conn,
            ins,
            params![sku, stock, rp, cost, vel, 1_i64, hash(1)],
        );
    }
    // STRICT: a string in a REAL column, a float in a timestamp, text as a hash.
    rejects(
        &conn,
        ins,
        params!["TXT", "lots", 1.0, 1.0, 0.0, 1_i64, hash(1)],
    );
    rejects(&conn, ins, params!["TS", 1.0, 1.0, 1.0, 0.0, 1.5, hash(1)]);
    rejects(
        &conn,
        ins,
        params!["TS-TXT", 1.0, 1.0, 1.0, 0.0, "2026-01-01", hash(1)],
    );
    rejects(
        &conn,
        ins,
        params!["HASH-TXT", 1.0, 1.0, 1.0, 0.0, 1_i64, "x".repeat(32)],
    );
    // Hashes are exactly 32 bytes.
    rejects(
        &conn,
        ins,
        params!["H31", 1.0, 1.0, 1.0, 0.0, 1_i64, vec![1_u8; 31]],
    );
    rejects(
        &conn,
        ins,
        params!["H33", 1.0, 1.0, 1.0, 0.0, 1_i64, vec![1_u8; 33]],
    );
    // Keys: empty or missing SKU, empty or duplicate finale_id, a non-UUID id.
    rejects(&conn, ins, params!["", 1.0, 1.0, 1.0, 0.0, 1_i64, hash(1)]);
    rejects(
        &conn,
        "INSERT INTO inventory_items (content_hash) VALUES (?1)",
        params![hash(1)],
    );
    let with_fid = "INSERT INTO inventory_items (sku, finale_id, content_hash) VALUES (?1, ?2, ?3)";
    rejects(&conn, with_fid, params!["E", "", hash(1)]);
    accepts(&conn, with_fid, params!["D1", "/a/api/product/1", hash(1)]);
    rejects(&conn, with_fid, params!["D2", "/a/api/product/1", hash(1)]);
    for bad_id in [
        "not-a-uuid",
        "",
        "00000000-0000-0000-0000-00000000000G",
        "AAAAAAAA-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-0000000000000",
    ] {
        rejects(
            &conn,
            "INSERT INTO inventory_items (id, sku, content_hash) VALUES (?1, 'X', ?2)",
            params![bad_id, hash(1)],
        );
    }
    // Default ids are distinct version-4 UUIDs.
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM inventory_items")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        let u = uuid::Uuid::parse_str(id).expect("uuid");
        assert_eq!(u.get_version_num(), 4, "{id}");
        assert_eq!(u.to_string(), *id, "canonical lower-case form");
    }
}

#[test]
fn mirrored_tables_reject_empty_keys_bad_json_and_bad_booleans() {
    let conn = fresh();
    let facility = "INSERT INTO facilities (url, facility_id, parent_url, shipping_disabled, \
                    content_hash) VALUES (?1, ?2, ?3, ?4, ?5)";
    accepts(
        &conn,
        facility,
        params!["/a/f/1", "1", None::<String>, 0, hash(1)],
    );
    rejects(
        &conn,
        facility,
        params!["", "2", None::<String>, 0, hash(1)],
    );
    rejects(
        &conn,
        facility,
        params![None::<String>, "2", None::<String>, 0, hash(1)],
    );
    rejects(
        &conn,
        facility,
        params!["/a/f/2", "", None::<String>, 0, hash(1)],
    );
    rejects(
        &conn,
        facility,
        params!["/a/f/2", "2", "/a/f/2", 0, hash(1)],
    );
    rejects(&conn, facility, params!["/a/f/2", "2", "", 0, hash(1)]);
    rejects(
        &conn,
        facility,
        params!["/a/f/2", "2", None::<String>, 2, hash(1)],
    );
    rejects(
        &conn,
        facility,
        params!["/a/f/1", "1", None::<String>, 0, hash(1)],
    );
    // The generated column cannot be written.
    assert!(
        conn.execute(
            "INSERT INTO facilities (url, facility_id, kind, content_hash) \
             VALUES ('/a/f/9', '9', 'location', ?1)",
            [hash(1)],
        )
        .is_err()
    );

    let party = "INSERT INTO parties (url, party_id, roles, contacts, user_fields, content_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    accepts(
        &conn,
        party,
        params!["/a/p/1", "1", r#"["SUPPLIER"]"#, "[]", "{}", hash(1)],
    );
    for (roles, contacts, fields) in [
        ("not json", "[]", "{}"),
        (r#"{"SUPPLIER": true}"#, "[]", "{}"),
        (r#"["SUPPLIER", null]"#, "[]", "{}"),
        ("[null]", "[]", "{}"),
        ("[]", "{}", "{}"),
        ("[]", "[", "{}"),
        ("[]", "[]", "[]"),
        ("[]", "[]", "42"),
    ] {
        rejects(
            &conn,
            party,
            params!["/a/p/2", "2", roles, contacts, fields, hash(1)],
        );
    }
    rejects(
        &conn,
        party,
        params!["/a/p/2", "", "[]", "[]", "{}", hash(1)],
    );

    let product = "INSERT INTO products (url, sku, cost, list_price, user_fields, content_hash) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    accepts(
        &conn,
        product,
        params!["/a/pr/1", "S1", 1.0, 2.0, "{}", hash(1)],
    );
    rejects(
        &conn,
        product,
        params!["/a/pr/2", "", 1.0, 2.0, "{}", hash(1)],
    );
    rejects(
        &conn,
        product,
        params!["/a/pr/2", "S2", -1.0, 2.0, "{}", hash(1)],
    );
    rejects(
        &conn,
        product,
        params!["/a/pr/2", "S2", 1.0, f64::INFINITY, "{}", hash(1)],
    );
    rejects(
        &conn,
        product,
        params!["/a/pr/2", "S2", 1.0, 2.0, "[]", hash(1)],
    );

    // Owned children need their parent (foreign keys are on) and a valid seq.
    let supplier = "INSERT INTO product_suppliers (product_url, seq, is_main, price) \
                    VALUES (?1, ?2, ?3, ?4)";
    accepts(&conn, supplier, params!["/a/pr/1", 0, 1, 3.0]);
    rejects(&conn, supplier, params!["/a/pr/404", 0, 1, 3.0]);
    rejects(&conn, supplier, params!["/a/pr/1", -1, 0, 3.0]);
    rejects(&conn, supplier, params!["/a/pr/1", 1, 7, 3.0]);
    rejects(&conn, supplier, params!["/a/pr/1", 1, 0, -3.0]);
    rejects(&conn, supplier, params!["/a/pr/1", 0, 0, 3.0]);
    let guideline = "INSERT INTO reorder_guidelines (product_url, seq, reorder_point) \
                     VALUES (?1, ?2, ?3)";
    accepts(&conn, guideline, params!["/a/pr/1", 0, 5.0]);
    rejects(&conn, guideline, params!["/a/pr/1", 1, -5.0]);
    conn.execute("DELETE FROM products WHERE url = '/a/pr/1'", [])
        .expect("delete product");
    let children: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM product_suppliers) \
                  + (SELECT count(*) FROM reorder_guidelines)",
            [],
            |r| r.get(0),
        )
        .expect("children");
    assert_eq!(children, 0, "children cascade with their product");

    let order = "INSERT INTO orders (url, order_id, order_type, total, content_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5)";
    accepts(
        &conn,
        order,
        params!["/a/o/1", "SO-1", "SALES_ORDER", -5.0, hash(1)],
    );
    rejects(&conn, order, params!["/a/o/2", "SO-2", "", 1.0, hash(1)]);
    rejects(
        &conn,
        order,
        params!["/a/o/2", "", "SALES_ORDER", 1.0, hash(1)],
    );
    rejects(
        &conn,
        order,
        params!["/a/o/2", "SO-2", "SALES_ORDER", f64::NEG_INFINITY, hash(1)],
    );
    let line = "INSERT INTO order_lines (order_url, seq, quantity) VALUES (?1, ?2, ?3)";
    accepts(&conn, line, params!["/a/o/1", 0, -2.0]);
    rejects(&conn, line, params!["/a/o/404", 0, 1.0]);
    rejects(&conn, line, params!["/a/o/1", 1, f64::NAN]);

    let sales =
        "INSERT INTO daily_sales (product_url, day, units, revenue) VALUES (?1, ?2, ?3, ?4)";
    accepts(&conn, sales, params!["/a/pr/1", "2026-02-28", -1.0, -9.5]);
    for day in [
        "2026-02-30",
        "2026-2-1",
        "yesterday",
        "2026-02-28T00:00:00",
        "",
    ] {
        rejects(&conn, sales, params!["/a/pr/1", day, 1.0, 1.0]);
    }
    rejects(&conn, sales, params!["", "2026-03-01", 1.0, 1.0]);
}

#[test]
fn stock_available_is_generated_and_rolls_up_to_locations() {
    let conn = fresh();
    let fac = "INSERT INTO facilities (url, facility_id, parent_url, content_hash) \
               VALUES (?1, ?2, ?3, ?4)";
    accepts(&conn, fac, params!["/a/f/W", "W", None::<String>, hash(1)]);
    accepts(&conn, fac, params!["/a/f/W-1", "W-1", "/a/f/W", hash(1)]);
    accepts(&conn, fac, params!["/a/f/W-2", "W-2", "/a/f/W", hash(1)]);
    let kinds: Vec<(String, String)> = conn
        .prepare("SELECT url, kind FROM facilities ORDER BY url")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("kinds");
    assert_eq!(
        kinds,
        vec![
            ("/a/f/W".to_owned(), "location".to_owned()),
            ("/a/f/W-1".to_owned(), "sublocation".to_owned()),
            ("/a/f/W-2".to_owned(), "sublocation".to_owned()),
        ]
    );
    let stock = "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, \
                 content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    accepts(
        &conn,
        stock,
        params!["/a/pr/1", "/a/f/W-1", 10.0, 3.0, 0.0, hash(1)],
    );
    accepts(
        &conn,
        stock,
        params!["/a/pr/1", "/a/f/W-2", -2.0, 1.0, 4.0, hash(1)],
    );
    accepts(
        &conn,
        stock,
        params!["/a/pr/1", "/a/f/UNKNOWN", 5.0, 0.0, 0.0, hash(1)],
    );
    rejects(
        &conn,
        stock,
        params!["/a/pr/1", "/a/f/X", 1.0, -1.0, 0.0, hash(1)],
    );
    rejects(
        &conn,
        stock,
        params!["/a/pr/1", "/a/f/X", 1.0, 0.0, -1.0, hash(1)],
    );
    rejects(&conn, stock, params!["/a/pr/1", "", 1.0, 0.0, 0.0, hash(1)]);
    rejects(
        &conn,
        stock,
        params!["/a/pr/1", "/a/f/W-1", 1.0, 0.0, 0.0, hash(1)],
    );
    let available: f64 = conn
        .query_row(
            "SELECT available FROM stock WHERE facility_url = '/a/f/W-2'",
            [],
            |r| r.get(0),
        )
        .expect("available");
    assert_eq!(available, -3.0);
    conn.execute(
        "UPDATE stock SET reserved = 0 WHERE facility_url = '/a/f/W-2'",
        [],
    )
    .expect("update");
    let rollup: Vec<(String, f64, f64, f64, f64)> = conn
        .prepare(
            "SELECT location_url, on_hand, reserved, on_order, available \
               FROM stock_by_location ORDER BY location_url",
        )
        .expect("prepare")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rollup");
    assert_eq!(
        rollup,
        vec![
            ("/a/f/UNKNOWN".to_owned(), 5.0, 0.0, 0.0, 5.0),
            ("/a/f/W".to_owned(), 8.0, 3.0, 4.0, 5.0),
        ]
    );
}

#[test]
fn supplier_and_customer_views_read_roles() {
    let conn = fresh();
    let party = "INSERT INTO parties (url, party_id, roles, content_hash) VALUES (?1, ?2, ?3, ?4)";
    accepts(
        &conn,
        party,
        params!["/a/p/s", "s", r#"["SUPPLIER"]"#, hash(1)],
    );
    accepts(
        &conn,
        party,
        params!["/a/p/c", "c", r#"["CUSTOMER"]"#, hash(1)],
    );
    accepts(
        &conn,
        party,
        params!["/a/p/b", "b", r#"["CUSTOMER","SUPPLIER"]"#, hash(1)],
    );
    accepts(&conn, party, params!["/a/p/n", "n", "[]", hash(1)]);
    accepts(
        &conn,
        party,
        params!["/a/p/x", "x", r#"["SUPPLIERS"]"#, hash(1)],
    );
    let urls = |view: &str| -> Vec<String> {
        conn.prepare(&format!("SELECT url FROM {view} ORDER BY url"))
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(urls("suppliers"), vec!["/a/p/b", "/a/p/s"]);
    assert_eq!(urls("customers"), vec!["/a/p/b", "/a/p/c"]);
}

#[test]
fn runs_errors_state_and_backfill_jobs_reject_impossible_states() {
    let conn = fresh();
    let run = "INSERT INTO sync_runs (strategy, started_at, finished_at, success, error_patterns, \
               requests) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    accepts(
        &conn,
        run,
        params!["full", 10, None::<i64>, None::<i64>, "[]", "{}"],
    );
    accepts(
        &conn,
        run,
        params![
            "smart",
            10,
            20,
            1,
            r#"[{"pattern":"http 429","count":3}]"#,
            r#"{"get":4}"#
        ],
    );
    rejects(
        &conn,
        run,
        params!["weekly", 10, None::<i64>, None::<i64>, "[]", "{}"],
    );
    rejects(
        &conn,
        run,
        params!["FULL", 10, None::<i64>, None::<i64>, "[]", "{}"],
    );
    rejects(&conn, run, params!["full", 10, 5, 1, "[]", "{}"]);
    rejects(&conn, run, params!["full", 10, 20, None::<i64>, "[]", "{}"]);
    rejects(&conn, run, params!["full", 10, None::<i64>, 1, "[]", "{}"]);
    rejects(&conn, run, params!["full", 10, 20, 2, "[]", "{}"]);
    rejects(
        &conn,
        run,
        params!["full", 10, None::<i64>, None::<i64>, "{}", "{}"],
    );
    rejects(
        &conn,
        run,
        params!["full", 10, None::<i64>, None::<i64>, "[]", "[]"],
    );
    rejects(
        &conn,
        run,
        params!["full", 10, None::<i64>, None::<i64>, "[]", "{oops"],
    );
    rejects(
        &conn,
        "INSERT INTO sync_runs (strategy, started_at, items_seen) VALUES ('full', 1, -1)",
        [],
    );

    let err = "INSERT INTO sync_errors (run_id, collection, reason, raw_payload, raw_text, at) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    accepts(
        &conn,
        err,
        params![1, "product", "bad price", r#"{"x":1}"#, None::<String>, 5],
    );
    accepts(
        &conn,
        err,
        params![
            None::<i64>,
            "product",
            "not json",
            None::<String>,
            "<html>",
            5
        ],
    );
    rejects(
        &conn,
        err,
        params![404, "product", "r", None::<String>, "t", 5],
    );
    rejects(&conn, err, params![1, "", "r", None::<String>, "t", 5]);
    rejects(
        &conn,
        err,
        params![1, "product", "", None::<String>, "t", 5],
    );
    rejects(
        &conn,
        err,
        params![1, "product", "r", None::<String>, None::<String>, 5],
    );
    rejects(
        &conn,
        err,
        params![1, "product", "r", "{not json", None::<String>, 5],
    );
    conn.execute("DELETE FROM sync_runs WHERE id = 1", [])
        .expect("delete run");
    let left: i64 = conn
        .query_row("SELECT count(*) FROM sync_errors", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 1, "the run's errors cascade, the run-less one stays");

    let state = "INSERT INTO sync_state (key, value, updated_at) VALUES (?1, ?2, ?3)";
    accepts(
        &conn,
        state,
        params!["cursor:order", r#"{"last_updated":"x"}"#, 1],
    );
    rejects(&conn, state, params!["", "{}", 1]);
    rejects(&conn, state, params!["k", "{", 1]);
    rejects(&conn, state, params!["cursor:order", "{}", 1]);

    let job = "INSERT INTO backfill_jobs (collection, window_start, window_end, status, done_at) \
               VALUES (?1, ?2, ?3, ?4, ?5)";
    accepts(&conn, job, params!["order", 0, 100, "pending", None::<i64>]);
    accepts(&conn, job, params!["order", 100, 200, "done", 300]);
    rejects(&conn, job, params!["order", 0, 100, "pending", None::<i64>]);
    rejects(
        &conn,
        job,
        params!["order", 200, 200, "pending", None::<i64>],
    );
    rejects(
        &conn,
        job,
        params!["order", 300, 200, "pending", None::<i64>],
    );
    rejects(&conn, job, params!["order", 200, 300, "done", None::<i64>]);
    rejects(&conn, job, params!["order", 200, 300, "pending", 5]);
    rejects(
        &conn,
        job,
        params!["order", 200, 300, "paused", None::<i64>],
    );
    rejects(&conn, job, params!["", 200, 300, "pending", None::<i64>]);
    // Idempotent planning, as the engine will do it.
    let n = conn
        .execute(
            "INSERT INTO backfill_jobs (collection, window_start, window_end) VALUES ('order', 0, 100) \
             ON CONFLICT (collection, window_start, window_end) DO NOTHING",
            [],
        )
        .expect("on conflict");
    assert_eq!(n, 0);
}

#[test]
fn millisecond_timestamps_round_trip() {
    let t = Utc
        .with_ymd_and_hms(2026, 11, 23, 23, 0, 0)
        .single()
        .expect("valid")
        + Duration::milliseconds(123);
    assert_eq!(from_millis(to_millis(t)), Some(t));
    assert_eq!(to_millis(DateTime::UNIX_EPOCH), 0);
    assert_eq!(from_millis(i64::MAX), None);
}

// ------------------------------------------------------------------------------------------
// items_needing_sync: the Postgres ranking tests, with the clock passed in

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("valid")
}

/// One inventory item; `synced_ago`: how long before [`now`] it was last synced (`None`: never).
struct Item {
    sku: &'static str,
    stock: f64,
    reorder_point: Option<f64>,
    velocity: f64,
    synced_ago: Option<Duration>,
}

const fn item(
    sku: &'static str,
    stock: f64,
    reorder_point: Option<f64>,
    velocity: f64,
    synced_ago: Option<Duration>,
) -> Item {
    Item {
        sku,
        stock,
        reorder_point,
        velocity,
        synced_ago,
    }
}

const fn minutes(m: i64) -> Option<Duration> {
    Some(Duration::minutes(m))
}
const fn hours(h: i64) -> Option<Duration> {
    Some(Duration::hours(h))
}

fn insert(conn: &Connection, items: &[Item]) {
    for it in items {
        conn.execute(
            "INSERT INTO inventory_items \
             (sku, finale_id, stock, reorder_point, sales_velocity, finale_last_sync, content_hash) \
             VALUES (?1, '/a/api/product/' || ?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                it.sku,
                it.stock,
                it.reorder_point,
                it.velocity,
                it.synced_ago.map(|d| to_millis(now() - d)),
                hash(1)
            ],
        )
        .expect("insert item");
    }
}

fn rank(conn: &Connection, s: Strategy, limit: u32) -> Vec<SyncCandidate> {
    items_needing_sync(conn, s, limit, now()).expect("rank")
}

fn pairs(rows: &[SyncCandidate]) -> Vec<(&str, i32)> {
    rows.iter().map(|c| (c.sku.as_str(), c.priority)).collect()
}

fn sorted(mut v: Vec<(&str, i32)>) -> Vec<(&str, i32)> {
    v.sort();
    v
}

#[test]
fn critical_scores_each_trigger() {
    let conn = fresh();
    insert(
        &conn,
        &[
            item("OUT", 0.0, Some(5.0), 0.0, minutes(10)),
            item("AT", 5.0, Some(5.0), 3.0, minutes(10)),
            item("BELOW", 2.0, Some(5.0), 0.0, minutes(10)),
            item("FAST", 50.0, Some(5.0), 1.5, minutes(10)),
            item("STALE", 50.0, Some(5.0), 0.5, hours(5)),
            item("OUT-STALE", 0.0, None, 0.0, hours(24)),
        ],
    );
    assert_eq!(
        sorted(pairs(&rank(&conn, Strategy::Critical, 100))),
        sorted(vec![
            ("OUT", 100),
            ("OUT-STALE", 100),
            ("AT", 90),
            ("BELOW", 90),
            ("FAST", 80),
            ("STALE", 50),
        ])
    );
}

#[test]
fn critical_leaves_out_healthy_items_exactly_as_the_seed_does() {
    let conn = fresh();
    insert(
        &conn,
        &[
            // velocity exactly 1 (not > 1), synced 3 h ago
            item("HEALTHY", 20.0, Some(5.0), 1.0, hours(3)),
            // no reorder rule: `stock <= NULL` is never true
            item("NO-RULE", 3.0, None, 0.0, hours(1)),
            // never synced: `NULL < now - 4h` is not true either
            item("NEVER", 20.0, Some(5.0), 0.0, None),
            item("OUT-NO-RULE", 0.0, None, 0.0, minutes(1)),
            // exactly 4 h ago: not strictly older
            item("EDGE", 20.0, Some(5.0), 0.0, hours(4)),
        ],
    );
    let rows = rank(&conn, Strategy::Critical, 100);
    assert!(rows.is_empty(), "{rows:?}");
    // ... and the clock decides: two hours later EDGE and HEALTHY are stale.
    let later = items_needing_sync(&conn, Strategy::Critical, 100, now() + Duration::hours(2))
        .expect("later");
    assert_eq!(sorted(pairs(&later)), vec![("EDGE", 50), ("HEALTHY", 50)]);
}

#[test]
fn critical_orders_by_priority_and_honours_the_limit() {
    let conn = fresh();
    insert(
        &conn,
        &[
            item("S1", 50.0, Some(5.0), 0.0, hours(6)),
            item("F1", 50.0, Some(5.0), 2.0, minutes(1)),
            item("O1", 0.0, Some(1.0), 0.0, minutes(1)),
            item("S2", 50.0, Some(5.0), 0.0, hours(7)),
            item("B1", 1.0, Some(2.0), 0.0, minutes(1)),
            item("O2", 0.0, Some(1.0), 0.0, minutes(1)),
        ],
    );
    let priorities: Vec<i32> = rank(&conn, Strategy::Critical, 100)
        .iter()
        .map(|c| c.priority)
        .collect();
    assert_eq!(priorities, vec![100, 100, 90, 80, 50, 50]);
    assert_eq!(
        sorted(pairs(&rank(&conn, Strategy::Critical, 3))),
        vec![("B1", 90), ("O1", 100), ("O2", 100)]
    );
    assert!(rank(&conn, Strategy::Critical, 0).is_empty());
}

#[test]
fn smart_takes_never_and_day_old_syncs_oldest_first() {
    let conn = fresh();
    insert(
        &conn,
        &[
            item("FRESH", 0.0, Some(5.0), 9.0, hours(23)),
            item("DAY-2", 10.0, None, 0.0, hours(48)),
            item("NEVER", 10.0, None, 0.0, None),
            item("DAY-9", 10.0, None, 0.0, hours(9 * 24)),
            item("JUST", 10.0, None, 0.0, minutes(1)),
            item("DAY-1h", 10.0, None, 0.0, hours(25)),
        ],
    );
    assert_eq!(
        pairs(&rank(&conn, Strategy::Smart, 100)),
        vec![("NEVER", 50), ("DAY-9", 50), ("DAY-2", 50), ("DAY-1h", 50)]
    );
    assert_eq!(
        pairs(&rank(&conn, Strategy::Smart, 2)),
        vec![("NEVER", 50), ("DAY-9", 50)]
    );
}

#[test]
fn full_and_anything_else_take_everything_by_sku() {
    let conn = fresh();
    insert(
        &conn,
        &[
            item("C-3", 0.0, Some(5.0), 9.0, None),
            item("A-1", 10.0, None, 0.0, minutes(1)),
            item("B-2", 10.0, None, 0.0, hours(9 * 24)),
            item("D-4", 10.0, None, 0.0, hours(1)),
        ],
    );
    let rows = rank(&conn, Strategy::Full, 100);
    assert_eq!(
        pairs(&rows),
        vec![("A-1", 10), ("B-2", 10), ("C-3", 10), ("D-4", 10)]
    );
    let ids: std::collections::HashSet<_> = rows.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 4, "ids are the rows' own UUIDs");
    assert_eq!(
        pairs(&rank(&conn, Strategy::Full, 2)),
        vec![("A-1", 10), ("B-2", 10)]
    );
    // The seed's ELSE branch: any other strategy name behaves like 'full'.
    for other in [
        "everything",
        "",
        "CRITICAL",
        "smart; DROP TABLE inventory_items",
    ] {
        let skus: Vec<(String, i32)> = conn
            .prepare(ITEMS_NEEDING_SYNC_SQL)
            .expect("prepare")
            .query_map(params![other, 3, to_millis(now())], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .expect("else branch")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            skus,
            vec![
                ("A-1".to_owned(), 10),
                ("B-2".to_owned(), 10),
                ("C-3".to_owned(), 10)
            ],
            "{other:?}"
        );
    }
}

#[test]
fn huge_limits_work_and_an_empty_store_needs_nothing() {
    let conn = fresh();
    for s in [Strategy::Full, Strategy::Smart, Strategy::Critical] {
        assert!(rank(&conn, s, 10).is_empty());
    }
    insert(&conn, &[item("A", 1.0, None, 0.0, None)]);
    assert_eq!(
        pairs(&rank(&conn, Strategy::Full, u32::MAX)),
        vec![("A", 10)]
    );
}

#[test]
fn a_corrupt_id_is_reported_not_guessed() {
    let conn = fresh();
    // Bypass the CHECK the way a damaged file could: with CHECK constraints ignored.
    conn.execute_batch("PRAGMA ignore_check_constraints = ON")
        .expect("pragma");
    conn.execute(
        "INSERT INTO inventory_items (id, sku, content_hash) VALUES ('nope', 'X', ?1)",
        [hash(1)],
    )
    .expect("insert");
    assert!(matches!(
        items_needing_sync(&conn, Strategy::Full, 10, now()),
        Err(StoreError::Corrupt { .. })
    ));
}
