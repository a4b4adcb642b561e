//! Stockpulse's sync engine: Finale → a store (the shared Postgres/Supabase store, or the
//! embedded local SQLite store), with the seed's three strategies.
//!
//! This crate has no Tauri dependency; the `stockpulse` CLI and the desktop shell both drive
//! it. The parts, from the data inwards:
//!
//! - [`rows`]: what a Finale record becomes in a store — validated rows with BLAKE3 content
//!   hashes (so "unchanged" means "nothing to write"); [`derive`](mod@derive): the seed's
//!   `inventory_items` rows, sales velocity and days of stock left, computed in pure code.
//! - [`store`]: the one [`store::Store`] interface the engine writes through — one
//!   transaction per batch, write only what changed, derived data by scope, runs, the
//!   backfill plan, quarantine, the writer role. Two implementations pass the same
//!   conformance suite (`conformance`, feature `testing`): [`pg::PgStore`] (pooler-safe
//!   statements, advisory-lock writer role, TLS per `sslmode`) and [`sqlite::SqliteStore`]
//!   (WAL, lock-file writer role).
//! - [`sync`]: the [`sync::Engine`] and its strategies — `full` (a persisted, resumable plan
//!   of jobs), `smart` (cursors with overlap, hash diff of the stock snapshot) and `critical`
//!   (the seed's ranking and triggers, critical items first) — with run metrics in
//!   `sync_runs` and the budget planner ([`sync::plan`]).
//! - [`config`]: configuration from a TOML file, the environment and the OS keychain
//!   (secrets never from files); [`schedule`]: when `serve` runs what, and its driver.
//! - Plumbing: [`pg::connect()`] (a URL → a client, TLS as libpq's `sslmode`, errors that never
//!   contain the password), [`pg::migrate()`] / [`sqlite::migrate()`] (the append-only SQL of
//!   `migrations/`, refusing a newer schema), [`pg::items_needing_sync`] /
//!   [`sqlite::items_needing_sync`] (the seed's `get_items_needing_sync`), and `testing`
//!   (feature `testing`: one fresh throwaway Postgres database per test).
//!
//! # The store model
//!
//! Vocabulary used in the schema (`migrations/postgres/V20261123230000__initial_schema.sql`
//! explains every table in its comments):
//!
//! - **Record URL.** Finale identifies every record by a URL path
//!   (`/acme/api/product/10023`); it is the primary key of every mirrored table (`url`), and
//!   references between tables are URLs too. A SKU is *not* a key: product URL ≠ SKU.
//! - **Content hash.** Every table that mirrors Finale data has `content_hash bytea` (exactly
//!   32 bytes: SHA-256 or BLAKE3 of the record's canonical content). The engine upserts with
//!   `ON CONFLICT (url) DO UPDATE ... WHERE t.content_hash IS DISTINCT FROM
//!   EXCLUDED.content_hash`, so an unchanged record costs no write and raises no event.
//! - **Owned children.** Lists embedded in a Finale record (a product's suppliers and reorder
//!   guidelines, an order's lines) live in child tables keyed `(parent_url, seq)` with a
//!   cascading foreign key. The parent's hash covers them; when it changes, the engine
//!   rewrites the children in the same transaction.
//! - **No foreign keys between collections.** Stock, orders, product–supplier links and the
//!   seed's `inventory_items` reference products, facilities and parties by URL without a
//!   foreign key, because collections are loaded independently, in windows, in any order, and
//!   Finale may reference a record a window has not reached yet. Reconciliation reports
//!   dangling references instead.
//! - **Timestamps.** `finale_last_updated` is Finale's `lastUpdatedDate` (the cursor value);
//!   `first_seen_at`/`updated_at` are this store's own bookkeeping, written by the engine
//!   from its injected clock (no triggers). The seed's `inventory_items` keeps the seed's
//!   names: `finale_last_sync` (last confirmed against Finale, moves even when nothing
//!   changed, because `smart`/`critical` rank by it) and `last_updated` (content changed).
//! - **Numbers** are `double precision`, CHECKed finite (no NaN, no ±Infinity) and
//!   non-negative where a negative value is garbage. On-hand stock may be negative (Finale
//!   allows overselling); `stock.available` is generated as `on_hand - reserved`.
//! - **Runs and recovery.** `sync_runs` holds one row per run (the seed's `SyncMetrics`);
//!   `sync_errors` quarantines bad records with their raw payload; `sync_state` holds cursors;
//!   `backfill_jobs` is the full load's persisted, idempotent, resumable plan of
//!   (collection, window) jobs.
//!
//! # Connections and poolers
//!
//! Supabase's transaction-mode pooler (port 6543) supports neither named prepared statements
//! nor session state. Everything here that may run through it uses
//! `Client::query_typed` (the unnamed statement, one round trip) or the simple-query
//! protocol. [`pg::migrate()`] is the exception: it takes a session advisory lock and refinery
//! prepares statements, so run it over a direct or session-mode connection.
#![deny(missing_docs)]

pub mod config;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod derive;
pub mod lease;
pub mod pg;
// Row fields are the columns of the same name, documented in the migrations.
#[allow(missing_docs)]
pub mod rows;
pub mod schedule;
pub mod sqlite;
pub mod store;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;

pub use pg::{connect, items_needing_sync, migrate};
pub use store::{AppliedMigration, MigrationReport, StoreError, Strategy, SyncCandidate};
