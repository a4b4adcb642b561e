//! Unit tests of the schedule (pure) and of the `serve` driver (Tokio's paused time and a
//! fake runner).

use std::sync::{Arc, Mutex};

use chrono::TimeZone as _;

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

/// The default schedule without the stock pulse (its own tests below turn it on).
fn sched() -> Schedule {
    Schedule {
        stock_every: None,
        ..Schedule::default()
    }
}

fn last(smart: Option<&str>, critical: Option<&str>) -> LastRuns {
    LastRuns {
        smart: smart.map(t),
        critical: critical.map(t),
        stock: None,
        full_done: true,
        full_pending: false,
    }
}

use Strategy::{Critical, Full, Smart, Stock};

#[test]
fn the_stock_pulse_runs_every_five_minutes_between_critical_runs() {
    let s = Schedule::default();
    assert_eq!(s.stock_every, Some(TimeDelta::minutes(5)));
    // Critical ran at 10:00 (it read the stock): the pulse is due at 10:05, not before.
    let l = last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T10:00:00Z"));
    assert_eq!(s.due(t("2025-03-10T10:04:59Z"), &l), Vec::<Strategy>::new());
    assert_eq!(
        s.next_wake(t("2025-03-10T10:01:00Z"), &l),
        t("2025-03-10T10:05:00Z")
    );
    assert_eq!(s.due(t("2025-03-10T10:05:00Z"), &l), vec![Stock]);
    // After a pulse at 10:05, the next one at 10:10.
    let l = LastRuns {
        stock: Some(t("2025-03-10T10:05:00Z")),
        ..l
    };
    assert_eq!(s.due(t("2025-03-10T10:06:00Z"), &l), Vec::<Strategy>::new());
    assert_eq!(
        s.next_wake(t("2025-03-10T10:06:00Z"), &l),
        t("2025-03-10T10:10:00Z")
    );
    // A pulse never replaces the critical run, and is not run beside it: critical reads the
    // stock anyway.
    assert_eq!(s.due(t("2025-03-10T11:00:00Z"), &l), vec![Critical]);
    // Nor beside a due smart run.
    let l = LastRuns {
        critical: Some(t("2025-03-11T01:58:00Z")),
        stock: Some(t("2025-03-11T01:50:00Z")),
        ..l
    };
    assert_eq!(s.due(t("2025-03-11T02:00:00Z"), &l), vec![Smart]);
}

#[test]
fn the_stock_pulse_counts_and_ignores_like_the_other_runs() {
    let s = Schedule::default();
    // Never pulsed, but smart read the stock a minute ago.
    let l = LastRuns {
        smart: Some(t("2025-03-10T02:00:00Z")),
        critical: Some(t("2025-03-10T01:59:00Z")),
        stock: None,
        full_done: true,
        full_pending: false,
    };
    assert_eq!(s.due(t("2025-03-10T02:01:00Z"), &l), Vec::<Strategy>::new());
    assert_eq!(s.due(t("2025-03-10T02:05:00Z"), &l), vec![Stock]);
    // A pulse recorded an hour in the future is a wrong clock: ignored, so the pulse is due
    // from the other runs.
    let l = LastRuns {
        stock: Some(t("2025-03-10T03:05:00Z")),
        ..l
    };
    assert_eq!(s.due(t("2025-03-10T02:05:00Z"), &l), vec![Stock]);
    // Nothing before the full load; switched off, never.
    let l0 = LastRuns::default();
    assert_eq!(s.due(t("2025-03-10T02:05:00Z"), &l0), vec![Full]);
    let off = Schedule {
        stock_every: None,
        ..s
    };
    assert_eq!(
        off.due(t("2025-03-10T02:05:00Z"), &l),
        Vec::<Strategy>::new()
    );
    assert_eq!(
        off.next_wake(t("2025-03-10T02:05:00Z"), &l),
        t("2025-03-10T02:59:00Z")
    );
}

