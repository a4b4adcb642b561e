//! The workstation mirror's figures (issue 9), measured in one run against the real Postgres
//! and real SQLite files, on a `large` simulated account loaded by the engine:
//!
//! 1. the engine's write path with and without the change feed's triggers (ratio, goal ≥ 0.8);
//! 2. hydration rows/s against a raw SQLite bulk insert of the same rows (goal ≥ 100k rows/s
//!    and ≥ 0.7×), and the memory it took;
//! 3. catch-up rows/s after 5 % of stock and 1 % of products changed.
//!
//! `MIRROR_BENCH_SIZE=medium` runs on a smaller account.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use engine::store::{Batch, Snapshot, Store, Strategy};
use engine::sync::{Engine, NoProgress, SyncSettings};
use finale_sim::{SimConfig, Simulator, Size};
use workstation::events::Bus;
use workstation::mirror::{Mirror, MirrorConfig};

fn rows_in(s: &Snapshot) -> u64 {
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

fn batches(s: &Snapshot, size: usize) -> Vec<Batch> {
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

async fn apply_all(store: &dyn Store, batches: &[Batch]) -> Duration {
    let now = Utc::now();
    let t = Instant::now();
    for b in batches {
        store.apply(b, now).await.unwrap();
    }
    t.elapsed()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn rate(rows: u64, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let size: Size = std::env::var("MIRROR_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Size::Large);
    println!("Workstation mirror, {size} account");
    let mut cfg = SimConfig::new(size, 42);
    cfg.limits.enabled = false;
    cfg.quirks.rate_limit_headers = false;
    let sim = Simulator::start(cfg.clone()).await.unwrap();
    let mut client_cfg = stockpulse_tests::client_config(&sim, &cfg);
    client_cfg.budgets.enabled = false;
    let client = finale::FinaleClient::new(client_cfg).unwrap();
    let settings = SyncSettings::default();
    let db = engine::testing::TestDb::migrated().await.unwrap();
    let pg: Arc<dyn Store> = Arc::new(
        engine::pg::PgStore::connect(db.url(), engine::pg::PgOptions::default())
            .await
            .unwrap(),
    );
    let eng = Engine::new(client, pg.clone(), settings.clone(), "bench");
    eng.run(Strategy::Full, &NoProgress).await.unwrap();
    let snap = pg.snapshot().await.unwrap();
    let work = batches(&snap, settings.full_batch);
    let rows = rows_in(&snap);

    println!("1. The engine's write path with and without the change feed ({rows} rows)");
    // Two rounds, alternating, each into a fresh database; the best of each side counts (the
    // machine is shared, and the two sides should see the same noise).
    let mut best_on = Duration::MAX;
    let mut best_off = Duration::MAX;
    for _ in 0..2 {
        for feed in [false, true] {
            let fresh = engine::testing::TestDb::migrated().await.unwrap();
            if !feed {
                fresh
                    .client()
                    .batch_execute(
                        &store::pg::feed::MIRRORED_TABLES
                            .iter()
                            .map(|(t, _)| format!("ALTER TABLE {t} DISABLE TRIGGER USER;"))
                            .collect::<String>(),
                    )
                    .await
                    .unwrap();
            }
            let target =
                engine::pg::PgStore::connect(fresh.url(), engine::pg::PgOptions::default())
                    .await
                    .unwrap();
            let t = apply_all(&target, &work).await;
            let best = if feed { &mut best_on } else { &mut best_off };
            *best = (*best).min(t);
        }
    }
    println!(
        "  without the feed {:>9.0} rows/s ({:.2} s) | with the feed {:>9.0} rows/s ({:.2} s) = {:.2}x (best of 2 each)",
        rate(rows, best_off),
        best_off.as_secs_f64(),
        rate(rows, best_on),
        best_on.as_secs_f64(),
        best_off.as_secs_f64() / best_on.as_secs_f64()
    );

    println!("2. Hydration into a fresh local store vs a raw SQLite bulk insert of the same rows");
    let dir = tempfile::tempdir().unwrap();
    let raw_path = dir.path().join("raw.db");
    let t = Instant::now();
    engine::sqlite::insert_snapshot(&raw_path, &snap).unwrap();
    let raw = t.elapsed();
    let before = rss_kib();
    let mut mirror = Mirror::open(
        MirrorConfig {
            database_url: db.url().to_owned(),
            lock_url: None,
            local_path: dir.path().join("cache.db"),
        },
        Bus::default(),
    )
    .unwrap();
    let pass = mirror.sync_once().await.unwrap();
    let after = rss_kib();
    let hydrated = pass.rows();
    println!(
        "  raw insert {:>9.0} rows/s ({rows} rows, {:.2} s) | hydration {:>9.0} rows/s ({hydrated} rows in 12 tables, {:.2} s) = {:.2}x | process memory +{} MiB",
        rate(rows, raw),
        raw.as_secs_f64(),
        rate(hydrated, pass.elapsed),
        pass.elapsed.as_secs_f64(),
        rate(hydrated, pass.elapsed) / rate(rows, raw),
        after.saturating_sub(before) / 1024
    );

    println!("3. Catch-up after 5 % of stock rows and 1 % of products changed");
    db.client()
        .batch_execute(
            "UPDATE stock SET on_hand = on_hand + 1 WHERE abs(hashtext(product_url || facility_url)) % 20 = 0;
             UPDATE products SET cost = cost * 1.1 WHERE abs(hashtext(url)) % 100 = 0;",
        )
        .await
        .unwrap();
    let pass = mirror.sync_once().await.unwrap();
    println!(
        "  {} rows in {:.2} s = {:>9.0} rows/s",
        pass.rows(),
        pass.elapsed.as_secs_f64(),
        rate(pass.rows(), pass.elapsed)
    );
    let t = Instant::now();
    let r = mirror.reconcile_once().await.unwrap();
    println!(
        "  reconciliation: {} tables, {} buckets, {} differed, {:.2} s",
        r.tables,
        r.buckets,
        r.mismatched,
        t.elapsed().as_secs_f64()
    );
    sim.shutdown().await;
}
