//! When the strategies run: the pure schedule ([`Schedule::due`], [`Schedule::next_wake`])
//! and the `serve` driver ([`serve`]) that follows it.
//!
//! # The model
//!
//! All times are UTC, so daylight-saving changes do not exist here.
//!
//! - **`full`** runs until the full load is complete ([`LastRuns::full_done`]). While it is
//!   not, nothing else is due: `smart` and `critical` read cursors and rankings that the
//!   full load establishes.
//! - **`smart`** has one *slot* per day at [`Schedule::smart_daily_at`]. It is due when its
//!   last successful run started before the most recent slot. A process started after a gap
//!   of several days therefore runs **one** catch-up smart sync, not one per missed day
//!   (each run covers everything changed since its cursor anyway). A smart run that never
//!   happened is due at once.
//! - **`critical`** is due when [`Schedule::critical_every`] has passed since its last
//!   successful run started (or it never ran). A smart run does not count as a critical
//!   one: at 02:00 both may be due, and both run.
//! - **`stock`** (the stock pulse) is due when [`Schedule::stock_every`] has passed since
//!   Finale's stock was last read. Smart and critical runs read the stock snapshot too, so
//!   the latest of the three successful runs counts, and the pulse is never due while a
//!   critical or smart run is due (that run reads the stock anyway). With the defaults
//!   (every 5 minutes, critical hourly) it reads stock 11 or 12 times an hour, one
//!   collection read each.
//! - **A re-read.** A `full` started on a loaded store (by hand, to re-read everything)
//!   does not switch the others off: while it is unfinished
//!   ([`LastRuns::full_pending`]) it is continued whenever nothing else is due, in slices
//!   (the engine's `full_slice`), so critical runs and the stock pulse keep their times.
//! - **Order.** When several are due they run by priority: `full` (the initial load), then
//!   `critical`, then `stock`, then `smart`, then a pending re-read (critical items are the
//!   ones a person is waiting for).
//! - **Clock skew.** Last runs are read from the store, which other workstations write with
//!   their own clocks. A last run up to [`CLOCK_SKEW_TOLERANCE`] in the future is taken as
//!   it is (it delays the next run by at most that much); one further in the future is a
//!   wrong clock, is ignored (as if that strategy never ran) and the strategy runs now.
//!   Without that rule one bad clock could stop the schedule for as long as it is wrong.
//!
//! # The driver
//!
//! [`serve`] asks a [`Runner`] for the last runs, runs what is due, and sleeps until
//! [`Schedule::next_wake`]. Sleeps are taken in naps of at most [`MAX_NAP`] with the wall
//! clock re-read after each, so a suspended laptop or a corrected system clock is noticed
//! within a minute. Errors the runner calls fatal ([`Runner::is_fatal`]) end `serve`; the
//! others are retried with backoff (the pure rule: [`Schedule::retry_delay`]):
//!
//! - **A failed run** (or a failed `last_runs`) is recorded in the report and retried after
//!   [`RETRY_FIRST`] (30 s), doubling with each consecutive failure up to
//!   [`Schedule::retry_after`] (5 min by default). The failed strategy is still due then, so
//!   it is what runs again. A success resets the streak.
//! - **A busy writer role** ([`Runner::is_busy`]: another engine is syncing the store) is not
//!   a run at all, neither done nor failed: the strategy stays due and is tried again soon,
//!   after [`BUSY_FIRST`] (15 s) doubling up to [`BUSY_MAX`] (5 min), so a `serve` beside a
//!   long full load asks a handful of times instead of spinning, and a holder that froze is
//!   replaced (its lease expires: [`store::lease`]) at one of those attempts.
//! - Every delay is shortened by up to 20 % at random ([`JITTER`]), so workstations that
//!   failed together do not retry in step.
//!
//! **Shutdown** is observed while sleeping (it ends the sleep at once), between runs, and
//! during a run, where it lets the run finish and then returns. To abandon an in-flight run
//! instead (a second Ctrl-C, a grace period running out), the caller drops the `serve`
//! future: that is safe, because every write of the engine is transactional and the full
//! load resumes from its last committed job.

