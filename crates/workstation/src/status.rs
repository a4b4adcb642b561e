//! The cache's own state, as the app's status bar and `stockpulse status` show it: is the
//! local store live, catching up, offline (since when), and how old is its data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the local store stands against its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CacheStatus {
    /// The state.
    pub state: CacheState,
    /// Since when the cache has been in this state (offline since T, live since T).
    pub since: DateTime<Utc>,
    /// The change position applied (the mirror's; `None` in the embedded default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub position: Option<String>,
    /// When the data was last known to match its source (the last catch-up or engine write).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub data_as_of: Option<DateTime<Utc>>,
    /// Parts of the store still loading (progressive hydration: `orders`, `daily_sales`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loading: Vec<String>,
    /// A human-readable explanation (why offline, what is too new).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub message: Option<String>,
}

/// What `stockpulse status` and the app's status bar say about the local cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheReport {
    /// The cache's state (`None`: there is no local store yet).
    pub status: Option<CacheStatus>,
    /// How far behind its source the cache's data may be (now − data as of).
    pub lag: Option<chrono::TimeDelta>,
    /// The last reconciliation: when, and how many buckets differed.
    pub last_reconciliation: Option<(DateTime<Utc>, usize)>,
}

/// Reads the cache's state from the local store at `path` without creating or migrating
/// anything. `mirrored`: a shared store is configured (so a mirror fills this cache); else the
/// engine writes it directly (the embedded default), and the data is as of the last
/// successful sync.
pub fn read_report(
    path: &std::path::Path,
    mirrored: bool,
    now: DateTime<Utc>,
) -> Result<CacheReport, crate::CacheError> {
    if !path.exists() {
        return Ok(CacheReport {
            status: None,
            lag: None,
            last_reconciliation: None,
        });
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(crate::CacheError::sqlite("open the local store"))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(crate::CacheError::sqlite("open the local store"))?;
    let has = |table: &str| -> bool {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )
        .unwrap_or(false)
    };
    let status = if mirrored {
        if has("mirror_state") {
            crate::mirror::state::load(&conn)?.map(|r| r.current_status(now))
        } else {
            None
        }
    } else if has("sync_runs") {
        let last: Option<i64> = conn
            .query_row(
                "SELECT max(finished_at) FROM sync_runs WHERE success = 1",
                [],
                |r| r.get(0),
            )
            .map_err(crate::CacheError::sqlite("read the last sync"))?;
        let as_of = last.and_then(DateTime::from_timestamp_millis);
        Some(CacheStatus {
            state: CacheState::Embedded,
            since: as_of.unwrap_or(now),
            position: None,
            data_as_of: as_of,
            loading: Vec::new(),
            message: None,
        })
    } else {
        None
    };
    let last_reconciliation = if has("mirror_reconciliations") {
        crate::mirror::reconcile::last(&conn)?.map(|(at, r)| (at, r.mismatched))
    } else {
        None
    };
    let lag = status
        .as_ref()
        .and_then(|s| s.data_as_of)
        .map(|t| now.signed_duration_since(t));
    Ok(CacheReport {
        status,
        lag,
        last_reconciliation,
    })
}

impl CacheReport {
    /// One line for `stockpulse status`.
    pub fn describe(&self) -> String {
        let Some(s) = &self.status else {
            return "cache: no local data yet (run `stockpulse mirror` or `stockpulse sync`)"
                .into();
        };
        let mut line = format!("cache: {}", s.state.as_str());
        if matches!(s.state, CacheState::Offline | CacheState::Stopped) {
            line.push_str(&format!(
                " since {}",
                s.since.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        match (&s.data_as_of, &self.lag) {
            (Some(t), Some(lag)) => line.push_str(&format!(
                ", data as of {} (lag {})",
                t.format("%Y-%m-%d %H:%M:%S UTC"),
                human(*lag)
            )),
            _ => line.push_str(", no data yet"),
        }
        if let Some(p) = &s.position {
            line.push_str(&format!(", position {p}"));
        }
        if !s.loading.is_empty() {
            line.push_str(&format!(", still loading: {}", s.loading.join(", ")));
        }
        if let Some((at, mismatched)) = self.last_reconciliation {
            line.push_str(&format!(
                "; last checksum comparison {} ({mismatched} buckets repaired)",
                at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        if let Some(m) = &s.message {
            line.push_str(&format!("\n  {m}"));
        }
        line
    }
}

fn human(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    if s >= 86_400 {
        format!("{}d{}h", s / 86_400, s % 86_400 / 3600)
    } else if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn store(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("cache.db");
        crate::local::open_or_create(&path).unwrap();
        path
    }

    #[test]
    fn no_file_means_no_data_yet() {
        let dir = tempfile::tempdir().unwrap();
        let r = read_report(&dir.path().join("none.db"), false, Utc::now()).unwrap();
        assert!(r.status.is_none());
        assert!(r.describe().contains("no local data yet"));
        assert!(
            !dir.path().join("none.db").exists(),
            "reading creates nothing"
        );
    }

    #[test]
    fn the_embedded_default_is_as_of_its_last_successful_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = store(&dir);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let now = Utc::now();
        let finished = now - chrono::TimeDelta::minutes(5);
        conn.execute(
            "INSERT INTO sync_runs (strategy, started_at, finished_at, success)
             VALUES ('smart', ?1, ?2, 1), ('critical', ?2, NULL, NULL)",
            [
                finished.timestamp_millis() - 1000,
                finished.timestamp_millis(),
            ],
        )
        .unwrap();
        let r = read_report(&path, false, now).unwrap();
        let s = r.status.clone().unwrap();
        assert_eq!(s.state, CacheState::Embedded);
        assert_eq!(
            s.data_as_of.unwrap().timestamp_millis(),
            finished.timestamp_millis()
        );
        let line = r.describe();
        assert!(line.starts_with("cache: embedded, data as of "), "{line}");
        assert!(line.contains("(lag 5m00s)"), "{line}");
    }

    #[test]
    fn a_mirror_whose_heartbeat_is_stale_reads_as_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = store(&dir);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let long_ago = Utc::now() - chrono::TimeDelta::minutes(10);
        crate::mirror::state::ensure(&conn, long_ago).unwrap();
        let live = CacheStatus {
            state: CacheState::Live,
            since: long_ago,
            position: None,
            data_as_of: None,
            loading: vec!["orders".into()],
            message: None,
        };
        crate::mirror::state::save_status(&conn, &live, long_ago).unwrap();
        let r = read_report(&path, true, long_ago + chrono::TimeDelta::seconds(5)).unwrap();
        assert_eq!(r.status.as_ref().unwrap().state, CacheState::Live);
        assert!(r.describe().contains("still loading: orders"));
        let r = read_report(&path, true, Utc::now()).unwrap();
        assert_eq!(r.status.as_ref().unwrap().state, CacheState::Stopped);
        assert!(
            r.describe().starts_with("cache: stopped since "),
            "{}",
            r.describe()
        );
    }
}