#[test]
fn full_comes_first_and_alone() {
    let s = sched();
    let now = t("2025-03-10T02:00:00Z");
    let l = LastRuns::default();
    assert_eq!(s.due(now, &l), vec![Full]);
    assert_eq!(s.next_wake(now, &l), now);
    // Even with smart and critical long overdue.
    let l = LastRuns {
        full_done: false,
        ..last(Some("2020-01-01T00:00:00Z"), Some("2020-01-01T00:00:00Z"))
    };
    assert_eq!(s.due(now, &l), vec![Full]);
}

#[test]
fn never_run_strategies_are_due_at_once() {
    let s = sched();
    let now = t("2025-03-10T14:37:00Z");
    assert_eq!(s.due(now, &last(None, None)), vec![Critical, Smart]);
    assert_eq!(s.next_wake(now, &last(None, None)), now);
}

#[test]
fn smart_slot_boundaries() {
    let s = sched();
    assert_eq!(
        s.smart_slot(t("2025-03-10T02:00:00Z")),
        t("2025-03-10T02:00:00Z")
    );
    assert_eq!(
        s.smart_slot(t("2025-03-10T01:59:59Z")),
        t("2025-03-09T02:00:00Z")
    );
    assert_eq!(
        s.smart_slot(t("2025-03-10T23:59:59Z")),
        t("2025-03-10T02:00:00Z")
    );
    assert_eq!(
        s.smart_slot(t("2025-01-01T00:00:00Z")),
        t("2024-12-31T02:00:00Z")
    );
    let midnight = Schedule {
        smart_daily_at: NaiveTime::MIN,
        ..sched()
    };
    assert_eq!(
        midnight.smart_slot(t("2025-03-10T00:00:00Z")),
        t("2025-03-10T00:00:00Z")
    );
}

#[test]
fn smart_exactly_at_and_just_before_the_slot() {
    let s = sched();
    // Yesterday's smart ran on time; critical ran recently.
    let l = last(Some("2025-03-09T02:00:05Z"), Some("2025-03-10T01:30:00Z"));
    let before = t("2025-03-10T01:59:59Z");
    assert_eq!(s.due(before, &l), Vec::<Strategy>::new());
    assert_eq!(s.next_wake(before, &l), t("2025-03-10T02:00:00Z"));
    let at = t("2025-03-10T02:00:00Z");
    assert_eq!(s.due(at, &l), vec![Smart]);
    assert_eq!(s.next_wake(at, &l), at);
    // After it ran (started at the slot itself), nothing until critical at 02:30.
    let l = last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T01:30:00Z"));
    assert_eq!(s.due(t("2025-03-10T02:00:01Z"), &l), Vec::<Strategy>::new());
    assert_eq!(
        s.next_wake(t("2025-03-10T02:00:01Z"), &l),
        t("2025-03-10T02:30:00Z")
    );
}

#[test]
fn a_gap_of_days_catches_up_smart_once() {
    let s = sched();
    // Last smart four days ago, critical five hours ago: started at 10:00.
    let now = t("2025-03-10T10:00:00Z");
    let l = last(Some("2025-03-06T02:00:00Z"), Some("2025-03-10T05:00:00Z"));
    assert_eq!(s.due(now, &l), vec![Critical, Smart]);
    // After one catch-up of each, nothing is due until the next critical hour.
    let l = last(Some("2025-03-10T10:00:30Z"), Some("2025-03-10T10:00:00Z"));
    let later = t("2025-03-10T10:01:00Z");
    assert_eq!(s.due(later, &l), Vec::<Strategy>::new());
    assert_eq!(s.next_wake(later, &l), t("2025-03-10T11:00:00Z"));
    // And smart waits for tomorrow's slot, not for "24 h after the catch-up".
    let l = last(Some("2025-03-10T10:00:30Z"), Some("2025-03-11T01:30:00Z"));
    assert_eq!(
        s.next_wake(t("2025-03-11T01:31:00Z"), &l),
        t("2025-03-11T02:00:00Z")
    );
    assert_eq!(s.due(t("2025-03-11T02:00:00Z"), &l), vec![Smart]);
}

