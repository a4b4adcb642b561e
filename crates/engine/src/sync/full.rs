//! The full load: the persisted backfill plan (module [`super::plan`]) executed job by job.
//!
//! - **Pipelined.** A producer task fetches (and converts) the next job while the run writes
//!   the current one; the channel between them holds one job, so memory stays bounded.
//! - **Resumable.** A job's rows are written in batches of `full_batch`; its last batch
//!   carries the job's `done` mark and its quarantined records, in one transaction. A killed
//!   process leaves the job `running`; the next run resets it to `pending` and reads it
//!   again. Every write is an upsert by key, so the re-read duplicates nothing.
//! - **Fault-tolerant.** A job that fails after the client's retries is marked `failed` with
//!   the error and the run goes on with the others; the run then reports
//!   [`SyncError::JobsFailed`] and the next `full` run retries only what is not done.
//! - **Completion** rebuilds all derived data, sets every incremental cursor to the plan's
//!   horizon end, and marks the plan complete (so `smart` and `critical` may run).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use finale::{Bucket, Collection, Facility, Order, PartyGroup, Priority, Product, Window};
use tokio::sync::mpsc;

use super::incremental::{Mirror, StockRead, convert};
use super::plan::{Cursor, PLAN_KEY, PlanState, cursor_key, eta, plan_full};
use super::{Engine, Meter, Progress, ProgressUpdate, RunOutput, SyncError};
use crate::store::{BackfillJob, Batch, JobDone, JobKind, JobStatus, Quarantined, Scope};

/// One job, fetched and converted, ready to write.
struct Fetched {
    job: BackfillJob,
    batches: Vec<Batch>,
    quarantine: Vec<Quarantined>,
    seen: usize,
    records: u64,
    requests: u32,
    fetch_time: Duration,
}

