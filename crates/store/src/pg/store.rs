//! [`PgStore`]: the shared store, the [`Store`] interface on Postgres (or Supabase).
//!
//! # Connections
//!
//! - **A tiny fixed pool.** [`PgStore::connect`] opens [`PgOptions::connections`] clients
//!   (default 3: the smart strategy writes three batches at once) with [`super::connect()`].
//!   A call checks one out for its duration and returns it afterwards; a client whose
//!   connection has died is replaced by a fresh one at the next checkout, so a long-running
//!   `serve` survives a restarted database.
//! - **Pooler-safe statements.** Supabase's transaction-mode pooler (port 6543) hands each
//!   transaction to any server session, so named prepared statements do not survive from one
//!   transaction to the next. Every statement here is either an unnamed statement with typed
//!   parameters (`query_typed`/`execute_typed`: Parse, Bind, Execute in one round trip) or a
//!   simple query (`batch_execute`, `BEGIN`/`COMMIT`). Nothing is prepared by name, and no
//!   session state is relied on in the pool.
//! - **The writer lock needs a session.** [`Store::acquire_writer`] holds a session advisory
//!   lock on a dedicated connection (see [`super::lock`]), which a transaction-mode pooler
//!   cannot keep: with the pooler, pass a direct or session-mode URL (Supabase port 5432) as
//!   [`PgOptions::lock_url`].
//! - **Fenced writes.** While the store holds the writer role, every write runs in a
//!   transaction that first checks the lease token ([`super::lock::check_fence`]): the
//!   multi-statement writes check inside their own transaction, the single-statement ones
//!   are wrapped in `BEGIN` / check / statement / `COMMIT` ([`Fenced`]).
//! - The schema is not migrated here: call [`super::migrate()`] first (over a direct or
//!   session-mode connection too).
//!
//! # Writes
//!
//! [`Store::apply`] is one transaction (`client.transaction()`), a handful of statements
//! whatever the batch size; no statement runs per row. Every mirrored table goes through the
//! one generic path of [`super::table`], driven by the table's column description
//! ([`crate::table`]); `apply` only says which tables, in which order, and what the report
//! adds ([`crate::table::report`]). For each table:
//!
//! 1. **Pre-read** the stored hashes of the batch's keys in one statement
//!    (`SELECT key, content_hash, ... WHERE url = ANY($1)`), with what the report needs
//!    besides ([`crate::table::Hashed::Old`]: a product's old cost and list price, an order's
//!    old type). Rows whose hash is unchanged are dropped here and cost nothing more.
//! 2. **Insert** the rows the pre-read did not find with ONE plain `INSERT ... SELECT ...
//!    FROM unnest($1::text[], $2::float8[], ...)`: no conflict handling, which costs a third
//!    more per row (measured with the change feed's triggers on). A concurrent batch that
//!    inserted one of these keys meanwhile makes the statement fail with a unique violation:
//!    the whole batch is rolled back and tried again (as after a deadlock), and its pre-read
//!    then sees the other batch's rows.
//! 3. **Upsert** the rows whose stored hash differs with ONE `INSERT ... ON CONFLICT (key) DO
//!    UPDATE SET ... WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash RETURNING
//!    key, (t.xmax = 0)`. Timestamps come from `now`: `first_seen_at` and `updated_at` on
//!    insert, `updated_at` on change. Hashes travel as `bytea[]`.
//! 4. **Children** of the written parents, by position (`seq`), per child table: a new
//!    parent's are inserted; a replaced parent's stored children are read (one `SELECT ...
//!    WHERE parent = ANY($1)`) and compared in Rust. Then one plain `INSERT` of the new
//!    positions, one `UPDATE ... FROM unnest(...)` of the differing ones, one `DELETE ...
//!    USING unnest($1::text[], $2::int4[]) AS k(parent, len) WHERE seq >= k.len` of the
//!    vanished ones. The read is exact: our upsert holds the parent's row lock until commit,
//!    and every writer of a parent's children takes that lock first. The stored lines of a
//!    replaced sales order give its old products to [`Applied::sales_products`].
//!
//! The report is exactly what was written: new rows were inserted by step 2, step 3's
//! `RETURNING` rows tell an insert from an update (`xmax = 0`: a freshly inserted row version
//! has no `xmax`; one updated by `ON CONFLICT` carries its locker), and child writes are
//! counted from the diff. A product whose cost alone changed reports `products` 1 updated
//! and nothing for `product_suppliers`; an order whose list lost its last line and changed
//! another reports `order_lines` 1 updated, 1 deleted.
//!
//! Rows are written in key order, one per key (the last occurrence of a key in a batch
//! wins): concurrent batches (the smart strategy writes three at once) then lock shared rows
//! in the same order and wait for each other instead of deadlocking.
//!
//! Queries are kept cheap to plan on purpose: a statement whose estimated cost passes
//! Postgres' `jit_above_cost` is JIT-compiled first, which costs more than a batch's whole
//! write (measured: ~175 ms per pre-read that had a correlated subquery).
//!
//! Derived data ([`Store::refresh_daily_sales`], [`Store::item_inputs`]) is computed in SQL
//! with ordered aggregates (`sum(x ORDER BY ...)`), so repeating a computation over the same
//! rows gives bit-identical floating-point sums and a repeated refresh writes nothing.
//! `inventory_items` rows are upserted by `finale_id` (new rows get the column default
//! `gen_random_uuid()`), unchanged ones only have `finale_last_sync` confirmed.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::Client;

