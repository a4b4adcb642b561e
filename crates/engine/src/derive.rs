//! Derived rows: the seed's `inventory_items` and sales velocity, computed from stored rows.
//!
//! The store gathers one [`ItemInput`] per product (its product row's fields, on hand summed
//! over facilities, its reorder guidelines summed, and units sold in the last 30 and 90
//! days, see [`crate::store::Store::item_inputs`]); [`item_row`] turns it into the seed's row.
//! Pure, so the Postgres and SQLite stores derive identical rows and hashes.
//!
//! - `sales_velocity` = units sold in the 30 days before `as_of` ÷ 30 (the seed's column);
//!   `sales_velocity_90d` = the same over 90 days, the item's *normal* rate. Returns net
//!   against sales, and a negative net counts as 0.
//! - `days_of_stock` = on hand ÷ `sales_velocity`, `None` when nothing sells (never ∞).
//! - `reorder_point` / `reorder_quantity` are the sums over the product's guidelines (one
//!   per location), `None` when it has none.

use serde::{Deserialize, Serialize};

use crate::rows::{ContentHasher, ItemRow};

/// Days in the short velocity window (the seed's `sales_velocity`).
pub const VELOCITY_DAYS: f64 = 30.0;
/// Days in the long ("normal") velocity window.
pub const NORMAL_VELOCITY_DAYS: f64 = 90.0;

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
    /// Sum of the guidelines' reorder points, `None` without guidelines.
    pub reorder_point: Option<f64>,
    /// Sum of the guidelines' reorder quantities, `None` without guidelines.
    pub reorder_qty: Option<f64>,
    /// Units sold in the 30 days before `as_of`.
    pub units_30d: f64,
    /// Units sold in the 90 days before `as_of`.
    pub units_90d: f64,
}

/// The seed's row for one product.
pub fn item_row(i: &ItemInput) -> ItemRow {
    let v30 = round6((i.units_30d / VELOCITY_DAYS).max(0.0));
    let v90 = round6((i.units_90d / NORMAL_VELOCITY_DAYS).max(0.0));
    let days = (v30 > 0.0).then(|| round6(i.on_hand.max(0.0) / v30));
    let mut row = ItemRow {
        finale_id: i.product_url.clone(),
        sku: i.sku.clone(),
        name: i.name.clone(),
        stock: i.on_hand,
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

    fn input(on_hand: f64, u30: f64, u90: f64) -> ItemInput {
        ItemInput {
            product_url: "/acme/api/product/1".into(),
            sku: "SKU-1".into(),
            name: None,
            status: None,
            cost: Some(2.0),
            list_price: Some(3.0),
            on_hand,
            reorder_point: Some(5.0),
            reorder_qty: None,
            units_30d: u30,
            units_90d: u90,
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
        assert_eq!(
            a.content_hash,
            item_row(&input(1.0, 30.0, 90.0)).content_hash
        );
    }
}