use std::future::Future;
use std::pin::pin;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveTime, TimeDelta, Utc};
use futures::FutureExt;
use futures::future::FusedFuture;

use crate::Strategy;

/// The shortest critical or stock interval [`serve`] honours (a smaller one is raised to
/// this).
pub const MIN_CRITICAL_EVERY: TimeDelta = TimeDelta::minutes(1);

/// How far in the future a recorded last run may be and still be believed.
pub const CLOCK_SKEW_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// The longest single sleep of [`serve`] before it re-reads the wall clock.
pub const MAX_NAP: std::time::Duration = std::time::Duration::from_secs(60);

/// The wait after a first failure; it doubles with each consecutive one, up to
/// [`Schedule::retry_after`].
pub const RETRY_FIRST: TimeDelta = TimeDelta::seconds(30);

/// The wait after a first "busy" answer; it doubles with each consecutive one.
pub const BUSY_FIRST: TimeDelta = TimeDelta::seconds(15);

/// The longest wait between two attempts at a busy writer role.
pub const BUSY_MAX: TimeDelta = TimeDelta::minutes(5);

/// The largest share by which a retry delay is shortened at random.
pub const JITTER: f64 = 0.2;

/// Why [`serve`] waits before looking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A run (or reading the last runs) failed.
    Failed,
    /// Another engine holds the writer role.
    Busy,
}

/// When the scheduled strategies run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The daily smart sync's time of day, UTC (default 02:00).
    pub smart_daily_at: NaiveTime,
    /// The critical sync's interval (default 60 min). Must be positive.
    pub critical_every: TimeDelta,
    /// The stock pulse's interval (default 5 min); `None` switches the pulse off (stock is then
    /// read by critical and smart runs only).
    pub stock_every: Option<TimeDelta>,
    /// The longest wait of [`serve`] after consecutive failed runs (default 5 min); the first
    /// retry comes after [`RETRY_FIRST`], doubling up to this ([`Schedule::retry_delay`]).
    pub retry_after: TimeDelta,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            smart_daily_at: NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN),
            critical_every: TimeDelta::minutes(60),
            stock_every: Some(TimeDelta::minutes(5)),
            retry_after: TimeDelta::minutes(5),
        }
    }
}

/// What the store says about past runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastRuns {
    /// Start of the latest *successful* smart run (a failed run does not count, so it is
    /// retried). A runner may report the end of a completed full load here too, since a full
    /// load covers everything a smart run would.
    pub smart: Option<DateTime<Utc>>,
    /// Start of the latest successful critical run.
    pub critical: Option<DateTime<Utc>>,
    /// Start of the latest successful stock pulse.
    pub stock: Option<DateTime<Utc>>,
    /// Whether the full (initial) load has completed once.
    pub full_done: bool,
    /// Whether a later full load (a re-read of a loaded store) is under way and unfinished:
    /// it is continued when nothing else is due, while smart, critical and the stock pulse
    /// go on.
    pub full_pending: bool,
}

impl Schedule {
    /// How long [`serve`] waits after the `n`-th consecutive failure or busy answer (`n` ≥ 1;
    /// 0 counts as 1): the first delay ([`RETRY_FIRST`], [`BUSY_FIRST`]) doubled `n - 1`
    /// times, capped ([`Schedule::retry_after`], [`BUSY_MAX`]), then shortened by
    /// `JITTER × jitter` (`jitter` in `[0, 1)`, clamped) of itself.
    pub fn retry_delay(&self, why: Retry, n: u32, jitter: f64) -> std::time::Duration {
        let (first, cap) = match why {
            Retry::Failed => (RETRY_FIRST, self.retry_after.max(TimeDelta::seconds(1))),
            Retry::Busy => (BUSY_FIRST, BUSY_MAX),
        };
        let first = first.min(cap).to_std().unwrap_or_default();
        let cap = cap.to_std().unwrap_or_default();
        let doublings = n.saturating_sub(1).min(31);
        let base = first.saturating_mul(1u32 << doublings).min(cap);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        base.mul_f64(1.0 - JITTER * jitter)
    }

