//! Derived rows: the seed's `inventory_items` and sales velocity, computed from stored rows.
//!
//! The store gathers one [`ItemInput`] per product (its product row's fields, on hand and
//! reserved summed over facilities, its reorder guidelines, its stock per location, units sold
//! in the last 30 and 90 days and the day of its first sale, see
//! [`crate::Store::item_inputs`]); [`item_row`] turns it into the seed's row and
//! [`location_levels`] compares each location with its own guideline. Pure, so the Postgres
//! and SQLite stores derive identical rows and hashes.
//!
//! - **Available, not on hand.** `available` = on hand − reserved: what can still be sold.
//!   Days of stock and every critical trigger use it (50 on hand with 50 reserved is out of
//!   stock for a store keeper); the seed's `stock` column keeps on hand.
//! - **Velocity over the history there is.** `sales_velocity` = units sold in the 30 days
//!   before `as_of` ÷ the days of history available in that window (the seed's column);
//!   `sales_velocity_90d` = the same over 90 days, the item's *normal* rate. The history
//!   starts at the product's `createdDate` or its first sale, whichever is earlier
//!   ([`history_days`]): a product 20 days old divides by 20, not 90, so youth is not a
//!   "velocity spike". Returns net against sales, and a negative net counts as 0.
//! - `days_of_stock` = available ÷ `sales_velocity`, `None` when nothing sells (never ∞).
//! - **Reorder points per location.** A guideline belongs to a location (its facility rolled
//!   up through `facilities.parent_url`, like stock); `##doNotReorder` guidelines are
//!   skipped. The item row's `reorder_point` / `reorder_quantity` are the sums over the
//!   remaining guidelines (the total the seed's `get_items_needing_sync` compares with the
//!   total), `None` when there are none; the critical trigger compares each location's
//!   available stock with that location's own point ([`LocationLevel`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::rows::{ContentHasher, ItemRow};

/// Days in the short velocity window (the seed's `sales_velocity`).
pub const VELOCITY_DAYS: f64 = 30.0;
/// Days in the long ("normal") velocity window.
pub const NORMAL_VELOCITY_DAYS: f64 = 90.0;
/// Finale's `reorderCalculationMethodId` for "do not reorder" (finale-api.md §7.3).
pub const DO_NOT_REORDER: &str = "##doNotReorder";

/// What the store knows about one product, gathered for [`item_row`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemInput {
    /// Product URL.
    pub product_url: String,
    /// SKU.
    pub sku: String,
    /// Product name.
    pub name: Option<String>,
    /// Product status.
    pub status: Option<String>,
    /// Product cost.
    pub cost: Option<f64>,
    /// List price.
    pub list_price: Option<f64>,
    /// On hand over all facilities.
    pub on_hand: f64,
    /// Reserved over all facilities.
    pub reserved: f64,
    /// Sum of the reorder points of the guidelines that are not `##doNotReorder`, `None`
    /// without such guidelines.
    pub reorder_point: Option<f64>,
    /// Sum of their reorder quantities, `None` without such guidelines.
    pub reorder_qty: Option<f64>,
    /// Stock and reorder point per location ([`location_levels`]), by location URL.
    pub locations: Vec<LocationLevel>,
    /// Units sold in the 30 days before `as_of`.
    pub units_30d: f64,
    /// Units sold in the 90 days before `as_of`.
    pub units_90d: f64,
    /// The product's `createdDate`.
    pub created: Option<DateTime<Utc>>,
    /// The day of its first stored sale (any day, not only within the windows).
    pub first_sale: Option<NaiveDate>,
    /// The day velocities are computed for (`as_of`'s date, as the store buckets sales).
    pub as_of: NaiveDate,
}

/// One location's stock of a product and its own reorder point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationLevel {
    /// The location (a facility without a parent, or a facility the store does not know);
    /// `None` for guidelines without a facility, which are compared with the product's total.
    pub location_url: Option<String>,
    /// On hand at the location, summed over its sublocations.
    pub on_hand: f64,
    /// Reserved at the location.
    pub reserved: f64,
    /// Sum of the location's reorder points (do-not-reorder guidelines skipped); `None`
    /// without one.
    pub reorder_point: Option<f64>,
}