#[test]
fn critical_after_smart_in_the_same_minute() {
    let s = sched();
    // Smart ran at 02:00:10; critical (last 01:00:20) becomes due at 02:00:20, the same
    // minute: a smart run does not count as a critical one.
    let l = last(Some("2025-03-10T02:00:10Z"), Some("2025-03-10T01:00:20Z"));
    let now = t("2025-03-10T02:00:15Z");
    assert_eq!(s.due(now, &l), Vec::<Strategy>::new());
    assert_eq!(s.next_wake(now, &l), t("2025-03-10T02:00:20Z"));
    assert_eq!(s.due(t("2025-03-10T02:00:20Z"), &l), vec![Critical]);
    // Both due at once: critical first.
    let l = last(Some("2025-03-09T02:00:00Z"), Some("2025-03-10T01:00:00Z"));
    assert_eq!(s.due(t("2025-03-10T02:00:00Z"), &l), vec![Critical, Smart]);
}

#[test]
fn critical_interval_is_exact() {
    let s = Schedule {
        critical_every: TimeDelta::minutes(15),
        ..sched()
    };
    let l = last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T03:00:00Z"));
    assert_eq!(s.due(t("2025-03-10T03:14:59Z"), &l), Vec::<Strategy>::new());
    assert_eq!(
        s.next_wake(t("2025-03-10T03:14:59Z"), &l),
        t("2025-03-10T03:15:00Z")
    );
    assert_eq!(s.due(t("2025-03-10T03:15:00Z"), &l), vec![Critical]);
}

#[test]
fn dst_does_not_exist_in_utc() {
    // The nights Europe and the US change clocks: the slot stays at 02:00 UTC and the
    // critical interval stays 60 minutes.
    let s = sched();
    for day in ["2025-03-09", "2025-03-30", "2025-10-26", "2025-11-02"] {
        let slot = t(&format!("{day}T02:00:00Z"));
        let l = last(
            Some(&format!("{day}T01:00:00Z")),
            Some(&format!("{day}T01:30:00Z")),
        );
        let before = slot - TimeDelta::seconds(1);
        // 01:00 is after the previous day's slot: smart is not due until 02:00.
        assert_eq!(s.next_wake(before, &l), slot, "{day}");
        assert_eq!(s.due(slot, &l), vec![Smart], "{day}");
        assert_eq!(
            s.next_wake(
                slot + TimeDelta::seconds(1),
                &last(
                    Some(&format!("{day}T02:00:00Z")),
                    Some(&format!("{day}T01:30:00Z"))
                )
            ),
            t(&format!("{day}T02:30:00Z")),
            "{day}"
        );
    }
}

#[test]
fn future_last_runs_are_treated_sanely() {
    let s = sched();
    let now = t("2025-03-10T10:00:00Z");
    // A little in the future (another workstation's clock is 2 minutes fast): believed.
    let l = last(Some("2025-03-10T10:02:00Z"), Some("2025-03-10T10:02:00Z"));
    assert_eq!(s.due(now, &l), Vec::<Strategy>::new());
    assert_eq!(s.next_wake(now, &l), t("2025-03-10T11:02:00Z"));
    // Far in the future (a clock set a day ahead): ignored, so the schedule does not stop.
    let l = last(Some("2025-03-11T10:00:00Z"), Some("2025-03-11T10:00:00Z"));
    assert_eq!(s.due(now, &l), vec![Critical, Smart]);
    assert_eq!(s.next_wake(now, &l), now);
    // Exactly at the tolerance: believed.
    let edge = now + CLOCK_SKEW_TOLERANCE;
    let l = LastRuns {
        smart: Some(edge),
        critical: Some(edge),
        stock: None,
        full_done: true,
        full_pending: false,
    };
    assert_eq!(s.due(now, &l), Vec::<Strategy>::new());
    assert!(s.next_wake(now, &l) > now);
}

