//! `stockpulse sync`, `status` and `serve`: thin adapters from the command line to
//! `engine::config` (what to connect to) and `engine::sync` (what to do).
//!
//! Exit codes: 0 success; 1 failure (the message says what and, for configuration, where to
//! fix it); [`EXIT_BUSY`] when another engine holds the writer role — nothing was started and
//! nothing is wrong, so scripts may simply try later.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use engine::Strategy;
use engine::config::{EngineConfig, StoreTarget};
use engine::store::Store;
use engine::sync::{Engine, RunReport, SyncError, SyncSettings};
use finale::FinaleClient;

use crate::progress::BarProgress;

/// "Another engine is writing": EX_TEMPFAIL from sysexits.h.
pub const EXIT_BUSY: u8 = 75;

/// Options shared by the engine commands.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Configuration file (default: $STOCKPULSE_CONFIG, else ~/.config/stockpulse/config.toml
    /// when it exists). Secrets never go in it: see the README.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The shared Postgres/Supabase store (default: $STOCKPULSE_DATABASE_URL, then
    /// $DATABASE_URL, then the OS keychain; none = the local store). Prefer the environment:
    /// a URL with a password on the command line is visible to other users of the machine.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    common: Common,
    /// full (the two-year initial load, resumable), smart (what changed), critical (items
    /// that need attention, first), stock (the stock pulse: stock levels only).
    #[arg(long, default_value = "smart")]
    strategy: Strategy,
    /// Wait up to this many seconds for another engine to finish instead of exiting.
    #[arg(long)]
    wait: Option<u64>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    common: Common,
    /// How many recent runs to list.
    #[arg(long, default_value_t = 10)]
    runs: u32,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    common: Common,
    /// The record's URL, as `stockpulse status` lists it under "unreadable records".
    url: String,
    /// Wait up to this many seconds for another engine to finish instead of exiting.
    #[arg(long)]
    wait: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: Common,
}

/// Loads the configuration from the file and the process environment; `--database-url`
/// overrides both.
pub fn load_config(common: &Common) -> anyhow::Result<EngineConfig> {
    let cfg = EngineConfig::load(common.config.as_deref(), &|k| std::env::var(k).ok())
        .context("configuration")?;
    match &common.database_url {
        Some(url) => cfg
            .with_database_url(
                finale::Secret::from(url.as_str()),
                engine::config::SecretSource::Flag("--database-url"),
            )
            .context("configuration"),
        None => Ok(cfg),
    }
}

/// The engine's settings from the configuration, waiting `wait` for the writer role.
pub fn settings(cfg: &EngineConfig, wait: Option<Duration>) -> SyncSettings {
    SyncSettings {
        writer_wait: wait,
        ..cfg.sync_settings()
    }
}

/// Opens (and migrates) the configured store: Postgres when a database URL is configured,
/// else the local SQLite file (created with its directory).
pub async fn open_store(cfg: &EngineConfig, connections: usize) -> anyhow::Result<Arc<dyn Store>> {
    match cfg.store.target() {
        StoreTarget::Postgres { url, lock_url } => {
            let opts = engine::pg::PgOptions {
                connections,
                lock_url: lock_url.map(|u| u.expose().to_owned()),
            };
            open_postgres(url.expose(), opts).await
        }
        StoreTarget::Sqlite { path } => open_sqlite(path),
    }
}

/// Migrates the Postgres store at `url` (over a connection of its own: migrations need a
/// session) and opens its pool.
pub async fn open_postgres(
    url: &str,
    opts: engine::pg::PgOptions,
) -> anyhow::Result<Arc<dyn Store>> {
    let mut client = engine::pg::connect(url).await?;
    engine::pg::migrate(&mut client).await?;
    drop(client);
    Ok(Arc::new(engine::pg::PgStore::connect(url, opts).await?))
}

/// Opens (creating it and its directory if needed, and migrating) the SQLite store at `path`.
pub fn open_sqlite(path: &Path) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the local store's directory {}", dir.display()))?;
    }
    Ok(Arc::new(engine::sqlite::SqliteStore::open(path)?))
}

async fn build(cfg: &EngineConfig, wait: Option<Duration>) -> anyhow::Result<Engine> {
    build_with(cfg, settings(cfg, wait)).await
}

