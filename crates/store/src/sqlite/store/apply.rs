//! [`Store::apply`](crate::Store::apply) on SQLite: one IMMEDIATE transaction; per
//! mirrored table the generic path of [`crate::sqlite::table`] (stored hash read per key,
//! only new or changed rows written, owned children diffed by position), then the shared
//! report ([`crate::table::report`]). See the parent module's docs.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::conv::{int, json_text};
use crate::rows::{GuidelineRow, LineRow, StockRow, SupplierLinkRow};
use crate::sqlite::table::{check_finite, delete_keys, write_children, write_hashed};
use crate::sqlite::to_millis;
use crate::table::report;
use crate::{Applied, Batch, JobDone, Quarantined, StoreError, Writes};

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// Writes a batch in one transaction.
pub fn apply(
    conn: &mut Connection,
    batch: &Batch,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    check_numbers(batch)?;
    let now = to_millis(now);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin the batch transaction"))?;
    let mut out = Applied::default();

    let w = write_hashed(&tx, &batch.facilities, now)?;
    report::facilities(&mut out, &w);
    let w = write_hashed(&tx, &batch.parties, now)?;
    report::parties(&mut out, &w);
    let w = write_hashed(&tx, &batch.products, now)?;
    let (suppliers, _) = write_children::<_, SupplierLinkRow>(&tx, &w)?;
    let (guidelines, _) = write_children::<_, GuidelineRow>(&tx, &w)?;
    report::products(&mut out, &w, suppliers, guidelines);
    let gone: Vec<Vec<&str>> = batch
        .stock_deletes
        .iter()
        .map(|(p, f)| vec![p.as_str(), f.as_str()])
        .collect();
    let deleted = delete_keys::<StockRow>(&tx, &gone)?;
    report::stock_deleted(&mut out, deleted.iter().map(|k| k[0].to_owned()).collect());
    let w = write_hashed(&tx, &batch.stock_upserts, now)?;
    report::stock(&mut out, &w);
    let w = write_hashed(&tx, &batch.orders, now)?;
    let (lines, old_lines) = write_children::<_, LineRow>(&tx, &w)?;
    report::orders(&mut out, &w, lines, &old_lines);

    for e in &batch.quarantine {
        quarantine(&tx, e)?;
    }
    report::tally(
        &mut out,
        "sync_errors",
        Writes {
            inserted: batch.quarantine.len() as u64,
            ..Writes::default()
        },
    );
    for (key, value) in &batch.state {
        tx.prepare_cached(
            "INSERT INTO sync_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .and_then(|mut s| s.execute(params![key, json_text(value), now]))
        .map_err(q("set a sync_state value"))?;
    }
    if let Some(job) = &batch.job_done {
        job_done(&tx, job)?;
    }
    tx.commit().map_err(q("commit the batch"))?;
    report::finish(&mut out);
    Ok(out)
}

fn quarantine(tx: &Transaction<'_>, e: &Quarantined) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO sync_errors (run_id, collection, record_key, reason, raw_payload, raw_text, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.run_id,
            e.collection,
            e.record_key,
            e.reason,
            e.raw_payload.as_ref().map(json_text),
            e.raw_text,
            to_millis(e.at),
        ])
    })
    .map_err(q("quarantine a record"))?;
    Ok(())
}

fn job_done(tx: &Transaction<'_>, job: &JobDone) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "UPDATE backfill_jobs SET status = 'done', records = ?2, requests = ?3, done_at = ?4
              WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                job.id,
                int(job.records),
                i64::from(job.requests),
                to_millis(job.at)
            ])
        })
        .map_err(q("mark a backfill job done"))?;
    if n == 0 {
        return Err(StoreError::Corrupt {
            what: format!(
                "backfill job {} does not exist (its batch was not stored)",
                job.id
            ),
        });
    }
    Ok(())
}

/// Every number of the batch is finite (see [`check_finite`]).
fn check_numbers(b: &Batch) -> Result<(), StoreError> {
    check_finite(&b.products, |p| p.url.clone())?;
    for p in &b.products {
        check_finite(&p.suppliers, |_| p.url.clone())?;
        check_finite(&p.guidelines, |_| p.url.clone())?;
    }
    check_finite(&b.orders, |o| o.url.clone())?;
    for o in &b.orders {
        check_finite(&o.lines, |_| o.url.clone())?;
    }
    check_finite(&b.stock_upserts, |s| {
        format!("{} @ {}", s.product_url, s.facility_url)
    })
}
