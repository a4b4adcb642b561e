//! Local queries: every read the app and the CLI make, from the local SQLite store only (so
//! they answer offline), with typed results that serialize to JSON for the web UI.
//!
//! | query | function | result |
//! |---|---|---|
//! | search as you type, filters, sort, keyset paging | [`search()`] | [`SearchPage`] of [`ItemSummary`] |
//! | one item in full | [`item()`] | [`ItemDetail`] |
//! | cross-location reorder suggestions | [`reorder()`] | [`ReorderPage`] of [`ReorderSuggestion`] |
//! | dashboard figures and sync health | [`dashboard()`] | [`Dashboard`] |
//!
//! All of them take a `&rusqlite::Connection` to a migrated local store (open one with
//! [`crate::local::open_existing`]) and only read. Bad input (an unknown sort field, a
//! malformed cursor, a NUL in the search text, an unknown location) is
//! [`CacheError::InvalidInput`]; an unknown SKU is [`CacheError::NotFound`].
//!
//! # The rows
//!
//! The inventory list has one row per product that has its derived `inventory_items` row (the
//! engine writes one for every product, `finale_id` = the product URL): numbers come from that
//! row (the seed's summary: on hand, available, reorder point, velocities, days of stock, cost,
//! price), text from the product (SKU, name, UPC, category).
//!
//! # Definitions (the same in every query, the dashboard and the CLI)
//!
//! - **available** = on hand − reserved, summed over every facility (`inventory_items.available`).
//! - **inactive**: product status `PRODUCT_INACTIVE`. Inactive items are expected to run out:
//!   they carry no alert flag (as the engine's critical run leaves them out).
//! - **out of stock**: an active item with available ≤ 0 over all locations.
//! - **at reorder point** (`at_reorder`, the `--below-reorder` filter): an active item with at
//!   least one location whose available stock (that location and its sublocations) is at or
//!   below that location's reorder point, which is the sum of the location's reorder
//!   guidelines (do-not-reorder ones skipped); a guideline without a facility compares with
//!   the item's total. This is Finale's per-location rule and the engine's
//!   `store::derive::LocationLevel::at_reorder_point`, kept per location in the
//!   `query_reorder_levels` table (see the migration `V20261205040000__search_index.sql`).
//! - **lead time** of an item: the lead time of its first supplier link that has one (main
//!   supplier first, then by position), else the product's own lead time, else
//!   [`DEFAULT_LEAD_TIME_DAYS`].
//! - **critical**: out of stock, or at reorder point with days of stock (available ÷ 30-day
//!   velocity) known and below the lead time: it runs out before a purchase placed today
//!   arrives. An item at reorder point that does not sell is not critical.
//! - **state**, one per item, the worst that applies: `inactive`, `out_of_stock`,
//!   `below_reorder` (at or below a reorder point, not out of stock), `ok`.
//!
//! # Reorder suggestions (see [`reorder()`])
//!
//! For an active item at reorder point somewhere, with demand rate
//! `d = max(velocity 30 d, velocity 90 d)` (units per day; the larger, so that a slow month
//! does not hide the normal rate), lead time `LT`, `RP` = the item's reorder point (the sum of
//! its guidelines) and `RQ` its reorder quantity:
//!
//! ```text
//! target   = RP + d × LT                  what must be in hand or coming when an order lands
//! position = available + on order          over all locations
//! suggested = 0                                       if position > target
//!           = max(floor(target − position) + 1, RQ)   otherwise
//! ```
//!
//! i.e. the smallest whole quantity that lifts the position strictly above the target, or the
//! reorder quantity when that is larger. Transfers move stock between locations without
//! changing the position: each location at its reorder point needs
//! `floor(RP_L − available_L) + 1` (lifting it just above its point); every other location
//! has a surplus of `ceil(available_M − RP_M) − 1` (`RP_M` = 0 without a guideline: the
//! source stays strictly above its own point). Needs are served in location order from the
//! largest surpluses first.
//!
//! # Search
//!
//! The text is matched against SKU, name, UPC/barcode and supplier SKUs through the FTS5
//! index `product_search` (kept current by triggers on `products` and `product_suppliers`):
//! every whitespace-separated word becomes an FTS5 string (`"..."`, quotes doubled) with a
//! prefix star, so operators (`OR`, `NEAR(`, `*`, `^`, `col:`) are matched as text, never
//! parsed. Words with no letter or digit are dropped (the tokenizer would ignore them). The
//! whole text is also a case-insensitive SKU prefix: those hits rank first (the exact SKU
//! before longer ones, as a string sorts before its extensions), then the other matches in
//! index order. With another sort field the matches are sorted by that field.
//!
//! Reorder suggestions list the items at a reorder point by SKU, or grouped by main supplier
//! (the link marked main, else the first; rows of one supplier together, by supplier URL, items
//! without a supplier last).
//!
//! # Cost at 100k items (`cargo bench -p stockpulse-tests --bench queries`)
//!
//! Searches, filters, sorts and pages read a page in index order (one index per sortable
//! column, migration `V20261205040000__search_index.sql`) and cost well under a millisecond.
//! A sorted text search reads and sorts its candidates when there are few, else walks the sort
//! column's index checking FTS ids. What would have to visit every item is kept by triggers
//! instead (migration `V20261205060000__item_flags.sql`): each item's flags (active, out of
//! stock, at a reorder point, critical, its main supplier) in `query_item_flags`, and the
//! dashboard's counts and stock value in one `query_counts` row. [`dashboard()`] reads that
//! row ([`recount()`] counts the source rows, for checks); a reorder page is a range read of
//! a partial index over the flags of the items at a reorder point.
//!
//! # Paging
//!
//! Keyset paging: a page is the rows after a position in the sort order, never an `OFFSET`.
//! Each page returns an opaque `next_cursor` (the last row's sort key, SKU and row id, tied
//! to the query it came from); passing it back as `after` reads the next page. Ties on the
//! sort column are broken by SKU then row id, so a walk sees every row exactly once. A cursor
//! that is malformed or belongs to another query is [`CacheError::InvalidInput`].

