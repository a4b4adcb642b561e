//! [`SqliteStore`]: the local store, the [`Store`] interface on one SQLite file (or an
//! in-memory database in tests).
//!
//! # Threads and connections
//!
//! - **One connection, serialised.** The store owns one `rusqlite::Connection` behind a
//!   `std::sync::Mutex` in an `Arc` (clones share it). SQLite has one writer at a time
//!   anyway, and the engine is the local store's only writer, so a pool would only add lock
//!   waits. Readers in other processes (the CLI's `status`, the desktop UI) open their own
//!   connections; WAL lets them read while the engine writes.
//! - **Never on the runtime's threads.** Every trait method moves its work to
//!   `tokio::task::spawn_blocking`: SQLite calls block (disk I/O, `fsync`, the busy timeout),
//!   and blocking a Tokio worker would stall the Finale client's requests. Arguments are
//!   cloned into the blocking task (a batch is a few hundred rows: cheap next to writing it).
//! - **Cached statements.** Every statement goes through `prepare_cached`, so a batch of 500
//!   rows compiles each statement once per connection, not once per row.
//!
//! # Writes
//!
//! [`Store::apply`] is one `BEGIN IMMEDIATE` transaction (the write lock is taken up front,
//! so a concurrent reader cannot turn it into a deadlock-retry later, and what the
//! transaction reads stays true until it commits). Every mirrored table goes through the one
//! generic path of [`super::table`], driven by the table's column description
//! ([`crate::table`]); `apply` only says which tables, in which order, and what the report
//! adds ([`crate::table::report`]). Per row: an `INSERT ... ON CONFLICT (key) DO NOTHING`
//! (a fresh load's only statement per row, like a bulk insert); when the key exists, the
//! stored hash is read by primary key (an indexed point lookup in the same process:
//! microseconds) and the row updated by key when it differs. No race needs handling under
//! the write lock. A changed parent's owned children are read (one indexed range read
//! per parent) and compared by position (`seq`): equal rows are skipped, differing ones
//! updated, new positions inserted, positions beyond the new list deleted with one `DELETE
//! ... WHERE seq >= ?`. A new parent has no stored children and skips the read. The
//! pre-reads also fetch what the report needs: a product's old cost and list price, an
//! order's old type (its stored lines come from the children's read). Each statement is
//! prepared once per table and batch.
//!
//! - Child tables count what was written: a product whose cost alone changed reports nothing
//!   for `product_suppliers`; two supplier links replaced by three whose first differs report
//!   1 updated and 1 inserted.
//! - A key appearing twice in one batch is written once, with its last occurrence (the same
//!   rule as the Postgres store).
//! - Stock deletions run before stock upserts.
//! - `job_done` naming a job that does not exist fails the whole batch.
//! - Non-finite numbers are refused before anything is written ([`StoreError::Corrupt`]):
//!   SQLite would store a NaN as NULL, silently, in a nullable column. The row model already
//!   rejects them; this is the cheap second guard.
//!
//! # Derived data
//!
//! Daily sales are folded in Rust from sales-order lines read in a fixed order (product, day,
//! order URL, line position) with plain `f64` addition, so a repeated refresh over the same
//! lines gives bit-identical sums (SQLite's own `sum()` compensates rounding, Postgres' does
//! not: folding here keeps the definition independent of either). The day of an order is
//! the stored `order_day` (`YYYY-MM-DD` text, the account's business day computed in Rust).
//! [`Store::item_inputs`] folds stock (by facility), guidelines (by position) and daily sales
//! (by day) the same way.
//!
//! # What `write_marks` can see
//!
//! A table's mark is its row count and a BLAKE3 digest of every row (its `rowid` and every
//! column, generated ones included) in `rowid` order. Any insert, delete, or update that
//! changes a value changes it; every engine write moves a bookkeeping timestamp
//! (`updated_at`, `last_updated`, `finale_last_sync`) to the caller's `now`. Two writes it
//! cannot see: an update that leaves every column as it was (the same content written at the
//! same `now`; an equal child row is never written at all), and deleting then inserting
//! identical rows that SQLite happens to give the same rowids (it reuses the highest ones).
//! Compare marks across calls made with
//! distinct `now` values. Computing a mark reads the whole table: it is for tests and
//! reconciliation, not for the hot path.
//!
//! # The writer role
//!
//! A file lock beside the database ([`super::lock`]) and the renewed lease row, with the
//! fence on this store's connection while it holds the role (module `lease`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

