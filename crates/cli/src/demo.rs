//! `stockpulse demo`: the Finale simulator in process → the real client → a summary.
//!
//! The simulator serves a seeded account over real HTTP on 127.0.0.1 with Finale's real
//! budgets (120 GET/min, 120 POST/min, 300 collection reads/hour); the client pulls every
//! collection as it would from `app.finaleinventory.com`. With `--time-scale 60` both sides
//! share a clock on which a minute of budget passes in a second, so even the slow paths
//! (order lines over GraphQL with `--headers-only`) finish quickly while the budget logic
//! stays exactly the one used in production.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use engine::Strategy;
use engine::store::Store;
use engine::sync::{Engine, SyncError, SyncSettings};
use finale::{Clock, Credentials, FinaleClient, FinaleConfig, ScaledClock, Secret, SystemClock};
use finale_sim::{SimClock, SimConfig, Simulator, Size};

use crate::engine_cmd::{open_postgres, open_sqlite, print_report};
use crate::progress::BarProgress;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data set size: small (200 products), medium (5,000), large (50,000 products, 1M order lines).
    #[arg(long, default_value = "medium")]
    size: Size,
    /// Seed of the generated account (same seed, same data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Serve orders without `orderItemList`, so lines come from GraphQL or per-order GETs.
    #[arg(long)]
    headers_only: bool,
    /// Run the shared clock this many times faster than real time (budgets stay Finale's).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Turn budgets off on both sides (for measuring raw speed).
    #[arg(long)]
    no_budgets: bool,
    /// Sync into this Postgres database instead of the local store (it is migrated first).
    /// Prefer the environment variable: a URL with a password on the command line is visible
    /// to other users of the machine.
    #[arg(long, env = "STOCKPULSE_DEMO_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The local store file to (re)create (default: demo.db in Stockpulse's data directory).
    #[arg(long)]
    store: Option<PathBuf>,
}

#[allow(clippy::print_stdout)] // the demo's product is its printed report
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        anyhow::bail!(
            "--time-scale must be a positive number, got {}",
            args.time_scale
        );
    }
    let real_anchor = SystemTime::now();
    let virtual_anchor = Utc::now();
    let client_clock: Arc<dyn Clock> = if args.time_scale == 1.0 {
        Arc::new(SystemClock)
    } else {
        Arc::new(ScaledClock::new(
            real_anchor,
            virtual_anchor,
            args.time_scale,
        ))
    };

    let mut sim_cfg = SimConfig::new(args.size, args.seed);
    sim_cfg.clock = SimClock::scaled(real_anchor, virtual_anchor, args.time_scale);
    sim_cfg.anchor = virtual_anchor;
    sim_cfg.quirks.order_items_in_collection = !args.headers_only;
    sim_cfg.limits.enabled = !args.no_budgets;

    println!(
        "Stockpulse demo: a simulated Finale account ({} data set, seed {}) synced into {}.",
        args.size,
        args.seed,
        if args.database_url.is_some() {
            "Postgres"
        } else {
            "the local store"
        }
    );
    let t = Instant::now();
    let sim = Simulator::start(sim_cfg.clone())
        .await
        .context("starting the Finale simulator")?;
    println!(
        "  simulator ready at {}/{} in {:.2?}",
        sim.base_url(),
        sim.account(),
        t.elapsed()
    );

    let mut config = FinaleConfig::new(
        sim.account(),
        Credentials::ApiKey {
            key: sim_cfg.api_key.clone(),
            secret: Secret::from(sim_cfg.api_secret.clone()),
        },
    );
    config.base_url = sim.base_url().parse().context("simulator base URL")?;
    config.clock = client_clock.clone();
    config.budgets.enabled = !args.no_budgets;
    let client = FinaleClient::new(config).context("building the Finale client")?;

    let store = open_demo_store(&args).await?;
    println!("  store: {}", store.describe());
    let engine = Engine::new(
        client.clone(),
        store.clone(),
        SyncSettings::default(),
        Engine::default_runner(),
    );

    let t = Instant::now();
    // The full load; six hours of activity and the daily smart run; five minutes and a stock
    // pulse; the rest of the hour and the hourly critical run.
    for (strategy, live_minutes) in [
        (Strategy::Full, 0),
        (Strategy::Smart, 6 * 60),
        (Strategy::Stock, 5),
        (Strategy::Critical, 55),
    ] {
        if live_minutes > 0 {
            let live = sim.step_live(chrono::Duration::minutes(live_minutes));
            let span = if live_minutes % 60 == 0 {
                format!("{} h", live_minutes / 60)
            } else {
                format!("{live_minutes} min")
            };
            println!(
                "\n  {span} of account activity: {} new orders, {} price changes, {} new products, {} stock rows changed",
                live.new_orders, live.changed_products, live.new_products, live.stock_rows_changed
            );
        }
        println!();
        let bar = BarProgress::new(strategy.as_str());
        let result = engine.run(strategy, &bar).await;
        bar.finish();
        match result {
            Ok(report) => print_report(&report),
            Err(SyncError::WriterBusy { holder }) => {
                anyhow::bail!("another engine is syncing this store: {holder}")
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!();
    check_against_truth(&*store, &sim).await?;
    print_budgets(&client);
    println!("  total time {:.2?}", t.elapsed());
    sim.shutdown().await;
    Ok(())
}

async fn open_demo_store(args: &DemoArgs) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &args.database_url {
        return open_postgres(url, engine::pg::PgOptions::default()).await;
    }
    let path = match &args.store {
        Some(p) => p.clone(),
        None => engine::config::default_local_path(&|k| std::env::var(k).ok())
            .map(|p| p.with_file_name("demo.db"))
            .context("no data directory: pass --store PATH")?,
    };
    // A fresh demo account each time: the previous demo's store is replaced.
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("removing the old demo store {}", path.display()));
            }
        }
    }
    open_sqlite(&path)
}

