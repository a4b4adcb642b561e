//! One item in full: stock per location and sublocation, suppliers, prices, reorder rules,
//! two years of daily sales, velocities and days of stock.

use chrono::{DateTime, Days, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::search::ItemSummary;
use super::{ItemState, sql, time};
use crate::CacheError;

/// A stock row: facility, its name, its parent location and that one's name, and
/// on hand / reserved / on order / available.
type StockRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    [f64; 4],
);
/// A reorder level: location ('' product-wide), its name, reorder point and quantity, on hand /
/// reserved / on order, at reorder.
type LevelRow = (String, Option<String>, f64, Option<f64>, [f64; 3], bool);

/// Days of daily sales an item detail carries (two years, today included).
pub const SALES_DAYS: u64 = 730;

/// Stock held in one sublocation (or directly in the location itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SublocationStock {
    /// The facility's URL.
    pub facility_url: String,
    /// Its name.
    pub name: Option<String>,
    /// On hand.
    pub on_hand: f64,
    /// Reserved.
    pub reserved: f64,
    /// On order.
    pub on_order: f64,
    /// On hand − reserved.
    pub available: f64,
}

/// One location: its stock (its own and its sublocations'), and its reorder level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LocationStock {
    /// The location's URL; `None` for the reorder rules without a facility, which compare
    /// with the item's total.
    pub location_url: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// On hand.
    pub on_hand: f64,
    /// Reserved.
    pub reserved: f64,
    /// On order.
    pub on_order: f64,
    /// On hand − reserved.
    pub available: f64,
    /// The location's reorder point (its guidelines summed), if any.
    pub reorder_point: Option<f64>,
    /// The location's reorder quantity, if any.
    pub reorder_qty: Option<f64>,
    /// Available at or below the reorder point.
    pub at_reorder: bool,
    /// Stock rows of the location: the location itself (stock held directly) and its
    /// sublocations.
    pub sublocations: Vec<SublocationStock>,
}

/// A supplier link of the product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SupplierLink {
    /// The supplier's URL.
    pub supplier_url: Option<String>,
    /// The supplier's name.
    pub name: Option<String>,
    /// The supplier's SKU for the product.
    pub supplier_sku: Option<String>,
    /// The main supplier.
    pub is_main: bool,
    /// The supplier's price (the purchase cost).
    pub price: Option<f64>,
    /// Its currency.
    pub currency: Option<String>,
    /// The supplier's lead time in days.
    pub lead_time_days: Option<f64>,
}

/// A reorder guideline as Finale holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReorderRule {
    /// The guideline's facility (`None`: the whole product).
    pub facility_url: Option<String>,
    /// The facility's name.
    pub facility_name: Option<String>,
    /// The location it counts for (the facility's parent, else the facility).
    pub location_url: Option<String>,
    /// Reorder point.
    pub reorder_point: Option<f64>,
    /// Reorder quantity.
    pub reorder_qty: Option<f64>,
    /// Finale's calculation method (`##doNotReorder` rules are ignored by the alerts).
    pub calculation_method: Option<String>,
}

/// Units sold on one business day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DailySale {
    /// The day.
    pub day: NaiveDate,
    /// Units (returns net).
    pub units: f64,
    /// Revenue.
    pub revenue: f64,
}

/// Everything about one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemDetail {
    /// The list row: totals, velocities, days of stock, state and flags.
    #[serde(flatten)]
    pub summary: ItemSummary,
    /// Product type.
    pub product_type: Option<String>,
    /// Packing.
    pub packing: Option<String>,
    /// The product's own lead time (the supplier's, if any, comes first: see `lead_time_days`).
    pub product_lead_time_days: Option<f64>,
    /// When Finale last changed the product.
    pub finale_last_updated: Option<DateTime<Utc>>,
    /// Stock and reorder levels per location, by location URL (the product-wide level last).
    pub locations: Vec<LocationStock>,
    /// Supplier links, in Finale's order.
    pub suppliers: Vec<SupplierLink>,
    /// Reorder guidelines, in Finale's order.
    pub reorder_rules: Vec<ReorderRule>,
    /// Daily sales from `today` − 729 days to `today`, days with sales only, oldest first.
    pub sales: Vec<DailySale>,
    /// Units sold in those two years.
    pub units_sold_2y: f64,
    /// Revenue in those two years.
    pub revenue_2y: f64,
    /// The reorder suggestion, as [`crate::query::reorder()`] lists it: for an active item at a
    /// reorder point somewhere, `None` otherwise.
    pub suggestion: Option<super::Suggestion>,
}

