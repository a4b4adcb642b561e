//! Records Finale would not give us, kept for a retry instead of stopping the sync.
//!
//! # The model
//!
//! A record a read met but could not store is kept for a retry: an order whose own
//! `GET {orderUrl}` (for its lines) fails for that order alone (a 404, an error body, a body
//! that does not decode; see [`finale::LineFetchReport::unreadable`]), and any record with a
//! URL that the decoder dropped, the schema rejected or that was stored with a bad optional
//! field left empty ([`to_retry`]; a corrupted response is worth reading again, and a record
//! Finale really holds wrong is worth showing until someone fixes it). Such a record is:
//!
//! 1. **quarantined** in `sync_errors` with what the read did give us (an order's header, a
//!    record's raw JSON) and the reason, and not stored: an order without its lines would
//!    count no sales;
//! 2. **listed** in `sync_state` under [`UNREADABLE_KEY`] ([`Unreadable`]), in the same
//!    transaction that moves the order cursor (or completes the full-load job), so the
//!    cursor moves on for every other order and nothing is forgotten;
//! 3. **retried** by later smart and critical runs with a `GET` each, the longest-waiting
//!    first and at most [`RETRIES_PER_RUN`] a run, until it reads (then it is stored like any
//!    order and leaves the list) or a person resolves it (`stockpulse resolve <url>` takes it
//!    off the list; `stockpulse status` lists what is waiting).
//!
//! The list is read once per run and written whole with each write that changes it; runs
//! are serialised by the writer role, so no update is lost.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `sync_state` key of the [`Unreadable`] list.
pub const UNREADABLE_KEY: &str = "unreadable";

/// How many listed records one run retries (each costs a GET).
pub const RETRIES_PER_RUN: usize = 50;

/// Records waiting for a retry (`sync_state` [`UNREADABLE_KEY`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    /// One per record, by collection and URL.
    pub records: Vec<UnreadableRecord>,
}

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableRecord {
    /// Its collection (`order`).
    pub collection: String,
    /// Its URL.
    pub url: String,
    /// Why the last attempt failed.
    pub reason: String,
    /// The HTTP status of the last attempt, when there was a response.
    pub status: Option<u16>,
    /// When it first failed.
    pub first_failed: DateTime<Utc>,
    /// When it was last tried.
    pub last_tried: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: u32,
}

impl Unreadable {
    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records (or counts one more attempt of) a failed read.
    pub fn failed(
        &mut self,
        collection: &str,
        url: &str,
        reason: &str,
        status: Option<u16>,
        at: DateTime<Utc>,
    ) {
        match self
            .records
            .iter_mut()
            .find(|r| r.collection == collection && r.url == url)
        {
            Some(r) => {
                r.reason = reason.to_owned();
                r.status = status;
                r.last_tried = at;
                r.attempts += 1;
            }
            None => self.records.push(UnreadableRecord {
                collection: collection.to_owned(),
                url: url.to_owned(),
                reason: reason.to_owned(),
                status,
                first_failed: at,
                last_tried: at,
                attempts: 1,
            }),
        }
        self.records
            .sort_by(|a, b| (&a.collection, &a.url).cmp(&(&b.collection, &b.url)));
    }

    /// Takes a record off the list (it was read, or resolved by hand); `true` if it was on it.
    pub fn remove(&mut self, collection: &str, url: &str) -> bool {
        let before = self.records.len();
        self.records
            .retain(|r| !(r.collection == collection && r.url == url));
        self.records.len() != before
    }

    /// The URLs of `collection` to retry in this run: the longest-waiting first (by last
    /// attempt), at most `limit`.
    pub fn due(&self, collection: &str, limit: usize) -> Vec<String> {
        let mut due: Vec<&UnreadableRecord> = self
            .records
            .iter()
            .filter(|r| r.collection == collection)
            .collect();
        due.sort_by_key(|r| (r.last_tried, r.url.as_str()));
        due.into_iter().take(limit).map(|r| r.url.clone()).collect()
    }
}

