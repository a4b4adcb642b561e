//! The cache's own state, as the app's status bar and `stockpulse status` show it: is the
//! local store live, catching up, offline (since when), and how old is its data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the local store stands against its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheState {
    /// Filling a fresh (or too old) local store from the shared store.
    Hydrating,
    /// Connected, applying changes up to the store's current position.
    CatchingUp,
    /// Caught up and listening for change notifications.
    Live,
    /// The shared store cannot be reached: queries answer from what the cache holds.
    Offline,
    /// No shared store: the sync engine writes straight into this local store.
    Embedded,
    /// A mirror ran here before but no mirror process is running now.
    Stopped,
}

impl CacheState {
    /// The state's name as JSON and the CLI print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hydrating => "hydrating",
            Self::CatchingUp => "catching_up",
            Self::Live => "live",
            Self::Offline => "offline",
            Self::Embedded => "embedded",
            Self::Stopped => "stopped",
        }
    }
}

/// A snapshot of the cache's state (the `status` event's body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheStatus {
    /// The state.
    pub state: CacheState,
    /// Since when the cache has been in this state (offline since T, live since T).
    pub since: DateTime<Utc>,
    /// The change position applied (the mirror's; `None` in the embedded default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// When the data was last known to match its source (the last catch-up or engine write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_as_of: Option<DateTime<Utc>>,
    /// Parts of the store still loading (progressive hydration: `orders`, `daily_sales`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loading: Vec<String>,
    /// A human-readable explanation (why offline, what is too new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
