//! The mirror against a real Postgres (one fresh database per test) and real SQLite files.

mod support;

mod feed;
mod follow;
mod hydrate;
