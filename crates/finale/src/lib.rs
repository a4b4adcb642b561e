//! Placeholder crate root; helper B replaces this doc with the crate's model (see the module list).

// Owned by helper D: budgets, priorities, the clock, retries, display-string parsing.
pub mod clock;
pub mod display;
pub mod retry;
pub mod scheduler;

pub mod collection;
pub mod decode;
pub mod filter;
pub mod model;

pub use collection::Collection;
pub use decode::{
    DecodeContext, DecodeError, Decoded, FinaleRecord, RecordError, decode_collection, decode_record,
};
pub use filter::{Filter, Window, plan_windows};
pub use model::*;
