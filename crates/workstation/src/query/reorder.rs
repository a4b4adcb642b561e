//! Cross-location reorder suggestions: every active item at or below a reorder point at some
//! location, with a purchase quantity from demand, lead time and what is on order, and the
//! transfers that would cover low locations from others' surplus. The formula is in the
//! module docs of [`crate::query`]; [`suggest`] is it, pure.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{cursor, page_limit, resolve, sql};
use crate::CacheError;

/// One location's figures for [`suggest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelInput {
    /// The location; `None` for the product-wide level (guidelines without a facility).
    pub location_url: Option<String>,
    /// Available at the location (its sublocations included).
    pub available: f64,
    /// The location's reorder point, if it has guidelines.
    pub reorder_point: Option<f64>,
}

/// What [`suggest`] needs to know about one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReorderInput {
    /// Units per day, last 30 days.
    pub velocity_30d: f64,
    /// Units per day, last 90 days.
    pub velocity_90d: f64,
    /// Lead time in days.
    pub lead_time_days: f64,
    /// Available over all locations.
    pub available: f64,
    /// On order over all locations.
    pub on_order: f64,
    /// The item's reorder point (its guidelines summed).
    pub reorder_point: Option<f64>,
    /// The item's reorder quantity (its guidelines summed).
    pub reorder_qty: Option<f64>,
    /// Every location with stock or a reorder point, and the product-wide level if any.
    pub levels: Vec<LevelInput>,
}

/// A location at or below its reorder point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LowLocation {
    /// The location (`None`: the product-wide level).
    pub location_url: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Available there.
    pub available: f64,
    /// Its reorder point.
    pub reorder_point: f64,
    /// Units that lift it just above its reorder point: `floor(RP − available) + 1`.
    pub need: f64,
}

/// Stock to move from a location with surplus to a low one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Transfer {
    /// From this location.
    pub from_location_url: String,
    /// Its name.
    pub from_name: Option<String>,
    /// To this location.
    pub to_location_url: String,
    /// Its name.
    pub to_name: Option<String>,
    /// Units.
    pub qty: f64,
}

/// The outcome of the formula for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Suggestion {
    /// `max(velocity 30 d, velocity 90 d)`, units per day.
    pub demand_per_day: f64,
    /// `RP + demand × lead time`.
    pub target: f64,
    /// `available + on order`.
    pub position: f64,
    /// Units to purchase (0 when the position is above the target).
    pub suggested_qty: f64,
    /// Locations at or below their reorder point.
    pub low_locations: Vec<LowLocation>,
    /// Transfers that cover low locations from others' surplus.
    pub transfers: Vec<Transfer>,
}

/// The reorder formula (module docs of [`crate::query`]), pure.
pub fn suggest(i: &ReorderInput) -> Suggestion {
    let demand = i.velocity_30d.max(i.velocity_90d).max(0.0);
    let rp = i.reorder_point.unwrap_or(0.0);
    let target = rp + demand * i.lead_time_days.max(0.0);
    let position = i.available + i.on_order;
    let suggested_qty = if position > target {
        0.0
    } else {
        ((target - position).floor() + 1.0).max(i.reorder_qty.unwrap_or(0.0).ceil())
    };
    let mut low: Vec<LowLocation> = Vec::new();
    let mut sources: Vec<(String, f64)> = Vec::new();
    for l in &i.levels {
        match (l.reorder_point, &l.location_url) {
            (Some(p), _) if l.available <= p => low.push(LowLocation {
                location_url: l.location_url.clone(),
                name: None,
                available: l.available,
                reorder_point: p,
                need: (p - l.available).floor() + 1.0,
            }),
            (p, Some(url)) => {
                let surplus = (l.available - p.unwrap_or(0.0)).ceil() - 1.0;
                if surplus > 0.0 {
                    sources.push((url.clone(), surplus));
                }
            }
            (_, None) => {}
        }
    }
    low.sort_by(|a, b| a.location_url.cmp(&b.location_url));
    // Largest surplus first, then by URL (stable and deterministic).
    sources.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut transfers = Vec::new();
    for l in &low {
        let Some(to) = &l.location_url else { continue };
        let mut need = l.need;
        for (from, surplus) in sources.iter_mut() {
            if need <= 0.0 {
                break;
            }
            let qty = need.min(*surplus);
            if qty > 0.0 {
                transfers.push(Transfer {
                    from_location_url: from.clone(),
                    from_name: None,
                    to_location_url: to.clone(),
                    to_name: None,
                    qty,
                });
                *surplus -= qty;
                need -= qty;
            }
        }
    }
    Suggestion {
        demand_per_day: demand,
        target,
        position,
        suggested_qty,
        low_locations: low,
        transfers,
    }
}

