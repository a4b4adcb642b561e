//! Whole-store reads on Postgres: stock hashes, the snapshot, the write marks.

use std::collections::BTreeMap;

use tokio_postgres::{Client, IsolationLevel, Row, Transaction};

use super::to_hash;
use crate::Snapshot;
use crate::StoreError;
use crate::rows::{
    DailySalesRow, FacilityRow, GuidelineRow, Hash, ItemRow, LineRow, OrderRow, PartyRow,
    ProductRow, StockKey, StockRow, SupplierLinkRow,
};

/// The mirror and derived tables [`write_marks`] covers.
pub const MARKED_TABLES: [&str; 10] = crate::DATA_TABLES;

pub(super) async fn stock_hashes(client: &Client) -> Result<BTreeMap<StockKey, Hash>, StoreError> {
    const WHAT: &str = "read stock hashes";
    let rows = client
        .query_typed(
            "SELECT product_url, facility_url, content_hash FROM stock",
            &[],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    rows.iter()
        .map(|r| {
            let (p, f, h): (String, String, Vec<u8>) =
                (|| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))(
                )
                .map_err(StoreError::query(WHAT))?;
            let hash = to_hash(&h, &format!("stock {p} @ {f}"))?;
            Ok(((p, f), hash))
        })
        .collect()
}

