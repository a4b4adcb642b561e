//! Retry timing: capped exponential back-off with *full jitter*.
//!
//! # Model
//!
//! A request is tried at most [`RetryPolicy::max_attempts`] times. After failed attempt
//! number `attempt` (0-based: `attempt = 0` is the first failure) the caller sleeps
//! [`RetryPolicy::delay`]`(attempt)`, drawn uniformly from `[0, ceiling(attempt)]` where
//! `ceiling(attempt) = min(max, base * 2^attempt)`. Full jitter (rather than "exponential plus
//! a little noise") spreads the retries of many workers that failed together (a 5xx burst, a
//! dropped connection) over the whole interval, so they do not come back in lock-step.
//!
//! Which failures are retryable is not decided here (the HTTP layer classifies errors: 5xx and
//! network errors retry, 401/403 never do). A 429 is not a back-off case at all: the
//! [`crate::scheduler`] pauses the bucket until the server's reset, and the retried request
//! simply re-acquires a permit. Delays are *virtual* durations, slept through a
//! [`crate::clock::Clock`]. The random source is injected so tests are deterministic.

use std::time::Duration;

/// Back-off parameters. `Default`: 5 attempts, 500 ms base, 30 s cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries including the first (0 and 1 both mean "never retry").
    pub max_attempts: u32,
    /// Ceiling of the first back-off; doubles per attempt.
    pub base: Duration,
    /// Largest ceiling, whatever the attempt number.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Upper bound of the delay after failed attempt `attempt`:
    /// `min(max, base * 2^attempt)`, saturating instead of overflowing.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(0);
        let exp = if factor == 0 {
            Duration::MAX
        } else {
            self.base.checked_mul(factor).unwrap_or(Duration::MAX)
        };
        exp.min(self.max)
    }

    /// Delay to sleep after failed attempt `attempt` (0-based): uniform in
    /// `[0, ceiling(attempt)]` (full jitter).
    pub fn delay(&self, attempt: u32, rng: &mut impl rand::Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }

    /// Whether another try is allowed after `failed_attempts` tries have failed.
    pub fn should_retry(&self, failed_attempts: u32) -> bool {
        failed_attempts < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn defaults_match_the_brief() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.base, Duration::from_millis(500));
        assert_eq!(p.max, Duration::from_secs(30));
    }

    #[test]
    fn ceiling_doubles_then_caps_and_is_monotone() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(0), Duration::from_millis(500));
        assert_eq!(p.ceiling(1), Duration::from_secs(1));
        assert_eq!(p.ceiling(5), Duration::from_secs(16));
        assert_eq!(p.ceiling(6), Duration::from_secs(30));
        let mut prev = Duration::ZERO;
        for a in 0..200 {
            let c = p.ceiling(a);
            assert!(c >= prev, "ceiling shrank at attempt {a}");
            assert!(c <= p.max);
            prev = c;
        }
        assert_eq!(p.ceiling(u32::MAX), p.max);
    }

    #[test]
    fn delays_stay_within_bounds_and_actually_jitter() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in [0, 1, 3, 10, 31, 32, 63, 64, 1000, u32::MAX] {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..200 {
                let d = p.delay(attempt, &mut rng);
                assert!(d <= p.ceiling(attempt), "attempt {attempt}: {d:?}");
                seen.insert(d);
            }
            assert!(seen.len() > 100, "attempt {attempt}: not jittered");
        }
        // Attempt 0 never exceeds the base.
        for _ in 0..500 {
            assert!(p.delay(0, &mut rng) <= Duration::from_millis(500));
        }
    }

    #[test]
    fn degenerate_policies_do_not_panic() {
        let mut rng = StdRng::seed_from_u64(1);
        let zero = RetryPolicy {
            max_attempts: 0,
            base: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert_eq!(zero.delay(3, &mut rng), Duration::ZERO);
        assert!(!zero.should_retry(0));
        let huge = RetryPolicy {
            max_attempts: 3,
            base: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(huge.ceiling(40), Duration::MAX);
        let _ = huge.delay(40, &mut rng);
        // Max below base: the cap wins even at attempt 0.
        let inverted = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(10),
            max: Duration::from_secs(1),
        };
        assert!(inverted.delay(0, &mut rng) <= Duration::from_secs(1));
    }

    #[test]
    fn should_retry_counts_attempts() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(1));
        assert!(p.should_retry(4));
        assert!(!p.should_retry(5));
    }
}
