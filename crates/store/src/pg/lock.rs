//! The writer role on Postgres: one engine writes, the others are told who does, and a
//! frozen writer is replaced (the model: [`crate::lease`]).
//!
//! - **The lock.** A session-level advisory lock, `pg_try_advisory_lock(`[`WRITER_LOCK_KEY`]`)`,
//!   taken on a *dedicated* connection that nothing else uses. Advisory locks are per
//!   database, so engines syncing different databases on one server do not collide. The
//!   session asks the server for TCP keepalive ([`super::connect::SERVER_KEEPALIVE_SQL`]), so
//!   the lock of a holder that vanished from the network goes within about a minute; a
//!   crashed process's lock goes with its socket at once.
//! - **The lease.** The same session writes the `writer_lease` row (times from the server's
//!   clock: `clock_timestamp()`) and renews it every quarter TTL from a background task
//!   (reconnecting if the session died; it then has to win the lock again). A contender
//!   follows [`crate::lease::claim`]. Taking over an expired lease happens in one
//!   transaction holding the row `FOR UPDATE` (so two contenders cannot both take it);
//!   if a transaction of the frozen holder still holds the row (its fence, below), that
//!   session is ended first (`pg_terminate_backend`, which rolls its writes back). Then the
//!   frozen holder's lock session is ended, and the new holder takes the lock as it comes
//!   free and records its `holder_pid`.
//! - **The fence.** While a [`super::PgStore`] holds a lease, each of its write transactions
//!   starts with `check_fence`: `SELECT ... WHERE token = $1 FOR KEY SHARE`. Renewals update
//!   only non-key columns (no conflict), while a takeover changes `token` (a unique column:
//!   a key update), which waits for every such transaction and makes every later one fail
//!   with [`StoreError::LostWriterRole`].
//! - **Who holds it.** The lock session's `application_name` is
//!   `stockpulse writer: <runner> (<purpose>)`; the lease row names the holder too.
//!   [`writer_holder`] prefers the row and falls back to the lock's session (a holder running
//!   an older Stockpulse). Postgres keeps at most 63 bytes of printable ASCII of an
//!   `application_name`, so the name is cleaned and cut to that here.
//! - **Releasing.** [`WriterLease::release`] deletes the row and unlocks: when it returns,
//!   another engine can take the role. Dropping the [`PgWriterLease`] instead stops the
//!   renewals and closes the session; the row stays with `holder_pid` set, so whoever wins
//!   the lock next takes the role.
//! - **Waiting.** With `wait`, a busy role is retried every [`RETRY_INTERVAL`] until it is
//!   free or the time is up.
//! - **Poolers.** A transaction-mode pooler (Supabase port 6543) gives no session to hold a
//!   lock in: the dedicated connection must use a direct or session-mode URL
//!   ([`crate::pg::PgOptions::lock_url`]).

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient};

use super::connect::{ConnectPlan, SERVER_KEEPALIVE_SQL};
use crate::StoreError;
use crate::lease::{Claim, LeaseInfo, LeaseRow, LeaseWatch, claim, new_token, renew_every};
use crate::{WriterInfo, WriterLease};

/// Key of the writer's session advisory lock: "sp_write" as bytes. The migration lock
/// ([`super::migrate::MIGRATION_LOCK_KEY`], "sp_migra") is a different key.
pub const WRITER_LOCK_KEY: i64 = 0x7370_5f77_7269_7465;

/// How often a waiting engine retries the lock.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// Prefix of the lock holder's `application_name`.
pub const APPLICATION_NAME_PREFIX: &str = "stockpulse writer: ";

/// Postgres truncates `application_name` to `NAMEDATALEN - 1` bytes.
const APPLICATION_NAME_MAX: usize = 63;

/// How long a contender waits for the lease row's lock before it ends the sessions of an
/// expired holder that still hold it.
const ROW_LOCK_TIMEOUT: &str = "3s";

/// How long a new holder waits for a replaced holder's lock to come free before it goes on
/// without it (its renewals keep trying).
const LOCK_HANDOVER: Duration = Duration::from_secs(3);

