//! [`Store::apply`](crate::Store::apply) on SQLite: one IMMEDIATE transaction, stored
//! hashes read per key, only new or changed rows written (see the parent module's docs).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::conv::{day_text, finite, int, json_text, last_by_key, ms};
use crate::StoreError;
use crate::rows::{
    FacilityRow, GuidelineRow, Hash, LineRow, OrderRow, PartyRow, ProductRow, StockKey, StockRow,
    SupplierLinkRow,
};
use crate::sqlite::to_millis;
use crate::{Applied, Batch, JobDone, PriceChange, Quarantined, Writes};

const SALES_ORDER: &str = "SALES_ORDER";

/// What the transaction wrote so far.
#[derive(Default)]
struct Report {
    by_table: BTreeMap<&'static str, Writes>,
    changed_products: Vec<String>,
    price_changes: Vec<PriceChange>,
    changed_parties: Vec<String>,
    stock_products: Vec<String>,
    sales_products: Vec<String>,
    seen_stock: HashSet<String>,
    seen_sales: HashSet<String>,
    new_orders: u64,
}

impl Report {
    fn count(&mut self, table: &'static str, w: Writes) {
        if w.total() > 0 {
            self.by_table.entry(table).or_default().add(w);
        }
    }
    fn inserted(&mut self, table: &'static str, n: u64) {
        self.count(
            table,
            Writes {
                inserted: n,
                ..Writes::default()
            },
        );
    }
    fn updated(&mut self, table: &'static str) {
        self.count(
            table,
            Writes {
                updated: 1,
                ..Writes::default()
            },
        );
    }
    fn deleted(&mut self, table: &'static str, n: u64) {
        self.count(
            table,
            Writes {
                deleted: n,
                ..Writes::default()
            },
        );
    }
    fn stock_product(&mut self, p: &str) {
        if self.seen_stock.insert(p.to_owned()) {
            self.stock_products.push(p.to_owned());
        }
    }
    fn sales_product(&mut self, p: &str) {
        if self.seen_sales.insert(p.to_owned()) {
            self.sales_products.push(p.to_owned());
        }
    }
    fn finish(self) -> Applied {
        Applied {
            by_table: self.by_table,
            changed_products: self.changed_products,
            price_changes: self.price_changes,
            changed_parties: self.changed_parties,
            stock_products: self.stock_products,
            sales_products: self.sales_products,
            new_orders: self.new_orders,
        }
    }
}

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

/// Writes a batch in one transaction.
pub fn apply(
    conn: &mut Connection,
    batch: &Batch,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    check_finite(batch)?;
    let now = to_millis(now);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("begin the batch transaction"))?;
    let mut r = Report::default();
    for f in last_by_key(&batch.facilities, |f| f.url.as_str()) {
        facility(&tx, f, now, &mut r)?;
    }
    for p in last_by_key(&batch.parties, |p| p.url.as_str()) {
        party(&tx, p, now, &mut r)?;
    }
    for p in last_by_key(&batch.products, |p| p.url.as_str()) {
        product(&tx, p, now, &mut r)?;
    }
    for o in last_by_key(&batch.orders, |o| o.url.as_str()) {
        order(&tx, o, now, &mut r)?;
    }
    for k in last_by_key(&batch.stock_deletes, |k| k) {
        stock_delete(&tx, k, &mut r)?;
    }
    for s in last_by_key(&batch.stock_upserts, |s| {
        (s.product_url.as_str(), s.facility_url.as_str())
    }) {
        stock(&tx, s, now, &mut r)?;
    }
    for e in &batch.quarantine {
        quarantine(&tx, e)?;
    }
    r.inserted("sync_errors", batch.quarantine.len() as u64);
    for (key, value) in &batch.state {
        tx.prepare_cached(
            "INSERT INTO sync_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .and_then(|mut s| s.execute(params![key, json_text(value), now]))
        .map_err(q("set a sync_state value"))?;
    }
    if let Some(job) = &batch.job_done {
        job_done(&tx, job)?;
    }
    tx.commit().map_err(q("commit the batch"))?;
    Ok(r.finish())
}

