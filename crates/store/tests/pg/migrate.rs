//! Schema lifecycle: empty → migrated, idempotence, refusal of a newer schema, divergence.

use store::StoreError;
use store::pg::migrate::{database_version, known_version};
use store::testing::TestDb;

const VIEWS: [&str; 3] = store::VIEWS;

async fn relations(db: &TestDb, kind: &str) -> Vec<String> {
    let rows = db
        .client()
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = $1::text::\"char\" ORDER BY 1",
            &[&kind],
        )
        .await
        .expect("list relations");
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn migrate_on_an_empty_database_creates_everything() {
    let mut db = TestDb::new().await.expect("test db");
    assert_eq!(database_version(db.client()).await.expect("version"), None);
    assert!(relations(&db, "r").await.is_empty());

    let report = db.migrate().await.expect("migrate");
    assert_eq!(report.previous_version, None);
    assert_eq!(report.known_version, known_version());
    assert_eq!(report.current_version, known_version());
    assert_eq!(
        report.applied.first().map(|m| m.version),
        Some(20261123230000)
    );
    assert_eq!(
        report.applied.first().map(|m| m.name.as_str()),
        Some("initial_schema")
    );

    let tables = relations(&db, "r").await;
    for t in store::all_tables() {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
    assert!(tables.iter().any(|x| x == "refinery_schema_history"));
    let views = relations(&db, "v").await;
    for v in VIEWS {
        assert!(views.iter().any(|x| x == v), "missing view {v}: {views:?}");
    }
    let functions: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE proname = 'get_items_needing_sync'",
            &[],
        )
        .await
        .expect("function")
        .get(0);
    assert_eq!(functions, 1);
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let mut db = TestDb::migrated().await.expect("test db");
    db.client()
        .batch_execute(
            "INSERT INTO sync_state (key, value, updated_at) VALUES ('cursor:product', '{}', now())",
        )
        .await
        .expect("insert");
    let before = relations(&db, "r").await;

    let again = db.migrate().await.expect("second migrate");
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.previous_version, Some(known_version()));
    assert_eq!(again.current_version, known_version());

    assert_eq!(relations(&db, "r").await, before);
    let history: i64 = db
        .client()
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .expect("history")
        .get(0);
    assert_eq!(history as usize, engine_migration_count());
    let kept: i64 = db
        .client()
        .query_one("SELECT count(*) FROM sync_state", &[])
        .await
        .expect("state")
        .get(0);
    assert_eq!(kept, 1, "data survives a second migrate");
}

fn engine_migration_count() -> usize {
    std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/postgres"
    ))
    .expect("migrations dir")
    .filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql"))
    })
    .count()
}

/// Records a migration this binary does not know, the way refinery would have.
async fn record_future_migration(db: &TestDb, version: i64) {
    db.client()
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS refinery_schema_history( \
                 version int8 PRIMARY KEY, name VARCHAR(255), \
                 applied_on VARCHAR(255), checksum VARCHAR(255)); \
             INSERT INTO refinery_schema_history VALUES \
                 ({version}, 'from_the_future', '2099-01-01T00:00:00Z', '42');"
        ))
        .await
        .expect("fake future migration");
}

#[tokio::test]
async fn a_newer_database_is_refused_with_a_clear_message() {
    let mut db = TestDb::migrated().await.expect("test db");
    record_future_migration(&db, 20991231235959).await;

    let err = db.migrate().await.expect_err("must refuse a newer schema");
    match &err {
        StoreError::SchemaTooNew { database, known } => {
            assert_eq!(*database, 20991231235959);
            assert_eq!(*known, known_version());
        }
        other => panic!("wrong error: {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "database schema version 20991231235959 is newer than this Stockpulse \
             (knows up to {}); upgrade Stockpulse",
            known_version()
        )
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_newer_database_is_left_untouched() {
    // Only the future row exists: refusing must not create our tables next to it.
    let mut db = TestDb::new().await.expect("test db");
    record_future_migration(&db, 20990101000000).await;
    let err = db.migrate().await.expect_err("must refuse");
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
    let tables = relations(&db, "r").await;
    assert_eq!(tables, vec!["refinery_schema_history".to_owned()]);
    // The lock was released: another session can take it at once.
    let other = store::connect(db.url()).await.expect("second connection");
    let got: bool = other
        .query_one(
            &format!(
                "SELECT pg_try_advisory_lock({})",
                store::pg::migrate::MIGRATION_LOCK_KEY
            ),
            &[],
        )
        .await
        .expect("try lock")
        .get(0);
    assert!(got, "migration lock still held after a refused migrate");
}

#[tokio::test]
async fn an_edited_shipped_migration_is_detected() {
    let mut db = TestDb::migrated().await.expect("test db");
    db.client()
        .batch_execute("UPDATE refinery_schema_history SET checksum = '1'")
        .await
        .expect("tamper");
    let err = db.migrate().await.expect_err("divergent checksum");
    assert!(matches!(err, StoreError::Migration { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_migrations_apply_once() {
    let db = TestDb::new().await.expect("test db");
    let mut a = store::connect(db.url()).await.expect("a");
    let mut b = store::connect(db.url()).await.expect("b");
    let (ra, rb) = tokio::join!(store::migrate(&mut a), store::migrate(&mut b));
    let (ra, rb) = (ra.expect("a migrates"), rb.expect("b migrates"));
    assert_eq!(
        ra.applied.len() + rb.applied.len(),
        engine_migration_count(),
        "{ra:?} {rb:?}"
    );
    assert_eq!(ra.current_version, rb.current_version);
}