impl LocationLevel {
    /// On hand − reserved.
    pub fn available(&self) -> f64 {
        self.on_hand - self.reserved
    }
    /// Whether the location is at or below its reorder point.
    pub fn at_reorder_point(&self) -> bool {
        self.reorder_point.is_some_and(|rp| self.available() <= rp)
    }
}

/// A stock row as [`location_levels`] needs it: facility, its parent, quantities.
#[derive(Debug, Clone, PartialEq)]
pub struct StockAt {
    /// The (sub)location the stock sits in.
    pub facility_url: String,
    /// Its parent location, if the store knows one.
    pub parent_url: Option<String>,
    /// On hand.
    pub on_hand: f64,
    /// Reserved.
    pub reserved: f64,
}

/// A reorder guideline as [`location_levels`] needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidelineAt {
    /// Its facility, `None` when Finale gave none.
    pub facility_url: Option<String>,
    /// The facility's parent location, if the store knows one.
    pub parent_url: Option<String>,
    /// Reorder point.
    pub reorder_point: Option<f64>,
    /// Reorder quantity.
    pub reorder_qty: Option<f64>,
    /// `reorderCalculationMethodId`.
    pub calculation_method: Option<String>,
}

impl GuidelineAt {
    /// Whether the guideline says "do not reorder".
    pub fn do_not_reorder(&self) -> bool {
        self.calculation_method.as_deref() == Some(DO_NOT_REORDER)
    }
}

/// Per-location levels of one product: stock rolled up from sublocations to their location
/// (`parent_url`, else the facility itself, as the `stock_by_location` view does), each
/// location's reorder points summed over its guidelines that are not do-not-reorder. Inputs
/// must come in a fixed order (stock by facility URL, guidelines by position) so that both
/// stores add in the same order. Sorted by location (`None` first).
pub fn location_levels(stock: &[StockAt], guidelines: &[GuidelineAt]) -> Vec<LocationLevel> {
    use std::collections::BTreeMap;
    fn entry(
        by: &mut BTreeMap<Option<String>, LocationLevel>,
        loc: Option<String>,
    ) -> &mut LocationLevel {
        by.entry(loc.clone()).or_insert(LocationLevel {
            location_url: loc,
            on_hand: 0.0,
            reserved: 0.0,
            reorder_point: None,
        })
    }
    let mut by: BTreeMap<Option<String>, LocationLevel> = BTreeMap::new();
    for s in stock {
        let loc = s
            .parent_url
            .clone()
            .unwrap_or_else(|| s.facility_url.clone());
        let l = entry(&mut by, Some(loc));
        l.on_hand += s.on_hand;
        l.reserved += s.reserved;
    }
    for g in guidelines.iter().filter(|g| !g.do_not_reorder()) {
        let loc = g.parent_url.clone().or_else(|| g.facility_url.clone());
        let l = entry(&mut by, loc);
        if let Some(rp) = g.reorder_point {
            l.reorder_point = Some(l.reorder_point.unwrap_or(0.0) + rp);
        }
    }
    let (mut total_on_hand, mut total_reserved) = (0.0, 0.0);
    for s in stock {
        total_on_hand += s.on_hand;
        total_reserved += s.reserved;
    }
    if let Some(l) = by.get_mut(&None) {
        // A guideline without a location is compared with the product's total.
        l.on_hand = total_on_hand;
        l.reserved = total_reserved;
    }
    by.into_values().collect()
}

/// The sums of the reorder points and quantities of the guidelines that are not
/// do-not-reorder (`None` when no guideline has a value), in list order.
pub fn guideline_totals(guidelines: &[GuidelineAt]) -> (Option<f64>, Option<f64>) {
    let mut point: Option<f64> = None;
    let mut qty: Option<f64> = None;
    for g in guidelines.iter().filter(|g| !g.do_not_reorder()) {
        if let Some(v) = g.reorder_point {
            point = Some(point.unwrap_or(0.0) + v);
        }
        if let Some(v) = g.reorder_qty {
            qty = Some(qty.unwrap_or(0.0) + v);
        }
    }
    (point, qty)
}

/// Days of history available to a `window`-day velocity ending on `as_of` (inclusive): from
/// the earlier of `created`'s date and `first_sale` to `as_of`, at least 1, at most `window`.
/// Without either date, the whole window.
pub fn history_days(
    created: Option<DateTime<Utc>>,
    first_sale: Option<NaiveDate>,
    as_of: NaiveDate,
    window: f64,
) -> f64 {
    let start = match (created.map(|c| c.date_naive()), first_sale) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return window,
    };
    let days = (as_of - start).num_days() + 1;
    (days.max(1) as f64).min(window)
}

