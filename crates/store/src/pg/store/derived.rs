//! Derived data on Postgres: daily sales rebuilt from sales-order lines, the inputs of the
//! seed's item rows, and the `inventory_items` upsert (conventions: `crate::store`'s docs).
//!
//! Sums are ordered aggregates (`sum(x ORDER BY key)`): floating-point addition is not
//! associative, and a fixed order makes a recomputation over the same rows bit-identical,
//! so an unchanged day is recognised as unchanged and not rewritten.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::last_wins;
use crate::StoreError;
use crate::derive::{GuidelineAt, ItemInput, StockAt, guideline_totals, location_levels};
use crate::pg::lock::check_fence;
use crate::rows::{ItemRow, business_day};
use crate::{ItemWrites, Scope, Writes};

/// The product URLs of a scope, deduplicated; `None` for every product.
fn scope_urls(scope: &Scope) -> Option<Vec<&str>> {
    match scope {
        Scope::All => None,
        Scope::Products(urls) => {
            let mut v: Vec<&str> = urls.iter().map(String::as_str).collect();
            v.sort_unstable();
            v.dedup();
            Some(v)
        }
    }
}

/// The daily-sales rebuild, one statement: `fresh` recomputes the days in scope, `old` is
/// what is stored, `diff` the new or different days (written by `up`), `gone` the stored days
/// that no longer have sales. Unchanged days are not touched at all (not even locked). With
/// `scoped`, `$2` is the product list.
fn daily_sales_sql(scoped: bool) -> String {
    let (lines, stored) = if scoped {
        (
            "AND l.product_url = ANY($2)",
            "WHERE d.product_url = ANY($2)",
        )
    } else {
        ("", "")
    };
    format!(
        "WITH fresh AS ( \
            SELECT l.product_url, o.order_day AS day, \
                   sum(l.quantity ORDER BY l.order_url, l.seq) AS units, \
                   sum(l.quantity * coalesce(l.unit_price, 0) ORDER BY l.order_url, l.seq) \
                       AS revenue \
              FROM order_lines l JOIN orders o ON o.url = l.order_url \
             WHERE o.order_type = 'SALES_ORDER' \
               AND o.status IN ('ORDER_LOCKED', 'ORDER_COMPLETED') \
               AND o.order_day IS NOT NULL AND l.product_url IS NOT NULL {lines} \
             GROUP BY 1, 2), \
         old AS (SELECT d.product_url, d.day, d.units, d.revenue FROM daily_sales d {stored}), \
         diff AS ( \
            SELECT f.product_url, f.day, f.units, f.revenue, o.product_url IS NULL AS is_new \
              FROM fresh f LEFT JOIN old o ON o.product_url = f.product_url AND o.day = f.day \
             WHERE o.product_url IS NULL OR o.units IS DISTINCT FROM f.units \
                OR o.revenue IS DISTINCT FROM f.revenue), \
         up AS ( \
            INSERT INTO daily_sales AS d (product_url, day, units, revenue, updated_at) \
            SELECT x.product_url, x.day, x.units, x.revenue, $1 FROM diff x \
             ORDER BY x.product_url, x.day \
            ON CONFLICT (product_url, day) DO UPDATE SET units = EXCLUDED.units, \
                revenue = EXCLUDED.revenue, updated_at = EXCLUDED.updated_at \
            WHERE d.units IS DISTINCT FROM EXCLUDED.units \
               OR d.revenue IS DISTINCT FROM EXCLUDED.revenue \
            RETURNING d.product_url, d.day), \
         gone AS ( \
            DELETE FROM daily_sales d \
             USING (SELECT o.product_url, o.day FROM old o \
                     WHERE NOT EXISTS (SELECT 1 FROM fresh f \
                                        WHERE f.product_url = o.product_url \
                                          AND f.day = o.day)) g \
             WHERE d.product_url = g.product_url AND d.day = g.day \
            RETURNING 1) \
         SELECT (SELECT count(*) FROM up JOIN diff x \
                     ON x.product_url = up.product_url AND x.day = up.day AND x.is_new), \
                (SELECT count(*) FROM up), \
                (SELECT count(*) FROM gone)"
    )
}

