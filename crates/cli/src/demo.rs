//! `stockpulse demo`: the Finale simulator in process → the real client → a summary.
//!
//! The simulator serves a seeded account over real HTTP on 127.0.0.1 with Finale's real
//! budgets (120 GET/min, 120 POST/min, 300 collection reads/hour); the client pulls every
//! collection as it would from `app.finaleinventory.com`. With `--time-scale 60` both sides
//! share a clock on which a minute of budget passes in a second, so even the slow paths
//! (order lines over GraphQL with `--headers-only`) finish quickly while the budget logic
//! stays exactly the one used in production.

use std::time::{Instant, SystemTime};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use finale::{Clock, Credentials, FinaleClient, FinaleConfig, ScaledClock, Secret, SystemClock};
use finale_sim::{SimClock, SimConfig, Simulator, Size};
use indicatif::{ProgressBar, ProgressStyle};

use crate::pull::{self, PullSummary};

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
    let client_clock: std::sync::Arc<dyn Clock> = if args.time_scale == 1.0 {
        std::sync::Arc::new(SystemClock)
    } else {
        std::sync::Arc::new(ScaledClock::new(
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
        "Stockpulse demo: a simulated Finale account ({} data set, seed {}).",
        args.size, args.seed
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

    let until = client_clock.now();
    let since = until - chrono::Duration::days(731);
    let bar = ProgressBar::new(pull::steps(&client, since, until));
    bar.set_style(
        ProgressStyle::with_template(
            "  {spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg} (ETA {eta})",
        )
        .context("progress template")?,
    );
    let summary = pull::pull_account(&client, since, until, &bar).await?;
    bar.finish_and_clear();

    print_summary(&summary, &client);
    check_against_truth(&summary, &sim)?;
    let stats = sim.stats();
    println!(
        "  simulator served {} requests, {} bytes; statuses {:?}",
        stats.requests, stats.bytes_sent, stats.by_status
    );
    sim.shutdown().await;
    Ok(())
}

#[allow(clippy::print_stdout)]
fn print_summary(summary: &PullSummary, client: &FinaleClient) {
    println!();
    println!(
        "  {:<14} {:>10} {:>9} {:>9} {:>12} {:>9}",
        "collection", "records", "rejected", "requests", "bytes", "time"
    );
    for c in &summary.collections {
        println!(
            "  {:<14} {:>10} {:>9} {:>9} {:>12} {:>8.2?}",
            c.label,
            c.records,
            c.rejected,
            c.requests,
            human_bytes(c.bytes),
            c.elapsed
        );
    }
    println!(
        "  order lines: {} (orders completed via GraphQL {}, via GET {})",
        summary.order_lines, summary.lines.via_graphql, summary.lines.via_get
    );
    let r = client.budget_report();
    println!();
    println!("  budgets (requests this run, against Finale's limits):");
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
    println!("  total time {:.2?}", summary.elapsed);
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

/// The demo is also a smoke test: what came through the client must be exactly what the
/// simulator holds, collection by collection.
#[allow(clippy::print_stdout)]
fn check_against_truth(summary: &PullSummary, sim: &finale_sim::SimHandle) -> anyhow::Result<()> {
    use finale::Collection;
    let dataset = sim.dataset();
    let truth = dataset
        .read()
        .map_err(|_| anyhow::anyhow!("the simulator's dataset lock is poisoned"))?;
    let lines: usize = truth
        .orders
        .rows()
        .iter()
        .map(|o| o.order_item_list.len())
        .sum();
    let expected = [
        (Collection::Facility, truth.facilities.len()),
        (Collection::PartyGroup, truth.party_groups.len()),
        (Collection::Product, truth.products.len()),
        (Collection::InventoryItem, truth.inventory_items.len()),
        (Collection::Order, truth.orders.len()),
        (Collection::Shipment, truth.shipments.len()),
    ];
    let mut wrong = Vec::new();
    for (collection, want) in expected {
        let got = summary
            .collections
            .iter()
            .find(|c| c.collection == collection)
            .map_or(0, |c| c.records);
        if got != want {
            wrong.push(format!(
                "{collection}: pulled {got}, simulator holds {want}"
            ));
        }
    }
    if summary.order_lines != lines {
        wrong.push(format!(
            "order lines: pulled {}, simulator holds {lines}",
            summary.order_lines
        ));
    }
    if !wrong.is_empty() {
        anyhow::bail!(
            "the pull does not match the simulator: {}",
            wrong.join("; ")
        );
    }
    println!("  checked: every collection and all {lines} order lines match the simulator");
    Ok(())
}
