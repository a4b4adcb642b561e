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
use engine::store::Store;
use engine::sync::{
    Engine, LoadProfile, NoProgress, Progress, ProgressUpdate, SyncSettings, estimate, plan_full,
};
use finale::{BudgetConfig, FinaleClient, ScaledClock};
use finale_sim::{SimClock, SimConfig, SimHandle, Simulator, Size};
use stockpulse_tests::loads::{apply_all, batches, rate, rows_in};

async fn start_sim(
    size: Size,
    budgets: bool,
    scale: f64,
    headers_only: bool,
    graphql_is_collection: bool,
    divisor: u32,
) -> (SimHandle, FinaleClient) {
    let real = SystemTime::now();
    let anchor = Utc::now();
    let mut cfg = SimConfig::new(size, 42);
    cfg.anchor = anchor;
    cfg.clock = SimClock::scaled(real, anchor, scale);
    cfg.limits.enabled = budgets;
    // Budgets off means off: a simulator that still counted and reported its windows would
    // pause the client (it honours `X-RateLimit-Remaining: 0` whatever its own settings), so
    // back-to-back runs would measure Finale's POST budget instead of the engine.
    cfg.quirks.rate_limit_headers = budgets;
    cfg.quirks.order_items_in_collection = !headers_only;
    cfg.limits.graphql_counts_as_collection = graphql_is_collection;
    cfg.limits.get_per_minute /= divisor;
    cfg.limits.post_per_minute /= divisor;
    cfg.limits.collection_per_hour /= divisor;
    let sim = Simulator::start(cfg.clone()).await.unwrap();
    let mut config = stockpulse_tests::client_config(&sim, &cfg);
    config.clock = Arc::new(ScaledClock::new(real, anchor, scale));
    config.budgets.enabled = budgets;
    config.budgets.graphql_counts_as_collection = graphql_is_collection;
    config.budgets.get_per_minute /= divisor;
    config.budgets.post_per_minute /= divisor;
    config.budgets.collection_per_hour /= divisor;
    (sim, FinaleClient::new(config).unwrap())
}

struct Load {
    rows: u64,
    e2e: Duration,
    apply: Duration,
    raw: Duration,
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

/// Times the phases of a run (as its progress updates name them).
struct Phases(std::sync::Mutex<Vec<(String, Instant)>>);

impl Phases {
    fn new() -> Self {
        Phases(std::sync::Mutex::new(Vec::new()))
    }

