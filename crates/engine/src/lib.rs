//! Stockpulse's sync engine: Finale → a store (the shared Postgres/Supabase store, or the
//! embedded local SQLite store), with the seed's three strategies and the stock pulse.
//!
//! This crate has no Tauri dependency; the `stockpulse` CLI and the desktop shell both drive
//! it. It writes through the [`store`] crate (the row model, the one `Store` interface, both
//! implementations and their conformance suite, re-exported here whole), and adds:
//!
//! - [`sync`]: the [`sync::Engine`] and its strategies — `full` (a persisted, resumable plan
//!   of jobs), `smart` (cursors that follow what Finale has shown, hash diff of the stock
//!   snapshot), `critical` (the seed's ranking and triggers, critical items first) and the
//!   `stock` pulse — with run metrics in `sync_runs`, the budget planner ([`sync::plan`]),
//!   Finale records into store rows ([`sync::convert`]) and the engine as a service's runner
//!   ([`sync::EngineRunner`]).
//! - [`config`]: configuration from a TOML file, the environment and the OS keychain
//!   (secrets never from files); [`schedule`]: when `serve` runs what, and its driver.
//!
//! Arrows point one way: the CLI and the shell → this crate → [`store`] → nothing of ours
//! but Finale's client, which only this crate uses.
#![deny(missing_docs)]

pub mod config;
pub mod schedule;
pub mod sync;

/// The store crate, whole: the engine writes through it, and its paths stay reachable here
/// (`engine::store::Store`, `engine::pg`, `engine::sqlite`, ...).
pub use store;
pub use store::{
    AppliedMigration, MigrationReport, StoreError, Strategy, SyncCandidate, connect,
    items_needing_sync, migrate,
};
#[cfg(feature = "testing")]
pub use store::{conformance, testing};
pub use store::{derive, lease, pg, rows, sqlite};
