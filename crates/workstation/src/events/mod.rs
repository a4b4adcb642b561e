//! Domain events and alert state (placeholder until the events work lands: the mirror calls
//! these with the signatures that work will provide).

use chrono::{DateTime, Utc};

use crate::{CacheError, CacheStatus};

/// A domain event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The cache's state changed.
    Status(CacheStatus),
}

/// Consumes the change journal inside the writer's transaction and returns the events.
pub fn derive(
    _tx: &rusqlite::Transaction<'_>,
    _now: DateTime<Utc>,
) -> Result<Vec<Event>, CacheError> {
    Ok(Vec::new())
}

/// Sets the level state silently (after a hydration).
pub fn baseline(_tx: &rusqlite::Transaction<'_>, _now: DateTime<Utc>) -> Result<(), CacheError> {
    Ok(())
}

/// The broadcast of events to subscribers.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: tokio::sync::broadcast::Sender<Event>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// A bus with room for a burst.
    pub fn new() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(4096).0,
        }
    }
    /// Sends to every subscriber; never blocks.
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }
    /// A new subscriber.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
