//! Fixtures: a fresh local store file, rows written with plain SQL, one derivation.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use tempfile::TempDir;
use workstation::events::{self, Event, Level};

/// A fresh, migrated local store in a temporary directory.
pub struct Db {
    pub dir: TempDir,
    pub path: PathBuf,
    pub conn: Connection,
}

impl Db {
    pub fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.db");
        let conn = workstation::local::open_or_create(&path).unwrap();
        Db { dir, path, conn }
    }

    /// Another connection to the same file.
    pub fn connect(&self) -> Connection {
        workstation::local::open_or_create(&self.path).unwrap()
    }

    /// Runs one derivation in its own IMMEDIATE transaction, as a follower does.
    pub fn derive(&mut self) -> Vec<Event> {
        derive_on(&mut self.conn, now())
    }

    pub fn sql(&self, sql: &str) {
        self.conn.execute_batch(sql).unwrap();
    }

    pub fn facility(&self, url: &str, parent: Option<&str>, name: &str) {
        self.conn
            .execute(
                "INSERT INTO facilities (url, facility_id, name, parent_url, content_hash)
                 VALUES (?1, ?1, ?2, ?3, zeroblob(32))",
                params![url, name, parent],
            )
            .unwrap();
    }

    pub fn product(&self, url: &str, sku: &str) {
        self.conn
            .execute(
                "INSERT INTO products (url, sku, name, status, cost, list_price, content_hash)
                 VALUES (?1, ?2, 'Product ' || ?2, 'PRODUCT_ACTIVE', 2.0, 5.0, zeroblob(32))",
                params![url, sku],
            )
            .unwrap();
    }

    pub fn guideline(&self, product: &str, seq: i64, facility: Option<&str>, point: f64) {
        self.conn
            .execute(
                "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point)
                 VALUES (?1, ?2, ?3, ?4)",
                params![product, seq, facility, point],
            )
            .unwrap();
    }

    /// Upserts a stock row the way the engine does (`ON CONFLICT DO UPDATE`).
    pub fn stock(&self, product: &str, facility: &str, on_hand: f64, reserved: f64) {
        stock_on(&self.conn, product, facility, on_hand, reserved);
    }

    pub fn levels(&self, product: &str) -> Vec<(String, Level)> {
        self.conn
            .prepare(
                "SELECT location_url, level FROM event_levels WHERE product_url = ?1
                  ORDER BY location_url",
            )
            .unwrap()
            .query_map([product], |r| {
                let l: String = r.get(1)?;
                Ok((r.get(0)?, Level::parse(&l).unwrap()))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

pub fn stock_on(conn: &Connection, product: &str, facility: &str, on_hand: f64, reserved: f64) {
    conn.execute(
        "INSERT INTO stock (product_url, facility_url, on_hand, reserved, content_hash)
         VALUES (?1, ?2, ?3, ?4, zeroblob(32))
         ON CONFLICT (product_url, facility_url) DO UPDATE SET on_hand = excluded.on_hand,
                reserved = excluded.reserved",
        params![product, facility, on_hand, reserved],
    )
    .unwrap();
}

/// One derivation on `conn` in a `BEGIN IMMEDIATE` transaction.
pub fn derive_on(conn: &mut Connection, now: DateTime<Utc>) -> Vec<Event> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let events = events::derive(&tx, now).unwrap();
    tx.commit().unwrap();
    events
}

/// The deriver's clock in these tests: the real one (the order trigger uses SQLite's).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The events' type tags.
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::kind).collect()
}

/// A store with one location `/f/main` ("Main") and product `/p/1` (SKU `P1`) with a
/// reorder point of 5 there, 10 on hand, its first sight derived.
pub fn one_item() -> Db {
    let mut db = Db::new();
    db.facility("/f/main", None, "Main");
    db.product("/p/1", "P1");
    db.guideline("/p/1", 0, Some("/f/main"), 5.0);
    db.stock("/p/1", "/f/main", 10.0, 0.0);
    let first = db.derive();
    assert!(first.is_empty(), "first sight is silent: {first:?}");
    db
}