/// The seed's row for one product.
pub fn item_row(i: &ItemInput) -> ItemRow {
    let d30 = history_days(i.created, i.first_sale, i.as_of, VELOCITY_DAYS);
    let d90 = history_days(i.created, i.first_sale, i.as_of, NORMAL_VELOCITY_DAYS);
    let v30 = round6((i.units_30d / d30).max(0.0));
    let v90 = round6((i.units_90d / d90).max(0.0));
    let available = i.on_hand - i.reserved;
    let days = (v30 > 0.0).then(|| round6(available.max(0.0) / v30));
    let mut row = ItemRow {
        finale_id: i.product_url.clone(),
        sku: i.sku.clone(),
        name: i.name.clone(),
        stock: i.on_hand,
        available,
        reorder_point: i.reorder_point,
        reorder_quantity: i.reorder_qty,
        cost: i.cost,
        price: i.list_price,
        sales_velocity: v30,
        sales_velocity_90d: v90,
        days_of_stock: days,
        status: i.status.clone(),
        content_hash: [0; 32],
    };
    row.content_hash = item_hash(&row);
    row
}

/// The content hash of an item row.
pub fn item_hash(r: &ItemRow) -> crate::rows::Hash {
    ContentHasher::new()
        .str(Some(&r.finale_id))
        .str(Some(&r.sku))
        .str(r.name.as_deref())
        .num(Some(r.stock))
        .num(Some(r.available))
        .num(r.reorder_point)
        .num(r.reorder_quantity)
        .num(r.cost)
        .num(r.price)
        .num(Some(r.sales_velocity))
        .num(Some(r.sales_velocity_90d))
        .num(r.days_of_stock)
        .str(r.status.as_deref())
        .finish()
}