/// The stored hash of a key, `None` when the row is new.
fn stored_hash(tx: &Transaction<'_>, sql: &str, key: &str) -> Result<Option<Hash>, StoreError> {
    tx.prepare_cached(sql)
        .and_then(|mut s| s.query_row([key], |row| row.get::<_, Hash>(0)).optional())
        .map_err(q("read a stored content hash"))
}

fn facility(
    tx: &Transaction<'_>,
    f: &FacilityRow,
    now: i64,
    r: &mut Report,
) -> Result<(), StoreError> {
    let old = stored_hash(
        tx,
        "SELECT content_hash FROM facilities WHERE url = ?1",
        &f.url,
    )?;
    if old == Some(f.content_hash) {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO facilities (url, facility_id, name, parent_url, status, facility_type,
                shipping_disabled, receiving_disabled, finale_created, finale_last_updated,
                content_hash, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
         ON CONFLICT (url) DO UPDATE SET facility_id = excluded.facility_id,
                name = excluded.name, parent_url = excluded.parent_url, status = excluded.status,
                facility_type = excluded.facility_type,
                shipping_disabled = excluded.shipping_disabled,
                receiving_disabled = excluded.receiving_disabled,
                finale_created = excluded.finale_created,
                finale_last_updated = excluded.finale_last_updated,
                content_hash = excluded.content_hash, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
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
            f.content_hash,
            now,
        ])
    })
    .map_err(q("write a facility"))?;
    match old {
        None => r.inserted("facilities", 1),
        Some(_) => r.updated("facilities"),
    }
    Ok(())
}

fn party(tx: &Transaction<'_>, p: &PartyRow, now: i64, r: &mut Report) -> Result<(), StoreError> {
    let old = stored_hash(
        tx,
        "SELECT content_hash FROM parties WHERE url = ?1",
        &p.url,
    )?;
    if old == Some(p.content_hash) {
        return Ok(());
    }
    let roles = serde_json::Value::from(p.roles.clone());
    tx.prepare_cached(
        "INSERT INTO parties (url, party_id, name, roles, status, contacts, user_fields,
                finale_last_updated, content_hash, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT (url) DO UPDATE SET party_id = excluded.party_id, name = excluded.name,
                roles = excluded.roles, status = excluded.status, contacts = excluded.contacts,
                user_fields = excluded.user_fields,
                finale_last_updated = excluded.finale_last_updated,
                content_hash = excluded.content_hash, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            p.url,
            p.party_id,
            p.name,
            json_text(&roles),
            p.status,
            json_text(&p.contacts),
            json_text(&p.user_fields),
            ms(p.finale_last_updated),
            p.content_hash,
            now,
        ])
    })
    .map_err(q("write a party"))?;
    match old {
        None => r.inserted("parties", 1),
        Some(_) => r.updated("parties"),
    }
    r.changed_parties.push(p.url.clone());
    Ok(())
}

