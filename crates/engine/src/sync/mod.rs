//! The sync engine: Finale → a [`Store`], with the seed's three strategies.
//!
//! One [`Engine`] owns one Finale client (so one request scheduler owns the account's budgets
//! for the whole process) and one store. [`Engine::run`] runs a strategy:
//!
//! 1. takes the **writer role** ([`Store::acquire_writer_for`] with a lease of
//!    [`SyncSettings::writer_lease`]; a second engine gets [`SyncError::WriterBusy`] naming
//!    the holder, an expired lease is taken over: [`store::lease`]), closes runs a killed (or
//!    replaced) process left open, and opens a `sync_runs` row. If the lease is taken over
//!    while the run goes on (this process was frozen past its TTL), the run stops with
//!    [`StoreError::LostWriterRole`]: the store refuses its writes from then on, and the
//!    renewal that notices the loss ends the run at once. Before opening the run it starts
//!    from the Finale budget every engine on the store spent in the last hour (module
//!    [`budget`]);
//! 2. runs the strategy — [`full`](Strategy::Full) (module `full`: the persisted, resumable
//!    backfill plan of module [`plan`]), or [`smart`](Strategy::Smart) /
//!    [`critical`](Strategy::Critical) (module `incremental`: cursors with overlap where
//!    Finale has `lastUpdatedDate`, hash diff of the `inventoryitem` snapshot where it has
//!    not, critical items written first; a response that reached Finale's entity cap is
//!    never evidence that anything is absent: module [`cap`], stock is then read through
//!    GraphQL, a capped reference snapshot through `lastUpdatedDate` windows), or the
//!    [`stock`](Strategy::Stock) pulse (module `pulse`: the stock snapshot alone, every few
//!    minutes, at critical priority);
//! 3. rebuilds derived data for what changed (daily sales, velocities, days of stock left,
//!    the seed's `inventory_items`);
//! 4. completes the `sync_runs` row with the run's metrics, also when it failed.
//!
//! Bad records never stop a run: a record that does not decode or would violate the schema
//! goes to `sync_errors` with its raw payload and the reason ([`Quarantined`]).

pub mod budget;
pub mod cap;
pub mod convert;
mod full;
mod incremental;
mod meter;
pub mod plan;
mod pulse;
mod runner;
pub mod status;
pub mod unreadable;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use finale::{Clock, FinaleClient, RecordError};
use serde::Serialize;

use store::derive::{ItemInput, item_row};
use store::rows::{Invalid, ItemRow, business_day};
use store::{
    Applied, Batch, ItemWrites, Quarantined, RunMetrics, Scope, Store, WriterInfo, Writes,
};
use store::{StoreError, Strategy};

pub use incremental::{PENDING_KEY, PendingAlerts, evaluate};
pub use meter::Meter;
pub use plan::{Cursor, Estimate, LoadProfile, PlanState, estimate, plan_full};
pub use runner::{EngineRunner, SERVICE_FULL_SLICE};

/// The error pattern of a run whose order lines came from per-order GETs because Finale's
/// GraphQL refused the lines query (no GraphQL on the account, an `errors` answer).
pub const GRAPHQL_REFUSED: &str = "graphql refused: order lines read by GET";
/// `sync_state` key: the time zone the stored orders' business days (`orders.order_day`)
/// were derived in (an IANA name; absent = UTC).
pub const ORDER_DAY_ZONE_KEY: &str = "order_day_zone";

