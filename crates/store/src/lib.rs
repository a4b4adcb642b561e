//! Stockpulse's stores: the row model ([`rows`], [`derive`](mod@derive)) with each table's
//! column description ([`table`](mod@table), which drives the one generic write, read-back and bulk-copy
//! path of each store), the one [`Store`] interface and its vocabulary, the shared Postgres
//! store ([`pg::PgStore`]) and the local SQLite one ([`sqlite::SqliteStore`]), the writer
//! lease both take ([`lease`]), and the conformance suite both pass (`conformance` and
//! `testing`, feature `testing`). Nothing here knows Finale or Tauri: the sync engine writes
//! through this crate, and the workstation cache will read through it.
//!
//! # The store model
//!
//! Vocabulary used in the schema (`migrations/postgres/V20261123230000__initial_schema.sql`
//! explains every table in its comments):
//!
//! - **Record URL.** Finale identifies every record by a URL path
//!   (`/acme/api/product/10023`); it is the primary key of every mirrored table (`url`), and
//!   references between tables are URLs too. A SKU is *not* a key: product URL ≠ SKU.
//! - **Content hash.** Every table that mirrors Finale data has `content_hash bytea` (exactly
//!   32 bytes: SHA-256 or BLAKE3 of the record's canonical content). The engine upserts with
//!   `ON CONFLICT (url) DO UPDATE ... WHERE t.content_hash IS DISTINCT FROM
//!   EXCLUDED.content_hash`, so an unchanged record costs no write and raises no event.
//! - **Owned children.** Lists embedded in a Finale record (a product's suppliers and reorder
//!   guidelines, an order's lines) live in child tables keyed `(parent_url, seq)` with a
//!   cascading foreign key. The parent's hash covers them; when it changes, the engine
//!   rewrites the children in the same transaction.
//! - **No foreign keys between collections.** Stock, orders, product–supplier links and the
//!   seed's `inventory_items` reference products, facilities and parties by URL without a
//!   foreign key, because collections are loaded independently, in windows, in any order, and
//!   Finale may reference a record a window has not reached yet. Reconciliation reports
//!   dangling references instead.
//! - **Timestamps.** `finale_last_updated` is Finale's `lastUpdatedDate` (the cursor value);
//!   `first_seen_at`/`updated_at` are this store's own bookkeeping, written by the engine
//!   from its injected clock (no triggers). The seed's `inventory_items` keeps the seed's
//!   names: `finale_last_sync` (last confirmed against Finale, moves even when nothing
//!   changed, because `smart`/`critical` rank by it) and `last_updated` (content changed).
//! - **Numbers** are `double precision`, CHECKed finite (no NaN, no ±Infinity) and
//!   non-negative where a negative value is garbage. On-hand stock may be negative (Finale
//!   allows overselling); `stock.available` is generated as `on_hand - reserved`.
//! - **Runs and recovery.** `sync_runs` holds one row per run (the seed's `SyncMetrics`);
//!   `sync_errors` quarantines bad records with their raw payload; `sync_state` holds cursors;
//!   `backfill_jobs` is the full load's persisted, idempotent, resumable plan of
//!   (collection, window) jobs.
//!
//! # Connections and poolers
//!
//! Supabase's transaction-mode pooler (port 6543) supports neither named prepared statements
//! nor session state. Everything in this crate that may run through it uses
//! `Client::query_typed` (the unnamed statement, one round trip) or the simple-query
//! protocol. [`pg::migrate()`] is the exception: it takes a session advisory lock and refinery
//! prepares statements, so run it over a direct or session-mode connection.
//! # The contract
//!
//! - **One transaction per [`Batch`].** [`Store::apply`] writes everything in a batch
//!   (mirror rows, stock changes, quarantined records, state values and, optionally, the
//!   completion of a backfill job) atomically. A killed process therefore leaves either the
//!   whole batch or none of it, and a job is `done` exactly when its last batch is stored.
//! - **Write only what changed.** For each keyed row the store compares the incoming
//!   `content_hash` with the stored one and writes only new or different rows. A changed
//!   parent's owned children (supplier links, reorder guidelines, order lines) are compared
//!   with the stored ones by position (`seq`): equal rows are not touched, differing ones
//!   updated, positions beyond the new list deleted, new positions inserted (a cost change
//!   alone writes one product row). Identical input is a no-op: no row version, no
//!   `updated_at` change. [`Applied`] reports exactly what was written.
//! - **Stock is diffed by the engine.** `inventoryitem` is a full snapshot, so the engine
//!   reads [`Store::stock_hashes`], diffs, and sends only upserts and deletions.
//! - **Derived data is recomputed by scope.** [`Store::refresh_daily_sales`] rebuilds daily
//!   sales from sales-order lines for the products in scope (writing only differing days,
//!   deleting vanished ones); [`Store::item_inputs`] gathers what [`crate::derive::item_row`]
//!   needs; [`Store::upsert_items`] writes changed seed rows and moves `finale_last_sync`.
//! - **Time comes from the caller** (`now` arguments), never from the database's clock, so
//!   tests and the simulator's virtual time agree. The exceptions are Postgres'
//!   `get_items_needing_sync`, the seed's function, which uses `NOW()` by definition, and the
//!   writer lease, which is about real time (the server's clock on Postgres).
//! - **The budget ledger** (`budget_spends`): Finale requests granted, counted per (bucket,
//!   one-minute slot) ([`BudgetSpend`]). [`Store::record_spends`] adds to a row (never
//!   replaces it), [`Store::budget_spends`] reads the slots of the last window, and
//!   [`Store::prune_budget_spends`] drops old slots; see the engine's `sync::budget`.
//! - **One writer.** [`Store::acquire_writer`] returns a lease (a Postgres advisory lock held
//!   by a session, or a lock file beside the SQLite database, plus the renewed lease row of
//!   [`crate::lease`]) or [`StoreError::WriterBusy`] naming who holds it. While a store
//!   holds a lease, each of its write transactions checks the lease's token, so a holder
//!   whose lease was taken over fails with [`StoreError::LostWriterRole`] and writes nothing.
//!
//! # The shared vocabulary
//!
//! What both stores and the engine speak lives here, not in either implementation:
//! [`StoreError`] (one error type for both stores, free of secrets), [`Strategy`] and the
//! seed's ranking rows ([`SyncCandidate`]), and what a migration did ([`MigrationReport`],
//! with the rule both stores share: a schema newer than this binary is refused).
//!
//! Sales-history conventions shared by both stores: a sale is a line of a `SALES_ORDER` whose
//! status is `ORDER_LOCKED` (committed) or `ORDER_COMPLETED` and that has an `order_date`
//! ([`crate::rows::SALE_STATUSES`]; drafts in `ORDER_CREATED`, cancelled orders and orders
//! without a status are not sales); its day is the order's stored `order_day`, the calendar
//! date of `order_date` in the account's time zone (`FINALE_TIMEZONE`, computed in Rust by
//! [`crate::rows::business_day`], so both stores group by the same value); units are
//! `quantity`, revenue `quantity × unit_price` (a missing price counts 0). "Units in the last
//! N days up to `today`" sums the days `d` with `today − N < d ≤ today`, where `today` is the
//! account's business day of the run's clock (the caller passes it).

