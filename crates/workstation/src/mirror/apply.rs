//! The local side of the mirror: writing what the store sent into SQLite. Every function
//! here is synchronous (rusqlite) and runs on a blocking thread, the one writer of the cache.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use store::pg::feed::Tombstone;

use super::state;
use super::tables::{TablePlan, Wire};
use crate::CacheError;
use crate::events::{self, Envelope};

/// Rows of one table, as local values in the plan's column order.
pub(crate) type Rows = Vec<Vec<Value>>;

/// How many rows a hydration commits at a time, so that readers see the load progress.
pub(crate) const HYDRATION_COMMIT_ROWS: usize = 50_000;

/// What one catch-up changed locally.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Rows upserted, per table.
    pub upserted: Vec<(String, u64)>,
    /// Rows deleted by tombstones.
    pub deleted: u64,
}

impl Applied {
    /// Rows upserted in all tables.
    pub fn rows(&self) -> u64 {
        self.upserted.iter().map(|(_, n)| n).sum()
    }
}

/// Hydration's writer state for one table: a transaction open on the cache, committed every
/// [`HYDRATION_COMMIT_ROWS`].
pub(crate) struct TableLoad {
    table: usize,
    in_tx: usize,
    rows: u64,
}

impl TableLoad {
    /// Empties table `table` (a hydration replaces what was there) and opens the first
    /// transaction.
    pub(crate) fn begin(
        conn: &Connection,
        plans: &[TablePlan],
        table: usize,
    ) -> Result<Self, CacheError> {
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(CacheError::sqlite("begin a hydration transaction"))?;
        conn.execute(
            &format!("DELETE FROM {}", super::tables::quote(plans[table].name)),
            [],
        )
        .map_err(CacheError::sqlite("empty a table before hydrating it"))?;
        Ok(Self {
            table,
            in_tx: 0,
            rows: 0,
        })
    }

    /// The table being loaded.
    pub(crate) fn table(&self) -> usize {
        self.table
    }

    /// Inserts a chunk of rows.
    pub(crate) fn insert(
        &mut self,
        conn: &Connection,
        plans: &[TablePlan],
        rows: &Rows,
    ) -> Result<(), CacheError> {
        {
            let mut stmt = conn
                .prepare_cached(&plans[self.table].upsert)
                .map_err(CacheError::sqlite("prepare a hydration insert"))?;
            for row in rows {
                stmt.execute(params_from_iter(row.iter()))
                    .map_err(CacheError::sqlite("insert a hydrated row"))?;
            }
        }
        self.rows += rows.len() as u64;
        self.in_tx += rows.len();
        if self.in_tx >= HYDRATION_COMMIT_ROWS {
            conn.execute_batch("COMMIT; BEGIN IMMEDIATE")
                .map_err(CacheError::sqlite("commit a hydration chunk"))?;
            self.in_tx = 0;
        }
        Ok(())
    }

    /// Marks the table loaded and commits; returns the rows loaded.
    pub(crate) fn finish(self, conn: &Connection, plans: &[TablePlan]) -> Result<u64, CacheError> {
        state::table_loaded(conn, plans[self.table].name)?;
        conn.execute_batch("COMMIT")
            .map_err(CacheError::sqlite("commit a hydrated table"))?;
        Ok(self.rows)
    }
}

/// Rolls back a hydration transaction left open by an error (its rows are reloaded next time).
pub(crate) fn abandon(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Completes a hydration: baselines the alert state (a first fill raises no alerts) and
/// stores the position, in one transaction.
pub(crate) fn finish_hydration(
    conn: &mut Connection,
    snapshot: &store::pg::feed::Snapshot,
    now: DateTime<Utc>,
) -> Result<(), CacheError> {
    let tx = conn
        .transaction()
        .map_err(CacheError::sqlite("begin the end of a hydration"))?;
    events::baseline(&tx, now)?;
    state::end_hydration(&tx, snapshot, now)?;
    tx.commit()
        .map_err(CacheError::sqlite("commit the end of a hydration"))
}

/// The local value of a tombstone's key column.
fn key_value(
    plan: &TablePlan,
    column: &str,
    v: Option<&serde_json::Value>,
) -> Result<Value, CacheError> {
    let wire = plan
        .columns
        .iter()
        .find(|c| c.name == column)
        .map_or(Wire::Text, |c| c.wire);
    Ok(match (wire, v) {
        (_, None | Some(serde_json::Value::Null)) => Value::Null,
        (Wire::Int, Some(serde_json::Value::Number(n))) => {
            Value::Integer(n.as_i64().ok_or_else(|| {
                CacheError::Mirror(format!(
                    "a tombstone of {} has a non-integer key",
                    plan.name
                ))
            })?)
        }
        (_, Some(serde_json::Value::String(s))) => Value::Text(s.clone()),
        (_, Some(other)) => Value::Text(other.to_string()),
    })
}

/// Applies one catch-up in one transaction: tombstones (children first), then rows (parents
/// first), then the events the changes yield, then the position they reach.
pub(crate) fn apply_catch_up(
    conn: &mut Connection,
    plans: &[TablePlan],
    tombstones: &[Tombstone],
    rows: &[(usize, Rows)],
    snapshot: &store::pg::feed::Snapshot,
    now: DateTime<Utc>,
) -> Result<(Applied, Vec<Envelope>), CacheError> {
    let tx = conn
        .transaction()
        .map_err(CacheError::sqlite("begin a catch-up"))?;
    let mut applied = Applied::default();
    let by_name: HashMap<&str, (usize, &TablePlan)> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name, (i, p)))
        .collect();
    let mut ordered: Vec<(usize, &Tombstone)> = tombstones
        .iter()
        .filter_map(|t| by_name.get(t.table.as_str()).map(|(i, _)| (*i, t)))
        .collect();
    // Children before parents; within a table, in commit order.
    ordered.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.position.cmp(&b.1.position)));
    for (i, t) in ordered {
        let plan = &plans[i];
        let key: Vec<Value> = plan
            .keys
            .iter()
            .map(|k| key_value(plan, k, t.key.get(*k)))
            .collect::<Result<_, _>>()?;
        let mut stmt = tx
            .prepare_cached(&plan.delete)
            .map_err(CacheError::sqlite("prepare a delete"))?;
        applied.deleted += stmt
            .execute(params_from_iter(key.iter()))
            .map_err(CacheError::sqlite("apply a deletion"))? as u64;
    }
    for (i, table_rows) in rows {
        let plan = &plans[*i];
        let mut stmt = tx
            .prepare_cached(&plan.upsert)
            .map_err(CacheError::sqlite("prepare an upsert"))?;
        for row in table_rows {
            stmt.execute(params_from_iter(row.iter()))
                .map_err(CacheError::sqlite("apply a changed row"))?;
        }
        if !table_rows.is_empty() {
            applied
                .upserted
                .push((plan.name.to_owned(), table_rows.len() as u64));
        }
    }
    let events = events::derive_logged(&tx, now)?;
    state::set_position(&tx, snapshot, now)?;
    tx.commit()
        .map_err(CacheError::sqlite("commit a catch-up"))?;
    Ok((applied, events))
}
