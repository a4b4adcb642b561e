//! [`Store::apply`](crate::Store::apply) on Postgres: one transaction, per table one
//! pre-read of the stored hashes and one bulk `unnest` upsert of the new and changed rows;
//! owned children are written by position, equal ones skipped (see the parent module's docs).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Transaction};

use super::{last_wins, to_i64};
use crate::StoreError;
use crate::pg::lock::check_fence;
use crate::rows::{FacilityRow, OrderRow, PartyRow, ProductRow, StockKey, StockRow};
use crate::{Applied, Batch, JobDone, PriceChange, Quarantined, Writes};

/// A typed statement parameter.
type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// Writes `batch` in one transaction and reports what it wrote.
pub(super) async fn apply(
    client: &mut Client,
    batch: &Batch,
    now: DateTime<Utc>,
    fence: Option<&str>,
) -> Result<Applied, StoreError> {
    let mut out = Applied::default();
    if batch.has_no_rows()
        && batch.quarantine.is_empty()
        && batch.state.is_empty()
        && batch.job_done.is_none()
    {
        return Ok(out);
    }
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("begin a batch"))?;
    check_fence(&tx, fence).await?;
    facilities(&tx, &batch.facilities, now, &mut out).await?;
    parties(&tx, &batch.parties, now, &mut out).await?;
    products(&tx, &batch.products, now, &mut out).await?;
    stock_deletes(&tx, &batch.stock_deletes, &mut out).await?;
    stock_upserts(&tx, &batch.stock_upserts, now, &mut out).await?;
    orders(&tx, &batch.orders, now, &mut out).await?;
    quarantine(&tx, &batch.quarantine, &mut out).await?;
    state(&tx, &batch.state, now).await?;
    if let Some(job) = &batch.job_done {
        job_done(&tx, job).await?;
    }
    tx.commit()
        .await
        .map_err(StoreError::query("commit a batch"))?;
    for list in [
        &mut out.changed_products,
        &mut out.changed_parties,
        &mut out.stock_products,
        &mut out.sales_products,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    out.price_changes
        .sort_by(|a, b| a.product_url.cmp(&b.product_url));
    Ok(out)
}

/// Adds writes to a table's count (tables without writes stay absent).
fn tally(out: &mut Applied, table: &'static str, w: Writes) {
    if w.total() > 0 {
        out.by_table.entry(table).or_default().add(w);
    }
}

/// A row an upsert wrote: its key, and whether it was inserted (else updated), read from
/// `RETURNING ..., (t.xmax = 0)`: Postgres returns a freshly inserted row version with
/// `xmax = 0`, while a row updated by `ON CONFLICT DO UPDATE` carries the transaction that
/// locked it. Exact even when a concurrent batch inserted the key after the pre-read.
struct Written<K> {
    key: K,
    inserted: bool,
}

/// Inserted/updated counts of written rows.
fn split_written<K>(written: &[Written<K>]) -> Writes {
    let inserted = written.iter().filter(|w| w.inserted).count() as u64;
    Writes {
        inserted,
        updated: written.len() as u64 - inserted,
        deleted: 0,
    }
}

/// The stored hashes of `keys` (a `SELECT key, content_hash ... WHERE key = ANY($1)`).
async fn stored_hashes(
    tx: &Transaction<'_>,
    sql: &str,
    keys: &[&str],
    what: &'static str,
) -> Result<HashMap<String, Vec<u8>>, StoreError> {
    let rows = tx
        .query_typed(sql, &[(&keys, Type::TEXT_ARRAY)])
        .await
        .map_err(StoreError::query(what))?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(what))
}

/// Whether a row with `hash` must be written given the stored hashes.
fn differs(stored: &HashMap<String, Vec<u8>>, key: &str, hash: &[u8]) -> bool {
    stored.get(key).is_none_or(|h| h.as_slice() != hash)
}

