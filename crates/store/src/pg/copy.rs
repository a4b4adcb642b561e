//! Raw binary `COPY` of a [`Snapshot`]'s mirror rows: the benchmark's yardstick ("engine vs
//! raw COPY of the same rows into the same tables").
//!
//! [`copy_snapshot`] streams facilities, parties, products, product suppliers, reorder
//! guidelines, stock, orders and order lines with `COPY ... FROM STDIN (FORMAT binary)`
//! ([`BinaryCopyInWriter`]): no change detection, no conflict handling, so the tables must
//! not already hold the rows' keys. `first_seen_at`/`updated_at` take their column defaults;
//! generated columns (`facilities.kind`, `stock.available`) are computed by the server.
//! Derived tables (`daily_sales`, `inventory_items`) are not copied.
//!
//! `Client::copy_in` prepares its statement by name, so this needs a direct or session-mode
//! connection, not a transaction-mode pooler. Wrap the call in a transaction for
//! all-or-nothing.

use std::pin::Pin;

use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::Snapshot;
use crate::StoreError;

/// A `COPY ... FROM STDIN (FORMAT binary)` in progress.
type Writer = Pin<Box<BinaryCopyInWriter>>;

/// Opens a binary `COPY` with the column types of `statement`'s column list.
async fn open(
    client: &Client,
    statement: &str,
    types: &[Type],
    what: &'static str,
) -> Result<Writer, StoreError> {
    let sink = client
        .copy_in(statement)
        .await
        .map_err(StoreError::query(what))?;
    Ok(Box::pin(BinaryCopyInWriter::new(sink, types)))
}

