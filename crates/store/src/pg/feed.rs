//! The change feed's reading side: how a workstation mirror learns, commit-safely, what
//! changed in the shared store since it last looked.
//!
//! The writing side is all in Postgres (migration `V20261205030000__change_feed.sql`): every
//! mirrored table ([`MIRRORED_TABLES`]) has a `change_xid xid8` column, stamped by a trigger
//! with the writing transaction's id when a **visible** column changes (bookkeeping such as
//! `updated_at` or `finale_last_sync` does not count, and neither does rewriting identical
//! values); deletions leave rows in `feed_tombstones`; a changing transaction sends one
//! `NOTIFY` on [`CHANNEL`] whose payload is its id. So the engine, a hand edit in Supabase's
//! SQL editor and any other writer all reach the mirrors.
//!
//! # Positions
//!
//! A [`Position`] is a transaction id (`xid8`, 64-bit, never wraps). A mirror at position `P`
//! has applied every change of every transaction with id `< P`. To move on, it opens a
//! `REPEATABLE READ` transaction and, in that one snapshot, reads its [`snapshot`] (the
//! `xmin`: every transaction below it had finished when the snapshot was taken; and which
//! transactions above it were already visible) and every row and tombstone its previous
//! snapshot did not see ([`changed_since`]); it applies them and stores the new snapshot in
//! the same local transaction. A transaction that took its id early and commits late was
//! running (invisible) in every snapshot taken meanwhile, so a later catch-up reads it: never
//! skipped. Applying a row twice is harmless (idempotent upserts).
//!
//! # Pruning
//!
//! Mirrors [`register_mirror`] their position; [`prune`] drops tombstones below the oldest
//! position of a mirror seen recently and raises the [`FeedInfo::horizon`]. A mirror whose
//! position is below the horizon may have missed deletions: it re-hydrates.

use std::time::Duration;

use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::StoreError;

/// The `NOTIFY` channel of the change feed (payload: the changing transaction's id).
pub const CHANNEL: &str = "stockpulse_feed";

/// Every table the feed covers, in load order (parents before their owned children), with
/// its primary key. Deletions apply in reverse order.
pub const MIRRORED_TABLES: [(&str, &[&str]); 12] = [
    ("facilities", &["url"]),
    ("parties", &["url"]),
    ("products", &["url"]),
    ("product_suppliers", &["product_url", "seq"]),
    ("reorder_guidelines", &["product_url", "seq"]),
    ("stock", &["product_url", "facility_url"]),
    ("inventory_items", &["id"]),
    ("orders", &["url"]),
    ("order_lines", &["order_url", "seq"]),
    ("daily_sales", &["product_url", "day"]),
    ("sync_runs", &["id"]),
    ("sync_errors", &["id"]),
];

/// The primary key of a mirrored table, `None` for any other name.
pub fn key_columns(table: &str) -> Option<&'static [&'static str]> {
    MIRRORED_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, k)| *k)
}

/// A position in the change feed: a transaction id (`xid8`). See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub i64);

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Position {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Position)
    }
}

/// The SQL expression that turns an `int8` parameter `$n` into an `xid8`.
pub fn xid8_param(n: usize) -> String {
    format!("(${n}::int8)::text::xid8")
}

/// What a mirror checks before trusting its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedInfo {
    /// The store's identity: a mirror of another store (or of a restored copy) re-hydrates.
    pub identity: Uuid,
    /// Tombstones below this position are pruned.
    pub horizon: Position,
}

/// The store's identity and pruning horizon. A store without the feed (migrated by an older
/// binary) fails with the driver's "relation does not exist".
pub async fn info(client: &impl GenericClient) -> Result<FeedInfo, StoreError> {
    let row = client
        .query_one(
            "SELECT (SELECT id FROM feed_identity ORDER BY created_at LIMIT 1),
                    (SELECT horizon::text::int8 FROM feed_horizon)",
            &[],
        )
        .await
        .map_err(StoreError::query(
            "read the change feed's identity and horizon",
        ))?;
    Ok(FeedInfo {
        identity: row.get(0),
        horizon: Position(row.get(1)),
    })
}