/// Runs an upsert returning `(key, t.xmax = 0)` for every written row.
async fn written_keys(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
    what: &'static str,
) -> Result<Vec<Written<String>>, StoreError> {
    let rows = tx
        .query_typed(sql, params)
        .await
        .map_err(StoreError::query(what))?;
    rows.iter()
        .map(|r| {
            Ok(Written {
                key: r.try_get(0)?,
                inserted: r.try_get(1)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(what))
}

// ---------------------------------------------------------------------------------------------
// Facilities

const UPSERT_FACILITIES: &str = "\
INSERT INTO facilities AS t (url, facility_id, name, parent_url, status, facility_type, \
    shipping_disabled, receiving_disabled, finale_created, finale_last_updated, content_hash, \
    first_seen_at, updated_at) \
SELECT u.*, $12, $12 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
    $6::text[], $7::bool[], $8::bool[], $9::timestamptz[], $10::timestamptz[], $11::bytea[]) AS u \
ON CONFLICT (url) DO UPDATE SET facility_id = EXCLUDED.facility_id, name = EXCLUDED.name, \
    parent_url = EXCLUDED.parent_url, status = EXCLUDED.status, \
    facility_type = EXCLUDED.facility_type, shipping_disabled = EXCLUDED.shipping_disabled, \
    receiving_disabled = EXCLUDED.receiving_disabled, finale_created = EXCLUDED.finale_created, \
    finale_last_updated = EXCLUDED.finale_last_updated, content_hash = EXCLUDED.content_hash, \
    updated_at = EXCLUDED.updated_at \
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
RETURNING t.url, (t.xmax = 0)";

async fn facilities(
    tx: &Transaction<'_>,
    rows: &[FacilityRow],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), StoreError> {
    let rows = last_wins(rows, |r| r.url.as_str());
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
    let stored = stored_hashes(
        tx,
        "SELECT url, content_hash FROM facilities WHERE url = ANY($1)",
        &keys,
        "read stored facility hashes",
    )
    .await?;
    let todo: Vec<&FacilityRow> = rows
        .into_iter()
        .filter(|r| differs(&stored, &r.url, &r.content_hash))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let url: Vec<&str> = todo.iter().map(|r| r.url.as_str()).collect();
    let facility_id: Vec<&str> = todo.iter().map(|r| r.facility_id.as_str()).collect();
    let name: Vec<Option<&str>> = todo.iter().map(|r| r.name.as_deref()).collect();
    let parent: Vec<Option<&str>> = todo.iter().map(|r| r.parent_url.as_deref()).collect();
    let status: Vec<Option<&str>> = todo.iter().map(|r| r.status.as_deref()).collect();
    let ftype: Vec<Option<&str>> = todo.iter().map(|r| r.facility_type.as_deref()).collect();
    let ship: Vec<Option<bool>> = todo.iter().map(|r| r.shipping_disabled).collect();
    let recv: Vec<Option<bool>> = todo.iter().map(|r| r.receiving_disabled).collect();
    let created: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_created).collect();
    let updated: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_last_updated).collect();
    let hash: Vec<&[u8]> = todo.iter().map(|r| r.content_hash.as_slice()).collect();
    let written = written_keys(
        tx,
        UPSERT_FACILITIES,
        &[
            (&url, Type::TEXT_ARRAY),
            (&facility_id, Type::TEXT_ARRAY),
            (&name, Type::TEXT_ARRAY),
            (&parent, Type::TEXT_ARRAY),
            (&status, Type::TEXT_ARRAY),
            (&ftype, Type::TEXT_ARRAY),
            (&ship, Type::BOOL_ARRAY),
            (&recv, Type::BOOL_ARRAY),
            (&created, Type::TIMESTAMPTZ_ARRAY),
            (&updated, Type::TIMESTAMPTZ_ARRAY),
            (&hash, Type::BYTEA_ARRAY),
            (&now, Type::TIMESTAMPTZ),
        ],
        "upsert facilities",
    )
    .await?;
    tally(out, "facilities", split_written(&written));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parties

// `roles` travels as one jsonb array per row (unnest cannot carry an array of arrays).
const UPSERT_PARTIES: &str = "\
INSERT INTO parties AS t (url, party_id, name, roles, status, contacts, user_fields, \
    finale_last_updated, content_hash, first_seen_at, updated_at) \
SELECT u.url, u.party_id, u.name, \
    ARRAY(SELECT e.r FROM jsonb_array_elements_text(u.roles) WITH ORDINALITY AS e(r, i) \
          ORDER BY e.i), \
    u.status, u.contacts, u.user_fields, u.finale_last_updated, u.content_hash, $10, $10 \
FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], \
    $7::jsonb[], $8::timestamptz[], $9::bytea[]) \
    AS u(url, party_id, name, roles, status, contacts, user_fields, finale_last_updated, \
         content_hash) \
ON CONFLICT (url) DO UPDATE SET party_id = EXCLUDED.party_id, name = EXCLUDED.name, \
    roles = EXCLUDED.roles, status = EXCLUDED.status, contacts = EXCLUDED.contacts, \
    user_fields = EXCLUDED.user_fields, finale_last_updated = EXCLUDED.finale_last_updated, \
    content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at \
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
RETURNING t.url, (t.xmax = 0)";

async fn parties(
    tx: &Transaction<'_>,
    rows: &[PartyRow],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), StoreError> {
    let rows = last_wins(rows, |r| r.url.as_str());
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
    let stored = stored_hashes(
        tx,
        "SELECT url, content_hash FROM parties WHERE url = ANY($1)",
        &keys,
        "read stored party hashes",
    )
    .await?;
    let todo: Vec<&PartyRow> = rows
        .into_iter()
        .filter(|r| differs(&stored, &r.url, &r.content_hash))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let url: Vec<&str> = todo.iter().map(|r| r.url.as_str()).collect();
    let party_id: Vec<&str> = todo.iter().map(|r| r.party_id.as_str()).collect();
    let name: Vec<Option<&str>> = todo.iter().map(|r| r.name.as_deref()).collect();
    let roles: Vec<serde_json::Value> = todo
        .iter()
        .map(|r| serde_json::Value::from(r.roles.clone()))
        .collect();
    let status: Vec<Option<&str>> = todo.iter().map(|r| r.status.as_deref()).collect();
    let contacts: Vec<&serde_json::Value> = todo.iter().map(|r| &r.contacts).collect();
    let user_fields: Vec<&serde_json::Value> = todo.iter().map(|r| &r.user_fields).collect();
    let updated: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_last_updated).collect();
    let hash: Vec<&[u8]> = todo.iter().map(|r| r.content_hash.as_slice()).collect();
    let written = written_keys(
        tx,
        UPSERT_PARTIES,
        &[
            (&url, Type::TEXT_ARRAY),
            (&party_id, Type::TEXT_ARRAY),
            (&name, Type::TEXT_ARRAY),
            (&roles, Type::JSONB_ARRAY),
            (&status, Type::TEXT_ARRAY),
            (&contacts, Type::JSONB_ARRAY),
            (&user_fields, Type::JSONB_ARRAY),
            (&updated, Type::TIMESTAMPTZ_ARRAY),
            (&hash, Type::BYTEA_ARRAY),
            (&now, Type::TIMESTAMPTZ),
        ],
        "upsert parties",
    )
    .await?;
    tally(out, "parties", split_written(&written));
    out.changed_parties
        .extend(written.into_iter().map(|w| w.key));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Products and their owned children

const UPSERT_PRODUCTS: &str = "\
INSERT INTO products AS t (url, sku, name, status, product_type, category, upc, cost, \
    lead_time_days, packing, list_price, user_fields, finale_created, finale_last_updated, \
    content_hash, first_seen_at, updated_at) \
SELECT u.*, $16, $16 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
    $6::text[], $7::text[], $8::float8[], $9::float8[], $10::text[], $11::float8[], \
    $12::jsonb[], $13::timestamptz[], $14::timestamptz[], $15::bytea[]) AS u \