/// Tunables of the strategies (the seed's numbers are the defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSettings {
    /// Records per write batch in the full load (seed: 500).
    pub full_batch: usize,
    /// Records per write batch in smart and critical runs (seed: 100).
    pub smart_batch: usize,
    /// Batches written concurrently in smart and critical runs (seed: 3).
    pub smart_concurrency: usize,
    /// How far back the full load reaches (seed: 2 years).
    pub horizon: chrono::Duration,
    /// Widest `lastUpdatedDate` window (Finale: 30 days).
    pub window: chrono::Duration,
    /// How far a cursor read reaches back before the cursor (late commits, clock skew).
    pub overlap: chrono::Duration,
    /// An unchanged item's `finale_last_sync` is moved only when older than this, so a
    /// repeated run writes nothing while its confirmation is fresh.
    pub confirm_every: chrono::Duration,
    /// How many items the critical strategy ranks with `get_items_needing_sync`.
    pub critical_limit: u32,
    /// The critical strategy's triggers.
    pub thresholds: Thresholds,
    /// How long [`Engine::run`] waits for another engine's writer role (`None`: fail at once).
    pub writer_wait: Option<Duration>,
    /// The writer lease's TTL: renewed every quarter of it; another engine takes the role
    /// over once it has passed without a renewal (default 2 minutes, at most 5).
    pub writer_lease: Duration,
    /// The seed's target for a smart run (15 minutes). A slower run completes anyway (its
    /// writes are worth keeping) and records the overrun as an error pattern.
    pub smart_max_duration: Duration,
    /// When set, a `full` run over a store that is already loaded (a re-read) stops taking
    /// new jobs after this long and returns; the next `full` run continues. `serve` sets it so
    /// critical runs and the stock pulse are not held up for hours; a one-off `sync` leaves it
    /// unset and re-reads to the end. The initial load always runs to the end.
    pub full_slice: Option<Duration>,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            full_batch: 500,
            smart_batch: 100,
            smart_concurrency: 3,
            horizon: chrono::Duration::days(730),
            window: chrono::Duration::days(30),
            overlap: chrono::Duration::minutes(5),
            confirm_every: chrono::Duration::hours(1),
            critical_limit: 1000,
            thresholds: Thresholds::default(),
            writer_wait: None,
            writer_lease: store::lease::DEFAULT_TTL,
            smart_max_duration: Duration::from_secs(15 * 60),
            full_slice: None,
        }
    }
}

/// The seed's critical triggers (`realTimeThreshold` and `price_change > 5%`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Stock at or below this is critical (seed: 10).
    pub stock_level: f64,
    /// 30-day velocity at least this multiple of the 90-day one is critical (seed: 2.0).
    pub velocity_multiplier: f64,
    /// A cost or list price change of more than this percentage is critical (seed: 5).
    pub price_change_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            stock_level: 10.0,
            velocity_multiplier: 2.0,
            price_change_pct: 5.0,
        }
    }
}

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Another engine is the writer.
    #[error("another engine is syncing this store: {holder}")]
    WriterBusy {
        /// Who holds the writer role.
        holder: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Finale failed beyond the client's retries.
    #[error("Finale: {0}")]
    Finale(#[from] finale::Error),
    /// `smart` or `critical` before the full load has completed once.
    #[error("the full load has not completed yet: run `stockpulse sync --strategy full` first")]
    NoFullLoad,
    /// Some backfill jobs failed; they are retried by the next `full` run.
    #[error(
        "{failed} of {total} backfill jobs failed (first: {first}); run `full` again to retry them"
    )]
    JobsFailed {
        /// Failed jobs.
        failed: u64,
        /// All jobs of the plan.
        total: u64,
        /// The first failure.
        first: String,
    },
    /// A stored value is not what this engine wrote.
    #[error("unexpected sync state: {0}")]
    State(String),
}

impl SyncError {
    /// Whether a long-running service (`serve`, the app's backend) should stop on this error
    /// instead of retrying it: only what a person must fix in the configuration — credentials
    /// Finale or the store rejects, an invalid Finale configuration, a database that does not
    /// exist, a store schema newer than this binary. Everything else (a record Finale will not
    /// give, a GraphQL error, an error body, Finale or the store down) is a failed run: it is
    /// recorded and retried with backoff.
    pub fn ends_service(&self) -> bool {
        match self {
            SyncError::Finale(f) => f.needs_configuration(),
            SyncError::Store(s) => matches!(
                s,
                StoreError::SchemaTooNew { .. }
                    | StoreError::Auth { .. }
                    | StoreError::NoSuchDatabase { .. }
            ),
            _ => false,
        }
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::WriterBusy { holder } => SyncError::WriterBusy { holder },
            e => SyncError::Store(e),
        }
    }
}

/// Progress of a run, for progress bars and logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressUpdate {
    /// What is happening (`order 2026-01-01..2026-01-31`, `stock`, `derived`).
    pub phase: String,
    /// Units done (jobs for `full`, steps otherwise).
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// Records read so far.
    pub records: u64,
    /// Estimated time left (the full load: from the remaining budget).
    pub eta: Option<Duration>,
}

/// Receives progress and notable events of a run.
pub trait Progress: Send + Sync {
    /// The run's `sync_runs` row was opened with this id (called once, before any work; a
    /// run refused by a busy writer role never gets here).
    fn started(&self, _run_id: i64) {}
    /// The run moved on.
    fn update(&self, p: &ProgressUpdate);
    /// Something worth telling the user (a failed job, quarantined records).
    fn note(&self, _message: &str) {}
}