use super::lock::{MemoryLock, lock_path};
use super::{StoreError, migrate, open, open_in_memory};
use crate::derive::ItemInput;
use crate::lease::LeaseInfo;
use crate::rows::{Hash, ItemRow, StockKey};
use crate::{
    Applied, BackfillJob, Batch, ItemWrites, PlannedJob, QuarantineRecord, RunMetrics, RunRecord,
    Scope, Snapshot, Store, WriterInfo, WriterLease, Writes,
};
use crate::{Strategy, SyncCandidate};

mod apply;
mod budget;
mod conv;
mod derived;
mod lease;
mod read;
mod runs;

/// How long [`Store::acquire_writer`] waits between attempts when asked to wait.
pub const WRITER_RETRY: Duration = Duration::from_millis(250);

/// Statements kept compiled per connection (every statement the store uses fits).
const STATEMENT_CACHE: usize = 96;

/// The local store; see the module docs. Clones share the connection and the writer slot.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    /// The database file; `None` for an in-memory store.
    path: Option<PathBuf>,
    /// The writer role of an in-memory store.
    memory_lock: MemoryLock,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the local store at `path` and migrates it
    /// ([`super::open()`] then [`super::migrate()`]; a newer schema is refused).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let mut conn = open(path)?;
        migrate(&mut conn)?;
        // An absolute path names the lock file the same way whatever the working directory.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(Self::wrap(conn, Some(path)))
    }

    /// A fresh, private, migrated in-memory store (tests). Its writer role is an in-process
    /// slot shared by its clones.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let mut conn = open_in_memory()?;
        migrate(&mut conn)?;
        Ok(Self::wrap(conn, None))
    }

    fn wrap(conn: Connection, path: Option<PathBuf>) -> SqliteStore {
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
                memory_lock: MemoryLock::default(),
            }),
        }
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The writer lock file (`<database>.writer.lock`), `None` in memory.
    pub fn writer_lock_path(&self) -> Option<PathBuf> {
        self.inner.path.as_deref().map(lock_path)
    }

    /// Runs `f` on the connection on Tokio's blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            // A panic mid-call rolled its transaction back when the transaction was dropped:
            // the connection is usable, the poison carries no meaning here.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            match f(&mut conn) {
                Err(e) if lease::is_fence_error(&e) => Err(StoreError::LostWriterRole {
                    holder: lease::current_holder(&conn),
                }),
                r => r,
            }
        });
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(StoreError::Sqlite {
                what: "run a store call (the runtime is shutting down)",
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                    None,
                ),
            }),
        }
    }

    /// One attempt to take the writer role (see module `lease`).
    async fn try_acquire(
        &self,
        me: &WriterInfo,
        ttl: Duration,
    ) -> Result<Box<dyn WriterLease>, StoreError> {
        let inner = Arc::clone(&self.inner);
        let me = me.clone();
        let task = tokio::task::spawn_blocking(move || lease::attempt(&inner, &me, ttl));
        match task.await {
            Ok(Ok(Ok(lease))) => Ok(Box::new(lease)),
            Ok(Ok(Err(holder))) => Err(StoreError::WriterBusy { holder }),
            Ok(Err(e)) => Err(e),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(StoreError::WriterBusy {
                holder: "unknown (the runtime is shutting down)".to_owned(),
            }),
        }
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        match &self.inner.path {
            Some(p) => format!("sqlite {}", p.display()),
            None => "sqlite :memory:".to_owned(),
        }
    }

    async fn apply(&self, batch: &Batch, now: DateTime<Utc>) -> Result<Applied, StoreError> {
        let batch = batch.clone();
        self.call(move |conn| apply::apply(conn, &batch, now)).await
    }

    async fn stock_hashes(&self) -> Result<std::collections::BTreeMap<StockKey, Hash>, StoreError> {
        self.call(read::stock_hashes).await
    }

    async fn refresh_daily_sales(
        &self,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Writes, StoreError> {
        let scope = scope.clone();
        self.call(move |conn| derived::refresh_daily_sales(conn, &scope, now))
            .await
    }

    async fn item_inputs(
        &self,
        scope: &Scope,
        today: NaiveDate,
    ) -> Result<Vec<ItemInput>, StoreError> {
        let scope = scope.clone();
        self.call(move |conn| derived::item_inputs(conn, &scope, today))
            .await
    }

    async fn set_order_days(&self, zone: Tz, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.call(move |conn| derived::set_order_days(conn, zone, now))
            .await
    }

    async fn upsert_items(
        &self,
        rows: &[ItemRow],
        now: DateTime<Utc>,
        confirm_before: DateTime<Utc>,
    ) -> Result<ItemWrites, StoreError> {
        let rows = rows.to_vec();
        self.call(move |conn| derived::upsert_items(conn, &rows, now, confirm_before))
            .await
    }

    async fn items_needing_sync(
        &self,
        strategy: Strategy,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<SyncCandidate>, StoreError> {
        self.call(move |conn| super::items_needing_sync(conn, strategy, limit, now))
            .await
    }

    async fn get_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let key = key.to_owned();
        self.call(move |conn| runs::get_state(conn, &key)).await
    }

    async fn begin_run(
        &self,
        strategy: Strategy,
        runner: &str,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let runner = runner.to_owned();
        self.call(move |conn| runs::begin_run(conn, strategy, &runner, started_at))
            .await
    }

    async fn finish_run(&self, id: i64, metrics: &RunMetrics) -> Result<(), StoreError> {
        let metrics = metrics.clone();
        self.call(move |conn| runs::finish_run(conn, id, &metrics))
            .await
    }

    async fn close_abandoned_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.call(move |conn| runs::close_abandoned_runs(conn, now))
            .await
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        self.call(move |conn| runs::recent_runs(conn, limit)).await
    }

    async fn last_successes(&self) -> Result<Vec<(Strategy, DateTime<Utc>)>, StoreError> {
        self.call(runs::last_successes).await
    }

    async fn plan_backfill(
        &self,
        jobs: &[PlannedJob],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let jobs = jobs.to_vec();
        self.call(move |conn| runs::plan_backfill(conn, &jobs, now))
            .await
    }

    async fn backfill_jobs(&self) -> Result<Vec<BackfillJob>, StoreError> {
        self.call(runs::backfill_jobs).await
    }

    async fn reset_interrupted_jobs(&self) -> Result<u64, StoreError> {
        self.call(runs::reset_interrupted_jobs).await
    }

    async fn start_job(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.call(move |conn| runs::start_job(conn, id, now)).await
    }

    async fn fail_job(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let error = error.to_owned();
        self.call(move |conn| runs::fail_job(conn, id, &error))
            .await
    }

    async fn quarantined(&self, limit: u32) -> Result<Vec<QuarantineRecord>, StoreError> {
        self.call(move |conn| runs::quarantined(conn, limit)).await
    }

    async fn record_spends(&self, spends: &[crate::BudgetSpend]) -> Result<(), StoreError> {
        let spends = spends.to_vec();
        self.call(move |conn| budget::record_spends(conn, &spends))
            .await
    }

    async fn budget_spends(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<crate::BudgetSpend>, StoreError> {
        self.call(move |conn| budget::budget_spends(conn, since))
            .await
    }

    async fn prune_budget_spends(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.call(move |conn| budget::prune_budget_spends(conn, before))
            .await
    }

    async fn acquire_writer_for(
        &self,
        me: &WriterInfo,
        wait: Option<Duration>,
        ttl: Duration,
    ) -> Result<Box<dyn WriterLease>, StoreError> {
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            match self.try_acquire(me, ttl).await {
                Err(StoreError::WriterBusy { holder }) => {
                    let now = tokio::time::Instant::now();
                    match deadline {
                        Some(d) if now < d => {
                            tokio::time::sleep(WRITER_RETRY.min(d - now)).await;
                        }
                        _ => return Err(StoreError::WriterBusy { holder }),
                    }
                }
                other => return other,
            }
        }
    }

    async fn writer_lease(&self) -> Result<Option<LeaseInfo>, StoreError> {
        self.call(lease::lease_info).await
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.call(read::snapshot).await
    }

    async fn write_marks(&self) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        self.call(read::write_marks).await
    }
}
