//! Whole-store reads: the snapshot, write marks and stock hashes.

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::conv::{day, json, time};
use crate::StoreError;
use crate::rows::{
    DailySalesRow, FacilityRow, GuidelineRow, Hash, ItemRow, LineRow, OrderRow, PartyRow,
    ProductRow, StockKey, StockRow, SupplierLinkRow,
};

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// The tables [`write_marks`] covers: every mirror and derived table.
pub const MARKED_TABLES: [&str; 10] = crate::DATA_TABLES;

/// Every stock row's hash.
pub fn stock_hashes(conn: &mut Connection) -> Result<BTreeMap<StockKey, Hash>, StoreError> {
    let mut s = conn
        .prepare_cached("SELECT product_url, facility_url, content_hash FROM stock")
        .map_err(q("prepare reading stock hashes"))?;
    s.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(q("read stock hashes"))
}

/// Runs `sql` (no parameters) and maps every row.
fn all<T>(
    conn: &Connection,
    sql: &str,
    what: &'static str,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut s = conn.prepare_cached(sql).map_err(q(what))?;
    s.query_map([], map)
        .and_then(|rows| rows.collect())
        .map_err(q(what))
}

/// The whole mirror and derived content, sorted by key (SQLite compares text byte-wise,
/// which is Rust's `String` order).
pub fn snapshot(conn: &mut Connection) -> Result<crate::Snapshot, StoreError> {
    let tx = conn.transaction().map_err(q("begin the snapshot"))?;
    let conn: &Connection = &tx;

    let facilities = all(
        conn,
        "SELECT url, facility_id, name, parent_url, status, facility_type, shipping_disabled,
                receiving_disabled, finale_created, finale_last_updated, content_hash
           FROM facilities ORDER BY url",
        "read facilities",
        |r| {
            Ok((
                FacilityRow {
                    url: r.get(0)?,
                    facility_id: r.get(1)?,
                    name: r.get(2)?,
                    parent_url: r.get(3)?,
                    status: r.get(4)?,
                    facility_type: r.get(5)?,
                    shipping_disabled: r.get(6)?,
                    receiving_disabled: r.get(7)?,
                    finale_created: None,
                    finale_last_updated: None,
                    content_hash: r.get(10)?,
                },
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<i64>>(9)?,
            ))
        },
    )?
    .into_iter()
    .map(|(mut f, created, updated)| {
        f.finale_created = time(created, "facilities.finale_created")?;
        f.finale_last_updated = time(updated, "facilities.finale_last_updated")?;
        Ok(f)
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let parties = all(
        conn,
        "SELECT url, party_id, name, roles, status, contacts, user_fields, finale_last_updated,
                content_hash
           FROM parties ORDER BY url",
        "read parties",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Hash>(8)?,
            ))
        },
    )?
    .into_iter()
    .map(
        |(url, party_id, name, roles, status, contacts, user_fields, updated, content_hash)| {
            let roles: Vec<String> =
                serde_json::from_str(&roles).map_err(|e| StoreError::Corrupt {
                    what: format!("parties.roles of {url} is not a list of strings: {e}"),
                })?;
            Ok(PartyRow {
                party_id,
                name,
                roles,
                status,
                contacts: json(&contacts, "parties.contacts")?,
                user_fields: json(&user_fields, "parties.user_fields")?,
                finale_last_updated: time(updated, "parties.finale_last_updated")?,
                content_hash,
                url,
            })
        },
    )
    .collect::<Result<Vec<_>, StoreError>>()?;

    let mut suppliers: HashMap<String, Vec<SupplierLinkRow>> = HashMap::new();
    for (p, l) in all(
        conn,
        "SELECT product_url, supplier_url, supplier_sku, pref_order_id, is_main, price, currency,
                lead_time_days
           FROM product_suppliers ORDER BY product_url, seq",
        "read supplier links",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                SupplierLinkRow {
                    supplier_url: r.get(1)?,
                    supplier_sku: r.get(2)?,
                    pref_order_id: r.get(3)?,
                    is_main: r.get(4)?,
                    price: r.get(5)?,
                    currency: r.get(6)?,
                    lead_time_days: r.get(7)?,
                },
            ))
        },
    )? {
        suppliers.entry(p).or_default().push(l);
    }
    let mut guidelines: HashMap<String, Vec<GuidelineRow>> = HashMap::new();
    for (p, g) in all(
        conn,
        "SELECT product_url, facility_url, reorder_point, reorder_qty, calculation_method
           FROM reorder_guidelines ORDER BY product_url, seq",
        "read reorder guidelines",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                GuidelineRow {
                    facility_url: r.get(1)?,
                    reorder_point: r.get(2)?,
                    reorder_qty: r.get(3)?,
                    calculation_method: r.get(4)?,
                },
            ))
        },
    )? {
        guidelines.entry(p).or_default().push(g);
    }
    let products = all(
        conn,
        "SELECT url, sku, name, status, product_type, category, upc, cost, lead_time_days,
                packing, list_price, user_fields, finale_created, finale_last_updated,
                content_hash
           FROM products ORDER BY url",
        "read products",
        |r| {
            Ok((
                ProductRow {
                    url: r.get(0)?,
                    sku: r.get(1)?,
                    name: r.get(2)?,
                    status: r.get(3)?,
                    product_type: r.get(4)?,
                    category: r.get(5)?,
                    upc: r.get(6)?,
                    cost: r.get(7)?,
                    lead_time_days: r.get(8)?,
                    packing: r.get(9)?,
                    list_price: r.get(10)?,
                    user_fields: serde_json::Value::Null,
                    finale_created: None,
                    finale_last_updated: None,
                    suppliers: Vec::new(),
                    guidelines: Vec::new(),
                    content_hash: r.get(14)?,
                },
                r.get::<_, String>(11)?,
                r.get::<_, Option<i64>>(12)?,
                r.get::<_, Option<i64>>(13)?,
            ))
        },
    )?
    .into_iter()
    .map(|(mut p, user_fields, created, updated)| {
        p.user_fields = json(&user_fields, "products.user_fields")?;
        p.finale_created = time(created, "products.finale_created")?;
        p.finale_last_updated = time(updated, "products.finale_last_updated")?;
        p.suppliers = suppliers.remove(&p.url).unwrap_or_default();
        p.guidelines = guidelines.remove(&p.url).unwrap_or_default();
        Ok(p)
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let stock = all(
        conn,
        "SELECT product_url, facility_url, on_hand, reserved, on_order, content_hash
           FROM stock ORDER BY product_url, facility_url",
        "read stock",
        |r| {
            Ok(StockRow {
                product_url: r.get(0)?,
                facility_url: r.get(1)?,
                on_hand: r.get(2)?,
                reserved: r.get(3)?,
                on_order: r.get(4)?,
                content_hash: r.get(5)?,
            })
        },
    )?;

    let mut lines: HashMap<String, Vec<LineRow>> = HashMap::new();
    for (o, l) in all(
        conn,
        "SELECT order_url, order_item_url, product_url, product_id, quantity, unit_price
           FROM order_lines ORDER BY order_url, seq",
        "read order lines",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                LineRow {
                    order_item_url: r.get(1)?,
                    product_url: r.get(2)?,
                    product_id: r.get(3)?,
                    quantity: r.get(4)?,
                    unit_price: r.get(5)?,
                },
            ))
        },
    )? {
        lines.entry(o).or_default().push(l);
    }
    type OrderTimes = [Option<i64>; 4];
    let orders = all(
        conn,
        "SELECT url, order_id, order_type, status, order_date, due_date, origin_facility_url,
                destination_facility_url, party_url, total, reference_number, finale_created,
                finale_last_updated, content_hash, order_day
           FROM orders ORDER BY url",
        "read orders",
        |r| {
            let times: OrderTimes = [r.get(4)?, r.get(5)?, r.get(11)?, r.get(12)?];
            Ok((
                (
                    r.get::<_, Option<String>>(14)?,
                    OrderRow {
                        url: r.get(0)?,
                        order_id: r.get(1)?,
                        order_type: r.get(2)?,
                        status: r.get(3)?,
                        order_date: None,
                        order_day: None,
                        due_date: None,
                        origin_facility_url: r.get(6)?,
                        destination_facility_url: r.get(7)?,
                        party_url: r.get(8)?,
                        total: r.get(9)?,
                        reference_number: r.get(10)?,
                        finale_created: None,
                        finale_last_updated: None,
                        lines: Vec::new(),
                        content_hash: r.get(13)?,
                    },
                ),
                times,
            ))
        },
    )?
    .into_iter()
    .map(|((order_day, mut o), [date, due, created, updated])| {
        o.order_date = time(date, "orders.order_date")?;
        o.order_day = order_day.as_deref().map(day).transpose()?;
        o.due_date = time(due, "orders.due_date")?;
        o.finale_created = time(created, "orders.finale_created")?;
        o.finale_last_updated = time(updated, "orders.finale_last_updated")?;
        o.lines = lines.remove(&o.url).unwrap_or_default();
        Ok(o)
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let daily_sales = all(
        conn,
        "SELECT product_url, day, units, revenue FROM daily_sales ORDER BY product_url, day",
        "read daily sales",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
            ))
        },
    )?
    .into_iter()
    .map(|(product_url, d, units, revenue)| {
        Ok(DailySalesRow {
            product_url,
            day: day(&d)?,
            units,
            revenue,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let items = all(
        conn,
        "SELECT finale_id, sku, name, stock, reorder_point, reorder_quantity, cost, price,
                sales_velocity, sales_velocity_90d, days_of_stock, status, content_hash, available
           FROM inventory_items WHERE finale_id IS NOT NULL ORDER BY finale_id",
        "read inventory items",
        |r| {
            Ok(ItemRow {
                finale_id: r.get(0)?,
                sku: r.get(1)?,
                name: r.get(2)?,
                stock: r.get(3)?,
                available: r.get(13)?,
                reorder_point: r.get(4)?,
                reorder_quantity: r.get(5)?,
                cost: r.get(6)?,
                price: r.get(7)?,
                sales_velocity: r.get(8)?,
                sales_velocity_90d: r.get(9)?,
                days_of_stock: r.get(10)?,
                status: r.get(11)?,
                content_hash: r.get(12)?,
            })
        },
    )?;
    tx.commit().map_err(q("end the snapshot"))?;
    Ok(crate::Snapshot {
        facilities,
        parties,
        products,
        stock,
        orders,
        daily_sales,
        items,
    })
}

/// One mark per table: `<rows>:<digest of every row>` (see the parent module's docs for what
/// it cannot see).
pub fn write_marks(conn: &mut Connection) -> Result<BTreeMap<String, String>, StoreError> {
    let tx = conn.transaction().map_err(q("begin reading write marks"))?;
    let mut marks = BTreeMap::new();
    for table in MARKED_TABLES {
        // The table names are this module's constants, not input.
        let mut s = tx
            .prepare(&format!("SELECT rowid, * FROM {table} ORDER BY rowid"))
            .map_err(q("prepare reading a table for its write mark"))?;
        let columns = s.column_count();
        let mut rows = s.query([]).map_err(q("read a table for its write mark"))?;
        let mut h = blake3::Hasher::new();
        let mut n: u64 = 0;
        while let Some(row) = rows.next().map_err(q("read a row for its write mark"))? {
            n += 1;
            for i in 0..columns {
                match row
                    .get_ref(i)
                    .map_err(q("read a value for its write mark"))?
                {
                    ValueRef::Null => h.update(&[0]),
                    ValueRef::Integer(v) => h.update(&[1]).update(&v.to_le_bytes()),
                    ValueRef::Real(v) => h.update(&[2]).update(&v.to_bits().to_le_bytes()),
                    ValueRef::Text(v) => h
                        .update(&[3])
                        .update(&(v.len() as u64).to_le_bytes())
                        .update(v),
                    ValueRef::Blob(v) => h
                        .update(&[4])
                        .update(&(v.len() as u64).to_le_bytes())
                        .update(v),
                };
            }
        }
        let digest = h.finalize().to_hex();
        marks.insert(table.to_owned(), format!("{n}:{}", &digest.as_str()[..32]));
    }
    tx.commit().map_err(q("end reading write marks"))?;
    Ok(marks)
}