impl Engine {
    pub(super) async fn full(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        // Whole seconds: both stores keep the plan's instants exactly (SQLite keeps
        // milliseconds), so the stored jobs compare equal to the re-planned ones.
        let now = self.now().trunc_subsecs(0);
        let plan = match self.plan_state().await? {
            Some(p) if p.completed_at.is_none() => {
                tracing::info!(start = %p.start, end = %p.end, "resuming the full load");
                p
            }
            _ => PlanState {
                start: now - self.settings.horizon,
                end: now,
                completed_at: None,
            },
        };
        let planned = plan_full(plan.start, plan.end, self.settings.window);
        meter.db(self.store.plan_backfill(&planned, now)).await?;
        let state = Batch {
            state: vec![(PLAN_KEY.to_owned(), json(&plan)?)],
            ..Batch::default()
        };
        meter.db(self.store.apply(&state, now)).await?;
        let interrupted = meter.db(self.store.reset_interrupted_jobs()).await?;
        if interrupted > 0 {
            progress.note(&format!(
                "resuming: {interrupted} interrupted job(s) will be read again"
            ));
        }
        let mut jobs: Vec<BackfillJob> = meter
            .db(self.store.backfill_jobs())
            .await?
            .into_iter()
            .filter(|j| planned.contains(&j.job))
            .collect();
        // Execution order is the plan's order (reference data, orders by window, stock).
        jobs.sort_by_key(|j| planned.iter().position(|p| *p == j.job));
        let total = jobs.len() as u64;
        if total != planned.len() as u64 {
            return Err(SyncError::State(format!(
                "the store holds {total} of the plan's {} jobs",
                planned.len()
            )));
        }
        let todo: Vec<BackfillJob> = jobs
            .into_iter()
            .filter(|j| j.status != JobStatus::Done && j.status != JobStatus::Split)
            .collect();
        let mut done = total - todo.len() as u64;
        progress.update(&ProgressUpdate {
            phase: "full load".into(),
            done,
            total,
            records: 0,
            eta: None,
        });

        let (tx, mut rx) = mpsc::channel::<Result<Fetched, (BackfillJob, SyncError)>>(1);
        let producer = {
            let engine = self.clone();
            let run_id = meter.run_id();
            tokio::spawn(async move {
                for job in todo {
                    if let Err(e) = engine.store.start_job(job.id, engine.now()).await {
                        let _ = tx.send(Err((job, e.into()))).await;
                        return;
                    }
                    let msg = match engine.fetch_job(&job, run_id).await {
                        Ok(f) => Ok(f),
                        Err(e) => Err((job, e)),
                    };
                    if tx.send(msg).await.is_err() {
                        return; // the writer stopped
                    }
                }
            })
        };

        let mut failures: Vec<String> = Vec::new();
        let (mut requests_done, mut jobs_timed) = (0u64, 0u64);
        let mut time_spent = Duration::ZERO;
        while let Some(msg) = rx.recv().await {
            let f = match msg {
                Ok(f) => f,
                Err((job, e)) => {
                    if let SyncError::Store(_) = e {
                        producer.abort();
                        return Err(e);
                    }
                    let what = format!("{} {}: {e}", job.job.collection, describe_window(&job));
                    tracing::error!(job = job.id, error = %e, "backfill job failed");
                    meter.pattern(format!("job failed: {}", job.job.collection));
                    meter
                        .db(self.store.fail_job(job.id, &e.to_string()))
                        .await?;
                    progress.note(&format!("failed: {what}"));
                    failures.push(what);
                    done += 1;
                    continue;
                }
            };
            let started = Instant::now();
            meter.saw(f.seen);
            meter.quarantined(&f.quarantine);
            let n = f.batches.len();
            let mut quarantine = Some(f.quarantine);
            for (i, mut batch) in f.batches.into_iter().enumerate() {
                if i + 1 == n {
                    batch.quarantine = quarantine.take().unwrap_or_default();
                    batch.job_done = Some(JobDone {
                        id: f.job.id,
                        records: f.records,
                        requests: f.requests,
                        at: self.now(),
                    });
                }
                let applied = meter.db(self.store.apply(&batch, self.now())).await?;
                out.applied.merge(applied);
            }
            done += 1;
            jobs_timed += 1;
            requests_done += u64::from(f.requests);
            time_spent += f.fetch_time + started.elapsed();
            let remaining = total - done;
            progress.update(&ProgressUpdate {
                phase: format!("{} {}", f.job.job.collection, describe_window(&f.job)),
                done,
                total,
                records: meter.seen(),
                eta: Some(self.backfill_eta(remaining, requests_done, jobs_timed, time_spent)),
            });
        }
        producer
            .await
            .map_err(|e| SyncError::State(format!("the backfill reader stopped: {e}")))?;

        self.refresh_derived(meter, out, Scope::All, progress)
            .await?;
        if let Some(first) = failures.first() {
            return Err(SyncError::JobsFailed {
                failed: failures.len() as u64,
                total,
                first: first.clone(),
            });
        }
        // Cursors continue from the horizon end (never moved backwards).
        let mut state = Vec::new();
        for c in [
            Collection::Facility,
            Collection::PartyGroup,
            Collection::Product,
            Collection::Order,
        ] {
            let key = cursor_key(c);
            let current: Option<Cursor> = self.read_state(&key).await?;
            if current.is_none_or(|cur| cur.until < plan.end) {
                state.push((key, json(&Cursor { until: plan.end })?));
            }
        }
        let completed = PlanState {
            completed_at: Some(self.now()),
            ..plan
        };
        state.push((PLAN_KEY.to_owned(), json(&completed)?));
        let batch = Batch {
            state,
            ..Batch::default()
        };
        meter.db(self.store.apply(&batch, self.now())).await?;
        Ok(())
    }

    /// The stored plan, if any.
    pub(super) async fn plan_state(&self) -> Result<Option<PlanState>, SyncError> {
        super::status::plan_state(&*self.store).await
    }

    /// A typed `sync_state` value.
    pub(super) async fn read_state<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SyncError> {
        super::status::read_state(&*self.store, key).await
    }

    /// Time left for `remaining` jobs at this run's pace, under the budget left right now.
    fn backfill_eta(
        &self,
        remaining: u64,
        requests_done: u64,
        jobs_done: u64,
        spent: Duration,
    ) -> Duration {
        let report = self.client.budget_report();
        let available: BTreeMap<Bucket, u64> = report
            .buckets
            .iter()
            .map(|b| {
                let free = if b.paused_until.is_some() {
                    0
                } else {
                    u64::from(b.limit.saturating_sub(b.in_window))
                };
                (b.bucket, free)
            })
            .collect();
        let per_job = requests_done as f64 / jobs_done.max(1) as f64;
        let time_per_job = spent.div_f64(jobs_done.max(1) as f64);
        eta(
            remaining,
            per_job,
            &available,
            &self.client.config().budgets,
            time_per_job,
        )
    }