async fn build_with(cfg: &EngineConfig, settings: SyncSettings) -> anyhow::Result<Engine> {
    let finale = cfg.finale()?.clone();
    let client = FinaleClient::new(finale).context("building the Finale client")?;
    let store = open_store(cfg, cfg.sync.smart_concurrency.max(1)).await?;
    Ok(Engine::new(
        client,
        store,
        settings,
        Engine::default_runner(),
    ))
}

/// `stockpulse sync`.
pub async fn sync(args: SyncArgs) -> anyhow::Result<u8> {
    let cfg = load_config(&args.common)?;
    let engine = build(&cfg, args.wait.map(Duration::from_secs)).await?;
    let bar = BarProgress::new(args.strategy.as_str());
    let result = engine.run(args.strategy, &bar).await;
    bar.finish();
    match result {
        Ok(report) => {
            print_report(&report);
            derive_events(&cfg).await;
            Ok(0)
        }
        Err(SyncError::WriterBusy { holder }) => {
            busy(&holder);
            Ok(EXIT_BUSY)
        }
        Err(e) => Err(e.into()),
    }
}

/// In the embedded default, turns what the run wrote into domain events and alerts now
/// (the triggers journalled it in the run's own transactions), so alerts are raised
/// whether or not anyone runs `watch`. With a shared store the mirrors derive instead.
/// Best effort: the run's data is stored either way, and the next follower derives it.
async fn derive_events(cfg: &EngineConfig) {
    let StoreTarget::Sqlite { path } = cfg.store.target() else {
        return;
    };
    let path = path.to_path_buf();
    let derived = tokio::task::spawn_blocking(move || -> Result<usize, workstation::CacheError> {
        let mut follower =
            workstation::events::Follower::open(&path, workstation::events::Since::Now)?;
        Ok(follower.poll(Utc::now())?.len())
    })
    .await;
    match derived {
        Ok(Ok(n)) => tracing::info!(events = n, "derived the run's events"),
        Ok(Err(err)) => tracing::warn!(%err, "could not derive the run's events yet"),
        Err(err) => tracing::warn!(%err, "could not derive the run's events yet"),
    }
}

/// `stockpulse resolve <url>`: stop retrying a record Finale would not give.
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub async fn resolve(args: ResolveArgs) -> anyhow::Result<u8> {
    let cfg = load_config(&args.common)?;
    let engine = build(&cfg, args.wait.map(Duration::from_secs)).await?;
    match engine.resolve_unreadable(&args.url).await {
        Ok(Some(r)) => {
            println!(
                "resolved: {} {} (unreadable since {}, {} attempt(s)); it is no longer retried",
                r.collection,
                r.url,
                r.first_failed.format("%Y-%m-%d %H:%M"),
                r.attempts
            );
            Ok(0)
        }
        Ok(None) => {
            eprintln!(
                "not listed as unreadable: {} (`stockpulse status` lists them)",
                args.url
            );
            Ok(1)
        }
        Err(SyncError::WriterBusy { holder }) => {
            busy(&holder);
            Ok(EXIT_BUSY)
        }
        Err(e) => Err(e.into()),
    }
}

#[allow(clippy::print_stderr)]
fn busy(holder: &str) {
    eprintln!(
        "not started: another Stockpulse engine is syncing this store ({holder}); try again later or pass --wait"
    );
}