#[allow(clippy::print_stdout)]
fn print_budgets(client: &FinaleClient) {
    let r = client.budget_report();
    println!("  budgets (requests this demo, against Finale's limits):");
    for b in &r.buckets {
        println!(
            "    {:<11} {:>5} requests (limit {:>4} per {:>4} s){}",
            format!("{:?}", b.bucket),
            b.used,
            b.limit,
            b.window_secs,
            b.paused_until
                .map(|t| format!(", paused until {t}"))
                .unwrap_or_default()
        );
    }
    println!(
        "  {} requests, {} received, latency p50 {:.1} ms / p95 {:.1} ms, waited for budget {:.1} s, 429s {}",
        r.requests,
        human_bytes(r.bytes),
        r.latency_p50_ms,
        r.latency_p95_ms,
        r.waited_ms / 1000.0,
        r.throttled
    );
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The demo is also a smoke test: the store must hold what the simulator holds, table by
/// table (counts; the end-to-end tests compare every field).
#[allow(clippy::print_stdout)]
async fn check_against_truth(store: &dyn Store, sim: &finale_sim::SimHandle) -> anyhow::Result<()> {
    let snap = store.snapshot().await?;
    let expected = {
        let dataset = sim.dataset();
        let truth = dataset
            .read()
            .map_err(|_| anyhow::anyhow!("the simulator's dataset lock is poisoned"))?;
        let pairs: std::collections::BTreeSet<(&str, &str)> = truth
            .inventory_items
            .iter()
            .map(|i| (&*i.product_url, &*i.facility_url))
            .collect();
        let lines: usize = truth
            .orders
            .rows()
            .iter()
            .map(|o| o.order_item_list.len())
            .sum();
        [
            ("facilities", truth.facilities.len()),
            ("parties", truth.party_groups.len()),
            ("products", truth.products.len()),
            ("stock rows", pairs.len()),
            ("orders", truth.orders.len()),
            ("order lines", lines),
            ("inventory items", truth.products.len()),
        ]
    };
    let got = [
        snap.facilities.len(),
        snap.parties.len(),
        snap.products.len(),
        snap.stock.len(),
        snap.orders.len(),
        snap.orders.iter().map(|o| o.lines.len()).sum(),
        snap.items.len(),
    ];
    let mut wrong = Vec::new();
    println!("  {:<16} {:>10} {:>10}", "table", "store", "Finale");
    for ((name, want), have) in expected.iter().zip(got) {
        println!("  {name:<16} {have:>10} {want:>10}");
        if have != *want {
            wrong.push(format!("{name}: store {have}, simulator {want}"));
        }
    }
    println!("  {:<16} {:>10}", "daily sales", snap.daily_sales.len());
    if !wrong.is_empty() {
        anyhow::bail!(
            "the store does not match the simulator: {}",
            wrong.join("; ")
        );
    }
    println!("  checked: every table matches the simulator");
    Ok(())
}
