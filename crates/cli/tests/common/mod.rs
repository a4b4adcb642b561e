//! The harness the `stockpulse` process tests share: a simulator on the real clock, the
//! binary pointed at it and at a store (with nothing from the caller's environment or
//! configuration leaking in), and the store opened from the test's side.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::Utc;
use engine::store::Store;
use finale_sim::{SimConfig, SimHandle, Simulator, Size};

/// A simulator on the real clock, its history ending now (the CLI uses the system clock).
pub async fn sim(seed: u64) -> (SimHandle, SimConfig) {
    let mut cfg = SimConfig::new(Size::Small, seed);
    cfg.anchor = Utc::now();
    (Simulator::start(cfg.clone()).await.unwrap(), cfg)
}

/// The store a process writes to.
pub enum Target<'a> {
    /// The local store at this path.
    Sqlite(&'a Path),
    /// The Postgres store at this URL.
    Postgres(&'a str),
}

/// `stockpulse <args>` against `sim` and `target`, with defaults and this environment only:
/// the caller's `FINALE_*`, `STOCKPULSE_*`, `DATABASE_URL` and `RUST_LOG`, its configuration
/// file and its keychain are kept out.
pub fn command(sim: &SimHandle, cfg: &SimConfig, target: &Target<'_>, args: &[&str]) -> Command {
    let mut cmd = isolated(args);
    cmd.env("FINALE_BASE_URL", sim.base_url())
        .env("FINALE_ACCOUNT", sim.account())
        .env("FINALE_API_KEY", &cfg.api_key)
        .env("FINALE_API_SECRET", &cfg.api_secret);
    match target {
        Target::Sqlite(p) => cmd.env("STOCKPULSE_LOCAL_PATH", p),
        Target::Postgres(url) => cmd.env("STOCKPULSE_DATABASE_URL", url),
    };
    cmd
}

/// `stockpulse <args>` with none of the caller's `FINALE_*`, `STOCKPULSE_*`, `DATABASE_URL`
/// or `RUST_LOG`, no configuration file and no keychain: what [`command`] builds on, and what
/// the local-store commands (`search`, `watch`) run with alone.
pub fn isolated(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stockpulse"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| {
        k.starts_with("FINALE_")
            || k.starts_with("STOCKPULSE_")
            || k == "DATABASE_URL"
            || k == "RUST_LOG"
    }) {
        cmd.env_remove(k);
    }
    cmd.env("STOCKPULSE_KEYCHAIN", "off")
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("stockpulse-tests-no-config"),
        )
        .env(
            "HOME",
            std::env::temp_dir().join("stockpulse-tests-no-home"),
        );
    cmd
}

/// Runs a command to the end without blocking the runtime.
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// The target's store, opened from the test.
pub async fn open(target: &Target<'_>) -> Arc<dyn Store> {
    match target {
        Target::Sqlite(p) => Arc::new(engine::sqlite::SqliteStore::open(p).unwrap()),
        Target::Postgres(url) => Arc::new(
            engine::pg::PgStore::connect(url, engine::pg::PgOptions::default())
                .await
                .unwrap(),
        ),
    }
}

/// `kill <sig> <pid>`.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

/// Runs `stockpulse <args>` to the end and asserts it succeeded (showing its stderr if not).
pub async fn run_ok(
    sim: &SimHandle,
    cfg: &SimConfig,
    target: &Target<'_>,
    args: &[&str],
) -> Output {
    let out = output(command(sim, cfg, target, args)).await;
    assert!(
        out.status.success(),
        "stockpulse {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Waits (at most a minute) until the full load that `child` runs has `done` jobs done,
/// failing if the child exits first; returns the target's store.
pub async fn until_jobs_done(
    child: &mut std::process::Child,
    target: &Target<'_>,
    done: usize,
) -> Arc<dyn Store> {
    let started = std::time::Instant::now();
    let mut store = None;
    loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the load never got going"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the load ended before {done} jobs were done: {status}");
        }
        if store.is_none() {
            // The child creates (SQLite) or migrates (Postgres) the store first.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            store = Some(open(target).await);
        }
        let s = store.as_ref().unwrap();
        let jobs = s.backfill_jobs().await.unwrap_or_default();
        let n = jobs
            .iter()
            .filter(|j| j.status == engine::store::JobStatus::Done)
            .count();
        if n >= done {
            return store.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
