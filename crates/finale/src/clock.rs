//! Time as the client sees it: a [`Clock`] gives the current *virtual* instant and sleeps for
//! *virtual* durations.
//!
//! # Why a clock object
//!
//! Rate-limit windows, `X-RateLimit-Reset` instants, retry back-off and the `lastUpdatedDate`
//! windows of an incremental sync are all about time. Tests must compress that time (an hour of
//! collection budget has to pass in seconds), and they must make the client and the simulator
//! agree on what "now" is. So logic in this crate never calls `Utc::now()` or
//! `tokio::time::sleep` directly; it asks a `Clock`.
//!
//! # Vocabulary
//!
//! * **real time**: the machine's wall clock ([`SystemTime`]).
//! * **virtual time**: what the client believes the time is. For [`SystemClock`] the two are
//!   the same. For [`ScaledClock`] virtual time starts at a *virtual anchor* when real time is at
//!   a *real anchor* and then runs `scale` times faster:
//!   `now() = virtual_anchor + (SystemTime::now() - real_anchor) * scale`, and sleeping a
//!   virtual duration `d` sleeps `d / scale` of real time. The simulator implements the same
//!   formula independently; a test hands both the same `(real_anchor, virtual_anchor, scale)`.
//! * [`ManualClock`]: virtual time that moves only when a test calls [`ManualClock::advance`]
//!   or [`ManualClock::set`]; sleepers wake when the time they wait for is reached. Use it for
//!   deterministic tests of waiting logic (no real time passes at all).
//!
//! # Sleeping precision
//!
//! Sleeps are "at least": a sleeper may wake a little late, never early. [`ScaledClock`] rounds
//! real sleeps up and [`Clock::sleep_until`] re-checks the clock, so code that waits for a
//! `Reset` instant never acts before it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A boxed, `'static`, sendable future, as returned by the sleep methods.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Source of virtual time for all time-dependent logic in this crate.
///
/// Implementations must be cheap to call and safe to share between tasks.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current virtual instant.
    fn now(&self) -> DateTime<Utc>;

    /// Sleep for a VIRTUAL duration (returns at once for a zero duration).
    fn sleep(&self, d: Duration) -> SleepFuture;

    /// Sleep until a virtual instant; returns at once if `t` is not in the future.
    ///
    /// The default implementation computes the remaining virtual duration once and sleeps it.
    /// Implementations whose sleeps may wake early override it to re-check.
    fn sleep_until(&self, t: DateTime<Utc>) -> SleepFuture {
        match (t - self.now()).to_std() {
            Ok(d) if !d.is_zero() => self.sleep(d),
            _ => Box::pin(std::future::ready(())),
        }
    }
}

/// The machine's wall clock; sleeps with `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        // The one sanctioned call of `Utc::now()` in this crate.
        Utc::now()
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Virtual time that runs `scale` times faster than real time from an anchor pair.
///
/// `scale = 1.0` with `virtual_anchor == real_anchor` behaves like [`SystemClock`].
#[derive(Clone, Copy, Debug)]
pub struct ScaledClock {
    /// Real instant at which virtual time equals `virtual_anchor`.
    real_anchor: SystemTime,
    /// Virtual instant corresponding to `real_anchor`.
    virtual_anchor: DateTime<Utc>,
    /// Virtual seconds per real second; finite and > 0.
    scale: f64,
}

impl ScaledClock {
    /// Build a scaled clock (formula in the module docs).
    ///
    /// # Panics
    ///
    /// If `scale` is not finite or not strictly positive: a zero, negative or NaN scale makes
    /// virtual time stand still or run backwards, which no caller can mean.
    pub fn new(real_anchor: SystemTime, virtual_anchor: DateTime<Utc>, scale: f64) -> Self {
        assert!(
            scale.is_finite() && scale > 0.0,
            "ScaledClock scale must be finite and > 0, got {scale}"
        );
        Self {
            real_anchor,
            virtual_anchor,
            scale,
        }
    }

    /// The scale factor (virtual seconds per real second).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Virtual time for a given real instant (pure; `now()` is this at `SystemTime::now()`).
    pub fn virtual_at(&self, real: SystemTime) -> DateTime<Utc> {
        let real_elapsed = match real.duration_since(self.real_anchor) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        let virtual_nanos = real_elapsed * self.scale * 1e9;
        // Saturate instead of overflowing for absurd anchors/scales.
        let nanos = if virtual_nanos >= i64::MAX as f64 {
            i64::MAX
        } else if virtual_nanos <= i64::MIN as f64 {
            i64::MIN
        } else {
            virtual_nanos as i64
        };
        self.virtual_anchor
            .checked_add_signed(chrono::Duration::nanoseconds(nanos))
            .unwrap_or(if nanos >= 0 {
                DateTime::<Utc>::MAX_UTC
            } else {
                DateTime::<Utc>::MIN_UTC
            })
    }

