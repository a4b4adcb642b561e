//! Full loads as the benchmarks measure them: the rows of a store snapshot, the engine's
//! write batches for them, applying them, and a rate.

use std::time::{Duration, Instant};

use chrono::Utc;
use engine::store::{Batch, Snapshot, Store};

/// How many mirror rows a snapshot holds (children included).
pub fn rows_in(s: &Snapshot) -> u64 {
    (s.facilities.len()
        + s.parties.len()
        + s.products.len()
        + s.products
            .iter()
            .map(|p| p.suppliers.len() + p.guidelines.len())
            .sum::<usize>()
        + s.stock.len()
        + s.orders.len()
        + s.orders.iter().map(|o| o.lines.len()).sum::<usize>()) as u64
}

/// The full load's write batches for a snapshot's mirror rows (500 records each).
pub fn batches(s: &Snapshot, size: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    for c in s.facilities.chunks(size) {
        out.push(Batch {
            facilities: c.to_vec(),
            ..Batch::default()
        });
    }
    for c in s.parties.chunks(size) {
        out.push(Batch {
            parties: c.to_vec(),
            ..Batch::default()
        });
    }
    for c in s.products.chunks(size) {
        out.push(Batch {
            products: c.to_vec(),
            ..Batch::default()
        });
    }
    for c in s.orders.chunks(size) {
        out.push(Batch {
            orders: c.to_vec(),
            ..Batch::default()
        });
    }
    for c in s.stock.chunks(size) {
        out.push(Batch {
            stock_upserts: c.to_vec(),
            ..Batch::default()
        });
    }
    out
}

/// Applies every batch, one store transaction each; the time it took.
pub async fn apply_all(store: &dyn Store, batches: &[Batch]) -> Duration {
    let now = Utc::now();
    let t = Instant::now();
    for b in batches {
        store
            .apply(b, now)
            .await
            .unwrap_or_else(|e| panic!("a benchmark batch failed: {e}"));
    }
    t.elapsed()
}

/// Rows per second.
pub fn rate(rows: u64, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}
