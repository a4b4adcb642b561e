//! The mirror's row in the local store (`mirror_state`): which store it follows, the position
//! applied, and the cache's state as `status` and the app read it.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{CacheError, CacheState, CacheStatus};

/// How long a heartbeat stays fresh: a `mirror_state` row older than this belongs to a mirror
/// that is not running any more.
pub const HEARTBEAT_STALE: std::time::Duration = std::time::Duration::from_secs(30);

/// What the local store knows about its mirror.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRecord {
    /// This cache's id in the store's registry of mirrors.
    pub mirror_id: String,
    /// The identity of the store it mirrors.
    pub store_identity: Option<String>,
    /// `user@host:port/db` of the store (never a password).
    pub store_target: Option<String>,
    /// The position applied; `None` until a hydration completes.
    pub position: Option<i64>,
    /// The store snapshot the position comes from (`pg_snapshot` text).
    pub snapshot: Option<String>,
    /// When the last hydration completed.
    pub hydrated_at: Option<DateTime<Utc>>,
    /// The state the mirror last recorded.
    pub status: CacheStatus,
    /// The mirror's last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// The mirror's process id.
    pub pid: Option<i64>,
}

impl MirrorRecord {
    /// The state as a reader should show it: a mirror whose heartbeat is stale is `stopped`.
    pub fn current_status(&self, now: DateTime<Utc>) -> CacheStatus {
        let stale = now
            .signed_duration_since(self.heartbeat_at)
            .to_std()
            .unwrap_or_default()
            > HEARTBEAT_STALE;
        let mut status = self.status.clone();
        if stale {
            status.state = CacheState::Stopped;
            status.since = self.heartbeat_at;
        }
        status
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

/// Reads the mirror's row, `None` when this store was never a mirror.
pub fn load(conn: &Connection) -> Result<Option<MirrorRecord>, CacheError> {
    conn.query_row(
        "SELECT mirror_id, store_identity, store_target, position, hydrated_at, state, since,
                data_as_of, loading, message, heartbeat_at, pid, snapshot
           FROM mirror_state WHERE one = 1",
        [],
        |r| {
            let state: String = r.get(5)?;
            let loading: String = r.get(8)?;
            Ok(MirrorRecord {
                mirror_id: r.get(0)?,
                store_identity: r.get(1)?,
                store_target: r.get(2)?,
                position: r.get(3)?,
                snapshot: r.get(12)?,
                hydrated_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                status: CacheStatus {
                    state: parse_state(&state),
                    since: from_ms(r.get(6)?),
                    position: r.get::<_, Option<i64>>(3)?.map(|p| p.to_string()),
                    data_as_of: r.get::<_, Option<i64>>(7)?.map(from_ms),
                    loading: serde_json::from_str(&loading).unwrap_or_default(),
                    message: r.get(9)?,
                },
                heartbeat_at: from_ms(r.get(10)?),
                pid: r.get(11)?,
            })
        },
    )
    .optional()
    .map_err(CacheError::sqlite("read the mirror's state"))
}

fn parse_state(s: &str) -> CacheState {
    match s {
        "hydrating" => CacheState::Hydrating,
        "catching_up" => CacheState::CatchingUp,
        "live" => CacheState::Live,
        _ => CacheState::Offline,
    }
}

/// Creates the mirror's row if missing (with a fresh id) and returns the id.
pub fn ensure(conn: &Connection, now: DateTime<Utc>) -> Result<String, CacheError> {
    if let Some(rec) = load(conn)? {
        return Ok(rec.mirror_id);
    }
    let id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    conn.execute(
        "INSERT INTO mirror_state (one, mirror_id, state, since, heartbeat_at, pid)
         VALUES (1, ?1, 'offline', ?2, ?2, ?3)",
        params![id, ms(now), i64::from(std::process::id())],
    )
    .map_err(CacheError::sqlite("create the mirror's state"))?;
    Ok(id)
}

/// Records the cache's state (and the heartbeat).
pub fn save_status(
    conn: &Connection,
    status: &CacheStatus,
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    // The row records what a mirror can be in; embedded and stopped are read-side states.
    let state = match status.state {
        CacheState::Embedded | CacheState::Stopped => CacheState::Offline.as_str(),
        s => s.as_str(),
    };
    conn.execute(
        "UPDATE mirror_state SET state = ?1, since = ?2, loading = ?3, message = ?4,
                heartbeat_at = ?5, pid = ?6 WHERE one = 1",
        params![
            state,
            ms(status.since),
            serde_json::to_string(&status.loading).unwrap_or_else(|_| "[]".into()),
            status.message,
            ms(now),
            i64::from(std::process::id()),
        ],
    )
    .map_err(CacheError::sqlite("record the mirror's state"))?;
    Ok(())
}

/// Moves the heartbeat only.
pub fn heartbeat(conn: &Connection, now: DateTime<Utc>) -> Result<(), CacheError> {
    conn.execute(
        "UPDATE mirror_state SET heartbeat_at = ?1, pid = ?2 WHERE one = 1",
        params![ms(now), i64::from(std::process::id())],
    )
    .map_err(CacheError::sqlite("record the mirror's heartbeat"))?;
    Ok(())
}

/// Records a new applied position (inside the transaction that applied its rows).
pub fn set_position(
    conn: &Connection,
    snapshot: &store::pg::feed::Snapshot,
    data_as_of: DateTime<Utc>,
) -> Result<(), CacheError> {
    conn.execute(
        "UPDATE mirror_state SET position = ?1, snapshot = ?2, data_as_of = ?3 WHERE one = 1",
        params![snapshot.xmin.0, snapshot.text, ms(data_as_of)],
    )
    .map_err(CacheError::sqlite("record the mirror's position"))?;
    Ok(())
}

/// Starts a hydration: forgets the position (a crash mid-way restarts it) and records what
/// is loading.
pub fn begin_hydration(
    conn: &Connection,
    identity: &str,
    target: &str,
    loading: &[&str],
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    conn.execute(
        "UPDATE mirror_state SET store_identity = ?1, store_target = ?2, position = NULL,
                snapshot = NULL,
                state = 'hydrating', since = ?3, loading = ?4, message = NULL, heartbeat_at = ?3
          WHERE one = 1",
        params![
            identity,
            target,
            ms(now),
            serde_json::to_string(loading).unwrap_or_else(|_| "[]".into())
        ],
    )
    .map_err(CacheError::sqlite("start a hydration"))?;
    Ok(())
}

/// Marks one table as loaded (progressive hydration).
pub fn table_loaded(conn: &Connection, table: &str) -> Result<(), CacheError> {
    conn.execute(
        "UPDATE mirror_state
            SET loading = (SELECT json_group_array(value) FROM json_each(loading) WHERE value <> ?1)
          WHERE one = 1",
        params![table],
    )
    .map_err(CacheError::sqlite("record a loaded table"))?;
    Ok(())
}

/// Completes a hydration (inside the transaction of its last rows).
pub fn end_hydration(
    conn: &Connection,
    snapshot: &store::pg::feed::Snapshot,
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    conn.execute(
        "UPDATE mirror_state SET position = ?1, snapshot = ?2, hydrated_at = ?3, data_as_of = ?3,
                loading = '[]'
          WHERE one = 1",
        params![snapshot.xmin.0, snapshot.text, ms(now)],
    )
    .map_err(CacheError::sqlite("complete a hydration"))?;
    Ok(())
}