fn product(
    tx: &Transaction<'_>,
    p: &ProductRow,
    now: i64,
    r: &mut Report,
) -> Result<(), StoreError> {
    let old: Option<(Hash, Option<f64>, Option<f64>)> = tx
        .prepare_cached("SELECT content_hash, cost, list_price FROM products WHERE url = ?1")
        .and_then(|mut s| {
            s.query_row([&p.url], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()
        })
        .map_err(q("read a stored product"))?;
    if old.as_ref().is_some_and(|(h, _, _)| *h == p.content_hash) {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO products (url, sku, name, status, product_type, category, upc, cost,
                lead_time_days, packing, list_price, user_fields, finale_created,
                finale_last_updated, content_hash, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)
         ON CONFLICT (url) DO UPDATE SET sku = excluded.sku, name = excluded.name,
                status = excluded.status, product_type = excluded.product_type,
                category = excluded.category, upc = excluded.upc, cost = excluded.cost,
                lead_time_days = excluded.lead_time_days, packing = excluded.packing,
                list_price = excluded.list_price, user_fields = excluded.user_fields,
                finale_created = excluded.finale_created,
                finale_last_updated = excluded.finale_last_updated,
                content_hash = excluded.content_hash, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
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
            json_text(&p.user_fields),
            ms(p.finale_created),
            ms(p.finale_last_updated),
            p.content_hash,
            now,
        ])
    })
    .map_err(q("write a product"))?;
    let (old_suppliers, old_guidelines) = match &old {
        None => {
            r.inserted("products", 1);
            (BTreeMap::new(), BTreeMap::new())
        }
        Some((_, cost, list_price)) => {
            r.updated("products");
            if *cost != p.cost || *list_price != p.list_price {
                r.price_changes.push(PriceChange {
                    product_url: p.url.clone(),
                    cost: (*cost, p.cost),
                    list_price: (*list_price, p.list_price),
                });
            }
            (
                stored_suppliers(tx, &p.url)?,
                stored_guidelines(tx, &p.url)?,
            )
        }
    };
    // A new parent has no stored children: a plain insert (the full load's path).
    {
        let mut s = tx
            .prepare_cached(if old.is_none() {
                "INSERT INTO product_suppliers (product_url, seq, supplier_url, supplier_sku,
                        pref_order_id, is_main, price, currency, lead_time_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            } else {
                "INSERT INTO product_suppliers (product_url, seq, supplier_url, supplier_sku,
                        pref_order_id, is_main, price, currency, lead_time_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (product_url, seq) DO UPDATE SET
                        supplier_url = excluded.supplier_url,
                        supplier_sku = excluded.supplier_sku,
                        pref_order_id = excluded.pref_order_id, is_main = excluded.is_main,
                        price = excluded.price, currency = excluded.currency,
                        lead_time_days = excluded.lead_time_days"
            })
            .map_err(q("prepare a supplier link write"))?;
        let w = write_children(&p.suppliers, &old_suppliers, |seq, l| {
            s.execute(params![
                p.url,
                seq,
                l.supplier_url,
                l.supplier_sku,
                l.pref_order_id,
                l.is_main,
                l.price,
                l.currency,
                l.lead_time_days,
            ])
            .map(drop)
            .map_err(q("write a supplier link"))
        })?;
        r.count("product_suppliers", w);
    }
    delete_beyond(
        tx,
        "DELETE FROM product_suppliers WHERE product_url = ?1 AND seq >= ?2",
        "product_suppliers",
        &p.url,
        p.suppliers.len(),
        &old_suppliers,
        r,
    )?;
    {
        let mut s = tx
            .prepare_cached(if old.is_none() {
                "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point,
                        reorder_qty, calculation_method)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            } else {
                "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point,
                        reorder_qty, calculation_method)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (product_url, seq) DO UPDATE SET
                        facility_url = excluded.facility_url,
                        reorder_point = excluded.reorder_point,
                        reorder_qty = excluded.reorder_qty,
                        calculation_method = excluded.calculation_method"
            })
            .map_err(q("prepare a reorder guideline write"))?;
        let w = write_children(&p.guidelines, &old_guidelines, |seq, g| {
            s.execute(params![
                p.url,
                seq,
                g.facility_url,
                g.reorder_point,
                g.reorder_qty,
                g.calculation_method,
            ])
            .map(drop)
            .map_err(q("write a reorder guideline"))
        })?;
        r.count("reorder_guidelines", w);
    }
    delete_beyond(
        tx,
        "DELETE FROM reorder_guidelines WHERE product_url = ?1 AND seq >= ?2",
        "reorder_guidelines",
        &p.url,
        p.guidelines.len(),
        &old_guidelines,
        r,
    )?;
    r.changed_products.push(p.url.clone());
    Ok(())
}

