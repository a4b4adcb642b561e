//! The workstation cache: what every Stockpulse workstation runs beside (or instead of) the
//! sync engine. Nothing here knows Finale or Tauri; the CLI and the desktop shell drive it.
//!
//! # The model
//!
//! One SQLite file per workstation, the **local store** (`STOCKPULSE_LOCAL_PATH`), with the
//! schema of [`store::sqlite`]. It is filled in one of two ways, and everything above the
//! filling (queries, events, alert state) is the same in both:
//!
//! - **Mirror** ([`mirror`]): with a shared Postgres/Supabase store configured, the mirror
//!   hydrates the local store from it in bulk, then follows the store's change feed
//!   (commit-safe positions, tombstones, `NOTIFY` wake-ups) and applies each catch-up in one
//!   SQLite transaction together with the position it reaches.
//! - **Embedded default**: with no database URL, the sync engine writes straight into the
//!   local store.
//!
//! Above the filling:
//!
//! - [`query`]: every read the app and the CLI make (search as you type, filters, item detail,
//!   reorder suggestions, dashboard figures), from SQLite only, so they answer offline.
//! - [`events`]: applying a change to the local store yields typed domain events (stock
//!   changed, stocked out, restocked, …) and keeps the alert state, so that the UI feed and
//!   the desktop notifications (two subscribers of one broadcast) never see the same alert
//!   twice.
//!
//! Arrows point one way: the CLI and the shell → this crate → [`store`].

mod error;
pub mod events;
pub mod local;
pub mod mirror;
pub mod query;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::CacheError;
pub use status::{CacheState, CacheStatus};
