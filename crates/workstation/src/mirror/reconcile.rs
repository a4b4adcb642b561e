//! Reconciliation: proving, cheaply, that the cache holds what the store holds, and repairing
//! only what differs.
//!
//! Both sides split every mirrored table into 256 buckets by the first byte of the MD5 of
//! the row's key (its key columns as text, joined by `|`) and sum, per bucket, the row count
//! and the rows' change positions (`change_xid`: which version of the row each side has).
//! Postgres computes its sums in SQL (nothing but 256 small rows per table crosses the
//! network); the cache computes its own from its keys. The comparison is made after a
//! catch-up in the **same snapshot**, so equal data means equal sums. For a bucket that
//! differs, the keys and positions of that bucket alone are compared, the rows the cache
//! lacks or holds in another version are fetched, the rows the store no longer has are
//! deleted, and the events the repair yields are published like any others.
//!
//! What this proves is that the cache holds the same *versions* of the same rows; it does not
//! re-read content (a local file edited by hand is not a drift this looks for).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::Utc;
use md5::{Digest, Md5};
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;
use tokio_postgres::Client;

use super::tables::{TablePlan, read_value};
use super::{apply, lock, state};
use crate::CacheError;
use crate::events::{self, Envelope};

/// What one reconciliation found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// The position the comparison was made at.
    pub position: i64,
    /// Tables compared.
    pub tables: usize,
    /// Buckets compared (256 per table).
    pub buckets: usize,
    /// Buckets that differed.
    pub mismatched: usize,
    /// Rows fetched again from the store.
    pub rows_repaired: u64,
    /// Local rows the store no longer has, deleted.
    pub rows_deleted: u64,
    /// Per table with a difference: the differing buckets.
    pub drift: Vec<TableDrift>,
}

/// The buckets of one table that differed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDrift {
    /// The table.
    pub table: String,
    /// The differing buckets (two hex digits each).
    pub buckets: Vec<String>,
}

pub(crate) struct Outcome {
    pub(crate) summary: Reconciliation,
    pub(crate) events: Vec<Envelope>,
}

/// Per bucket: (rows, sum of change positions).
type Sums = BTreeMap<String, (i64, i128)>;

/// Per key (as text): the local row id and its change position.
type LocalKeys = HashMap<String, (i64, Option<i64>)>;

fn bucket_of(key: &str) -> String {
    let digest = Md5::digest(key.as_bytes());
    format!("{:02x}", digest[0])
}

