//! Fixed-window rate limiting in virtual time.
//!
//! Three buckets (finale-api.md §11 and the shared header convention):
//! - `get`: GET requests per minute window;
//! - `post`: POST requests per minute window (GraphQL, legacy login);
//! - `collection`: collection reads per hour window. A collection GET consumes `get` *and*
//!   `collection`; a single-record GET only `get`; GraphQL consumes `post` (and `collection`
//!   if configured).
//!
//! Windows are aligned to the epoch in virtual time (`window = floor(t / len)`), so
//! `X-RateLimit-Reset` is simply the end of the current window in epoch seconds. A request is
//! admitted only if every bucket it consumes has room; a rejected request consumes nothing and
//! is described by its exhausted bucket. Admitted requests are described by the consumed
//! bucket with the fewest remaining. The limiter is a pure state machine over `(now,
//! buckets)`; the server owns the clock.

use chrono::{DateTime, Utc};

use crate::config::RateLimitConfig;

/// A rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    /// GETs per minute.
    Get,
    /// POSTs per minute.
    Post,
    /// Collection reads per hour.
    Collection,
}

impl Bucket {
    /// Name used in stats: `get`, `post`, `collection`.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Get => "get",
            Bucket::Post => "post",
            Bucket::Collection => "collection",
        }
    }

    fn window_secs(self) -> i64 {
        match self {
            Bucket::Get | Bucket::Post => 60,
            Bucket::Collection => 3600,
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// What the `X-RateLimit-*` headers say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request was admitted.
    pub allowed: bool,
    /// The bucket described.
    pub bucket: Bucket,
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// `X-RateLimit-Reset` (epoch seconds, virtual).
    pub reset: i64,
    /// `Retry-After` in (virtual) seconds for rejected requests.
    pub retry_after: Option<i64>,
}

/// Fixed-window counters for the three buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    cfg: RateLimitConfig,
    // (window index, used) per bucket
    state: [(i64, u32); 3],
}

impl RateLimiter {
    /// A limiter with empty windows.
    pub fn new(cfg: RateLimitConfig) -> Self {
        Self {
            cfg,
            state: [(i64::MIN, 0); 3],
        }
    }

    fn limit(&self, b: Bucket) -> u32 {
        match b {
            Bucket::Get => self.cfg.get_per_minute,
            Bucket::Post => self.cfg.post_per_minute,
            Bucket::Collection => self.cfg.collection_per_hour,
        }
    }

    fn used(&self, b: Bucket, now: i64) -> (i64, u32) {
        let w = now.div_euclid(b.window_secs());
        let (sw, used) = self.state[b.idx()];
        (w, if sw == w { used } else { 0 })
    }

    fn describe(&self, b: Bucket, now: i64, used: u32, allowed: bool) -> Verdict {
        let (w, _) = self.used(b, now);
        let reset = (w + 1) * b.window_secs();
        let limit = self.limit(b);
        Verdict {
            allowed,
            bucket: b,
            limit,
            remaining: limit.saturating_sub(used),
            reset,
            retry_after: (!allowed).then(|| (reset - now).max(1)),
        }
    }

    /// Describes the buckets without consuming (for responses that cost nothing).
    pub fn peek(&self, now: DateTime<Utc>, buckets: &[Bucket]) -> Verdict {
        let t = now.timestamp();
        buckets
            .iter()
            .map(|&b| self.describe(b, t, self.used(b, t).1, true))
            .min_by_key(|v| (v.remaining, std::cmp::Reverse(v.reset)))
            .unwrap_or_else(|| self.describe(Bucket::Get, t, self.used(Bucket::Get, t).1, true))
    }

    /// Admits (and counts) or rejects a request consuming `buckets` at `now`.
    /// With enforcement disabled every request is admitted (and still counted).
    pub fn check(&mut self, now: DateTime<Utc>, buckets: &[Bucket]) -> Verdict {
        let t = now.timestamp();
        if self.cfg.enabled {
            let exhausted = buckets
                .iter()
                .filter(|&&b| self.used(b, t).1 >= self.limit(b))
                .map(|&b| self.describe(b, t, self.used(b, t).1, false))
                .max_by_key(|v| v.reset);
            if let Some(v) = exhausted {
                return v;
            }
        }
        for &b in buckets {
            let (w, used) = self.used(b, t);
            self.state[b.idx()] = (w, used.saturating_add(1));
        }
        self.peek(now, buckets)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    #[test]
    fn the_121st_get_in_a_minute_is_rejected_until_the_window_ends() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let t0 = 1_700_000_080; // 40 s into a minute window (1_700_000_040 is a window start)
        for i in 0..120 {
            let v = rl.check(at(t0), &[Bucket::Get]);
            assert!(v.allowed);
            assert_eq!(v.remaining, 119 - i);
            assert_eq!(v.reset, 1_700_000_100);
        }
        let v = rl.check(at(t0 + 5), &[Bucket::Get]);
        assert!(!v.allowed);
        assert_eq!((v.limit, v.remaining), (120, 0));
        assert_eq!(v.retry_after, Some(v.reset - (t0 + 5)));
        let v = rl.check(at(v.reset), &[Bucket::Get]);
        assert!(v.allowed, "a new window starts at the reset instant");
        assert_eq!(v.remaining, 119);
    }

    #[test]
    fn collection_reads_consume_both_buckets_and_report_the_tighter() {
        let cfg = RateLimitConfig {
            collection_per_hour: 3,
            ..Default::default()
        };
        let mut rl = RateLimiter::new(cfg);
        let t = 1_700_000_000;
        let v = rl.check(at(t), &[Bucket::Get, Bucket::Collection]);
        assert_eq!((v.bucket, v.limit, v.remaining), (Bucket::Collection, 3, 2));
        assert_eq!(v.reset % 3600, 0);
        rl.check(at(t), &[Bucket::Get, Bucket::Collection]);
        rl.check(at(t), &[Bucket::Get, Bucket::Collection]);
        let v = rl.check(at(t), &[Bucket::Get, Bucket::Collection]);
        assert!(!v.allowed);
        assert_eq!(v.bucket, Bucket::Collection);
        // single-record GETs still go through, and the rejection consumed nothing
        let v = rl.check(at(t), &[Bucket::Get]);
        assert!(v.allowed);
        assert_eq!(v.remaining, 120 - 4);
    }

    #[test]
    fn disabled_limits_admit_everything_but_still_count() {
        let cfg = RateLimitConfig {
            enabled: false,
            get_per_minute: 2,
            ..Default::default()
        };
        let mut rl = RateLimiter::new(cfg);
        for _ in 0..5 {
            assert!(rl.check(at(0), &[Bucket::Get]).allowed);
        }
        assert_eq!(rl.peek(at(0), &[Bucket::Get]).remaining, 0);
    }
}
