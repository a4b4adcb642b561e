//! Placeholder crate root; helper B replaces this doc with the crate's model (see the module list).

// Owned by helper D: budgets, priorities, the clock, retries, display-string parsing.
pub mod clock;
pub mod display;
pub mod retry;
pub mod graphql;
pub mod scheduler;

pub mod client;
pub mod collection;
pub mod config;
pub mod decode;
pub mod error;
pub mod filter;
pub mod model;

pub use clock::{Clock, ScaledClock, SystemClock};
pub use client::{FinaleClient, LineFetchReport, WindowBatch, WindowProgress};
pub use collection::Collection;
pub use config::{ConfigError, Credentials, FinaleConfig, Secret};
pub use decode::{
    DecodeContext, DecodeError, Decoded, FinaleRecord, RecordError, decode_collection, decode_record,
};
pub use error::Error;
pub use filter::{Filter, Window, plan_windows};
pub use model::*;
pub use retry::RetryPolicy;
pub use scheduler::{BucketReport, BudgetConfig, BudgetReport, Bucket, Priority};
