//! Derived data on SQLite: daily sales, item inputs, and the seed's `inventory_items`.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::conv::{day, day_text, finite, last_by_key, scope_param, scoped, time};
use crate::StoreError;
use crate::derive::{
    GuidelineAt, ItemInput, NORMAL_VELOCITY_DAYS, StockAt, VELOCITY_DAYS, guideline_totals,
    location_levels,
};
use crate::rows::{Hash, ItemRow, business_day};
use crate::sqlite::to_millis;
use crate::{ItemWrites, Scope, Writes};

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// Sales lines in the order they are folded: product, business day, order, position.
const SALES_LINES: &str = "\
SELECT l.product_url, o.order_day AS day, l.quantity,
       coalesce(l.unit_price, 0)
  FROM orders o JOIN order_lines l ON l.order_url = o.url
 WHERE o.order_type = 'SALES_ORDER'
   AND o.status IN ('ORDER_LOCKED', 'ORDER_COMPLETED')
   AND o.order_day IS NOT NULL
   AND l.product_url IS NOT NULL /*scope*/
 ORDER BY l.product_url, day, o.url, l.seq";

const STORED_DAYS: &str = "\
SELECT product_url, day, units, revenue FROM daily_sales WHERE 1 /*scope*/";

/// Rebuilds `daily_sales` for the scope; writes only differing days.
pub fn refresh_daily_sales(
    conn: &mut Connection,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Writes, StoreError> {
    let now = to_millis(now);
    let param = scope_param(scope);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin the daily sales refresh"))?;
    let mut fresh: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    {
        let sql = scoped(SALES_LINES, "l.product_url", scope);
        let mut s = tx
            .prepare_cached(&sql)
            .map_err(q("prepare reading sales lines"))?;
        let mut rows = match &param {
            Some(p) => s.query(rusqlite::named_params! {"?9": p}),
            None => s.query([]),
        }
        .map_err(q("read sales lines"))?;
        while let Some(row) = rows.next().map_err(q("read a sales line"))? {
            let product: String = row.get(0).map_err(q("read a sales line"))?;
            let day: String = row.get(1).map_err(q("read a sales line"))?;
            let qty: f64 = row.get(2).map_err(q("read a sales line"))?;
            let price: f64 = row.get(3).map_err(q("read a sales line"))?;
            let e = fresh.entry((product, day)).or_insert((0.0, 0.0));
            e.0 += qty;
            e.1 += qty * price;
        }
    }
    let mut stored: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    {
        let sql = scoped(STORED_DAYS, "product_url", scope);
        let mut s = tx
            .prepare_cached(&sql)
            .map_err(q("prepare reading daily sales"))?;
        let map =
            |row: &rusqlite::Row<'_>| Ok(((row.get(0)?, row.get(1)?), (row.get(2)?, row.get(3)?)));
        let rows = match &param {
            Some(p) => s.query_map(rusqlite::named_params! {"?9": p}, map),
            None => s.query_map([], map),
        }
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("read daily sales"))?;
        stored.extend(rows);
    }
    let mut w = Writes::default();
    for ((product, day), (units, revenue)) in &fresh {
        finite(Some(*units), &|| {
            format!("daily_sales.units of {product} on {day}")
        })?;
        finite(Some(*revenue), &|| {
            format!("daily_sales.revenue of {product} on {day}")
        })?;
        match stored.get(&(product.clone(), day.clone())) {
            Some((u, r)) if u.to_bits() == units.to_bits() && r.to_bits() == revenue.to_bits() => {}
            old => {
                tx.prepare_cached(
                    "INSERT INTO daily_sales (product_url, day, units, revenue, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (product_url, day) DO UPDATE SET units = excluded.units,
                            revenue = excluded.revenue, updated_at = excluded.updated_at",
                )
                .and_then(|mut s| s.execute(params![product, day, units, revenue, now]))
                .map_err(q("write a daily sales row"))?;
                if old.is_some() {
                    w.updated += 1;
                } else {
                    w.inserted += 1;
                }
            }
        }
    }
    for (product, day) in stored.keys() {
        if !fresh.contains_key(&(product.clone(), day.clone())) {
            let n = tx
                .prepare_cached("DELETE FROM daily_sales WHERE product_url = ?1 AND day = ?2")
                .and_then(|mut s| s.execute([product, day]))
                .map_err(q("delete a daily sales row"))?;
            w.deleted += n as u64;
        }
    }
    tx.commit().map_err(q("commit the daily sales refresh"))?;
    Ok(w)
}