fn order(tx: &Transaction<'_>, o: &OrderRow, now: i64, r: &mut Report) -> Result<(), StoreError> {
    let old: Option<(Hash, String)> = tx
        .prepare_cached("SELECT content_hash, order_type FROM orders WHERE url = ?1")
        .and_then(|mut s| {
            s.query_row([&o.url], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(q("read a stored order"))?;
    if old.as_ref().is_some_and(|(h, _)| *h == o.content_hash) {
        return Ok(());
    }
    // The old lines, read before they change: a changed sales order's old products need
    // their daily sales recomputed even when the new lines drop them.
    let old_lines = match &old {
        None => BTreeMap::new(),
        Some(_) => stored_lines(tx, &o.url)?,
    };
    if let Some((_, old_type)) = &old
        && old_type == SALES_ORDER
    {
        for p in old_lines.values().filter_map(|l| l.product_url.as_deref()) {
            r.sales_product(p);
        }
    }
    tx.prepare_cached(
        "INSERT INTO orders (url, order_id, order_type, status, order_date, due_date,
                origin_facility_url, destination_facility_url, party_url, total,
                reference_number, finale_created, finale_last_updated, content_hash,
                order_day, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?16, ?15, ?15)
         ON CONFLICT (url) DO UPDATE SET order_id = excluded.order_id,
                order_type = excluded.order_type, status = excluded.status,
                order_date = excluded.order_date, order_day = excluded.order_day,
                due_date = excluded.due_date,
                origin_facility_url = excluded.origin_facility_url,
                destination_facility_url = excluded.destination_facility_url,
                party_url = excluded.party_url, total = excluded.total,
                reference_number = excluded.reference_number,
                finale_created = excluded.finale_created,
                finale_last_updated = excluded.finale_last_updated,
                content_hash = excluded.content_hash, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
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
            o.content_hash,
            now,
            o.order_day.map(day_text),
        ])
    })
    .map_err(q("write an order"))?;
    match old {
        None => {
            r.inserted("orders", 1);
            r.new_orders += 1;
        }
        Some(_) => r.updated("orders"),
    }
    {
        let mut s = tx
            .prepare_cached(if old.is_none() {
                "INSERT INTO order_lines (order_url, seq, order_item_url, product_url, product_id,
                        quantity, unit_price)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            } else {
                "INSERT INTO order_lines (order_url, seq, order_item_url, product_url, product_id,
                        quantity, unit_price)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (order_url, seq) DO UPDATE SET
                        order_item_url = excluded.order_item_url,
                        product_url = excluded.product_url, product_id = excluded.product_id,
                        quantity = excluded.quantity, unit_price = excluded.unit_price"
            })
            .map_err(q("prepare an order line write"))?;
        let w = write_children(&o.lines, &old_lines, |seq, l| {
            s.execute(params![
                o.url,
                seq,
                l.order_item_url,
                l.product_url,
                l.product_id,
                l.quantity,
                l.unit_price,
            ])
            .map(drop)
            .map_err(q("write an order line"))
        })?;
        r.count("order_lines", w);
    }
    delete_beyond(
        tx,
        "DELETE FROM order_lines WHERE order_url = ?1 AND seq >= ?2",
        "order_lines",
        &o.url,
        o.lines.len(),
        &old_lines,
        r,
    )?;
    if o.order_type == SALES_ORDER {
        for p in o.lines.iter().filter_map(|l| l.product_url.as_deref()) {
            r.sales_product(p);
        }
    }
    Ok(())
}

/// A parent's stored children by position.
type Stored<T> = BTreeMap<i64, T>;

