//! Shared harness for the end-to-end suites: a Finale simulator and a client that agree on
//! one virtual clock.
//!
//! Every test gets its own simulator on an ephemeral loopback port with a fixed data anchor
//! (so generated data is identical run to run) and a client configured exactly as a user
//! would configure it for a real account, except for the base URL and the shared
//! [`finale::ScaledClock`]. A `scale` of 60 makes a minute of Finale budget pass
//! in a second on both sides; 3600 does the same for an hour.

pub mod loads;
pub mod truth;

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use finale::{Credentials, FinaleClient, FinaleConfig, ScaledClock, Secret};
use finale_sim::{SimClock, SimConfig, SimHandle, Simulator, Size};

/// The virtual "now" at which generated histories end in tests.
pub fn anchor() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().expect("valid anchor")
}

/// A running simulator plus a client wired to it.
#[derive(Debug)]
pub struct Pair {
    /// The simulator (truth, stats, faults).
    pub sim: SimHandle,
    /// A client built from `config`.
    pub client: FinaleClient,
    /// The client's configuration, for building more clients (e.g. with wrong credentials).
    pub config: FinaleConfig,
}

/// How to start a [`Pair`]; begin with `Setup::new(size)`, finish with [`Setup::start`].
#[derive(Debug, Clone)]
pub struct Setup {
    /// Simulator configuration (tweak quirks, limits, cap...).
    pub sim: SimConfig,
    /// Clock speed shared by both sides.
    pub scale: f64,
}

impl Setup {
    /// Small data set, seed 7, Finale's real budgets, real-time clock.
    pub fn new(size: Size) -> Self {
        let mut sim = SimConfig::new(size, 7);
        sim.anchor = anchor();
        Self { sim, scale: 1.0 }
    }

    /// Runs the shared clock `scale` times faster than real time.
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }

    /// Applies `f` to the simulator configuration.
    pub fn sim(mut self, f: impl FnOnce(&mut SimConfig)) -> Self {
        f(&mut self.sim);
        self
    }

    /// Starts the simulator and builds a matching client; `tweak` adjusts the client config.
    pub async fn start(mut self, tweak: impl FnOnce(&mut FinaleConfig)) -> Pair {
        let real_anchor = SystemTime::now();
        self.sim.clock = SimClock::scaled(real_anchor, anchor(), self.scale);
        let sim = Simulator::start(self.sim.clone())
            .await
            .expect("simulator starts");
        let mut config = client_config(&sim, &self.sim);
        config.clock = Arc::new(ScaledClock::new(real_anchor, anchor(), self.scale));
        config.timezone = self.sim.quirks.timezone;
        config.packed_quantities = match self.sim.quirks.packed_quantities {
            finale_sim::PackedQuantities::Cases => finale::PackedQuantities::Cases,
            finale_sim::PackedQuantities::Units => finale::PackedQuantities::Units,
        };
        config.timestamps = match self.sim.quirks.timestamps {
            finale_sim::Timestamps::Utc => finale::TimestampZone::Utc,
            finale_sim::Timestamps::Account => finale::TimestampZone::Account,
        };
        tweak(&mut config);
        let client = FinaleClient::new(config.clone()).expect("client builds");
        Pair {
            sim,
            client,
            config,
        }
    }
}

/// A client configuration for `sim` with the right credentials.
pub fn client_config(sim: &SimHandle, cfg: &SimConfig) -> FinaleConfig {
    let mut config = FinaleConfig::new(
        sim.account(),
        Credentials::ApiKey {
            key: cfg.api_key.clone(),
            secret: Secret::from(cfg.api_secret.clone()),
        },
    );
    config.base_url = sim.base_url().parse().expect("simulator URL parses");
    config
}

/// Starts a small simulator with default quirks and a real-time client.
pub async fn small() -> Pair {
    Setup::new(Size::Small).start(|_| {}).await
}