const PRODUCTS: &str = "\
SELECT url, sku, name, status, cost, list_price, finale_created FROM products WHERE 1 /*scope*/
 ORDER BY url";
const STOCK: &str = "\
SELECT s.product_url, s.facility_url, f.parent_url, s.on_hand, s.reserved
  FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url WHERE 1 /*scope*/
 ORDER BY s.product_url, s.facility_url";
const GUIDELINES: &str = "\
SELECT g.product_url, g.facility_url, f.parent_url, g.reorder_point, g.reorder_qty,
       g.calculation_method
  FROM reorder_guidelines g LEFT JOIN facilities f ON f.url = g.facility_url WHERE 1 /*scope*/
 ORDER BY g.product_url, g.seq";
const SALES: &str = "\
SELECT product_url, day, units FROM daily_sales WHERE day > ?1 AND day <= ?2 /*scope*/
 ORDER BY product_url, day";
const FIRST_SALES: &str = "\
SELECT product_url, min(day) FROM daily_sales WHERE 1 /*scope*/ GROUP BY product_url";

/// One input per stored product in scope, by URL, with the sales of the business days up to
/// `today`.
pub fn item_inputs(
    conn: &mut Connection,
    scope: &Scope,
    today: NaiveDate,
) -> Result<Vec<ItemInput>, StoreError> {
    let param = scope_param(scope);
    let back = |n: f64| {
        today
            .checked_sub_days(Days::new(n as u64))
            .map(day_text)
            .unwrap_or_default()
    };
    let (lo30, lo90, hi) = (
        back(VELOCITY_DAYS),
        back(NORMAL_VELOCITY_DAYS),
        day_text(today),
    );
    // One read transaction: the reads see one state.
    let tx = conn.transaction().map_err(q("begin reading item inputs"))?;
    let mut inputs: BTreeMap<String, ItemInput> = BTreeMap::new();
    {
        let mut s = tx
            .prepare_cached(&scoped(PRODUCTS, "url", scope))
            .map_err(q("prepare reading products"))?;
        let map = |row: &rusqlite::Row<'_>| {
            Ok((
                ItemInput {
                    product_url: row.get(0)?,
                    sku: row.get(1)?,
                    name: row.get(2)?,
                    status: row.get(3)?,
                    cost: row.get(4)?,
                    list_price: row.get(5)?,
                    on_hand: 0.0,
                    reserved: 0.0,
                    reorder_point: None,
                    reorder_qty: None,
                    locations: Vec::new(),
                    units_30d: 0.0,
                    units_90d: 0.0,
                    created: None,
                    first_sale: None,
                    as_of: today,
                },
                row.get::<_, Option<i64>>(6)?,
            ))
        };
        let rows = match &param {
            Some(p) => s.query_map(rusqlite::named_params! {"?9": p}, map),
            None => s.query_map([], map),
        }
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("read products"))?;
        for (mut i, created) in rows {
            i.created = time(created, "products.finale_created")?;
            inputs.insert(i.product_url.clone(), i);
        }
    }
    let mut stock: BTreeMap<String, Vec<StockAt>> = BTreeMap::new();
    {
        let mut s = tx
            .prepare_cached(&scoped(STOCK, "s.product_url", scope))
            .map_err(q("prepare reading stock"))?;
        let map = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, String>(0)?,
                StockAt {
                    facility_url: row.get(1)?,
                    parent_url: row.get(2)?,
                    on_hand: row.get(3)?,
                    reserved: row.get(4)?,
                },
            ))
        };
        let rows = match &param {
            Some(p) => s.query_map(rusqlite::named_params! {"?9": p}, map),
            None => s.query_map([], map),
        }
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("read stock"))?;
        for (p, at) in rows {
            if let Some(i) = inputs.get_mut(&p) {
                i.on_hand += at.on_hand;
                i.reserved += at.reserved;
                stock.entry(p).or_default().push(at);
            }
        }
    }
    let mut guidelines: BTreeMap<String, Vec<GuidelineAt>> = BTreeMap::new();
    {
        let mut s = tx
            .prepare_cached(&scoped(GUIDELINES, "g.product_url", scope))
            .map_err(q("prepare reading reorder guidelines"))?;
        let map = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, String>(0)?,
                GuidelineAt {
                    facility_url: row.get(1)?,
                    parent_url: row.get(2)?,
                    reorder_point: row.get(3)?,
                    reorder_qty: row.get(4)?,
                    calculation_method: row.get(5)?,
                },
            ))
        };
        let rows = match &param {
            Some(p) => s.query_map(rusqlite::named_params! {"?9": p}, map),
            None => s.query_map([], map),
        }
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("read reorder guidelines"))?;
        for (p, g) in rows {
            guidelines.entry(p).or_default().push(g);
        }
    }
    {
        let mut s = tx
            .prepare_cached(&scoped(SALES, "product_url", scope))
            .map_err(q("prepare reading daily sales"))?;
        let map = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
            ))
        };
        let rows = match &param {
            Some(p) => s.query_map(rusqlite::named_params! {"?1": lo90, "?2": hi, "?9": p}, map),
            None => s.query_map(params![lo90, hi], map),
        }
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("read daily sales"))?;
        for (p, day, units) in rows {
            if let Some(i) = inputs.get_mut(&p) {
                i.units_90d += units;
                if day > lo30 {
                    i.units_30d += units;
                }
            }
        }
    }
    {
        let mut s = tx
            .prepare_cached(&scoped(FIRST_SALES, "product_url", scope))
            .map_err(q("prepare reading first sales"))?;
        let map =
            |row: &rusqlite::Row<'_>| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?));
        let rows = match &param {
            Some(p) => s.query_map(rusqlite::named_params! {"?9": p}, map),
            None => s.query_map([], map),
        }
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("read first sales"))?;
        for (p, d) in rows {
            if let Some(i) = inputs.get_mut(&p) {
                i.first_sale = Some(day(&d)?);
            }
        }
    }
    tx.commit().map_err(q("end reading item inputs"))?;
    for i in inputs.values_mut() {
        let at = stock.remove(&i.product_url).unwrap_or_default();
        let g = guidelines.remove(&i.product_url).unwrap_or_default();
        (i.reorder_point, i.reorder_qty) = guideline_totals(&g);
        i.locations = location_levels(&at, &g);
    }
    Ok(inputs.into_values().collect())
}