/// Writes a parent's new child list over the stored one, position by position: an equal
/// row is left alone, a differing one updated, a missing one inserted (`write` is an upsert
/// by `(parent, seq)`). Returns what was written; rows beyond the new list are
/// [`delete_beyond`]'s.
fn write_children<T: PartialEq>(
    new: &[T],
    stored: &Stored<T>,
    mut write: impl FnMut(i64, &T) -> Result<(), StoreError>,
) -> Result<Writes, StoreError> {
    let mut w = Writes::default();
    for (i, row) in new.iter().enumerate() {
        let seq = i64::try_from(i).unwrap_or(i64::MAX);
        match stored.get(&seq) {
            Some(old) if old == row => {}
            Some(_) => {
                write(seq, row)?;
                w.updated += 1;
            }
            None => {
                write(seq, row)?;
                w.inserted += 1;
            }
        }
    }
    Ok(w)
}

/// Deletes a parent's stored children at positions the new list no longer has (`sql` is
/// `DELETE ... WHERE parent = ?1 AND seq >= ?2`); runs only when there are any.
fn delete_beyond<T>(
    tx: &Transaction<'_>,
    sql: &str,
    table: &'static str,
    parent: &str,
    new_len: usize,
    stored: &Stored<T>,
    r: &mut Report,
) -> Result<(), StoreError> {
    let new_len = i64::try_from(new_len).unwrap_or(i64::MAX);
    if stored.range(new_len..).next().is_none() {
        return Ok(());
    }
    let n = tx
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(params![parent, new_len]))
        .map_err(q("delete children beyond a new list's length"))?;
    r.deleted(table, n as u64);
    Ok(())
}

fn stored_suppliers(
    tx: &Transaction<'_>,
    product: &str,
) -> Result<Stored<SupplierLinkRow>, StoreError> {
    tx.prepare_cached(
        "SELECT seq, supplier_url, supplier_sku, pref_order_id, is_main, price, currency,
                lead_time_days
           FROM product_suppliers WHERE product_url = ?1",
    )
    .and_then(|mut s| {
        s.query_map([product], |row| {
            Ok((
                row.get(0)?,
                SupplierLinkRow {
                    supplier_url: row.get(1)?,
                    supplier_sku: row.get(2)?,
                    pref_order_id: row.get(3)?,
                    is_main: row.get(4)?,
                    price: row.get(5)?,
                    currency: row.get(6)?,
                    lead_time_days: row.get(7)?,
                },
            ))
        })?
        .collect()
    })
    .map_err(q("read a product's stored supplier links"))
}

fn stored_guidelines(
    tx: &Transaction<'_>,
    product: &str,
) -> Result<Stored<GuidelineRow>, StoreError> {
    tx.prepare_cached(
        "SELECT seq, facility_url, reorder_point, reorder_qty, calculation_method
           FROM reorder_guidelines WHERE product_url = ?1",
    )
    .and_then(|mut s| {
        s.query_map([product], |row| {
            Ok((
                row.get(0)?,
                GuidelineRow {
                    facility_url: row.get(1)?,
                    reorder_point: row.get(2)?,
                    reorder_qty: row.get(3)?,
                    calculation_method: row.get(4)?,
                },
            ))
        })?
        .collect()
    })
    .map_err(q("read a product's stored reorder guidelines"))
}

fn stored_lines(tx: &Transaction<'_>, order: &str) -> Result<Stored<LineRow>, StoreError> {
    tx.prepare_cached(
        "SELECT seq, order_item_url, product_url, product_id, quantity, unit_price
           FROM order_lines WHERE order_url = ?1",
    )
    .and_then(|mut s| {
        s.query_map([order], |row| {
            Ok((
                row.get(0)?,
                LineRow {
                    order_item_url: row.get(1)?,
                    product_url: row.get(2)?,
                    product_id: row.get(3)?,
                    quantity: row.get(4)?,
                    unit_price: row.get(5)?,
                },
            ))
        })?
        .collect()
    })
    .map_err(q("read an order's stored lines"))
}