mod cursor;
mod dashboard;
#[cfg(feature = "fixture")]
pub mod fixture;
mod fts;
mod item;
mod reorder;
mod resolve;
mod search;

pub use dashboard::{
    Dashboard, DashboardCache, RECENT_RUNS, StateCounts, StrategyHealth, dashboard, recount,
};
pub use fts::fts_query;
pub use item::{
    DailySale, ItemDetail, LocationStock, ReorderRule, SALES_DAYS, SublocationStock, SupplierLink,
    item,
};
pub use reorder::{
    LevelInput, LowLocation, ReorderInput, ReorderPage, ReorderQuery, ReorderSuggestion,
    Suggestion, Transfer, reorder, suggest,
};
pub use search::{Filters, ItemSummary, SearchPage, SearchQuery, SortDir, SortField, search};

/// The connection every query takes (rusqlite's), re-exported for callers without rusqlite.
pub use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::CacheError;

/// The lead time (days) of an item whose supplier links and product give none.
pub const DEFAULT_LEAD_TIME_DAYS: f64 = 14.0;

/// The most rows one page may hold.
pub const MAX_LIMIT: u32 = 1000;

/// The page size when the caller gives none.
pub const DEFAULT_LIMIT: u32 = 50;

/// An item's one state (see the module docs for the definitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Product status `PRODUCT_INACTIVE`: no alerts.
    Inactive,
    /// Available ≤ 0 over all locations.
    OutOfStock,
    /// At or below the reorder point at some location, not out of stock.
    BelowReorder,
    /// None of the above.
    Ok,
}

impl ItemState {
    /// The state's name as JSON and the CLI print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::OutOfStock => "out_of_stock",
            Self::BelowReorder => "below_reorder",
            Self::Ok => "ok",
        }
    }

    fn from_flags(active: bool, out_of_stock: bool, at_reorder: bool) -> Self {
        if !active {
            Self::Inactive
        } else if out_of_stock {
            Self::OutOfStock
        } else if at_reorder {
            Self::BelowReorder
        } else {
            Self::Ok
        }
    }
}

/// SQL fragments of the definitions, over `inventory_items ii` joined with `products p`.
/// Fixed text only: nothing a caller gives is ever formatted into SQL.
pub(crate) mod sql {
    /// The item is active.
    pub const ACTIVE: &str = "coalesce(ii.status, '') <> 'PRODUCT_INACTIVE'";
    /// Out of stock (with [`ACTIVE`]); written `available <= 0` so that the planner can use
    /// the partial index `query_items_out_of_stock`.
    pub const OUT_OF_STOCK: &str = "ii.available <= 0";
    /// Some location at or below its reorder point.
    pub const AT_REORDER: &str = "EXISTS (SELECT 1 FROM query_reorder_levels l \
         WHERE l.product_url = ii.finale_id AND l.at_reorder = 1)";
    /// The item's lead time in days.
    pub const LEAD_TIME: &str = "coalesce((SELECT ps.lead_time_days FROM product_suppliers ps \
         WHERE ps.product_url = p.url AND ps.lead_time_days IS NOT NULL \
         ORDER BY ps.is_main DESC, ps.seq LIMIT 1), p.lead_time_days, 14.0)";

    /// Critical: out of stock, or at reorder point and running out within the lead time.
    pub fn critical() -> String {
        format!(
            "({ACTIVE} AND ({OUT_OF_STOCK} OR ({AT_REORDER} AND ii.days_of_stock IS NOT NULL \
             AND ii.days_of_stock < {LEAD_TIME})))"
        )
    }
}

/// Checks a page size: 1 ..= [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when `None`.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, CacheError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(CacheError::InvalidInput(format!(
            "page size {n} is out of range: give 1 to {MAX_LIMIT}"
        ))),
    }
}

/// Epoch milliseconds as an RFC 3339 UTC time.
pub(crate) fn time(ms: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_the_worst_flag() {
        assert_eq!(
            ItemState::from_flags(false, true, true),
            ItemState::Inactive
        );
        assert_eq!(
            ItemState::from_flags(true, true, true),
            ItemState::OutOfStock
        );
        assert_eq!(
            ItemState::from_flags(true, false, true),
            ItemState::BelowReorder
        );
        assert_eq!(ItemState::from_flags(true, false, false), ItemState::Ok);
    }

    #[test]
    fn page_limits() {
        assert_eq!(page_limit(None).ok(), Some(DEFAULT_LIMIT));
        assert_eq!(page_limit(Some(1)).ok(), Some(1));
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(MAX_LIMIT + 1)).is_err());
    }
}