#![deny(missing_docs)]

#[cfg(feature = "testing")]
pub mod conformance;
pub mod derive;
mod error;
pub mod lease;
mod migration;
pub mod pg;
// Row fields are the columns of the same name, documented in the migrations.
#[allow(missing_docs)]
pub mod rows;
pub mod sqlite;
mod strategy;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
pub use migration::{AppliedMigration, MigrationReport};
pub use pg::{connect, items_needing_sync, migrate};
pub use strategy::{Strategy, SyncCandidate};

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::derive::ItemInput;
use crate::rows::{
    DailySalesRow, FacilityRow, Hash, ItemRow, OrderRow, PartyRow, ProductRow, StockKey, StockRow,
};

/// Every table that holds mirrored or derived data (what [`Store::write_marks`] covers and
/// [`Store::snapshot`] reads), in load order.
pub const DATA_TABLES: [&str; 10] = [
    "facilities",
    "parties",
    "products",
    "product_suppliers",
    "reorder_guidelines",
    "stock",
    "orders",
    "order_lines",
    "daily_sales",
    "inventory_items",
];

/// The engine's bookkeeping tables (runs, quarantine, cursors, the backfill plan, the writer
/// role's lease, the budget ledger).
pub const BOOKKEEPING_TABLES: [&str; 6] = [
    "sync_runs",
    "sync_errors",
    "sync_state",
    "backfill_jobs",
    "writer_lease",
    "budget_spends",
];

