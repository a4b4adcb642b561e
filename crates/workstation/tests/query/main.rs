//! Tests of `workstation::query` on real SQLite stores: a small hand-made store whose numbers
//! are computed by hand in the tests, and the generated fixture for walks and hostile input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod counters;
mod dashboard;
mod hostile;
mod item;
mod plans;
mod reorder;
mod search;
mod support;
mod triggers;