#[test]
fn next_wake_is_never_in_the_past_and_always_wakes_to_work() {
    // Walk a grid of situations: next_wake >= now, and at next_wake something is due.
    let without_pulse = Schedule {
        smart_daily_at: NaiveTime::from_hms_opt(2, 0, 0).expect("t"),
        critical_every: TimeDelta::minutes(45),
        ..sched()
    };
    let with_pulse = Schedule {
        stock_every: Some(TimeDelta::minutes(7)),
        ..without_pulse
    };
    let base = t("2025-03-10T00:00:00Z");
    for (s, stock_agos) in [
        (without_pulse, vec![None]),
        (
            with_pulse,
            vec![None, Some(0), Some(6), Some(7), Some(8), Some(-600)],
        ),
    ] {
        for now_min in (0..3 * 24 * 60).step_by(37) {
            let now = base + TimeDelta::minutes(now_min);
            for smart_ago in [None, Some(1), Some(60), Some(1500), Some(5000), Some(-3)] {
                for crit_ago in [
                    None,
                    Some(0),
                    Some(44),
                    Some(45),
                    Some(46),
                    Some(-4),
                    Some(-600),
                ] {
                    for stock_ago in &stock_agos {
                        let l = LastRuns {
                            smart: smart_ago.map(|m| now - TimeDelta::minutes(m)),
                            critical: crit_ago.map(|m| now - TimeDelta::minutes(m)),
                            stock: stock_ago.map(|m| now - TimeDelta::minutes(m)),
                            full_done: true,
                            full_pending: false,
                        };
                        let wake = s.next_wake(now, &l);
                        assert!(wake >= now);
                        assert!(!s.due(wake, &l).is_empty(), "{now} {l:?} -> {wake}");
                        if wake > now {
                            assert!(s.due(now, &l).is_empty());
                            // Nothing becomes due before the wake.
                            assert!(
                                s.due(wake - TimeDelta::seconds(1), &l).is_empty(),
                                "{now} {l:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

/// A store and engine stand-in: records calls with the (virtual) time they started.
struct FakeRunner {
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    last: LastRuns,
    calls: Vec<(Strategy, DateTime<Utc>)>,
    /// Each run takes this long (virtual time).
    run_time: std::time::Duration,
    /// Fail the next N runs of these strategies.
    fail: Vec<Strategy>,
    /// Fail the next N `last_runs` calls.
    fail_last_runs: usize,
    /// Runs the full load needs before it is complete.
    full_runs_needed: usize,
    /// Answer the next N runs "another engine holds the writer role".
    busy: usize,
    fatal: bool,
}

#[derive(Debug)]
struct FakeError(&'static str);

impl std::fmt::Display for FakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[async_trait]
impl Runner for FakeRunner {
    type Error = FakeError;

    async fn last_runs(&self) -> Result<LastRuns, FakeError> {
        let mut st = self.state.lock().expect("lock");
        if st.fail_last_runs > 0 {
            st.fail_last_runs -= 1;
            return Err(FakeError("store unreachable"));
        }
        Ok(st.last)
    }

    async fn run(&self, strategy: Strategy) -> Result<(), FakeError> {
        let started = (self.clock)();
        let run_time = {
            let mut st = self.state.lock().expect("lock");
            st.calls.push((strategy, started));
            st.run_time
        };
        tokio::time::sleep(run_time).await;
        let mut st = self.state.lock().expect("lock");
        if st.busy > 0 {
            st.busy -= 1;
            return Err(FakeError("busy"));
        }
        if let Some(i) = st.fail.iter().position(|s| *s == strategy) {
            st.fail.remove(i);
            return Err(FakeError(if st.fatal { "fatal" } else { "finale down" }));
        }
        match strategy {
            Strategy::Full => {
                st.full_runs_needed = st.full_runs_needed.saturating_sub(1);
                st.last.full_done = st.full_runs_needed == 0;
            }
            Strategy::Smart => st.last.smart = Some(started),
            Strategy::Critical => st.last.critical = Some(started),
            Strategy::Stock => st.last.stock = Some(started),
        }
        Ok(())
    }

    fn is_fatal(&self, error: &FakeError) -> bool {
        error.0 == "fatal"
    }

    fn is_busy(&self, error: &FakeError) -> bool {
        error.0 == "busy"
    }
}

/// A wall clock that follows Tokio's (paused) clock from `start`.
fn virtual_clock(start: DateTime<Utc>) -> Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> {
    let origin = tokio::time::Instant::now();
    Arc::new(move || start + TimeDelta::from_std(origin.elapsed()).expect("elapsed"))
}

fn runner(clock: &Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>, st: FakeState) -> FakeRunner {
    FakeRunner {
        clock: clock.clone(),
        state: Mutex::new(st),
    }
}

fn calls(r: &FakeRunner) -> Vec<(Strategy, String)> {
    r.state
        .lock()
        .expect("lock")
        .calls
        .iter()
        .map(|(s, at)| (*s, at.format("%d %H:%M:%S").to_string()))
        .collect()
}

fn c(s: Strategy, at: &str) -> (Strategy, String) {
    (s, at.to_owned())
}

#[tokio::test(start_paused = true)]
async fn serve_from_scratch_runs_full_then_catches_up_then_follows_the_schedule() {
    let clock = virtual_clock(t("2025-03-10T22:30:00Z"));
    let r = runner(
        &clock,
        FakeState {
            run_time: std::time::Duration::from_secs(90),
            full_runs_needed: 2,
            ..Default::default()
        },
    );
    let stop = tokio::time::sleep(std::time::Duration::from_secs(5 * 3600));
    let report = serve(&r, &sched(), &*clock, stop).await.expect("serve");
    assert_eq!(
        calls(&r),
        vec![
            // The full load (two runs until complete), then one catch-up of each.
            c(Full, "10 22:30:00"),
            c(Full, "10 22:31:30"),
            c(Critical, "10 22:33:00"),
            c(Smart, "10 22:34:30"),
            // Hourly critical from its last start; smart at 02:00 the next day.
            c(Critical, "10 23:33:00"),
            c(Critical, "11 00:33:00"),
            c(Critical, "11 01:33:00"),
            c(Smart, "11 02:00:00"),
            c(Critical, "11 02:33:00"),
        ]
    );
    assert_eq!(report.runs.len(), 9);
    assert_eq!(report.failures(), 0);
    assert!(report.runs.iter().all(|r| r.ok));
}

#[tokio::test(start_paused = true)]
async fn serve_after_a_gap_catches_up_once_in_priority_order() {
    // Down since four days ago; started at 10:00.
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            last: last(Some("2025-03-06T02:00:00Z"), Some("2025-03-06T02:10:00Z")),
            run_time: std::time::Duration::from_secs(10),
            ..Default::default()
        },
    );
    let stop = tokio::time::sleep(std::time::Duration::from_secs(3 * 3600 + 60));
    serve(&r, &sched(), &*clock, stop).await.expect("serve");
    assert_eq!(
        calls(&r),
        vec![
            c(Critical, "10 10:00:00"),
            c(Smart, "10 10:00:10"),
            c(Critical, "10 11:00:00"),
            c(Critical, "10 12:00:00"),
            c(Critical, "10 13:00:00"),
        ]
    );
}

#[test]
fn failures_back_off_from_30_s_doubling_to_the_retry_cap() {
    let s = Schedule::default();
    let secs = |why, n| s.retry_delay(why, n, 0.0).as_secs();
    let failed: Vec<u64> = (1..=7).map(|n| secs(Retry::Failed, n)).collect();
    assert_eq!(failed, [30, 60, 120, 240, 300, 300, 300]);
    assert_eq!(secs(Retry::Failed, 0), 30, "0 counts as the first");
    assert_eq!(secs(Retry::Failed, u32::MAX), 300, "no overflow");
    // The cap is the configured retry delay; a cap below the first delay wins.
    let long = Schedule {
        retry_after: TimeDelta::minutes(30),
        ..s
    };
    assert_eq!(long.retry_delay(Retry::Failed, 7, 0.0).as_secs(), 1800);
    assert_eq!(long.retry_delay(Retry::Failed, 20, 0.0).as_secs(), 1800);
    let short = Schedule {
        retry_after: TimeDelta::seconds(10),
        ..s
    };
    assert_eq!(short.retry_delay(Retry::Failed, 1, 0.0).as_secs(), 10);
}

#[test]
fn busy_backs_off_from_15_s_to_5_min() {
    let s = Schedule::default();
    let busy: Vec<u64> = (1..=7)
        .map(|n| s.retry_delay(Retry::Busy, n, 0.0).as_secs())
        .collect();
    assert_eq!(busy, [15, 30, 60, 120, 240, 300, 300]);
    // The configured failure cap does not stretch the busy one.
    let long = Schedule {
        retry_after: TimeDelta::minutes(30),
        ..s
    };
    assert_eq!(long.retry_delay(Retry::Busy, 10, 0.0).as_secs(), 300);
}

#[test]
fn jitter_only_shortens_by_up_to_a_fifth() {
    let s = Schedule::default();
    let d = |j| s.retry_delay(Retry::Failed, 2, j);
    assert_eq!(d(0.0), std::time::Duration::from_secs(60));
    assert_eq!(d(0.5), std::time::Duration::from_secs(54));
    assert_eq!(d(1.0), std::time::Duration::from_secs(48));
    // Out-of-range sources are clamped.
    assert_eq!(d(7.0), std::time::Duration::from_secs(48));
    assert_eq!(d(-1.0), std::time::Duration::from_secs(60));
    assert_eq!(d(f64::NAN), std::time::Duration::from_secs(60));
    for _ in 0..100 {
        let j = random_jitter();
        assert!((0.0..1.0).contains(&j), "{j}");
    }
}

/// No jitter: exact virtual times.
fn no_jitter() -> f64 {
    0.0
}

#[tokio::test(start_paused = true)]
async fn failed_runs_are_retried_with_backoff() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            last: last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T09:00:00Z")),
            fail: vec![Critical, Critical],
            fail_last_runs: 1,
            ..Default::default()
        },
    );
    let stop = tokio::time::sleep(std::time::Duration::from_secs(30 * 60));
    let report = serve_with_jitter(&r, &sched(), &*clock, stop, &no_jitter)
        .await
        .expect("serve");
    // last_runs failed (retry in 30 s), then critical failed twice (60 s, then 120 s), then
    // it ran.
    assert_eq!(
        calls(&r),
        vec![
            c(Critical, "10 10:00:30"),
            c(Critical, "10 10:01:30"),
            c(Critical, "10 10:03:30"),
        ]
    );
    assert_eq!(report.failures(), 2);
    assert_eq!(report.runs.len(), 3);
    assert_eq!(report.busy, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failure_streak_backs_off_to_the_cap_and_a_success_resets_it() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let mut fail = vec![Critical; 8];
    fail.push(Stock);
    let r = runner(
        &clock,
        FakeState {
            last: last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T09:00:00Z")),
            fail,
            ..Default::default()
        },
    );
    let stop = tokio::time::sleep(std::time::Duration::from_secs(40 * 60));
    let report = serve_with_jitter(&r, &Schedule::default(), &*clock, stop, &no_jitter)
        .await
        .expect("serve");
    assert_eq!(
        calls(&r),
        vec![
            c(Critical, "10 10:00:00"),
            c(Critical, "10 10:00:30"),
            c(Critical, "10 10:01:30"),
            c(Critical, "10 10:03:30"),
            c(Critical, "10 10:07:30"),
            c(Critical, "10 10:12:30"),
            c(Critical, "10 10:17:30"),
            c(Critical, "10 10:22:30"),
            // The ninth attempt succeeds; the streak is over.
            c(Critical, "10 10:27:30"),
            // The next failure (a pulse) waits 30 s again, not 5 minutes.
            c(Stock, "10 10:32:30"),
            c(Stock, "10 10:33:00"),
            c(Stock, "10 10:38:00"),
        ]
    );
    assert_eq!(report.failures(), 9);
}

#[tokio::test(start_paused = true)]
async fn a_busy_writer_role_is_tried_again_soon_and_is_no_run() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            full_runs_needed: 1,
            busy: 6,
            ..Default::default()
        },
    );
    // In the first 10 seconds: one attempt, not a spin.
    let stop = tokio::time::sleep(std::time::Duration::from_secs(10));
    let report = serve_with_jitter(&r, &sched(), &*clock, stop, &no_jitter)
        .await
        .expect("serve");
    assert_eq!(calls(&r), vec![c(Full, "10 10:00:00")]);
    assert_eq!(report.busy, 1);
    assert!(report.runs.is_empty(), "a busy answer is no run");

    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            full_runs_needed: 1,
            busy: 6,
            ..Default::default()
        },
    );
    let stop = tokio::time::sleep(std::time::Duration::from_secs(20 * 60));
    let report = serve_with_jitter(&r, &sched(), &*clock, stop, &no_jitter)
        .await
        .expect("serve");
    // 15 s, 30 s, 1, 2, 4 min, then the holder is gone: the full load runs, then the rest.
    assert_eq!(
        calls(&r)[..8],
        [
            c(Full, "10 10:00:00"),
            c(Full, "10 10:00:15"),
            c(Full, "10 10:00:45"),
            c(Full, "10 10:01:45"),
            c(Full, "10 10:03:45"),
            c(Full, "10 10:07:45"),
            c(Full, "10 10:12:45"),
            c(Critical, "10 10:12:45"),
        ]
    );
    assert_eq!(report.busy, 6);
    assert_eq!(report.failures(), 0);
    assert_eq!(report.runs[0].strategy, Full);
    assert!(report.runs[0].ok);
}