/// Sets `orders.order_day` to the business day of `order_date` in `zone` where it differs
/// (one transaction; see [`crate::rows::business_day`]). Returns the orders written.
pub fn set_order_days(
    conn: &mut Connection,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let now = to_millis(now);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin re-deriving order days"))?;
    let todo: Vec<(String, Option<String>)> = {
        let mut s = tx
            .prepare("SELECT url, order_date, order_day FROM orders")
            .map_err(q("read order days"))?;
        let rows = s
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<i64>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(q("read order days"))?;
        rows.into_iter()
            .filter_map(|(url, date, stored)| {
                let day = date
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                    .map(|t| day_text(business_day(t, zone)));
                (day != stored).then_some((url, day))
            })
            .collect()
    };
    let mut n = 0u64;
    for (url, day) in &todo {
        n += tx
            .prepare_cached("UPDATE orders SET order_day = ?2, updated_at = ?3 WHERE url = ?1")
            .and_then(|mut s| s.execute(params![url, day, now]))
            .map_err(q("write an order day"))? as u64;
    }
    tx.commit().map_err(q("commit re-deriving order days"))?;
    Ok(n)
}

/// Upserts the seed's rows by `finale_id` (see the trait's docs).
pub fn upsert_items(
    conn: &mut Connection,
    rows: &[ItemRow],
    now: DateTime<Utc>,
    confirm_before: DateTime<Utc>,
) -> Result<ItemWrites, StoreError> {
    for r in rows {
        let at = |f: &'static str| move || format!("inventory_items.{f} of {}", r.finale_id);
        finite(Some(r.stock), &at("stock"))?;
        finite(Some(r.available), &at("available"))?;
        finite(r.reorder_point, &at("reorder_point"))?;
        finite(r.reorder_quantity, &at("reorder_quantity"))?;
        finite(r.cost, &at("cost"))?;
        finite(r.price, &at("price"))?;
        finite(Some(r.sales_velocity), &at("sales_velocity"))?;
        finite(Some(r.sales_velocity_90d), &at("sales_velocity_90d"))?;
        finite(r.days_of_stock, &at("days_of_stock"))?;
    }
    let (now, confirm_before) = (to_millis(now), to_millis(confirm_before));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin writing items"))?;
    let mut out = ItemWrites::default();
    for r in last_by_key(rows, |r| r.finale_id.as_str()) {
        let old: Option<(Hash, Option<i64>)> = tx
            .prepare_cached(
                "SELECT content_hash, finale_last_sync FROM inventory_items WHERE finale_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([&r.finale_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(q("read a stored item"))?;
        match old {
            Some((hash, synced)) if hash == r.content_hash => {
                if synced.is_none_or(|t| t < confirm_before) {
                    tx.prepare_cached(
                        "UPDATE inventory_items SET finale_last_sync = ?2 WHERE finale_id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![r.finale_id, now]))
                    .map_err(q("confirm an item"))?;
                    out.confirmed += 1;
                }
            }
            old => {
                tx.prepare_cached(
                    "INSERT INTO inventory_items (finale_id, sku, name, stock, reorder_point,
                            reorder_quantity, cost, price, sales_velocity, sales_velocity_90d,
                            days_of_stock, status, content_hash, finale_last_sync, last_updated,
                            available)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14,
                            ?15)
                     ON CONFLICT (finale_id) DO UPDATE SET sku = excluded.sku,
                            name = excluded.name, stock = excluded.stock,
                            reorder_point = excluded.reorder_point,
                            reorder_quantity = excluded.reorder_quantity, cost = excluded.cost,
                            price = excluded.price, sales_velocity = excluded.sales_velocity,
                            sales_velocity_90d = excluded.sales_velocity_90d,
                            days_of_stock = excluded.days_of_stock, status = excluded.status,
                            content_hash = excluded.content_hash,
                            available = excluded.available,
                            finale_last_sync = excluded.finale_last_sync,
                            last_updated = excluded.last_updated",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        r.finale_id,
                        r.sku,
                        r.name,
                        r.stock,
                        r.reorder_point,
                        r.reorder_quantity,
                        r.cost,
                        r.price,
                        r.sales_velocity,
                        r.sales_velocity_90d,
                        r.days_of_stock,
                        r.status,
                        r.content_hash,
                        now,
                        r.available,
                    ])
                })
                .map_err(q("write an item"))?;
                if old.is_some() {
                    out.writes.updated += 1;
                } else {
                    out.writes.inserted += 1;
                }
            }
        }
    }
    tx.commit().map_err(q("commit writing items"))?;
    Ok(out)
}
