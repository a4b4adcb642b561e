//! Raw binary `COPY` of a [`Snapshot`]'s mirror rows: the benchmark's yardstick ("engine vs
//! raw COPY of the same rows into the same tables").
//!
//! [`copy_snapshot`] streams facilities, parties, products, product suppliers, reorder
//! guidelines, stock, orders and order lines with `COPY ... FROM STDIN (FORMAT binary)`
//! (the generic `table::copy_table`, columns from each table's description): no
//! change detection, no conflict handling, so the tables must not already hold the rows'
//! keys. `first_seen_at`/`updated_at` take their column defaults; generated columns
//! (`facilities.kind`, `stock.available`) are computed by the server. Derived tables
//! (`daily_sales`, `inventory_items`) are not copied.
//!
//! `Client::copy_in` prepares its statement by name, so this needs a direct or session-mode
//! connection, not a transaction-mode pooler. Wrap the call in a transaction for
//! all-or-nothing.

use tokio_postgres::Client;

use super::table::{copy_children, copy_table};
use crate::Snapshot;
use crate::StoreError;
use crate::rows::{GuidelineRow, LineRow, ProductRow, SupplierLinkRow};

/// Copies the snapshot's mirror rows into their tables; returns the number of rows copied
/// over all tables.
pub async fn copy_snapshot(client: &Client, snap: &Snapshot) -> Result<u64, StoreError> {
    Ok(copy_table(client, &snap.facilities).await?
        + copy_table(client, &snap.parties).await?
        + copy_table(client, &snap.products).await?
        + copy_children::<ProductRow, SupplierLinkRow>(client, &snap.products).await?
        + copy_children::<ProductRow, GuidelineRow>(client, &snap.products).await?
        + copy_table(client, &snap.stock).await?
        + copy_table(client, &snap.orders).await?
        + copy_children::<_, LineRow>(client, &snap.orders).await?)
}