    /// Reads one job from Finale and turns it into write batches (without the job mark).
    async fn fetch_job(&self, job: &BackfillJob, run_id: i64) -> Result<Fetched, SyncError> {
        let started = Instant::now();
        let at = self.now();
        let size = self.settings.full_batch.max(1);
        let prio = Priority::Backfill;
        let cap = self.client.config().cap;
        let collection: Collection = job
            .job
            .collection
            .parse()
            .map_err(|e: finale::collection::UnknownCollection| SyncError::State(e.to_string()))?;
        let check_cap = |n: usize| {
            if n >= cap {
                Err(SyncError::State(format!(
                    "`{collection}` returned {n} records, Finale's cap: a snapshot this large needs windowed reads, which this version does not do"
                )))
            } else {
                Ok(())
            }
        };
        let (mut batches, quarantine, seen, records, requests) = match (collection, job.job.kind) {
            (Collection::Facility, JobKind::Snapshot) => {
                let d = self.client.fetch_all::<Facility>(prio).await?;
                check_cap(d.records.len() + d.errors.len())?;
                self.snapshot_batches(d, run_id, at, size)
            }
            (Collection::PartyGroup, JobKind::Snapshot) => {
                let d = self.client.fetch_all::<PartyGroup>(prio).await?;
                check_cap(d.records.len() + d.errors.len())?;
                self.snapshot_batches(d, run_id, at, size)
            }
            (Collection::Product, JobKind::Snapshot) => {
                let d = self.client.fetch_all::<Product>(prio).await?;
                check_cap(d.records.len() + d.errors.len())?;
                self.snapshot_batches(d, run_id, at, size)
            }
            (Collection::Order, JobKind::Window) => {
                let window = Window::new(job.job.window_start, job.job.window_end)
                    .map_err(|e| SyncError::State(e.to_string()))?;
                let mut batch = self.client.fetch_window::<Order>(window, prio).await?;
                let lines = self
                    .client
                    .complete_order_lines(&mut batch.records, prio)
                    .await?;
                let seen = batch.records.len() + batch.errors.len();
                let (rows, q) = convert(
                    &batch.records,
                    &batch.errors,
                    run_id,
                    at,
                    self.account_zone(),
                );
                let records = rows.len() as u64;
                let batches = chunk(rows, size, Order::put);
                (batches, q, seen, records, batch.requests + lines.requests)
            }
            (Collection::InventoryItem, JobKind::Snapshot) => {
                let StockRead {
                    changes,
                    quarantine: q,
                    seen,
                } = self.read_stock(prio, run_id, at, None).await?;
                let records = changes.upserts.len() as u64;
                let mut batches = chunk(changes.upserts, size, |b, rows| b.stock_upserts = rows);
                batches.extend(chunk(changes.deletes, size, |b, keys| {
                    b.stock_deletes = keys
                }));
                (batches, q, seen, records, 1)
            }
            (c, kind) => {
                return Err(SyncError::State(format!(
                    "no backfill reader for a {} job of `{c}`",
                    kind.as_str()
                )));
            }
        };
        if batches.is_empty() {
            // A job with no rows still needs a batch to carry its mark.
            batches.push(Batch::default());
        }
        Ok(Fetched {
            job: job.clone(),
            batches,
            quarantine,
            seen,
            records,
            requests,
            fetch_time: started.elapsed(),
        })
    }

    /// Converts an unfiltered read into batches.
    #[allow(clippy::type_complexity)]
    fn snapshot_batches<T: Mirror>(
        &self,
        d: finale::Decoded<T>,
        run_id: i64,
        at: DateTime<Utc>,
        size: usize,
    ) -> (Vec<Batch>, Vec<Quarantined>, usize, u64, u32) {
        let seen = d.records.len() + d.errors.len();
        let (rows, q) = convert(&d.records, &d.errors, run_id, at, self.account_zone());
        let records = rows.len() as u64;
        (chunk(rows, size, T::put), q, seen, records, 1)
    }
}

/// Splits rows into batches of `size` (none for no rows).
pub(super) fn chunk<R>(rows: Vec<R>, size: usize, put: impl Fn(&mut Batch, Vec<R>)) -> Vec<Batch> {
    let mut out = Vec::with_capacity(rows.len().div_ceil(size.max(1)).max(1));
    let mut it = rows.into_iter().peekable();
    while it.peek().is_some() {
        let part: Vec<R> = it.by_ref().take(size.max(1)).collect();
        let mut b = Batch::default();
        put(&mut b, part);
        out.push(b);
    }
    out
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, SyncError> {
    serde_json::to_value(v).map_err(|e| SyncError::State(e.to_string()))
}

fn describe_window(job: &BackfillJob) -> String {
    match job.job.kind {
        JobKind::Snapshot => "snapshot".to_owned(),
        JobKind::Window => format!(
            "{}..{}",
            job.job.window_start.format("%Y-%m-%d"),
            job.job.window_end.format("%Y-%m-%d")
        ),
    }
}