/// The token a [`super::PgStore`]'s write transactions must find in the lease row while it
/// holds the role (`None`: it does not, and writes are not fenced).
pub type FenceSlot = Arc<StdMutex<Option<String>>>;

/// The lock session: the dedicated connection and whether it holds the advisory lock.
struct Session {
    client: Client,
    locked: bool,
}

/// Holding the writer role: the lease row, renewed by a background task over a dedicated
/// session that (normally) holds [`WRITER_LOCK_KEY`]. Dropping it stops the renewals and
/// closes the session.
pub struct PgWriterLease {
    holder: WriterInfo,
    token: String,
    session: Arc<Mutex<Session>>,
    watch: Arc<LeaseWatch>,
    heartbeat: JoinHandle<()>,
    fence: FenceSlot,
}

impl fmt::Debug for PgWriterLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgWriterLease")
            .field("holder", &self.holder)
            .field("lost_to", &self.watch.lost_to())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl WriterLease for PgWriterLease {
    fn holder(&self) -> &WriterInfo {
        &self.holder
    }

    /// Deletes the lease row and unlocks explicitly (the server would otherwise release the
    /// lock only when it notices the closed session), then closes the session.
    async fn release(self: Box<Self>) {
        self.heartbeat.abort();
        let s = self.session.lock().await;
        if let Err(e) = s
            .client
            .execute_typed(
                "DELETE FROM writer_lease WHERE role = 'writer' AND token = $1",
                &[(&self.token, Type::TEXT)],
            )
            .await
        {
            tracing::warn!(error = %e, "could not delete the writer lease; the next engine takes it over");
        }
        if s.locked {
            let key = WRITER_LOCK_KEY;
            if let Err(e) = s
                .client
                .query_typed("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
                .await
            {
                tracing::warn!(error = %e, "could not unlock the writer lock; it ends with the session");
            }
        }
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

impl Drop for PgWriterLease {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let mut fence = self.fence.lock().unwrap_or_else(|p| p.into_inner());
        if fence.as_deref() == Some(self.token.as_str()) {
            *fence = None;
        }
    }
}

impl PgWriterLease {
    /// The lock session's values of `settings` (`current_setting`), e.g. to check its
    /// keepalive.
    pub async fn session_settings(&self, settings: &[&str]) -> Result<Vec<String>, StoreError> {
        const WHAT: &str = "read the writer session's settings";
        let s = self.session.lock().await;
        let mut out = Vec::with_capacity(settings.len());
        for name in settings {
            let v: String = s
                .client
                .query_typed_one("SELECT current_setting($1)", &[(name, Type::TEXT)])
                .await
                .map_err(StoreError::query(WHAT))?
                .try_get(0)
                .map_err(StoreError::query(WHAT))?;
            out.push(v);
        }
        Ok(out)
    }

    /// Whether the session holding the lock is still connected.
    pub fn is_connected(&self) -> bool {
        self.session
            .try_lock()
            .map(|s| !s.client.is_closed())
            .unwrap_or(true)
    }
}

/// The `application_name` announcing `me` as the writer: printable ASCII, at most 63 bytes.
pub fn application_name(me: &WriterInfo) -> String {
    let raw = format!("{APPLICATION_NAME_PREFIX}{} ({})", me.runner, me.purpose);
    raw.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(APPLICATION_NAME_MAX)
        .collect()
}

/// Takes the writer role on a new dedicated connection (see the module docs); on success
/// `fence` holds the lease's token.
pub(crate) async fn acquire(
    plan: &ConnectPlan,
    me: &WriterInfo,
    wait: Option<Duration>,
    ttl: Duration,
    fence: &FenceSlot,
) -> Result<PgWriterLease, StoreError> {
    let deadline = wait.map(|w| Instant::now() + w);
    let mut session = Session {
        client: open_session(plan, me).await?,
        locked: false,
    };
    loop {
        match attempt(&mut session, me, ttl).await? {
            Ok(token) => {
                tracing::debug!(runner = %me.runner, purpose = %me.purpose, locked = session.locked, "took the writer role");
                *fence.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
                let session = Arc::new(Mutex::new(session));
                let watch = Arc::new(LeaseWatch::default());
                let heartbeat = tokio::spawn(renewals(
                    plan.clone(),
                    me.clone(),
                    token.clone(),
                    ttl,
                    Arc::clone(&session),
                    Arc::clone(&watch),
                ));
                return Ok(PgWriterLease {
                    holder: me.clone(),
                    token,
                    session,
                    watch,
                    heartbeat,
                    fence: Arc::clone(fence),
                });
            }
            Err(holder) => {
                let now = Instant::now();
                match deadline {
                    Some(deadline) if now < deadline => {
                        tokio::time::sleep(RETRY_INTERVAL.min(deadline - now)).await;
                    }
                    _ => return Err(StoreError::WriterBusy { holder }),
                }
            }
        }
    }
}

/// A new lock session: keepalive asked of the server, named after the writer.
async fn open_session(plan: &ConnectPlan, me: &WriterInfo) -> Result<Client, StoreError> {
    let client = plan.connect().await?;
    client
        .batch_execute(SERVER_KEEPALIVE_SQL)
        .await
        .map_err(StoreError::query("set the writer session's keepalive"))?;
    let name = application_name(me);
    client
        .query_typed(
            "SELECT set_config('application_name', $1, false)",
            &[(&name, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query("name the writer session"))?;
    Ok(client)
}

/// One attempt: `Ok(token)` when the role is ours now, `Err(holder)` when it is held.
async fn attempt(
    s: &mut Session,
    me: &WriterInfo,
    ttl: Duration,
) -> Result<Result<String, String>, StoreError> {
    if !s.locked {
        s.locked = try_lock(&s.client).await?;
    }
    let row = read_row(&s.client).await?;
    if claim(row.as_ref(), s.locked) == Claim::Busy {
        let holder = match &row {
            Some(r) => r.holder(),
            None => lock_holder(&s.client)
                .await?
                .unwrap_or_else(|| "unknown".to_owned()),
        };
        unlock(s).await;
        return Ok(Err(holder));
    }
    let token = new_token();
    let mut ended_fenced = false;
    loop {
        s.client
            .batch_execute("BEGIN")
            .await
            .map_err(StoreError::query("begin taking the writer role"))?;
        match take(&s.client, me, ttl, &token, s.locked).await {
            Ok(Ok(())) => {
                s.client
                    .batch_execute("COMMIT")
                    .await
                    .map_err(StoreError::query("commit taking the writer role"))?;
                break;
            }
            Ok(Err(holder)) => {
                rollback(&s.client).await;
                unlock(s).await;
                return Ok(Err(holder));
            }
            Err(StoreError::Query { source, .. })
                if !ended_fenced && source.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) =>
            {
                // A transaction of the replaced holder still holds the row (it froze inside
                // a write): end it, which rolls it back.
                rollback(&s.client).await;
                let n = end_fenced_sessions(&s.client).await?;
                tracing::warn!(
                    sessions = n,
                    "ended the sessions of a replaced writer that still held the lease"
                );
                ended_fenced = true;
            }
            Err(e) => {
                rollback(&s.client).await;
                unlock(s).await;
                return Err(e);
            }
        }
    }
    if !s.locked {
        // The replaced holder's lock session was ended: take the lock as it comes free.
        let until = Instant::now() + LOCK_HANDOVER;
        while Instant::now() < until {
            if try_lock(&s.client).await? {
                s.locked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if s.locked {
            renew(s, &token, ttl).await?;
        } else {
            tracing::warn!("took over the writer lease; the replaced holder still has the lock");
        }
    }
    Ok(Ok(token))
}

/// Inside a transaction: locks the lease row, decides again with it, ends a replaced
/// holder's lock session and writes the new lease. `Err(holder)` when the role turned out
/// to be held.
async fn take(
    client: &Client,
    me: &WriterInfo,
    ttl: Duration,
    token: &str,
    locked: bool,
) -> Result<Result<(), String>, StoreError> {
    const WHAT: &str = "take the writer role";
    client
        .batch_execute(&format!("SET LOCAL lock_timeout = '{ROW_LOCK_TIMEOUT}'"))
        .await
        .map_err(StoreError::query(WHAT))?;
    let row = client
        .query_typed_opt(
            "SELECT token, runner, purpose, holder_pid, expires_at <= clock_timestamp() \
               FROM writer_lease WHERE role = 'writer' FOR UPDATE",
            &[],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .map(|r| lease_row(&r))
        .transpose()?;
    match claim(row.as_ref(), locked) {
        Claim::Busy => {
            return Ok(Err(row.map_or_else(|| "unknown".to_owned(), |r| r.holder())));
        }
        Claim::TakeOver => {
            let old = row.as_ref().map(|r| r.holder()).unwrap_or_default();
            tracing::warn!(replaced = %old, "the writer lease expired: taking the role over");
            if !locked && let Some(pid) = row.as_ref().and_then(|r| r.holder_pid) {
                end_lock_session(client, pid).await?;
            }
        }
        Claim::Take => {}
    }
    let secs = ttl.as_secs_f64();
    client
        .execute_typed(
            "WITH t AS (SELECT clock_timestamp() AS at) \
             INSERT INTO writer_lease AS w \
                    (role, token, runner, purpose, holder_pid, acquired_at, heartbeat_at, expires_at) \
             SELECT 'writer', $1, $2, $3, CASE WHEN $4 THEN pg_backend_pid() END, \
                    t.at, t.at, t.at + make_interval(secs => $5) FROM t \
             ON CONFLICT (role) DO UPDATE SET token = EXCLUDED.token, runner = EXCLUDED.runner, \
                    purpose = EXCLUDED.purpose, holder_pid = EXCLUDED.holder_pid, \
                    acquired_at = EXCLUDED.acquired_at, heartbeat_at = EXCLUDED.heartbeat_at, \
                    expires_at = EXCLUDED.expires_at",
            &[
                (&token, Type::TEXT),
                (&me.runner, Type::TEXT),
                (&me.purpose, Type::TEXT),
                (&locked, Type::BOOL),
                (&secs, Type::FLOAT8),
            ],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    Ok(Ok(()))
}

async fn rollback(client: &Client) {
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %e, "could not roll back on the writer session");
    }
}

/// Gives the advisory lock back if this session holds it.
async fn unlock(s: &mut Session) {
    if !s.locked {
        return;
    }
    let key = WRITER_LOCK_KEY;
    match s
        .client
        .query_typed("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
        .await
    {
        Ok(_) => s.locked = false,
        Err(e) => tracing::warn!(error = %e, "could not unlock the writer lock"),
    }
}

/// Ends the session `pid` if it holds the writer lock (a replaced, frozen holder's).
async fn end_lock_session(client: &Client, pid: i64) -> Result<(), StoreError> {
    let (high, low) = key_parts();
    let pid = i32::try_from(pid).unwrap_or(0);
    client
        .query_typed(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND l.pid = $3 \
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[(&high, Type::INT8), (&low, Type::INT8), (&pid, Type::INT4)],
        )
        .await
        .map_err(StoreError::query("end the replaced writer's lock session"))?;
    Ok(())
}

/// Ends the sessions (other than writer sessions and this one) whose transactions hold the
/// lease row through the fence: a replaced holder frozen inside a write. Returns how many.
async fn end_fenced_sessions(client: &Client) -> Result<i64, StoreError> {
    let prefix = format!("{APPLICATION_NAME_PREFIX}%");
    client
        .query_typed_one(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l \
               LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
              WHERE l.locktype = 'relation' AND l.relation = 'writer_lease'::regclass \
                AND l.granted AND l.mode = 'RowShareLock' AND l.pid <> pg_backend_pid() \
                AND coalesce(a.application_name, '') NOT LIKE $1",
            &[(&prefix, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query(
            "end a replaced writer's open transactions",
        ))?
        .try_get(0)
        .map_err(StoreError::query(
            "end a replaced writer's open transactions",
        ))
}

/// Renews the lease while this process holds it: every quarter TTL, over the lock session
/// (reopened if it died). Stops when the lease was taken over, after telling `watch`.
async fn renewals(
    plan: ConnectPlan,
    me: WriterInfo,
    token: String,
    ttl: Duration,
    session: Arc<Mutex<Session>>,
    watch: Arc<LeaseWatch>,
) {
    let every = renew_every(ttl);
    loop {
        tokio::time::sleep(every).await;
        if watch.is_paused() {
            continue;
        }
        let mut s = session.lock().await;
        if s.client.is_closed() {
            match open_session(&plan, &me).await {
                Ok(client) => {
                    s.client = client;
                    s.locked = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reopen the writer session; retrying");
                    continue;
                }
            }
        }
        match renew(&mut s, &token, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                let holder = read_row(&s.client)
                    .await
                    .ok()
                    .flatten()
                    .map_or_else(|| "nobody".to_owned(), |r| r.holder());
                unlock(&mut s).await;
                watch.mark_lost(holder);
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not renew the writer lease; retrying"),
        }
    }
}

/// One renewal: takes the lock if this session lacks it, then moves the expiry (and
/// records the lock). `false` when the row is no longer ours.
async fn renew(s: &mut Session, token: &str, ttl: Duration) -> Result<bool, StoreError> {
    if !s.locked {
        s.locked = try_lock(&s.client).await?;
    }
    let secs = ttl.as_secs_f64();
    let n = s
        .client
        .execute_typed(
            "UPDATE writer_lease SET heartbeat_at = t.at, \
                    expires_at = t.at + make_interval(secs => $2), \
                    holder_pid = CASE WHEN $3 THEN pg_backend_pid() END \
               FROM (SELECT clock_timestamp() AS at) t \
              WHERE role = 'writer' AND token = $1",
            &[
                (&token, Type::TEXT),
                (&secs, Type::FLOAT8),
                (&s.locked, Type::BOOL),
            ],
        )
        .await
        .map_err(StoreError::query("renew the writer lease"))?;
    Ok(n == 1)
}

/// The first statement of every write transaction of a store holding a lease (see the
/// module docs): fails with [`StoreError::LostWriterRole`] when the lease row no longer
/// carries `token`. `None`: not holding a lease, nothing to check.
pub(crate) async fn check_fence<C: GenericClient + Sync>(
    client: &C,
    token: Option<&str>,
) -> Result<(), StoreError> {
    const WHAT: &str = "check the writer lease";
    let Some(token) = token else {
        return Ok(());
    };
    let ours = client
        .query_typed_opt(
            "SELECT 1 FROM writer_lease WHERE role = 'writer' AND token = $1 FOR KEY SHARE",
            &[(&token, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    if ours.is_some() {
        return Ok(());
    }
    let holder = client
        .query_typed_opt(
            "SELECT runner || ' (' || purpose || ')' FROM writer_lease WHERE role = 'writer'",
            &[],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .map(|r| r.try_get::<_, String>(0))
        .transpose()
        .map_err(StoreError::query(WHAT))?;
    Err(StoreError::LostWriterRole {
        holder: holder.unwrap_or_else(|| "nobody".to_owned()),
    })
}

async fn try_lock(client: &Client) -> Result<bool, StoreError> {
    const WHAT: &str = "try the writer lock";
    client
        .query_typed_one(
            "SELECT pg_try_advisory_lock($1)",
            &[(&WRITER_LOCK_KEY, Type::INT8)],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .try_get(0)
        .map_err(StoreError::query(WHAT))
}

fn lease_row(r: &tokio_postgres::Row) -> Result<LeaseRow, StoreError> {
    const WHAT: &str = "read the writer lease";
    let pid: Option<i32> = r.try_get(3).map_err(StoreError::query(WHAT))?;
    Ok(LeaseRow {
        token: r.try_get(0).map_err(StoreError::query(WHAT))?,
        runner: r.try_get(1).map_err(StoreError::query(WHAT))?,
        purpose: r.try_get(2).map_err(StoreError::query(WHAT))?,
        holder_pid: pid.map(i64::from),
        expired: r.try_get(4).map_err(StoreError::query(WHAT))?,
    })
}

async fn read_row(client: &Client) -> Result<Option<LeaseRow>, StoreError> {
    client
        .query_typed_opt(
            "SELECT token, runner, purpose, holder_pid, expires_at <= clock_timestamp() \
               FROM writer_lease WHERE role = 'writer'",
            &[],
        )
        .await
        .map_err(StoreError::query("read the writer lease"))?
        .map(|r| lease_row(&r))
        .transpose()
}

/// The lease for `status`, read with the server's clock.
pub async fn lease_info(client: &Client) -> Result<Option<LeaseInfo>, StoreError> {
    const WHAT: &str = "read the writer lease";
    let Some(r) = client
        .query_typed_opt(
            "SELECT runner, purpose, acquired_at, heartbeat_at, expires_at, \
                    holder_pid IS NOT NULL, clock_timestamp() \
               FROM writer_lease WHERE role = 'writer'",
            &[],
        )
        .await
        .map_err(StoreError::query(WHAT))?
    else {
        return Ok(None);
    };
    let get = |e| StoreError::Query {
        what: WHAT,
        source: e,
    };
    Ok(Some(LeaseInfo {
        runner: r.try_get(0).map_err(get)?,
        purpose: r.try_get(1).map_err(get)?,
        acquired_at: r.try_get(2).map_err(get)?,
        heartbeat_at: r.try_get(3).map_err(get)?,
        expires_at: r.try_get(4).map_err(get)?,
        locked: r.try_get(5).map_err(get)?,
        read_at: r.try_get(6).map_err(get)?,
    }))
}

fn key_parts() -> (i64, i64) {
    let key = WRITER_LOCK_KEY as u64;
    ((key >> 32) as i64, (key & 0xffff_ffff) as i64)
}

/// Who holds the writer role on this database, if anyone: the lease row's holder
/// (`<runner> (<purpose>)`) while it is live or its holder still has the lock; else the
/// lock's session (see [`lock_holder`]); `None` when nobody holds it.
pub async fn writer_holder(client: &Client) -> Result<Option<String>, StoreError> {
    let row = read_row(client).await?;
    let lock = lock_holder(client).await?;
    Ok(match (row, lock) {
        (Some(r), Some(_)) => Some(r.holder()),
        (Some(r), None) if !r.expired && r.holder_pid.is_none() => Some(r.holder()),
        (_, lock) => lock,
    })
}

/// Who holds the writer lock: `<runner> (<purpose>)` read from the holder's
/// `application_name`, `pid <n> (<application_name>)` for a session that did not name itself
/// the Stockpulse way, `None` when nobody holds it.
///
/// An advisory lock on a bigint key shows in `pg_locks` as `classid` = its high 32 bits,
/// `objid` = its low 32 bits, `objsubid` = 1.
pub async fn lock_holder(client: &Client) -> Result<Option<String>, StoreError> {
    const WHAT: &str = "find the writer lock's holder";
    let (high, low) = key_parts();
    let row = client
        .query_typed_opt(
            "SELECT l.pid, a.application_name FROM pg_locks l \
               LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                AND l.classid::int8 = $1 AND l.objid::int8 = $2 \
                AND l.database = (SELECT oid FROM pg_database \
                                   WHERE datname = current_database()) \
              LIMIT 1",
            &[(&high, Type::INT8), (&low, Type::INT8)],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let pid: Option<i32> = row.try_get(0).map_err(StoreError::query(WHAT))?;
    let app: Option<String> = row.try_get(1).map_err(StoreError::query(WHAT))?;
    Ok(Some(match app {
        Some(app) => match app.strip_prefix(APPLICATION_NAME_PREFIX) {
            Some(holder) => holder.to_owned(),
            None => format!("pid {} ({app})", pid.unwrap_or(0)),
        },
        None => format!("pid {}", pid.unwrap_or(0)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_names_are_printable_and_short() {
        let me = WriterInfo {
            runner: "host-1:4242".into(),
            purpose: "smart".into(),
        };
        assert_eq!(
            application_name(&me),
            "stockpulse writer: host-1:4242 (smart)"
        );
        let long = WriterInfo {
            runner: "é".repeat(80),
            purpose: "full".into(),
        };
        let name = application_name(&long);
        assert_eq!(name.len(), 63);
        assert!(name.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    }

    #[test]
    fn the_writer_key_is_not_the_migration_key() {
        assert_ne!(WRITER_LOCK_KEY, super::super::migrate::MIGRATION_LOCK_KEY);
        assert_eq!(&WRITER_LOCK_KEY.to_be_bytes(), b"sp_write");
    }
}
