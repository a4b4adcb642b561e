//! The local store's physical limit for the benchmark: a snapshot's mirror rows written with
//! plain prepared `INSERT`s in one transaction into an empty, freshly migrated database
//! (SQLite has no `COPY`; this is its fastest way in), table by table through the generic
//! `table::bulk_table` / `table::bulk_children` (columns from each table's description). No hash
//! comparison, no change report: the peer the engine's write path is measured against.

use std::path::Path;

use super::table::{bulk_children, bulk_table};
use super::{StoreError, migrate, open};
use crate::Snapshot;
use crate::rows::{GuidelineRow, LineRow, SupplierLinkRow};

/// Creates `path` (which must not hold a store yet), migrates it and inserts every mirror row
/// of `snap`; returns the rows inserted.
pub fn insert_snapshot(path: &Path, snap: &Snapshot) -> Result<u64, StoreError> {
    let mut conn = open(path)?;
    migrate(&mut conn)?;
    let tx = conn
        .transaction()
        .map_err(StoreError::sqlite("begin the bulk insert"))?;
    let n = bulk_table(&tx, &snap.facilities)?
        + bulk_table(&tx, &snap.parties)?
        + bulk_table(&tx, &snap.products)?
        + bulk_children::<_, SupplierLinkRow>(&tx, &snap.products)?
        + bulk_children::<_, GuidelineRow>(&tx, &snap.products)?
        + bulk_table(&tx, &snap.stock)?
        + bulk_table(&tx, &snap.orders)?
        + bulk_children::<_, LineRow>(&tx, &snap.orders)?;
    tx.commit()
        .map_err(StoreError::sqlite("commit the bulk insert"))?;
    Ok(n)
}
