//! [`Store::apply`](crate::Store::apply) on Postgres: one transaction; per mirrored table
//! the generic path of [`crate::pg::table`] (pre-read of the stored hashes, plain insert of
//! the new rows, upsert of the changed ones, owned children diffed by position), then the
//! shared report ([`crate::table::report`]). See the parent module's docs.

use chrono::{DateTime, Utc};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Transaction};

use super::to_i64;
use crate::pg::lock::check_fence;
use crate::pg::table::{Stored, delete_keys, insert, pre_read, upsert_changed, write_children};
use crate::rows::{GuidelineRow, LineRow, StockRow, SupplierLinkRow};
use crate::table::{Hashed, Written, last_wins, report};
use crate::{Applied, Batch, JobDone, Quarantined, StoreError, Writes};

/// How often a batch is tried when it loses a race with a concurrent batch (see
/// [`is_lost_race`]).
const ATTEMPTS: usize = 4;

/// Writes `batch` in one transaction and reports what it wrote. A batch that lost a race with
/// a concurrent one (a key it was about to insert was inserted meanwhile, or a deadlock) is
/// rolled back and tried again: its pre-reads then see the other batch's rows.
pub(super) async fn apply(
    client: &mut Client,
    batch: &Batch,
    now: DateTime<Utc>,
    fence: Option<&str>,
) -> Result<Applied, StoreError> {
    if batch.has_no_rows()
        && batch.quarantine.is_empty()
        && batch.state.is_empty()
        && batch.job_done.is_none()
    {
        return Ok(Applied::default());
    }
    let mut attempt = 1;
    loop {
        match apply_once(client, batch, now, fence).await {
            Err(e) if attempt < ATTEMPTS && is_lost_race(&e) => attempt += 1,
            r => return r,
        }
    }
}

/// A unique violation (another batch inserted a key after our pre-read) or a deadlock.
fn is_lost_race(e: &StoreError) -> bool {
    match e {
        StoreError::Query { source, .. } => source.code().is_some_and(|c| {
            *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::T_R_DEADLOCK_DETECTED
        }),
        _ => false,
    }
}

async fn apply_once(
    client: &mut Client,
    batch: &Batch,
    now: DateTime<Utc>,
    fence: Option<&str>,
) -> Result<Applied, StoreError> {
    let mut out = Applied::default();
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("begin a batch"))?;
    check_fence(&tx, fence).await?;

    let w = hashed(&tx, &batch.facilities, now).await?;
    report::facilities(&mut out, &w);
    let w = hashed(&tx, &batch.parties, now).await?;
    report::parties(&mut out, &w);
    let w = hashed(&tx, &batch.products, now).await?;
    let (suppliers, _) = write_children::<_, SupplierLinkRow>(&tx, &w).await?;
    let (guidelines, _) = write_children::<_, GuidelineRow>(&tx, &w).await?;
    report::products(&mut out, &w, suppliers, guidelines);
    let mut gone: Vec<Vec<&str>> = batch
        .stock_deletes
        .iter()
        .map(|(p, f)| vec![p.as_str(), f.as_str()])
        .collect();
    gone.sort_unstable();
    gone.dedup();
    let deleted = delete_keys::<StockRow>(&tx, &gone).await?;
    report::stock_deleted(
        &mut out,
        deleted
            .into_iter()
            .flat_map(|k| k.into_iter().take(1))
            .collect(),
    );
    let w = hashed(&tx, &batch.stock_upserts, now).await?;
    report::stock(&mut out, &w);
    let w = hashed(&tx, &batch.orders, now).await?;
    let (lines, old_lines) = write_children::<_, LineRow>(&tx, &w).await?;
    report::orders(&mut out, &w, lines, &old_lines);

    quarantine(&tx, &batch.quarantine, &mut out).await?;
    state(&tx, &batch.state, now).await?;
    if let Some(job) = &batch.job_done {
        job_done(&tx, job).await?;
    }
    tx.commit()
        .await
        .map_err(StoreError::query("commit a batch"))?;
    report::finish(&mut out);
    Ok(out)
}

