//! Issue 8 §6, the budget survives restarts: a restart loop (a service manager restarting a
//! crashing `serve`, a script calling `sync` in a loop) never spends more than the configured
//! collection reads in any 60-minute window, because every engine starts from the spends
//! recorded in the store.
//!
//! Each "process" is a fresh [`FinaleClient`] (a new scheduler: a new process's picture of
//! the budget) over a freshly opened handle on the same store, running the full load (smart
//! runs once the load is complete) until it "crashes": the run's future is dropped
//! mid-flight, as a killed process stops. The simulator and the clients share one compressed
//! clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use engine::Strategy;
use engine::sync::{Engine, NoProgress, SyncSettings};
use finale::FinaleClient;
use finale_sim::Size;
use stockpulse_tests::{Pair, Setup};

use crate::support::{Kind, TestStore};

/// The configured collection budget of every process in the loop (and, when the simulator
/// enforces, the simulator's own limit).
const LIMIT: u32 = 10;
/// Processes started one after another.
const PROCESSES: usize = 6;
/// How long each lives before it "crashes" (real time; 20 virtual minutes at scale 600).
const LIFETIME: Duration = Duration::from_secs(2);

/// What the simulator saw during a restart loop.
#[derive(Debug)]
struct Seen {
    /// The most collection reads admitted in any 60-minute window (sliding).
    worst_hour: usize,
    /// Collection reads admitted in all.
    reads: usize,
    /// 429 answers.
    throttled: u64,
}

/// The most instants inside any half-open window of length `window`.
fn worst_window(times: &mut [DateTime<Utc>], window: chrono::Duration) -> usize {
    times.sort();
    let mut worst = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        worst = worst.max(end - start + 1);
    }
    worst
}

/// A new process: its own client (scheduler) and its own store handle.
async fn process(pair: &Pair, ts: &TestStore, i: usize) -> Engine {
    let client = FinaleClient::new(pair.config.clone()).expect("client builds");
    let settings = SyncSettings {
        // The previous process's writer role may take a moment to be released.
        writer_wait: Some(Duration::from_secs(30)),
        ..SyncSettings::default()
    };
    Engine::new(client, ts.reopen().await, settings, format!("loop:{i}"))
}

async fn restart_loop(kind: Kind, sim_enforces: bool) -> Seen {
    let pair = Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| {
            c.limits.collection_per_hour = LIMIT;
            c.limits.enabled = sim_enforces;
        })
        .start(|c| c.budgets.collection_per_hour = LIMIT)
        .await;
    let ts = TestStore::new(kind).await;
    for i in 0..PROCESSES {
        let engine = process(&pair, &ts, i).await;
        // What `serve` would do: the full load until it completes, then smart runs.
        let loaded = engine::sync::status::plan_state(&**engine.store())
            .await
            .expect("plan state")
            .is_some_and(|p| p.completed_at.is_some());
        let strategy = if loaded {
            Strategy::Smart
        } else {
            Strategy::Full
        };
        // A crash: the run stops wherever it is (or it finished, which is fine too).
        let _ = tokio::time::timeout(LIFETIME, engine.run(strategy, &NoProgress)).await;
    }
    let stats = pair.sim.stats();
    let mut at: Vec<DateTime<Utc>> = stats
        .log
        .iter()
        .filter(|e| e.collection && (200..300).contains(&e.status))
        .map(|e| e.at)
        .collect();
    let seen = Seen {
        reads: at.len(),
        worst_hour: worst_window(&mut at, chrono::Duration::hours(1)),
        throttled: stats.by_status.get(&429).copied().unwrap_or(0),
    };
    eprintln!("{kind:?}, simulator enforcing {sim_enforces}: {seen:?}");
    pair.sim.shutdown().await;
    seen
}

/// Finale enforces its limit: a restart loop never provokes a 429 and never has more than
/// the budget in any 60-minute window.
async fn a_restart_loop_stays_within_the_hourly_budget(kind: Kind) {
    let seen = restart_loop(kind, true).await;
    assert!(seen.reads > 0, "the loop read nothing: {seen:?}");
    assert_eq!(seen.throttled, 0, "a restart provoked 429s: {seen:?}");
    assert!(
        seen.worst_hour <= LIMIT as usize,
        "{} collection reads in one 60-minute window (budget {LIMIT}): {seen:?}",
        seen.worst_hour
    );
}

/// A Finale that does not refuse (or counts differently): the engines alone keep the budget.
async fn a_restart_loop_never_overspends_an_account_that_does_not_refuse(kind: Kind) {
    let seen = restart_loop(kind, false).await;
    assert!(seen.reads > 0, "the loop read nothing: {seen:?}");
    assert!(
        seen.worst_hour <= LIMIT as usize,
        "{} collection reads in one 60-minute window (budget {LIMIT}): {seen:?}",
        seen.worst_hour
    );
}

crate::on_both_stores!(
    a_restart_loop_stays_within_the_hourly_budget,
    a_restart_loop_never_overspends_an_account_that_does_not_refuse,
);
