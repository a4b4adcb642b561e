//! Runs, the backfill plan, the quarantine and `sync_state` on SQLite.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::conv::{count, int, json, metric, time, time_req};
use crate::sqlite::to_millis;
use crate::{
    BackfillJob, JobKind, JobStatus, PlannedJob, QuarantineRecord, Quarantined, RunMetrics,
    RunRecord,
};
use crate::{StoreError, Strategy};

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// The note [`close_abandoned_runs`] leaves on a run.
pub const ABANDONED_NOTE: &str = "abandoned: the process ended before the run finished";

/// Reads a `sync_state` value.
pub fn get_state(
    conn: &mut Connection,
    key: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(q("read a sync_state value"))?;
    v.map(|v| json(&v, "sync_state.value")).transpose()
}

/// Opens a run.
pub fn begin_run(
    conn: &mut Connection,
    strategy: Strategy,
    runner: &str,
    started_at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO sync_runs (strategy, started_at, runner) VALUES (?1, ?2, ?3) RETURNING id",
    )
    .and_then(|mut s| {
        s.query_row(
            params![strategy.as_str(), to_millis(started_at), runner],
            |r| r.get(0),
        )
    })
    .map_err(q("open a sync run"))
}

/// Writes a run's metrics; a run with `finished_at` is complete (`success` set).
pub fn finish_run(conn: &mut Connection, id: i64, m: &RunMetrics) -> Result<(), StoreError> {
    let finished = m.finished_at.map(to_millis);
    let patterns = serde_json::to_string(&m.error_patterns).map_err(|e| StoreError::Corrupt {
        what: format!("error patterns do not serialise: {e}"),
    })?;
    let requests = serde_json::to_string(&m.requests).map_err(|e| StoreError::Corrupt {
        what: format!("request counts do not serialise: {e}"),
    })?;
    let n = conn
        .prepare_cached(
            "UPDATE sync_runs SET finished_at = ?2, duration_ms = ?3, items_seen = ?4,
                    items_changed = ?5, items_failed = ?6, items_per_sec = ?7, success = ?8,
                    error_patterns = ?9, network_p50_ms = ?10, network_p95_ms = ?11,
                    db_latency_ms = ?12, requests = ?13, notes = ?14
              WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                finished,
                int(m.duration_ms),
                int(m.items_seen),
                int(m.items_changed),
                int(m.items_failed),
                metric(Some(m.items_per_sec)),
                finished.map(|_| m.success),
                patterns,
                metric(m.network_p50_ms),
                metric(m.network_p95_ms),
                metric(m.db_latency_ms),
                requests,
                m.notes,
            ])
        })
        .map_err(q("finish a sync run"))?;
    if n == 0 {
        return Err(StoreError::Corrupt {
            what: format!("sync run {id} does not exist"),
        });
    }
    Ok(())
}

/// Closes runs left open by a dead process.
pub fn close_abandoned_runs(conn: &mut Connection, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE sync_runs
                SET finished_at = max(?1, started_at), duration_ms = max(?1 - started_at, 0),
                    success = 0,
                    notes = CASE WHEN notes IS NULL OR notes = '' THEN ?2
                                 ELSE notes || '; ' || ?2 END
              WHERE finished_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![to_millis(now), ABANDONED_NOTE]))
        .map_err(q("close abandoned sync runs"))?;
    Ok(n as u64)
}

/// The newest successful run's start per strategy.
pub fn last_successes(conn: &mut Connection) -> Result<Vec<(Strategy, DateTime<Utc>)>, StoreError> {
    const WHAT: &str = "read the last successful run of each strategy";
    let raw: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT strategy, max(started_at) FROM sync_runs WHERE success = 1
              GROUP BY strategy ORDER BY strategy",
        )
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(q(WHAT))?;
    raw.into_iter()
        .map(|(name, at)| {
            let strategy: Strategy = name.parse().map_err(|e| StoreError::Corrupt {
                what: format!("sync_runs.strategy: {e}"),
            })?;
            Ok((strategy, time_req(at, "sync_runs.started_at")?))
        })
        .collect()
}

/// The newest runs first.
pub fn recent_runs(conn: &mut Connection, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
    type Raw = (
        i64,
        String,
        i64,
        Option<String>,
        Option<i64>,
        Option<i64>,
        [i64; 3],
        Option<f64>,
        Option<bool>,
        String,
        [Option<f64>; 3],
        String,
        Option<String>,
    );
    let raw: Vec<Raw> = conn
        .prepare_cached(
            "SELECT id, strategy, started_at, runner, finished_at, duration_ms, items_seen,
                    items_changed, items_failed, items_per_sec, success, error_patterns,
                    network_p50_ms, network_p95_ms, db_latency_ms, requests, notes
               FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT ?1",
        )
        .and_then(|mut s| {
            s.query_map([i64::from(limit)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    [r.get(6)?, r.get(7)?, r.get(8)?],
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    [r.get(12)?, r.get(13)?, r.get(14)?],
                    r.get(15)?,
                    r.get(16)?,
                ))
            })?
            .collect()
        })
        .map_err(q("read recent sync runs"))?;
    raw.into_iter()
        .map(
            |(
                id,
                strategy,
                started,
                runner,
                finished,
                duration,
                [seen, changed, failed],
                per_sec,
                success,
                patterns,
                [p50, p95, db],
                requests,
                notes,
            )| {
                let strategy: Strategy = strategy.parse().map_err(|e| StoreError::Corrupt {
                    what: format!("sync_runs.strategy: {e}"),
                })?;
                let error_patterns =
                    serde_json::from_str(&patterns).map_err(|e| StoreError::Corrupt {
                        what: format!("sync_runs.error_patterns of run {id}: {e}"),
                    })?;
                let requests =
                    serde_json::from_str(&requests).map_err(|e| StoreError::Corrupt {
                        what: format!("sync_runs.requests of run {id}: {e}"),
                    })?;
                Ok(RunRecord {
                    id,
                    strategy,
                    started_at: time_req(started, "sync_runs.started_at")?,
                    runner,
                    metrics: RunMetrics {
                        finished_at: time(finished, "sync_runs.finished_at")?,
                        duration_ms: count(duration.unwrap_or(0)),
                        items_seen: count(seen),
                        items_changed: count(changed),
                        items_failed: count(failed),
                        items_per_sec: per_sec.unwrap_or(0.0),
                        success: success.unwrap_or(false),
                        error_patterns,
                        network_p50_ms: p50,
                        network_p95_ms: p95,
                        db_latency_ms: db,
                        requests,
                        notes,
                    },
                })
            },
        )
        .collect()
}