/// Child positions are `int4` in the schema.
fn seq(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// Copies the snapshot's mirror rows into their tables; returns the number of rows copied
/// over all tables.
pub async fn copy_snapshot(client: &Client, snap: &Snapshot) -> Result<u64, StoreError> {
    let mut total = 0;

    const FAC: &str = "copy facilities";
    let mut w = open(
        client,
        "COPY facilities (url, facility_id, name, parent_url, status, facility_type, \
             shipping_disabled, receiving_disabled, finale_created, finale_last_updated, \
             content_hash) FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
            Type::BOOL,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::BYTEA,
        ],
        FAC,
    )
    .await?;
    for f in &snap.facilities {
        let hash: &[u8] = &f.content_hash;
        w.as_mut()
            .write(&[
                &f.url,
                &f.facility_id,
                &f.name,
                &f.parent_url,
                &f.status,
                &f.facility_type,
                &f.shipping_disabled,
                &f.receiving_disabled,
                &f.finale_created,
                &f.finale_last_updated,
                &hash,
            ])
            .await
            .map_err(StoreError::query(FAC))?;
    }
    total += w.as_mut().finish().await.map_err(StoreError::query(FAC))?;

    const PARTY: &str = "copy parties";
    let mut w = open(
        client,
        "COPY parties (url, party_id, name, roles, status, contacts, user_fields, \
             finale_last_updated, content_hash) FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT_ARRAY,
            Type::TEXT,
            Type::JSONB,
            Type::JSONB,
            Type::TIMESTAMPTZ,
            Type::BYTEA,
        ],
        PARTY,
    )
    .await?;
    for p in &snap.parties {
        let hash: &[u8] = &p.content_hash;
        w.as_mut()
            .write(&[
                &p.url,
                &p.party_id,
                &p.name,
                &p.roles,
                &p.status,
                &p.contacts,
                &p.user_fields,
                &p.finale_last_updated,
                &hash,
            ])
            .await
            .map_err(StoreError::query(PARTY))?;
    }
    total += w
        .as_mut()
        .finish()
        .await
        .map_err(StoreError::query(PARTY))?;

    const PROD: &str = "copy products";
    let mut w = open(
        client,
        "COPY products (url, sku, name, status, product_type, category, upc, cost, \
             lead_time_days, packing, list_price, user_fields, finale_created, \
             finale_last_updated, content_hash) FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::FLOAT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::FLOAT8,
            Type::JSONB,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::BYTEA,
        ],
        PROD,
    )
    .await?;
    for p in &snap.products {
        let hash: &[u8] = &p.content_hash;
        w.as_mut()
            .write(&[
                &p.url,
                &p.sku,
                &p.name,
                &p.status,
                &p.product_type,
                &p.category,
                &p.upc,
                &p.cost,
                &p.lead_time_days,
                &p.packing,
                &p.list_price,
                &p.user_fields,
                &p.finale_created,
                &p.finale_last_updated,
                &hash,
            ])
            .await
            .map_err(StoreError::query(PROD))?;
    }
    total += w.as_mut().finish().await.map_err(StoreError::query(PROD))?;

    const SUP: &str = "copy product suppliers";
    let mut w = open(
        client,
        "COPY product_suppliers (product_url, seq, supplier_url, supplier_sku, pref_order_id, \
             is_main, price, currency, lead_time_days) FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
            Type::FLOAT8,
            Type::TEXT,
            Type::FLOAT8,
        ],
        SUP,
    )
    .await?;
    for p in &snap.products {
        for (i, s) in p.suppliers.iter().enumerate() {
            w.as_mut()
                .write(&[
                    &p.url,
                    &seq(i),
                    &s.supplier_url,
                    &s.supplier_sku,
                    &s.pref_order_id,
                    &s.is_main,
                    &s.price,
                    &s.currency,
                    &s.lead_time_days,
                ])
                .await
                .map_err(StoreError::query(SUP))?;
        }
    }
    total += w.as_mut().finish().await.map_err(StoreError::query(SUP))?;

    const GL: &str = "copy reorder guidelines";
    let mut w = open(
        client,
        "COPY reorder_guidelines (product_url, seq, facility_url, reorder_point, reorder_qty, \
             calculation_method) FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::FLOAT8,
            Type::FLOAT8,
            Type::TEXT,
        ],
        GL,
    )
    .await?;
    for p in &snap.products {
        for (i, g) in p.guidelines.iter().enumerate() {
            w.as_mut()
                .write(&[
                    &p.url,
                    &seq(i),
                    &g.facility_url,
                    &g.reorder_point,
                    &g.reorder_qty,
                    &g.calculation_method,
                ])
                .await
                .map_err(StoreError::query(GL))?;
        }
    }
    total += w.as_mut().finish().await.map_err(StoreError::query(GL))?;

    const STOCK: &str = "copy stock";
    let mut w = open(
        client,
        "COPY stock (product_url, facility_url, on_hand, reserved, on_order, content_hash) \
             FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::TEXT,
            Type::FLOAT8,
            Type::FLOAT8,
            Type::FLOAT8,
            Type::BYTEA,
        ],
        STOCK,
    )
    .await?;
    for s in &snap.stock {
        let hash: &[u8] = &s.content_hash;
        w.as_mut()
            .write(&[
                &s.product_url,
                &s.facility_url,
                &s.on_hand,
                &s.reserved,
                &s.on_order,
                &hash,
            ])
            .await
            .map_err(StoreError::query(STOCK))?;
    }
    total += w
        .as_mut()
        .finish()
        .await
        .map_err(StoreError::query(STOCK))?;

    const ORD: &str = "copy orders";
    let mut w = open(
        client,
        "COPY orders (url, order_id, order_type, status, order_date, due_date, \
             origin_facility_url, destination_facility_url, party_url, total, \
             reference_number, finale_created, finale_last_updated, content_hash, order_day) \
             FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::FLOAT8,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::BYTEA,
            Type::DATE,
        ],
        ORD,
    )
    .await?;
    for o in &snap.orders {
        let hash: &[u8] = &o.content_hash;
        w.as_mut()
            .write(&[
                &o.url,
                &o.order_id,
                &o.order_type,
                &o.status,
                &o.order_date,
                &o.due_date,
                &o.origin_facility_url,
                &o.destination_facility_url,
                &o.party_url,
                &o.total,
                &o.reference_number,
                &o.finale_created,
                &o.finale_last_updated,
                &hash,
                &o.order_day,
            ])
            .await
            .map_err(StoreError::query(ORD))?;
    }
    total += w.as_mut().finish().await.map_err(StoreError::query(ORD))?;

    const LINES: &str = "copy order lines";
    let mut w = open(
        client,
        "COPY order_lines (order_url, seq, order_item_url, product_url, product_id, quantity, \
             unit_price) FROM STDIN (FORMAT binary)",
        &[
            Type::TEXT,
            Type::INT4,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::FLOAT8,
            Type::FLOAT8,
        ],
        LINES,
    )
    .await?;
    for o in &snap.orders {
        for (i, l) in o.lines.iter().enumerate() {
            w.as_mut()
                .write(&[
                    &o.url,
                    &seq(i),
                    &l.order_item_url,
                    &l.product_url,
                    &l.product_id,
                    &l.quantity,
                    &l.unit_price,
                ])
                .await
                .map_err(StoreError::query(LINES))?;
        }
    }
    total += w
        .as_mut()
        .finish()
        .await
        .map_err(StoreError::query(LINES))?;

    Ok(total)
}
