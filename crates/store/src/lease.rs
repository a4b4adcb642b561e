//! The writer role's **lease**: what both stores keep so that a frozen or vanished writer is
//! replaced within minutes, and so that a writer that lost the role cannot write any more.
//!
//! # The model
//!
//! One engine at a time holds the writer role of a store. Before this lease the role was a
//! lock alone (a Postgres session advisory lock, a `flock` beside the SQLite file). A lock
//! notices a *dead* holder (its socket or file handle closes), but not a *frozen* one: a
//! laptop closed mid-sync, a stopped process or a hung VM keeps its sockets and its file
//! open, and the role stayed taken for as long as it stayed frozen. So the role is now held
//! by two things together:
//!
//! - **The lock**, as before: it tells a contender at once that a holder died.
//! - **The lease row** (`writer_lease`, one row while someone holds the role): the holder's
//!   name and purpose, a random `token`, `acquired_at`, `heartbeat_at` and `expires_at =
//!   heartbeat_at + the holder's TTL`, and `holder_pid`: set while the holder also holds the
//!   lock, `NULL` while it does not. The holder renews it every [`renew_every`] (a quarter of
//!   its TTL) from a background task. Because the row carries its own expiry, a contender
//!   never needs the holder's settings; on Postgres every time comes from the server's clock,
//!   so workstations' clocks do not matter.
//!
//! A contender first tries the lock, then reads the row and applies [`claim`]:
//!
//! | row | contender got the lock | decision |
//! |---|---|---|
//! | none | yes | take |
//! | none | no | busy: someone locked and has not written the row yet (or runs an older Stockpulse) |
//! | expired | either | **take over**: the holder stopped renewing |
//! | live, `holder_pid` set | yes | take: the holder had the lock and lost it (it died, or its session did) |
//! | live, `holder_pid` set | no | busy |
//! | live, `holder_pid` NULL | either | busy: a holder that took the role over an expired lease and waits for the frozen one's lock |
//!
//! Taking over an expired lease writes a new token with `holder_pid` NULL when the frozen
//! holder still has the lock. On Postgres the new holder then ends the frozen holder's
//! sessions (`pg_terminate_backend`: its lock session, and any of its transactions still
//! holding the lease row) and takes the lock itself; on SQLite a frozen process's `flock`
//! cannot be taken from it, so the new holder retries the lock at every renewal and records
//! `holder_pid` once it has it.
//!
//! # Fencing
//!
//! A holder that wakes up after losing its lease must not write. Every write transaction of
//! a store that holds a lease checks that the row still carries its token, inside the
//! transaction (Postgres: `SELECT ... FOR KEY SHARE`, and a takeover changes the token, a
//! key update that waits for such transactions; SQLite: temporary triggers on every table of
//! the holder's connection, inside the `BEGIN IMMEDIATE` transaction that the takeover's own
//! write would have to wait for). The write then fails with
//! [`crate::StoreError::LostWriterRole`] and nothing of it commits. The heartbeat notices the
//! loss too ([`LeaseWatch`]) and the engine stops the run at once instead of reading Finale
//! for nothing until its next write.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// The default lease TTL: a frozen holder is replaced after at most this long (plus a
/// contender's next attempt).
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

/// The longest TTL the configuration accepts (the issue: expiry at most 5 minutes).
pub const MAX_TTL: Duration = Duration::from_secs(300);

/// How often a holder renews a lease of `ttl`: a quarter of it (so three renewals can be
/// late or lost before it expires), at least every 100 ms.
pub fn renew_every(ttl: Duration) -> Duration {
    (ttl / 4).max(Duration::from_millis(100))
}

/// The stored lease as a contender reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The holder's token.
    pub token: String,
    /// The holder's runner name (`host:pid`).
    pub runner: String,
    /// What it is doing.
    pub purpose: String,
    /// Set while the holder holds the lock too.
    pub holder_pid: Option<i64>,
    /// Whether `expires_at` has passed (by the store's clock).
    pub expired: bool,
}

impl LeaseRow {
    /// `runner (purpose)`, how a holder is named in messages.
    pub fn holder(&self) -> String {
        format!("{} ({})", self.runner, self.purpose)
    }
}

/// What a contender does (see the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Take the role: write a new lease row.
    Take,
    /// Take over an expired lease: write a new lease row and end the old holder's sessions
    /// where the store can.
    TakeOver,
    /// The role is held.
    Busy,
}

/// The rule of the module docs' table: the pure heart of acquiring the role.
pub fn claim(row: Option<&LeaseRow>, have_lock: bool) -> Claim {
    match row {
        None if have_lock => Claim::Take,
        None => Claim::Busy,
        Some(r) if r.expired => Claim::TakeOver,
        Some(r) if have_lock && r.holder_pid.is_some() => Claim::Take,
        Some(_) => Claim::Busy,
    }
}

