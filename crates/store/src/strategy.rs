//! The strategies a run can have, and what the seed's ranking returns: vocabulary both stores
//! and the engine share.

use uuid::Uuid;

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