fn stock(tx: &Transaction<'_>, s: &StockRow, now: i64, r: &mut Report) -> Result<(), StoreError> {
    let old: Option<Hash> = tx
        .prepare_cached(
            "SELECT content_hash FROM stock WHERE product_url = ?1 AND facility_url = ?2",
        )
        .and_then(|mut st| {
            st.query_row([&s.product_url, &s.facility_url], |row| row.get(0))
                .optional()
        })
        .map_err(q("read a stored stock row"))?;
    if old == Some(s.content_hash) {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, content_hash,
                first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (product_url, facility_url) DO UPDATE SET on_hand = excluded.on_hand,
                reserved = excluded.reserved, on_order = excluded.on_order,
                content_hash = excluded.content_hash, updated_at = excluded.updated_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.product_url,
            s.facility_url,
            s.on_hand,
            s.reserved,
            s.on_order,
            s.content_hash,
            now,
        ])
    })
    .map_err(q("write a stock row"))?;
    match old {
        None => r.inserted("stock", 1),
        Some(_) => r.updated("stock"),
    }
    r.stock_product(&s.product_url);
    Ok(())
}

fn stock_delete(tx: &Transaction<'_>, k: &StockKey, r: &mut Report) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached("DELETE FROM stock WHERE product_url = ?1 AND facility_url = ?2")
        .and_then(|mut s| s.execute([&k.0, &k.1]))
        .map_err(q("delete a stock row"))?;
    if n > 0 {
        r.deleted("stock", n as u64);
        r.stock_product(&k.0);
    }
    Ok(())
}

fn quarantine(tx: &Transaction<'_>, e: &Quarantined) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO sync_errors (run_id, collection, record_key, reason, raw_payload, raw_text, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.run_id,
            e.collection,
            e.record_key,
            e.reason,
            e.raw_payload.as_ref().map(json_text),
            e.raw_text,
            to_millis(e.at),
        ])
    })
    .map_err(q("quarantine a record"))?;
    Ok(())
}

fn job_done(tx: &Transaction<'_>, job: &JobDone) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "UPDATE backfill_jobs SET status = 'done', records = ?2, requests = ?3, done_at = ?4
              WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                job.id,
                int(job.records),
                i64::from(job.requests),
                to_millis(job.at)
            ])
        })
        .map_err(q("mark a backfill job done"))?;
    if n == 0 {
        return Err(StoreError::Corrupt {
            what: format!(
                "backfill job {} does not exist (its batch was not stored)",
                job.id
            ),
        });
    }
    Ok(())
}

/// Every number of the batch is finite (see the module docs).
fn check_finite(b: &Batch) -> Result<(), StoreError> {
    for p in &b.products {
        let at = |f: &'static str| move || format!("products.{f} of {}", p.url);
        finite(p.cost, &at("cost"))?;
        finite(p.lead_time_days, &at("lead_time_days"))?;
        finite(p.list_price, &at("list_price"))?;
        for s in &p.suppliers {
            finite(s.price, &at("product_suppliers.price"))?;
            finite(s.lead_time_days, &at("product_suppliers.lead_time_days"))?;
        }
        for g in &p.guidelines {
            finite(g.reorder_point, &at("reorder_guidelines.reorder_point"))?;
            finite(g.reorder_qty, &at("reorder_guidelines.reorder_qty"))?;
        }
    }
    for o in &b.orders {
        let at = |f: &'static str| move || format!("orders.{f} of {}", o.url);
        finite(o.total, &at("total"))?;
        for l in &o.lines {
            finite(Some(l.quantity), &at("order_lines.quantity"))?;
            finite(l.unit_price, &at("order_lines.unit_price"))?;
        }
    }
    for s in &b.stock_upserts {
        let at = || format!("stock of {} @ {}", s.product_url, s.facility_url);
        for v in [s.on_hand, s.reserved, s.on_order] {
            finite(Some(v), &at)?;
        }
    }
    Ok(())
}