/// The records of a read to read again, with the reason: every quarantine record that names
/// a record URL (a key starting with `/`). The decoder dropped such a record, the schema
/// rejected it, or it was stored with a bad optional field left empty (a cost, a date): in
/// each case the store does not hold what Finale holds. Stock rows have no URL; a record
/// whose URL itself was unreadable cannot be asked for again.
pub fn to_retry(quarantine: &[store::Quarantined]) -> Vec<(&str, &str)> {
    quarantine
        .iter()
        .filter_map(|q| {
            let key = q.record_key.as_deref()?;
            key.starts_with('/').then_some((key, q.reason.as_str()))
        })
        .collect()
}

/// The executor side: resolving a record by hand.
impl super::Engine {
    /// Takes `url` off the retry list ("resolved by hand": the record was fixed or deleted in
    /// Finale, or is not wanted). Takes the writer role for the write (waiting as configured).
    /// Returns the record that was listed, `None` if it was not.
    pub async fn resolve_unreadable(
        &self,
        url: &str,
    ) -> Result<Option<UnreadableRecord>, super::SyncError> {
        let me = store::WriterInfo {
            runner: self.runner.clone(),
            purpose: "resolve".to_owned(),
        };
        let lease = self
            .store
            .acquire_writer(&me, self.settings.writer_wait)
            .await?;
        let result = async {
            let mut list: Unreadable = self.read_state(UNREADABLE_KEY).await?.unwrap_or_default();
            let found = list.records.iter().find(|r| r.url == url).cloned();
            if let Some(r) = &found {
                list.remove(&r.collection, url);
                let batch = store::Batch {
                    state: vec![(
                        UNREADABLE_KEY.to_owned(),
                        serde_json::to_value(&list)
                            .map_err(|e| super::SyncError::State(e.to_string()))?,
                    )],
                    ..store::Batch::default()
                };
                self.store.apply(&batch, self.now()).await?;
                tracing::info!(%url, "unreadable record resolved by hand");
            }
            Ok(found)
        }
        .await;
        lease.release().await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Quarantined;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn records_with_a_url_are_retried() {
        let q = |key: Option<&str>| Quarantined {
            run_id: None,
            collection: "product".into(),
            record_key: key.map(str::to_owned),
            reason: "bad".into(),
            raw_payload: None,
            raw_text: Some("x".to_owned()),
            at: t("2026-01-01T00:00:00Z"),
        };
        let quarantine = [
            q(Some("/a/product/dropped")),
            q(None),
            q(Some("SKU|facility")),
            q(Some("/a/product/cost-unreadable")),
        ];
        let urls: Vec<&str> = to_retry(&quarantine).into_iter().map(|(u, _)| u).collect();
        assert_eq!(urls, ["/a/product/dropped", "/a/product/cost-unreadable"]);
    }

    #[test]
    fn failures_are_counted_once_per_record_and_reads_take_them_off() {
        let mut u = Unreadable::default();
        u.failed(
            "order",
            "/a/order/2",
            "404",
            Some(404),
            t("2026-01-01T00:00:00Z"),
        );
        u.failed(
            "order",
            "/a/order/1",
            "404",
            Some(404),
            t("2026-01-01T00:00:00Z"),
        );
        u.failed(
            "order",
            "/a/order/2",
            "error body",
            None,
            t("2026-01-02T00:00:00Z"),
        );
        assert_eq!(u.records.len(), 2);
        let two = &u.records[1];
        assert_eq!(
            (
                two.url.as_str(),
                two.attempts,
                two.reason.as_str(),
                two.status
            ),
            ("/a/order/2", 2, "error body", None)
        );
        assert_eq!(two.first_failed, t("2026-01-01T00:00:00Z"));
        // Longest waiting first.
        assert_eq!(u.due("order", 10), vec!["/a/order/1", "/a/order/2"]);
        assert_eq!(u.due("order", 1), vec!["/a/order/1"]);
        assert!(u.due("product", 10).is_empty());
        assert!(u.remove("order", "/a/order/1"));
        assert!(!u.remove("order", "/a/order/1"));
        assert!(!u.is_empty());
        assert!(u.remove("order", "/a/order/2"));
        assert!(u.is_empty());
    }
}