    /// `phase 1.2 s, next 0.3 s, ...` up to `end`.
    fn describe(&self, end: Instant) -> String {
        let v = self.0.lock().unwrap();
        v.iter()
            .enumerate()
            .map(|(i, (phase, at))| {
                let next = v.get(i + 1).map_or(end, |(_, t)| *t);
                format!("{phase} {:.1} s", (next - *at).as_secs_f64())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Progress for Phases {
    fn update(&self, p: &ProgressUpdate) {
        let mut v = self.0.lock().unwrap();
        if v.last().is_none_or(|(phase, _)| *phase != p.phase) {
            v.push((p.phase.clone(), Instant::now()));
        }
    }
}

async fn smart_after_change(name: &str, sim: &SimHandle, engine: &Engine) {
    let (p, s) = change_one_percent(sim);
    // Finale's filter bounds are whole seconds: let the changes fall before the run's bound.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t = Instant::now();
    let phases = Phases::new();
    let r = engine.run(Strategy::Smart, &phases).await.unwrap();
    let phases = phases.describe(Instant::now());
    println!(
        "  {name:<9} {p} products and {s} stock rows changed: smart took {:.2} s, read {} records, wrote {} rows ({} mirror, {} daily sales, {} items)",
        t.elapsed().as_secs_f64(),
        r.metrics.items_seen,
        r.metrics.items_changed,
        r.applied.rows_written(),
        r.daily_sales.total(),
        r.items.writes.total()
    );
    println!("            {}", r.applied.describe_tables());
    println!("            phases: {phases}");
    println!(
        "            requests {:?}, network p50 {:.1} ms / p95 {:.1} ms, mean store call {:.1} ms",
        r.metrics.requests,
        r.metrics.network_p50_ms.unwrap_or(0.0),
        r.metrics.network_p95_ms.unwrap_or(0.0),
        r.metrics.db_latency_ms.unwrap_or(0.0)
    );
}

async fn full_loads(size: Size) {
    println!("1. Full load, {size} account, budgets off");
    let (sim, client) = start_sim(size, false, 1.0, false, false, 1).await;
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
        Arc::new(engine::sqlite::SqliteStore::open(dir.path().join("e2e.db")).unwrap());
    let eng_lite = Engine::new(client.clone(), lite.clone(), settings.clone(), "bench");
    let t = Instant::now();
    eng_lite.run(Strategy::Full, &NoProgress).await.unwrap();
    let e2e = t.elapsed();
    let lite2 = engine::sqlite::SqliteStore::open(dir.path().join("apply.db")).unwrap();
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

/// Plans a two-year backfill and runs it on the simulator at `scale`. With `divisor > 1` both
/// sides use budgets that many times smaller, so that a `medium` account is budget-bound
/// while the work (compressed by `scale` on the virtual clock) stays far inside the budget's
/// pace: then the virtual time elapsed measures the budget model itself.
async fn planner_check(
    size: Size,
    headers_only: bool,
    graphql_is_collection: bool,
    divisor: u32,
    scale: f64,
) {
    let (sim, client) = start_sim(
        size,
        true,
        scale,
        headers_only,
        graphql_is_collection,
        divisor,
    )
    .await;
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
        order_lag: order_lag(&sim),
        cap: client.config().cap as u64,
        stock_graphql_pages: stock_pages(&sim, client.config().cap),
        request_time: Duration::ZERO,
    };
    let est = estimate(&jobs, &profile, &budgets);
    let store: Arc<dyn Store> = Arc::new(engine::sqlite::SqliteStore::open_in_memory().unwrap());
    let eng = Engine::new(client.clone(), store, SyncSettings::default(), "bench");
    let wall = Instant::now();
    let r = eng.run(Strategy::Full, &NoProgress).await.unwrap();
    let wall = wall.elapsed();
    let elapsed = (clock.now() - start).to_std().unwrap_or_default();
    let waited = Duration::from_secs_f64(client.budget_report().waited_ms / 1000.0);
    let measured: u64 = ["get", "post"]
        .iter()
        .map(|b| r.metrics.requests.get(*b).copied().unwrap_or(0))
        .sum();
    let lines = match (headers_only, graphql_is_collection) {
        (false, _) => "in collection",
        (true, false) => "via GraphQL",
        (true, true) => "GraphQL=coll.",
    };
    // The load takes the longer of the budget's pace and its own work; on the virtual clock
    // the work counts `scale` times.
    // (`wall` includes the real time spent waiting for budget: `waited / scale`.)
    let work = wall.mul_f64(scale).saturating_sub(waited);
    let expected = est.duration.max(work);
    println!(
        "  {:<6} {lines:<13} {:<8} | planner {:>5} requests, budget pace {:>9} | run x{scale:<5} {:>5} requests, {:>9} virtual (work x scale {:>9}, waited {:>9}) | expected {:>9}: {:+.0} %",
        size.to_string(),
        if divisor == 1 {
            "budgets".to_owned()
        } else {
            format!("÷{divisor}")
        },
        est.total_requests,
        hms(est.duration),
        measured,
        hms(elapsed),
        hms(work),
        hms(waited),
        hms(expected),
        (elapsed.as_secs_f64() / expected.as_secs_f64().max(1e-9) - 1.0) * 100.0,
    );
    println!(
        "         planner per bucket {:?}; run per bucket {:?}",
        est.requests, r.metrics.requests
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
    // ENGINE_BENCH_SIZE=medium (etc.) overrides the data set of the full-load part.
    let size = match std::env::var("ENGINE_BENCH_SIZE")
        .ok()
        .map(|s| s.parse::<Size>())
    {
        Some(Ok(s)) => s,
        _ if quick => Size::Small,
        _ => Size::Large,
    };
    // ENGINE_BENCH=load or =planner runs one part only (for iterating on it).
    let part = std::env::var("ENGINE_BENCH").unwrap_or_default();
    if part != "planner" {
        full_loads(size).await;
        println!();
    }
    if part == "load" {
        return;
    }
    println!(
        "3. Two-year backfill with Finale's real budgets (120 GET/min, 120 POST/min, 300 collection reads/h)"
    );
    let sizes: &[Size] = if quick {
        &[Size::Small]
    } else {
        &[Size::Medium, Size::Large]
    };
    for &s in sizes {
        // Real budgets: request counts, and the duration where the work dominates.
        planner_check(s, false, false, 1, 1.0).await;
        planner_check(s, true, false, 1, 60.0).await;
    }
    // Budget-bound runs (budgets ÷10 on the smaller account): the budget model's pace.
    let first = sizes[0];
    planner_check(first, true, false, 10, 60.0).await;
    planner_check(first, true, true, 10, 3600.0).await;
    // The variant where GraphQL also spends the hourly collection budget (finale-api.md
    // leaves it open), planned for every size with real budgets.
    for &s in sizes {
        let (sim, client) = start_sim(s, true, 1.0, true, true, 1).await;
        let now = client.config().clock.now();
        let jobs = plan_full(
            now - chrono::Duration::days(730),
            now,
            chrono::Duration::days(30),
        );
        let profile = LoadProfile {
            orders: sim.dataset().read().unwrap().orders.len() as u64,
            lines_in_collection: false,
            graphql_page_size: client.config().graphql_page_size,
            order_lag: order_lag(&sim),
            cap: client.config().cap as u64,
            stock_graphql_pages: stock_pages(&sim, client.config().cap),
            request_time: Duration::ZERO,
        };
        let est = estimate(&jobs, &profile, &client.config().budgets);
        println!(
            "  {:<6} GraphQL=coll. planned: {} requests {:?}, budget pace {}",
            s.to_string(),
            est.total_requests,
            est.requests,
            hms(est.duration)
        );
        sim.shutdown().await;
    }
}

/// How long after their order day the simulator's orders last changed (the load estimate's
/// model of an order window's batch, measured like the order count).
fn order_lag(sim: &finale_sim::SimHandle) -> Vec<f64> {
    let tz = sim.config().quirks.timezone;
    let ds = sim.dataset();
    let ds = ds.read().unwrap();
    let day = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).date_naive();
    engine::sync::plan::lag_shares(
        ds.orders
            .rows()
            .iter()
            .map(|o| (day(o.last_updated_date) - day(o.order_date)).num_days()),
    )
}

/// GraphQL pages of the stock job on the simulator's account (0 under the cap).
fn stock_pages(sim: &finale_sim::SimHandle, cap: usize) -> u64 {
    let ds = sim.dataset();
    let ds = ds.read().unwrap();
    let mut per: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for r in &ds.inventory_items {
        *per.entry(&r.product_url).or_default() += 1;
    }
    let first = u64::from(finale::graphql_stock::STOCK_ROWS_PER_PRODUCT);
    let more = u64::from(finale::graphql_stock::STOCK_ROWS_PER_FOLLOW_UP);
    let follow_ups = per
        .values()
        .filter(|&&n| n > first)
        .map(|&n| (n - first).div_ceil(more))
        .sum();
    engine::sync::cap::stock_read_cost(
        ds.products.len() as u64,
        ds.inventory_items.len() as u64,
        follow_ups,
        cap as u64,
    )
    .graphql_pages
}
