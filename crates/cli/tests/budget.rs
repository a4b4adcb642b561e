//! Issue 8 §6 as a user meets it: a script calling `stockpulse sync` in a loop. Each call is a
//! new process with a fresh picture of Finale's budgets; the budget ledger in the store makes
//! every one of them start from what the others spent, so the loop stays within the budgets
//! even when Finale neither refuses nor reports its counts: a process that would exceed a
//! budget waits instead.
//!
//! On the real clock a fast loop first meets the 120 GETs a minute (every collection read is a
//! GET too): about twenty smart runs in twenty seconds. The hourly collection budget over a
//! compressed hour is the engine suite's restart loop (`tests/engine/budget.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use common::{Target, command};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use finale_sim::{SimConfig, SimHandle, Simulator, Size};

/// Finale's hourly collection budget (the client's default).
const BUDGET: usize = 300;
/// Finale's GETs a minute (the client's default).
const GETS_PER_MINUTE: usize = 120;
/// A process still running after this long is waiting for the budget (a run on the small
/// account takes well under a second).
const STUCK: Duration = Duration::from_secs(20);

/// The most instants in any fixed window of `secs` seconds (Finale's windows).
fn worst_fixed_window(at: &[DateTime<Utc>], secs: i64) -> usize {
    let mut m = std::collections::BTreeMap::new();
    for t in at {
        *m.entry(t.timestamp().div_euclid(secs)).or_insert(0usize) += 1;
    }
    m.into_values().max().unwrap_or(0)
}

/// Collection reads the simulator admitted, by arrival.
fn reads(sim: &SimHandle) -> Vec<DateTime<Utc>> {
    sim.stats()
        .log
        .iter()
        .filter(|e| e.collection && (200..300).contains(&e.status))
        .map(|e| e.at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_in_a_loop_stays_within_finales_budgets() {
    let mut cfg = SimConfig::new(Size::Small, 13);
    cfg.anchor = Utc::now();
    // A Finale that neither refuses nor tells (no 429, no `X-RateLimit-*` headers): only the
    // processes' own bookkeeping can keep the loop within the budgets.
    cfg.limits.enabled = false;
    cfg.quirks.rate_limit_headers = false;
    let sim = Simulator::start(cfg.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("loop.db");
    let started = Instant::now();
    let mut processes = 0;
    let mut waited = false;
    // The full load first (about 30 collection reads), then smart runs (about 5 each): some
    // sixty processes pass 300 reads within a minute or two.
    while reads(&sim).len() <= BUDGET && processes < 150 {
        let strategy = if processes == 0 { "full" } else { "smart" };
        processes += 1;
        let mut child = command(
            &sim,
            &cfg,
            &Target::Sqlite(&db),
            &["sync", "--strategy", strategy],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let t = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "process {processes} failed: {status}");
                break;
            }
            if t.elapsed() > STUCK {
                child.kill().unwrap();
                child.wait().unwrap();
                waited = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if waited {
            break;
        }
    }
    let admitted = reads(&sim);
    let stats = sim.stats();
    let gets: Vec<DateTime<Utc>> = stats
        .log
        .iter()
        .filter(|e| e.method == "GET" && (200..300).contains(&e.status))
        .map(|e| e.at)
        .collect();
    let worst_minute = worst_fixed_window(&gets, 60);
    eprintln!(
        "{processes} processes in {:?}: {} collection reads admitted, at most {worst_minute} GETs \
         in a minute, {:?} statuses, a process waited: {waited}",
        started.elapsed(),
        admitted.len(),
        stats.by_status
    );
    assert!(
        started.elapsed() < Duration::from_secs(3000),
        "the loop must fit in one hour"
    );
    assert_eq!(
        stats.by_status.get(&429),
        None,
        "the loop provoked Finale's 429s"
    );
    assert!(
        worst_minute <= GETS_PER_MINUTE,
        "{worst_minute} GETs in a minute"
    );
    assert!(
        admitted.len() <= BUDGET,
        "{} collection reads within the hour (budget {BUDGET})",
        admitted.len()
    );
    assert!(waited, "the loop stopped before the budget was reached");
    // `status` reads the ledger: every process's reads, the killed one's included (none).
    let out = command(&sim, &cfg, &Target::Sqlite(&db), &["status"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!(
        "Finale budget: {} of {BUDGET} collection reads used in the last hour",
        admitted.len()
    );
    assert!(text.contains(&want), "missing `{want}` in:\n{text}");
    sim.shutdown().await;
}