/// Prints a run's summary.
#[allow(clippy::print_stdout)]
pub fn print_report(r: &RunReport) {
    let m = &r.metrics;
    println!(
        "{} run #{} finished in {:.1} s: {} records read, {} rows written, {} quarantined ({:.0} records/s)",
        r.strategy,
        r.run_id,
        m.duration_ms as f64 / 1000.0,
        m.items_seen,
        m.items_changed,
        m.items_failed,
        m.items_per_sec
    );
    let tables = r.applied.describe_tables();
    if !tables.is_empty() {
        println!("  written: {tables}");
    }
    println!(
        "  derived: daily sales {} rows, inventory items {} written, {} confirmed",
        r.daily_sales.total(),
        r.items.writes.total(),
        r.items.confirmed
    );
    let req: Vec<String> = m.requests.iter().map(|(b, n)| format!("{b} {n}")).collect();
    println!(
        "  Finale requests: {}; latency p50 {} / p95 {}; store latency {}",
        req.join(", "),
        ms(m.network_p50_ms),
        ms(m.network_p95_ms),
        ms(m.db_latency_ms)
    );
    if !m.error_patterns.is_empty() {
        let p: Vec<String> = m
            .error_patterns
            .iter()
            .map(|(p, n)| format!("{p} ×{n}"))
            .collect();
        println!("  problems: {}", p.join(", "));
    }
    if let Some(c) = &r.critical {
        println!(
            "  critical: {} items need attention, {} new orders, {} vendor updates ({} stock rows of ranked items written first)",
            c.items.len(),
            c.new_orders,
            c.vendor_updates,
            c.critical_rows_first
        );
        let mut by_severity: std::collections::BTreeMap<engine::sync::Severity, usize> =
            std::collections::BTreeMap::new();
        for i in &c.items {
            *by_severity.entry(i.severity).or_default() += 1;
        }
        let counts: Vec<String> = by_severity
            .iter()
            .rev()
            .map(|(s, n)| {
                let name = serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("{name} {n}")
            })
            .collect();
        if !counts.is_empty() {
            println!("  by severity: {}", counts.join(", "));
        }
        // Most severe first; e.g. `out_of_stock  SKU-1  available 0 (on hand 50)  ...`.
        for i in c.items.iter().take(10) {
            let severity = serde_json::to_value(i.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let at: Vec<String> = i
                .locations
                .iter()
                .map(|l| {
                    format!(
                        "{} {} ≤ {}",
                        l.location_url.as_deref().unwrap_or("(all)"),
                        l.available,
                        l.reorder_point
                    )
                })
                .collect();
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" [{}]", at.join("; "))
            };
            println!(
                "    {:<17} {:<20} available {:>8} (on hand {}) {}{at}",
                severity,
                i.sku,
                i.available,
                i.stock,
                i.reasons.join(", ")
            );
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.1} ms"))
}

/// `stockpulse status`.
#[allow(clippy::print_stdout)]
pub async fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let cfg = load_config(&args.common)?;
    println!("{}", cfg.describe());
    // The cache first: it answers even when the shared store cannot be reached.
    let mirrored = matches!(cfg.store.target(), StoreTarget::Postgres { .. });
    match workstation::status::read_report(&cfg.store.local_path, mirrored, Utc::now()) {
        Ok(report) => println!("{}", report.describe()),
        Err(err) => println!("cache: unreadable ({err})"),
    }
    let store = open_store(&cfg, 1).await?;
    let budgets = cfg.finale().map(|f| f.budgets.clone()).unwrap_or_default();
    let b = engine::sync::status::backfill_status(&*store, &budgets).await?;
    println!();
    match &b.plan {
        None => println!("full load: never run (run `stockpulse sync --strategy full`)"),
        Some(p) => {
            let state = if p.completed_at.is_some() {
                "complete"
            } else if p.rereading() {
                "re-reading; smart and critical go on"
            } else {
                "in progress"
            };
            println!(
                "full load ({state}): {}/{} jobs done, {} failed, {} records, {} requests; horizon {} .. {}",
                b.done,
                b.total,
                b.failed,
                b.records,
                b.requests,
                p.start.format("%Y-%m-%d"),
                p.end.format("%Y-%m-%d")
            );
            if p.completed_at.is_none()
                && let Some(eta) = b.eta
            {
                println!("  ETA with a full budget: {}", human(eta));
            }
            if let Some(e) = &b.last_error {
                println!("  last job error: {e}");
            }
        }
    }
    println!("{}", writer_line(store.writer_lease().await?.as_ref()));
    let used = engine::sync::budget::budget_use(&*store, &budgets, Utc::now()).await?;
    if let Some(c) = used.iter().find(|u| u.bucket == finale::Bucket::Collection) {
        println!(
            "Finale budget: {} of {} collection reads used in the last hour (every engine on this store)",
            c.used, c.limit
        );
    }
    let cursors = engine::sync::status::cursors(&*store).await?;
    if !cursors.is_empty() {
        let c: Vec<String> = cursors
            .iter()
            .map(|(k, v)| format!("{k} {}", v.to_rfc3339()))
            .collect();
        println!("cursors: {}", c.join(", "));
    }
    let unreadable = engine::sync::status::unreadable(&*store).await?;
    if !unreadable.is_empty() {
        println!(
            "unreadable records: {} (retried by every smart and critical run; \
             `stockpulse resolve <url>` stops retrying one)",
            unreadable.records.len()
        );
        for r in unreadable.records.iter().take(20) {
            println!(
                "  {} {}  since {}  {} attempt(s)  last: {}",
                r.collection,
                r.url,
                r.first_failed.format("%Y-%m-%d %H:%M"),
                r.attempts,
                r.reason
            );
        }
    }
    println!();
    println!("recent runs:");
    for r in store.recent_runs(args.runs).await? {
        let m = &r.metrics;
        let outcome = match (m.finished_at, m.success) {
            (None, _) => "running".to_owned(),
            (Some(_), true) => "ok".to_owned(),
            (Some(_), false) => format!("failed: {}", m.notes.clone().unwrap_or_default()),
        };
        let req: Vec<String> = m.requests.iter().map(|(b, n)| format!("{b} {n}")).collect();
        println!(
            "  #{:<5} {:<8} {} {:>8.1} s  seen {:>8}  changed {:>8}  failed {:>5}  {:>8.0}/s  requests [{}]  {}",
            r.id,
            r.strategy.as_str(),
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            m.duration_ms as f64 / 1000.0,
            m.items_seen,
            m.items_changed,
            m.items_failed,
            m.items_per_sec,
            req.join(", "),
            outcome
        );
    }
    Ok(0)
}

