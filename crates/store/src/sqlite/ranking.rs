//! Ranking work on the local store: the seed's `get_items_needing_sync(strategy, limit)` as
//! one parameterised query, with exactly the seed's semantics (see `crate::pg` for the
//! Postgres function it mirrors):
//!
//! - `critical`: items at or below their reorder point, selling more than 1 unit/day, or
//!   last synced more than 4 hours before `now`; priority 100 when out of stock, 90 at/below
//!   the reorder point, 80 when selling fast, else 50; highest priority first.
//! - `smart`: items never synced or last synced more than a day before `now`, priority 50,
//!   oldest sync first (never-synced first).
//! - `full` (and, in the SQL, any other strategy name): every item by SKU, priority 10.
//!
//! SQL's three-valued logic is kept on purpose: `stock <= NULL` (no reorder rule) and
//! `NULL < now - 4h` (never synced) are not true, so such rows are not `critical` unless
//! another trigger holds, exactly as in the seed. Ties keep the database's order.
//!
//! The clock is a parameter: SQLite's `now` is the machine's wall clock, while the engine
//! (and every test) runs on an injected, possibly scaled clock.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

use super::{StoreError, to_millis};
use crate::{Strategy, SyncCandidate};

/// The query: `?1` strategy name, `?2` limit, `?3` now in epoch milliseconds. Public so tests
/// can exercise the seed's "any other strategy name" branch, which [`Strategy`] cannot name.
pub const ITEMS_NEEDING_SYNC_SQL: &str = "\
SELECT id, sku, priority FROM (
    SELECT i.id, i.sku, i.finale_last_sync,
           CASE ?1
               WHEN 'critical' THEN
                   CASE WHEN i.stock = 0 THEN 100
                        WHEN i.stock <= i.reorder_point THEN 90
                        WHEN i.sales_velocity > 1.0 THEN 80
                        ELSE 50 END
               WHEN 'smart' THEN 50
               ELSE 10
           END AS priority
      FROM inventory_items i
     WHERE CASE ?1
               WHEN 'critical' THEN i.stock <= i.reorder_point
                                 OR i.sales_velocity > 1.0
                                 OR i.finale_last_sync < ?3 - 4 * 3600 * 1000
               WHEN 'smart' THEN i.finale_last_sync IS NULL
                              OR i.finale_last_sync < ?3 - 24 * 3600 * 1000
               ELSE 1
           END
) AS ranked
ORDER BY CASE WHEN ?1 = 'critical' THEN priority END DESC,
         CASE WHEN ?1 = 'smart' THEN finale_last_sync END ASC NULLS FIRST,
         CASE WHEN ?1 NOT IN ('critical', 'smart') THEN sku END ASC
LIMIT ?2";

/// The items a `strategy` run should sync, most urgent first, at most `limit`, judged at
/// `now` (the engine's clock).
pub fn items_needing_sync(
    conn: &Connection,
    strategy: Strategy,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Vec<SyncCandidate>, StoreError> {
    let mut stmt = conn
        .prepare_cached(ITEMS_NEEDING_SYNC_SQL)
        .map_err(StoreError::sqlite("prepare the sync ranking"))?;
    let rows = stmt
        .query_map(
            rusqlite::params![strategy.as_str(), i64::from(limit), to_millis(now)],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i32>(2)?,
                ))
            },
        )
        .map_err(StoreError::sqlite("rank items needing sync"))?;
    rows.map(|row| {
        let (id, sku, priority) = row.map_err(StoreError::sqlite("read a sync candidate"))?;
        let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt {
            what: format!("inventory_items.id is not a UUID: {id:?}"),
        })?;
        Ok(SyncCandidate { id, sku, priority })
    })
    .collect()
}
