//! The event types: one serde-tagged enum, stable (the UI derives TypeScript types from it).
//!
//! JSON shapes: every event is an object with a `type` field (snake_case variant name) and
//! the fields of its body; an [`Envelope`] adds `seq` (its place in the persisted log, absent
//! for events that were never logged) and `at` (when it was derived). Times are RFC 3339 UTC
//! strings, quantities JSON numbers, absent optional values `null` unless noted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CacheStatus;

/// A scope's stock level; see the module docs of [`crate::events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Available above the reorder point (or no reorder point) and above zero.
    Ok,
    /// Available at or below the reorder point, above zero.
    Low,
    /// Available at or below zero: stocked out.
    Out,
}

impl Level {
    /// The level of `available` against `reorder_point`.
    pub fn of(available: f64, reorder_point: Option<f64>) -> Level {
        if available <= 0.0 {
            Level::Out
        } else if reorder_point.is_some_and(|rp| available <= rp) {
            Level::Low
        } else {
            Level::Ok
        }
    }

    /// The name as stored and serialised (`ok`, `low`, `out`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Low => "low",
            Level::Out => "out",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "ok" => Some(Level::Ok),
            "low" => Some(Level::Low),
            "out" => Some(Level::Out),
            _ => None,
        }
    }
}

/// On hand and available at one scope.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Quantities {
    /// Units on hand.
    pub on_hand: f64,
    /// On hand − reserved: what can still be sold.
    pub available: f64,
}

/// A value before and after a change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Change<T> {
    /// The value before.
    pub before: T,
    /// The value after.
    pub after: T,
}

/// `stock_changed`: a product's on hand or available changed at one location.
///
/// `{"type":"stock_changed","product_url":"…","sku":"…","location_url":"…",
///   "location_name":"Main"|null,"before":{"on_hand":10.0,"available":8.0},
///   "after":{"on_hand":4.0,"available":2.0}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockChange {
    /// The product.
    pub product_url: String,
    /// Its SKU.
    pub sku: String,
    /// The location (top-level facility) whose stock changed.
    pub location_url: String,
    /// The location's name, when the store knows the facility.
    pub location_name: Option<String>,
    /// Before the change (zeros for a known product's first stock at a new location).
    pub before: Quantities,
    /// After the change.
    pub after: Quantities,
}

/// `stocked_out`, `fell_below_reorder_point`, `restocked`: a scope crossed a level.
///
/// `{"type":"stocked_out","product_url":"…","sku":"…","location_url":null,
///   "location_name":null,"level":"out","previous_level":"low","on_hand":3.0,
///   "available":0.0,"reorder_point":5.0}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LevelChange {
    /// The product.
    pub product_url: String,
    /// Its SKU.
    pub sku: String,
    /// The location, `None` for the product's total over every location.
    pub location_url: Option<String>,
    /// The location's name, when known.
    pub location_name: Option<String>,
    /// The new level.
    pub level: Level,
    /// The level before.
    pub previous_level: Level,
    /// On hand now.
    pub on_hand: f64,
    /// Available now.
    pub available: f64,
    /// The scope's reorder point, if any.
    pub reorder_point: Option<f64>,
}

/// `price_changed`: a product's cost or list price changed.
///
/// `{"type":"price_changed","product_url":"…","sku":"…",
///   "cost":{"before":2.0,"after":2.5},"list_price":{"before":5.0,"after":5.0}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PriceChange {
    /// The product.
    pub product_url: String,
    /// Its SKU.
    pub sku: String,
    /// Cost before and after (equal when only the list price changed).
    pub cost: Change<Option<f64>>,
    /// List price before and after.
    pub list_price: Change<Option<f64>>,
}

/// One line of a [`SalesOrder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OrderLine {
    /// The product, when the line names one.
    pub product_url: Option<String>,
    /// Its SKU, when the product is in the store.
    pub sku: Option<String>,
    /// Units ordered.
    pub quantity: f64,
}

/// `new_sales_order`: a sales order dated within [`super::NEW_ORDER_MAX_AGE`] appeared.
///
/// `{"type":"new_sales_order","order_url":"…","order_id":"…","status":"ORDER_PLACED",
///   "order_date":"2026-12-05T04:00:00Z","party_url":"…","total":12.5,
///   "lines":[{"product_url":"…","sku":"…","quantity":2.0}]}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SalesOrder {
    /// The order.
    pub order_url: String,
    /// Finale's order id.
    pub order_id: String,
    /// Its status.
    pub status: Option<String>,
    /// Its date.
    pub order_date: Option<DateTime<Utc>>,
    /// The customer.
    pub party_url: Option<String>,
    /// The order's total.
    pub total: Option<f64>,
    /// Its lines as stored when the event was derived (empty when the lines come later).
    pub lines: Vec<OrderLine>,
}