/// Which suggestions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct ReorderQuery {
    /// Only items whose main supplier is this one (name, Finale id or URL).
    pub supplier: Option<String>,
    /// Only items at or below their reorder point at this location (name, id or URL).
    pub location: Option<String>,
    /// Order by main supplier (its URL) first, items without one last: the rows of one
    /// supplier are consecutive.
    pub group_by_supplier: bool,
    /// Page size, 1 ..= [`super::MAX_LIMIT`].
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// One reorder suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReorderSuggestion {
    /// SKU.
    pub sku: String,
    /// Product URL.
    pub product_url: String,
    /// Product name.
    pub name: Option<String>,
    /// The main supplier (the link marked main, else the first).
    pub supplier_url: Option<String>,
    /// Its name.
    pub supplier_name: Option<String>,
    /// Its SKU for the product.
    pub supplier_sku: Option<String>,
    /// Unit cost: the main supplier's price, else the product's cost.
    pub unit_cost: Option<f64>,
    /// The supplier price's currency.
    pub currency: Option<String>,
    /// Lead time in days.
    pub lead_time_days: f64,
    /// Units per day, 30 days.
    pub velocity_30d: f64,
    /// Units per day, 90 days.
    pub velocity_90d: f64,
    /// On hand over all locations.
    pub on_hand: f64,
    /// Available over all locations.
    pub available: f64,
    /// On order over all locations.
    pub on_order: f64,
    /// Reorder point (sum of guidelines).
    pub reorder_point: Option<f64>,
    /// Reorder quantity (sum of guidelines).
    pub reorder_qty: Option<f64>,
    /// Out of stock.
    pub out_of_stock: bool,
    /// Critical.
    pub critical: bool,
    /// The formula's outcome.
    #[serde(flatten)]
    pub suggestion: Suggestion,
    /// `suggested_qty × unit_cost` (0 without a cost).
    pub order_value: f64,
}

/// One page of suggestions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReorderPage {
    /// The suggestions, by SKU (or by main supplier, then SKU).
    pub rows: Vec<ReorderSuggestion>,
    /// Pass as `after` to read the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The main supplier link of the item `ii` (the link marked main, else the first).
const MAIN_SUPPLIER: &str = "(SELECT x.seq FROM product_suppliers x WHERE x.product_url = ii.finale_id \
                              ORDER BY x.is_main DESC, x.seq LIMIT 1)";

/// A candidate row before the formula, with its keyset key.
struct Cand {
    row: ReorderSuggestion,
    id: String,
    key: String,
}