/// Rebuilds `daily_sales` for the scope in one statement (see [`daily_sales_sql`]).
pub(super) async fn refresh_daily_sales(
    client: &Client,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Writes, StoreError> {
    const WHAT: &str = "refresh daily sales";
    let urls = scope_urls(scope);
    let row = match &urls {
        Some(urls) if urls.is_empty() => return Ok(Writes::default()),
        Some(urls) => {
            client
                .query_typed_one(
                    &daily_sales_sql(true),
                    &[(&now, Type::TIMESTAMPTZ), (urls, Type::TEXT_ARRAY)],
                )
                .await
        }
        None => {
            client
                .query_typed_one(&daily_sales_sql(false), &[(&now, Type::TIMESTAMPTZ)])
                .await
        }
    }
    .map_err(StoreError::query(WHAT))?;
    let count = |i: usize| -> Result<u64, StoreError> {
        let n: i64 = row.try_get(i).map_err(StoreError::query(WHAT))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let inserted = count(0)?;
    let written = count(1)?;
    Ok(Writes {
        inserted,
        updated: written.saturating_sub(inserted),
        deleted: count(2)?,
    })
}

/// The item inputs query: one row per product with its totals, sales and dates. With
/// `scoped`, `$2` is the product list.
fn item_inputs_sql(scoped: bool) -> String {
    let (products, children, sales) = if scoped {
        (
            "WHERE p.url = ANY($2)",
            "WHERE product_url = ANY($2)",
            "AND product_url = ANY($2)",
        )
    } else {
        ("", "", "")
    };
    format!(
        "SELECT p.url, p.sku, p.name, p.status, p.cost, p.list_price, \
                coalesce(s.on_hand, 0), coalesce(s.reserved, 0), \
                coalesce(d.units_30d, 0), coalesce(d.units_90d, 0), p.finale_created, \
                f.first_sale \
           FROM products p \
           LEFT JOIN (SELECT product_url, sum(on_hand ORDER BY facility_url) AS on_hand, \
                             sum(reserved ORDER BY facility_url) AS reserved \
                        FROM stock {children} GROUP BY product_url) s \
                  ON s.product_url = p.url \
           LEFT JOIN (SELECT product_url, \
                             sum(units ORDER BY day) FILTER (WHERE day > $1::date - 30) \
                                 AS units_30d, \
                             sum(units ORDER BY day) AS units_90d \
                        FROM daily_sales \
                       WHERE day > $1::date - 90 AND day <= $1::date {sales} \
                       GROUP BY product_url) d \
                  ON d.product_url = p.url \
           LEFT JOIN (SELECT product_url, min(day) AS first_sale FROM daily_sales {children} \
                       GROUP BY product_url) f \
                  ON f.product_url = p.url \
           {products} \
          ORDER BY p.url COLLATE \"C\""
    )
}

/// Stock rows with their facility's parent, by product and facility (byte-wise, the order
/// the SQLite store reads them in). With `scoped`, `$1` is the product list.
fn stock_at_sql(scoped: bool) -> String {
    let scope = if scoped {
        "WHERE s.product_url = ANY($1)"
    } else {
        ""
    };
    format!(
        "SELECT s.product_url, s.facility_url, f.parent_url, s.on_hand, s.reserved \
           FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url {scope} \
          ORDER BY s.product_url COLLATE \"C\", s.facility_url COLLATE \"C\""
    )
}

/// Reorder guidelines with their facility's parent, by product and position. With `scoped`,
/// `$1` is the product list.
fn guidelines_at_sql(scoped: bool) -> String {
    let scope = if scoped {
        "WHERE g.product_url = ANY($1)"
    } else {
        ""
    };
    format!(
        "SELECT g.product_url, g.facility_url, f.parent_url, g.reorder_point, g.reorder_qty, \
                g.calculation_method \
           FROM reorder_guidelines g LEFT JOIN facilities f ON f.url = g.facility_url {scope} \
          ORDER BY g.product_url COLLATE \"C\", g.seq"
    )
}

/// One [`ItemInput`] per stored product in scope, ordered by product URL (byte-wise), with
/// the sales of the business days up to `today`.
pub(super) async fn item_inputs(
    client: &mut Client,
    scope: &Scope,
    today: NaiveDate,
) -> Result<Vec<ItemInput>, StoreError> {
    const WHAT: &str = "gather item inputs";
    let day: NaiveDate = today;
    let urls = scope_urls(scope);
    if urls.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    // One repeatable-read transaction: the three reads see one state.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(StoreError::query(WHAT))?;
    let (products, stock, guidelines) = match &urls {
        Some(urls) => (
            tx.query_typed(
                &item_inputs_sql(true),
                &[(&day, Type::DATE), (urls, Type::TEXT_ARRAY)],
            )
            .await,
            tx.query_typed(&stock_at_sql(true), &[(urls, Type::TEXT_ARRAY)])
                .await,
            tx.query_typed(&guidelines_at_sql(true), &[(urls, Type::TEXT_ARRAY)])
                .await,
        ),
        None => (
            tx.query_typed(&item_inputs_sql(false), &[(&day, Type::DATE)])
                .await,
            tx.query_typed(&stock_at_sql(false), &[]).await,
            tx.query_typed(&guidelines_at_sql(false), &[]).await,
        ),
    };
    let (products, stock, guidelines) = (
        products.map_err(StoreError::query(WHAT))?,
        stock.map_err(StoreError::query(WHAT))?,
        guidelines.map_err(StoreError::query(WHAT))?,
    );
    tx.commit().await.map_err(StoreError::query(WHAT))?;
    let mut stock_by: HashMap<String, Vec<StockAt>> = HashMap::new();
    for r in &stock {
        let product: String = r.try_get(0).map_err(StoreError::query(WHAT))?;
        stock_by.entry(product).or_default().push(
            (|| {
                Ok::<_, tokio_postgres::Error>(StockAt {
                    facility_url: r.try_get(1)?,
                    parent_url: r.try_get(2)?,
                    on_hand: r.try_get(3)?,
                    reserved: r.try_get(4)?,
                })
            })()
            .map_err(StoreError::query(WHAT))?,
        );
    }
    let mut guides_by: HashMap<String, Vec<GuidelineAt>> = HashMap::new();
    for r in &guidelines {
        let product: String = r.try_get(0).map_err(StoreError::query(WHAT))?;
        guides_by.entry(product).or_default().push(
            (|| {
                Ok::<_, tokio_postgres::Error>(GuidelineAt {
                    facility_url: r.try_get(1)?,
                    parent_url: r.try_get(2)?,
                    reorder_point: r.try_get(3)?,
                    reorder_qty: r.try_get(4)?,
                    calculation_method: r.try_get(5)?,
                })
            })()
            .map_err(StoreError::query(WHAT))?,
        );
    }
    products
        .iter()
        .map(|r| {
            let product_url: String = r.try_get(0)?;
            let stock = stock_by.remove(&product_url).unwrap_or_default();
            let guides = guides_by.remove(&product_url).unwrap_or_default();
            let (reorder_point, reorder_qty) = guideline_totals(&guides);
            Ok(ItemInput {
                sku: r.try_get(1)?,
                name: r.try_get(2)?,
                status: r.try_get(3)?,
                cost: r.try_get(4)?,
                list_price: r.try_get(5)?,
                on_hand: r.try_get(6)?,
                reserved: r.try_get(7)?,
                reorder_point,
                reorder_qty,
                locations: location_levels(&stock, &guides),
                units_30d: r.try_get(8)?,
                units_90d: r.try_get(9)?,
                created: r.try_get(10)?,
                first_sale: r.try_get(11)?,
                as_of: day,
                product_url,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))
}

/// Sets `orders.order_day` to the business day of `order_date` in `zone` where it differs
/// (one transaction; see [`crate::rows::business_day`]). Returns the orders written.
pub(super) async fn set_order_days(
    client: &mut Client,
    zone: Tz,
    now: DateTime<Utc>,
    fence: Option<&str>,
) -> Result<u64, StoreError> {
    const WHAT: &str = "re-derive order days";
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query(WHAT))?;
    check_fence(&tx, fence).await?;
    let rows = tx
        .query_typed("SELECT url, order_date, order_day FROM orders", &[])
        .await
        .map_err(StoreError::query(WHAT))?;
    let mut urls: Vec<String> = Vec::new();
    let mut days: Vec<Option<NaiveDate>> = Vec::new();
    for r in &rows {
        let url: String = r.try_get(0).map_err(StoreError::query(WHAT))?;
        let date: Option<DateTime<Utc>> = r.try_get(1).map_err(StoreError::query(WHAT))?;
        let stored: Option<NaiveDate> = r.try_get(2).map_err(StoreError::query(WHAT))?;
        let day = date.map(|t| business_day(t, zone));
        if day != stored {
            urls.push(url);
            days.push(day);
        }
    }
    let n = if urls.is_empty() {
        0
    } else {
        tx.execute_typed(
            "UPDATE orders o SET order_day = u.day, updated_at = $3 \
               FROM unnest($1::text[], $2::date[]) AS u(url, day) WHERE o.url = u.url",
            &[
                (&urls, Type::TEXT_ARRAY),
                (&days, Type::DATE_ARRAY),
                (&now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query(WHAT))?
    };
    tx.commit().await.map_err(StoreError::query(WHAT))?;
    Ok(n)
}

const UPSERT_ITEMS: &str = "\
INSERT INTO inventory_items AS t (finale_id, sku, name, stock, reorder_point, \
    reorder_quantity, cost, price, sales_velocity, sales_velocity_90d, days_of_stock, status, \
    content_hash, available, last_updated, finale_last_sync) \
SELECT u.*, $14, $14 FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], \
    $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], \
    $11::float8[], $12::text[], $13::bytea[], $15::float8[]) AS u \
ON CONFLICT (finale_id) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name, \
    stock = EXCLUDED.stock, reorder_point = EXCLUDED.reorder_point, \
    reorder_quantity = EXCLUDED.reorder_quantity, cost = EXCLUDED.cost, \
    price = EXCLUDED.price, sales_velocity = EXCLUDED.sales_velocity, \
    sales_velocity_90d = EXCLUDED.sales_velocity_90d, days_of_stock = EXCLUDED.days_of_stock, \
    status = EXCLUDED.status, content_hash = EXCLUDED.content_hash, \
    available = EXCLUDED.available, last_updated = EXCLUDED.last_updated, finale_last_sync = EXCLUDED.finale_last_sync \
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
RETURNING t.finale_id, (t.xmax = 0)";

/// Upserts item rows by `finale_id` in one transaction: changed content, then confirmation
/// of the unchanged rows whose `finale_last_sync` is missing or older than `confirm_before`.
pub(super) async fn upsert_items(
    client: &mut Client,
    rows: &[ItemRow],
    now: DateTime<Utc>,
    confirm_before: DateTime<Utc>,
    fence: Option<&str>,
) -> Result<ItemWrites, StoreError> {
    let rows = last_wins(rows, |r| r.finale_id.as_str());
    let mut out = ItemWrites::default();
    if rows.is_empty() {
        return Ok(out);
    }
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("begin an item upsert"))?;
    check_fence(&tx, fence).await?;
    let keys: Vec<&str> = rows.iter().map(|r| r.finale_id.as_str()).collect();
    const WHAT: &str = "read stored item hashes";
    let stored: HashMap<String, Vec<u8>> = tx
        .query_typed(
            "SELECT finale_id, content_hash FROM inventory_items WHERE finale_id = ANY($1)",
            &[(&keys, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(StoreError::query(WHAT))?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(StoreError::query(WHAT))?;
    let (todo, same): (Vec<&ItemRow>, Vec<&ItemRow>) = rows.into_iter().partition(|r| {
        stored
            .get(&r.finale_id)
            .is_none_or(|h| h.as_slice() != r.content_hash.as_slice())
    });

    if !todo.is_empty() {
        let id: Vec<&str> = todo.iter().map(|r| r.finale_id.as_str()).collect();
        let sku: Vec<&str> = todo.iter().map(|r| r.sku.as_str()).collect();
        let name: Vec<Option<&str>> = todo.iter().map(|r| r.name.as_deref()).collect();
        let stock: Vec<f64> = todo.iter().map(|r| r.stock).collect();
        let point: Vec<Option<f64>> = todo.iter().map(|r| r.reorder_point).collect();
        let qty: Vec<Option<f64>> = todo.iter().map(|r| r.reorder_quantity).collect();
        let cost: Vec<Option<f64>> = todo.iter().map(|r| r.cost).collect();
        let price: Vec<Option<f64>> = todo.iter().map(|r| r.price).collect();
        let v30: Vec<f64> = todo.iter().map(|r| r.sales_velocity).collect();
        let v90: Vec<f64> = todo.iter().map(|r| r.sales_velocity_90d).collect();
        let days: Vec<Option<f64>> = todo.iter().map(|r| r.days_of_stock).collect();
        let status: Vec<Option<&str>> = todo.iter().map(|r| r.status.as_deref()).collect();
        let hash: Vec<&[u8]> = todo.iter().map(|r| r.content_hash.as_slice()).collect();
        let available: Vec<f64> = todo.iter().map(|r| r.available).collect();
        const UPSERT: &str = "upsert inventory items";
        let written: Vec<bool> = tx
            .query_typed(
                UPSERT_ITEMS,
                &[
                    (&id, Type::TEXT_ARRAY),
                    (&sku, Type::TEXT_ARRAY),
                    (&name, Type::TEXT_ARRAY),
                    (&stock, Type::FLOAT8_ARRAY),
                    (&point, Type::FLOAT8_ARRAY),
                    (&qty, Type::FLOAT8_ARRAY),
                    (&cost, Type::FLOAT8_ARRAY),
                    (&price, Type::FLOAT8_ARRAY),
                    (&v30, Type::FLOAT8_ARRAY),
                    (&v90, Type::FLOAT8_ARRAY),
                    (&days, Type::FLOAT8_ARRAY),
                    (&status, Type::TEXT_ARRAY),
                    (&hash, Type::BYTEA_ARRAY),
                    (&now, Type::TIMESTAMPTZ),
                    (&available, Type::FLOAT8_ARRAY),
                ],
            )
            .await
            .map_err(StoreError::query(UPSERT))?
            .iter()
            .map(|r| r.try_get(1))
            .collect::<Result<_, _>>()
            .map_err(StoreError::query(UPSERT))?;
        // `xmax = 0`: inserted (see the apply module's `Written`).
        for inserted in written {
            if inserted {
                out.writes.inserted += 1;
            } else {
                out.writes.updated += 1;
            }
        }
    }

    if !same.is_empty() {
        let id: Vec<&str> = same.iter().map(|r| r.finale_id.as_str()).collect();
        out.confirmed = tx
            .execute_typed(
                "UPDATE inventory_items SET finale_last_sync = $2 \
                  WHERE finale_id = ANY($1) \
                    AND (finale_last_sync IS NULL OR finale_last_sync < $3)",
                &[
                    (&id, Type::TEXT_ARRAY),
                    (&now, Type::TIMESTAMPTZ),
                    (&confirm_before, Type::TIMESTAMPTZ),
                ],
            )
            .await
            .map_err(StoreError::query("confirm unchanged inventory items"))?;
    }
    tx.commit()
        .await
        .map_err(StoreError::query("commit an item upsert"))?;
    Ok(out)
}
