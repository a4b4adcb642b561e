//! What `stockpulse status` shows about the engine, read from the store alone (no Finale
//! connection needed): the backfill plan's progress and ETA, the incremental cursors.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use finale::{Bucket, BudgetConfig, Collection};
use serde::Serialize;

use super::SyncError;
use super::plan::{Cursor, PLAN_KEY, PlanState, cursor_key, eta};
use store::{JobStatus, Store};

/// A typed `sync_state` value (the engine's cursors and plan).
pub async fn read_state<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, SyncError> {
    match store.get_state(key).await? {
        None => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| SyncError::State(format!("`{key}`: {e}"))),
    }
}

/// The stored backfill plan, if one was ever made.
pub async fn plan_state(store: &dyn Store) -> Result<Option<PlanState>, SyncError> {
    read_state(store, PLAN_KEY).await
}

/// The full load's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackfillStatus {
    /// The plan, if one was ever made.
    pub plan: Option<PlanState>,
    /// Jobs in the plan.
    pub total: u64,
    /// Jobs done.
    pub done: u64,
    /// Jobs that failed last time (retried by the next `full`).
    pub failed: u64,
    /// Jobs running now (or left by a killed process).
    pub running: u64,
    /// Records stored by done jobs.
    pub records: u64,
    /// Requests made by done jobs.
    pub requests: u64,
    /// Time left at the observed requests per job, with a full budget (a fresh process).
    pub eta: Option<Duration>,
    /// The newest job error.
    pub last_error: Option<String>,
}

/// Reads the backfill status. The ETA assumes `budgets` are untouched (no other run is
/// spending them) and one second per request where the budget is not the limit.
pub async fn backfill_status(
    store: &dyn Store,
    budgets: &BudgetConfig,
) -> Result<BackfillStatus, SyncError> {
    let plan = plan_state(store).await?;
    let jobs = store.backfill_jobs().await?;
    let jobs: Vec<_> = match &plan {
        Some(p) => super::plan::plan_full(p.start, p.end, chrono::Duration::days(30))
            .into_iter()
            .filter_map(|pj| jobs.iter().find(|j| j.job == pj).cloned())
            .collect(),
        None => Vec::new(),
    };
    let count = |s: JobStatus| jobs.iter().filter(|j| j.status == s).count() as u64;
    let done = count(JobStatus::Done);
    let requests: u64 = jobs
        .iter()
        .filter(|j| j.status == JobStatus::Done)
        .map(|j| u64::from(j.requests.max(0).unsigned_abs()))
        .sum();
    let remaining = jobs.len() as u64 - done;
    let available: BTreeMap<Bucket, u64> = Bucket::ALL
        .iter()
        .map(|&b| (b, u64::from(budgets.limit(b))))
        .collect();
    let eta = (plan.is_some()).then(|| {
        eta(
            remaining,
            requests as f64 / done.max(1) as f64,
            &available,
            budgets,
            Duration::from_secs(1),
        )
    });
    Ok(BackfillStatus {
        plan,
        total: jobs.len() as u64,
        done,
        failed: count(JobStatus::Failed),
        running: count(JobStatus::Running),
        records: jobs
            .iter()
            .filter(|j| j.status == JobStatus::Done)
            .map(|j| j.records.max(0).unsigned_abs())
            .sum(),
        requests,
        eta,
        last_error: jobs.iter().rev().find_map(|j| j.last_error.clone()),
    })
}

/// Every incremental cursor: collection → "changes before this instant have been read".
pub async fn cursors(store: &dyn Store) -> Result<BTreeMap<String, DateTime<Utc>>, SyncError> {
    let mut out = BTreeMap::new();
    for c in [
        Collection::Facility,
        Collection::PartyGroup,
        Collection::Product,
        Collection::Order,
    ] {
        if let Some(cur) = read_state::<Cursor>(store, &cursor_key(c)).await? {
            out.insert(c.path().to_owned(), cur.until);
        }
    }
    Ok(out)
}

/// Records earlier runs could not read and later runs retry (module
/// [`super::unreadable`]).
pub async fn unreadable(store: &dyn Store) -> Result<super::unreadable::Unreadable, SyncError> {
    Ok(read_state(store, super::unreadable::UNREADABLE_KEY)
        .await?
        .unwrap_or_default())
}