/// Reads one page of reorder suggestions.
///
/// Order: by SKU; grouped, by main supplier URL then SKU, items without a supplier last. Every
/// page is one range read of a partial index over the kept item flags (the items at a reorder
/// point only), so its cost does not grow with the number of items.
pub fn reorder(conn: &Connection, q: &ReorderQuery) -> Result<ReorderPage, CacheError> {
    let limit = page_limit(q.limit)?;
    let fp = cursor::fingerprint(&[
        "reorder",
        q.supplier.as_deref().unwrap_or("\u{0}"),
        q.location.as_deref().unwrap_or("\u{0}"),
        if q.group_by_supplier { "g" } else { "-" },
    ]);
    let supplier = match q.supplier.as_deref() {
        Some(s) => Some(resolve::supplier(conn, s)?),
        None => None,
    };
    let location = match q.location.as_deref() {
        Some(l) => Some(resolve::location(conn, l)?),
        None => None,
    };
    let after = match q.after.as_deref() {
        Some(c) => {
            let k = cursor::decode(c, &fp, 3)?;
            Some((
                cursor::text(&k[0])?,
                cursor::text(&k[1])?,
                cursor::text(&k[2])?,
            ))
        }
        None => None,
    };
    // The items at a reorder point are listed from the kept flags (migration
    // `V20261205060000__item_flags.sql`), in index order: by SKU, or by reorder group (the
    // main supplier, items without one last) then SKU; a supplier is an equality on the group.
    let mut params: Vec<SqlValue> = Vec::new();
    let mut conds: Vec<String> = vec!["f.at_reorder = 1".into()];
    let index = if q.group_by_supplier || supplier.is_some() {
        "query_item_flags_reorder_group"
    } else {
        "query_item_flags_reorder"
    };
    if let Some(url) = &supplier {
        conds.push("f.reorder_group = ?".into());
        params.push(SqlValue::Text(url.clone()));
    }
    if let Some(l) = &location {
        conds.push(
            "EXISTS (SELECT 1 FROM query_reorder_levels lv WHERE lv.product_url = f.product_url
                        AND lv.at_reorder = 1 AND lv.location_url = ?)"
                .into(),
        );
        params.push(SqlValue::Text(l.clone()));
    }
    let order = if q.group_by_supplier {
        if let Some((key, sku, id)) = &after {
            conds.push("(f.reorder_group, f.sku, f.id) > (?, ?, ?)".into());
            params.push(SqlValue::Text(key.clone()));
            params.push(SqlValue::Text(sku.clone()));
            params.push(SqlValue::Text(id.clone()));
        }
        "f.reorder_group, f.sku, f.id"
    } else {
        if let Some((_, sku, id)) = &after {
            conds.push("(f.sku, f.id) > (?, ?)".into());
            params.push(SqlValue::Text(sku.clone()));
            params.push(SqlValue::Text(id.clone()));
        }
        "f.sku, f.id"
    };
    params.push(SqlValue::Integer(limit as i64 + 1));
    let sql = select(index, &conds.join(" AND "), order);
    let mut cands = candidates(conn, &sql, params)?;
    let more = cands.len() > limit as usize;
    cands.truncate(limit as usize);
    let next_cursor = match cands.last() {
        Some(c) if more => Some(cursor::encode(
            &fp,
            vec![
                Value::from(c.key.clone()),
                Value::from(c.row.sku.clone()),
                Value::from(c.id.clone()),
            ],
        )),
        _ => None,
    };
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut rows = Vec::with_capacity(cands.len());
    for c in cands {
        let mut row = c.row;
        let s = suggestion(
            conn,
            &mut names,
            ReorderInput {
                velocity_30d: row.velocity_30d,
                velocity_90d: row.velocity_90d,
                lead_time_days: row.lead_time_days,
                available: row.available,
                on_order: row.on_order,
                reorder_point: row.reorder_point,
                reorder_qty: row.reorder_qty,
                levels: Vec::new(),
            },
            &row.product_url,
        )?;
        row.order_value = s.suggested_qty * row.unit_cost.unwrap_or(0.0);
        row.suggestion = s;
        rows.push(row);
    }
    Ok(ReorderPage { rows, next_cursor })
}

