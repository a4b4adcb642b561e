//! `make bench` — the sync engine, as ratios and counts measured in one run.
//!
//! 1. **Full load** of the `large` account from the simulator with budgets off, into
//!    Postgres and into SQLite. For each store, in the same run and on the same rows:
//!    - *end to end*: the engine's full load (HTTP, decode, convert, hash, write);
//!    - *write path*: the same rows through the store's `apply` in the full load's batches
//!      of 500 (what the engine's writes cost without Finale);
//!    - *raw bulk load*: Postgres `COPY … FROM STDIN (FORMAT binary)`; SQLite plain prepared
//!      `INSERT`s in one transaction — the physical limit of each store.
//!
//!    Ratios are records/s over the raw bulk load's records/s (aim: write path ≥ 0.5).
//! 2. **Smart sync** after 1 % of products (cost) and 1 % of stock rows changed: wall time
//!    and rows written.
//! 3. **Backfill with Finale's real budgets**, for `medium` and `large`: requests and time
//!    computed by the planner, checked against a run on the simulator at a compressed time
//!    scale (virtual time measured on the shared clock).
//!
//! Run with `--quick` (or without `--bench`) for a small smoke run.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use engine::Strategy;
use engine::store::{Batch, Snapshot, Store};
use engine::sync::{Engine, LoadProfile, NoProgress, SyncSettings, estimate, plan_full};
use finale::{BudgetConfig, FinaleClient, ScaledClock};
use finale_sim::{SimClock, SimConfig, SimHandle, Simulator, Size};

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

/// The full load's write batches for a snapshot's mirror rows (500 records each).
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

async fn start_sim(
    size: Size,
    budgets: bool,
    scale: f64,
    headers_only: bool,
) -> (SimHandle, FinaleClient) {
    let real = SystemTime::now();
    let anchor = Utc::now();
    let mut cfg = SimConfig::new(size, 42);
    cfg.anchor = anchor;
    cfg.clock = SimClock::scaled(real, anchor, scale);
    cfg.limits.enabled = budgets;
    cfg.quirks.order_items_in_collection = !headers_only;
    let sim = Simulator::start(cfg.clone()).await.unwrap();
    let mut config = stockpulse_tests::client_config(&sim, &cfg);
    config.clock = Arc::new(ScaledClock::new(real, anchor, scale));
    config.budgets.enabled = budgets;
    (sim, FinaleClient::new(config).unwrap())
}

struct Load {
    rows: u64,
    e2e: Duration,
    apply: Duration,
    raw: Duration,
}

fn rate(rows: u64, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}

fn report(name: &str, l: &Load) {
    let raw = rate(l.rows, l.raw);
    println!(
        "  {name:<9} raw bulk load {:>9.0} rows/s ({:>6.2} s) | write path {:>9.0} rows/s ({:>6.2} s) = {:.2}x | end to end {:>9.0} rows/s ({:>6.2} s) = {:.2}x",
        raw,
        l.raw.as_secs_f64(),
        rate(l.rows, l.apply),
        l.apply.as_secs_f64(),
        rate(l.rows, l.apply) / raw,
        rate(l.rows, l.e2e),
        l.e2e.as_secs_f64(),
        rate(l.rows, l.e2e) / raw,
    );
}

async fn apply_all(store: &dyn Store, batches: &[Batch]) -> Duration {
    let now = Utc::now();
    let t = Instant::now();
    for b in batches {
        store.apply(b, now).await.unwrap();
    }
    t.elapsed()
}

/// Changes 1 % of products (cost +10 %) and 1 % of stock rows (+1 on hand), stamped now.
fn change_one_percent(sim: &SimHandle) -> (usize, usize) {
    let ds = sim.dataset();
    let mut ds = ds.write().unwrap();
    let now = sim.config().clock.now();
    let n = ds.products.len();
    let step = 100;
    let mut products = 0;
    for i in (0..n).step_by(step) {
        ds.products.update(i, |p| {
            p.cost = Some(p.cost.unwrap_or(1.0) * 1.1);
            p.last_updated_date = now;
        });
        products += 1;
    }
    let mut rows = 0;
    for i in (0..ds.inventory_items.len()).step_by(step) {
        ds.inventory_items[i].quantity_on_hand += 1.0;
        rows += 1;
    }
    (products, rows)
}

async fn smart_after_change(name: &str, sim: &SimHandle, engine: &Engine) {
    let (p, s) = change_one_percent(sim);
    // Finale's filter bounds are whole seconds: let the changes fall before the run's bound.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t = Instant::now();
    let r = engine.run(Strategy::Smart, &NoProgress).await.unwrap();
    println!(
        "  {name:<9} {p} products and {s} stock rows changed: smart took {:.2} s, read {} records, wrote {} rows ({} mirror, {} daily sales, {} items)",
        t.elapsed().as_secs_f64(),
        r.metrics.items_seen,
        r.metrics.items_changed,
        r.applied.rows_written(),
        r.daily_sales.total(),
        r.items.writes.total()
    );
    let tables: Vec<String> = r
        .applied
        .by_table
        .iter()
        .filter(|(_, w)| w.total() > 0)
        .map(|(t, w)| format!("{t} +{} ~{} -{}", w.inserted, w.updated, w.deleted))
        .collect();
    println!("            {}", tables.join(", "));
}

