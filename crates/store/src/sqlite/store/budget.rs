//! The budget ledger on SQLite (`budget_spends`, see the engine's `sync::budget`): the spends,
//! summed per (bucket, slot), are upserted in one transaction with
//! `count = count + excluded.count`; `slot` is epoch milliseconds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};

use super::conv::time_req;
use crate::sqlite::to_millis;
use crate::{BudgetSpend, StoreError};

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// Adds spends to the ledger.
pub fn record_spends(conn: &mut Connection, spends: &[BudgetSpend]) -> Result<(), StoreError> {
    const WHAT: &str = "record budget spends";
    let mut sum: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for s in spends.iter().filter(|s| s.count > 0) {
        *sum.entry((s.bucket.as_str(), to_millis(s.slot)))
            .or_insert(0) += i64::from(s.count);
    }
    if sum.is_empty() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q(WHAT))?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO budget_spends (bucket, slot, count) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (bucket, slot) DO UPDATE SET count = count + excluded.count",
            )
            .map_err(q(WHAT))?;
        for ((bucket, slot), count) in &sum {
            stmt.execute(params![bucket, slot, count])
                .map_err(q(WHAT))?;
        }
    }
    tx.commit().map_err(q(WHAT))
}

/// The ledger's rows from `since` on.
pub fn budget_spends(
    conn: &mut Connection,
    since: DateTime<Utc>,
) -> Result<Vec<BudgetSpend>, StoreError> {
    const WHAT: &str = "read budget spends";
    let mut stmt = conn
        .prepare_cached("SELECT bucket, slot, count FROM budget_spends WHERE slot >= ?1")
        .map_err(q(WHAT))?;
    let rows = stmt
        .query_map([to_millis(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(q(WHAT))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(q(WHAT))?;
    let mut spends = rows
        .into_iter()
        .map(|(bucket, slot, count)| {
            Ok(BudgetSpend {
                bucket,
                slot: time_req(slot, "budget_spends.slot")?,
                count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    spends.sort();
    Ok(spends)
}

/// Deletes the rows before `before`.
pub fn prune_budget_spends(
    conn: &mut Connection,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM budget_spends WHERE slot < ?1")
        .and_then(|mut s| s.execute([to_millis(before)]))
        .map(|n| n as u64)
        .map_err(q("prune budget spends"))
}