/// The suggestion for one item from its totals (`input.levels` is filled here from the
/// product's stock and levels), with the locations named; `names` caches location names
/// across the items of a page.
pub(super) fn suggestion(
    conn: &Connection,
    names: &mut BTreeMap<String, Option<String>>,
    mut input: ReorderInput,
    product_url: &str,
) -> Result<Suggestion, CacheError> {
    input.levels = levels(conn, product_url)?;
    let mut s = suggest(&input);
    for l in &mut s.low_locations {
        if let Some(u) = &l.location_url {
            l.name = name(conn, names, u)?;
        }
    }
    for t in &mut s.transfers {
        t.from_name = name(conn, names, &t.from_location_url)?;
        t.to_name = name(conn, names, &t.to_location_url)?;
    }
    Ok(s)
}

/// The candidates' SELECT: the flags `f` read through `index`, with the item `ii`, its
/// product `p` and its main supplier link `ms`.
fn select(index: &str, conds: &str, order: &str) -> String {
    format!(
        "SELECT ii.sku, p.url, p.name, ii.stock, ii.available, f.on_order,
                ii.reorder_point, ii.reorder_quantity, ii.sales_velocity, ii.sales_velocity_90d,
                {lead}, {oos}, f.critical, coalesce(ms.price, ii.cost), ms.currency,
                ms.supplier_url, pa.name, ms.supplier_sku, ii.id, f.reorder_group
           FROM query_item_flags f INDEXED BY {index}
           CROSS JOIN inventory_items ii ON ii.id = f.id
           CROSS JOIN products p ON p.url = ii.finale_id
           LEFT JOIN product_suppliers ms ON ms.product_url = ii.finale_id AND ms.seq = {MAIN_SUPPLIER}
           LEFT JOIN parties pa ON pa.url = ms.supplier_url
          WHERE {conds}
          ORDER BY {order}
          LIMIT ?",
        lead = sql::LEAD_TIME,
        oos = sql::OUT_OF_STOCK,
    )
}