use super::connect::{ConnectPlan, plan_connection};
use crate::derive::ItemInput;
use crate::lease::LeaseInfo;
use crate::rows::{Hash, ItemRow, StockKey};
use crate::{
    Applied, BackfillJob, Batch, ItemWrites, PlannedJob, QuarantineRecord, RunMetrics, RunRecord,
    Scope, Snapshot, Store, WriterInfo, WriterLease, Writes,
};
use crate::{StoreError, Strategy, SyncCandidate};

mod apply;
mod budget;
mod derived;
mod read;
mod runs;

/// How [`PgStore::connect`] sets up its connections.
#[derive(Clone)]
pub struct PgOptions {
    /// Size of the connection pool (at least 1; default 3).
    pub connections: usize,
    /// A direct or session-mode URL for the writer lock's dedicated connection, when the main
    /// URL points at a transaction-mode pooler. `None`: the main URL.
    pub lock_url: Option<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            connections: 3,
            lock_url: None,
        }
    }
}

impl fmt::Debug for PgOptions {
    // A URL may carry a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("connections", &self.connections)
            .field("lock_url", &self.lock_url.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The shared store on Postgres; see the module docs. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

/// The port of Supabase's (and PgBouncer's customary) transaction-mode pooler.
pub const TRANSACTION_POOLER_PORT: u16 = 6543;

/// For a URL that points at Supabase's transaction-mode pooler (`*.pooler.supabase.com`,
/// port 6543), the same URL in session mode (port 5432), which can hold the writer's
/// session advisory lock. `None` for anything else.
pub fn supabase_session_url(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    if !host.ends_with(".pooler.supabase.com") || parsed.port() != Some(TRANSACTION_POOLER_PORT) {
        return None;
    }
    parsed.set_port(Some(5432)).ok()?;
    Some(parsed.to_string())
}

/// How to reach a **session** on the store behind `url`: what the writer lock's connection
/// and a mirror's `LISTEN` connection need (Supabase's transaction pooler keeps neither a
/// session lock nor a `LISTEN`). The rule: an explicit `lock_url` wins; else Supabase's
/// transaction pooler (port 6543) becomes its session mode on the same host (port 5432); else
/// the URL itself (with a warning when its port looks like a transaction pooler).
pub fn session_plan(url: &str, lock_url: Option<&str>) -> Result<ConnectPlan, StoreError> {
    let plan = plan_connection(url)?;
    Ok(match (lock_url, supabase_session_url(url)) {
        (Some(lock_url), _) => plan_connection(lock_url)?,
        (None, Some(session)) => {
            tracing::info!(
                "the store URL is Supabase's transaction pooler: session connections (writer lock, LISTEN) use its session mode (port 5432)"
            );
            plan_connection(&session)?
        }
        (None, None) => {
            if plan.config().get_ports().contains(&TRANSACTION_POOLER_PORT) {
                tracing::warn!(
                    target_db = %plan.target(),
                    "port 6543 is usually a transaction-mode pooler, which cannot hold a session (writer lock, LISTEN): set a direct or session-mode lock URL"
                );
            }
            plan
        }
    })
}

struct Inner {
    /// How pool connections are (re)opened.
    plan: ConnectPlan,
    /// How the writer lock's dedicated connection is opened.
    lock_plan: ConnectPlan,
    /// Idle clients.
    idle: Mutex<Vec<Client>>,
    /// One permit per pooled connection.
    permits: Semaphore,
    /// The lease token this store's writes are fenced with while it holds the writer role.
    fence: super::lock::FenceSlot,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.inner.plan.target())
            .field("lock_target", &self.inner.lock_plan.target())
            .field("connections", &self.inner.permits.available_permits())
            .finish()
    }
}

