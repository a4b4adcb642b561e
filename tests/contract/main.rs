//! Contract tests: the Finale client against the Finale simulator, over real loopback HTTP.
//!
//! The two sides are independent readings of `finale-api.md`; these tests are where they
//! have to agree. Each module covers one part of the contract, and every test starts its own
//! simulator (see `stockpulse_tests::Setup`).

// Test code: a panic is the failure report, so helper functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod auth;
mod budget;
mod collections;
mod faults;
mod live;
mod order_lines;
mod quirks;
mod windows;