ON CONFLICT (url) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name, \
    status = EXCLUDED.status, product_type = EXCLUDED.product_type, \
    category = EXCLUDED.category, upc = EXCLUDED.upc, cost = EXCLUDED.cost, \
    lead_time_days = EXCLUDED.lead_time_days, packing = EXCLUDED.packing, \
    list_price = EXCLUDED.list_price, user_fields = EXCLUDED.user_fields, \
    finale_created = EXCLUDED.finale_created, finale_last_updated = EXCLUDED.finale_last_updated, \
    content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at \
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
RETURNING t.url, (t.xmax = 0)";

const INSERT_SUPPLIERS: &str = "\
INSERT INTO product_suppliers AS t (product_url, seq, supplier_url, supplier_sku, pref_order_id, \
    is_main, price, currency, lead_time_days) \
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::bool[], \
    $7::float8[], $8::text[], $9::float8[])";

/// [`INSERT_SUPPLIERS`] over stored children: positions whose values differ are updated,
/// equal ones skipped (`WHERE false` writes no row version).
const UPSERT_SUPPLIERS: &str = "\
INSERT INTO product_suppliers AS t (product_url, seq, supplier_url, supplier_sku, pref_order_id, \
    is_main, price, currency, lead_time_days) \
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::bool[], \
    $7::float8[], $8::text[], $9::float8[]) \
ON CONFLICT (product_url, seq) DO UPDATE SET supplier_url = EXCLUDED.supplier_url, \
    supplier_sku = EXCLUDED.supplier_sku, pref_order_id = EXCLUDED.pref_order_id, \
    is_main = EXCLUDED.is_main, price = EXCLUDED.price, currency = EXCLUDED.currency, \
    lead_time_days = EXCLUDED.lead_time_days \
WHERE (t.supplier_url, t.supplier_sku, t.pref_order_id, t.is_main, t.price, t.currency, \
    t.lead_time_days) IS DISTINCT FROM (EXCLUDED.supplier_url, EXCLUDED.supplier_sku, \
    EXCLUDED.pref_order_id, EXCLUDED.is_main, EXCLUDED.price, EXCLUDED.currency, \
    EXCLUDED.lead_time_days) \
RETURNING (t.xmax = 0)";

const DELETE_SUPPLIERS: &str = "\
DELETE FROM product_suppliers t USING unnest($1::text[], $2::int4[]) AS k(parent, len) \
WHERE t.product_url = k.parent AND t.seq >= k.len";

const INSERT_GUIDELINES: &str = "\
INSERT INTO reorder_guidelines AS t (product_url, seq, facility_url, reorder_point, reorder_qty, \
    calculation_method) \
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::float8[], $5::float8[], \
    $6::text[])";

const UPSERT_GUIDELINES: &str = "\
INSERT INTO reorder_guidelines AS t (product_url, seq, facility_url, reorder_point, reorder_qty, \
    calculation_method) \
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::float8[], $5::float8[], \
    $6::text[]) \
ON CONFLICT (product_url, seq) DO UPDATE SET facility_url = EXCLUDED.facility_url, \
    reorder_point = EXCLUDED.reorder_point, reorder_qty = EXCLUDED.reorder_qty, \
    calculation_method = EXCLUDED.calculation_method \
WHERE (t.facility_url, t.reorder_point, t.reorder_qty, t.calculation_method) \
    IS DISTINCT FROM (EXCLUDED.facility_url, EXCLUDED.reorder_point, EXCLUDED.reorder_qty, \
    EXCLUDED.calculation_method) \
RETURNING (t.xmax = 0)";

const DELETE_GUIDELINES: &str = "\
DELETE FROM reorder_guidelines t USING unnest($1::text[], $2::int4[]) AS k(parent, len) \
WHERE t.product_url = k.parent AND t.seq >= k.len";

/// A product's stored values the report needs.
struct StoredProduct {
    hash: Vec<u8>,
    cost: Option<f64>,
    list_price: Option<f64>,
}