/// Every table of the schema, in both stores.
pub fn all_tables() -> impl Iterator<Item = &'static str> {
    DATA_TABLES.into_iter().chain(BOOKKEEPING_TABLES)
}

/// Every view of the schema, in both stores.
pub const VIEWS: [&str; 3] = ["suppliers", "customers", "stock_by_location"];

/// Everything one [`Store::apply`] call writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Facilities to upsert.
    pub facilities: Vec<FacilityRow>,
    /// Parties to upsert.
    pub parties: Vec<PartyRow>,
    /// Products (with their owned children) to upsert.
    pub products: Vec<ProductRow>,
    /// Orders (with their lines) to upsert.
    pub orders: Vec<OrderRow>,
    /// Stock rows to upsert (already diffed by the engine, but re-checked by hash).
    pub stock_upserts: Vec<StockRow>,
    /// Stock pairs that vanished from Finale's snapshot.
    pub stock_deletes: Vec<StockKey>,
    /// Records that could not be stored, for `sync_errors`.
    pub quarantine: Vec<Quarantined>,
    /// `sync_state` values to set (cursors).
    pub state: Vec<(String, serde_json::Value)>,
    /// A backfill job this batch completes.
    pub job_done: Option<JobDone>,
}

impl Batch {
    /// Whether the batch holds no mirror rows (it may still carry state or a job mark).
    pub fn has_no_rows(&self) -> bool {
        self.facilities.is_empty()
            && self.parties.is_empty()
            && self.products.is_empty()
            && self.orders.is_empty()
            && self.stock_upserts.is_empty()
            && self.stock_deletes.is_empty()
    }
}

/// A record that could not be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The run that found it (`None` outside a run).
    pub run_id: Option<i64>,
    /// Finale collection name.
    pub collection: String,
    /// The record's key (URL), if known.
    pub record_key: Option<String>,
    /// Why it was rejected.
    pub reason: String,
    /// The record as JSON, when it decoded that far.
    pub raw_payload: Option<serde_json::Value>,
    /// The raw text of the offending value otherwise.
    pub raw_text: Option<String>,
    /// When it was found.
    pub at: DateTime<Utc>,
}

/// Completion of a backfill job, committed with the batch that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobDone {
    /// `backfill_jobs.id`.
    pub id: i64,
    /// Records the job stored (valid ones).
    pub records: u64,
    /// HTTP requests the job made.
    pub requests: u32,
    /// When it finished.
    pub at: DateTime<Utc>,
}

/// Rows inserted, updated and deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writes {
    /// New rows.
    pub inserted: u64,
    /// Changed rows.
    pub updated: u64,
    /// Removed rows.
    pub deleted: u64,
}

impl Writes {
    /// All rows written.
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
    /// Adds another count.
    pub fn add(&mut self, o: Writes) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
    }
}

/// A product whose cost or list price changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceChange {
    /// Product URL.
    pub product_url: String,
    /// Cost before and after.
    pub cost: (Option<f64>, Option<f64>),
    /// List price before and after.
    pub list_price: (Option<f64>, Option<f64>),
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Writes per table (`facilities`, `parties`, `products`, `product_suppliers`,
    /// `reorder_guidelines`, `stock`, `orders`, `order_lines`, `sync_errors`). Tables with no
    /// writes may be absent.
    pub by_table: BTreeMap<&'static str, Writes>,
    /// Products inserted or changed (their item rows need recomputing).
    pub changed_products: Vec<String>,
    /// Existing products whose cost or list price changed (new products are not listed).
    pub price_changes: Vec<PriceChange>,
    /// Parties inserted or changed.
    pub changed_parties: Vec<String>,
    /// Products whose stock rows were written or deleted.
    pub stock_products: Vec<String>,
    /// Products on the old or new lines of every sales order inserted or changed: their
    /// daily sales need recomputing.
    pub sales_products: Vec<String>,
    /// Orders inserted (not seen before).
    pub new_orders: u64,
}