/// Writes the new and changed rows of a hashed table: one per key (the last), in key order;
/// returns what was written, inserted rows first.
async fn hashed<'a, T: Hashed + Sync>(
    tx: &Transaction<'_>,
    rows: &'a [T],
    now: DateTime<Utc>,
) -> Result<Vec<Written<'a, T>>, StoreError> {
    let rows = last_wins(rows);
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut new = Vec::new();
    let mut changed = Vec::new();
    let mut olds = Vec::new();
    for (row, stored) in rows.iter().zip(pre_read(tx, &rows).await?) {
        match stored {
            Stored::Absent => new.push(*row),
            Stored::Same => {}
            Stored::Differs(old) => {
                changed.push(*row);
                olds.push(Some(old));
            }
        }
    }
    insert(tx, &new, now).await?;
    let mut written: Vec<Written<'a, T>> =
        new.iter().map(|&row| Written { row, old: None }).collect();
    for (i, inserted) in upsert_changed(tx, &changed, now).await? {
        written.push(Written {
            row: changed[i],
            old: if inserted { None } else { olds[i].take() },
        });
    }
    Ok(written)
}

/// Adds writes to a table's count (tables without writes stay absent).
fn tally(out: &mut Applied, table: &'static str, w: Writes) {
    report::tally(out, table, w);
}

// ---------------------------------------------------------------------------------------------
// Quarantine, state, job completion

async fn quarantine(
    tx: &Transaction<'_>,
    rows: &[Quarantined],
    out: &mut Applied,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let run: Vec<Option<i64>> = rows.iter().map(|q| q.run_id).collect();
    let collection: Vec<&str> = rows.iter().map(|q| q.collection.as_str()).collect();
    let key: Vec<Option<&str>> = rows.iter().map(|q| q.record_key.as_deref()).collect();
    let reason: Vec<&str> = rows.iter().map(|q| q.reason.as_str()).collect();
    let payload: Vec<Option<&serde_json::Value>> =
        rows.iter().map(|q| q.raw_payload.as_ref()).collect();
    let text: Vec<Option<&str>> = rows.iter().map(|q| q.raw_text.as_deref()).collect();
    let at: Vec<DateTime<Utc>> = rows.iter().map(|q| q.at).collect();
    let n = tx
        .execute_typed(
            "INSERT INTO sync_errors (run_id, collection, record_key, reason, raw_payload, \
                 raw_text, at) \
             SELECT u.run_id, u.collection, u.record_key, u.reason, u.raw_payload, \
                 u.raw_text, u.at \
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::jsonb[], \
                 $6::text[], $7::timestamptz[]) WITH ORDINALITY \
                 AS u(run_id, collection, record_key, reason, raw_payload, raw_text, at, ord) \
             ORDER BY u.ord",
            &[
                (&run, Type::INT8_ARRAY),
                (&collection, Type::TEXT_ARRAY),
                (&key, Type::TEXT_ARRAY),
                (&reason, Type::TEXT_ARRAY),
                (&payload, Type::JSONB_ARRAY),
                (&text, Type::TEXT_ARRAY),
                (&at, Type::TIMESTAMPTZ_ARRAY),
            ],
        )
        .await
        .map_err(StoreError::query("quarantine records"))?;
    tally(
        out,
        "sync_errors",
        Writes {
            inserted: n,
            ..Writes::default()
        },
    );
    Ok(())
}

async fn state(
    tx: &Transaction<'_>,
    values: &[(String, serde_json::Value)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values = super::last_wins(values, |(k, _)| k.as_str());
    if values.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
    let vals: Vec<&serde_json::Value> = values.iter().map(|(_, v)| v).collect();
    tx.execute_typed(
        "INSERT INTO sync_state (key, value, updated_at) \
         SELECT u.k, u.v, $3 FROM unnest($1::text[], $2::jsonb[]) AS u(k, v) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
        &[
            (&keys, Type::TEXT_ARRAY),
            (&vals, Type::JSONB_ARRAY),
            (&now, Type::TIMESTAMPTZ),
        ],
    )
    .await
    .map_err(StoreError::query("set sync state"))?;
    Ok(())
}

async fn job_done(tx: &Transaction<'_>, job: &JobDone) -> Result<(), StoreError> {
    let records = to_i64(job.records);
    let requests = i32::try_from(job.requests).unwrap_or(i32::MAX);
    let n = tx
        .execute_typed(
            "UPDATE backfill_jobs SET status = 'done', done_at = $2, records = $3, \
                 requests = $4 \
             WHERE id = $1",
            &[
                (&job.id, Type::INT8),
                (&job.at, Type::TIMESTAMPTZ),
                (&records, Type::INT8),
                (&requests, Type::INT4),
            ],
        )
        .await
        .map_err(StoreError::query("mark a backfill job done"))?;
    if n == 0 {
        // Rolls the batch back: a completion for a job that does not exist is a bug.
        return Err(StoreError::Corrupt {
            what: format!("backfill job {} does not exist", job.id),
        });
    }
    Ok(())
}