/// A [`Progress`] that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &ProgressUpdate) {}
}

/// How much a critical item matters, so screens and notifications can lead with it: the
/// most severe of its triggers. Ordered: `OutOfStock` > `AtReorderPoint` > `VelocitySpike` >
/// `LowStock` > `PriceMove`. The seed's triggers stay as they are; "stock ≤ 10" alone flags
/// half of a typical account, so it ranks below the triggers that call for action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A cost or list price moved by more than the threshold.
    PriceMove,
    /// Available stock at or below the seed's stock level.
    LowStock,
    /// 30-day velocity at least the multiplier times the 90-day one.
    VelocitySpike,
    /// A location's available stock at or below its reorder point.
    AtReorderPoint,
    /// Nothing available.
    OutOfStock,
}

/// A location at or below its own reorder point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationAlert {
    /// The location; `None` for a guideline without one (compared with the total).
    pub location_url: Option<String>,
    /// Available stock there (on hand − reserved, over its sublocations).
    pub available: f64,
    /// Its reorder point.
    pub reorder_point: f64,
}

/// An item that tripped a critical trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalItem {
    /// Product URL.
    pub product_url: String,
    /// SKU.
    pub sku: String,
    /// On hand over all facilities.
    pub stock: f64,
    /// Available (on hand − reserved) over all facilities: what the triggers look at.
    pub available: f64,
    /// Its most severe trigger.
    pub severity: Severity,
    /// Which triggers: `out_of_stock`, `at_reorder_point`, `low_stock`, `velocity_spike`,
    /// `price_change`.
    pub reasons: Vec<&'static str>,
    /// The locations at or below their reorder point (`at_reorder_point`).
    pub locations: Vec<LocationAlert>,
}

/// What a critical run found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CriticalReport {
    /// Items that tripped a trigger, most severe first.
    pub items: Vec<CriticalItem>,
    /// Orders new since the last critical run (smart runs' included).
    pub new_orders: u64,
    /// Suppliers (parties with the `SUPPLIER` role) inserted or changed since the last
    /// critical run; customers and carriers are not vendors.
    pub vendor_updates: u64,
    /// Stock rows of ranked (critical) items, written before all others.
    pub critical_rows_first: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// `sync_runs.id`.
    pub run_id: i64,
    /// Which strategy ran.
    pub strategy: Strategy,
    /// The metrics written to `sync_runs`.
    pub metrics: RunMetrics,
    /// Mirror writes.
    pub applied: Applied,
    /// `daily_sales` writes.
    pub daily_sales: Writes,
    /// `inventory_items` writes.
    pub items: ItemWrites,
    /// The critical strategy's findings.
    pub critical: Option<CriticalReport>,
}

/// The sync engine (see the module docs).
#[derive(Debug, Clone)]
pub struct Engine {
    client: FinaleClient,
    store: Arc<dyn Store>,
    settings: SyncSettings,
    runner: String,
}

impl Engine {
    /// An engine over a client and a store. `runner` names this process in `sync_runs` and
    /// in "who holds the writer role" messages (e.g. `host:pid`).
    pub fn new(
        client: FinaleClient,
        store: Arc<dyn Store>,
        settings: SyncSettings,
        runner: impl Into<String>,
    ) -> Self {
        Self {
            client,
            store,
            settings,
            runner: runner.into(),
        }
    }

    /// `host:pid`, the default runner name.
    pub fn default_runner() -> String {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}:{}", std::process::id())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The Finale client.
    pub fn client(&self) -> &FinaleClient {
        &self.client
    }

    /// The settings.
    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    fn clock(&self) -> &Arc<dyn Clock> {
        &self.client.config().clock
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock().now()
    }

    /// The account's time zone (`FINALE_TIMEZONE`): it decides an order's business day.
    /// Not the zone of Finale's timestamps (`FINALE_TIMESTAMPS`), which only the client sees.
    fn account_zone(&self) -> chrono_tz::Tz {
        self.client.config().timezone
    }

