//! The mirror: the shared Postgres store → this workstation's local SQLite store.
//!
//! # Life of a mirror
//!
//! 1. **Hydrate** (a fresh cache, a cache of another store, or one that fell behind the
//!    feed's pruning horizon): one `REPEATABLE READ` snapshot of the store; every mirrored
//!    table streamed with binary `COPY` into the local store by one writer, table by table in
//!    [`store::pg::feed::MIRRORED_TABLES`] order — what the stock screen needs first
//!    (locations, products, suppliers, reorder rules, stock, items), then two years of orders
//!    and sales — committing every 50,000 rows so queries answer
//!    from what is there while `mirror_state.loading` says what is still coming. The
//!    snapshot's position is stored with the last rows; a hydration cut short restarts.
//! 2. **Catch up**: in one snapshot, everything at or after the applied position
//!    ([`store::pg::feed`] explains why that is commit-safe), applied in one SQLite
//!    transaction together with the events it yields and the position it reaches.
//! 3. **Follow**: `LISTEN` on a session connection (the writer lock's URL rule,
//!    [`store::pg::session_plan`]: never Supabase's transaction pooler), driven by
//!    `poll_message`; each notification (a position, never rows) triggers a catch-up. A
//!    catch-up also runs every [`SAFETY_CATCH_UP`] in case a notification was lost.
//! 4. **Reconcile** every [`RECONCILE_EVERY`]: per-table, per-bucket checksums on both sides
//!    ([`reconcile`]) find drift and repair only the differing rows; each result is recorded.
//! 5. On any disconnect: `offline` (queries keep answering from the cache), backoff with
//!    jitter, reconnect, re-`LISTEN`, catch up.

mod apply;
pub mod reconcile;
pub mod state;
pub(crate) mod tables;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{StreamExt, pin_mut};
use rusqlite::Connection;
use store::pg::feed::{self, Position};
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::{Client, IsolationLevel};

pub use apply::Applied;
use tables::{TablePlan, read_value};

use crate::events::{Bus, Envelope, Event};
use crate::{CacheError, CacheState, CacheStatus};

/// A catch-up runs at least this often, even without a notification.
pub const SAFETY_CATCH_UP: Duration = Duration::from_secs(10);
/// How often the mirror compares checksums with the store.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often the mirror registers its position in the store and prunes the feed.
pub const REGISTER_EVERY: Duration = Duration::from_secs(60);
/// A mirror not seen for this long no longer holds tombstones back.
pub const MIRROR_LIVE_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// Tombstones younger than this are always kept.
pub const TOMBSTONES_KEPT_AT_LEAST: Duration = Duration::from_secs(24 * 3600);
/// The first reconnection delay; it doubles up to [`MAX_BACKOFF`], with jitter.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest reconnection delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where the mirror reads and writes.
#[derive(Clone)]
pub struct MirrorConfig {
    /// The shared store's URL (may be Supabase's transaction pooler).
    pub database_url: String,
    /// A direct or session-mode URL for `LISTEN` (the writer lock's URL), if configured.
    pub lock_url: Option<String>,
    /// The local store file.
    pub local_path: PathBuf,
}

impl std::fmt::Debug for MirrorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs may carry passwords: never printed.
        f.debug_struct("MirrorConfig")
            .field("local_path", &self.local_path)
            .finish_non_exhaustive()
    }
}

/// What one pass ([`Mirror::sync_once`]) did.
#[derive(Debug, Clone, PartialEq)]
pub struct PassSummary {
    /// Whether the pass hydrated (else it caught up).
    pub hydrated: bool,
    /// Why it hydrated, when it did.
    pub reason: Option<String>,
    /// Rows written per table.
    pub tables: Vec<(String, u64)>,
    /// Rows deleted by tombstones.
    pub deleted: u64,
    /// The position reached.
    pub position: Position,
    /// Domain events the pass yielded.
    pub events: usize,
    /// How long it took.
    pub elapsed: Duration,
}