async fn products(
    tx: &Transaction<'_>,
    rows: &[ProductRow],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), StoreError> {
    let rows = last_wins(rows, |r| r.url.as_str());
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
    const WHAT: &str = "read stored product hashes";
    let stored: HashMap<String, StoredProduct> = tx
        .query_typed(
            "SELECT url, content_hash, cost, list_price FROM products WHERE url = ANY($1)",
            &[(&keys, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                StoredProduct {
                    hash: r.try_get(1)?,
                    cost: r.try_get(2)?,
                    list_price: r.try_get(3)?,
                },
            ))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))?;
    let todo: Vec<&ProductRow> = rows
        .into_iter()
        .filter(|r| {
            stored
                .get(&r.url)
                .is_none_or(|s| s.hash.as_slice() != r.content_hash.as_slice())
        })
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let url: Vec<&str> = todo.iter().map(|r| r.url.as_str()).collect();
    let sku: Vec<&str> = todo.iter().map(|r| r.sku.as_str()).collect();
    let name: Vec<Option<&str>> = todo.iter().map(|r| r.name.as_deref()).collect();
    let status: Vec<Option<&str>> = todo.iter().map(|r| r.status.as_deref()).collect();
    let ptype: Vec<Option<&str>> = todo.iter().map(|r| r.product_type.as_deref()).collect();
    let category: Vec<Option<&str>> = todo.iter().map(|r| r.category.as_deref()).collect();
    let upc: Vec<Option<&str>> = todo.iter().map(|r| r.upc.as_deref()).collect();
    let cost: Vec<Option<f64>> = todo.iter().map(|r| r.cost).collect();
    let lead: Vec<Option<f64>> = todo.iter().map(|r| r.lead_time_days).collect();
    let packing: Vec<Option<&str>> = todo.iter().map(|r| r.packing.as_deref()).collect();
    let list_price: Vec<Option<f64>> = todo.iter().map(|r| r.list_price).collect();
    let user_fields: Vec<&serde_json::Value> = todo.iter().map(|r| &r.user_fields).collect();
    let created: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_created).collect();
    let updated: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_last_updated).collect();
    let hash: Vec<&[u8]> = todo.iter().map(|r| r.content_hash.as_slice()).collect();
    let written = written_keys(
        tx,
        UPSERT_PRODUCTS,
        &[
            (&url, Type::TEXT_ARRAY),
            (&sku, Type::TEXT_ARRAY),
            (&name, Type::TEXT_ARRAY),
            (&status, Type::TEXT_ARRAY),
            (&ptype, Type::TEXT_ARRAY),
            (&category, Type::TEXT_ARRAY),
            (&upc, Type::TEXT_ARRAY),
            (&cost, Type::FLOAT8_ARRAY),
            (&lead, Type::FLOAT8_ARRAY),
            (&packing, Type::TEXT_ARRAY),
            (&list_price, Type::FLOAT8_ARRAY),
            (&user_fields, Type::JSONB_ARRAY),
            (&created, Type::TIMESTAMPTZ_ARRAY),
            (&updated, Type::TIMESTAMPTZ_ARRAY),
            (&hash, Type::BYTEA_ARRAY),
            (&now, Type::TIMESTAMPTZ),
        ],
        "upsert products",
    )
    .await?;
    tally(out, "products", split_written(&written));

    // Write the children of every written product by position; only updated products can
    // have stored ones.
    let written_set: BTreeSet<&str> = written.iter().map(|w| w.key.as_str()).collect();
    let replaced: BTreeSet<&str> = written
        .iter()
        .filter(|w| !w.inserted)
        .map(|w| w.key.as_str())
        .collect();
    let children: Vec<&ProductRow> = todo
        .iter()
        .copied()
        .filter(|r| written_set.contains(r.url.as_str()))
        .collect();
    let sup = write_suppliers(tx, &children, &replaced).await?;
    let gl = write_guidelines(tx, &children, &replaced).await?;
    tally(out, "product_suppliers", sup);
    tally(out, "reorder_guidelines", gl);

    for row in &children {
        if let Some(old) = stored.get(&row.url)
            && (old.cost != row.cost || old.list_price != row.list_price)
        {
            out.price_changes.push(PriceChange {
                product_url: row.url.clone(),
                cost: (old.cost, row.cost),
                list_price: (old.list_price, row.list_price),
            });
        }
    }
    out.changed_products
        .extend(written.into_iter().map(|w| w.key));
    Ok(())
}