    /// The account's business day at `now`: the "as of" day of the 30/90-day velocities.
    fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        business_day(now, self.account_zone())
    }

    /// Keeps every stored order's business day in the configured zone: when the zone
    /// recorded in `sync_state` (`order_day_zone`; absent = UTC, what the stores held before
    /// days followed the account) differs, re-derives all order days and rebuilds daily
    /// sales, then records the zone.
    async fn follow_account_zone(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
    ) -> Result<(), SyncError> {
        let zone = self.account_zone();
        let stored: Option<String> = status::read_state(&*self.store, ORDER_DAY_ZONE_KEY).await?;
        if stored.as_deref().unwrap_or("UTC") == zone.name() {
            return Ok(());
        }
        let now = self.now();
        let moved = meter.db(self.store.set_order_days(zone, now)).await?;
        if moved > 0 {
            tracing::info!(
                moved,
                zone = zone.name(),
                "orders moved to the account's business day"
            );
            let w = meter
                .db(self.store.refresh_daily_sales(&Scope::All, now))
                .await?;
            out.daily_sales.add(w);
        }
        let batch = Batch {
            state: vec![(ORDER_DAY_ZONE_KEY.to_owned(), zone.name().into())],
            ..Batch::default()
        };
        meter.db(self.store.apply(&batch, now)).await?;
        Ok(())
    }

    /// Runs one strategy (see the module docs). The run's `sync_runs` row is completed even
    /// when the run fails; the error is returned after that.
    pub async fn run(
        &self,
        strategy: Strategy,
        progress: &dyn Progress,
    ) -> Result<RunReport, SyncError> {
        let me = WriterInfo {
            runner: self.runner.clone(),
            purpose: strategy.as_str().to_owned(),
        };
        let lease = self
            .store
            .acquire_writer_for(&me, self.settings.writer_wait, self.settings.writer_lease)
            .await?;
        let abandoned = self.store.close_abandoned_runs(self.now()).await?;
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "closed sync runs left open by a process that died"
            );
        }
        self.start_budget().await?;
        let budget_before = self.client.budget_report();
        let started_at = self.now();
        let wall = Instant::now();
        let run_id = self
            .store
            .begin_run(strategy, &self.runner, started_at)
            .await?;
        tracing::info!(run_id, %strategy, store = %self.store.describe(), "sync run started");
        progress.started(run_id);
        let meter = Meter::new(run_id);
        let mut out = RunOutput::default();
        let work = async {
            self.follow_account_zone(&meter, &mut out).await?;
            match strategy {
                Strategy::Full => self.full(&meter, &mut out, progress).await,
                Strategy::Smart | Strategy::Critical => {
                    self.incremental(strategy, &meter, &mut out, progress).await
                }
                Strategy::Stock => self.pulse(&meter, &mut out, progress).await,
            }
        };
        // A lease taken over ends the run at once (dropping the strategy mid-way is safe:
        // every write is a transaction, and the store refuses ours from now on anyway).
        let result = tokio::select! {
            r = work => r,
            holder = lease.lost() => Err(SyncError::Store(StoreError::LostWriterRole { holder })),
        };
        if strategy == Strategy::Smart && wall.elapsed() > self.settings.smart_max_duration {
            let minutes = self.settings.smart_max_duration.as_secs() / 60;
            tracing::warn!(elapsed = ?wall.elapsed(), "the smart run took longer than its {minutes}-minute target");
            meter.pattern(format!("smart run over its {minutes}-minute target"));
        }
        let budget_after = self.client.budget_report();
        let mut metrics = meter.metrics(&budget_before, &budget_after, wall.elapsed());
        metrics.items_changed =
            out.applied.rows_written() + out.daily_sales.total() + out.items.writes.total();
        metrics.finished_at = Some(self.now().max(started_at));
        metrics.success = result.is_ok();
        metrics.notes = match (&result, &out.critical) {
            (Err(e), _) => Some(e.to_string()),
            (Ok(()), Some(c)) => Some(format!(
                "{} critical items, {} new orders, {} vendor updates",
                c.items.len(),
                c.new_orders,
                c.vendor_updates
            )),
            (Ok(()), None) => None,
        };
        if let Err(e) = self.store.finish_run(run_id, &metrics).await {
            tracing::error!(run_id, error = %e, "could not record the run's metrics");
        }
        self.flush_budget().await;
        lease.release().await;
        match &result {
            Ok(()) => tracing::info!(
                run_id,
                %strategy,
                seen = metrics.items_seen,
                changed = metrics.items_changed,
                failed = metrics.items_failed,
                ms = metrics.duration_ms,
                "sync run finished"
            ),
            Err(e) => tracing::error!(run_id, %strategy, error = %e, "sync run failed"),
        }
        result.map(|()| RunReport {
            run_id,
            strategy,
            metrics,
            applied: out.applied,
            daily_sales: out.daily_sales,
            items: out.items,
            critical: out.critical,
        })
    }

    /// Rebuilds daily sales for `sales` and every item row (velocities move with the date
    /// even when nothing else changed; unchanged rows are not written). Returns the inputs
    /// the rows were derived from.
    async fn refresh_derived(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        sales: Scope,
        progress: &dyn Progress,
    ) -> Result<Vec<ItemInput>, SyncError> {
        let now = self.now();
        progress.update(&ProgressUpdate {
            phase: "sales history".into(),
            done: 0,
            total: 2,
            records: meter.seen(),
            eta: None,
        });
        let skip_sales = matches!(&sales, Scope::Products(p) if p.is_empty());
        if !skip_sales {
            let w = meter
                .db(self.store.refresh_daily_sales(&sales, now))
                .await?;
            out.daily_sales.add(w);
        }
        progress.update(&ProgressUpdate {
            phase: "inventory items".into(),
            done: 1,
            total: 2,
            records: meter.seen(),
            eta: None,
        });
        self.refresh_items(meter, out, &Scope::All, self.settings.full_batch, now)
            .await
    }

    /// Recomputes the seed's item rows of the products in `scope` and upserts them in chunks
    /// of `chunk` (unchanged rows are only confirmed when stale). Returns their inputs.
    async fn refresh_items(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        scope: &Scope,
        chunk: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<ItemInput>, SyncError> {
        let inputs = meter
            .db(self.store.item_inputs(scope, self.today(now)))
            .await?;
        let rows: Vec<ItemRow> = inputs.iter().map(item_row).collect();
        let confirm_before = now - self.settings.confirm_every;
        for part in rows.chunks(chunk.max(1)) {
            let w = meter
                .db(self.store.upsert_items(part, now, confirm_before))
                .await?;
            out.items.writes.add(w.writes);
            out.items.confirmed += w.confirmed;
        }
        Ok(inputs)
    }
}