/// `sync_started`: a sync run opened (a `sync_runs` row).
///
/// `{"type":"sync_started","run_id":7,"strategy":"smart","started_at":"…","runner":"…"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncStarted {
    /// The run's id.
    pub run_id: i64,
    /// `full`, `smart`, `critical` or `stock`.
    pub strategy: String,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// Who runs it.
    pub runner: Option<String>,
}

/// `sync_finished`: a sync run closed, with its counts.
///
/// `{"type":"sync_finished","run_id":7,"strategy":"smart","started_at":"…",
///   "finished_at":"…","success":true,"duration_ms":1200,"items_seen":500,
///   "items_changed":12,"items_failed":0,"notes":null}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncFinished {
    /// The run's id.
    pub run_id: i64,
    /// `full`, `smart`, `critical` or `stock`.
    pub strategy: String,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether it succeeded.
    pub success: bool,
    /// Its duration.
    pub duration_ms: Option<i64>,
    /// Records seen.
    pub items_seen: i64,
    /// Records written.
    pub items_changed: i64,
    /// Records that failed.
    pub items_failed: i64,
    /// The run's notes (why it failed, what it skipped).
    pub notes: Option<String>,
}

/// An item's alert; see the module docs of [`crate::events`].
///
/// `{"id":3,"product_url":"…","sku":"…","name":"…","level":"out","on_hand":0.0,
///   "available":0.0,"reorder_point":5.0,"raised_at":"…","updated_at":"…",
///   "acknowledged_at":null,"snoozed_until":null,"escalated":false}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alert {
    /// The alert's id (for [`super::acknowledge`] and [`super::snooze`]).
    pub id: i64,
    /// The product.
    pub product_url: String,
    /// Its SKU.
    pub sku: String,
    /// Its name, for the notification's text.
    pub name: Option<String>,
    /// `low` or `out`.
    pub level: Level,
    /// The product's total on hand.
    pub on_hand: f64,
    /// The product's total available.
    pub available: f64,
    /// The total's reorder point, if any.
    pub reorder_point: Option<f64>,
    /// When the alert was raised.
    pub raised_at: DateTime<Utc>,
    /// When its level or quantities last changed.
    pub updated_at: DateTime<Utc>,
    /// When a user acknowledged it (cleared by an escalation).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Escalations are not raised again before this time.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// In an [`Event::Alert`]: whether this is an escalation (`low` → `out`) of an alert
    /// raised before, rather than a new one.
    #[serde(default)]
    pub escalated: bool,
}

/// `alert`: the alerts raised by one derivation, grouped (one notification for a burst).
///
/// `{"type":"alert","alerts":[{…Alert…}, …]}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertGroup {
    /// The alerts raised or escalated, by SKU.
    pub alerts: Vec<Alert>,
}

/// A domain event of the workstation cache. Serialised with a `type` tag in snake_case and
/// the body's fields beside it (see each body's docs for its JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A location's on hand or available changed.
    StockChanged(StockChange),
    /// A scope's available fell to zero or below.
    StockedOut(LevelChange),
    /// A scope's available fell to or below its reorder point (still above zero).
    FellBelowReorderPoint(LevelChange),
    /// A scope's level improved (`out → low|ok`, `low → ok`).
    Restocked(LevelChange),
    /// A product's cost or list price changed.
    PriceChanged(PriceChange),
    /// A recent sales order appeared.
    NewSalesOrder(SalesOrder),
    /// A sync run opened.
    SyncStarted(SyncStarted),
    /// A sync run closed.
    SyncFinished(SyncFinished),
    /// The cache's state changed (`{"type":"status","state":"live",…}`); published by the
    /// mirror, never derived.
    Status(CacheStatus),
    /// Alerts raised together.
    Alert(AlertGroup),
}

impl Event {
    /// The `type` tag of the event (`stock_changed`, `alert`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::StockChanged(_) => "stock_changed",
            Event::StockedOut(_) => "stocked_out",
            Event::FellBelowReorderPoint(_) => "fell_below_reorder_point",
            Event::Restocked(_) => "restocked",
            Event::PriceChanged(_) => "price_changed",
            Event::NewSalesOrder(_) => "new_sales_order",
            Event::SyncStarted(_) => "sync_started",
            Event::SyncFinished(_) => "sync_finished",
            Event::Status(_) => "status",
            Event::Alert(_) => "alert",
        }
    }
}

/// An event with its place in the log: what the [`super::Bus`] carries and followers read.
///
/// `{"seq":42,"at":"2026-12-05T04:00:00.123Z","type":"stocked_out",…}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Envelope {
    /// The event's `cache_events.seq`; `None` for an event published without being logged
    /// (a status change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// When the event was derived (the deriver's clock).
    pub at: DateTime<Utc>,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}
