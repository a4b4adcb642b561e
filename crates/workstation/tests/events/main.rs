//! Stock events and alert state on real SQLite files: the triggers' journal, the deriver,
//! alerts, the log, the bus and the follow loop, with rows written by plain SQL (any writer)
//! and through the engine's `SqliteStore::apply` (the embedded default).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod bus;
mod concurrency;
mod engine;
mod first_fill;
mod other_events;
mod support;
mod thresholds;
mod trigger_cost;
