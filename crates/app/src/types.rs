//! The app's own IPC types: what the commands of `CONTRACT.md` return beyond the
//! workstation's query and event types. Serde JSON in snake_case; TypeScript bindings are
//! generated from them ([`crate::bindings`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use workstation::CacheStatus;

/// Where the local cache's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AppMode {
    /// No shared database: the engine writes this workstation's cache directly (also demo).
    Embedded,
    /// A shared Postgres/Supabase store, mirrored into the cache.
    Shared,
}

/// Whether desktop notifications can be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotificationStatus {
    /// A notification service answered.
    pub available: bool,
    /// Why not (or a note about the service), for Settings.
    pub message: Option<String>,
}

/// The always-visible status: `app_status()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AppStatus {
    /// The cache's state (`None` before anything filled it).
    pub cache: Option<CacheStatus>,
    /// Embedded or shared.
    pub mode: AppMode,
    /// The in-process simulator feeds the cache.
    pub demo: bool,
    /// The cache answers from what it holds: its source cannot be reached.
    pub offline: bool,
    /// Desktop notifications.
    pub notifications: NotificationStatus,
}

/// One choice of a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FilterOption {
    /// What the query's filter takes (a location or supplier URL).
    pub url: String,
    /// What the UI shows.
    pub name: String,
}

/// The choices of the stock screen's filters: `filter_options()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FilterOptions {
    /// Top-level locations, by name.
    pub locations: Vec<FilterOption>,
    /// Suppliers that supply at least one item, by name.
    pub suppliers: Vec<FilterOption>,
}

/// A strategy the user can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncStrategy {
    /// The two-year initial load (resumable).
    Full,
    /// What changed.
    Smart,
    /// Items that need attention first.
    Critical,
}

impl From<SyncStrategy> for engine::Strategy {
    fn from(s: SyncStrategy) -> Self {
        match s {
            SyncStrategy::Full => engine::Strategy::Full,
            SyncStrategy::Smart => engine::Strategy::Smart,
            SyncStrategy::Critical => engine::Strategy::Critical,
        }
    }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// Still going.
    Running,
    /// Completed.
    Succeeded,
    /// Stopped by an error (the message says which).
    Failed,
    /// Stopped by the user at a batch boundary; the next run resumes.
    Cancelled,
}

/// One progress message of a run (the `sync_start` channel, and `SyncOverview.running`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncProgress {
    /// The run's `sync_runs` id.
    pub run_id: i64,
    /// `full`, `smart`, `critical` or `stock`.
    pub strategy: String,
    /// What is happening (`order 2026-01-01..2026-01-31`, `stock`, `derived`).
    pub phase: String,
    /// Units done (jobs for `full`, steps otherwise).
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// Estimated time left.
    pub eta_seconds: Option<f64>,
    /// Finale collection reads used in the current hour (this process's client).
    pub budget_used: u64,
    /// Finale's collection reads per hour.
    pub budget_limit: u64,
    /// The last message of the run.
    pub finished: bool,
    /// How it ended.
    pub outcome: SyncOutcome,
    /// Why it failed, or a note.
    pub message: Option<String>,
}

/// Who holds the writer role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WriterRole {
    /// `host:pid (purpose)`.
    pub holder: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// This app holds it.
    pub is_me: bool,
}

/// When a strategy runs by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ScheduleEntry {
    /// `smart`, `critical`, `stock`.
    pub strategy: String,
    /// Its interval.
    pub every_seconds: i64,
    /// Its next run (`None`: not scheduled, e.g. before the full load).
    pub next_at: Option<DateTime<Utc>>,
}

/// One past run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncRunSummary {
    /// `sync_runs.id`.
    pub id: i64,
    /// Its strategy.
    pub strategy: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished (`None` while it runs).
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Records read from Finale.
    pub items: u64,
    /// Wall time.
    pub duration_seconds: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The sync screen: `sync_overview()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncOverview {
    /// The run this app started, while it runs.
    pub running: Option<SyncProgress>,
    /// Who holds the writer role (this or another workstation).
    pub writer: Option<WriterRole>,
    /// The schedule.
    pub schedule: Vec<ScheduleEntry>,
    /// Recent runs, newest first.
    pub runs: Vec<SyncRunSummary>,
}

/// One run on the health charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HealthPoint {
    /// When it started.
    pub at: DateTime<Utc>,
    /// Its strategy.
    pub strategy: String,
    /// Wall time.
    pub duration_seconds: f64,
    /// Records read per second.
    pub items_per_second: f64,
    /// It completed.
    pub success: bool,
    /// Problems counted in its error patterns.
    pub errors: u64,
    /// Finale latency, median.
    pub network_ms: Option<f64>,
    /// Store latency, mean.
    pub database_ms: Option<f64>,
}

/// An error pattern and how often it occurred over the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErrorPatternCount {
    /// The pattern.
    pub pattern: String,
    /// Occurrences.
    pub count: u64,
}

/// Finale's collection budget in use (every engine on the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BudgetUse {
    /// Reads in the window ending now.
    pub used: u64,
    /// The limit per window.
    pub limit: u64,
    /// The window.
    pub window_seconds: i64,
}

/// The health screen: `health(days)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HealthSeries {
    /// Runs, oldest first.
    pub points: Vec<HealthPoint>,
    /// Error patterns over those runs, most frequent first.
    pub errors_by_pattern: Vec<ErrorPatternCount>,
    /// The budget now.
    pub budget: BudgetUse,
}

/// Which alerts a group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Items out of stock.
    Stockout,
    /// Items at or below their reorder point.
    Reorder,
}

/// One item of an alert group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AlertItem {
    /// The product.
    pub product_url: String,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: Option<String>,
    /// Available over every location.
    pub available: f64,
    /// The total's reorder point.
    pub reorder_point: Option<f64>,
}

/// Alerts of one kind raised together: `alerts()` (CONTRACT.md's `AlertGroup`; that name is
/// the event body's, [`workstation::events::AlertGroup`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AlertListGroup {
    /// The group's id: its first alert's (what `alert_ack` and `alert_snooze` take).
    pub id: i64,
    /// Stockouts or reorder alerts.
    pub kind: AlertKind,
    /// When they were raised.
    pub raised_at: DateTime<Utc>,
    /// The items, by SKU.
    pub items: Vec<AlertItem>,
    /// Every alert of the group was acknowledged.
    pub acknowledged: bool,
    /// Escalations are not raised again before this time.
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// The Finale part of the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FinaleSettings {
    /// The account (path segment of the Finale URL).
    pub account: String,
    /// The API key's last characters (`••••3f9a`).
    pub api_key_masked: Option<String>,
    /// Account, key and secret are all there.
    pub configured: bool,
}

/// The shared database part of the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DatabaseSettings {
    /// `user@host:port/db`, never the password.
    pub url_masked: Option<String>,
    /// Connections refuse to go without TLS.
    pub tls: bool,
}

/// `settings()`: what is configured, without secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Settings {
    /// Finale, when an account is set.
    pub finale: Option<FinaleSettings>,
    /// The shared database, when one is set.
    pub database: Option<DatabaseSettings>,
    /// Demo data (the simulator in process).
    pub demo: bool,
    /// Where the app keeps its data.
    pub data_dir: String,
}

/// `test_finale(...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConnectionTest {
    /// Finale answered and accepted the credentials.
    pub ok: bool,
    /// What happened.
    pub message: String,
}

/// `test_database(url)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DatabaseTest {
    /// Connected and queried.
    pub ok: bool,
    /// The connection requires TLS.
    pub tls: bool,
    /// What happened (the target without its password, or the reason).
    pub message: String,
}
