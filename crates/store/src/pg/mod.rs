//! The shared store on Postgres: connecting, migrating, and ranking work.
//!
//! Lifecycle of a process that uses the store:
//!
//! 1. [`connect()`] turns a database URL into a `tokio_postgres::Client`. The URL's `sslmode`
//!    decides TLS ([`connect::plan_connection`] is the pure part, unit-tested without a
//!    server); the connection future is spawned on the current Tokio runtime.
//! 2. [`migrate()`] brings the schema up to the newest migration embedded in this binary, or
//!    refuses a database that is already *newer* (another workstation runs a newer
//!    Stockpulse): writing into a schema we do not know could corrupt it.
//! 3. The engine reads and writes the tables; [`items_needing_sync`] ranks products with the
//!    seed's `get_items_needing_sync`.
//! 4. [`PgStore`] is the engine's [`crate::Store`] on Postgres: a small connection
//!    pool, pooler-safe bulk writes, the writer lock ([`lock`]); [`copy::copy_snapshot`] is
//!    the benchmark's raw `COPY` yardstick.
//!
//! Every failure is a [`StoreError`](crate::StoreError); none of its messages, sources or `Debug` output
//! contains the password of the URL.

pub mod connect;
pub mod copy;
pub mod feed;
pub mod lock;
pub mod migrate;
mod ranking;
mod store;
pub(crate) mod table;

pub use connect::connect;
pub use lock::{PgWriterLease, WRITER_LOCK_KEY};
pub use migrate::migrate;
pub use ranking::items_needing_sync;
pub use store::{
    PgOptions, PgStore, PooledClient, TRANSACTION_POOLER_PORT, session_plan, supabase_session_url,
};
