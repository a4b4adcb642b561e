//! Typed client for the Finale Inventory REST and GraphQL APIs.
//!
//! # The model
//!
//! * **Account and URLs.** Everything lives under `{base_url}/{account}/api/`
//!   ([`FinaleConfig::api_root`]). Records are identified by their **record URL**
//!   (`/acme/api/product/100245`), which is also how they reference each other; the client
//!   only ever follows URLs found in payloads and never builds one from an id (a product's
//!   internal id is not its SKU).
//! * **Collections** ([`Collection`]): a `GET` on a collection URL returns every record in
//!   **column-major** form — one object of parallel arrays, index `i` across the arrays being
//!   record `i`. [`decode_collection`] reads that straight into typed records ([`model`])
//!   without an intermediate JSON tree; ragged columns, nulls, unknown fields and bad cells
//!   are tolerated, and a bad record is isolated in [`Decoded::errors`] instead of failing
//!   the page ([`decode`]).
//! * **Windows** ([`filter`]): incremental reads narrow a collection with a base64 `filter`
//!   of inclusive `lastUpdatedDate` ranges, at most 30 days wide, both bounds always sent.
//!   [`plan_windows`] covers a period with contiguous windows; a window whose page hits
//!   Finale's silent 120,000-row cap (or the requested `limit`) is halved and re-read, and
//!   records are deduped by key. `inventoryitem` has no filter: every read is a snapshot.
//! * **Budgets** ([`scheduler`]): Finale allows about 120 GET/min, 120 POST/min and 300
//!   collection reads/hour. ONE [`scheduler::Scheduler`] per client (build one client per
//!   process) grants every request by [`Priority`], re-syncs from `X-RateLimit-*` headers and
//!   pauses a bucket until its reset after a 429. Spends go to a [`BudgetLedger`] the engine
//!   connects to its store, and every run starts from the ledger's last hour, so the budget
//!   survives restarts ([`FinaleClient::scheduler`], [`scheduler`] "The ledger").
//! * **Retries** ([`retry`], [`error`]): 5xx, network errors, timeouts and truncated bodies
//!   are retried with jittered exponential back-off, slept on the injected [`Clock`];
//!   401/403, 404 and 400 fail at once with a classified [`Error`].
//! * **Order lines** ([`graphql`]): order collections may omit `orderItemList`;
//!   [`FinaleClient::complete_order_lines`] fetches the missing lines through GraphQL pages
//!   or per-order GETs, whichever the budgets finish sooner.
//! * **Case packing** ([`packing`]): packed stock rows and order lines carry a
//!   `normalizedPackingString`; whether their quantities count cases or units is the
//!   switch [`FinaleConfig::packed_quantities`], and [`units_per_case`] reads a packing
//!   strictly (an unreadable one is an error for the caller to quarantine).
//! * **The entity cap**: Finale silently truncates collection responses at 120,000 entities
//!   ([`FinaleConfig::cap`], `FINALE_COLLECTION_CAP`); every collection read reports whether
//!   it reached the cap ([`Decoded::capped`]). Stock of an account past the cap is read
//!   through GraphQL product pages instead ([`FinaleClient::fetch_stock_graphql`]).
//! * **Time** ([`clock`]): logic never calls `now()` directly; tests share a
//!   [`ScaledClock`] with the simulator to compress hours of rate limits into seconds.
//!   Offset-less timestamps are read in [`FinaleConfig::timestamp_zone`]: UTC by default
//!   (the evidence of finale-api.md §15b), the account's zone with
//!   [`TimestampZone::Account`]. The account's zone ([`FinaleConfig::timezone`]) is a
//!   separate fact: it decides the business day of a sale and GraphQL's display dates.
//!
//! # Layout
//!
//! [`client`] (executor and read operations) sits on [`decode`] + [`model`] (wire format),
//! [`filter`] (windows), [`config`] and [`error`], and on the budget/time/retry/GraphQL
//! modules [`scheduler`], [`clock`], [`retry`], [`display`] and [`graphql`].

#![deny(missing_docs)]

// Owned by helper D: budgets, priorities, the clock, retries, display-string parsing.
pub mod clock;
pub mod display;
pub mod graphql;
pub mod graphql_stock;
pub mod line_plan;
pub mod retry;
pub mod scheduler;

pub mod client;
pub mod collection;
pub mod config;
pub mod decode;
pub mod error;
pub mod filter;
pub mod model;
pub mod packing;

pub use client::{FinaleClient, LineFetchReport, UnreadableOrder, WindowBatch, WindowProgress};
pub use clock::{Clock, ScaledClock, SystemClock};
pub use collection::Collection;
pub use config::{ConfigError, Credentials, FinaleConfig, Secret, TimestampZone};
pub use decode::{
    DecodeContext, DecodeError, Decoded, FinaleRecord, RecordError, decode_collection,
    decode_record,
};
pub use error::Error;
pub use filter::{Filter, Window, plan_windows};
pub use graphql::GraphqlDateKeys;
pub use graphql_stock::GraphqlStock;
pub use model::*;
pub use packing::{PackedQuantities, PackingError, units_per_case};
pub use retry::RetryPolicy;
pub use scheduler::{
    Bucket, BucketReport, BudgetConfig, BudgetLedger, BudgetReport, LedgerError, Priority,
    Scheduler, Spend,
};
