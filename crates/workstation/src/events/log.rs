//! The persisted event log (`cache_events`): appended by the deriver, tailed by followers in
//! any process, pruned by age and count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use store::sqlite::{from_millis, to_millis};

use super::model::{Envelope, Event};
use crate::CacheError;

/// How long the log keeps an event.
pub const LOG_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most rows the log keeps (the newest).
pub const LOG_MAX_ROWS: i64 = 100_000;

/// Appends `events` to the log at time `at`, in order, and returns them with their `seq`.
/// Runs in the caller's transaction (use it for events the deriver does not make, such as a
/// mirror's [`Event::Status`], so that other processes see them too).
pub fn append(
    conn: &Connection,
    events: Vec<Event>,
    at: DateTime<Utc>,
) -> Result<Vec<Envelope>, CacheError> {
    // The log keeps milliseconds: the envelopes returned say what a reader will read.
    let at = from_millis(to_millis(at)).unwrap_or(at);
    let mut out = Vec::with_capacity(events.len());
    let mut st = conn
        .prepare_cached(
            "INSERT INTO cache_events (at, type, json) VALUES (?1, ?2, ?3) RETURNING seq",
        )
        .map_err(CacheError::sqlite("prepare appending to the event log"))?;
    for event in events {
        let json = serde_json::to_string(&event)
            .map_err(|e| CacheError::InvalidInput(format!("an event does not serialise: {e}")))?;
        let seq: i64 = st
            .query_row(params![to_millis(at), event.kind(), json], |r| r.get(0))
            .map_err(CacheError::sqlite("append to the event log"))?;
        out.push(Envelope {
            seq: Some(seq),
            at,
            event,
        });
    }
    Ok(out)
}

/// The newest `seq` in the log (0 when it is empty): where a follower that starts "now"
/// begins.
pub fn last_seq(conn: &Connection) -> Result<i64, CacheError> {
    // The AUTOINCREMENT counter, not max(seq): a log pruned to empty still starts after the
    // last event ever logged.
    let counter: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'cache_events'",
            [],
            |r| r.get(0),
        )
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(CacheError::sqlite("read the event log's last seq"))?;
    let max: Option<i64> = conn
        .query_row("SELECT max(seq) FROM cache_events", [], |r| r.get(0))
        .map_err(CacheError::sqlite("read the event log's last seq"))?;
    Ok(counter.unwrap_or(0).max(max.unwrap_or(0)))
}

/// Up to `limit` logged events after `seq`, oldest first.
pub fn read_after(conn: &Connection, seq: i64, limit: usize) -> Result<Vec<Envelope>, CacheError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, i64, String)> = conn
        .prepare_cached(
            "SELECT seq, at, json FROM cache_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![seq, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .map_err(CacheError::sqlite("read the event log"))?;
    rows.into_iter()
        .map(|(seq, at, json)| {
            let event: Event = serde_json::from_str(&json).map_err(|e| {
                CacheError::InvalidInput(format!("event {seq} of the log does not parse: {e}"))
            })?;
            let at = from_millis(at).ok_or_else(|| {
                CacheError::InvalidInput(format!("event {seq} of the log has a bad time"))
            })?;
            Ok(Envelope {
                seq: Some(seq),
                at,
                event,
            })
        })
        .collect()
}

/// Deletes events older than [`LOG_KEEP`] before `now` and all but the newest
/// [`LOG_MAX_ROWS`]; returns how many went.
pub fn prune(conn: &Connection, now: DateTime<Utc>) -> Result<u64, CacheError> {
    let keep_ms = i64::try_from(LOG_KEEP.as_millis()).unwrap_or(i64::MAX);
    let cutoff = to_millis(now).saturating_sub(keep_ms);
    let old = conn
        .prepare_cached("DELETE FROM cache_events WHERE at < ?1")
        .and_then(|mut s| s.execute([cutoff]))
        .map_err(CacheError::sqlite("prune old events"))?;
    let many = conn
        .prepare_cached(
            "DELETE FROM cache_events
              WHERE seq <= (SELECT max(seq) FROM cache_events) - ?1",
        )
        .and_then(|mut s| s.execute([LOG_MAX_ROWS]))
        .map_err(CacheError::sqlite("prune the event log to its size"))?;
    Ok((old + many) as u64)
}