    /// The most recent smart slot at or before `now`.
    pub fn smart_slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.date_naive().and_time(self.smart_daily_at).and_utc();
        if today <= now {
            today
        } else {
            today
                .checked_sub_days(Days::new(1))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
    }

    /// The strategies due at `now`, in the order to run them (`full`, `critical`, `stock`,
    /// `smart`).
    pub fn due(&self, now: DateTime<Utc>, last: &LastRuns) -> Vec<Strategy> {
        if !last.full_done {
            return vec![Strategy::Full];
        }
        let mut due = Vec::with_capacity(2);
        let critical = self.critical_due(now, last);
        let smart = self.smart_due(now, last);
        if critical {
            due.push(Strategy::Critical);
        }
        if !critical && !smart && self.stock_due(now, last) {
            due.push(Strategy::Stock);
        }
        if smart {
            due.push(Strategy::Smart);
        }
        if due.is_empty() && last.full_pending {
            due.push(Strategy::Full);
        }
        due
    }

    /// The earliest moment at or after `now` when [`Schedule::due`] is not empty, assuming no
    /// run happens meanwhile. `now` itself when something is due already.
    pub fn next_wake(&self, now: DateTime<Utc>, last: &LastRuns) -> DateTime<Utc> {
        if !last.full_done
            || last.full_pending
            || self.critical_due(now, last)
            || self.smart_due(now, last)
            || self.stock_due(now, last)
        {
            return now;
        }
        // Smart is due again at the first slot after its last run (which is believed here:
        // otherwise it would be due). With a last run slightly in the future that can be
        // two slots away.
        let smart = believed(last.smart, now)
            .map(|t| self.smart_slot(t))
            .and_then(|slot| slot.checked_add_days(Days::new(1)))
            .unwrap_or(now);
        let critical = believed(last.critical, now)
            .and_then(|t| t.checked_add_signed(self.critical_every))
            .unwrap_or(now);
        let mut wake = smart.min(critical);
        if let Some(every) = self.stock_every {
            let stock = stock_read(last, now)
                .and_then(|t| t.checked_add_signed(every))
                .unwrap_or(now);
            wake = wake.min(stock);
        }
        wake.max(now)
    }

    fn stock_due(&self, now: DateTime<Utc>, last: &LastRuns) -> bool {
        let Some(every) = self.stock_every else {
            return false;
        };
        interval_passed(stock_read(last, now), every, now)
    }

    fn smart_due(&self, now: DateTime<Utc>, last: &LastRuns) -> bool {
        match believed(last.smart, now) {
            None => true,
            Some(t) => t < self.smart_slot(now),
        }
    }

    fn critical_due(&self, now: DateTime<Utc>, last: &LastRuns) -> bool {
        interval_passed(believed(last.critical, now), self.critical_every, now)
    }
}

/// Whether `every` has passed since `last` (or there was no last run).
fn interval_passed(last: Option<DateTime<Utc>>, every: TimeDelta, now: DateTime<Utc>) -> bool {
    last.is_none_or(|t| t.checked_add_signed(every).is_none_or(|next| next <= now))
}

/// When Finale's stock was last read: the latest believed stock pulse, critical or smart run
/// (each reads the stock snapshot).
fn stock_read(last: &LastRuns, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    [last.stock, last.critical, last.smart]
        .into_iter()
        .filter_map(|t| believed(t, now))
        .max()
}

/// A recorded time, unless it is implausibly far in the future (see the module docs).
fn believed(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let t = t?;
    let limit = now
        .checked_add_signed(CLOCK_SKEW_TOLERANCE)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (t <= limit).then_some(t)
}

/// What [`serve`] drives: the engine (or a fake in tests).
#[async_trait]
pub trait Runner: Send + Sync {
    /// The runner's error.
    type Error: std::fmt::Display + Send + Sync + 'static;

    /// The last successful runs, from the store (see [`LastRuns`]).
    async fn last_runs(&self) -> Result<LastRuns, Self::Error>;