impl Applied {
    /// Mirror rows written, over all tables except the quarantine.
    pub fn rows_written(&self) -> u64 {
        self.by_table
            .iter()
            .filter(|(t, _)| **t != "sync_errors")
            .map(|(_, w)| w.total())
            .sum()
    }
    /// `table +inserted ~updated -deleted` for every table written, comma-separated
    /// (empty when nothing was written).
    pub fn describe_tables(&self) -> String {
        self.by_table
            .iter()
            .filter(|(_, w)| w.total() > 0)
            .map(|(t, w)| format!("{t} +{} ~{} -{}", w.inserted, w.updated, w.deleted))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Merges another outcome into this one.
    pub fn merge(&mut self, o: Applied) {
        for (t, w) in o.by_table {
            self.by_table.entry(t).or_default().add(w);
        }
        self.changed_products.extend(o.changed_products);
        self.price_changes.extend(o.price_changes);
        self.changed_parties.extend(o.changed_parties);
        self.stock_products.extend(o.stock_products);
        self.sales_products.extend(o.sales_products);
        self.new_orders += o.new_orders;
    }
}

/// Which products a derived-data call covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every product.
    All,
    /// These products (URLs; duplicates allowed).
    Products(Vec<String>),
}

/// What [`Store::upsert_items`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemWrites {
    /// Item rows inserted or changed (content).
    pub writes: Writes,
    /// Unchanged rows whose `finale_last_sync` was moved to `now`.
    pub confirmed: u64,
}

/// A backfill job to plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlannedJob {
    /// Finale collection name.
    pub collection: String,
    /// A `lastUpdatedDate` window, or an unfiltered snapshot read.
    pub kind: JobKind,
    /// Window start (inclusive). For a snapshot: the plan's horizon start.
    pub window_start: DateTime<Utc>,
    /// Window end (exclusive). For a snapshot: the plan's horizon end.
    pub window_end: DateTime<Utc>,
}

/// How a job reads its collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// One filtered read of `[window_start, window_end)` (split in memory when full).
    Window,
    /// One unfiltered read of the whole collection.
    Snapshot,
}

impl JobKind {
    /// The name stored in `backfill_jobs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Window => "window",
            JobKind::Snapshot => "snapshot",
        }
    }
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "window" => Some(JobKind::Window),
            "snapshot" => Some(JobKind::Snapshot),
            _ => None,
        }
    }
}

/// Lifecycle of a backfill job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Not started (or reset after a killed run).
    Pending,
    /// Started by the running engine.
    Running,
    /// Stored completely.
    Done,
    /// Failed; retried by the next run.
    Failed,
    /// Replaced by smaller jobs.
    Split,
}

impl JobStatus {
    /// The name stored in `backfill_jobs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Split => "split",
        }
    }
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JobStatus::Pending,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            "split" => JobStatus::Split,
            _ => return None,
        })
    }
}

/// A stored backfill job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackfillJob {
    /// `backfill_jobs.id`.
    pub id: i64,
    /// What to read.
    pub job: PlannedJob,
    /// Where it is.
    pub status: JobStatus,
    /// Times started.
    pub attempts: i32,
    /// Records stored (when done).
    pub records: i64,
    /// Requests made (when done).
    pub requests: i32,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// The metrics of one run (the seed's `SyncMetrics`), written into `sync_runs` at its end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// When the run ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Records read from Finale.
    pub items_seen: u64,
    /// Rows written (inserted, updated or deleted) over all mirror and derived tables.
    pub items_changed: u64,
    /// Records quarantined.
    pub items_failed: u64,
    /// `items_seen` per second of wall time.
    pub items_per_sec: f64,
    /// Whether the run completed.
    pub success: bool,
    /// Error kinds with counts, most frequent first.
    pub error_patterns: Vec<(String, u64)>,
    /// Finale request latency, median (ms).
    pub network_p50_ms: Option<f64>,
    /// Finale request latency, 95th percentile (ms).
    pub network_p95_ms: Option<f64>,
    /// Mean store call latency (ms).
    pub db_latency_ms: Option<f64>,
    /// Requests per budget bucket (`get`, `post`, `collection`).
    pub requests: BTreeMap<String, u64>,
    /// A short summary (critical triggers, failure reason).
    pub notes: Option<String>,
}

