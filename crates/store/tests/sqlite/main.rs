//! Integration tests of the local store ([`SqliteStore`]): the store conformance suite on a
//! file-backed store and on an in-memory one, plus what only SQLite has (the writer lock
//! file shared by two stores on one file, reopening, writes by another connection).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use store::StoreError;
use store::rows::{ProductRow, StockRow};
use store::sqlite::SqliteStore;
use store::{Batch, Store, WriterInfo};

/// The conformance suite on an in-memory store.
mod memory {
    store::conformance_tests!(async || {
        store::sqlite::SqliteStore::open_in_memory().expect("in-memory store")
    });
}

/// The conformance suite on a store in a temporary file (WAL, the lock file beside it).
mod file {
    store::conformance_tests!(async || {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            store::sqlite::SqliteStore::open(dir.path().join("store.sqlite")).expect("store");
        (dir, store)
    });
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn me(runner: &str, purpose: &str) -> WriterInfo {
    WriterInfo {
        runner: runner.into(),
        purpose: purpose.into(),
    }
}

fn product(url: &str, cost: Option<f64>) -> ProductRow {
    let mut p = ProductRow {
        url: url.into(),
        sku: "SKU".into(),
        name: None,
        status: None,
        product_type: None,
        category: None,
        upc: None,
        cost,
        lead_time_days: None,
        packing: None,
        list_price: None,
        user_fields: serde_json::json!({}),
        finale_created: None,
        finale_last_updated: None,
        suppliers: vec![],
        guidelines: vec![],
        content_hash: [0; 32],
    };
    p.content_hash = p.hash();
    p
}

#[tokio::test]
async fn two_stores_on_one_file_share_the_writer_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let lock = a.writer_lock_path().unwrap();
    assert_eq!(
        lock,
        std::path::absolute(dir.path().join("store.sqlite.writer.lock")).unwrap()
    );
    assert_eq!(b.writer_lock_path().unwrap(), lock);

