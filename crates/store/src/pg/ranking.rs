//! Ranking work with the seed's `get_items_needing_sync(strategy, limit)`.
//!
//! The SQL function (in the initial migration, body copied verbatim from the seed) reads the
//! seed's `inventory_items` and returns `(id, sku, priority)`:
//!
//! - `critical`: items at or below their reorder point, selling more than 1 unit/day, or
//!   not synced for 4 hours; priority 100 when out of stock, 90 at/below the reorder point,
//!   80 when selling fast, else 50; highest priority first.
//! - `smart`: items never synced or not synced for a day, priority 50, oldest sync first
//!   (never-synced first).
//! - `full` (and any other value): every item by SKU, priority 10.
//!
//! Ties keep the database's order (the seed's `ORDER BY` is not total).

use crate::{StoreError, Strategy, SyncCandidate};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

/// Calls `get_items_needing_sync(strategy, limit)`.
///
/// `limit` above `i32::MAX` is clamped (the SQL parameter is an `INTEGER`). Uses the unnamed
/// statement (`query_typed`), so it also works through a transaction-mode pooler.
pub async fn items_needing_sync(
    client: &Client,
    strategy: Strategy,
    limit: u32,
) -> Result<Vec<SyncCandidate>, StoreError> {
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let strategy = strategy.as_str();
    let rows = client
        .query_typed(
            "SELECT id, sku, priority FROM get_items_needing_sync($1, $2)",
            &[(&strategy, Type::TEXT), (&limit, Type::INT4)],
        )
        .await
        .map_err(StoreError::query("rank items needing sync"))?;
    rows.iter()
        .map(|row| {
            Ok(SyncCandidate {
                id: row
                    .try_get("id")
                    .map_err(StoreError::query("read a sync candidate's id"))?,
                sku: row
                    .try_get("sku")
                    .map_err(StoreError::query("read a sync candidate's sku"))?,
                priority: row
                    .try_get("priority")
                    .map_err(StoreError::query("read a sync candidate's priority"))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_round_trip() {
        for s in [
            Strategy::Full,
            Strategy::Smart,
            Strategy::Critical,
            Strategy::Stock,
        ] {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert!("FULL".parse::<Strategy>().is_err());
        assert!("".parse::<Strategy>().is_err());
        assert!("critical; drop table x".parse::<Strategy>().is_err());
    }
}
