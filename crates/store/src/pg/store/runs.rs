//! Bookkeeping on Postgres: `sync_state`, `sync_runs`, `backfill_jobs`, `sync_errors`.
//!
//! `sync_runs.error_patterns` is stored as `[{"pattern": "http 429", "count": 3}, ...]` (most
//! frequent first, as [`RunMetrics::error_patterns`] is), `sync_runs.requests` as
//! `{"get": 412, ...}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

use super::to_i64;
use crate::{
    BackfillJob, JobKind, JobStatus, PlannedJob, QuarantineRecord, Quarantined, RunMetrics,
    RunRecord,
};
use crate::{StoreError, Strategy};

/// The note written on runs closed by [`close_abandoned_runs`].
pub const ABANDONED_NOTE: &str = "abandoned: its process ended before the run finished";

pub(super) async fn get_state(
    client: &Client,
    key: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    const WHAT: &str = "read sync state";
    client
        .query_typed_opt(
            "SELECT value FROM sync_state WHERE key = $1",
            &[(&key, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(StoreError::query(WHAT))
}

pub(super) async fn begin_run(
    client: &Client,
    strategy: Strategy,
    runner: &str,
    started_at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    const WHAT: &str = "open a sync run";
    let strategy = strategy.as_str();
    client
        .query_typed_one(
            "INSERT INTO sync_runs (strategy, started_at, runner) VALUES ($1, $2, $3) \
             RETURNING id",
            &[
                (&strategy, Type::TEXT),
                (&started_at, Type::TIMESTAMPTZ),
                (&runner, Type::TEXT),
            ],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .try_get(0)
        .map_err(StoreError::query(WHAT))
}

/// A measurement the schema can hold (finite, non-negative), or NULL: a broken measurement
/// must not lose the run's record.
fn measure(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v >= 0.0)
}

fn patterns_json(patterns: &[(String, u64)]) -> serde_json::Value {
    serde_json::Value::Array(
        patterns
            .iter()
            .map(|(p, n)| serde_json::json!({ "pattern": p, "count": n }))
            .collect(),
    )
}

pub(super) async fn finish_run(client: &Client, id: i64, m: &RunMetrics) -> Result<(), StoreError> {
    let duration = to_i64(m.duration_ms);
    let seen = to_i64(m.items_seen);
    let changed = to_i64(m.items_changed);
    let failed = to_i64(m.items_failed);
    let per_sec = measure(Some(m.items_per_sec));
    let patterns = patterns_json(&m.error_patterns);
    let requests = serde_json::to_value(&m.requests).unwrap_or_else(|_| serde_json::json!({}));
    let p50 = measure(m.network_p50_ms);
    let p95 = measure(m.network_p95_ms);
    let db = measure(m.db_latency_ms);
    // Without an end time, the end is start + duration (the CHECKs need one with `success`).
    let n = client
        .execute_typed(
            "UPDATE sync_runs SET \
                 finished_at = greatest(coalesce($2, started_at + $3 * interval '1 millisecond'), \
                                        started_at), \
                 duration_ms = $3, items_seen = $4, items_changed = $5, items_failed = $6, \
                 items_per_sec = $7, success = $8, error_patterns = $9, network_p50_ms = $10, \
                 network_p95_ms = $11, db_latency_ms = $12, requests = $13, notes = $14 \
             WHERE id = $1",
            &[
                (&id, Type::INT8),
                (&m.finished_at, Type::TIMESTAMPTZ),
                (&duration, Type::INT8),
                (&seen, Type::INT8),
                (&changed, Type::INT8),
                (&failed, Type::INT8),
                (&per_sec, Type::FLOAT8),
                (&m.success, Type::BOOL),
                (&patterns, Type::JSONB),
                (&p50, Type::FLOAT8),
                (&p95, Type::FLOAT8),
                (&db, Type::FLOAT8),
                (&requests, Type::JSONB),
                (&m.notes, Type::TEXT),
            ],
        )
        .await
        .map_err(StoreError::query("finish a sync run"))?;
    if n == 0 {
        return Err(StoreError::Corrupt {
            what: format!("sync run {id} does not exist"),
        });
    }
    Ok(())
}

pub(super) async fn close_abandoned_runs(
    client: &Client,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    client
        .execute_typed(
            "UPDATE sync_runs SET finished_at = greatest($1, started_at), success = false, \
                 notes = CASE WHEN notes IS NULL OR notes = '' THEN $2 \
                              ELSE notes || '; ' || $2 END \
             WHERE finished_at IS NULL",
            &[(&now, Type::TIMESTAMPTZ), (&ABANDONED_NOTE, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query("close abandoned sync runs"))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { what }
}

fn count(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn run_record(r: &Row) -> Result<RunRecord, StoreError> {
    const WHAT: &str = "read a sync run";
    let get_err = StoreError::query(WHAT);
    let read = || -> Result<_, tokio_postgres::Error> {
        Ok((
            r.try_get::<_, i64>("id")?,
            r.try_get::<_, String>("strategy")?,
            r.try_get::<_, DateTime<Utc>>("started_at")?,
            r.try_get::<_, Option<String>>("runner")?,
            r.try_get::<_, Option<DateTime<Utc>>>("finished_at")?,
            r.try_get::<_, Option<i64>>("duration_ms")?,
            [
                r.try_get::<_, Option<i64>>("items_seen")?,
                r.try_get::<_, Option<i64>>("items_changed")?,
                r.try_get::<_, Option<i64>>("items_failed")?,
            ],
            [
                r.try_get::<_, Option<f64>>("items_per_sec")?,
                r.try_get::<_, Option<f64>>("network_p50_ms")?,
                r.try_get::<_, Option<f64>>("network_p95_ms")?,
                r.try_get::<_, Option<f64>>("db_latency_ms")?,
            ],
            r.try_get::<_, Option<bool>>("success")?,
            r.try_get::<_, serde_json::Value>("error_patterns")?,
            r.try_get::<_, serde_json::Value>("requests")?,
            r.try_get::<_, Option<String>>("notes")?,
        ))
    };
    let (
        id,
        strategy,
        started_at,
        runner,
        finished_at,
        duration,
        counts,
        floats,
        success,
        patterns,
        requests,
        notes,
    ) = read().map_err(get_err)?;
    let strategy: Strategy = strategy
        .parse()
        .map_err(|e: String| corrupt(format!("sync run {id}: {e}")))?;
    let error_patterns = patterns
        .as_array()
        .ok_or_else(|| corrupt(format!("sync run {id}: error_patterns is not an array")))?
        .iter()
        .map(|p| {
            let pattern = p.get("pattern").and_then(|v| v.as_str());
            let n = p.get("count").and_then(|v| v.as_u64());
            match (pattern, n) {
                (Some(pattern), Some(n)) => Ok((pattern.to_owned(), n)),
                _ => Err(corrupt(format!(
                    "sync run {id}: error pattern {p} is not {{\"pattern\": text, \"count\": n}}"
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requests = requests
        .as_object()
        .ok_or_else(|| corrupt(format!("sync run {id}: requests is not an object")))?
        .iter()
        .map(|(k, v)| {
            v.as_u64().map(|n| (k.clone(), n)).ok_or_else(|| {
                corrupt(format!("sync run {id}: requests[{k}] = {v} is not a count"))
            })
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(RunRecord {
        id,
        strategy,
        started_at,
        runner,
        metrics: RunMetrics {
            finished_at,
            duration_ms: count(duration),
            items_seen: count(counts[0]),
            items_changed: count(counts[1]),
            items_failed: count(counts[2]),
            items_per_sec: floats[0].unwrap_or(0.0),
            success: success.unwrap_or(false),
            error_patterns,
            network_p50_ms: floats[1],
            network_p95_ms: floats[2],
            db_latency_ms: floats[3],
            requests,
            notes,
        },
    })
}

pub(super) async fn recent_runs(client: &Client, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
    let limit = i64::from(limit);
    let rows = client
        .query_typed(
            "SELECT id, strategy, started_at, runner, finished_at, duration_ms, items_seen, \
                    items_changed, items_failed, items_per_sec, network_p50_ms, \
                    network_p95_ms, db_latency_ms, success, error_patterns, requests, notes \
               FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1",
            &[(&limit, Type::INT8)],
        )
        .await
        .map_err(StoreError::query("read recent sync runs"))?;
    rows.iter().map(run_record).collect()
}

/// The newest successful run's start per strategy (an index-only lookup per strategy).
pub(super) async fn last_successes(
    client: &Client,
) -> Result<Vec<(Strategy, DateTime<Utc>)>, StoreError> {
    const WHAT: &str = "read the last successful run of each strategy";
    let rows = client
        .query_typed(
            "SELECT strategy, max(started_at) FROM sync_runs WHERE success \
              GROUP BY strategy ORDER BY strategy",
            &[],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(0).map_err(StoreError::query(WHAT))?;
            let at: DateTime<Utc> = r.try_get(1).map_err(StoreError::query(WHAT))?;
            let strategy = name.parse().map_err(|e| StoreError::Corrupt {
                what: format!("sync_runs.strategy: {e}"),
            })?;
            Ok((strategy, at))
        })
        .collect()
}

pub(super) async fn plan_backfill(
    client: &Client,
    jobs: &[PlannedJob],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let collection: Vec<&str> = jobs.iter().map(|j| j.collection.as_str()).collect();
    let kind: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let start: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.window_start).collect();
    let end: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.window_end).collect();
    // In input order, so ids follow the plan; a duplicate in the input is skipped like an
    // existing job.
    client
        .execute_typed(
            "INSERT INTO backfill_jobs (collection, kind, window_start, window_end, created_at) \
             SELECT u.c, u.k, u.s, u.e, $5 \
               FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) \
                    WITH ORDINALITY AS u(c, k, s, e, ord) \
              ORDER BY u.ord \
             ON CONFLICT (collection, window_start, window_end) DO NOTHING",
            &[
                (&collection, Type::TEXT_ARRAY),
                (&kind, Type::TEXT_ARRAY),
                (&start, Type::TIMESTAMPTZ_ARRAY),
                (&end, Type::TIMESTAMPTZ_ARRAY),
                (&now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("plan backfill jobs"))
}

pub(super) async fn backfill_jobs(client: &Client) -> Result<Vec<BackfillJob>, StoreError> {
    const WHAT: &str = "read backfill jobs";
    let rows = client
        .query_typed(
            "SELECT id, collection, kind, window_start, window_end, status, attempts, records, \
                    requests, last_error \
               FROM backfill_jobs ORDER BY id",
            &[],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get(0).map_err(StoreError::query(WHAT))?;
            let kind: String = r.try_get(2).map_err(StoreError::query(WHAT))?;
            let status: String = r.try_get(5).map_err(StoreError::query(WHAT))?;
            let read = || -> Result<_, tokio_postgres::Error> {
                Ok((
                    r.try_get(1)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(6)?,
                    r.try_get(7)?,
                    r.try_get(8)?,
                    r.try_get(9)?,
                ))
            };
            let (collection, window_start, window_end, attempts, records, requests, last_error) =
                read().map_err(StoreError::query(WHAT))?;
            Ok(BackfillJob {
                id,
                job: PlannedJob {
                    collection,
                    kind: JobKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("backfill job {id}: kind {kind:?}")))?,
                    window_start,
                    window_end,
                },
                status: JobStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("backfill job {id}: status {status:?}")))?,
                attempts,
                records,
                requests,
                last_error,
            })
        })
        .collect()
}

pub(super) async fn reset_interrupted_jobs(client: &Client) -> Result<u64, StoreError> {
    client
        .execute_typed(
            "UPDATE backfill_jobs SET status = 'pending' WHERE status = 'running'",
            &[],
        )
        .await
        .map_err(StoreError::query("reset interrupted backfill jobs"))
}

/// Fails when no job has the id (a caller bug, not a condition to ignore).
fn one_job(n: u64, id: i64) -> Result<(), StoreError> {
    if n == 0 {
        Err(corrupt(format!("backfill job {id} does not exist")))
    } else {
        Ok(())
    }
}

pub(super) async fn start_job(
    client: &Client,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let n = client
        .execute_typed(
            "UPDATE backfill_jobs SET status = 'running', attempts = attempts + 1, \
                 started_at = $2, done_at = NULL \
             WHERE id = $1",
            &[(&id, Type::INT8), (&now, Type::TIMESTAMPTZ)],
        )
        .await
        .map_err(StoreError::query("start a backfill job"))?;
    one_job(n, id)
}

pub(super) async fn fail_job(client: &Client, id: i64, error: &str) -> Result<(), StoreError> {
    let n = client
        .execute_typed(
            "UPDATE backfill_jobs SET status = 'failed', last_error = $2, done_at = NULL \
             WHERE id = $1",
            &[(&id, Type::INT8), (&error, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query("fail a backfill job"))?;
    one_job(n, id)
}

pub(super) async fn quarantined(
    client: &Client,
    limit: u32,
) -> Result<Vec<QuarantineRecord>, StoreError> {
    const WHAT: &str = "read quarantined records";
    let limit = i64::from(limit);
    let rows = client
        .query_typed(
            "SELECT id, run_id, collection, record_key, reason, raw_payload, raw_text, at \
               FROM sync_errors ORDER BY at DESC, id DESC LIMIT $1",
            &[(&limit, Type::INT8)],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    rows.iter()
        .map(|r| {
            Ok(QuarantineRecord {
                id: r.try_get(0)?,
                record: Quarantined {
                    run_id: r.try_get(1)?,
                    collection: r.try_get(2)?,
                    record_key: r.try_get(3)?,
                    reason: r.try_get(4)?,
                    raw_payload: r.try_get(5)?,
                    raw_text: r.try_get(6)?,
                    at: r.try_get(7)?,
                },
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))
}