/// One marker per table: its row count and the sum of a hash of every row version's
/// `xmin` and `ctid`. An insert or update creates a row version with a new `xmin` (and
/// usually a new `ctid`), a delete changes the count: any write moves the marker, while a
/// skipped upsert (`ON CONFLICT ... WHERE false`) leaves both untouched.
pub(super) async fn write_marks(client: &Client) -> Result<BTreeMap<String, String>, StoreError> {
    const WHAT: &str = "read write marks";
    let sql = MARKED_TABLES
        .iter()
        .map(|t| {
            format!(
                "SELECT '{t}'::text, count(*)::int8, \
                        coalesce(sum(hashtext(xmin::text || ':' || ctid::text)::int8), 0)::int8 \
                   FROM {t}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = client
        .query_typed(&sql, &[])
        .await
        .map_err(StoreError::query(WHAT))?;
    rows.iter()
        .map(|r| {
            let table: String = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            let sum: i64 = r.try_get(2)?;
            Ok((table, format!("{n}:{sum:x}")))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))
}

/// Reads the whole mirror and derived content in one repeatable-read snapshot. Keys sort
/// byte-wise (`COLLATE "C"`), as Rust orders strings, whatever the database's collation.
pub(super) async fn snapshot(client: &mut Client) -> Result<Snapshot, StoreError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(StoreError::query("begin a snapshot"))?;
    let snap = Snapshot {
        facilities: facilities(&tx).await?,
        parties: parties(&tx).await?,
        products: products(&tx).await?,
        stock: stock(&tx).await?,
        orders: orders(&tx).await?,
        daily_sales: daily_sales(&tx).await?,
        items: items(&tx).await?,
    };
    tx.commit()
        .await
        .map_err(StoreError::query("end a snapshot"))?;
    Ok(snap)
}

async fn select(
    tx: &Transaction<'_>,
    sql: &str,
    what: &'static str,
) -> Result<Vec<Row>, StoreError> {
    tx.query_typed(sql, &[])
        .await
        .map_err(StoreError::query(what))
}

/// Reads a row with `f`, mapping driver errors to `what`.
fn read_row<T>(
    row: &Row,
    what: &'static str,
    f: impl FnOnce(&Row) -> Result<T, tokio_postgres::Error>,
) -> Result<T, StoreError> {
    f(row).map_err(StoreError::query(what))
}

async fn facilities(tx: &Transaction<'_>) -> Result<Vec<FacilityRow>, StoreError> {
    const WHAT: &str = "snapshot facilities";
    let rows = select(
        tx,
        "SELECT url, facility_id, name, parent_url, status, facility_type, shipping_disabled, \
                receiving_disabled, finale_created, finale_last_updated, content_hash \
           FROM facilities ORDER BY url COLLATE \"C\"",
        WHAT,
    )
    .await?;
    rows.iter()
        .map(|r| {
            let (mut row, hash) = read_row(r, WHAT, |r| {
                Ok((
                    FacilityRow {
                        url: r.try_get(0)?,
                        facility_id: r.try_get(1)?,
                        name: r.try_get(2)?,
                        parent_url: r.try_get(3)?,
                        status: r.try_get(4)?,
                        facility_type: r.try_get(5)?,
                        shipping_disabled: r.try_get(6)?,
                        receiving_disabled: r.try_get(7)?,
                        finale_created: r.try_get(8)?,
                        finale_last_updated: r.try_get(9)?,
                        content_hash: [0; 32],
                    },
                    r.try_get::<_, Vec<u8>>(10)?,
                ))
            })?;
            row.content_hash = to_hash(&hash, &format!("facility {}", row.url))?;
            Ok(row)
        })
        .collect()
}

async fn parties(tx: &Transaction<'_>) -> Result<Vec<PartyRow>, StoreError> {
    const WHAT: &str = "snapshot parties";
    let rows = select(
        tx,
        "SELECT url, party_id, name, roles, status, contacts, user_fields, \
                finale_last_updated, content_hash \
           FROM parties ORDER BY url COLLATE \"C\"",
        WHAT,
    )
    .await?;
    rows.iter()
        .map(|r| {
            let (mut row, hash) = read_row(r, WHAT, |r| {
                Ok((
                    PartyRow {
                        url: r.try_get(0)?,
                        party_id: r.try_get(1)?,
                        name: r.try_get(2)?,
                        roles: r.try_get(3)?,
                        status: r.try_get(4)?,
                        contacts: r.try_get(5)?,
                        user_fields: r.try_get(6)?,
                        finale_last_updated: r.try_get(7)?,
                        content_hash: [0; 32],
                    },
                    r.try_get::<_, Vec<u8>>(8)?,
                ))
            })?;
            row.content_hash = to_hash(&hash, &format!("party {}", row.url))?;
            Ok(row)
        })
        .collect()
}

async fn products(tx: &Transaction<'_>) -> Result<Vec<ProductRow>, StoreError> {
    const WHAT: &str = "snapshot products";
    let rows = select(
        tx,
        "SELECT url, sku, name, status, product_type, category, upc, cost, lead_time_days, \
                packing, list_price, user_fields, finale_created, finale_last_updated, \
                content_hash \
           FROM products ORDER BY url COLLATE \"C\"",
        WHAT,
    )
    .await?;
    let mut products: Vec<ProductRow> = rows
        .iter()
        .map(|r| {
            let (mut row, hash) = read_row(r, WHAT, |r| {
                Ok((
                    ProductRow {
                        url: r.try_get(0)?,
                        sku: r.try_get(1)?,
                        name: r.try_get(2)?,
                        status: r.try_get(3)?,
                        product_type: r.try_get(4)?,
                        category: r.try_get(5)?,
                        upc: r.try_get(6)?,
                        cost: r.try_get(7)?,
                        lead_time_days: r.try_get(8)?,
                        packing: r.try_get(9)?,
                        list_price: r.try_get(10)?,
                        user_fields: r.try_get(11)?,
                        finale_created: r.try_get(12)?,
                        finale_last_updated: r.try_get(13)?,
                        suppliers: Vec::new(),
                        guidelines: Vec::new(),
                        content_hash: [0; 32],
                    },
                    r.try_get::<_, Vec<u8>>(14)?,
                ))
            })?;
            row.content_hash = to_hash(&hash, &format!("product {}", row.url))?;
            Ok(row)
        })
        .collect::<Result<_, StoreError>>()?;
    let index: BTreeMap<String, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.url.clone(), i))
        .collect();

    const SUP: &str = "snapshot product suppliers";
    for r in select(
        tx,
        "SELECT product_url, supplier_url, supplier_sku, pref_order_id, is_main, price, \
                currency, lead_time_days \
           FROM product_suppliers ORDER BY product_url, seq",
        SUP,
    )
    .await?
    {
        let (url, link) = read_row(&r, SUP, |r| {
            Ok((
                r.try_get::<_, String>(0)?,
                SupplierLinkRow {
                    supplier_url: r.try_get(1)?,
                    supplier_sku: r.try_get(2)?,
                    pref_order_id: r.try_get(3)?,
                    is_main: r.try_get(4)?,
                    price: r.try_get(5)?,
                    currency: r.try_get(6)?,
                    lead_time_days: r.try_get(7)?,
                },
            ))
        })?;
        // The foreign key guarantees the parent.
        if let Some(&i) = index.get(&url) {
            products[i].suppliers.push(link);
        }
    }

    const GL: &str = "snapshot reorder guidelines";
    for r in select(
        tx,
        "SELECT product_url, facility_url, reorder_point, reorder_qty, calculation_method \
           FROM reorder_guidelines ORDER BY product_url, seq",
        GL,
    )
    .await?
    {
        let (url, g) = read_row(&r, GL, |r| {
            Ok((
                r.try_get::<_, String>(0)?,
                GuidelineRow {
                    facility_url: r.try_get(1)?,
                    reorder_point: r.try_get(2)?,
                    reorder_qty: r.try_get(3)?,
                    calculation_method: r.try_get(4)?,
                },
            ))
        })?;
        if let Some(&i) = index.get(&url) {
            products[i].guidelines.push(g);
        }
    }
    Ok(products)
}