/// Child positions are `int4` in the schema.
fn seq(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// The children of updated parents beyond their new lists' lengths: `(parent, new length)`
/// in key order, for a `DELETE ... USING unnest($1::text[], $2::int4[])`.
fn shrink<'a, P>(
    parents: &[&'a P],
    replaced: &BTreeSet<&str>,
    url: impl Fn(&'a P) -> &'a str,
    len: impl Fn(&'a P) -> usize,
) -> (Vec<&'a str>, Vec<i32>) {
    parents
        .iter()
        .filter(|p| replaced.contains(url(p)))
        .map(|p| (url(p), seq(len(p))))
        .unzip()
}

/// Writes the children of the written parents: with no updated parent among them a plain
/// insert (a fresh load has no stored children), otherwise an upsert by `(parent, seq)` that
/// skips equal rows, then the delete of positions beyond the new lists.
async fn write_children(
    tx: &Transaction<'_>,
    sql: [&str; 3],
    params: &[Param<'_>],
    rows: usize,
    shrink: (Vec<&str>, Vec<i32>),
    what: &'static str,
) -> Result<Writes, StoreError> {
    let [insert, upsert, delete] = sql;
    let mut w = Writes::default();
    if rows > 0 && shrink.0.is_empty() {
        w.inserted = tx
            .execute_typed(insert, params)
            .await
            .map_err(StoreError::query(what))?;
    } else if rows > 0 {
        let written = tx
            .query_typed(upsert, params)
            .await
            .map_err(StoreError::query(what))?;
        for row in &written {
            let inserted: bool = row.try_get(0).map_err(StoreError::query(what))?;
            if inserted {
                w.inserted += 1;
            } else {
                w.updated += 1;
            }
        }
    }
    if !shrink.0.is_empty() {
        w.deleted = tx
            .execute_typed(
                delete,
                &[(&shrink.0, Type::TEXT_ARRAY), (&shrink.1, Type::INT4_ARRAY)],
            )
            .await
            .map_err(StoreError::query(what))?;
    }
    Ok(w)
}

async fn write_suppliers(
    tx: &Transaction<'_>,
    parents: &[&ProductRow],
    replaced: &BTreeSet<&str>,
) -> Result<Writes, StoreError> {
    let n: usize = parents.iter().map(|p| p.suppliers.len()).sum();
    let mut product = Vec::with_capacity(n);
    let mut seqs = Vec::with_capacity(n);
    let mut supplier = Vec::with_capacity(n);
    let mut supplier_sku = Vec::with_capacity(n);
    let mut pref = Vec::with_capacity(n);
    let mut main = Vec::with_capacity(n);
    let mut price = Vec::with_capacity(n);
    let mut currency = Vec::with_capacity(n);
    let mut lead = Vec::with_capacity(n);
    for p in parents {
        for (i, s) in p.suppliers.iter().enumerate() {
            product.push(p.url.as_str());
            seqs.push(seq(i));
            supplier.push(s.supplier_url.as_deref());
            supplier_sku.push(s.supplier_sku.as_deref());
            pref.push(s.pref_order_id.as_deref());
            main.push(s.is_main);
            price.push(s.price);
            currency.push(s.currency.as_deref());
            lead.push(s.lead_time_days);
        }
    }
    write_children(
        tx,
        [INSERT_SUPPLIERS, UPSERT_SUPPLIERS, DELETE_SUPPLIERS],
        &[
            (&product, Type::TEXT_ARRAY),
            (&seqs, Type::INT4_ARRAY),
            (&supplier, Type::TEXT_ARRAY),
            (&supplier_sku, Type::TEXT_ARRAY),
            (&pref, Type::TEXT_ARRAY),
            (&main, Type::BOOL_ARRAY),
            (&price, Type::FLOAT8_ARRAY),
            (&currency, Type::TEXT_ARRAY),
            (&lead, Type::FLOAT8_ARRAY),
        ],
        n,
        shrink(parents, replaced, |p| p.url.as_str(), |p| p.suppliers.len()),
        "write product suppliers",
    )
    .await
}

async fn write_guidelines(
    tx: &Transaction<'_>,
    parents: &[&ProductRow],
    replaced: &BTreeSet<&str>,
) -> Result<Writes, StoreError> {
    let n: usize = parents.iter().map(|p| p.guidelines.len()).sum();
    let mut product = Vec::with_capacity(n);
    let mut seqs = Vec::with_capacity(n);
    let mut facility = Vec::with_capacity(n);
    let mut point = Vec::with_capacity(n);
    let mut qty = Vec::with_capacity(n);
    let mut method = Vec::with_capacity(n);
    for p in parents {
        for (i, g) in p.guidelines.iter().enumerate() {
            product.push(p.url.as_str());
            seqs.push(seq(i));
            facility.push(g.facility_url.as_deref());
            point.push(g.reorder_point);
            qty.push(g.reorder_qty);
            method.push(g.calculation_method.as_deref());
        }
    }
    write_children(
        tx,
        [INSERT_GUIDELINES, UPSERT_GUIDELINES, DELETE_GUIDELINES],
        &[
            (&product, Type::TEXT_ARRAY),
            (&seqs, Type::INT4_ARRAY),
            (&facility, Type::TEXT_ARRAY),
            (&point, Type::FLOAT8_ARRAY),
            (&qty, Type::FLOAT8_ARRAY),
            (&method, Type::TEXT_ARRAY),
        ],
        n,
        shrink(
            parents,
            replaced,
            |p| p.url.as_str(),
            |p| p.guidelines.len(),
        ),
        "write reorder guidelines",
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Stock

const UPSERT_STOCK: &str = "\
INSERT INTO stock AS t (product_url, facility_url, on_hand, reserved, on_order, content_hash, \
    first_seen_at, updated_at) \
SELECT u.*, $7, $7 FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], \
    $5::float8[], $6::bytea[]) AS u \
ON CONFLICT (product_url, facility_url) DO UPDATE SET on_hand = EXCLUDED.on_hand, \
    reserved = EXCLUDED.reserved, on_order = EXCLUDED.on_order, \
    content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at \
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
RETURNING t.product_url, t.facility_url, (t.xmax = 0)";

async fn stock_deletes(
    tx: &Transaction<'_>,
    keys: &[StockKey],
    out: &mut Applied,
) -> Result<(), StoreError> {
    let keys = last_wins(keys, |k| k);
    if keys.is_empty() {
        return Ok(());
    }
    let product: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let facility: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let deleted: Vec<String> = tx
        .query_typed(
            "DELETE FROM stock s USING unnest($1::text[], $2::text[]) AS k(p, f) \
             WHERE s.product_url = k.p AND s.facility_url = k.f RETURNING s.product_url",
            &[(&product, Type::TEXT_ARRAY), (&facility, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(StoreError::query("delete vanished stock"))?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(StoreError::query("delete vanished stock"))?;
    tally(
        out,
        "stock",
        Writes {
            deleted: deleted.len() as u64,
            ..Writes::default()
        },
    );
    out.stock_products.extend(deleted);
    Ok(())
}

async fn stock_upserts(
    tx: &Transaction<'_>,
    rows: &[StockRow],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), StoreError> {
    let rows = last_wins(rows, |r| (r.product_url.as_str(), r.facility_url.as_str()));
    if rows.is_empty() {
        return Ok(());
    }
    let product: Vec<&str> = rows.iter().map(|r| r.product_url.as_str()).collect();
    let facility: Vec<&str> = rows.iter().map(|r| r.facility_url.as_str()).collect();
    const WHAT: &str = "read stored stock hashes";
    let stored: HashMap<(String, String), Vec<u8>> = tx
        .query_typed(
            "SELECT s.product_url, s.facility_url, s.content_hash FROM stock s \
             JOIN unnest($1::text[], $2::text[]) AS k(p, f) \
               ON s.product_url = k.p AND s.facility_url = k.f",
            &[(&product, Type::TEXT_ARRAY), (&facility, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .iter()
        .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))?;
    let todo: Vec<&StockRow> = rows
        .into_iter()
        .filter(|r| {
            stored
                .get(&(r.product_url.clone(), r.facility_url.clone()))
                .is_none_or(|h| h.as_slice() != r.content_hash.as_slice())
        })
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let product: Vec<&str> = todo.iter().map(|r| r.product_url.as_str()).collect();
    let facility: Vec<&str> = todo.iter().map(|r| r.facility_url.as_str()).collect();
    let on_hand: Vec<f64> = todo.iter().map(|r| r.on_hand).collect();
    let reserved: Vec<f64> = todo.iter().map(|r| r.reserved).collect();
    let on_order: Vec<f64> = todo.iter().map(|r| r.on_order).collect();
    let hash: Vec<&[u8]> = todo.iter().map(|r| r.content_hash.as_slice()).collect();
    const UPSERT: &str = "upsert stock";
    let written: Vec<Written<String>> = tx
        .query_typed(
            UPSERT_STOCK,
            &[
                (&product, Type::TEXT_ARRAY),
                (&facility, Type::TEXT_ARRAY),
                (&on_hand, Type::FLOAT8_ARRAY),
                (&reserved, Type::FLOAT8_ARRAY),
                (&on_order, Type::FLOAT8_ARRAY),
                (&hash, Type::BYTEA_ARRAY),
                (&now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query(UPSERT))?
        .iter()
        .map(|r| {
            Ok(Written {
                key: r.try_get(0)?,
                inserted: r.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(UPSERT))?;
    tally(out, "stock", split_written(&written));
    out.stock_products
        .extend(written.into_iter().map(|w| w.key));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Orders and their lines

const UPSERT_ORDERS: &str = "\
INSERT INTO orders AS t (url, order_id, order_type, status, order_date, due_date, \
    origin_facility_url, destination_facility_url, party_url, total, reference_number, \
    finale_created, finale_last_updated, content_hash, order_day, first_seen_at, updated_at) \
SELECT u.*, $16, $16 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
    $5::timestamptz[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::float8[], \
    $11::text[], $12::timestamptz[], $13::timestamptz[], $14::bytea[], $15::date[]) AS u \
ON CONFLICT (url) DO UPDATE SET order_id = EXCLUDED.order_id, \
    order_type = EXCLUDED.order_type, status = EXCLUDED.status, \
    order_date = EXCLUDED.order_date, order_day = EXCLUDED.order_day, \
    due_date = EXCLUDED.due_date, \
    origin_facility_url = EXCLUDED.origin_facility_url, \
    destination_facility_url = EXCLUDED.destination_facility_url, \
    party_url = EXCLUDED.party_url, total = EXCLUDED.total, \
    reference_number = EXCLUDED.reference_number, finale_created = EXCLUDED.finale_created, \
    finale_last_updated = EXCLUDED.finale_last_updated, content_hash = EXCLUDED.content_hash, \
    updated_at = EXCLUDED.updated_at \
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
RETURNING t.url, (t.xmax = 0)";

const INSERT_LINES: &str = "\
INSERT INTO order_lines AS t (order_url, seq, order_item_url, product_url, product_id, quantity, \
    unit_price) \
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
    $6::float8[], $7::float8[])";

const UPSERT_LINES: &str = "\
INSERT INTO order_lines AS t (order_url, seq, order_item_url, product_url, product_id, quantity, \
    unit_price) \
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
    $6::float8[], $7::float8[]) \
ON CONFLICT (order_url, seq) DO UPDATE SET order_item_url = EXCLUDED.order_item_url, \
    product_url = EXCLUDED.product_url, product_id = EXCLUDED.product_id, \
    quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price \
WHERE (t.order_item_url, t.product_url, t.product_id, t.quantity, t.unit_price) \
    IS DISTINCT FROM (EXCLUDED.order_item_url, EXCLUDED.product_url, EXCLUDED.product_id, \
    EXCLUDED.quantity, EXCLUDED.unit_price) \
RETURNING (t.xmax = 0)";

const DELETE_LINES: &str = "\
DELETE FROM order_lines t USING unnest($1::text[], $2::int4[]) AS k(parent, len) \
WHERE t.order_url = k.parent AND t.seq >= k.len";

/// What the report needs of a stored order.
struct StoredOrder {
    hash: Vec<u8>,
    /// Whether it is a sales order (its old lines' products then need new daily sales).
    was_sale: bool,
}

async fn orders(
    tx: &Transaction<'_>,
    rows: &[OrderRow],
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), StoreError> {
    let rows = last_wins(rows, |r| r.url.as_str());
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
    const WHAT: &str = "read stored order hashes";
    let stored: HashMap<String, StoredOrder> = tx
        .query_typed(
            "SELECT url, content_hash, order_type = 'SALES_ORDER' FROM orders \
             WHERE url = ANY($1)",
            &[(&keys, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                StoredOrder {
                    hash: r.try_get(1)?,
                    was_sale: r.try_get(2)?,
                },
            ))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))?;
    let todo: Vec<&OrderRow> = rows
        .into_iter()
        .filter(|r| {
            stored
                .get(&r.url)
                .is_none_or(|s| s.hash.as_slice() != r.content_hash.as_slice())
        })
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let url: Vec<&str> = todo.iter().map(|r| r.url.as_str()).collect();
    let order_id: Vec<&str> = todo.iter().map(|r| r.order_id.as_str()).collect();
    let order_type: Vec<&str> = todo.iter().map(|r| r.order_type.as_str()).collect();
    let status: Vec<Option<&str>> = todo.iter().map(|r| r.status.as_deref()).collect();
    let order_date: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.order_date).collect();
    let due_date: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.due_date).collect();
    let origin: Vec<Option<&str>> = todo
        .iter()
        .map(|r| r.origin_facility_url.as_deref())
        .collect();
    let destination: Vec<Option<&str>> = todo
        .iter()
        .map(|r| r.destination_facility_url.as_deref())
        .collect();
    let party: Vec<Option<&str>> = todo.iter().map(|r| r.party_url.as_deref()).collect();
    let total: Vec<Option<f64>> = todo.iter().map(|r| r.total).collect();
    let reference: Vec<Option<&str>> = todo.iter().map(|r| r.reference_number.as_deref()).collect();
    let created: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_created).collect();
    let updated: Vec<Option<DateTime<Utc>>> = todo.iter().map(|r| r.finale_last_updated).collect();
    let hash: Vec<&[u8]> = todo.iter().map(|r| r.content_hash.as_slice()).collect();
    let order_day: Vec<Option<NaiveDate>> = todo.iter().map(|r| r.order_day).collect();
    let written = written_keys(
        tx,
        UPSERT_ORDERS,
        &[
            (&url, Type::TEXT_ARRAY),
            (&order_id, Type::TEXT_ARRAY),
            (&order_type, Type::TEXT_ARRAY),
            (&status, Type::TEXT_ARRAY),
            (&order_date, Type::TIMESTAMPTZ_ARRAY),
            (&due_date, Type::TIMESTAMPTZ_ARRAY),
            (&origin, Type::TEXT_ARRAY),
            (&destination, Type::TEXT_ARRAY),
            (&party, Type::TEXT_ARRAY),
            (&total, Type::FLOAT8_ARRAY),
            (&reference, Type::TEXT_ARRAY),
            (&created, Type::TIMESTAMPTZ_ARRAY),
            (&updated, Type::TIMESTAMPTZ_ARRAY),
            (&hash, Type::BYTEA_ARRAY),
            (&order_day, Type::DATE_ARRAY),
            (&now, Type::TIMESTAMPTZ),
        ],
        "upsert orders",
    )
    .await?;
    let w = split_written(&written);
    out.new_orders += w.inserted;
    tally(out, "orders", w);

    let written_set: BTreeSet<&str> = written.iter().map(|w| w.key.as_str()).collect();
    let replaced: BTreeSet<&str> = written
        .iter()
        .filter(|w| !w.inserted)
        .map(|w| w.key.as_str())
        .collect();
    // The old lines' products, read before the lines change: a changed sales order's old
    // products need their daily sales recomputed even when the new lines drop them. An order
    // another batch inserted after our pre-read has an unknown type, so its old products
    // count (recomputing too much is harmless).
    let old_sales: Vec<&str> = replaced
        .iter()
        .copied()
        .filter(|url| stored.get(*url).is_none_or(|s| s.was_sale))
        .collect();
    if !old_sales.is_empty() {
        const READ: &str = "read the old lines of changed sales orders";
        let old_lines = tx
            .query_typed(
                "SELECT DISTINCT product_url FROM order_lines \
                 WHERE order_url = ANY($1) AND product_url IS NOT NULL",
                &[(&old_sales, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(StoreError::query(READ))?;
        for line in &old_lines {
            out.sales_products
                .push(line.try_get(0).map_err(StoreError::query(READ))?);
        }
    }
    let parents: Vec<&OrderRow> = todo
        .iter()
        .copied()
        .filter(|r| written_set.contains(r.url.as_str()))
        .collect();
    let lines = write_lines(tx, &parents, &replaced).await?;
    tally(out, "order_lines", lines);

    for order in &parents {
        if order.order_type == "SALES_ORDER" {
            out.sales_products
                .extend(order.lines.iter().filter_map(|l| l.product_url.clone()));
        }
    }
    Ok(())
}

async fn write_lines(
    tx: &Transaction<'_>,
    parents: &[&OrderRow],
    replaced: &BTreeSet<&str>,
) -> Result<Writes, StoreError> {
    let n: usize = parents.iter().map(|o| o.lines.len()).sum();
    let mut order = Vec::with_capacity(n);
    let mut seqs = Vec::with_capacity(n);
    let mut item = Vec::with_capacity(n);
    let mut product = Vec::with_capacity(n);
    let mut product_id = Vec::with_capacity(n);
    let mut quantity = Vec::with_capacity(n);
    let mut price = Vec::with_capacity(n);
    for o in parents {
        for (i, l) in o.lines.iter().enumerate() {
            order.push(o.url.as_str());
            seqs.push(seq(i));
            item.push(l.order_item_url.as_deref());
            product.push(l.product_url.as_deref());
            product_id.push(l.product_id.as_deref());
            quantity.push(l.quantity);
            price.push(l.unit_price);
        }
    }
    write_children(
        tx,
        [INSERT_LINES, UPSERT_LINES, DELETE_LINES],
        &[
            (&order, Type::TEXT_ARRAY),
            (&seqs, Type::INT4_ARRAY),
            (&item, Type::TEXT_ARRAY),
            (&product, Type::TEXT_ARRAY),
            (&product_id, Type::TEXT_ARRAY),
            (&quantity, Type::FLOAT8_ARRAY),
            (&price, Type::FLOAT8_ARRAY),
        ],
        n,
        shrink(parents, replaced, |o| o.url.as_str(), |o| o.lines.len()),
        "write order lines",
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Quarantine, state, job completion

async fn quarantine(
    tx: &Transaction<'_>,
    rows: &[Quarantined],
    out: &mut Applied,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let run: Vec<Option<i64>> = rows.iter().map(|q| q.run_id).collect();
    let collection: Vec<&str> = rows.iter().map(|q| q.collection.as_str()).collect();
    let key: Vec<Option<&str>> = rows.iter().map(|q| q.record_key.as_deref()).collect();
    let reason: Vec<&str> = rows.iter().map(|q| q.reason.as_str()).collect();
    let payload: Vec<Option<&serde_json::Value>> =
        rows.iter().map(|q| q.raw_payload.as_ref()).collect();
    let text: Vec<Option<&str>> = rows.iter().map(|q| q.raw_text.as_deref()).collect();
    let at: Vec<DateTime<Utc>> = rows.iter().map(|q| q.at).collect();
    let n = tx
        .execute_typed(
            "INSERT INTO sync_errors (run_id, collection, record_key, reason, raw_payload, \
                 raw_text, at) \
             SELECT u.run_id, u.collection, u.record_key, u.reason, u.raw_payload, \
                 u.raw_text, u.at \
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::jsonb[], \
                 $6::text[], $7::timestamptz[]) WITH ORDINALITY \
                 AS u(run_id, collection, record_key, reason, raw_payload, raw_text, at, ord) \
             ORDER BY u.ord",
            &[
                (&run, Type::INT8_ARRAY),
                (&collection, Type::TEXT_ARRAY),
                (&key, Type::TEXT_ARRAY),
                (&reason, Type::TEXT_ARRAY),
                (&payload, Type::JSONB_ARRAY),
                (&text, Type::TEXT_ARRAY),
                (&at, Type::TIMESTAMPTZ_ARRAY),
            ],
        )
        .await
        .map_err(StoreError::query("quarantine records"))?;
    tally(
        out,
        "sync_errors",
        Writes {
            inserted: n,
            ..Writes::default()
        },
    );
    Ok(())
}

async fn state(
    tx: &Transaction<'_>,
    values: &[(String, serde_json::Value)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values = last_wins(values, |(k, _)| k.as_str());
    if values.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
    let vals: Vec<&serde_json::Value> = values.iter().map(|(_, v)| v).collect();
    tx.execute_typed(
        "INSERT INTO sync_state (key, value, updated_at) \
         SELECT u.k, u.v, $3 FROM unnest($1::text[], $2::jsonb[]) AS u(k, v) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
        &[
            (&keys, Type::TEXT_ARRAY),
            (&vals, Type::JSONB_ARRAY),
            (&now, Type::TIMESTAMPTZ),
        ],
    )
    .await
    .map_err(StoreError::query("set sync state"))?;
    Ok(())
}

async fn job_done(tx: &Transaction<'_>, job: &JobDone) -> Result<(), StoreError> {
    let records = to_i64(job.records);
    let requests = i32::try_from(job.requests).unwrap_or(i32::MAX);
    let n = tx
        .execute_typed(
            "UPDATE backfill_jobs SET status = 'done', done_at = $2, records = $3, \
                 requests = $4 \
             WHERE id = $1",
            &[
                (&job.id, Type::INT8),
                (&job.at, Type::TIMESTAMPTZ),
                (&records, Type::INT8),
                (&requests, Type::INT4),
            ],
        )
        .await
        .map_err(StoreError::query("mark a backfill job done"))?;
    if n == 0 {
        // Rolls the batch back: a completion for a job that does not exist is a bug.
        return Err(StoreError::Corrupt {
            what: format!("backfill job {} does not exist", job.id),
        });
    }
    Ok(())
}
