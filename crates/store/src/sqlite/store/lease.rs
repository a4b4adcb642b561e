//! The writer role's lease on the local store (the model: [`crate::lease`]).
//!
//! - **The lock** is the `flock` on `<db>.writer.lock` ([`super::super::lock`]; an in-memory
//!   store's in-process slot). A killed holder's lock goes with its file handle at once.
//! - **The lease row** is written in a `BEGIN IMMEDIATE` transaction on a connection of the
//!   lease's own (an in-memory store has one connection: the store's), with times from this
//!   machine's clock (the local store lives on one machine). A contender that finds it
//!   expired takes it over even though the frozen holder still has the file locked: the
//!   row wins over the lock, and the new holder records `holder_pid` once the lock comes free
//!   (it retries at every renewal).
//! - **Renewals** run on a thread of their own with that connection, every quarter TTL, so a
//!   long store call of the engine (which holds the store's connection) never delays them.
//! - **The fence** is a set of `TEMP` triggers on the *store's* connection, one per table
//!   and statement kind, installed when the role is taken and dropped when it is given up:
//!   a write while the row does not carry this lease's token aborts with
//!   [`FENCE_MESSAGE`], which [`super::SqliteStore`] turns into
//!   [`StoreError::LostWriterRole`]. The check runs inside the write's own transaction,
//!   which holds SQLite's write lock, so a takeover (itself a write) is entirely before or
//!   after it. Temporary triggers are private to the connection: other engines, and this
//!   lease's renewals, are not affected. Every table but the lease's own is covered,
//!   including tables a later migration adds.
//! - A frozen holder *inside* a write transaction keeps SQLite's write lock, and no process
//!   can take that from another: a contender then reports the role busy until the holder
//!   wakes (and fails) or dies. With the local store on one machine, a whole frozen
//!   machine has no contender anyway.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::Inner;
use crate::lease::{
    Claim, LeaseInfo, LeaseRow, LeaseWatch, claim, is_token, new_token, renew_every,
};
use crate::sqlite::lock::{FileLease, MemoryLease, try_lock_file};
use crate::sqlite::{StoreError, from_millis, open, to_millis};
use crate::{WriterInfo, WriterLease};

/// The message of the fence triggers' `RAISE(ABORT, ...)`.
pub const FENCE_MESSAGE: &str = "stockpulse: this engine lost the writer role";

/// How long the lease's connection waits for SQLite's write lock (a frozen holder inside a
/// write keeps it): shorter than the store's busy timeout, so a contender answers "busy".
const LEASE_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Prefix of the fence triggers' names.
const TRIGGER_PREFIX: &str = "sp_fence_";

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// The lock this process holds besides the row.
#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] FileLease),
    Memory(#[allow(dead_code)] MemoryLease),
}

/// Where the lease's statements run.
enum Conn {
    /// A connection of the lease's own to the database file.
    File { path: PathBuf, conn: Connection },
    /// The in-memory store's only connection.
    Memory(Arc<Inner>),
}

/// The lease's state, owned by the renewal thread while the lease lives.
struct Renewer {
    conn: Conn,
    held: Option<Held>,
    me: WriterInfo,
    token: String,
    ttl: Duration,
    lost: bool,
}

impl Renewer {
    fn new(store: &Arc<Inner>, me: &WriterInfo, ttl: Duration) -> Result<Renewer, StoreError> {
        let conn = match &store.path {
            Some(path) => {
                let conn = open(path)?;
                conn.busy_timeout(LEASE_BUSY_TIMEOUT)
                    .map_err(q("set the lease connection's busy timeout"))?;
                Conn::File {
                    path: path.clone(),
                    conn,
                }
            }
            None => Conn::Memory(Arc::clone(store)),
        };
        Ok(Renewer {
            conn,
            held: None,
            me: me.clone(),
            token: new_token(),
            ttl,
            lost: false,
        })
    }

    fn with_conn<T>(&mut self, f: impl FnOnce(&mut Connection) -> T) -> T {
        match &mut self.conn {
            Conn::File { conn, .. } => f(conn),
            Conn::Memory(inner) => {
                f(&mut inner.conn.lock().unwrap_or_else(PoisonError::into_inner))
            }
        }
    }

