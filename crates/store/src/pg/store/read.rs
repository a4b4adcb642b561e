//! Whole-store reads on Postgres: stock hashes, the snapshot, the write marks.

use std::collections::BTreeMap;

use tokio_postgres::{Client, IsolationLevel};

use super::to_hash;
use crate::Snapshot;
use crate::StoreError;
use crate::pg::table::{read_all, read_children};
use crate::rows::{GuidelineRow, Hash, LineRow, OrderRow, ProductRow, StockKey, SupplierLinkRow};

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

/// Reads the whole mirror and derived content in one repeatable-read snapshot, table by
/// table through the generic [`read_all`] / [`read_children`]. Keys sort byte-wise
/// (`COLLATE "C"`), as Rust orders strings, whatever the database's collation.
pub(super) async fn snapshot(client: &mut Client) -> Result<Snapshot, StoreError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(StoreError::query("begin a snapshot"))?;
    let mut products: Vec<ProductRow> = read_all(&tx).await?;
    read_children::<_, SupplierLinkRow>(&tx, &mut products).await?;
    read_children::<_, GuidelineRow>(&tx, &mut products).await?;
    let mut orders: Vec<OrderRow> = read_all(&tx).await?;
    read_children::<_, LineRow>(&tx, &mut orders).await?;
    let snap = Snapshot {
        facilities: read_all(&tx).await?,
        parties: read_all(&tx).await?,
        products,
        stock: read_all(&tx).await?,
        orders,
        daily_sales: read_all(&tx).await?,
        items: read_all(&tx).await?,
    };
    tx.commit()
        .await
        .map_err(StoreError::query("end a snapshot"))?;
    Ok(snap)
}