#[tokio::test(start_paused = true)]
async fn fatal_errors_end_serve() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            fail: vec![Full],
            fatal: true,
            ..Default::default()
        },
    );
    let err = serve(&r, &sched(), &*clock, std::future::pending())
        .await
        .expect_err("fatal");
    assert_eq!(err.0, "fatal");
    assert_eq!(calls(&r), vec![c(Full, "10 10:00:00")]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_while_sleeping_returns_at_once() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            last: last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T09:59:00Z")),
            ..Default::default()
        },
    );
    let started = tokio::time::Instant::now();
    let stop = tokio::time::sleep(std::time::Duration::from_secs(17 * 60));
    let report = serve(&r, &sched(), &*clock, stop).await.expect("serve");
    assert!(report.runs.is_empty());
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(17 * 60));
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_run_lets_it_finish_and_starts_no_other() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            last: last(None, None),
            run_time: std::time::Duration::from_secs(600),
            ..Default::default()
        },
    );
    let started = tokio::time::Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        let _ = tx.send(());
    };
    let stop = async move {
        let _ = rx.await;
    };
    let schedule = sched();
    let (report, ()) = tokio::join!(serve(&r, &schedule, &*clock, stop), signal);
    let report = report.expect("serve");
    // Critical was running when the signal came: it finished; smart never started.
    assert_eq!(calls(&r), vec![c(Critical, "10 10:00:00")]);
    assert_eq!(report.runs.len(), 1);
    assert!(report.runs[0].ok);
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn dropping_serve_cancels_the_run_in_flight() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            run_time: std::time::Duration::from_secs(4 * 3600),
            ..Default::default()
        },
    );
    // The CLI's second Ctrl-C: stop waiting and drop the future.
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        serve(&r, &sched(), &*clock, std::future::pending()),
    )
    .await;
    assert!(out.is_err(), "still running the full load");
    assert_eq!(calls(&r), vec![c(Full, "10 10:00:00")]);
    assert!(!r.state.lock().expect("lock").last.full_done);
}