impl PgStore {
    /// Opens the pool (all connections at once, so a bad URL or password fails here). Does
    /// not migrate: call [`super::migrate()`] first.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<PgStore, StoreError> {
        let plan = plan_connection(url)?;
        let lock_plan = session_plan(url, opts.lock_url.as_deref())?;
        let n = opts.connections.max(1);
        let clients = futures::future::try_join_all((0..n).map(|_| plan.connect())).await?;
        Ok(PgStore {
            inner: Arc::new(Inner {
                plan,
                lock_plan,
                idle: Mutex::new(clients),
                permits: Semaphore::new(n),
                fence: super::lock::FenceSlot::default(),
            }),
        })
    }

    /// Checks a client out of the pool (waiting while all are busy). It returns to the pool
    /// when the guard is dropped. Use only unnamed statements on it (see the module docs).
    pub async fn client(&self) -> Result<PooledClient<'_>, StoreError> {
        let permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Corrupt {
                what: "the connection pool was closed".to_owned(),
            })?;
        let idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let client = match idle {
            Some(client) if !client.is_closed() => client,
            _ => self.inner.plan.connect().await?,
        };
        Ok(PooledClient {
            client: Some(client),
            store: &self.inner,
            _permit: permit,
        })
    }

    /// `user@host:port/db` of the pool's connections (never the password).
    pub fn target(&self) -> &str {
        self.inner.plan.target()
    }

    /// Who holds the writer role now, if anyone (see [`super::lock::writer_holder`]).
    pub async fn writer_holder(&self) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        super::lock::writer_holder(&client).await
    }

    /// [`Store::acquire_writer_for`] with the concrete lease (tests look at its session).
    pub async fn acquire_pg_writer(
        &self,
        me: &WriterInfo,
        wait: Option<Duration>,
        ttl: Duration,
    ) -> Result<super::PgWriterLease, StoreError> {
        super::lock::acquire(&self.inner.lock_plan, me, wait, ttl, &self.inner.fence).await
    }

    /// The lease token writes must find, while this store holds the writer role.
    fn fence_token(&self) -> Option<String> {
        self.inner
            .fence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Opens a fenced write on `client`: `BEGIN` and the lease check while this store holds
    /// the writer role, nothing otherwise. Finish it with [`Fenced::end`].
    async fn fenced<'a, 'c>(
        &self,
        client: &'a mut PooledClient<'c>,
    ) -> Result<Fenced<'a, 'c>, StoreError> {
        let Some(token) = self.fence_token() else {
            return Ok(Fenced {
                client,
                open: false,
            });
        };
        client
            .batch_execute("BEGIN")
            .await
            .map_err(StoreError::query("begin a fenced write"))?;
        let guard = Fenced { client, open: true };
        super::lock::check_fence(&**guard.client, Some(&token)).await?;
        Ok(guard)
    }
}

/// A single-statement write wrapped in a transaction that starts with the lease check. Dropped
/// unfinished (an error, a cancelled future), it discards its connection, which rolls the
/// transaction back on the server.
struct Fenced<'a, 'c> {
    client: &'a mut PooledClient<'c>,
    open: bool,
}

