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

use tokio_postgres::Client;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::StoreError;

/// The seed's sync strategies, and the stock pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The initial (two-year) load and on-demand full reloads.
    Full,
    /// The daily change sync.
    Smart,
    /// The hourly sync of items that need attention.
    Critical,
    /// The stock pulse: Finale's stock read on its own short cadence (every 5 minutes by
    /// default) at critical priority, writing only the pairs that changed. Not one of the
    /// seed's ranking strategies (`get_items_needing_sync` treats it like any other value).
    Stock,
}

impl Strategy {
    /// The name used in SQL, in `sync_runs.strategy` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Full => "full",
            Strategy::Smart => "smart",
            Strategy::Critical => "critical",
            Strategy::Stock => "stock",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Strategy, String> {
        match s {
            "full" => Ok(Strategy::Full),
            "smart" => Ok(Strategy::Smart),
            "critical" => Ok(Strategy::Critical),
            "stock" => Ok(Strategy::Stock),
            other => Err(format!(
                "unknown strategy `{other}` (expected full, smart, critical or stock)"
            )),
        }
    }
}

/// One row of `get_items_needing_sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCandidate {
    /// `inventory_items.id`.
    pub id: Uuid,
    /// `inventory_items.sku`.
    pub sku: String,
    /// 10 (full) … 100 (critical, out of stock); higher is more urgent.
    pub priority: i32,
}

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
