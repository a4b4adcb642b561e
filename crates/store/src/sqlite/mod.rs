//! The local store on SQLite: the same domain as the shared Postgres store, embedded in the
//! process (the default when no database URL is configured).
//!
//! The schema (`migrations/sqlite/`) mirrors `migrations/postgres/` table for table and
//! column for column, so that one store interface can later have a Postgres and a SQLite
//! implementation passing the same conformance tests. Where the two differ, it is the
//! representation, not the meaning (the migration's header lists every translation):
//!
//! - **Timestamps** are `INTEGER` milliseconds since the Unix epoch, UTC ([`to_millis`] /
//!   [`from_millis`]): exact integer comparison and arithmetic, nothing to parse, sortable.
//! - **UUIDs** are lower-case canonical `TEXT`; **booleans** `0`/`1`; **arrays and JSON**
//!   are JSON `TEXT` CHECKed for validity and shape; **hashes** are 32-byte `BLOB`s.
//! - Every table is `STRICT`, so SQLite enforces column types instead of storing whatever
//!   it is given.
//! - The seed's `get_items_needing_sync` is not a SQL function (SQLite has none, and no clock
//!   we trust): [`items_needing_sync`] runs its three branches as one parameterised query,
//!   with the engine's injected clock passed in.
//!
//! Lifecycle of a process that uses the local store:
//!
//! 1. [`open()`] (or [`open_in_memory()`] in tests) returns a configured
//!    `rusqlite::Connection`: WAL journal (readers do not block the writer),
//!    `synchronous=NORMAL` (durable at checkpoints, never corrupt), foreign keys on (the
//!    owned-children cascades need them; SQLite's default is off, per connection), and a busy
//!    timeout so a second connection waits for a write lock instead of failing at once.
//! 2. [`migrate()`] brings the schema up to this binary's migrations, or refuses a database
//!    that is newer ([`StoreError::SchemaTooNew`], the same message as Postgres).
//! 3. The engine reads and writes; [`items_needing_sync`] ranks the work of a run.

pub mod bulk;
pub mod lock;
mod migrate;
mod open;
mod ranking;
mod store;
pub(crate) mod table;
#[cfg(test)]
mod tests;

pub use bulk::insert_snapshot;
pub use migrate::{database_version, known_version, migrate, migrate_lock_path};
pub use open::{BUSY_TIMEOUT, open, open_in_memory};
pub use ranking::{ITEMS_NEEDING_SYNC_SQL, items_needing_sync};
pub use store::{SqliteStore, WRITER_RETRY};

use chrono::{DateTime, Utc};

pub use crate::StoreError;

/// A timestamp as the local store keeps it: milliseconds since the Unix epoch (UTC).
/// Sub-millisecond precision is truncated toward the past.
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_millis`]; `None` when the value is outside chrono's range (a corrupt
/// row, never one the engine wrote).
pub fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}
