//! The writer role on Postgres: one engine writes, the others are told who does.
//!
//! - **The lock.** A session-level advisory lock, `pg_try_advisory_lock(`[`WRITER_LOCK_KEY`]`)`,
//!   taken on a *dedicated* connection that nothing else uses. Advisory locks are per
//!   database, so engines syncing different databases on one server do not collide.
//!   [`WriterLease::release`] unlocks explicitly and then closes the session: when it
//!   returns, another engine can take the role. Dropping the [`PgWriterLease`] instead just
//!   closes the connection, and the server releases the lock once it has noticed (a crashed
//!   process's lock goes with its socket the same way, so no stale lock survives it).
//! - **Who holds it.** Before locking, the connection sets its `application_name` to
//!   `stockpulse writer: <runner> (<purpose>)`. A second engine that fails to lock reads
//!   `pg_locks` (the advisory lock's row) joined with `pg_stat_activity` (the holder's
//!   `application_name`) and reports [`StoreError::WriterBusy`] with
//!   `holder = "<runner> (<purpose>)"`. Postgres keeps at most 63 bytes of printable ASCII of
//!   an `application_name`, so the name is cleaned and cut to that here (a very long runner
//!   name loses its tail).
//! - **Waiting.** With `wait`, a busy lock is retried every [`RETRY_INTERVAL`] until it is
//!   free or the time is up.
//! - **Poolers.** A transaction-mode pooler (Supabase port 6543) gives no session to hold a
//!   lock in: the dedicated connection must use a direct or session-mode URL
//!   ([`crate::pg::PgOptions::lock_url`]).

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::StoreError;
use super::connect::ConnectPlan;
use crate::store::{WriterInfo, WriterLease};

/// Key of the writer's session advisory lock: "sp_write" as bytes. The migration lock
/// ([`super::migrate::MIGRATION_LOCK_KEY`], "sp_migra") is a different key.
pub const WRITER_LOCK_KEY: i64 = 0x7370_5f77_7269_7465;

/// How often a waiting engine retries the lock.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// Prefix of the lock holder's `application_name`.
pub const APPLICATION_NAME_PREFIX: &str = "stockpulse writer: ";

/// Postgres truncates `application_name` to `NAMEDATALEN - 1` bytes.
const APPLICATION_NAME_MAX: usize = 63;

/// Holding the writer role: a dedicated session holding [`WRITER_LOCK_KEY`]. Dropping it
/// closes the session, which releases the lock.
pub struct PgWriterLease {
    holder: WriterInfo,
    /// Kept only to keep the session (and so the lock) alive.
    client: Client,
}

impl fmt::Debug for PgWriterLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgWriterLease")
            .field("holder", &self.holder)
            .field("connected", &!self.client.is_closed())
            .finish()
    }
}

#[async_trait::async_trait]
impl WriterLease for PgWriterLease {
    fn holder(&self) -> &WriterInfo {
        &self.holder
    }

    /// Unlocks explicitly (the server would otherwise release the lock only when it notices
    /// the closed session), then closes the session.
    async fn release(self: Box<Self>) {
        let key = WRITER_LOCK_KEY;
        if let Err(e) = self
            .client
            .query_typed("SELECT pg_advisory_unlock($1)", &[(&key, Type::INT8)])
            .await
        {
            tracing::warn!(error = %e, "could not unlock the writer lock; it ends with the session");
        }
    }
}

impl PgWriterLease {
    /// Whether the session holding the lock is still connected (if it is not, the lock is
    /// gone too).
    pub fn is_connected(&self) -> bool {
        !self.client.is_closed()
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

/// Takes the writer role on a new dedicated connection (see the module docs).
pub(crate) async fn acquire(
    plan: &ConnectPlan,
    me: &WriterInfo,
    wait: Option<Duration>,
) -> Result<PgWriterLease, StoreError> {
    let deadline = wait.map(|w| Instant::now() + w);
    let client = plan.connect().await?;
    let name = application_name(me);
    client
        .query_typed(
            "SELECT set_config('application_name', $1, false)",
            &[(&name, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query("name the writer session"))?;
    loop {
        if try_lock(&client).await? {
            tracing::debug!(runner = %me.runner, purpose = %me.purpose, "took the writer lock");
            return Ok(PgWriterLease {
                holder: me.clone(),
                client,
            });
        }
        let now = Instant::now();
        match deadline {
            Some(deadline) if now < deadline => {
                tokio::time::sleep(RETRY_INTERVAL.min(deadline - now)).await;
            }
            _ => {
                let holder = writer_holder(&client).await?;
                // Released between the two statements: one more try.
                if holder.is_none() && try_lock(&client).await? {
                    return Ok(PgWriterLease {
                        holder: me.clone(),
                        client,
                    });
                }
                return Err(StoreError::WriterBusy {
                    holder: holder.unwrap_or_else(|| "unknown".to_owned()),
                });
            }
        }
    }
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

/// Who holds the writer lock on this database: `<runner> (<purpose>)` read from the holder's
/// `application_name`, `pid <n> (<application_name>)` for a session that did not name itself
/// the Stockpulse way, `None` when nobody holds it.
///
/// An advisory lock on a bigint key shows in `pg_locks` as `classid` = its high 32 bits,
/// `objid` = its low 32 bits, `objsubid` = 1.
pub async fn writer_holder(client: &Client) -> Result<Option<String>, StoreError> {
    const WHAT: &str = "find the writer lock's holder";
    let key = WRITER_LOCK_KEY as u64;
    let high = (key >> 32) as i64;
    let low = (key & 0xffff_ffff) as i64;
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
