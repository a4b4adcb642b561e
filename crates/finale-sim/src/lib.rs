//! # finale-sim — a faithful simulator of the Finale Inventory API
//!
//! The simulator is the *other side* of the contract in `finale-api.md`: it shares no types with
//! the `finale` client crate, so the two independent readings of the document catch each
//! other's mistakes in the end-to-end tests.
//!
//! Layout:
//! - [`config`]: [`SimConfig`], sizes, rate-limit budgets and [`Quirks`] (uncertain API facts as
//!   switches).
//! - [`clock`]: [`SimClock`], the scaled virtual clock shared (by formula) with the client.
//! - [`model`]: the dataset — plain records with pub fields in URL-indexed [`Table`]s behind one
//!   `Arc<RwLock<Dataset>>`; REST and GraphQL render from it.
//! - [`generate`]: the seeded generator (same `(seed, size, anchor)` → same bytes).
//! - [`render`]: column-major collections and single records, in the account time zone.
//! - [`filter`]: `filter` (base64 JSON ranges) and `limit`, the 30-day rule and the entity cap.
//! - [`ratelimit`]: fixed windows in virtual time, `X-RateLimit-*` headers and 429s.
//! - [`faults`]: scripted misbehaviour ([`Fault`], [`FaultPlan`]).
//! - [`live`]: deterministic live changes ([`LiveReport`]).
//! - [`server`]: the HTTP surface ([`Simulator`], [`SimHandle`], [`SimStats`]).
//! - [`graphql`]: `POST /{acct}/api/graphql`.
//!
//! Lifecycle: `Simulator::start(cfg)` generates the dataset, binds, and serves in a tokio task;
//! the returned handle exposes the truth, stats, fault injection, live mode and shutdown.

pub mod clock;
pub mod config;
pub mod faults;
pub mod filter;
pub mod generate;
pub mod graphql;
pub mod live;
pub mod model;
pub mod ratelimit;
pub mod render;
pub mod server;

pub use clock::SimClock;
pub use config::{
    DateHeader, ErrorBodyShape, PackedQuantities, Quirks, RateLimitConfig, SimConfig, Size,
    Timestamps,
};
pub use faults::{Fault, FaultPlan};
pub use graphql::{DateKeys, NoneFormat};
pub use live::LiveReport;
pub use model::*;
pub use server::{RequestLogEntry, SimError, SimHandle, SimStats, Simulator};