    /// Takes the lock if this lease lacks it; `Some(holder)` named by the lock when it is
    /// taken by someone else.
    fn try_lock(&mut self) -> Result<Option<String>, StoreError> {
        if self.held.is_some() {
            return Ok(None);
        }
        let got = match &self.conn {
            Conn::File { path, .. } => {
                try_lock_file(&crate::sqlite::lock::lock_path(path), &self.me).map(Held::File)
            }
            Conn::Memory(inner) => inner.memory_lock.try_lock(&self.me).map(Held::Memory),
        };
        match got {
            Ok(h) => {
                self.held = Some(h);
                Ok(None)
            }
            Err(StoreError::WriterBusy { holder }) => Ok(Some(holder)),
            Err(e) => Err(e),
        }
    }

    fn pid(&self) -> Option<i64> {
        self.held.as_ref().map(|_| i64::from(std::process::id()))
    }

    /// One attempt to take the role: `Err(holder)` when it is held.
    fn take(&mut self) -> Result<Result<(), String>, StoreError> {
        let lock_holder = self.try_lock()?;
        let have_lock = self.held.is_some();
        let (me, token, ttl, pid) = (self.me.clone(), self.token.clone(), self.ttl, self.pid());
        let r = self.with_conn(|conn| take_row(conn, &me, &token, ttl, have_lock, pid));
        let r = match r {
            Ok(Err(None)) => Ok(Err(lock_holder.unwrap_or_else(|| "unknown".to_owned()))),
            Ok(Err(Some(holder))) => Ok(Err(holder)),
            Ok(Ok(())) => Ok(Ok(())),
            Err(e) => Err(e),
        };
        if !matches!(r, Ok(Ok(()))) {
            self.held = None;
        }
        r
    }

    /// One renewal (see the module docs); `false` when the lease was taken over.
    fn renew(&mut self) -> Result<bool, StoreError> {
        self.try_lock()?;
        let (token, ttl, pid) = (self.token.clone(), self.ttl, self.pid());
        self.with_conn(|conn| {
            let now = to_millis(Utc::now());
            let n = conn
                .prepare_cached(
                    "UPDATE writer_lease SET heartbeat_at = ?2, expires_at = ?3, holder_pid = ?4
                      WHERE role = 'writer' AND token = ?1",
                )
                .and_then(|mut s| s.execute(params![token, now, now + ttl_ms(ttl), pid]))
                .map_err(q("renew the writer lease"))?;
            Ok(n == 1)
        })
    }

    /// Gives the role up: deletes the row if it is still ours, then drops the lock.
    fn release(&mut self) {
        let token = self.token.clone();
        let r = self.with_conn(|conn| {
            conn.prepare_cached("DELETE FROM writer_lease WHERE role = 'writer' AND token = ?1")
                .and_then(|mut s| s.execute(params![token]))
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not delete the writer lease; the next engine takes it over");
        }
        self.held = None;
    }

    /// The renewal loop: every quarter TTL until `stop` says so (or is dropped).
    fn run(mut self, stop: mpsc::Receiver<()>, watch: Arc<LeaseWatch>) -> Renewer {
        let every = renew_every(self.ttl);
        loop {
            match stop.recv_timeout(every) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return self,
            }
            if watch.is_paused() || self.lost {
                continue;
            }
            match self.renew() {
                Ok(true) => {}
                Ok(false) => {
                    let holder = self
                        .with_conn(|conn| read_row(conn, to_millis(Utc::now())))
                        .ok()
                        .flatten()
                        .map_or_else(|| "nobody".to_owned(), |r| r.holder());
                    self.lost = true;
                    self.held = None;
                    watch.mark_lost(holder);
                }
                Err(e) => tracing::warn!(error = %e, "could not renew the writer lease; retrying"),
            }
        }
    }
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
}

fn read_row(conn: &Connection, now_ms: i64) -> Result<Option<LeaseRow>, StoreError> {
    conn.prepare_cached(
        "SELECT token, runner, purpose, holder_pid, expires_at <= ?1
           FROM writer_lease WHERE role = 'writer'",
    )
    .and_then(|mut s| {
        s.query_row(params![now_ms], |r| {
            Ok(LeaseRow {
                token: r.get(0)?,
                runner: r.get(1)?,
                purpose: r.get(2)?,
                holder_pid: r.get(3)?,
                expired: r.get(4)?,
            })
        })
        .optional()
    })
    .map_err(q("read the writer lease"))
}