async fn stock(tx: &Transaction<'_>) -> Result<Vec<StockRow>, StoreError> {
    const WHAT: &str = "snapshot stock";
    let rows = select(
        tx,
        "SELECT product_url, facility_url, on_hand, reserved, on_order, content_hash \
           FROM stock ORDER BY product_url COLLATE \"C\", facility_url COLLATE \"C\"",
        WHAT,
    )
    .await?;
    rows.iter()
        .map(|r| {
            let (mut row, hash) = read_row(r, WHAT, |r| {
                Ok((
                    StockRow {
                        product_url: r.try_get(0)?,
                        facility_url: r.try_get(1)?,
                        on_hand: r.try_get(2)?,
                        reserved: r.try_get(3)?,
                        on_order: r.try_get(4)?,
                        content_hash: [0; 32],
                    },
                    r.try_get::<_, Vec<u8>>(5)?,
                ))
            })?;
            row.content_hash = to_hash(
                &hash,
                &format!("stock {} @ {}", row.product_url, row.facility_url),
            )?;
            Ok(row)
        })
        .collect()
}

async fn orders(tx: &Transaction<'_>) -> Result<Vec<OrderRow>, StoreError> {
    const WHAT: &str = "snapshot orders";
    let rows = select(
        tx,
        "SELECT url, order_id, order_type, status, order_date, due_date, origin_facility_url, \
                destination_facility_url, party_url, total, reference_number, finale_created, \
                finale_last_updated, content_hash, order_day \
           FROM orders ORDER BY url COLLATE \"C\"",
        WHAT,
    )
    .await?;
    let mut orders: Vec<OrderRow> = rows
        .iter()
        .map(|r| {
            let (mut row, hash) = read_row(r, WHAT, |r| {
                Ok((
                    OrderRow {
                        url: r.try_get(0)?,
                        order_id: r.try_get(1)?,
                        order_type: r.try_get(2)?,
                        status: r.try_get(3)?,
                        order_date: r.try_get(4)?,
                        order_day: r.try_get(14)?,
                        due_date: r.try_get(5)?,
                        origin_facility_url: r.try_get(6)?,
                        destination_facility_url: r.try_get(7)?,
                        party_url: r.try_get(8)?,
                        total: r.try_get(9)?,
                        reference_number: r.try_get(10)?,
                        finale_created: r.try_get(11)?,
                        finale_last_updated: r.try_get(12)?,
                        lines: Vec::new(),
                        content_hash: [0; 32],
                    },
                    r.try_get::<_, Vec<u8>>(13)?,
                ))
            })?;
            row.content_hash = to_hash(&hash, &format!("order {}", row.url))?;
            Ok(row)
        })
        .collect::<Result<_, StoreError>>()?;
    let index: BTreeMap<String, usize> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.url.clone(), i))
        .collect();
    const LINES: &str = "snapshot order lines";
    for r in select(
        tx,
        "SELECT order_url, order_item_url, product_url, product_id, quantity, unit_price \
           FROM order_lines ORDER BY order_url, seq",
        LINES,
    )
    .await?
    {
        let (url, line) = read_row(&r, LINES, |r| {
            Ok((
                r.try_get::<_, String>(0)?,
                LineRow {
                    order_item_url: r.try_get(1)?,
                    product_url: r.try_get(2)?,
                    product_id: r.try_get(3)?,
                    quantity: r.try_get(4)?,
                    unit_price: r.try_get(5)?,
                },
            ))
        })?;
        if let Some(&i) = index.get(&url) {
            orders[i].lines.push(line);
        }
    }
    Ok(orders)
}

