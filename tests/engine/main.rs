//! The sync engine end to end: the Finale simulator → the real client → the engine → a real
//! store (every test runs on both the SQLite and the Postgres store).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod budget;
mod business_day;
mod cap;
mod clock_skew;
mod faults;
mod flow;
mod lines;
mod mirror;
mod no_graphql;
mod numbers;
mod payloads;
mod progressive;
mod pulse;
mod reread;
mod support;
mod unreadable;
mod writers;