/// A `sync_runs` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `sync_runs.id`.
    pub id: i64,
    /// Which strategy.
    pub strategy: Strategy,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Who ran it.
    pub runner: Option<String>,
    /// Its metrics; `finished_at == None` while running (or if its process died).
    pub metrics: RunMetrics,
}

/// One row of the budget ledger: `count` requests of the budget named `bucket` granted in the
/// one-minute slot starting at `slot`. The store only adds and reads them; what a bucket is
/// belongs to the engine.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BudgetSpend {
    /// The budget's name (`get`, `post`, `collection`).
    pub bucket: String,
    /// Start of the slot.
    pub slot: DateTime<Utc>,
    /// Requests granted in the slot.
    pub count: u32,
}

/// Who wants (or holds) the writer role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterInfo {
    /// `host:pid` or another human-readable name.
    pub runner: String,
    /// What it is doing (`full`, `smart`, `critical`, `serve`).
    pub purpose: String,
}

/// Holding the writer role. [`WriterLease::release`] gives it up and returns once another
/// engine can take it; dropping the lease also releases it, eventually (a Postgres server
/// notices a closed session with a delay). A background task renews the lease
/// ([`crate::lease`]) while this value lives.
#[async_trait::async_trait]
pub trait WriterLease: Send + Sync + std::fmt::Debug {
    /// Who holds it (this process).
    fn holder(&self) -> &WriterInfo;

    /// Releases the role now.
    async fn release(self: Box<Self>) {
        drop(self);
    }

    /// To whom the role was lost (`runner (purpose)`), once a renewal found the lease taken
    /// over; `None` while it is held.
    fn lost_to(&self) -> Option<String> {
        None
    }

    /// Completes when a renewal finds the lease taken over, with the new holder.
    async fn lost(&self) -> String {
        std::future::pending().await
    }

    /// Stops renewing the lease, as a frozen holder would (tests of the takeover).
    fn stop_renewing(&self) {}
}

/// A record quarantined in `sync_errors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// `sync_errors.id`.
    pub id: i64,
    /// The record.
    pub record: Quarantined,
}

/// A whole store's mirror and derived content, sorted by key (tests compare it with the
/// simulator's truth; reconciliation compares two stores).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// By URL.
    pub facilities: Vec<FacilityRow>,
    /// By URL.
    pub parties: Vec<PartyRow>,
    /// By URL, children by position.
    pub products: Vec<ProductRow>,
    /// By (product, facility).
    pub stock: Vec<StockRow>,
    /// By URL, lines by position.
    pub orders: Vec<OrderRow>,
    /// By (product, day).
    pub daily_sales: Vec<DailySalesRow>,
    /// By `finale_id`.
    pub items: Vec<ItemRow>,
}