impl Fenced<'_, '_> {
    /// Commits when `r` is `Ok`, rolls back otherwise; returns `r` (or the commit's error).
    async fn end<T>(mut self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if !self.open {
            return r;
        }
        let sql = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let done = self.client.batch_execute(sql).await;
        self.open = false;
        match (done, r) {
            (Ok(()), r) => r,
            (Err(e), Ok(_)) => {
                self.client.discard();
                Err(StoreError::Query {
                    what: "commit a fenced write",
                    source: e,
                })
            }
            (Err(_), r) => {
                self.client.discard();
                r
            }
        }
    }
}

impl Deref for Fenced<'_, '_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
    }
}

impl Drop for Fenced<'_, '_> {
    fn drop(&mut self) {
        if self.open {
            self.client.discard();
        }
    }
}

/// A client checked out of a [`PgStore`]'s pool; derefs to `tokio_postgres::Client`.
pub struct PooledClient<'a> {
    client: Option<Client>,
    store: &'a Inner,
    // Released after `Drop::drop` has put the client back.
    _permit: SemaphorePermit<'a>,
}

impl fmt::Debug for PooledClient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledClient")
            .field("target", &self.store.plan.target())
            .finish()
    }
}

impl PooledClient<'_> {
    /// Closes this connection instead of returning it to the pool (its session may be in a
    /// state the next user must not inherit, e.g. an open transaction).
    fn discard(&mut self) {
        self.client = None;
    }
}

impl Deref for PooledClient<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the client is only taken in Drop or after discard")
    }
}

impl DerefMut for PooledClient<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("the client is only taken in Drop or after discard")
    }
}

impl Drop for PooledClient<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // A closed client is not kept: the next checkout opens a fresh one.
            if !client.is_closed() {
                self.store
                    .idle
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(client);
            }
        }
    }
}

/// The rows of `rows` with distinct keys, sorted by key. A key written twice in one batch is
/// written once, with its last value (one upsert statement cannot touch a row twice). The
/// order makes concurrent batches (the smart strategy writes three at once) lock shared rows
/// in the same order, so they wait for each other instead of deadlocking.
pub(crate) fn last_wins<'a, T, K: Ord>(rows: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let by_key: std::collections::BTreeMap<K, &'a T> = rows.iter().map(|r| (key(r), r)).collect();
    by_key.into_values().collect()
}