/// The lease as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The holder's runner name.
    pub runner: String,
    /// What it is doing.
    pub purpose: String,
    /// When it took the role.
    pub acquired_at: DateTime<Utc>,
    /// Its last renewal.
    pub heartbeat_at: DateTime<Utc>,
    /// When the lease runs out unless renewed.
    pub expires_at: DateTime<Utc>,
    /// Whether the holder also holds the lock (see the module docs).
    pub locked: bool,
    /// The store's clock when this was read (Postgres: the server's), so ages do not depend
    /// on the reader's clock.
    pub read_at: DateTime<Utc>,
}

impl LeaseInfo {
    /// `runner (purpose)`.
    pub fn holder(&self) -> String {
        format!("{} ({})", self.runner, self.purpose)
    }

    /// Whether the lease had run out when it was read.
    pub fn expired(&self) -> bool {
        self.expires_at <= self.read_at
    }

    /// How long ago the last heartbeat was, when it was read.
    pub fn heartbeat_age(&self) -> TimeDelta {
        (self.read_at - self.heartbeat_at).max(TimeDelta::zero())
    }
}

/// Shared by a lease and its heartbeat task: whether the role was lost, and to whom.
#[derive(Debug, Default)]
pub struct LeaseWatch {
    lost: Mutex<Option<String>>,
    notify: Notify,
    paused: std::sync::atomic::AtomicBool,
}

impl LeaseWatch {
    /// Records that the role was lost to `holder` (the first report wins).
    pub fn mark_lost(&self, holder: String) {
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        if lost.is_none() {
            tracing::error!(%holder, "lost the writer role: another engine took over the expired lease");
            *lost = Some(holder);
        }
        drop(lost);
        self.notify.notify_waiters();
    }

    /// To whom the role was lost, if it was.
    pub fn lost_to(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Completes when the role is lost, with the new holder.
    pub async fn lost(&self) -> String {
        loop {
            let notified = self.notify.notified();
            if let Some(h) = self.lost_to() {
                return h;
            }
            notified.await;
        }
    }

    /// Stops renewals (a test hook: the holder then behaves as if frozen).
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Whether renewals are stopped.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }
}

/// A fresh lease token: 32 hex digits, unique per acquisition (a BLAKE3 digest of the
/// process id, the time, a process-wide counter and an address; it identifies, it guards
/// nothing secret). Only `[0-9a-f]`, so it is safe to embed in DDL (SQLite's fence triggers).
pub fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let local = 0u8;
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    h.update(&nanos.to_le_bytes());
    h.update(&n.to_le_bytes());
    h.update(&(std::ptr::addr_of!(local) as usize).to_le_bytes());
    h.finalize().to_hex()[..32].to_owned()
}

/// Whether `token` looks like one of [`new_token`]'s.
pub fn is_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(expired: bool, pid: Option<i64>) -> LeaseRow {
        LeaseRow {
            token: "ab".into(),
            runner: "host-a:1".into(),
            purpose: "full".into(),
            holder_pid: pid,
            expired,
        }
    }

    #[test]
    fn the_claim_table() {
        use Claim::*;
        assert_eq!(claim(None, true), Take);
        assert_eq!(claim(None, false), Busy);
        for lock in [true, false] {
            assert_eq!(claim(Some(&row(true, Some(7))), lock), TakeOver);
            assert_eq!(claim(Some(&row(true, None)), lock), TakeOver);
            assert_eq!(claim(Some(&row(false, None)), lock), Busy);
        }
        assert_eq!(claim(Some(&row(false, Some(7))), true), Take);
        assert_eq!(claim(Some(&row(false, Some(7))), false), Busy);
    }

    #[test]
    fn renewal_is_a_quarter_of_the_ttl() {
        assert_eq!(renew_every(DEFAULT_TTL), Duration::from_secs(30));
        assert_eq!(
            renew_every(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            renew_every(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn tokens_are_fresh_hex() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(is_token(&a) && is_token(&b));
        assert!(!is_token("x'; DROP"));
    }

    #[tokio::test]
    async fn the_watch_reports_a_loss_once() {
        let w = std::sync::Arc::new(LeaseWatch::default());
        assert_eq!(w.lost_to(), None);
        let w2 = w.clone();
        let waiter = tokio::spawn(async move { w2.lost().await });
        tokio::task::yield_now().await;
        w.mark_lost("host-b:2 (smart)".into());
        w.mark_lost("someone else".into());
        assert_eq!(waiter.await.expect("join"), "host-b:2 (smart)");
        assert_eq!(w.lost_to().as_deref(), Some("host-b:2 (smart)"));
    }
}