async fn full_loads(size: Size) {
    println!("1. Full load, {size} account, budgets off");
    let (sim, client) = start_sim(size, false, 1.0, false).await;
    let settings = SyncSettings::default();

    // Postgres.
    let db = engine::testing::TestDb::migrated().await.unwrap();
    let pg: Arc<dyn Store> = Arc::new(
        engine::pg::PgStore::connect(db.url(), engine::pg::PgOptions::default())
            .await
            .unwrap(),
    );
    let eng = Engine::new(client.clone(), pg.clone(), settings.clone(), "bench");
    let t = Instant::now();
    eng.run(Strategy::Full, &NoProgress).await.unwrap();
    let e2e = t.elapsed();
    let snap = pg.snapshot().await.unwrap();
    let rows = rows_in(&snap);
    let work = batches(&snap, settings.full_batch);
    let db2 = engine::testing::TestDb::migrated().await.unwrap();
    let pg2 = engine::pg::PgStore::connect(db2.url(), engine::pg::PgOptions::default())
        .await
        .unwrap();
    let apply = apply_all(&pg2, &work).await;
    drop(pg2);
    let db3 = engine::testing::TestDb::migrated().await.unwrap();
    let t = Instant::now();
    engine::pg::copy::copy_snapshot(db3.client(), &snap)
        .await
        .unwrap();
    let raw = t.elapsed();
    println!(
        "  {rows} mirror rows ({} orders, {} lines, {} stock rows, {} products)",
        snap.orders.len(),
        snap.orders.iter().map(|o| o.lines.len()).sum::<usize>(),
        snap.stock.len(),
        snap.products.len()
    );
    report(
        "postgres",
        &Load {
            rows,
            e2e,
            apply,
            raw,
        },
    );

    // SQLite.
    let dir = tempfile::tempdir().unwrap();
    let lite: Arc<dyn Store> =
        Arc::new(engine::sqlite::SqliteStore::open(&dir.path().join("e2e.db")).unwrap());
    let eng_lite = Engine::new(client.clone(), lite.clone(), settings.clone(), "bench");
    let t = Instant::now();
    eng_lite.run(Strategy::Full, &NoProgress).await.unwrap();
    let e2e = t.elapsed();
    let lite2 = engine::sqlite::SqliteStore::open(&dir.path().join("apply.db")).unwrap();
    let apply = apply_all(&lite2, &work).await;
    let raw_path = dir.path().join("raw.db");
    let t = Instant::now();
    engine::sqlite::insert_snapshot(&raw_path, &snap).unwrap();
    let raw = t.elapsed();
    report(
        "sqlite",
        &Load {
            rows,
            e2e,
            apply,
            raw,
        },
    );

    println!();
    println!("2. Smart sync after 1 % of products and stock rows changed");
    smart_after_change("postgres", &sim, &eng).await;
    // The SQLite store has not seen the first change yet; give both the same delta.
    eng_lite.run(Strategy::Smart, &NoProgress).await.unwrap();
    smart_after_change("sqlite", &sim, &eng_lite).await;
    sim.shutdown().await;
}

async fn planner_check(size: Size, headers_only: bool, scale: f64) {
    let (sim, client) = start_sim(size, true, scale, headers_only).await;
    let budgets: BudgetConfig = client.config().budgets.clone();
    let clock = client.config().clock.clone();
    let start = clock.now();
    let orders = sim.dataset().read().unwrap().orders.len() as u64;
    let jobs = plan_full(
        start - chrono::Duration::days(730),
        start,
        chrono::Duration::days(30),
    );
    let profile = LoadProfile {
        orders,
        lines_in_collection: !headers_only,
        graphql_page_size: client.config().graphql_page_size,
        cap: client.config().cap as u64,
        request_time: Duration::from_millis(50),
    };
    let est = estimate(&jobs, &profile, &budgets);
    let store: Arc<dyn Store> = Arc::new(engine::sqlite::SqliteStore::open_in_memory().unwrap());
    let eng = Engine::new(client.clone(), store, SyncSettings::default(), "bench");
    let wall = Instant::now();
    let r = eng.run(Strategy::Full, &NoProgress).await.unwrap();
    let virtual_time = (clock.now() - start).to_std().unwrap_or_default();
    let measured: u64 = r.metrics.requests.get("get").copied().unwrap_or(0)
        + r.metrics.requests.get("post").copied().unwrap_or(0);
    println!(
        "  {size:<6} lines {:<13} planner: {:>5} requests {:?}, {:>8} | simulator run (x{scale}): {:>5} requests {:?}, {:>8} virtual ({:.1} s real)",
        if headers_only {
            "via GraphQL"
        } else {
            "in collection"
        },
        est.total_requests,
        est.requests,
        hms(est.duration),
        measured,
        r.metrics.requests,
        hms(virtual_time),
        wall.elapsed().as_secs_f64()
    );
    sim.shutdown().await;
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let size = if quick { Size::Small } else { Size::Large };
    full_loads(size).await;
    println!();
    println!(
        "3. Two-year backfill with Finale's real budgets (120 GET/min, 120 POST/min, 300 collection reads/h)"
    );
    let sizes: &[Size] = if quick {
        &[Size::Small]
    } else {
        &[Size::Medium, Size::Large]
    };
    for &s in sizes {
        planner_check(s, false, 60.0).await;
        planner_check(s, true, 600.0).await;
    }
}
