//! Integration tests of the Postgres store against a real server (`TEST_DATABASE_URL`, default
//! the local one), one fresh database per test via `store::testing`.
//!
//! Modules mirror `src/pg`: `migrate` (schema lifecycle), `schema` (tables, views, the seed's
//! indexes), `constraints` (garbage is rejected), `ranking` (the seed's
//! `get_items_needing_sync`, one test per branch), `connect` (TLS and secrets), `store`
//! (`PgStore`: bulk writes, the report, atomic batches, the writer lock, raw `COPY`), and
//! `conformance` (the store conformance suite shared with SQLite, on `PgStore`).

mod conformance;
mod connect;
mod constraints;
mod migrate;
mod pooler;
mod ranking;
mod schema;
mod store;
mod support;
