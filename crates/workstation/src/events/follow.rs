//! Following the local store from any process: derive what the journal holds (when nobody
//! else does, as in the embedded default), and tail the event log by `seq` onto a [`Bus`].
//!
//! The poll is cheap: `PRAGMA data_version` changes only when another connection committed,
//! so an idle store costs one pragma per [`POLL_INTERVAL`]. When it changed, the follower
//! derives in a `BEGIN IMMEDIATE` transaction if the journal holds keys (the write lock
//! serialises it with the engine, the mirror and other followers: each journal key is
//! consumed by exactly one derivation), then reads the log rows after its `seq`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};

use super::bus::Bus;
use super::derive::derive_logged;
use super::log::{last_seq, read_after};
use super::model::Envelope;
use crate::CacheError;

/// How often a follower looks at `PRAGMA data_version`.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Log rows read per statement while catching up.
const READ_BATCH: usize = 1_000;

/// Where a follower starts in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// After the newest event logged when it opens: only what happens from now on.
    Now,
    /// After this `seq` (0: from the oldest event the log still keeps).
    After(i64),
}

/// How [`follow_with`] runs.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Time between two looks at the store.
    pub poll_interval: Duration,
    /// Whether to derive when the journal holds keys (true: needed in the embedded default;
    /// harmless beside a mirror, whose catch-ups leave the journal empty).
    pub derive: bool,
    /// The clock that stamps derived events.
    pub clock: fn() -> DateTime<Utc>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: POLL_INTERVAL,
            derive: true,
            clock: Utc::now,
        }
    }
}

/// A follower of one local store (synchronous; [`follow`] runs one on Tokio's blocking
/// pool). Holds its own connection.
#[derive(Debug)]
pub struct Follower {
    conn: Connection,
    last_seq: i64,
    data_version: Option<i64>,
    derive: bool,
}

impl Follower {
    /// Opens the local store at `path` (creating and migrating it if missing; an existing
    /// store that a newer binary migrated is followed as it is) and starts at `since`.
    pub fn open(path: &Path, since: Since) -> Result<Follower, CacheError> {
        let conn = if path.exists() {
            crate::local::open_existing(path)?
        } else {
            crate::local::open_or_create(path)?
        };
        crate::local::tune_for_reading(&conn)?;
        Follower::new(conn, since)
    }

    /// A follower on a migrated connection of its own.
    pub fn new(conn: Connection, since: Since) -> Result<Follower, CacheError> {
        // The deriver's statements all stay compiled (SQLite's default cache holds 16).
        conn.set_prepared_statement_cache_capacity(64);
        let last_seq = match since {
            Since::Now => last_seq(&conn)?,
            Since::After(s) => s,
        };
        Ok(Follower {
            conn,
            last_seq,
            data_version: None,
            derive: true,
        })
    }

    /// Turns deriving on or off (on by default).
    pub fn set_derive(&mut self, derive: bool) {
        self.derive = derive;
    }

    /// The `seq` of the last event returned (or where it started).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// One look at the store: when another connection committed since the last look,
    /// derives (if on and the journal holds keys) and returns the events logged after
    /// [`Follower::last_seq`], oldest first. `now` stamps what it derives. After an error
    /// the next poll tries again.
    pub fn poll(&mut self, now: DateTime<Utc>) -> Result<Vec<Envelope>, CacheError> {
        let dv: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(CacheError::sqlite("read the data version"))?;
        if self.data_version == Some(dv) {
            return Ok(Vec::new());
        }
        if self.derive && journal_has_keys(&self.conn)? {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(CacheError::sqlite("begin deriving events"))?;
            derive_logged(&tx, now)?;
            tx.commit()
                .map_err(CacheError::sqlite("commit derived events"))?;
        }
        let mut out = Vec::new();
        loop {
            let batch = read_after(&self.conn, self.last_seq, READ_BATCH)?;
            let full = batch.len() == READ_BATCH;
            if let Some(s) = batch.last().and_then(|e| e.seq) {
                self.last_seq = s;
            }
            out.extend(batch);
            if !full {
                break;
            }
        }
        self.data_version = Some(dv);
        Ok(out)
    }
}

fn journal_has_keys(conn: &Connection) -> Result<bool, CacheError> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM event_journal)", [], |r| {
        r.get(0)
    })
    .map_err(CacheError::sqlite("look at the event journal"))
}

/// Whether an error is another connection holding the lock longer than the busy timeout
/// (the follower tries again at the next poll).
fn is_busy(e: &CacheError) -> bool {
    matches!(
        e,
        CacheError::Sqlite {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

/// Follows the local store at `path` with the default options (derive on, polling every
/// [`POLL_INTERVAL`], the system clock) and publishes every logged event after `since` on
/// `bus`, until `shutdown` completes; see [`follow_with`].
pub async fn follow(
    path: impl AsRef<Path>,
    bus: Bus,
    since: Since,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CacheError> {
    follow_with(path, bus, since, FollowOptions::default(), shutdown).await
}

/// Follows the local store at `path` (created and migrated if missing) until `shutdown`
/// completes: polls it every `options.poll_interval`, derives when the journal holds keys
/// (if `options.derive`), and publishes the new log rows on `bus` in `seq` order. A store
/// locked for longer than the busy timeout is retried at the next poll; any other error
/// ends the loop with it.
pub async fn follow_with(
    path: impl AsRef<Path>,
    bus: Bus,
    since: Since,
    options: FollowOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CacheError> {
    let path: PathBuf = path.as_ref().to_path_buf();
    let derive = options.derive;
    let mut follower = blocking(move || {
        let mut f = Follower::open(&path, since)?;
        f.set_derive(derive);
        Ok(f)
    })
    .await?;
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(options.poll_interval.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = (options.clock)();
        let (f, result) = blocking(move || {
            let r = follower.poll(now);
            Ok((follower, r))
        })
        .await?;
        follower = f;
        match result {
            Ok(events) => {
                for e in events {
                    bus.publish(e);
                }
            }
            Err(e) if is_busy(&e) => tracing::warn!("events: {e}; trying again"),
            Err(e) => return Err(e),
        }
    }
}

/// Runs `f` on Tokio's blocking pool (SQLite calls block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CacheError> + Send + 'static,
) -> Result<T, CacheError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(CacheError::InvalidInput(
            "the runtime shut down while following the local store".to_owned(),
        )),
    }
}