/// `u64` → `i64` for a `bigint` column (saturating: no count reaches 2⁶³).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored `bytea` hash as a [`Hash`].
pub(crate) fn to_hash(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| StoreError::Corrupt {
        what: format!("{what}: content_hash has {} bytes, not 32", bytes.len()),
    })
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn describe(&self) -> String {
        format!("postgres {}", self.inner.plan.target())
    }

    async fn apply(&self, batch: &Batch, now: DateTime<Utc>) -> Result<Applied, StoreError> {
        let mut client = self.client().await?;
        let fence = self.fence_token();
        apply::apply(&mut client, batch, now, fence.as_deref()).await
    }

    async fn stock_hashes(&self) -> Result<BTreeMap<StockKey, Hash>, StoreError> {
        let client = self.client().await?;
        read::stock_hashes(&client).await
    }

    async fn refresh_daily_sales(
        &self,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Writes, StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = derived::refresh_daily_sales(&w, scope, now).await;
        w.end(r).await
    }

    async fn item_inputs(
        &self,
        scope: &Scope,
        today: NaiveDate,
    ) -> Result<Vec<ItemInput>, StoreError> {
        let mut client = self.client().await?;
        derived::item_inputs(&mut client, scope, today).await
    }

    async fn set_order_days(&self, zone: Tz, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let fence = self.fence_token();
        derived::set_order_days(&mut client, zone, now, fence.as_deref()).await
    }

    async fn upsert_items(
        &self,
        rows: &[ItemRow],
        now: DateTime<Utc>,
        confirm_before: DateTime<Utc>,
    ) -> Result<ItemWrites, StoreError> {
        let mut client = self.client().await?;
        let fence = self.fence_token();
        derived::upsert_items(&mut client, rows, now, confirm_before, fence.as_deref()).await
    }

    /// The seed's SQL function, which ranks by the database's `NOW()` (its definition), so
    /// `now` is not used here.
    async fn items_needing_sync(
        &self,
        strategy: Strategy,
        limit: u32,
        _now: DateTime<Utc>,
    ) -> Result<Vec<SyncCandidate>, StoreError> {
        let client = self.client().await?;
        super::items_needing_sync(&client, strategy, limit).await
    }

    async fn get_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let client = self.client().await?;
        runs::get_state(&client, key).await
    }

    async fn begin_run(
        &self,
        strategy: Strategy,
        runner: &str,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::begin_run(&w, strategy, runner, started_at).await;
        w.end(r).await
    }

    async fn finish_run(&self, id: i64, metrics: &RunMetrics) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::finish_run(&w, id, metrics).await;
        w.end(r).await
    }

    async fn close_abandoned_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::close_abandoned_runs(&w, now).await;
        w.end(r).await
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let client = self.client().await?;
        runs::recent_runs(&client, limit).await
    }

    async fn last_successes(&self) -> Result<Vec<(Strategy, DateTime<Utc>)>, StoreError> {
        let client = self.client().await?;
        runs::last_successes(&client).await
    }

    async fn plan_backfill(
        &self,
        jobs: &[PlannedJob],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::plan_backfill(&w, jobs, now).await;
        w.end(r).await
    }

    async fn backfill_jobs(&self) -> Result<Vec<BackfillJob>, StoreError> {
        let client = self.client().await?;
        runs::backfill_jobs(&client).await
    }

    async fn reset_interrupted_jobs(&self) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::reset_interrupted_jobs(&w).await;
        w.end(r).await
    }

    async fn start_job(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::start_job(&w, id, now).await;
        w.end(r).await
    }

    async fn fail_job(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = self.fenced(&mut client).await?;
        let r = runs::fail_job(&w, id, error).await;
        w.end(r).await
    }

    async fn quarantined(&self, limit: u32) -> Result<Vec<QuarantineRecord>, StoreError> {
        let client = self.client().await?;
        runs::quarantined(&client, limit).await
    }

    async fn record_spends(&self, spends: &[crate::BudgetSpend]) -> Result<(), StoreError> {
        let client = self.client().await?;
        budget::record_spends(&client, spends).await
    }

    async fn budget_spends(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<crate::BudgetSpend>, StoreError> {
        let client = self.client().await?;
        budget::budget_spends(&client, since).await
    }

    async fn prune_budget_spends(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        budget::prune_budget_spends(&client, before).await
    }

    async fn acquire_writer_for(
        &self,
        me: &WriterInfo,
        wait: Option<Duration>,
        ttl: Duration,
    ) -> Result<Box<dyn WriterLease>, StoreError> {
        Ok(Box::new(self.acquire_pg_writer(me, wait, ttl).await?))
    }

    async fn writer_lease(&self) -> Result<Option<LeaseInfo>, StoreError> {
        let client = self.client().await?;
        super::lock::lease_info(&client).await
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut client = self.client().await?;
        read::snapshot(&mut client).await
    }

    async fn write_marks(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let client = self.client().await?;
        read::write_marks(&client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supabase_transaction_pooler_urls_get_a_session_mode_lock_url() {
        let url = "postgres://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=require";
        assert_eq!(
            supabase_session_url(url).as_deref(),
            Some(
                "postgres://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres?sslmode=require"
            )
        );
        // Session mode already, a direct database, or another host: nothing to derive.
        assert_eq!(supabase_session_url(&url.replace(":6543", ":5432")), None);
        assert_eq!(
            supabase_session_url("postgres://u@db.abc.supabase.co:5432/postgres"),
            None
        );
        assert_eq!(supabase_session_url("postgres://u@127.0.0.1:6543/db"), None);
        assert_eq!(supabase_session_url("not a url"), None);
    }
}