/// In one `BEGIN IMMEDIATE` transaction: reads the row, applies [`claim`], writes ours.
/// `Err(Some(holder))` when the row says the role is held, `Err(None)` when only the lock
/// does.
fn take_row(
    conn: &mut Connection,
    me: &WriterInfo,
    token: &str,
    ttl: Duration,
    have_lock: bool,
    pid: Option<i64>,
) -> Result<Result<(), Option<String>>, StoreError> {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
        if is_busy(&e) {
            // A writer holds SQLite's write lock (a frozen one, maybe, inside a write).
            let row = read_row(conn, to_millis(Utc::now()))?;
            return Ok(Err(Some(row.map_or_else(
                || "unknown".to_owned(),
                |r| format!("{} (inside a write)", r.holder()),
            ))));
        }
        return Err(q("begin taking the writer role")(e));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin taking the writer role"))?;
    let now = to_millis(Utc::now());
    let row = read_row(&tx, now)?;
    match claim(row.as_ref(), have_lock) {
        Claim::Busy => return Ok(Err(row.map(|r| r.holder()))),
        Claim::TakeOver => {
            let old = row.as_ref().map(|r| r.holder()).unwrap_or_default();
            tracing::warn!(replaced = %old, "the writer lease expired: taking the role over");
        }
        Claim::Take => {}
    }
    tx.prepare_cached(
        "INSERT INTO writer_lease
                (role, token, runner, purpose, holder_pid, acquired_at, heartbeat_at, expires_at)
         VALUES ('writer', ?1, ?2, ?3, ?4, ?5, ?5, ?6)
         ON CONFLICT (role) DO UPDATE SET token = excluded.token, runner = excluded.runner,
                purpose = excluded.purpose, holder_pid = excluded.holder_pid,
                acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at,
                expires_at = excluded.expires_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            token,
            me.runner,
            me.purpose,
            pid,
            now,
            now + ttl_ms(ttl)
        ])
    })
    .map_err(q("write the writer lease"))?;
    tx.commit().map_err(q("commit the writer lease"))?;
    Ok(Ok(()))
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Installs the fence triggers for `token` on the store's connection (replacing any other
/// lease's: only one can be current). `budget_spends` is not fenced: requests a replaced
/// writer has already sent were spent all the same and must count against the budget. Their names carry the token, so a replaced lease
/// dropped later removes its own triggers only.
fn install_fence(conn: &Connection, token: &str) -> Result<(), StoreError> {
    if !is_token(token) {
        return Err(StoreError::Corrupt {
            what: "a writer lease token is not hexadecimal".to_owned(),
        });
    }
    remove_fence(conn, "")?;
    let tables: Vec<String> = conn
        .prepare(
            // Ordinary tables only: SQLite refuses triggers on a virtual table (the FTS5
            // search index), and a trigger on one of its shadow tables recurses without end
            // (the trigger's savepoint flushes the index into the same shadow table). The
            // index is written only by triggers of fenced tables.
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table'
               AND name NOT LIKE 'sqlite_%'
               AND name NOT IN ('writer_lease', 'refinery_schema_history', 'budget_spends')",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(q("list the tables to fence"))?;
    let mut ddl = String::new();
    for t in &tables {
        let quoted = t.replace('"', "\"\"");
        for op in ["INSERT", "UPDATE", "DELETE"] {
            ddl.push_str(&format!(
                "CREATE TEMP TRIGGER \"{TRIGGER_PREFIX}{token}_{quoted}_{op}\" BEFORE {op} ON main.\"{quoted}\"
                 WHEN NOT EXISTS (SELECT 1 FROM main.writer_lease
                                   WHERE role = 'writer' AND token = '{token}')
                 BEGIN SELECT RAISE(ABORT, '{FENCE_MESSAGE}'); END;\n"
            ));
        }
    }
    conn.execute_batch(&ddl)
        .map_err(q("install the writer fence"))
}

/// Drops the fence triggers of `token` (all of them for `""`) from the store's connection.
fn remove_fence(conn: &Connection, token: &str) -> Result<(), StoreError> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE ?1")
        .and_then(|mut s| {
            s.query_map(params![format!("{TRIGGER_PREFIX}{token}%")], |r| r.get(0))?
                .collect()
        })
        .map_err(q("list the writer fence"))?;
    let ddl: String = names
        .iter()
        .map(|n| {
            format!(
                "DROP TRIGGER IF EXISTS temp.\"{}\";\n",
                n.replace('"', "\"\"")
            )
        })
        .collect();
    conn.execute_batch(&ddl)
        .map_err(q("remove the writer fence"))
}