/// A snapshot's place in the feed: its `xmin` (the [`Position`] reported) and the whole
/// snapshot (`xmin:xmax:running ids`), which says exactly which transactions it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Every transaction below it had finished.
    pub xmin: Position,
    /// `pg_snapshot` text form.
    pub text: String,
}

/// The snapshot of the current `REPEATABLE READ` transaction (call it inside the transaction
/// whose reads it describes).
pub async fn snapshot(client: &impl GenericClient) -> Result<Snapshot, StoreError> {
    let row = client
        .query_one(
            "SELECT pg_snapshot_xmin(s)::text::int8, s::text FROM pg_current_snapshot() s",
            &[],
        )
        .await
        .map_err(StoreError::query("read the snapshot's position"))?;
    Ok(Snapshot {
        xmin: Position(row.get(0)),
        text: row.get(1),
    })
}

/// The SQL condition "changed after snapshot `$n`": at or above its `xmin` and not visible
/// in it. A transaction the previous catch-up already saw (committed above its `xmin`) is
/// not read again, so a long-running transaction elsewhere on the server (an idle session in
/// the SQL editor) does not make every catch-up re-read everything since it began; one that
/// was still running then is read, whenever it commits.
pub fn changed_since(n: usize) -> String {
    format!(
        "change_xid >= pg_snapshot_xmin(${n}::text::pg_snapshot) \
         AND NOT pg_visible_in_snapshot(change_xid, ${n}::text::pg_snapshot)"
    )
}

/// A deleted row: its table and primary key (column → value, as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    /// The table the row was deleted from (one of [`MIRRORED_TABLES`]).
    pub table: String,
    /// The deleted row's primary key.
    pub key: serde_json::Map<String, serde_json::Value>,
    /// The deleting transaction.
    pub position: Position,
}

/// Tombstones of transactions `since` did not see, oldest first.
pub async fn tombstones_since(
    client: &impl GenericClient,
    since: &str,
) -> Result<Vec<Tombstone>, StoreError> {
    let sql = format!(
        "SELECT table_name, key, change_xid::text::int8 FROM feed_tombstones
          WHERE {} ORDER BY change_xid",
        changed_since(1)
    );
    let rows = client
        .query(&sql, &[&since])
        .await
        .map_err(StoreError::query("read the change feed's tombstones"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let table: String = row.get(0);
        let key: serde_json::Value = row.get(1);
        let serde_json::Value::Object(key) = key else {
            return Err(StoreError::Corrupt {
                what: format!("a tombstone of {table} whose key is not a JSON object"),
            });
        };
        out.push(Tombstone {
            table,
            key,
            position: Position(row.get(2)),
        });
    }
    Ok(out)
}

/// Records that mirror `mirror_id` has applied everything below `position` (and is alive).
pub async fn register_mirror(
    client: &impl GenericClient,
    mirror_id: Uuid,
    position: Position,
    description: &str,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO feed_mirrors (mirror_id, position, seen_at, description)
         VALUES ($2, {}, now(), $3)
         ON CONFLICT (mirror_id) DO UPDATE
            SET position = EXCLUDED.position, seen_at = now(), description = EXCLUDED.description",
        xid8_param(1)
    );
    client
        .execute(&sql, &[&position.0, &mirror_id, &description])
        .await
        .map_err(StoreError::query("register the mirror's position"))?;
    Ok(())
}

/// Drops the tombstones no live mirror needs (live: seen within `live_for`; tombstones
/// younger than `keep_at_least` always stay) and raises the horizon. Returns how many were
/// dropped.
pub async fn prune(
    client: &impl GenericClient,
    live_for: Duration,
    keep_at_least: Duration,
) -> Result<u64, StoreError> {
    let live = live_for.as_secs_f64();
    let keep = keep_at_least.as_secs_f64();
    let row = client
        .query_one(
            "SELECT feed_prune(make_interval(secs => $1), make_interval(secs => $2))",
            &[&live, &keep],
        )
        .await
        .map_err(StoreError::query("prune the change feed"))?;
    let dropped: i64 = row.get(0);
    Ok(u64::try_from(dropped).unwrap_or(0))
}