    /// Runs one strategy to the end. For `full`, `Ok` means "done or progressed": `serve`
    /// asks [`Runner::last_runs`] again and runs `full` again while it is not done.
    async fn run(&self, strategy: Strategy) -> Result<(), Self::Error>;

    /// Whether an error should end `serve` instead of being retried with backoff (e.g.
    /// rejected credentials, a schema newer than this binary).
    fn is_fatal(&self, _error: &Self::Error) -> bool {
        false
    }

    /// Whether an error means "another engine holds the writer role": nothing ran, the
    /// strategy is tried again soon (see the module docs), and it is no failed run.
    fn is_busy(&self, _error: &Self::Error) -> bool {
        false
    }
}

/// One scheduled run started by [`serve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRun {
    /// The strategy.
    pub strategy: Strategy,
    /// When it started (the driver's clock).
    pub started_at: DateTime<Utc>,
    /// Whether it succeeded.
    pub ok: bool,
}

/// What [`serve`] did before it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeReport {
    /// Every run started, in order (attempts refused by a busy writer role are not runs).
    pub runs: Vec<ServedRun>,
    /// Attempts refused because another engine held the writer role.
    pub busy: usize,
}

impl ServeReport {
    /// The number of failed runs.
    pub fn failures(&self) -> usize {
        self.runs.iter().filter(|r| !r.ok).count()
    }
}

/// Runs the schedule until `shutdown` completes (then returns `Ok`) or the runner reports a
/// fatal error (then returns it). See the module docs for catch-up, retries and shutdown.
///
/// `clock` is the wall clock (UTC); sleeping uses Tokio's timer, so tests drive both with
/// `tokio::time::pause` and a clock derived from `tokio::time::Instant`. Retry delays get a
/// random jitter ([`serve_with_jitter`] takes the source).
pub async fn serve<R: Runner + ?Sized>(
    runner: &R,
    schedule: &Schedule,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
    shutdown: impl Future<Output = ()> + Send,
) -> Result<ServeReport, R::Error> {
    serve_with_jitter(runner, schedule, clock, shutdown, &random_jitter).await
}

