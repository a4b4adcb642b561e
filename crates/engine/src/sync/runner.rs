//! The engine as a long-running service's [`Runner`]: what `stockpulse serve` and the desktop
//! app's backend drive with [`crate::schedule::serve`].
//!
//! The schedule asks for the last runs and runs what is due; this adapter answers from the
//! store and sorts the engine's errors for it:
//!
//! - **last runs**: the newest successful run of each strategy, and the full load's state
//!   (loaded once, a re-read pending: [`super::PlanState::loaded`],
//!   [`super::PlanState::rereading`]);
//! - **busy** ([`SyncError::WriterBusy`]): another engine holds the writer role: nothing ran,
//!   the strategy is still due, try again soon;
//! - **fatal** ([`SyncError::ends_service`]): only what a person must fix in the
//!   configuration; every other error is a failed run, retried with backoff.
//!
//! A service takes a re-read of a loaded store in slices ([`SERVICE_FULL_SLICE`]) so critical
//! runs and the stock pulse keep their times.

use std::time::Duration;

use async_trait::async_trait;

use super::{Engine, NoProgress, RunReport, SyncError};
use crate::Strategy;
use crate::schedule::{LastRuns, Runner};

/// How long a service lets a re-read of a loaded store run before the schedule gets its turn
/// again (it continues when nothing else is due): set as [`super::SyncSettings::full_slice`].
pub const SERVICE_FULL_SLICE: Duration = Duration::from_secs(4 * 60);

/// The engine as a [`Runner`]; `on_report` sees every finished run (a CLI prints it, the app
/// forwards it to its window).
pub struct EngineRunner<F> {
    engine: Engine,
    on_report: F,
}

impl<F> std::fmt::Debug for EngineRunner<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineRunner")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<F: Fn(&RunReport) + Send + Sync> EngineRunner<F> {
    /// A runner over `engine`, calling `on_report` after each successful run.
    pub fn new(engine: Engine, on_report: F) -> Self {
        Self { engine, on_report }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

#[async_trait]
impl<F: Fn(&RunReport) + Send + Sync> Runner for EngineRunner<F> {
    type Error = SyncError;

    async fn last_runs(&self) -> Result<LastRuns, SyncError> {
        let store = self.engine.store();
        let last = store.last_successes().await?;
        let last_ok = |s: Strategy| last.iter().find(|(x, _)| *x == s).map(|(_, at)| *at);
        // Only the plan's state matters here: the jobs need not be read.
        let plan = super::status::plan_state(&**store).await?;
        Ok(LastRuns {
            smart: last_ok(Strategy::Smart),
            critical: last_ok(Strategy::Critical),
            stock: last_ok(Strategy::Stock),
            full_done: plan.is_some_and(|p| p.loaded()),
            full_pending: plan.is_some_and(|p| p.rereading()),
        })
    }

    async fn run(&self, strategy: Strategy) -> Result<(), SyncError> {
        let report = self.engine.run(strategy, &NoProgress).await?;
        (self.on_report)(&report);
        Ok(())
    }

    fn is_busy(&self, e: &SyncError) -> bool {
        matches!(e, SyncError::WriterBusy { .. })
    }

    fn is_fatal(&self, e: &SyncError) -> bool {
        e.ends_service()
    }
}