/// The store interface. Every method is one round of I/O against the store; all writes are
/// transactional. See the module docs for the contract.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// `postgres user@host:port/db` or `sqlite /path`: for messages (never a secret).
    fn describe(&self) -> String;

    /// Writes a batch atomically (see [`Batch`]).
    async fn apply(&self, batch: &Batch, now: DateTime<Utc>) -> Result<Applied, StoreError>;

    /// Every stored stock row's hash.
    async fn stock_hashes(&self) -> Result<BTreeMap<StockKey, Hash>, StoreError>;

    /// Rebuilds `daily_sales` for the products in scope from stored sales-order lines,
    /// writing only days that differ and deleting days that no longer have sales.
    async fn refresh_daily_sales(
        &self,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Writes, StoreError>;

    /// One [`ItemInput`] per stored product in scope, by product URL, with units sold in
    /// the 30 and 90 business days up to `today` (the account's day, see the module docs).
    async fn item_inputs(
        &self,
        scope: &Scope,
        today: NaiveDate,
    ) -> Result<Vec<ItemInput>, StoreError>;

    /// Sets every stored order's `order_day` to its business day in `zone`
    /// ([`crate::rows::business_day`]), writing only orders whose day differs; returns how
    /// many were written. The engine calls it when the account's time zone changed.
    async fn set_order_days(&self, zone: Tz, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Upserts the seed's rows by `finale_id` (new rows get a fresh `id`): rows whose hash
    /// differs are written with `last_updated = finale_last_sync = now`; unchanged rows get
    /// `finale_last_sync = now` only when it is NULL or older than `confirm_before` (so a
    /// repeated run writes nothing while the confirmation is fresh).
    async fn upsert_items(
        &self,
        rows: &[ItemRow],
        now: DateTime<Utc>,
        confirm_before: DateTime<Utc>,
    ) -> Result<ItemWrites, StoreError>;

    /// The seed's `get_items_needing_sync(strategy, limit)`.
    async fn items_needing_sync(
        &self,
        strategy: Strategy,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<SyncCandidate>, StoreError>;

    /// Reads a `sync_state` value.
    async fn get_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError>;

    /// Opens a `sync_runs` row and returns its id.
    async fn begin_run(
        &self,
        strategy: Strategy,
        runner: &str,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Completes a `sync_runs` row.
    async fn finish_run(&self, id: i64, metrics: &RunMetrics) -> Result<(), StoreError>;

    /// Closes runs left open by a process that died (`success = false`, a note saying so);
    /// returns how many. Call only while holding the writer role.
    async fn close_abandoned_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The newest runs first.
    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError>;

    /// The start of the newest *successful* run of each strategy that has one (what the
    /// schedule needs; unlike [`Store::recent_runs`] it sees a daily run behind hundreds of
    /// stock pulses). Sorted by strategy name.
    async fn last_successes(&self) -> Result<Vec<(Strategy, DateTime<Utc>)>, StoreError>;

    /// Inserts planned jobs that do not exist yet (same collection and window); returns how
    /// many were new.
    async fn plan_backfill(
        &self,
        jobs: &[PlannedJob],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Every backfill job, ordered by id.
    async fn backfill_jobs(&self) -> Result<Vec<BackfillJob>, StoreError>;

    /// Marks `running` jobs (left by a killed process) `pending` again; returns how many.
    async fn reset_interrupted_jobs(&self) -> Result<u64, StoreError>;

    /// Marks a job `running` and counts the attempt.
    async fn start_job(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Marks a job `failed` with the error (it is retried by the next run).
    async fn fail_job(&self, id: i64, error: &str) -> Result<(), StoreError>;

    /// The newest quarantined records first.
    async fn quarantined(&self, limit: u32) -> Result<Vec<QuarantineRecord>, StoreError>;

    /// Adds spends to the budget ledger in one transaction: each (bucket, slot) row grows by
    /// the spend's count (created when absent; spends of one key in the list add up; a zero
    /// count writes nothing).
    async fn record_spends(&self, spends: &[BudgetSpend]) -> Result<(), StoreError>;

    /// The ledger's rows whose slot starts at or after `since`, sorted by bucket name, then
    /// slot.
    async fn budget_spends(&self, since: DateTime<Utc>) -> Result<Vec<BudgetSpend>, StoreError>;

    /// Deletes the ledger's rows whose slot starts before `before`; returns how many.
    async fn prune_budget_spends(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Takes the writer role with the default lease TTL ([`crate::lease::DEFAULT_TTL`]); see
    /// [`Store::acquire_writer_for`].
    async fn acquire_writer(
        &self,
        me: &WriterInfo,
        wait: Option<Duration>,
    ) -> Result<Box<dyn WriterLease>, StoreError> {
        self.acquire_writer_for(me, wait, crate::lease::DEFAULT_TTL)
            .await
    }

    /// Takes the writer role with a lease of `ttl` (renewed every quarter of it while the
    /// returned lease lives), or fails with [`StoreError::WriterBusy`] naming the holder. An
    /// expired lease is taken over ([`crate::lease`]). With `wait`, retries until the role is
    /// free or `wait` has passed.
    async fn acquire_writer_for(
        &self,
        me: &WriterInfo,
        wait: Option<Duration>,
        ttl: Duration,
    ) -> Result<Box<dyn WriterLease>, StoreError>;

    /// The writer role's lease as stored (`None` when nobody holds the role), for `status`.
    async fn writer_lease(&self) -> Result<Option<crate::lease::LeaseInfo>, StoreError>;

    /// The whole mirror and derived content (tests, reconciliation).
    async fn snapshot(&self) -> Result<Snapshot, StoreError>;

    /// One opaque marker per mirror and derived table that changes whenever a row of it is
    /// inserted, updated or deleted (tests prove "nothing was written" with it).
    async fn write_marks(&self) -> Result<BTreeMap<String, String>, StoreError>;
}