    let lease = a
        .acquire_writer(&me("ws-1:42", "smart"), None)
        .await
        .unwrap();
    // The holder is written into the lock file for others to read.
    let info: WriterInfo = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    assert_eq!(info, me("ws-1:42", "smart"));
    match b.acquire_writer(&me("ws-2:7", "full"), None).await {
        Err(StoreError::WriterBusy { holder }) => assert_eq!(holder, "ws-1:42 (smart)"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    // `b` waits and gets the role when `a`'s lease is dropped.
    let waiter = tokio::spawn({
        let b = b.clone();
        async move {
            b.acquire_writer(&me("ws-2:7", "full"), Some(Duration::from_secs(10)))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "b got the role while a held it");
    drop(lease);
    let lease_b = waiter.await.unwrap().expect("b takes over");
    assert_eq!(lease_b.holder(), &me("ws-2:7", "full"));
    match a.acquire_writer(&me("ws-1:42", "smart"), None).await {
        Err(StoreError::WriterBusy { holder }) => assert_eq!(holder, "ws-2:7 (full)"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    drop(lease_b);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "a released lock file is emptied"
    );
    drop(
        a.acquire_writer(&me("ws-1:42", "smart"), None)
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn an_unreadable_holder_is_unknown_and_a_stale_file_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let lock = store.writer_lock_path().unwrap();
    // A lock file left behind by a killed process: content but no lock.
    std::fs::write(&lock, r#"{"runner":"dead:1","purpose":"full"}"#).unwrap();
    let lease = store
        .acquire_writer(&me("alive:2", "serve"), None)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<WriterInfo>(&std::fs::read_to_string(&lock).unwrap()).unwrap(),
        me("alive:2", "serve"),
        "the new holder overwrote the stale content"
    );
    // Garbage in a held lock file: the lease row still names the holder.
    std::fs::write(&lock, "not json").unwrap();
    match store.acquire_writer(&me("other:3", "smart"), None).await {
        Err(StoreError::WriterBusy { holder }) => assert_eq!(holder, "alive:2 (serve)"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    drop(lease);
    // A lock without a lease row (an older Stockpulse) and garbage in the file: the
    // contender cannot name the holder.
    let file = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    file.try_lock().unwrap();
    std::fs::write(&lock, "not json").unwrap();
    match store.acquire_writer(&me("other:3", "smart"), None).await {
        Err(StoreError::WriterBusy { holder }) => assert_eq!(holder, "unknown"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    drop(file);
}

#[tokio::test]
async fn a_lock_file_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    // A directory where the lock file should be.
    std::fs::create_dir(store.writer_lock_path().unwrap()).unwrap();
    let err = store
        .acquire_writer(&me("ws:1", "smart"), Some(Duration::from_millis(300)))
        .await
        .expect_err("a directory is no lock file");
    assert!(matches!(err, StoreError::LockFile { .. }), "{err:?}");
    assert!(err.to_string().contains("writer.lock"), "{err}");
}

#[tokio::test]
async fn data_and_marks_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let now = t("2026-03-10T08:00:00.000Z");
    let batch = Batch {
        products: vec![product("/acme/api/product/1", Some(1.5))],
        stock_upserts: vec![StockRow::new(
            "/acme/api/product/1".into(),
            "/acme/api/facility/1".into(),
            2.0,
            0.0,
            0.0,
        )],
        ..Batch::default()
    };
    let store = SqliteStore::open(&path).unwrap();
    assert!(
        store.describe().starts_with("sqlite "),
        "{}",
        store.describe()
    );
    assert!(store.describe().contains("store.sqlite"));
    store.apply(&batch, now).await.unwrap();
    let (snap, marks) = (
        store.snapshot().await.unwrap(),
        store.write_marks().await.unwrap(),
    );
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.snapshot().await.unwrap(), snap);
    assert_eq!(
        store.write_marks().await.unwrap(),
        marks,
        "marks are stable across opens"
    );
    let again = store.apply(&batch, now).await.unwrap();
    assert_eq!(again.rows_written(), 0);
}

#[tokio::test]
async fn write_marks_see_writes_by_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let batch = Batch {
        products: vec![product("/acme/api/product/1", Some(1.5))],
        ..Batch::default()
    };
    store
        .apply(&batch, t("2026-03-10T08:00:00.000Z"))
        .await
        .unwrap();
    let before = store.write_marks().await.unwrap();
    let other = store::sqlite::open(&path).unwrap();
    // A write that keeps the row count and every timestamp: only a value changes.
    other
        .execute("UPDATE products SET name = 'sneaky'", [])
        .unwrap();
    let after = store.write_marks().await.unwrap();
    let changed: Vec<&String> = before.keys().filter(|k| before[*k] != after[*k]).collect();
    assert_eq!(changed, vec!["products"]);
}

#[tokio::test]
async fn non_finite_numbers_never_reach_sqlite() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut bad = product("/acme/api/product/1", Some(f64::NAN));
    bad.content_hash = bad.hash();
    let batch = Batch {
        products: vec![product("/acme/api/product/2", None), bad],
        ..Batch::default()
    };
    let err = store
        .apply(&batch, t("2026-03-10T08:00:00.000Z"))
        .await
        .expect_err("NaN is refused");
    assert!(err.to_string().contains("NaN"), "{err}");
    assert!(store.snapshot().await.unwrap().products.is_empty());

    let mut stock = StockRow::new("/p".into(), "/f".into(), f64::INFINITY, 0.0, 0.0);
    stock.content_hash = stock.hash();
    let batch = Batch {
        stock_upserts: vec![stock],
        ..Batch::default()
    };
    assert!(
        store
            .apply(&batch, t("2026-03-10T08:00:00.000Z"))
            .await
            .is_err()
    );
    assert!(store.stock_hashes().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_in_memory_store_is_private_and_its_clones_share_it() {
    let a = SqliteStore::open_in_memory().unwrap();
    let b = SqliteStore::open_in_memory().unwrap();
    assert_eq!(a.describe(), "sqlite :memory:");
    assert!(a.path().is_none() && a.writer_lock_path().is_none());
    let batch = Batch {
        products: vec![product("/acme/api/product/1", None)],
        ..Batch::default()
    };
    a.apply(&batch, t("2026-03-10T08:00:00.000Z"))
        .await
        .unwrap();
    assert_eq!(a.clone().snapshot().await.unwrap().products.len(), 1);
    assert!(b.snapshot().await.unwrap().products.is_empty());
    // The writer role: shared by clones, separate per database.
    let lease = a.acquire_writer(&me("x:1", "smart"), None).await.unwrap();
    assert!(matches!(
        a.clone().acquire_writer(&me("y:2", "full"), None).await,
        Err(StoreError::WriterBusy { .. })
    ));
    drop(b.acquire_writer(&me("y:2", "full"), None).await.unwrap());
    drop(lease);
}