impl PassSummary {
    /// Rows written in all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// A mirror of one shared store into one local store.
pub struct Mirror {
    cfg: MirrorConfig,
    local: Arc<Mutex<Connection>>,
    mirror_id: String,
    bus: Bus,
    status: CacheStatus,
    plans: Option<Arc<Vec<TablePlan>>>,
    target: String,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("local_path", &self.cfg.local_path)
            .field("target", &self.target)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn lock(local: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    // A panic while holding the connection leaves SQLite consistent (transactions roll back).
    local
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Mirror {
    /// Opens (creating and migrating) the local store; connects to nothing yet.
    pub fn open(cfg: MirrorConfig, bus: Bus) -> Result<Self, CacheError> {
        let conn = crate::local::open_or_create(&cfg.local_path)?;
        let now = Utc::now();
        let mirror_id = state::ensure(&conn, now)?;
        let record = state::load(&conn)?;
        let target = store::pg::connect::plan_connection(&cfg.database_url)?
            .target()
            .to_owned();
        let status = CacheStatus {
            state: CacheState::Offline,
            since: now,
            position: record
                .as_ref()
                .and_then(|r| r.position)
                .map(|p| p.to_string()),
            data_as_of: record.as_ref().and_then(|r| r.status.data_as_of),
            loading: Vec::new(),
            message: Some("not connected yet".into()),
        };
        Ok(Self {
            cfg,
            local: Arc::new(Mutex::new(conn)),
            mirror_id,
            bus,
            status,
            plans: None,
            target,
        })
    }

    /// The shared store it mirrors, as `user@host:port/db` (never a password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The bus the mirror publishes its events and status changes on.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The cache's current state.
    pub fn status(&self) -> &CacheStatus {
        &self.status
    }

    /// Records and publishes a state change (a repeated state only moves the heartbeat).
    fn set_state(&mut self, state: CacheState, message: Option<String>) {
        let now = Utc::now();
        let changed = self.status.state != state || self.status.message != message;
        if self.status.state != state {
            self.status.since = now;
        }
        self.status.state = state;
        self.status.message = message;
        let conn = lock(&self.local);
        if let Ok(Some(rec)) = state::load(&conn) {
            self.status.position = rec.position.map(|p| p.to_string());
            self.status.data_as_of = rec.status.data_as_of;
            self.status.loading = rec.status.loading;
        }
        if let Err(err) = state::save_status(&conn, &self.status, now) {
            tracing::warn!(%err, "could not record the cache's state");
        }
        if changed {
            // Logged like any event, so `watch` in another process sees it too.
            let logged =
                crate::events::append(&conn, vec![Event::Status(self.status.clone())], now)
                    .unwrap_or_else(|err| {
                        tracing::warn!(%err, "could not log the cache's state");
                        vec![Envelope {
                            seq: None,
                            at: now,
                            event: Event::Status(self.status.clone()),
                        }]
                    });
            drop(conn);
            for e in logged {
                self.bus.publish(e);
            }
        }
    }

    async fn connect(&self) -> Result<Client, CacheError> {
        let client = store::pg::connect(&self.cfg.database_url).await?;
        Ok(client)
    }

    /// Checks the store's schema against this binary: a newer store is refused with a clear
    /// message (the cache keeps serving what it has).
    async fn check_schema(&self, client: &Client) -> Result<(), CacheError> {
        let version = store::pg::migrate::database_version(client).await?;
        store::MigrationReport::refuse_newer(version, store::pg::migrate::known_version())?;
        Ok(())
    }

    async fn plans(&mut self, client: &Client) -> Result<Arc<Vec<TablePlan>>, CacheError> {
        if let Some(p) = &self.plans {
            return Ok(p.clone());
        }
        let plans = tables::plan_tables(client, &self.cfg.local_path).await?;
        let plans = Arc::new(plans);
        self.plans = Some(plans.clone());
        Ok(plans)
    }

    /// Why this cache must hydrate before it can catch up, if it must.
    async fn hydration_reason(&self, client: &Client) -> Result<Option<String>, CacheError> {
        let info = feed::info(client).await?;
        let record = {
            let conn = lock(&self.local);
            state::load(&conn)?
        };
        let Some(record) = record else {
            return Ok(Some("a new cache".into()));
        };
        let Some(position) = record.position else {
            return Ok(Some(if record.hydrated_at.is_some() {
                "the last hydration did not finish".into()
            } else {
                "a new cache".into()
            }));
        };
        if record.store_identity.as_deref() != Some(info.identity.to_string().as_str()) {
            return Ok(Some("the cache held another store's data".into()));
        }
        if Position(position) < info.horizon {
            return Ok(Some(format!(
                "the cache fell behind the change feed's pruning horizon (at {position}, horizon {})",
                info.horizon
            )));
        }
        Ok(None)
    }

    /// One pass: hydrates when needed, else catches up. Publishes the events it yields.
    pub async fn sync_once(&mut self) -> Result<PassSummary, CacheError> {
        let mut client = self.connect().await?;
        self.check_schema(&client).await?;
        let plans = self.plans(&client).await?;
        match self.hydration_reason(&client).await? {
            Some(reason) => {
                tracing::info!(%reason, "hydrating the local store");
                self.hydrate(&mut client, &plans, reason).await
            }
            None => self.catch_up(&mut client, &plans).await,
        }
    }

    async fn hydrate(
        &mut self,
        client: &mut Client,
        plans: &Arc<Vec<TablePlan>>,
        reason: String,
    ) -> Result<PassSummary, CacheError> {
        let started = Instant::now();
        let info = feed::info(&*client).await?;
        {
            let conn = lock(&self.local);
            let names: Vec<&str> = plans.iter().map(|p| p.name).collect();
            state::begin_hydration(
                &conn,
                &info.identity.to_string(),
                &self.target,
                &names,
                Utc::now(),
            )?;
        }
        self.set_state(CacheState::Hydrating, Some(reason.clone()));
        let (tx, snapshot) = open_snapshot(client, "open the hydration snapshot").await?;
        let position = snapshot.xmin;

        // One writer on a blocking thread; the reader streams chunks to it.
        let (send, mut recv) = tokio::sync::mpsc::channel::<Chunk>(4);
        let local = self.local.clone();
        let writer_plans = plans.clone();
        let writer =
            tokio::task::spawn_blocking(move || -> Result<Vec<(String, u64)>, CacheError> {
                let conn = lock(&local);
                let result = write_hydration(&conn, &writer_plans, &mut recv);
                if result.is_err() {
                    apply::abandon(&conn);
                }
                result
            });
        let mut read_error = None;
        for (i, plan) in plans.iter().enumerate() {
            if let Err(err) = stream_table(&tx, i, plan, &send).await {
                read_error = Some(err);
                break;
            }
        }
        drop(send);
        let counts = writer
            .await
            .map_err(|e| CacheError::Mirror(format!("the hydration writer failed: {e}")))??;
        if let Some(err) = read_error {
            return Err(err);
        }
        tx.commit()
            .await
            .map_err(CacheError::postgres("close the hydration snapshot"))?;
        let local = self.local.clone();
        let now = Utc::now();
        tokio::task::spawn_blocking(move || {
            apply::finish_hydration(&mut lock(&local), &snapshot, now)
        })
        .await
        .map_err(|e| CacheError::Mirror(format!("the hydration writer failed: {e}")))??;
        self.register(client, position).await;
        self.set_state(CacheState::CatchingUp, None);
        Ok(PassSummary {
            hydrated: true,
            reason: Some(reason),
            tables: counts,
            deleted: 0,
            position,
            events: 0,
            elapsed: started.elapsed(),
        })
    }

    /// Applies every change at or after the cache's position, in one local transaction.
    async fn catch_up(
        &mut self,
        client: &mut Client,
        plans: &Arc<Vec<TablePlan>>,
    ) -> Result<PassSummary, CacheError> {
        let started = Instant::now();
        let Some((from, since)) = ({
            let conn = lock(&self.local);
            state::load(&conn)?.and_then(|r| Some((Position(r.position?), r.snapshot?)))
        }) else {
            return Err(CacheError::Mirror(
                "the cache has no position: it must hydrate first".into(),
            ));
        };
        let (tx, snapshot) = open_snapshot(client, "open the catch-up snapshot").await?;
        let to = snapshot.xmin;
        let (tombstones, rows) = read_changes(&tx, plans, &since).await?;
        tx.commit()
            .await
            .map_err(CacheError::postgres("close the catch-up snapshot"))?;
        if tombstones.is_empty() && rows.is_empty() && to == from {
            // Nothing changed and nothing ran: the stored snapshot still describes the cache.
            return Ok(PassSummary {
                hydrated: false,
                reason: None,
                tables: Vec::new(),
                deleted: 0,
                position: to,
                events: 0,
                elapsed: started.elapsed(),
            });
        }
        let local = self.local.clone();
        let plans = plans.clone();
        let now = Utc::now();
        let (applied, events) = tokio::task::spawn_blocking(move || {
            apply::apply_catch_up(
                &mut lock(&local),
                &plans,
                &tombstones,
                &rows,
                &snapshot,
                now,
            )
        })
        .await
        .map_err(|e| CacheError::Mirror(format!("the catch-up writer failed: {e}")))??;
        let n = events.len();
        for e in events {
            self.bus.publish(e);
        }
        self.status.position = Some(to.to_string());
        self.status.data_as_of = Some(now);
        Ok(PassSummary {
            hydrated: false,
            reason: None,
            tables: applied.upserted,
            deleted: applied.deleted,
            position: to,
            events: n,
            elapsed: started.elapsed(),
        })
    }

    /// Follows the store until `shutdown` completes: hydrate or catch up, then `LISTEN` and
    /// catch up on every notification; on any failure, `offline`, backoff with jitter and
    /// again. Returns an error only for what retrying cannot fix (a wrong password, a bad URL,
    /// a missing database).
    pub async fn run(
        &mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), CacheError> {
        tokio::pin!(shutdown);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let result = tokio::select! {
                () = &mut shutdown => return Ok(()),
                r = self.follow(&mut backoff) => r,
            };
            let Err(err) = result else { continue };
            if err.ends_mirror() {
                self.set_state(CacheState::Offline, Some(err.to_string()));
                return Err(err);
            }
            tracing::warn!(%err, retry_in = ?backoff, "the shared store is unreachable; serving from the cache");
            self.set_state(CacheState::Offline, Some(err.to_string()));
            let delay = jitter(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// One connected session: returns (with an error) when the connection is lost.
    async fn follow(&mut self, backoff: &mut Duration) -> Result<(), CacheError> {
        let session =
            store::pg::session_plan(&self.cfg.database_url, self.cfg.lock_url.as_deref())?;
        let (listener, mut notes) = session.connect_listener().await?;
        listener
            .batch_execute(&format!("LISTEN {}", feed::CHANNEL))
            .await
            .map_err(CacheError::postgres("listen for the change feed"))?;
        let mut client = self.connect().await?;
        self.check_schema(&client).await?;
        let plans = self.plans(&client).await?;
        if let Some(reason) = self.hydration_reason(&client).await? {
            self.hydrate(&mut client, &plans, reason).await?;
        } else {
            self.set_state(CacheState::CatchingUp, None);
        }
        let pass = self.catch_up(&mut client, &plans).await?;
        self.register(&client, pass.position).await;
        self.prune(&client).await;
        self.set_state(CacheState::Live, None);
        let _ = pass;
        *backoff = FIRST_BACKOFF;
        let mut last_register = Instant::now();
        let mut last_reconcile = Instant::now();
        let mut position;
        loop {
            tokio::select! {
                note = notes.recv() => {
                    if note.is_none() {
                        return Err(CacheError::Disconnected("the listening connection closed".into()));
                    }
                    // Everything already queued is covered by one catch-up.
                    while notes.try_recv().is_ok() {}
                }
                () = tokio::time::sleep(SAFETY_CATCH_UP) => {
                    let conn = lock(&self.local);
                    if let Err(err) = state::heartbeat(&conn, Utc::now()) {
                        tracing::warn!(%err, "could not record the mirror's heartbeat");
                    }
                }
            }
            position = self.catch_up(&mut client, &plans).await?.position;
            if last_register.elapsed() >= REGISTER_EVERY {
                self.register(&client, position).await;
                self.prune(&client).await;
                last_register = Instant::now();
            }
            if last_reconcile.elapsed() >= RECONCILE_EVERY {
                self.reconcile(&mut client).await?;
                last_reconcile = Instant::now();
            }
        }
    }

    /// Compares checksums with the store and repairs drift; the result is recorded in the
    /// local store (`mirror_reconciliations`) and returned.
    pub async fn reconcile(
        &mut self,
        client: &mut Client,
    ) -> Result<reconcile::Reconciliation, CacheError> {
        let plans = self.plans(client).await?;
        let result = reconcile::run(client, &self.local, &plans).await?;
        for e in result.events {
            self.bus.publish(e);
        }
        Ok(result.summary)
    }

    /// Connects and reconciles once (the `--reconcile` flag and the tests).
    pub async fn reconcile_once(&mut self) -> Result<reconcile::Reconciliation, CacheError> {
        let mut client = self.connect().await?;
        self.check_schema(&client).await?;
        self.reconcile(&mut client).await
    }

    /// Prunes the feed's tombstones (best effort: any mirror may do it).
    async fn prune(&self, client: &Client) {
        match feed::prune(client, MIRROR_LIVE_FOR, TOMBSTONES_KEPT_AT_LEAST).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tombstones = n, "pruned the change feed"),
            Err(err) => tracing::warn!(%err, "could not prune the change feed"),
        }
    }

    /// Registers the position in the store's registry of mirrors (best effort).
    async fn register(&self, client: &Client, position: Position) {
        let Ok(id) = self.mirror_id.parse::<uuid::Uuid>() else {
            return;
        };
        let description = format!("{} pid {}", hostname(), std::process::id());
        if let Err(err) = feed::register_mirror(client, id, position, &description).await {
            tracing::warn!(%err, "could not register the mirror's position");
        }
    }
}

/// A read-only `REPEATABLE READ` transaction and its snapshot: every read of one hydration,
/// catch-up or reconciliation sees the store as of that one snapshot.
pub(crate) async fn open_snapshot<'c>(
    client: &'c mut Client,
    what: &'static str,
) -> Result<(tokio_postgres::Transaction<'c>, feed::Snapshot), CacheError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(CacheError::postgres(what))?;
    let snapshot = feed::snapshot(&tx).await?;
    Ok((tx, snapshot))
}

/// Everything the snapshot of `tx` holds that snapshot `since` did not see: tombstones, and
/// the changed rows of every table (by table index, tables without changes left out).
pub(crate) async fn read_changes(
    tx: &tokio_postgres::Transaction<'_>,
    plans: &[TablePlan],
    since: &str,
) -> Result<(Vec<feed::Tombstone>, Vec<(usize, apply::Rows)>), CacheError> {
    let tombstones = feed::tombstones_since(tx, since).await?;
    let mut rows = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let sql = format!("{} WHERE {}", plan.select, feed::changed_since(1));
        let found = tx
            .query(&sql, &[&since])
            .await
            .map_err(CacheError::postgres("read changed rows"))?;
        let mut table_rows = Vec::with_capacity(found.len());
        for row in &found {
            table_rows.push(tables::decode_row(plan, |c, wire| {
                read_value!(row, c, wire)
            })?);
        }
        if !table_rows.is_empty() {
            rows.push((i, table_rows));
        }
    }
    Ok((tombstones, rows))
}

/// The hydration writer: one table at a time, in the order the reader streams them.
fn write_hydration(
    conn: &Connection,
    plans: &[TablePlan],
    recv: &mut tokio::sync::mpsc::Receiver<Chunk>,
) -> Result<Vec<(String, u64)>, CacheError> {
    let mut counts = Vec::new();
    let mut current: Option<apply::TableLoad> = None;
    while let Some(chunk) = recv.blocking_recv() {
        match chunk {
            Chunk::Rows(i, rows) => {
                let load = match current.take() {
                    Some(load) if load.table() == i => load,
                    other => {
                        if let Some(load) = other {
                            let t = load.table();
                            counts.push((plans[t].name.to_owned(), load.finish(conn, plans)?));
                        }
                        apply::TableLoad::begin(conn, plans, i)?
                    }
                };
                let mut load = load;
                load.insert(conn, plans, &rows)?;
                current = Some(load);
            }
            Chunk::End => {
                if let Some(load) = current.take() {
                    let t = load.table();
                    counts.push((plans[t].name.to_owned(), load.finish(conn, plans)?));
                }
            }
        }
    }
    if let Some(load) = current.take() {
        // The reader stopped mid-table (an error): leave the table's transaction to roll back.
        let _ = load;
        apply::abandon(conn);
    }
    Ok(counts)
}

enum Chunk {
    Rows(usize, apply::Rows),
    End,
}

/// How many rows travel to the writer at a time.
const CHUNK_ROWS: usize = 5_000;

async fn stream_table(
    tx: &tokio_postgres::Transaction<'_>,
    i: usize,
    plan: &TablePlan,
    send: &tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(), CacheError> {
    // In key order: the cache's primary-key index then grows at its right edge instead of
    // taking every row at a random place (SQLite's B-tree pages stay in its page cache).
    let copy = format!(
        "COPY ({} ORDER BY {}) TO STDOUT (FORMAT binary)",
        plan.select,
        plan.keys
            .iter()
            .map(|k| tables::quote(k))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let stream = tx
        .copy_out(&copy)
        .await
        .map_err(CacheError::postgres("start streaming a table"))?;
    let types: Vec<_> = plan.columns.iter().map(|c| c.wire.pg_type()).collect();
    let rows = BinaryCopyOutStream::new(stream, &types);
    pin_mut!(rows);
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    // An empty table still starts (and so empties) its local copy.
    let mut sent_any = false;
    while let Some(row) = rows.next().await {
        let row = row.map_err(CacheError::postgres("stream a table"))?;
        chunk.push(tables::decode_row(plan, |c, wire| {
            read_value!(&row, c, wire)
        })?);
        if chunk.len() >= CHUNK_ROWS {
            sent_any = true;
            if send
                .send(Chunk::Rows(
                    i,
                    std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS)),
                ))
                .await
                .is_err()
            {
                return Ok(()); // the writer failed; its error is reported
            }
        }
    }
    if !chunk.is_empty() || !sent_any {
        let _ = send.send(Chunk::Rows(i, chunk)).await;
    }
    let _ = send.send(Chunk::End).await;
    Ok(())
}

/// A delay between 50 % and 100 % of `d`, so that workstations that lost the store together
/// do not reconnect together.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.5..=1.0))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "workstation".into())
}