/// `writer: <holder>, last heartbeat <time> (<n> s ago)[, expired]` or `writer: none`.
fn writer_line(lease: Option<&engine::lease::LeaseInfo>) -> String {
    let Some(l) = lease else {
        return "writer: none".to_owned();
    };
    let mut line = format!(
        "writer: {}, last heartbeat {} ({} s ago)",
        l.holder(),
        l.heartbeat_at.format("%Y-%m-%d %H:%M:%S UTC"),
        l.heartbeat_age().num_seconds()
    );
    if l.expired() {
        line.push_str(", expired: the next engine takes the role over");
    }
    line
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `stockpulse serve`: the schedules, headless, until SIGINT or SIGTERM.
#[allow(clippy::print_stderr)]
pub async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let cfg = load_config(&args.common)?;
    let engine = build_with(
        &cfg,
        SyncSettings {
            full_slice: Some(engine::sync::SERVICE_FULL_SLICE),
            ..settings(&cfg, None)
        },
    )
    .await?;
    let schedule = cfg.schedule();
    let pulse = schedule.stock_every.map_or_else(
        || "off".to_owned(),
        |e| format!("every {} min", e.num_minutes()),
    );
    let spend = engine::sync::plan::schedule_spend(&schedule, &engine.client().config().budgets);
    eprintln!(
        "serving: smart daily at {} UTC, critical every {} min, stock pulse {pulse}; \
         busiest hour {} of {} collection reads ({}); store {}",
        schedule.smart_daily_at.format("%H:%M"),
        schedule.critical_every.num_minutes(),
        spend.collection_reads,
        spend.collection_budget,
        spend.describe(),
        engine.store().describe()
    );
    let runner = engine::sync::EngineRunner::new(engine, print_report);
    let clock = || Utc::now();
    // In the embedded default, `serve` also derives events as the engine writes (alerts are
    // raised even with no `watch` or app running); with a shared store the mirrors do.
    let (stop_events, events_stopped) = tokio::sync::oneshot::channel::<()>();
    let events = match cfg.store.target() {
        StoreTarget::Sqlite { path } => Some(tokio::spawn(workstation::events::follow(
            path.to_path_buf(),
            workstation::events::Bus::default(),
            workstation::events::Since::Now,
            async move {
                let _ = events_stopped.await;
            },
        ))),
        StoreTarget::Postgres { .. } => None,
    };
    let report = engine::schedule::serve(&runner, &schedule, &clock, shutdown_signal()).await?;
    let _ = stop_events.send(());
    if let Some(task) = events {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, "the event follower stopped"),
            Err(err) => tracing::warn!(%err, "the event follower stopped"),
        }
    }
    eprintln!(
        "stopped: {} runs, {} failed",
        report.runs.len(),
        report.failures()
    );
    Ok(0)
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