    /// Real duration to sleep for a virtual duration, rounded UP to whole microseconds so a
    /// sleeper never wakes before the virtual instant it waits for.
    pub fn real_duration(&self, virtual_d: Duration) -> Duration {
        let micros = (virtual_d.as_secs_f64() / self.scale * 1e6).ceil();
        if micros >= u64::MAX as f64 {
            Duration::from_micros(u64::MAX)
        } else {
            Duration::from_micros(micros as u64)
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        self.virtual_at(SystemTime::now())
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(self.real_duration(d)))
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> SleepFuture {
        let clock = *self;
        Box::pin(async move {
            // Loop: float rounding or a coarse timer must never let us return early.
            loop {
                match (t - clock.now()).to_std() {
                    Ok(d) if !d.is_zero() => tokio::time::sleep(clock.real_duration(d)).await,
                    _ => return,
                }
            }
        })
    }
}

/// Virtual time moved by hand; for deterministic tests.
///
/// Cloning shares the same time. Sleepers wake as soon as [`ManualClock::advance`] or
/// [`ManualClock::set`] moves time to or past their deadline.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    /// The current time; the watch channel wakes sleepers when it changes.
    tx: watch::Sender<DateTime<Utc>>,
    /// Serialises writers so `advance` is atomic.
    write: Mutex<()>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &*self.inner.tx.borrow())
            .finish()
    }
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tx, _rx) = watch::channel(start);
        Self {
            inner: Arc::new(ManualInner {
                tx,
                write: Mutex::new(()),
            }),
        }
    }

    /// Move time forward by `d` (virtual), waking sleepers whose deadline has passed.
    pub fn advance(&self, d: Duration) {
        let _w = self
            .inner
            .write
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let step = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let now = *self.inner.tx.borrow();
        let next = now
            .checked_add_signed(step)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.inner.tx.send_replace(next);
    }

    /// Set the time (may move backwards, to test clock skew).
    pub fn set(&self, t: DateTime<Utc>) {
        let _w = self
            .inner
            .write
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner.tx.send_replace(t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.inner.tx.borrow()
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        let step = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let deadline = self
            .now()
            .checked_add_signed(step)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.sleep_until(deadline)
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> SleepFuture {
        let mut rx = self.inner.tx.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, then every change. If the sender is
            // gone (cannot happen while `rx`'s clock is alive) we simply return.
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn scaled_formula_matches_the_contract() {
        let real = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let c = ScaledClock::new(real, t0(), 600.0);
        assert_eq!(c.virtual_at(real), t0());
        // 1 real second = 600 virtual seconds.
        assert_eq!(
            c.virtual_at(real + Duration::from_secs(1)),
            t0() + chrono::Duration::seconds(600)
        );
        // 100 ms real = 60 s virtual.
        assert_eq!(
            c.virtual_at(real + Duration::from_millis(100)),
            t0() + chrono::Duration::seconds(60)
        );
        // Before the anchor runs backwards, scaled too.
        assert_eq!(
            c.virtual_at(real - Duration::from_secs(2)),
            t0() - chrono::Duration::seconds(1200)
        );
    }

    #[test]
    fn scale_one_with_equal_anchors_is_wall_time() {
        let real = SystemTime::now();
        let c = ScaledClock::new(real, DateTime::<Utc>::from(real), 1.0);
        let later = real + Duration::from_secs(3);
        assert_eq!(c.virtual_at(later), DateTime::<Utc>::from(later));
    }

    #[test]
    fn real_duration_rounds_up_and_saturates() {
        let c = ScaledClock::new(SystemTime::UNIX_EPOCH, t0(), 3.0);
        // 1 µs / 3 would round to 0 if truncated; it must not be shorter than the exact value.
        assert_eq!(
            c.real_duration(Duration::from_micros(1)),
            Duration::from_micros(1)
        );
        assert_eq!(
            c.real_duration(Duration::from_secs(60)),
            Duration::from_secs(20)
        );
        let tiny = ScaledClock::new(SystemTime::UNIX_EPOCH, t0(), 1e-15);
        assert_eq!(
            tiny.real_duration(Duration::from_secs(10)),
            Duration::from_micros(u64::MAX)
        );
    }

    #[test]
    fn huge_scale_saturates_instead_of_panicking() {
        let c = ScaledClock::new(SystemTime::UNIX_EPOCH, t0(), 1e300);
        // The offset saturates at i64::MAX nanoseconds (~292 years) rather than overflowing.
        let far = c.virtual_at(SystemTime::UNIX_EPOCH + Duration::from_secs(5));
        assert_eq!(far, t0() + chrono::Duration::nanoseconds(i64::MAX));
        let past = c.virtual_at(SystemTime::UNIX_EPOCH - Duration::from_secs(5));
        assert!(past < t0());
    }

    #[test]
    #[should_panic(expected = "scale must be finite")]
    fn zero_scale_is_rejected() {
        let _ = ScaledClock::new(SystemTime::UNIX_EPOCH, t0(), 0.0);
    }

    #[test]
    #[should_panic(expected = "scale must be finite")]
    fn nan_scale_is_rejected() {
        let _ = ScaledClock::new(SystemTime::UNIX_EPOCH, t0(), f64::NAN);
    }

    #[tokio::test]
    async fn scaled_sleep_until_never_returns_early() {
        let c = ScaledClock::new(SystemTime::now(), t0(), 1000.0);
        let target = c.now() + chrono::Duration::seconds(30); // 30 ms real
        c.sleep_until(target).await;
        assert!(c.now() >= target);
        // A past instant returns at once.
        c.sleep_until(t0() - chrono::Duration::days(1)).await;
    }

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_only_when_advanced() {
        let c = ManualClock::new(t0());
        // The deadline is fixed when `sleep` is called, not when the task first runs.
        let sleeper = tokio::spawn(c.sleep(Duration::from_secs(60)));
        c.advance(Duration::from_secs(59));
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert!(!sleeper.is_finished(), "woke before its deadline");
        c.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(c.now(), t0() + chrono::Duration::seconds(60));
        // Already-past deadline returns immediately.
        c.sleep_until(t0()).await;
        c.sleep(Duration::ZERO).await;
    }

    #[test]
    fn system_clock_is_close_to_wall_time() {
        let before = Utc::now();
        let now = SystemClock.now();
        assert!(now >= before);
    }
}