/// The cache's sums for one table (and, with `only`, the keys of those buckets).
fn local_sums(
    conn: &Connection,
    plan: &TablePlan,
    only: Option<&str>,
) -> Result<(Sums, LocalKeys), CacheError> {
    let sql = format!(
        "SELECT rowid, {}, change_xid FROM {}",
        plan.local_key_text,
        super::tables::quote(plan.name)
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(CacheError::sqlite("read the cache's keys"))?;
    let mut rows = stmt
        .query([])
        .map_err(CacheError::sqlite("read the cache's keys"))?;
    let mut sums = Sums::new();
    let mut keys = HashMap::new();
    while let Some(row) = rows
        .next()
        .map_err(CacheError::sqlite("read the cache's keys"))?
    {
        let rowid: i64 = row.get(0).map_err(CacheError::sqlite("read a key"))?;
        let key: String = row.get(1).map_err(CacheError::sqlite("read a key"))?;
        let xid: Option<i64> = row.get(2).map_err(CacheError::sqlite("read a key"))?;
        let b = bucket_of(&key);
        if let Some(only) = only {
            if b == only {
                keys.insert(key, (rowid, xid));
            }
            continue;
        }
        let e = sums.entry(b).or_default();
        e.0 += 1;
        e.1 += i128::from(xid.unwrap_or(0));
    }
    Ok((sums, keys))
}

/// Catches up and compares in one snapshot; repairs differing buckets.
pub(crate) async fn run(
    client: &mut Client,
    local: &std::sync::Arc<Mutex<Connection>>,
    plans: &std::sync::Arc<Vec<TablePlan>>,
) -> Result<Outcome, CacheError> {
    let (tx, snapshot) = super::open_snapshot(client, "open the reconciliation snapshot").await?;
    let to = snapshot.xmin;
    let Some(since) = ({
        let conn = lock(local);
        state::load(&conn)?.and_then(|r| r.snapshot)
    }) else {
        return Err(CacheError::Mirror(
            "the cache has no position: it must hydrate before it can reconcile".into(),
        ));
    };
    // 1. Catch up in this snapshot, so that equal data means equal sums.
    let (tombstones, changed) = super::read_changes(&tx, plans, &since).await?;
    // 2. The store's sums, per table.
    let mut store_sums = Vec::with_capacity(plans.len());
    for plan in plans.iter() {
        let sql = format!(
            "SELECT substr(md5({k}), 1, 2), count(*), coalesce(sum(change_xid::text::numeric), 0)::text
               FROM {t} GROUP BY 1",
            k = plan.pg_key_text,
            t = super::tables::quote(plan.name)
        );
        let rows = tx
            .query(&sql, &[])
            .await
            .map_err(CacheError::postgres("compute the store's checksums"))?;
        let mut sums = Sums::new();
        for r in rows {
            let sum: String = r.get(2);
            sums.insert(r.get(0), (r.get(1), sum.parse().unwrap_or(-1)));
        }
        store_sums.push(sums);
    }
    // 3. Apply the catch-up and compute the cache's sums.
    let (mut events, local_sums_all) = {
        let local = local.clone();
        let plans = plans.clone();
        let now = Utc::now();
        tokio::task::spawn_blocking(move || -> Result<_, CacheError> {
            let mut conn = lock(&local);
            let (_, events) =
                apply::apply_catch_up(&mut conn, &plans, &tombstones, &changed, &snapshot, now)?;
            let mut all = Vec::with_capacity(plans.len());
            for plan in plans.iter() {
                all.push(local_sums(&conn, plan, None)?.0);
            }
            Ok((events, all))
        })
        .await
        .map_err(|e| CacheError::Mirror(format!("the reconciliation failed: {e}")))??
    };
    // 4. Compare; repair the differing buckets.
    let mut summary = Reconciliation {
        position: to.0,
        tables: plans.len(),
        buckets: plans.len() * 256,
        ..Reconciliation::default()
    };
    for (i, plan) in plans.iter().enumerate() {
        let theirs = &store_sums[i];
        let ours = &local_sums_all[i];
        let differing: Vec<String> = theirs
            .keys()
            .chain(ours.keys())
            .filter(|b| theirs.get(*b) != ours.get(*b))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if differing.is_empty() {
            continue;
        }
        summary.mismatched += differing.len();
        for b in &differing {
            let (repaired, deleted, mut evs) = repair_bucket(&tx, local, plan, b).await?;
            summary.rows_repaired += repaired;
            summary.rows_deleted += deleted;
            events.append(&mut evs);
        }
        summary.drift.push(TableDrift {
            table: plan.name.to_owned(),
            buckets: differing,
        });
    }
    tx.commit()
        .await
        .map_err(CacheError::postgres("close the reconciliation snapshot"))?;
    record(local, &summary)?;
    if summary.mismatched > 0 {
        tracing::warn!(
            buckets = summary.mismatched,
            repaired = summary.rows_repaired,
            deleted = summary.rows_deleted,
            "reconciliation found drift and repaired it"
        );
    }
    Ok(Outcome { summary, events })
}

/// Compares one bucket key by key and repairs it.
async fn repair_bucket(
    tx: &tokio_postgres::Transaction<'_>,
    local: &std::sync::Arc<Mutex<Connection>>,
    plan: &TablePlan,
    bucket: &str,
) -> Result<(u64, u64, Vec<Envelope>), CacheError> {
    let sql = format!(
        "SELECT {k}, change_xid::text::int8 FROM {t} WHERE substr(md5({k}), 1, 2) = $1",
        k = plan.pg_key_text,
        t = super::tables::quote(plan.name)
    );
    let theirs: HashMap<String, i64> = tx
        .query(&sql, &[&bucket])
        .await
        .map_err(CacheError::postgres("read a bucket's keys"))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let ours = {
        let conn = lock(local);
        local_sums(&conn, plan, Some(bucket))?.1
    };
    let fetch: Vec<String> = theirs
        .iter()
        .filter(|(k, x)| ours.get(*k).map(|(_, ox)| *ox) != Some(Some(**x)))
        .map(|(k, _)| k.clone())
        .collect();
    let delete: Vec<i64> = ours
        .iter()
        .filter(|(k, _)| !theirs.contains_key(*k))
        .map(|(_, (rowid, _))| *rowid)
        .collect();
    let mut rows = Vec::new();
    if !fetch.is_empty() {
        let sql = format!("{} WHERE {} = ANY($1)", plan.select, plan.pg_key_text);
        for row in tx
            .query(&sql, &[&fetch])
            .await
            .map_err(CacheError::postgres("fetch a bucket's rows"))?
        {
            rows.push(super::tables::decode_row(plan, |c, wire| {
                read_value!(&row, c, wire)
            })?);
        }
    }
    let local = local.clone();
    let upsert = plan.upsert.clone();
    let delete_sql = format!(
        "DELETE FROM {} WHERE rowid = ?1",
        super::tables::quote(plan.name)
    );
    let now = Utc::now();
    tokio::task::spawn_blocking(move || -> Result<_, CacheError> {
        let mut conn = lock(&local);
        let tx = conn
            .transaction()
            .map_err(CacheError::sqlite("begin a repair"))?;
        let mut deleted = 0;
        for rowid in &delete {
            deleted += tx
                .execute(&delete_sql, [rowid])
                .map_err(CacheError::sqlite("delete a row the store no longer has"))?
                as u64;
        }
        for row in &rows {
            tx.execute(&upsert, params_from_iter(row.iter()))
                .map_err(CacheError::sqlite("repair a row"))?;
        }
        let events = events::derive_logged(&tx, now)?;
        tx.commit().map_err(CacheError::sqlite("commit a repair"))?;
        Ok((rows.len() as u64, deleted, events))
    })
    .await
    .map_err(|e| CacheError::Mirror(format!("the repair failed: {e}")))?
}

fn record(local: &Mutex<Connection>, r: &Reconciliation) -> Result<(), CacheError> {
    let conn = lock(local);
    conn.execute(
        "INSERT INTO mirror_reconciliations
             (at, position, tables, buckets, mismatched, rows_repaired, rows_deleted, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            Utc::now().timestamp_millis(),
            r.position,
            r.tables as i64,
            r.buckets as i64,
            r.mismatched as i64,
            r.rows_repaired as i64,
            r.rows_deleted as i64,
            serde_json::to_string(&r.drift).unwrap_or_else(|_| "[]".into()),
        ],
    )
    .map_err(CacheError::sqlite("record a reconciliation"))?;
    Ok(())
}

/// The most recent reconciliation recorded in the cache.
pub fn last(
    conn: &Connection,
) -> Result<Option<(chrono::DateTime<Utc>, Reconciliation)>, CacheError> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT at, position, tables, buckets, mismatched, rows_repaired, rows_deleted
           FROM mirror_reconciliations ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            Ok((
                chrono::DateTime::from_timestamp_millis(r.get(0)?).unwrap_or_default(),
                Reconciliation {
                    position: r.get(1)?,
                    tables: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    buckets: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    mismatched: usize::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    rows_repaired: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                    rows_deleted: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                    drift: Vec::new(),
                },
            ))
        },
    )
    .optional()
    .map_err(CacheError::sqlite("read the last reconciliation"))
}