/// A number in `[0, 1)` that differs between calls and processes (not for cryptography).
pub fn random_jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let seed = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        ^ nanos
        ^ (u64::from(std::process::id()) << 32);
    // splitmix64's finaliser.
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// [`serve`] with the retry delays' jitter taken from `jitter` (values in `[0, 1)`; tests
/// pass a constant).
pub async fn serve_with_jitter<R: Runner + ?Sized>(
    runner: &R,
    schedule: &Schedule,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
    shutdown: impl Future<Output = ()> + Send,
    jitter: &(dyn Fn() -> f64 + Send + Sync),
) -> Result<ServeReport, R::Error> {
    // A zero interval (only possible by building a Schedule by hand; the configuration
    // refuses it) would make critical due forever: spin-proof it.
    let schedule = &Schedule {
        critical_every: schedule.critical_every.max(MIN_CRITICAL_EVERY),
        stock_every: schedule.stock_every.map(|e| e.max(MIN_CRITICAL_EVERY)),
        ..*schedule
    };
    let mut shutdown = pin!(shutdown.fuse());
    let mut report = ServeReport::default();
    // Our own successful runs, merged into the runner's answer: a runner whose store lags
    // (or does not record) cannot make us repeat a run in a loop.
    let mut ours = LastRuns::default();
    // Consecutive failures and busy answers (each streak ends with a run that completes).
    let mut failures = 0u32;
    let mut busy = 0u32;

    loop {
        let last = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(report),
            r = runner.last_runs() => r,
        };
        let last = match last {
            Ok(l) => merge(l, &ours),
            Err(error) => {
                if runner.is_fatal(&error) {
                    return Err(error);
                }
                failures = failures.saturating_add(1);
                let wait = schedule.retry_delay(Retry::Failed, failures, jitter());
                tracing::warn!(%error, "cannot read the last runs; retrying in {wait:?}");
                if nap(wait, &mut shutdown).await {
                    return Ok(report);
                }
                continue;
            }
        };

        let now = clock();
        let due = schedule.due(now, &last);
        if due.is_empty() {
            let wake = schedule.next_wake(now, &last);
            tracing::debug!(%wake, "nothing due; sleeping");
            if sleep_until(wake, clock, &mut shutdown).await {
                return Ok(report);
            }
            continue;
        }

        let mut retry = None;
        for strategy in due {
            if shutdown.is_terminated() {
                return Ok(report);
            }
            let started_at = clock();
            tracing::info!(%strategy, "starting scheduled run");
            let mut run = pin!(runner.run(strategy));
            let result = loop {
                tokio::select! {
                    biased;
                    r = &mut run => break r,
                    () = &mut shutdown, if !shutdown.is_terminated() => {
                        tracing::info!(%strategy, "shutdown requested: finishing the current run first");
                    }
                }
            };
            match result {
                Ok(()) => {
                    failures = 0;
                    busy = 0;
                    tracing::info!(%strategy, "scheduled run finished");
                    report.runs.push(ServedRun {
                        strategy,
                        started_at,
                        ok: true,
                    });
                    match strategy {
                        Strategy::Smart => ours.smart = ours.smart.max(Some(started_at)),
                        Strategy::Critical => {
                            ours.critical = ours.critical.max(Some(started_at));
                        }
                        Strategy::Stock => ours.stock = ours.stock.max(Some(started_at)),
                        // Only the store knows whether the full load is complete.
                        Strategy::Full => {}
                    }
                }
                Err(error) if runner.is_busy(&error) && !runner.is_fatal(&error) => {
                    report.busy += 1;
                    busy = busy.saturating_add(1);
                    let wait = schedule.retry_delay(Retry::Busy, busy, jitter());
                    tracing::info!(%strategy, %error, "not started: another engine holds the writer role; trying again in {wait:?}");
                    retry = Some(wait);
                    break;
                }
                Err(error) => {
                    report.runs.push(ServedRun {
                        strategy,
                        started_at,
                        ok: false,
                    });
                    if runner.is_fatal(&error) {
                        return Err(error);
                    }
                    failures = failures.saturating_add(1);
                    let wait = schedule.retry_delay(Retry::Failed, failures, jitter());
                    tracing::error!(%strategy, %error, "scheduled run failed; retrying in {wait:?}");
                    retry = Some(wait);
                    break;
                }
            }
            if shutdown.is_terminated() {
                return Ok(report);
            }
        }
        if let Some(wait) = retry
            && nap(wait, &mut shutdown).await
        {
            return Ok(report);
        }
    }
}

fn merge(store: LastRuns, ours: &LastRuns) -> LastRuns {
    LastRuns {
        smart: store.smart.max(ours.smart),
        critical: store.critical.max(ours.critical),
        stock: store.stock.max(ours.stock),
        full_done: store.full_done,
        full_pending: store.full_pending,
    }
}

/// Sleeps `d` unless shutdown comes first; `true` when it did.
async fn nap<S>(d: std::time::Duration, shutdown: &mut S) -> bool
where
    S: Future<Output = ()> + FusedFuture + Unpin,
{
    if shutdown.is_terminated() {
        return true;
    }
    tokio::select! {
        biased;
        () = shutdown => true,
        () = tokio::time::sleep(d) => false,
    }
}

/// Sleeps until the wall clock reaches `wake`, in naps of at most [`MAX_NAP`]; `true` when
/// shutdown came first.
async fn sleep_until<S>(
    wake: DateTime<Utc>,
    clock: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
    shutdown: &mut S,
) -> bool
where
    S: Future<Output = ()> + FusedFuture + Unpin,
{
    loop {
        let left = wake - clock();
        if left <= TimeDelta::zero() {
            return false;
        }
        let d = left.to_std().unwrap_or(MAX_NAP).min(MAX_NAP);
        if nap(d, shutdown).await {
            return true;
        }
    }
}

#[cfg(test)]
mod tests;