fn candidates(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<Cand>, CacheError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(params), |r| {
                Ok(Cand {
                    row: ReorderSuggestion {
                        sku: r.get(0)?,
                        product_url: r.get(1)?,
                        name: r.get(2)?,
                        on_hand: r.get(3)?,
                        available: r.get(4)?,
                        on_order: r.get(5)?,
                        reorder_point: r.get(6)?,
                        reorder_qty: r.get(7)?,
                        velocity_30d: r.get(8)?,
                        velocity_90d: r.get(9)?,
                        lead_time_days: r.get(10)?,
                        out_of_stock: r.get(11)?,
                        critical: r.get(12)?,
                        unit_cost: r.get(13)?,
                        currency: r.get(14)?,
                        supplier_url: r.get(15)?,
                        supplier_name: r.get(16)?,
                        supplier_sku: r.get(17)?,
                        suggestion: Suggestion {
                            demand_per_day: 0.0,
                            target: 0.0,
                            position: 0.0,
                            suggested_qty: 0.0,
                            low_locations: Vec::new(),
                            transfers: Vec::new(),
                        },
                        order_value: 0.0,
                    },
                    id: r.get(18)?,
                    key: r.get(19)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(CacheError::sqlite("read the reorder candidates"))
}

/// Every location of a product with stock or a reorder level.
fn levels(conn: &Connection, product: &str) -> Result<Vec<LevelInput>, CacheError> {
    let mut by: BTreeMap<String, LevelInput> = BTreeMap::new();
    let stock: Vec<(String, f64)> = conn
        .prepare_cached(
            "SELECT coalesce(f.parent_url, s.facility_url), sum(s.available)
               FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
              WHERE s.product_url = ?1 GROUP BY 1",
        )
        .and_then(|mut s| {
            s.query_map([product], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(CacheError::sqlite("read an item's stock by location"))?;
    for (loc, available) in stock {
        by.insert(
            loc.clone(),
            LevelInput {
                location_url: Some(loc),
                available,
                reorder_point: None,
            },
        );
    }
    let lv: Vec<(String, f64, f64)> = conn
        .prepare_cached(
            "SELECT location_url, on_hand - reserved, reorder_point
               FROM query_reorder_levels WHERE product_url = ?1",
        )
        .and_then(|mut s| {
            s.query_map([product], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(CacheError::sqlite("read an item's reorder levels"))?;
    for (loc, available, rp) in lv {
        let e = by.entry(loc.clone()).or_insert(LevelInput {
            location_url: (!loc.is_empty()).then_some(loc),
            available,
            reorder_point: None,
        });
        e.available = available;
        e.reorder_point = Some(rp);
    }
    Ok(by.into_values().collect())
}

fn name(
    conn: &Connection,
    cache: &mut BTreeMap<String, Option<String>>,
    url: &str,
) -> Result<Option<String>, CacheError> {
    if let Some(n) = cache.get(url) {
        return Ok(n.clone());
    }
    let n: Option<String> = conn
        .prepare_cached("SELECT name FROM facilities WHERE url = ?1")
        .and_then(|mut s| rusqlite::OptionalExtension::optional(s.query_row([url], |r| r.get(0))))
        .map_err(CacheError::sqlite("read a location's name"))?
        .flatten();
    cache.insert(url.to_owned(), n.clone());
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(url: Option<&str>, available: f64, rp: Option<f64>) -> LevelInput {
        LevelInput {
            location_url: url.map(str::to_owned),
            available,
            reorder_point: rp,
        }
    }

    #[test]
    fn formula_by_hand() {
        // d = max(2, 1) = 2, LT = 10: target = 15 + 20 = 35; position = 8 + 5 = 13;
        // suggested = floor(22) + 1 = 23 (RQ 12 is smaller).
        let i = ReorderInput {
            velocity_30d: 2.0,
            velocity_90d: 1.0,
            lead_time_days: 10.0,
            available: 8.0,
            on_order: 5.0,
            reorder_point: Some(15.0),
            reorder_qty: Some(12.0),
            levels: vec![
                lv(Some("A"), 2.0, Some(10.0)),
                lv(Some("B"), 6.0, Some(5.0)),
                lv(Some("C"), 0.0, None),
            ],
        };
        let s = suggest(&i);
        assert_eq!(s.demand_per_day, 2.0);
        assert_eq!(s.target, 35.0);
        assert_eq!(s.position, 13.0);
        assert_eq!(s.suggested_qty, 23.0);
        assert_eq!(s.low_locations.len(), 1);
        assert_eq!(s.low_locations[0].need, 9.0);
        // B keeps 6 − ... : surplus ceil(6 − 5) − 1 = 0, C has none: no transfer.
        assert!(s.transfers.is_empty());
    }

    #[test]
    fn reorder_quantity_is_a_minimum_and_surplus_moves() {
        let i = ReorderInput {
            velocity_30d: 0.0,
            velocity_90d: 0.0,
            lead_time_days: 14.0,
            available: 45.0,
            on_order: 0.0,
            reorder_point: Some(5.0),
            reorder_qty: Some(50.0),
            levels: vec![
                lv(Some("A"), 5.0, Some(5.0)),
                lv(Some("B"), 30.0, None),
                lv(Some("C"), 10.0, None),
            ],
        };
        let s = suggest(&i);
        // position 45 > target 5: nothing to buy.
        assert_eq!(s.suggested_qty, 0.0);
        // A needs floor(5 − 5) + 1 = 1; B has 29 to spare, C 9: B gives 1.
        assert_eq!(s.transfers.len(), 1);
        assert_eq!(s.transfers[0].from_location_url, "B");
        assert_eq!(s.transfers[0].qty, 1.0);
        let mut i = i;
        i.available = 5.0;
        // target 5, position 5: buy max(floor(0) + 1, 50) = 50.
        assert_eq!(suggest(&i).suggested_qty, 50.0);
    }
}