#[tokio::test(start_paused = true)]
async fn a_lagging_store_does_not_cause_repeat_runs() {
    // A runner whose last_runs never changes (its store lags): serve remembers its own runs.
    struct Forgetful {
        calls: Mutex<Vec<Strategy>>,
    }
    #[async_trait]
    impl Runner for Forgetful {
        type Error = FakeError;
        async fn last_runs(&self) -> Result<LastRuns, FakeError> {
            Ok(LastRuns {
                full_done: true,
                ..LastRuns::default()
            })
        }
        async fn run(&self, s: Strategy) -> Result<(), FakeError> {
            self.calls.lock().expect("lock").push(s);
            Ok(())
        }
    }
    let clock = virtual_clock(
        Utc.with_ymd_and_hms(2025, 3, 10, 10, 0, 0)
            .single()
            .expect("t"),
    );
    let r = Forgetful {
        calls: Mutex::new(Vec::new()),
    };
    let stop = tokio::time::sleep(std::time::Duration::from_secs(90 * 60));
    serve(&r, &sched(), &*clock, stop).await.expect("serve");
    assert_eq!(
        *r.calls.lock().expect("lock"),
        vec![Critical, Smart, Critical]
    );
}

#[tokio::test(start_paused = true)]
async fn a_zero_critical_interval_does_not_spin() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            last: last(Some("2025-03-10T02:00:00Z"), None),
            ..Default::default()
        },
    );
    let zero = Schedule {
        critical_every: TimeDelta::zero(),
        ..sched()
    };
    let stop = tokio::time::sleep(std::time::Duration::from_secs(5 * 60 + 30));
    serve(&r, &zero, &*clock, stop).await.expect("serve");
    assert_eq!(calls(&r).len(), 6, "once a minute: {:?}", calls(&r));
}