/// Whether `e` is a fence trigger's refusal.
pub(super) fn is_fence_error(e: &StoreError) -> bool {
    match e {
        StoreError::Sqlite { source, .. } => source.to_string().contains(FENCE_MESSAGE),
        _ => false,
    }
}

/// The current holder by the row, for [`StoreError::LostWriterRole`].
pub(super) fn current_holder(conn: &Connection) -> String {
    read_row(conn, to_millis(Utc::now()))
        .ok()
        .flatten()
        .map_or_else(|| "nobody".to_owned(), |r| r.holder())
}

/// The lease for `status`.
pub(super) fn lease_info(conn: &mut Connection) -> Result<Option<LeaseInfo>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT runner, purpose, acquired_at, heartbeat_at, expires_at, holder_pid IS NOT NULL
               FROM writer_lease WHERE role = 'writer'",
        )
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })
            .optional()
        })
        .map_err(q("read the writer lease"))?;
    let Some((runner, purpose, acquired, heartbeat, expires, locked)) = row else {
        return Ok(None);
    };
    let time = |ms: i64| {
        from_millis(ms).ok_or_else(|| StoreError::Corrupt {
            what: format!("writer_lease: timestamp {ms} out of range"),
        })
    };
    Ok(Some(LeaseInfo {
        runner,
        purpose,
        acquired_at: time(acquired)?,
        heartbeat_at: time(heartbeat)?,
        expires_at: time(expires)?,
        locked,
        read_at: time(to_millis(Utc::now()))?,
    }))
}

/// Holding the local store's writer role (see the module docs). Dropping it (or
/// [`WriterLease::release`]) stops the renewals, deletes the row if still ours, releases the
/// lock and removes the fence.
pub struct SqliteWriterLease {
    holder: WriterInfo,
    token: String,
    watch: Arc<LeaseWatch>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Renewer>>,
    store: Arc<Inner>,
}

impl std::fmt::Debug for SqliteWriterLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriterLease")
            .field("holder", &self.holder)
            .field("lost_to", &self.watch.lost_to())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl WriterLease for SqliteWriterLease {
    fn holder(&self) -> &WriterInfo {
        &self.holder
    }

    fn lost_to(&self) -> Option<String> {
        self.watch.lost_to()
    }

    async fn lost(&self) -> String {
        self.watch.lost().await
    }

    fn stop_renewing(&self) {
        self.watch.pause();
    }
}

impl Drop for SqliteWriterLease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(mut renewer) => {
                    if !renewer.lost {
                        renewer.release();
                    }
                    drop(renewer);
                }
                Err(_) => tracing::error!("the writer lease's renewal thread panicked"),
            }
        }
        let conn = self
            .store
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = remove_fence(&conn, &self.token) {
            tracing::warn!(error = %e, "could not remove the writer fence");
        }
    }
}

/// One attempt to take the role for `store` (blocking): `Err(holder)` when it is held.
pub(super) fn attempt(
    store: &Arc<Inner>,
    me: &WriterInfo,
    ttl: Duration,
) -> Result<Result<SqliteWriterLease, String>, StoreError> {
    let mut renewer = Renewer::new(store, me, ttl)?;
    if let Err(holder) = renewer.take()? {
        return Ok(Err(holder));
    }
    {
        let conn = store.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = install_fence(&conn, &renewer.token) {
            drop(conn);
            renewer.release();
            return Err(e);
        }
    }
    if renewer.held.is_none() {
        tracing::warn!("took over the writer lease; the replaced holder still has the lock file");
    }
    let token = renewer.token.clone();
    let watch = Arc::new(LeaseWatch::default());
    let (stop, rx) = mpsc::channel();
    let w = Arc::clone(&watch);
    let thread = std::thread::Builder::new()
        .name("writer-lease".to_owned())
        .spawn(move || renewer.run(rx, w))
        .map_err(|e| StoreError::LockFile {
            path: store.path.clone().unwrap_or_default(),
            what: "start the writer lease's renewals",
            source: e,
        })?;
    Ok(Ok(SqliteWriterLease {
        holder: me.clone(),
        token,
        watch,
        stop: Some(stop),
        thread: Some(thread),
        store: Arc::clone(store),
    }))
}