/// What a strategy accumulates while it runs.
#[derive(Debug, Default)]
struct RunOutput {
    applied: Applied,
    daily_sales: Writes,
    items: ItemWrites,
    critical: Option<CriticalReport>,
    /// URLs of the suppliers among the parties read (changed or not).
    suppliers: std::collections::BTreeSet<String>,
    /// Records waiting for a retry, once read in this run (module [`unreadable`]).
    unreadable: Option<unreadable::Unreadable>,
}

/// A decode problem reported by the client, as a quarantine record.
fn quarantine_decode(
    run_id: i64,
    collection: &str,
    e: &RecordError,
    at: DateTime<Utc>,
) -> Quarantined {
    Quarantined {
        run_id: Some(run_id),
        collection: collection.to_owned(),
        record_key: e.key.clone(),
        reason: format!("field `{}`: {}", e.field, e.reason),
        raw_payload: None,
        raw_text: Some(e.raw.clone()),
        at,
    }
}

/// A record the schema would reject, as a quarantine record with its raw JSON.
fn quarantine_invalid(
    run_id: i64,
    e: &Invalid,
    raw: Option<serde_json::Value>,
    at: DateTime<Utc>,
) -> Quarantined {
    Quarantined {
        run_id: Some(run_id),
        collection: e.collection.to_owned(),
        record_key: Some(e.key.clone()),
        reason: format!("field `{}`: {}", e.field, e.reason),
        raw_payload: raw,
        raw_text: None,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configuration_errors_end_a_service() {
        let finale = |e: finale::Error| SyncError::Finale(e);
        let not_found = finale(finale::Error::NotFound {
            url: "/acme/api/order/SO-1".into(),
            message: String::new(),
        });
        let graphql = finale(finale::Error::Graphql {
            source: finale::graphql::GraphqlError::Errors(vec!["no such field".into()]),
        });
        let body = finale(finale::Error::ErrorBody {
            url: "/acme/api/order/".into(),
            message: "server busy".into(),
        });
        for e in [&not_found, &graphql, &body] {
            assert!(!e.ends_service(), "{e}");
        }
        assert!(!SyncError::NoFullLoad.ends_service());
        assert!(!SyncError::WriterBusy { holder: "a".into() }.ends_service());
        let auth = finale(finale::Error::Auth {
            account: "acme".into(),
            base_url: "https://app.finaleinventory.com".into(),
            status: 401,
            message: "bad key".into(),
        });
        assert!(auth.ends_service());
        assert!(
            SyncError::Store(StoreError::SchemaTooNew {
                database: 99,
                known: 1
            })
            .ends_service()
        );
    }
}