/// Inserts the jobs not planned yet.
pub fn plan_backfill(
    conn: &mut Connection,
    jobs: &[PlannedJob],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin planning the backfill"))?;
    let mut new = 0;
    for j in jobs {
        new += tx
            .prepare_cached(
                "INSERT INTO backfill_jobs (collection, kind, window_start, window_end, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (collection, window_start, window_end) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    j.collection,
                    j.kind.as_str(),
                    to_millis(j.window_start),
                    to_millis(j.window_end),
                    to_millis(now),
                ])
            })
            .map_err(q("plan a backfill job"))? as u64;
    }
    tx.commit().map_err(q("commit the backfill plan"))?;
    Ok(new)
}

/// Every job by id.
pub fn backfill_jobs(conn: &mut Connection) -> Result<Vec<BackfillJob>, StoreError> {
    type Raw = (
        i64,
        String,
        String,
        i64,
        i64,
        String,
        i32,
        i64,
        i32,
        Option<String>,
    );
    let raw: Vec<Raw> = conn
        .prepare_cached(
            "SELECT id, collection, kind, window_start, window_end, status, attempts, records,
                    requests, last_error
               FROM backfill_jobs ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect()
        })
        .map_err(q("read backfill jobs"))?;
    raw.into_iter()
        .map(
            |(
                id,
                collection,
                kind,
                start,
                end,
                status,
                attempts,
                records,
                requests,
                last_error,
            )| {
                Ok(BackfillJob {
                    id,
                    job: PlannedJob {
                        collection,
                        kind: JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                            what: format!("backfill_jobs.kind of job {id}: {kind:?}"),
                        })?,
                        window_start: time_req(start, "backfill_jobs.window_start")?,
                        window_end: time_req(end, "backfill_jobs.window_end")?,
                    },
                    status: JobStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                        what: format!("backfill_jobs.status of job {id}: {status:?}"),
                    })?,
                    attempts,
                    records,
                    requests,
                    last_error,
                })
            },
        )
        .collect()
}

/// `running` jobs back to `pending`.
pub fn reset_interrupted_jobs(conn: &mut Connection) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached("UPDATE backfill_jobs SET status = 'pending' WHERE status = 'running'")
        .and_then(|mut s| s.execute([]))
        .map_err(q("reset interrupted backfill jobs"))?;
    Ok(n as u64)
}

fn one_job(n: usize, id: i64) -> Result<(), StoreError> {
    if n == 0 {
        return Err(StoreError::Corrupt {
            what: format!("backfill job {id} does not exist"),
        });
    }
    Ok(())
}

/// Marks a job running and counts the attempt.
pub fn start_job(conn: &mut Connection, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE backfill_jobs SET status = 'running', attempts = attempts + 1,
                    started_at = ?2, done_at = NULL
              WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, to_millis(now)]))
        .map_err(q("start a backfill job"))?;
    one_job(n, id)
}

/// Marks a job failed.
pub fn fail_job(conn: &mut Connection, id: i64, error: &str) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE backfill_jobs SET status = 'failed', last_error = ?2, done_at = NULL
              WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, error]))
        .map_err(q("fail a backfill job"))?;
    one_job(n, id)
}

/// The newest quarantined records first.
pub fn quarantined(conn: &mut Connection, limit: u32) -> Result<Vec<QuarantineRecord>, StoreError> {
    type Raw = (
        i64,
        Option<i64>,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        i64,
    );
    let raw: Vec<Raw> = conn
        .prepare_cached(
            "SELECT id, run_id, collection, record_key, reason, raw_payload, raw_text, at
               FROM sync_errors ORDER BY at DESC, id DESC LIMIT ?1",
        )
        .and_then(|mut s| {
            s.query_map([i64::from(limit)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect()
        })
        .map_err(q("read quarantined records"))?;
    raw.into_iter()
        .map(
            |(id, run_id, collection, record_key, reason, payload, raw_text, at)| {
                Ok(QuarantineRecord {
                    id,
                    record: Quarantined {
                        run_id,
                        collection,
                        record_key,
                        reason,
                        raw_payload: payload
                            .map(|p| json(&p, "sync_errors.raw_payload"))
                            .transpose()?,
                        raw_text,
                        at: time_req(at, "sync_errors.at")?,
                    },
                })
            },
        )
        .collect()
}
