//! The budget survives restarts (issue 8 §6): the Finale client's scheduler writes its spends
//! to the store's ledger (`budget_spends`), and every run starts from the ledger's last hour.
//!
//! # The model
//!
//! Finale's budgets belong to the account, not to a process: a service manager restarting a
//! crashing `serve`, or a script calling `sync` in a loop, would otherwise start each process
//! with a full hour of collection reads and spend the account's 300 several times over. So:
//!
//! 1. **Record.** [`StoreLedger`] is the [`finale::BudgetLedger`] the engine connects to its
//!    client's scheduler: every grant is added to the store's (bucket, one-minute slot) counts
//!    ([`Store::record_spends`]). A collection read is recorded **before it is sent**; GETs
//!    and POSTs alone are buffered and written at most once a minute, with the next
//!    collection read, and at the end of every run ([`finale::scheduler`], "The ledger").
//! 2. **Seed.** At the start of every run, after taking the writer role (only the writer
//!    spends), `Engine::start_budget` flushes what this process still buffers, prunes slots
//!    older than twice the longest window, reads the slots of the last window and seeds the
//!    scheduler with them: from then on it never grants more than the configured limit in any
//!    window, counting every engine's spends on this store. The seeding is idempotent, so a
//!    long-running `serve` re-seeds at each run without counting its own grants twice. The
//!    full load's ETA (`Engine::full`) reads the scheduler's report, so it starts from the
//!    seeded budget too; `stockpulse status` reads [`budget_use`].
//!
//! # What it does not cover
//!
//! - **A crash loses** at most the current minute's buffered GETs and POSTs (never a
//!   collection read): their one-minute window ends a minute later anyway, and Finale's
//!   `X-RateLimit-*` headers stop the next process at the limit.
//! - **A failed ledger write** is logged and retried by the next flush; the request still goes
//!   out, limited by this process's own window.
//! - **Clocks.** Slots carry the engine's clock. Workstations sharing a Postgres store take
//!   the writer role one at a time; one whose clock is `d` ahead of the previous writer's sees
//!   that writer's spends `d` older than they are and may spend up to `d`'s worth of them a
//!   second time within the hour (a clock behind only waits longer). Pruning keeps two
//!   windows so that a clock up to an hour behind still sees the rows it needs.
//! - **Other stores, other tools.** The ledger is per store: engines writing different stores
//!   for one Finale account, or tools that call Finale without an engine (`stockpulse fetch`),
//!   do not see each other.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use finale::scheduler::{LEDGER_SLOT, LedgerError};
use finale::{Bucket, BudgetConfig, BudgetLedger, Spend};
use futures::future::BoxFuture;
use serde::Serialize;

use super::{Engine, SyncError};
use store::{BudgetSpend, Store};

/// A [`BudgetLedger`] over a store's `budget_spends`.
#[derive(Debug, Clone)]
pub struct StoreLedger {
    store: Arc<dyn Store>,
}

impl StoreLedger {
    /// The ledger of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

impl BudgetLedger for StoreLedger {
    fn record<'a>(&'a self, spends: &'a [Spend]) -> BoxFuture<'a, Result<(), LedgerError>> {
        Box::pin(async move {
            let rows: Vec<BudgetSpend> = spends.iter().map(to_row).collect();
            self.store
                .record_spends(&rows)
                .await
                .map_err(|e| LedgerError(e.to_string()))
        })
    }
}

/// A spend as the store keeps it (the bucket by name).
fn to_row(s: &Spend) -> BudgetSpend {
    BudgetSpend {
        bucket: s.bucket.name().to_owned(),
        slot: s.slot,
        count: s.count,
    }
}

/// The store's ledger rows from `since` as the scheduler's spends; a row naming no budget
/// this engine knows is an error (the store was written by something else).
async fn read_spends(store: &dyn Store, since: DateTime<Utc>) -> Result<Vec<Spend>, SyncError> {
    let mut spends = store
        .budget_spends(since)
        .await?
        .into_iter()
        .map(|r| {
            let bucket = Bucket::from_name(&r.bucket).ok_or_else(|| {
                SyncError::State(format!(
                    "budget_spends.bucket is not a budget: {:?}",
                    r.bucket
                ))
            })?;
            Ok(Spend {
                bucket,
                slot: r.slot,
                count: r.count,
            })
        })
        .collect::<Result<Vec<_>, SyncError>>()?;
    spends.sort();
    Ok(spends)
}

/// The longest window of the configured budgets (the collection bucket's hour).
fn longest_window(cfg: &BudgetConfig) -> Duration {
    Bucket::ALL
        .iter()
        .map(|b| cfg.window(*b))
        .max()
        .unwrap_or(Duration::hours(1))
}

/// The first slot that can still hold grants inside a window of `window` ending at `now`.
fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    finale::scheduler::slot_of(now - window - LEDGER_SLOT)
}

/// One bucket's use over its window, as recorded in a store's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetUse {
    /// Which bucket.
    pub bucket: Bucket,
    /// Grants recorded in slots that overlap the window ending now.
    pub used: u64,
    /// The configured limit per window.
    pub limit: u32,
    /// The window, in seconds.
    pub window_secs: i64,
}

/// What the store's ledger says about each bucket's window ending at `now` (for `status`;
/// no Finale connection needed). A slot counts when any of it lies in the window, so the
/// figure may include up to a minute's grants that just left it.
pub async fn budget_use(
    store: &dyn Store,
    cfg: &BudgetConfig,
    now: DateTime<Utc>,
) -> Result<Vec<BudgetUse>, SyncError> {
    let spends = read_spends(store, window_start(now, longest_window(cfg))).await?;
    Ok(Bucket::ALL
        .iter()
        .map(|&bucket| {
            let window = cfg.window(bucket);
            let used = spends
                .iter()
                .filter(|s| s.bucket == bucket && s.slot + LEDGER_SLOT > now - window)
                .map(|s| u64::from(s.count))
                .sum();
            BudgetUse {
                bucket,
                used,
                limit: cfg.limit(bucket),
                window_secs: window.num_seconds(),
            }
        })
        .collect())
}

impl Engine {
    /// Connects the client's scheduler to the store's ledger and seeds it with the last
    /// window's spends (see the module docs). Called by [`Engine::run`] right after taking the
    /// writer role.
    pub(super) async fn start_budget(&self) -> Result<(), SyncError> {
        let sched = self.client.scheduler();
        sched.set_ledger(Arc::new(StoreLedger::new(Arc::clone(&self.store))));
        if let Err(e) = sched.flush().await {
            tracing::warn!(error = %e, "budget spends of an earlier run are not recorded yet");
        }
        let now = self.now();
        let window = longest_window(sched.config());
        self.store.prune_budget_spends(now - window * 2).await?;
        let spends = read_spends(&*self.store, window_start(now, window)).await?;
        let added = sched.seed(&spends);
        let [get, post, collection] = added;
        if added.iter().any(|n| *n > 0) {
            tracing::info!(
                collection,
                get,
                post,
                "started from the budget other runs spent (the store's ledger)"
            );
        }
        Ok(())
    }

    /// Writes the spends the scheduler still buffers (end of a run); a failure is logged.
    pub(super) async fn flush_budget(&self) {
        if let Err(e) = self.client.scheduler().flush().await {
            tracing::warn!(error = %e, "the run's last budget spends could not be recorded");
        }
    }
}
