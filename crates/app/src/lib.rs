//! The Stockpulse desktop application's core: what the Tauri shell adapts, with no Tauri in
//! it (so it is tested like any library, against a real cache and the simulator).
//!
//! # The model
//!
//! - [`App`] is the one application state. [`App::start`] builds it from the configuration
//!   (the engine's own, [`engine::config`], plus the settings the app saved: [`settings`])
//!   and starts the long-running components under one shutdown token: the engine's schedule,
//!   the mirror (a shared database configured) or the embedded default (the engine writes the
//!   local cache), the event follower, and in demo mode the simulator in process with live
//!   activity ([`demo`]). Saving settings swaps these components for new ones without a
//!   restart.
//! - Every command of the desktop contract is one method of [`App`]; the shell's commands
//!   only call it and map the error. Queries read the local cache through
//!   [`workstation::query`]; the alert screen groups [`workstation::events`]' alert state
//!   ([`alerts`]); the health screen reads `sync_runs` ([`health`]); user-started runs have
//!   progress and cancel ([`sync`]).
//! - Errors are one enum, [`AppError`], that maps to the UI's `{code, message}`
//!   ([`CommandError`]).
//! - Desktop notifications: [`notify`] plans what to show from the event feed (one
//!   notification per item, updated in place; critical for stockouts; bursts summarised;
//!   nothing repeated until the item recovers) and hands it to a [`notify::Notifier`] (the
//!   shell's notify-rust one).
//! - The types crossing the IPC are in [`types`] (the app's) and in `workstation` (queries,
//!   events); both derive `ts_rs::TS`, and `bindings` writes the UI's TypeScript from them.

pub mod alerts;
mod app;
pub mod bindings;
pub mod demo;
mod error;
pub mod health;
pub mod notify;
pub mod settings;
pub mod sync;
pub mod types;

pub use app::{App, AppOptions};
pub use error::{AppError, CommandError, ErrorCode};
pub use sync::SyncHandle;
