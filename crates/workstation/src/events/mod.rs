//! Domain events and alert state: what changed in the local store, as typed [`Event`]s, and
//! which items are alerting.
//!
//! # Vocabulary
//!
//! - **Location**: a top-level facility, i.e. a `facilities` row without `parent_url`.
//!   Stock held in a sublocation rolls up into its parent location, exactly as the view
//!   `stock_by_location` and [`store::derive::location_levels`] do; a facility the store does
//!   not know counts as its own location. Events name a location by its URL
//!   (`location_url`) and, when the store knows it, its name.
//! - **Scope**: one location of a product, or the product's **total** over every location
//!   (`location_url: null` in JSON). Each scope has an `on_hand`, an `available`
//!   (on hand − reserved, what can still be sold) and a **reorder point**:
//!   - at a location, the sum of the product's `reorder_guidelines` whose `facility_url`
//!     rolls up to that location (guidelines with `calculation_method = '##doNotReorder'` are
//!     skipped), none when no guideline names the location;
//!   - for the total, `inventory_items.reorder_point` (the engine's sum of the product's
//!     guidelines), or the same sum computed from the guidelines while the product has no
//!     `inventory_items` row yet.
//! - **Level** ([`Level`]) of a scope: `out` when available ≤ 0 (**stocked out**: nothing can
//!   be sold there, whatever is on hand); else `low` when a reorder point exists and
//!   available ≤ it; else `ok`.
//! - **Threshold events** fire once per crossing of a scope's level, never while it stays:
//!   `ok → low` is [`Event::FellBelowReorderPoint`], `ok|low → out` is [`Event::StockedOut`],
//!   and any improvement (`out → low`, `out → ok`, `low → ok`) is [`Event::Restocked`].
//!   [`Event::StockChanged`] reports every change of a location's on hand or available.
//! - **First sight**: a product enters the level state with its first stock row (a product
//!   with no stock row anywhere has no state and raises nothing). It is recorded silently,
//!   whatever its level: a new product, or the first fill of the cache (products first,
//!   stock later, in many batches), is not a stockout. A known product's first stock at a
//!   new location reports a [`Event::StockChanged`] from zero, with no threshold event.
//!   (A product whose stock rows a first fill splits over two batches may report its second
//!   part as changes.)
//!
//! # Alerts
//!
//! An **alert** ([`Alert`]) concerns an item (a product) as a whole: it is raised when the
//! product's *total* crosses into `low` or `out` (location crossings are events for the feed,
//! not alerts: the item is what a buyer reorders). At most one alert per product is active:
//!
//! - `ok → low|out` raises a new alert; `low → out` escalates the active alert to `out` and
//!   raises it again (a new severity; clearing its acknowledgement), unless it is snoozed;
//!   `out → low` only updates it; `→ ok` resolves it. So an item that stocks out alerts once,
//!   not again while it stays out, and again only after it recovered.
//! - Products whose status is `PRODUCT_INACTIVE` raise no new alerts (their events still
//!   flow), and a product deleted from the store has its state dropped and its alert resolved.
//! - Alerts raised in one [`derive()`] call are **grouped** into one [`Event::Alert`] listing
//!   them all (40 stockouts in one catch-up make one notification), after the individual
//!   stock events.
//! - The state lives in the local store (`event_alerts`), so alerts survive a restart.
//!   [`acknowledge`] and [`snooze`] are the app's hooks; [`active_alerts`] lists them.
//!
//! # Change capture
//!
//! Any writer may change the local store: the engine (embedded default, possibly in another
//! process), the mirror, a person with `sqlite3`. SQLite triggers (migration
//! `V20261205050000__events.sql`) record the *keys* of what changed into `event_journal` in
//! the writer's own transaction: a product whose stock, guidelines or item reorder point
//! changed; a facility whose parent changed; a product's old cost and list price; a new sales
//! order dated within 7 days; a sync run opened or closed. [`derive()`] consumes the journal
//! in a write transaction: for each key it recomputes the current values, compares them with
//! the stored level state (`event_levels`), emits events, updates the state and alerts, and
//! appends the events to the persisted log `cache_events` (`seq`, `at`, JSON). A new sales
//! order is reported when it is dated within [`NEW_ORDER_MAX_AGE`] (48 h) of the deriver's
//! clock, with the lines stored by then.
//!
//! - **Cost.** The triggers only run `INSERT ... ON CONFLICT DO NOTHING` of one key into a
//!   `WITHOUT ROWID` table, behind `WHEN` clauses that skip unchanged columns. Measured on
//!   100k stock upserts in batches of 500 (`tests/events/trigger_cost.rs`, on a busy 2-core
//!   machine): the engine's `apply` runs at 0.78–0.85x its rate without the triggers
//!   (0.82–0.91x while it holds the writer role, whose fence already checks every write),
//!   bare upserts at 0.61–0.67x. Deriving costs about 25 µs per event (100k stock changes
//!   of 20k products: 2.3 s), a baseline about 25 µs per product.
//! - **Writers** should upsert (`ON CONFLICT DO UPDATE`) or `UPDATE`: to SQLite an
//!   `INSERT OR REPLACE` of a product is a delete and an insert, and its price change is not
//!   journalled (its stock and guidelines are).
//!
//! - The **mirror** calls [`derive()`] inside its catch-up transaction, before commit, and
//!   [`baseline()`] after a fresh hydration (in the hydration's transaction, or in the next
//!   one before any catch-up). Its cache-state changes go into the log with [`append`] (as
//!   [`Event::Status`]) in the same way, so that every process's followers see them.
//! - In the **embedded default** the engine knows nothing of events: someone runs [`follow`]
//!   (the app, `stockpulse watch`), which polls `PRAGMA data_version` every
//!   [`POLL_INTERVAL`], derives in a `BEGIN IMMEDIATE` transaction when the journal holds
//!   keys, and publishes new log rows on a [`Bus`]. The same loop only tails the log when the
//!   mirror already derived. Two derivers at once cannot duplicate or lose events: SQLite's
//!   write lock serialises them, and each consumes the journal in the transaction that logs
//!   its events.
//!
//! **The first-fill rule.** When the level state is empty and the journal names at least
//! [`BASELINE_MIN_KEYS`] products, the call is a first fill (the engine's first full load, a
//! hydration nobody baselined): [`derive()`] then runs [`baseline()`] instead, which records
//! every product's levels silently, and reports only sync progress. (Every product is new on
//! a first fill, so first sight would keep it silent anyway; the baseline does it in one
//! pass and also skips the new-order events of the history being loaded.)
//!
//! **The log** keeps [`LOG_KEEP`] (7 days) and at most [`LOG_MAX_ROWS`] rows: the deriver
//! prunes older rows whenever it appends. A follower that fell further behind reads on from
//! the oldest row still kept. `seq` is never reused.
//!
//! # Delivery
//!
//! [`Bus`] is a bounded `tokio::sync::broadcast`: publishing never waits for a subscriber, a
//! subscriber that falls behind by more than the capacity is told how many events it missed
//! ([`Received::Lagged`]) and goes on with the oldest it still has. The UI feed and the
//! desktop notifier are two subscribers of one bus.

mod alerts;
mod bus;
mod derive;
mod follow;
mod log;
mod model;

pub use alerts::{acknowledge, active_alerts, alert, snooze};
pub use bus::{Bus, Received, Subscriber};
pub use derive::{BASELINE_MIN_KEYS, NEW_ORDER_MAX_AGE, baseline, derive, derive_logged};
pub use follow::{FollowOptions, Follower, POLL_INTERVAL, Since, follow, follow_with};
pub use log::{LOG_KEEP, LOG_MAX_ROWS, append, last_seq, prune, read_after};
pub use model::{
    Alert, AlertGroup, Change, Envelope, Event, Level, LevelChange, OrderLine, PriceChange,
    Quantities, SalesOrder, StockChange, SyncFinished, SyncStarted,
};