async fn daily_sales(tx: &Transaction<'_>) -> Result<Vec<DailySalesRow>, StoreError> {
    const WHAT: &str = "snapshot daily sales";
    let rows = select(
        tx,
        "SELECT product_url, day, units, revenue FROM daily_sales ORDER BY product_url COLLATE \"C\", day",
        WHAT,
    )
    .await?;
    rows.iter()
        .map(|r| {
            read_row(r, WHAT, |r| {
                Ok(DailySalesRow {
                    product_url: r.try_get(0)?,
                    day: r.try_get(1)?,
                    units: r.try_get(2)?,
                    revenue: r.try_get(3)?,
                })
            })
        })
        .collect()
}

/// Item rows linked to Finale (`finale_id` set); rows the engine did not create (no
/// `finale_id`) are not part of the mirror.
async fn items(tx: &Transaction<'_>) -> Result<Vec<ItemRow>, StoreError> {
    const WHAT: &str = "snapshot inventory items";
    let rows = select(
        tx,
        "SELECT finale_id, sku, name, stock, reorder_point, reorder_quantity, cost, price, \
                sales_velocity, sales_velocity_90d, days_of_stock, status, content_hash, available \
           FROM inventory_items WHERE finale_id IS NOT NULL ORDER BY finale_id COLLATE \"C\"",
        WHAT,
    )
    .await?;
    rows.iter()
        .map(|r| {
            let (mut row, hash) = read_row(r, WHAT, |r| {
                Ok((
                    ItemRow {
                        finale_id: r.try_get(0)?,
                        sku: r.try_get(1)?,
                        name: r.try_get(2)?,
                        stock: r.try_get(3)?,
                        available: r.try_get(13)?,
                        reorder_point: r.try_get(4)?,
                        reorder_quantity: r.try_get(5)?,
                        cost: r.try_get(6)?,
                        price: r.try_get(7)?,
                        sales_velocity: r.try_get(8)?,
                        sales_velocity_90d: r.try_get(9)?,
                        days_of_stock: r.try_get(10)?,
                        status: r.try_get(11)?,
                        content_hash: [0; 32],
                    },
                    r.try_get::<_, Vec<u8>>(12)?,
                ))
            })?;
            row.content_hash = to_hash(&hash, &format!("inventory item {}", row.finale_id))?;
            Ok(row)
        })
        .collect()
}