#[tokio::test(start_paused = true)]
async fn serve_pulses_stock_between_critical_runs() {
    let clock = virtual_clock(t("2025-03-10T10:00:00Z"));
    let r = runner(
        &clock,
        FakeState {
            last: last(Some("2025-03-10T02:00:00Z"), Some("2025-03-10T09:58:00Z")),
            run_time: std::time::Duration::from_secs(10),
            ..Default::default()
        },
    );
    let stop = tokio::time::sleep(std::time::Duration::from_secs(64 * 60));
    let report = serve(&r, &Schedule::default(), &*clock, stop)
        .await
        .expect("serve");
    let mut want: Vec<(Strategy, String)> = (0..11)
        .map(|i| c(Stock, &format!("10 {}", fmt_min(10 * 60 + 3 + 5 * i))))
        .collect();
    // 10:58: critical (it reads the stock too), then pulses from its start again.
    want.insert(11, c(Critical, "10 10:58:00"));
    want.push(c(Stock, "10 11:03:00"));
    assert_eq!(calls(&r), want);
    assert_eq!(report.failures(), 0);
}

fn fmt_min(m: i64) -> String {
    format!("{:02}:{:02}:00", m / 60, m % 60)
}

#[test]
fn a_re_read_runs_when_nothing_else_is_due_and_switches_nothing_off() {
    let s = Schedule::default();
    let now = t("2026-03-10T10:00:00Z");
    let l = LastRuns {
        smart: Some(t("2026-03-10T02:00:00Z")),
        critical: Some(t("2026-03-10T09:30:00Z")),
        stock: Some(t("2026-03-10T09:58:00Z")),
        full_done: true,
        full_pending: true,
    };
    // Nothing else due: the re-read continues.
    assert_eq!(s.due(now, &l), vec![Strategy::Full]);
    assert_eq!(s.next_wake(now, &l), now);
    // The stock pulse and critical come first; the re-read waits for its turn.
    let later = t("2026-03-10T10:31:00Z");
    assert_eq!(s.due(later, &l), vec![Strategy::Critical]);
    let pulse = t("2026-03-10T10:04:00Z");
    assert_eq!(s.due(pulse, &l), vec![Strategy::Stock]);
}