/// Looks an item up by product URL, else by SKU (exact, then case-insensitive) and reads it
/// in full; `today` ends the two years of sales. A SKU shared by several products is
/// refused with their URLs.
pub fn item(conn: &Connection, key: &str, today: NaiveDate) -> Result<ItemDetail, CacheError> {
    let key = key.trim();
    if key.is_empty() || key.chars().any(char::is_control) || key.len() > 1000 {
        return Err(CacheError::InvalidInput(
            "give an item by SKU or product URL".into(),
        ));
    }
    let url = find(conn, key)?.ok_or_else(|| CacheError::NotFound(key.to_owned()))?;
    let q = |what: &'static str| CacheError::sqlite(what);
    let row = conn
        .prepare_cached(&format!(
            "SELECT {cols}, p.product_type, p.packing, p.lead_time_days, p.finale_last_updated
               FROM products p LEFT JOIN inventory_items ii ON ii.finale_id = p.url
              WHERE p.url = ?1",
            cols = detail_columns()
        ))
        .and_then(|mut s| {
            s.query_row([&url], |r| {
                Ok((
                    super::search::summary_of(r)?,
                    r.get::<_, Option<String>>(21)?,
                    r.get::<_, Option<String>>(22)?,
                    r.get::<_, Option<f64>>(23)?,
                    r.get::<_, Option<i64>>(24)?,
                ))
            })
        })
        .map_err(q("read the item"))?;
    let (summary, product_type, packing, product_lead, updated) = row;

    // Stock rows with their location.
    let stock: Vec<StockRow> = conn
        .prepare_cached(
            "SELECT s.facility_url, f.name, f.parent_url, pf.name,
                    s.on_hand, s.reserved, s.on_order, s.available
               FROM stock s
               LEFT JOIN facilities f ON f.url = s.facility_url
               LEFT JOIN facilities pf ON pf.url = f.parent_url
              WHERE s.product_url = ?1
              ORDER BY coalesce(f.parent_url, s.facility_url), s.facility_url",
        )
        .and_then(|mut s| {
            s.query_map([&url], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                ))
            })?
            .collect()
        })
        .map_err(q("read the item's stock"))?;
    let mut locations: Vec<LocationStock> = Vec::new();
    for (facility, fname, parent, pname, [on_hand, reserved, on_order, available]) in stock {
        let (loc, lname) = match &parent {
            Some(p) => (p.clone(), pname),
            None => (facility.clone(), fname.clone()),
        };
        let l = match locations
            .iter()
            .position(|l| l.location_url.as_deref() == Some(&loc))
        {
            Some(i) => &mut locations[i],
            None => {
                locations.push(LocationStock {
                    location_url: Some(loc),
                    name: lname,
                    on_hand: 0.0,
                    reserved: 0.0,
                    on_order: 0.0,
                    available: 0.0,
                    reorder_point: None,
                    reorder_qty: None,
                    at_reorder: false,
                    sublocations: Vec::new(),
                });
                let last = locations.len() - 1;
                &mut locations[last]
            }
        };
        l.on_hand += on_hand;
        l.reserved += reserved;
        l.on_order += on_order;
        l.available += available;
        l.sublocations.push(SublocationStock {
            facility_url: facility,
            name: fname,
            on_hand,
            reserved,
            on_order,
            available,
        });
    }
    // Reorder levels per location (the product-wide one has location '').
    let levels: Vec<LevelRow> = conn
        .prepare_cached(
            "SELECT l.location_url, f.name, l.reorder_point, l.reorder_qty,
                    l.on_hand, l.reserved, l.on_order, l.at_reorder
               FROM query_reorder_levels l LEFT JOIN facilities f ON f.url = l.location_url
              WHERE l.product_url = ?1
              ORDER BY l.location_url = '', l.location_url",
        )
        .and_then(|mut s| {
            s.query_map([&url], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?],
                    r.get(7)?,
                ))
            })?
            .collect()
        })
        .map_err(q("read the item's reorder levels"))?;
    for (loc, name, rp, rq, [on_hand, reserved, on_order], at) in levels {
        let active = summary.state != ItemState::Inactive;
        if loc.is_empty() {
            locations.push(LocationStock {
                location_url: None,
                name: Some("all locations".into()),
                on_hand,
                reserved,
                on_order,
                available: on_hand - reserved,
                reorder_point: Some(rp),
                reorder_qty: rq,
                at_reorder: at && active,
                sublocations: Vec::new(),
            });
            continue;
        }
        match locations
            .iter_mut()
            .find(|l| l.location_url.as_deref() == Some(&loc))
        {
            Some(l) => {
                l.reorder_point = Some(rp);
                l.reorder_qty = rq;
                l.at_reorder = at && active;
            }
            None => locations.push(LocationStock {
                location_url: Some(loc),
                name,
                on_hand,
                reserved,
                on_order,
                available: on_hand - reserved,
                reorder_point: Some(rp),
                reorder_qty: rq,
                at_reorder: at && active,
                sublocations: Vec::new(),
            }),
        }
    }
    locations.sort_by(|a, b| match (&a.location_url, &b.location_url) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    });

    let suppliers: Vec<SupplierLink> = conn
        .prepare_cached(
            "SELECT ps.supplier_url, pa.name, ps.supplier_sku, ps.is_main, ps.price, ps.currency,
                    ps.lead_time_days
               FROM product_suppliers ps LEFT JOIN parties pa ON pa.url = ps.supplier_url
              WHERE ps.product_url = ?1 ORDER BY ps.seq",
        )
        .and_then(|mut s| {
            s.query_map([&url], |r| {
                Ok(SupplierLink {
                    supplier_url: r.get(0)?,
                    name: r.get(1)?,
                    supplier_sku: r.get(2)?,
                    is_main: r.get(3)?,
                    price: r.get(4)?,
                    currency: r.get(5)?,
                    lead_time_days: r.get(6)?,
                })
            })?
            .collect()
        })
        .map_err(q("read the item's suppliers"))?;

    let reorder_rules: Vec<ReorderRule> = conn
        .prepare_cached(
            "SELECT g.facility_url, f.name, coalesce(f.parent_url, g.facility_url),
                    g.reorder_point, g.reorder_qty, g.calculation_method
               FROM reorder_guidelines g LEFT JOIN facilities f ON f.url = g.facility_url
              WHERE g.product_url = ?1 ORDER BY g.seq",
        )
        .and_then(|mut s| {
            s.query_map([&url], |r| {
                Ok(ReorderRule {
                    facility_url: r.get(0)?,
                    facility_name: r.get(1)?,
                    location_url: r.get(2)?,
                    reorder_point: r.get(3)?,
                    reorder_qty: r.get(4)?,
                    calculation_method: r.get(5)?,
                })
            })?
            .collect()
        })
        .map_err(q("read the item's reorder rules"))?;

    let from = today
        .checked_sub_days(Days::new(SALES_DAYS - 1))
        .unwrap_or(NaiveDate::MIN);
    let raw: Vec<(String, f64, f64)> = conn
        .prepare_cached(
            "SELECT day, units, revenue FROM daily_sales
              WHERE product_url = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
        )
        .and_then(|mut s| {
            s.query_map(
                params![
                    url,
                    from.format("%Y-%m-%d").to_string(),
                    today.format("%Y-%m-%d").to_string()
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .collect()
        })
        .map_err(q("read the item's daily sales"))?;
    let mut sales = Vec::with_capacity(raw.len());
    let (mut units, mut revenue) = (0.0, 0.0);
    for (day, u, r) in raw {
        let day = day.parse::<NaiveDate>().map_err(|_| {
            CacheError::Store(store::StoreError::Corrupt {
                what: format!("daily_sales.day {day:?} of {url}"),
            })
        })?;
        units += u;
        revenue += r;
        sales.push(DailySale {
            day,
            units: u,
            revenue: r,
        });
    }

    let suggestion = if summary.at_reorder {
        Some(super::reorder::suggestion(
            conn,
            &mut std::collections::BTreeMap::new(),
            super::ReorderInput {
                velocity_30d: summary.velocity_30d,
                velocity_90d: summary.velocity_90d,
                lead_time_days: summary.lead_time_days,
                available: summary.available,
                on_order: summary.on_order,
                reorder_point: summary.reorder_point,
                reorder_qty: summary.reorder_qty,
                levels: Vec::new(),
            },
            &summary.product_url,
        )?)
    } else {
        None
    };
    Ok(ItemDetail {
        summary,
        product_type,
        packing,
        product_lead_time_days: product_lead,
        finale_last_updated: time(updated),
        locations,
        suppliers,
        reorder_rules,
        sales,
        units_sold_2y: units,
        revenue_2y: revenue,
        suggestion,
    })
}

/// The list columns for one product, reading `inventory_items` through a LEFT JOIN (a product
/// whose item row the engine has not derived yet still has a detail: zeros).
fn detail_columns() -> String {
    format!(
        "p.sku, p.url, p.name, coalesce(p.status, ii.status), p.category, p.upc,
         coalesce(ii.stock, (SELECT coalesce(sum(s.on_hand), 0.0) FROM stock s WHERE s.product_url = p.url)),
         coalesce(ii.available, (SELECT coalesce(sum(s.available), 0.0) FROM stock s WHERE s.product_url = p.url)),
         (SELECT coalesce(sum(s.on_order), 0.0) FROM stock s WHERE s.product_url = p.url),
         ii.reorder_point, ii.reorder_quantity, coalesce(ii.sales_velocity, 0.0),
         coalesce(ii.sales_velocity_90d, 0.0), ii.days_of_stock, coalesce(ii.cost, p.cost),
         coalesce(ii.price, p.list_price), {lead},
         coalesce(p.status, ii.status, '') <> 'PRODUCT_INACTIVE',
         coalesce({oos}, 0), {at}, coalesce({critical}, 0)",
        lead = sql::LEAD_TIME,
        oos = sql::OUT_OF_STOCK,
        at = sql::AT_REORDER,
        critical = sql::critical(),
    )
}

/// The product URL for `key`: a URL, else an exact SKU, else a case-insensitive SKU.
fn find(conn: &Connection, key: &str) -> Result<Option<String>, CacheError> {
    let by_url: Option<String> = conn
        .prepare_cached("SELECT url FROM products WHERE url = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(CacheError::sqlite("look up an item"))?;
    if by_url.is_some() {
        return Ok(by_url);
    }
    for sql in [
        "SELECT url FROM products WHERE sku = ?1 ORDER BY url LIMIT 3",
        "SELECT url FROM products WHERE sku = ?1 COLLATE NOCASE ORDER BY url LIMIT 3",
    ] {
        let urls: Vec<String> = conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_map([key], |r| r.get(0))?.collect())
            .map_err(CacheError::sqlite("look up an item"))?;
        match urls.as_slice() {
            [] => continue,
            [one] => return Ok(Some(one.clone())),
            _ => {
                return Err(CacheError::InvalidInput(format!(
                    "SKU {key:?} names several products ({}): give the product URL",
                    urls.join(", ")
                )));
            }
        }
    }
    Ok(None)
}
