//! A micro-benchmark, not a test (ignored; no assertion on time): what the change-capture
//! triggers cost the embedded engine's write path. Prints rows/s for 100k stock upserts
//! into a store with and without the events migration's triggers, and what deriving the
//! resulting journal costs.
//!
//! `cargo test -p workstation --test events trigger_cost -- --ignored --nocapture`
//! (add `--release` for optimised figures).

use std::time::Instant;

use chrono::Utc;
use rusqlite::{Connection, params};
use store::Store;
use store::rows::StockRow;
use store::sqlite::SqliteStore;
use store::{Batch, rows::ProductRow};

use crate::support::derive_on;

const PRODUCTS: usize = 20_000;
const FACILITIES: usize = 5;
const BATCH: usize = 500;

fn drop_triggers(conn: &Connection) {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'event_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(names.len() > 10, "{names:?}");
    for n in names {
        conn.execute_batch(&format!("DROP TRIGGER \"{n}\""))
            .unwrap();
    }
}

/// Upserts every (product, facility) stock row with `on_hand`, in transactions of
/// [`BATCH`] rows, with the engine's statement; returns rows/s.
fn upsert_all(conn: &Connection, on_hand: f64) -> f64 {
    let started = Instant::now();
    let keys: Vec<(String, String)> = (0..PRODUCTS)
        .flat_map(|p| (0..FACILITIES).map(move |f| (format!("/p/{p:06}"), format!("/f/{f}"))))
        .collect();
    for chunk in keys.chunks(BATCH) {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut st = conn
            .prepare_cached(
                "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order,
                        content_hash, first_seen_at, updated_at)
                 VALUES (?1, ?2, ?3, 0, 0, zeroblob(32), 0, 0)
                 ON CONFLICT (product_url, facility_url) DO UPDATE SET on_hand = excluded.on_hand,
                        reserved = excluded.reserved, on_order = excluded.on_order,
                        content_hash = excluded.content_hash, updated_at = excluded.updated_at",
            )
            .unwrap();
        for (p, f) in chunk {
            st.execute(params![p, f, on_hand]).unwrap();
        }
        drop(st);
        conn.execute_batch("COMMIT").unwrap();
    }
    keys.len() as f64 / started.elapsed().as_secs_f64()
}

fn stock_row(p: usize, f: usize, on_hand: f64) -> StockRow {
    let mut s = StockRow {
        product_url: format!("/p/{p:06}"),
        facility_url: format!("/f/{f}"),
        on_hand,
        reserved: 0.0,
        on_order: 0.0,
        content_hash: [0; 32],
    };
    s.content_hash = s.hash();
    s
}

/// The same through the engine's `SqliteStore::apply` (hash read, compare, upsert).
async fn apply_all(store: &SqliteStore, on_hand: f64) -> f64 {
    let started = Instant::now();
    let rows: Vec<StockRow> = (0..PRODUCTS)
        .flat_map(|p| (0..FACILITIES).map(move |f| stock_row(p, f, on_hand)))
        .collect();
    for chunk in rows.chunks(BATCH) {
        let b = Batch {
            stock_upserts: chunk.to_vec(),
            ..Batch::default()
        };
        store.apply(&b, Utc::now()).await.unwrap();
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

fn products(conn: &Connection) {
    conn.execute_batch("BEGIN").unwrap();
    for p in 0..PRODUCTS {
        conn.execute(
            "INSERT INTO products (url, sku, content_hash) VALUES (?1, ?1, zeroblob(32))",
            [format!("/p/{p:06}")],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

#[tokio::test]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn trigger_cost() {
    let n = PRODUCTS * FACILITIES;
    println!("{n} stock upserts in transactions of {BATCH}, {PRODUCTS} products");
    let mut figures = Vec::new();
    for with_triggers in [false, true, false, true, false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.db");
        let mut conn = workstation::local::open_or_create(&path).unwrap();
        let _ = ProductRow::hash; // (rows are written with SQL here)
        products(&conn);
        if !with_triggers {
            drop_triggers(&conn);
        }
        conn.execute_batch("DELETE FROM event_journal").unwrap();
        let insert = upsert_all(&conn, 10.0);
        // The state after a first fill, then a full update pass.
        let t = Instant::now();
        if with_triggers {
            derive_on(&mut conn, Utc::now());
        }
        let first_derive = t.elapsed();
        let update = upsert_all(&conn, 7.0);
        let t = Instant::now();
        let events = if with_triggers {
            derive_on(&mut conn, Utc::now()).len()
        } else {
            0
        };
        let derive = t.elapsed();
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        let engine = apply_all(&store, 3.0).await;
        // As the engine really runs: holding the writer role, whose fence checks every
        // write of its connection, the journal's included.
        let me = store::WriterInfo {
            runner: "bench".into(),
            purpose: "bench".into(),
        };
        let lease = store.acquire_writer(&me, None).await.unwrap();
        let fenced = apply_all(&store, 4.0).await;
        lease.release().await;
        println!(
            "triggers {:>3}: insert {:>7.0} rows/s, update {:>7.0} rows/s, engine apply {:>7.0} \
             rows/s, with the writer fence {:>7.0} rows/s{}",
            if with_triggers { "on" } else { "off" },
            insert,
            update,
            engine,
            fenced,
            if with_triggers {
                format!(
                    "; first-fill derive {:.0} ms, update derive {:.0} ms ({events} events)",
                    first_derive.as_secs_f64() * 1e3,
                    derive.as_secs_f64() * 1e3
                )
            } else {
                String::new()
            }
        );
        figures.push((with_triggers, insert, update, engine, fenced));
    }
    let mean = |on: bool, i: usize| {
        let v: Vec<f64> = figures
            .iter()
            .filter(|f| f.0 == on)
            .map(|f| [f.1, f.2, f.3, f.4][i])
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    for (i, what) in ["insert", "update", "engine apply", "engine apply, fenced"]
        .iter()
        .enumerate()
    {
        println!(
            "{what}: with triggers {:.2}x the rate without",
            mean(true, i) / mean(false, i)
        );
    }
}