/// Rounds to 6 decimals, so that sums taken in a different order by the two stores (floating
/// point addition is not associative) hash the same.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn input(on_hand: f64, u30: f64, u90: f64) -> ItemInput {
        ItemInput {
            product_url: "/acme/api/product/1".into(),
            sku: "SKU-1".into(),
            name: None,
            status: None,
            cost: Some(2.0),
            list_price: Some(3.0),
            on_hand,
            reserved: 0.0,
            reorder_point: Some(5.0),
            reorder_qty: None,
            locations: Vec::new(),
            units_30d: u30,
            units_90d: u90,
            created: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            first_sale: None,
            as_of: day("2026-06-01"),
        }
    }

    #[test]
    fn velocity_and_days_left() {
        let r = item_row(&input(60.0, 60.0, 90.0));
        assert_eq!(r.sales_velocity, 2.0);
        assert_eq!(r.sales_velocity_90d, 1.0);
        assert_eq!(r.days_of_stock, Some(30.0));
    }

    #[test]
    fn days_of_stock_and_available_count_reserved_stock_out() {
        let mut i = input(50.0, 30.0, 90.0);
        i.reserved = 50.0;
        let r = item_row(&i);
        assert_eq!((r.stock, r.available), (50.0, 0.0));
        assert_eq!(r.days_of_stock, Some(0.0), "nothing left to sell");
        i.reserved = 20.0;
        assert_eq!(item_row(&i).days_of_stock, Some(30.0));
    }

    #[test]
    fn young_products_divide_by_the_history_they_have() {
        // Created 20 days ago (inclusive of today), 40 units sold since: 2/day both ways,
        // not 40/90 for the normal rate (which made every young product a "spike").
        let mut i = input(100.0, 40.0, 40.0);
        i.created = Some("2026-05-13T15:00:00Z".parse().unwrap());
        let r = item_row(&i);
        assert_eq!((r.sales_velocity, r.sales_velocity_90d), (2.0, 2.0));
        // A first sale before the product's createdDate (an import) starts the history.
        i.first_sale = Some(day("2026-04-02"));
        let r = item_row(&i);
        assert_eq!(
            r.sales_velocity,
            round6(40.0 / 30.0),
            "capped at the window"
        );
        assert_eq!(r.sales_velocity_90d, round6(40.0 / 61.0));
        // Nothing known: the whole window.
        i.created = None;
        i.first_sale = None;
        assert_eq!(item_row(&i).sales_velocity_90d, round6(40.0 / 90.0));
        // Created today: one day, never zero.
        assert_eq!(
            history_days(None, Some(day("2026-06-01")), day("2026-06-01"), 90.0),
            1.0
        );
        assert_eq!(
            history_days(None, Some(day("2026-07-01")), day("2026-06-01"), 90.0),
            1.0
        );
    }

    fn at(f: &str, parent: Option<&str>, on_hand: f64, reserved: f64) -> StockAt {
        StockAt {
            facility_url: f.into(),
            parent_url: parent.map(str::to_owned),
            on_hand,
            reserved,
        }
    }

    fn guide(f: Option<&str>, parent: Option<&str>, rp: f64, method: Option<&str>) -> GuidelineAt {
        GuidelineAt {
            facility_url: f.map(str::to_owned),
            parent_url: parent.map(str::to_owned),
            reorder_point: Some(rp),
            reorder_qty: Some(rp * 2.0),
            calculation_method: method.map(str::to_owned),
        }
    }

    #[test]
    fn reorder_points_compare_per_location_and_skip_do_not_reorder() {
        // 0 in the main warehouse (point 20), 150 at the depot (point 30; a second,
        // do-not-reorder guideline of 500 there is ignored).
        let stock = [
            at("/f/main-a", Some("/f/main"), 0.0, 0.0),
            at("/f/depot-a", Some("/f/depot"), 100.0, 0.0),
            at("/f/depot-b", Some("/f/depot"), 60.0, 10.0),
        ];
        let guides = [
            guide(Some("/f/main"), None, 20.0, None),
            guide(Some("/f/depot"), None, 30.0, Some("reorderPointStd")),
            guide(Some("/f/depot"), None, 500.0, Some(DO_NOT_REORDER)),
        ];
        let levels = location_levels(&stock, &guides);
        let flagged: Vec<_> = levels
            .iter()
            .filter(|l| l.at_reorder_point())
            .map(|l| l.location_url.as_deref())
            .collect();
        assert_eq!(flagged, vec![Some("/f/main")]);
        let depot = levels
            .iter()
            .find(|l| l.location_url.as_deref() == Some("/f/depot"));
        assert_eq!(
            depot.map(|l| (l.on_hand, l.reserved, l.reorder_point)),
            Some((160.0, 10.0, Some(30.0)))
        );
        assert_eq!(guideline_totals(&guides), (Some(50.0), Some(100.0)));
        // A guideline on a sublocation rolls up to its location; one without a facility is
        // compared with the total.
        let levels = location_levels(
            &stock,
            &[
                guide(Some("/f/depot-a"), Some("/f/depot"), 200.0, None),
                guide(None, None, 150.0, None),
            ],
        );
        let flagged: Vec<_> = levels
            .iter()
            .filter(|l| l.at_reorder_point())
            .map(|l| l.location_url.as_deref())
            .collect();
        assert_eq!(flagged, vec![None, Some("/f/depot")]);
        // Only do-not-reorder guidelines: no total.
        assert_eq!(
            guideline_totals(&[guide(None, None, 5.0, Some(DO_NOT_REORDER))]),
            (None, None)
        );
    }

    #[test]
    fn nothing_sold_means_no_days_left_and_returns_do_not_go_negative() {
        let r = item_row(&input(10.0, 0.0, 0.0));
        assert_eq!(r.days_of_stock, None);
        let r = item_row(&input(10.0, -6.0, -9.0));
        assert_eq!((r.sales_velocity, r.sales_velocity_90d), (0.0, 0.0));
        // Oversold stock: zero days, not negative.
        let r = item_row(&input(-4.0, 30.0, 90.0));
        assert_eq!(r.days_of_stock, Some(0.0));
    }

    #[test]
    fn hash_follows_content() {
        let a = item_row(&input(1.0, 30.0, 90.0));
        let b = item_row(&input(2.0, 30.0, 90.0));
        assert_ne!(a.content_hash, b.content_hash);
        let mut reserved = input(1.0, 30.0, 90.0);
        reserved.reserved = 1.0;
        assert_ne!(a.content_hash, item_row(&reserved).content_hash);
        assert_eq!(
            a.content_hash,
            item_row(&input(1.0, 30.0, 90.0)).content_hash
        );
    }
}
