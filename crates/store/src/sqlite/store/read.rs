//! Whole-store reads: the snapshot, write marks and stock hashes.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::StoreError;
use crate::rows::{GuidelineRow, Hash, LineRow, OrderRow, ProductRow, StockKey, SupplierLinkRow};
use crate::sqlite::table::{read_all, read_children};

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

/// The whole mirror and derived content in one read transaction, table by table through
/// the generic [`read_all`] / [`read_children`], sorted by key (SQLite compares text
/// byte-wise, which is Rust's `String` order).
pub fn snapshot(conn: &mut Connection) -> Result<crate::Snapshot, StoreError> {
    let tx = conn.transaction().map_err(q("begin the snapshot"))?;
    let mut products: Vec<ProductRow> = read_all(&tx)?;
    read_children::<_, SupplierLinkRow>(&tx, &mut products)?;
    read_children::<_, GuidelineRow>(&tx, &mut products)?;
    let mut orders: Vec<OrderRow> = read_all(&tx)?;
    read_children::<_, LineRow>(&tx, &mut orders)?;
    let snap = crate::Snapshot {
        facilities: read_all(&tx)?,
        parties: read_all(&tx)?,
        products,
        stock: read_all(&tx)?,
        orders,
        daily_sales: read_all(&tx)?,
        items: read_all(&tx)?,
    };
    tx.commit().map_err(q("end the snapshot"))?;
    Ok(snap)
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
