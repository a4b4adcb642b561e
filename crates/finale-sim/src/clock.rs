//! Virtual time for the simulator.
//!
//! Tests compress time: an hour of rate-limit window may pass in a few real seconds. The
//! simulator and the client each implement the same *scaled clock* formula independently, and a
//! test hands both the same `(real_anchor, virtual_anchor, scale)` triple so that they agree on
//! virtual time (and therefore on `X-RateLimit-Reset`, which is epoch seconds of virtual time):
//!
//! ```text
//! now()      = virtual_anchor + (SystemTime::now() - real_anchor) * scale
//! sleep(d)   = real sleep of d / scale
//! ```
//!
//! `scale = 1.0` with `virtual_anchor == real_anchor` is the ordinary system clock, which is
//! what [`SimClock::system`] builds. Everything time-dependent in the simulator (rate-limit
//! windows, live-mode stamps, open filter bounds) reads the clock from the configuration; no
//! logic calls `Utc::now()` directly.

use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};

/// A clock with the shared scaled-clock formula. Cheap to copy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimClock {
    real_anchor: SystemTime,
    virtual_anchor: DateTime<Utc>,
    scale: f64,
}

impl SimClock {
    /// The system clock: `scale = 1`, both anchors at the current instant.
    pub fn system() -> Self {
        let now = SystemTime::now();
        Self {
            real_anchor: now,
            virtual_anchor: DateTime::<Utc>::from(now),
            scale: 1.0,
        }
    }

    /// A scaled clock: virtual time runs `scale` times faster than real time, and equals
    /// `virtual_anchor` at the real instant `real_anchor`. A non-positive or non-finite scale
    /// is treated as `1.0`.
    pub fn scaled(real_anchor: SystemTime, virtual_anchor: DateTime<Utc>, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            real_anchor,
            virtual_anchor,
            scale,
        }
    }

    /// How many virtual seconds pass per real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The current virtual instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(SystemTime::now())
    }

    /// The virtual instant corresponding to the real instant `real`.
    pub fn at(&self, real: SystemTime) -> DateTime<Utc> {
        let real_secs = match real.duration_since(self.real_anchor) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        let micros = (real_secs * self.scale * 1e6).round();
        self.virtual_anchor + Duration::microseconds(micros as i64)
    }

    /// The real duration that a virtual duration `d` takes on this clock (zero if negative).
    pub fn to_real(&self, d: Duration) -> std::time::Duration {
        let secs = d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6 / self.scale;
        if secs.is_finite() && secs > 0.0 {
            std::time::Duration::from_secs_f64(secs)
        } else {
            std::time::Duration::ZERO
        }
    }

    /// Sleeps for the virtual duration `d` (that is, `d / scale` of real time).
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(self.to_real(d)).await;
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_follows_the_formula() {
        let real = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        let virt = DateTime::<Utc>::from_timestamp(5_000_000, 0).unwrap();
        let clock = SimClock::scaled(real, virt, 60.0);
        let later = real + std::time::Duration::from_secs(2);
        assert_eq!(clock.at(later), virt + Duration::seconds(120));
        let earlier = real - std::time::Duration::from_secs(1);
        assert_eq!(clock.at(earlier), virt - Duration::seconds(60));
        assert_eq!(
            clock.to_real(Duration::seconds(60)),
            std::time::Duration::from_secs(1)
        );
        assert_eq!(
            clock.to_real(Duration::seconds(-5)),
            std::time::Duration::ZERO
        );
    }

    #[test]
    fn hostile_scales_fall_back_to_one() {
        let c = SimClock::scaled(SystemTime::now(), Utc::now(), f64::NAN);
        assert_eq!(c.scale(), 1.0);
        let c = SimClock::scaled(SystemTime::now(), Utc::now(), -3.0);
        assert_eq!(c.scale(), 1.0);
    }

    #[test]
    fn system_clock_is_close_to_utc_now() {
        let c = SimClock::system();
        let diff = (c.now() - Utc::now()).num_seconds().abs();
        assert!(diff < 5);
    }
}
