//! The local store's physical limit for the benchmark: a snapshot's mirror rows written with
//! plain prepared `INSERT`s in one transaction into an empty, freshly migrated database
//! (SQLite has no `COPY`; this is its fastest way in). No hash comparison, no change
//! report: the peer the engine's write path is measured against.

use std::path::Path;

use rusqlite::params;

use super::{StoreError, migrate, open, to_millis};
use crate::Snapshot;

/// Creates `path` (which must not hold a store yet), migrates it and inserts every mirror row
/// of `snap`; returns the rows inserted.
pub fn insert_snapshot(path: &Path, snap: &Snapshot) -> Result<u64, StoreError> {
    let mut conn = open(path)?;
    migrate(&mut conn)?;
    let tx = conn
        .transaction()
        .map_err(StoreError::sqlite("begin the bulk insert"))?;
    let mut n = 0u64;
    let ms = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(to_millis);
    {
        let mut st = tx
            .prepare(
                "INSERT INTO facilities (url, facility_id, name, parent_url, status, facility_type,
                 shipping_disabled, receiving_disabled, finale_created, finale_last_updated, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(StoreError::sqlite("prepare facilities"))?;
        for f in &snap.facilities {
            st.execute(params![
                f.url,
                f.facility_id,
                f.name,
                f.parent_url,
                f.status,
                f.facility_type,
                f.shipping_disabled,
                f.receiving_disabled,
                ms(f.finale_created),
                ms(f.finale_last_updated),
                &f.content_hash[..]
            ])
            .map_err(StoreError::sqlite("insert facilities"))?;
            n += 1;
        }
        let mut st = tx
            .prepare(
                "INSERT INTO parties (url, party_id, name, roles, status, contacts, user_fields,
                 finale_last_updated, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(StoreError::sqlite("prepare parties"))?;
        for p in &snap.parties {
            let roles = serde_json::to_string(&p.roles).unwrap_or_else(|_| "[]".into());
            st.execute(params![
                p.url,
                p.party_id,
                p.name,
                roles,
                p.status,
                p.contacts.to_string(),
                p.user_fields.to_string(),
                ms(p.finale_last_updated),
                &p.content_hash[..]
            ])
            .map_err(StoreError::sqlite("insert parties"))?;
            n += 1;
        }
        let mut prod = tx
            .prepare(
                "INSERT INTO products (url, sku, name, status, product_type, category, upc, cost,
                 lead_time_days, packing, list_price, user_fields, finale_created,
                 finale_last_updated, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .map_err(StoreError::sqlite("prepare products"))?;
        let mut sup = tx
            .prepare(
                "INSERT INTO product_suppliers (product_url, seq, supplier_url, supplier_sku,
                 pref_order_id, is_main, price, currency, lead_time_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(StoreError::sqlite("prepare product_suppliers"))?;
        let mut gl = tx
            .prepare(
                "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point,
                 reorder_qty, calculation_method) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(StoreError::sqlite("prepare reorder_guidelines"))?;
        for p in &snap.products {
            prod.execute(params![
                p.url,
                p.sku,
                p.name,
                p.status,
                p.product_type,
                p.category,
                p.upc,
                p.cost,
                p.lead_time_days,
                p.packing,
                p.list_price,
                p.user_fields.to_string(),
                ms(p.finale_created),
                ms(p.finale_last_updated),
                &p.content_hash[..]
            ])
            .map_err(StoreError::sqlite("insert products"))?;
            n += 1;
            for (i, s) in p.suppliers.iter().enumerate() {
                sup.execute(params![
                    p.url,
                    i as i64,
                    s.supplier_url,
                    s.supplier_sku,
                    s.pref_order_id,
                    s.is_main,
                    s.price,
                    s.currency,
                    s.lead_time_days
                ])
                .map_err(StoreError::sqlite("insert product_suppliers"))?;
                n += 1;
            }
            for (i, g) in p.guidelines.iter().enumerate() {
                gl.execute(params![
                    p.url,
                    i as i64,
                    g.facility_url,
                    g.reorder_point,
                    g.reorder_qty,
                    g.calculation_method
                ])
                .map_err(StoreError::sqlite("insert reorder_guidelines"))?;
                n += 1;
            }
        }
        let mut st = tx
            .prepare(
                "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(StoreError::sqlite("prepare stock"))?;
        for s in &snap.stock {
            st.execute(params![
                s.product_url,
                s.facility_url,
                s.on_hand,
                s.reserved,
                s.on_order,
                &s.content_hash[..]
            ])
            .map_err(StoreError::sqlite("insert stock"))?;
            n += 1;
        }
        let mut ord = tx
            .prepare(
                "INSERT INTO orders (url, order_id, order_type, status, order_date, due_date,
                 origin_facility_url, destination_facility_url, party_url, total, reference_number,
                 finale_created, finale_last_updated, content_hash, order_day)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .map_err(StoreError::sqlite("prepare orders"))?;
        let mut line = tx
            .prepare(
                "INSERT INTO order_lines (order_url, seq, order_item_url, product_url, product_id,
                 quantity, unit_price) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(StoreError::sqlite("prepare order_lines"))?;
        for o in &snap.orders {
            ord.execute(params![
                o.url,
                o.order_id,
                o.order_type,
                o.status,
                ms(o.order_date),
                ms(o.due_date),
                o.origin_facility_url,
                o.destination_facility_url,
                o.party_url,
                o.total,
                o.reference_number,
                ms(o.finale_created),
                ms(o.finale_last_updated),
                &o.content_hash[..],
                o.order_day.map(|d| d.format("%Y-%m-%d").to_string())
            ])
            .map_err(StoreError::sqlite("insert orders"))?;
            n += 1;
            for (i, l) in o.lines.iter().enumerate() {
                line.execute(params![
                    o.url,
                    i as i64,
                    l.order_item_url,
                    l.product_url,
                    l.product_id,
                    l.quantity,
                    l.unit_price
                ])
                .map_err(StoreError::sqlite("insert order_lines"))?;
                n += 1;
            }
        }
    }
    tx.commit()
        .map_err(StoreError::sqlite("commit the bulk insert"))?;
    Ok(n)
}
