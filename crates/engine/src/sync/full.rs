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
//! - **Progressive.** The plan's order (module [`super::plan`]) lands products, locations and
//!   stock first, then orders newest first. The derived rows are refreshed as each part
//!   lands — the items' stock after the stock snapshot, daily sales and velocities once the
//!   last 90 days of orders are in — and a progress note says what is usable already.
//! - **Completion** rebuilds all derived data, sets every incremental cursor to the plan's
//!   horizon end, and marks the plan complete (so `smart` and `critical` may run).
//! - **At the cap** (module [`super::cap`]): a reference snapshot that reaches Finale's entity
//!   cap is stored as far as it goes and extends the plan with `lastUpdatedDate` window jobs
//!   of its collection, run right after it; the stock snapshot reads stock through GraphQL.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use finale::{
    Bucket, Collection, Facility, FinaleRecord, Order, PartyGroup, Priority, Product, Window,
};
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use super::cap::{WINDOWED_KEY, Windowed, expand_windowed, window_jobs};
use super::incremental::{Lines, Mirror, QUIET_LAG, StockRead};
use super::plan::{Cursor, PLAN_KEY, PlanState, cursor_key, eta, plan_full, velocity_ready};
use super::unreadable::UNREADABLE_KEY;
use super::{Engine, Meter, Progress, ProgressUpdate, RunOutput, SyncError};
use store::{BackfillJob, Batch, JobDone, JobKind, JobStatus, Quarantined, Scope};

/// One job, fetched and converted, ready to write.
struct Fetched {
    job: BackfillJob,
    batches: Vec<Batch>,
    quarantine: Vec<Quarantined>,
    seen: usize,
    records: u64,
    requests: u32,
    fetch_time: Duration,
    /// Error patterns met while reading (for the run's metrics).
    patterns: Vec<String>,
    /// The snapshot reached the cap: its collection is read in windows from here.
    windowed_from: Option<DateTime<Utc>>,
    /// Jobs this one added to the plan (window jobs of a capped snapshot).
    added_jobs: u64,
    /// `sync_state` written with the job's done mark (the plan's windowed collections).
    state: Vec<(String, serde_json::Value)>,
    /// What reading the job's records did (order lines read or found unreadable, module
    /// `unreadable`), with the URLs read; `None` for the stock snapshot.
    lines: Option<(Lines, Vec<String>)>,
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
            previous => PlanState {
                start: now - self.settings.horizon,
                end: now,
                completed_at: None,
                // A re-read: the store stays loaded meanwhile.
                first_completed_at: previous.and_then(|p| p.first_completed_at.or(p.completed_at)),
            },
        };
        // A re-read of a loaded store may be taken in slices (see `SyncSettings::full_slice`).
        let deadline = self
            .settings
            .full_slice
            .filter(|_| plan.loaded())
            .map(|d| Instant::now() + d);
        let windowed = self.windowed_floors(plan.end).await?;
        let planned = expand_windowed(
            plan_full(plan.start, plan.end, self.settings.window),
            &windowed,
            self.settings.window,
        );
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
        // Execution order is the plan's order (reference data, stock, orders newest first).
        jobs.sort_by_key(|j| planned.iter().position(|p| *p == j.job));
        let mut total = jobs.len() as u64;
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
        // Dropping the run (a cancelled `serve` run, a caller's timeout) aborts the reader, so
        // nothing goes on fetching, and spending budget, for a run nobody awaits.
        let producer = {
            let engine = self.clone();
            let run_id = meter.run_id();
            let mut windowed = Windowed {
                plan_end: Some(plan.end),
                floors: windowed,
            };
            AbortOnDropHandle::new(tokio::spawn(async move {
                let mut queue: VecDeque<BackfillJob> = todo.into();
                let mut started = 0u64;
                while let Some(job) = queue.pop_front() {
                    // Every slice does at least one job, so slices always progress.
                    if started > 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                        return false; // the slice is over: the next run continues
                    }
                    started += 1;
                    if let Err(e) = engine.store.start_job(job.id, engine.now()).await {
                        let _ = tx.send(Err((job, e.into()))).await;
                        return false;
                    }
                    let msg = match engine.fetch_job(&job, run_id).await {
                        Ok(mut f) => match f.windowed_from {
                            Some(floor) => {
                                match engine.extend_plan(&job, floor, &mut windowed).await {
                                    Ok((added, state)) => {
                                        f.added_jobs = added.len() as u64;
                                        f.state = state;
                                        // The window jobs run next, in order.
                                        for j in added.into_iter().rev() {
                                            queue.push_front(j);
                                        }
                                        Ok(f)
                                    }
                                    Err(e) => Err((job, e)),
                                }
                            }
                            None => Ok(f),
                        },
                        Err(e) => Err((job, e)),
                    };
                    if tx.send(msg).await.is_err() {
                        return false; // the writer stopped
                    }
                }
                true
            }))
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
            for p in &f.patterns {
                meter.pattern(p.clone());
            }
            total += f.added_jobs;
            let n = f.batches.len();
            let mut quarantine = Some(f.quarantine);
            let mut state = Some(f.state);
            if let Some((lines, read)) = &f.lines {
                let mut list = self.unreadable_list(out).await?;
                let before = list.clone();
                let path = f.job.job.collection.as_str();
                let got = quarantine.as_deref().unwrap_or_default();
                lines.update(&mut list, path, read, got, self.now());
                if list != before {
                    state
                        .get_or_insert_default()
                        .push((UNREADABLE_KEY.to_owned(), json(&list)?));
                }
                out.unreadable = Some(list);
            }
            for (i, mut batch) in f.batches.into_iter().enumerate() {
                if i + 1 == n {
                    batch.quarantine = quarantine.take().unwrap_or_default();
                    batch.state.extend(state.take().unwrap_or_default());
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
            // Progressive loading: refresh what this job made usable.
            if f.job.job.collection == Collection::InventoryItem.path() {
                let rows = self
                    .refresh_derived(meter, out, Scope::Products(Vec::new()), progress)
                    .await?;
                progress.note(&format!(
                    "usable now: {} products with their stock per location (orders and sales \
                     history still loading)",
                    rows.len()
                ));
            } else if velocity_ready(&f.job.job, plan.start, plan.end) {
                self.refresh_derived(meter, out, Scope::All, progress)
                    .await?;
                progress.note(
                    "usable now: sales velocity and days of stock left (the last 90 days of \
                     orders are in; older history still loading)",
                );
            }
        }
        let finished = producer
            .await
            .map_err(|e| SyncError::State(format!("the backfill reader stopped: {e}")))?;

        self.refresh_derived(meter, out, Scope::All, progress)
            .await?;
        if !finished && failures.is_empty() {
            progress.note(&format!(
                "re-read paused after this slice: {done} of {total} jobs done; the next run \
                 continues (smart and critical go on meanwhile)"
            ));
            return Ok(());
        }
        if let Some(first) = failures.first() {
            return Err(SyncError::JobsFailed {
                failed: failures.len() as u64,
                total,
                first: first.clone(),
            });
        }
        // Cursors continue from the horizon end on Finale's clock, less the quiet lag (never
        // moved backwards): when the local clock runs ahead of Finale's, the plan's end lies in
        // Finale's future, and a cursor there would skip what Finale stamps until its clock
        // gets there; the lag covers a Finale whose stamps lag its own `Date` header (or that
        // sends none), for the price of re-reading one hour once.
        let behind = self
            .client
            .finale_offset()
            .map_or(chrono::TimeDelta::zero(), |o| {
                o.min(chrono::TimeDelta::zero())
            });
        let until = (plan.end + behind - QUIET_LAG).trunc_subsecs(0);
        let mut state = Vec::new();
        for c in [
            Collection::Facility,
            Collection::PartyGroup,
            Collection::Product,
            Collection::Order,
        ] {
            let key = cursor_key(c);
            let current: Option<Cursor> = self.read_state(&key).await?;
            if current.is_none_or(|cur| cur.until < until) {
                state.push((key, json(&Cursor { until })?));
            }
        }
        let at = self.now();
        let completed = PlanState {
            completed_at: Some(at),
            first_completed_at: plan.first_completed_at.or(Some(at)),
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

    /// [`SyncError::NoFullLoad`] unless a full load has completed (what smart, critical and
    /// the stock pulse compare against).
    pub(super) async fn require_full_load(&self) -> Result<(), SyncError> {
        match self.plan_state().await? {
            Some(p) if p.loaded() => Ok(()),
            _ => Err(SyncError::NoFullLoad),
        }
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
        let collection: Collection = job
            .job
            .collection
            .parse()
            .map_err(|e: finale::collection::UnknownCollection| SyncError::State(e.to_string()))?;
        let mut windowed_from = None;
        let mut state = Vec::new();
        let window = || {
            Window::new(job.job.window_start, job.job.window_end)
                .map_err(|e| SyncError::State(e.to_string()))
        };
        let mut patterns = Vec::new();
        let ((mut batches, quarantine, seen, records, requests), lines) =
            match (collection, job.job.kind) {
                (Collection::Facility, JobKind::Snapshot) => {
                    let d = self.client.fetch_all::<Facility>(prio).await?;
                    windowed_from = self.floor_if_capped(&d, prio).await;
                    self.snapshot_batches(d, run_id, at, size)
                }
                (Collection::PartyGroup, JobKind::Snapshot) => {
                    let d = self.client.fetch_all::<PartyGroup>(prio).await?;
                    windowed_from = self.floor_if_capped(&d, prio).await;
                    self.snapshot_batches(d, run_id, at, size)
                }
                (Collection::Product, JobKind::Snapshot) => {
                    let d = self.client.fetch_all::<Product>(prio).await?;
                    windowed_from = self.floor_if_capped(&d, prio).await;
                    self.snapshot_batches(d, run_id, at, size)
                }
                // Window jobs of a capped snapshot (module `cap`).
                (Collection::Facility, JobKind::Window) => {
                    self.window_batches::<Facility>(window()?, run_id, at, size, &mut patterns)
                        .await?
                }
                (Collection::PartyGroup, JobKind::Window) => {
                    self.window_batches::<PartyGroup>(window()?, run_id, at, size, &mut patterns)
                        .await?
                }
                (Collection::Product, JobKind::Window) => {
                    self.window_batches::<Product>(window()?, run_id, at, size, &mut patterns)
                        .await?
                }
                (Collection::Order, JobKind::Window) => {
                    self.window_batches::<Order>(window()?, run_id, at, size, &mut patterns)
                        .await?
                }
                (Collection::InventoryItem, JobKind::Snapshot) => {
                    let StockRead {
                        changes,
                        quarantine: q,
                        seen,
                        requests,
                        state: s,
                    } = self.read_stock(prio, run_id, at, None).await?;
                    state = s;
                    let records = changes.upserts.len() as u64;
                    let mut batches =
                        chunk(changes.upserts, size, |b, rows| b.stock_upserts = rows);
                    batches.extend(chunk(changes.deletes, size, |b, keys| {
                        b.stock_deletes = keys
                    }));
                    ((batches, q, seen, records, requests), None)
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
            patterns,
            windowed_from,
            added_jobs: 0,
            state,
            lines,
        })
    }

    /// Where the window jobs of a snapshot start, if the snapshot reached the cap.
    async fn floor_if_capped<T: FinaleRecord>(
        &self,
        d: &finale::Decoded<T>,
        prio: Priority,
    ) -> Option<DateTime<Utc>> {
        if !d.capped {
            return None;
        }
        let floor = self.windowed_floor(&d.records, prio).await;
        tracing::warn!(
            collection = %T::COLLECTION,
            records = d.records.len(),
            %floor,
            "the snapshot reached Finale's entity cap: reading the collection in windows"
        );
        Some(floor)
    }

    /// Adds the window jobs of a capped snapshot `job` to the stored plan and returns them
    /// (in plan order) with the `sync_state` that makes a resumed plan include them.
    async fn extend_plan(
        &self,
        job: &BackfillJob,
        floor: DateTime<Utc>,
        windowed: &mut Windowed,
    ) -> Result<(Vec<BackfillJob>, Vec<(String, serde_json::Value)>), SyncError> {
        let planned = window_jobs(
            &job.job.collection,
            floor,
            job.job.window_end,
            self.settings.window,
        );
        self.store.plan_backfill(&planned, self.now()).await?;
        let mut added: Vec<BackfillJob> = self
            .store
            .backfill_jobs()
            .await?
            .into_iter()
            .filter(|j| planned.contains(&j.job) && j.status != JobStatus::Done)
            .collect();
        added.sort_by_key(|j| planned.iter().position(|p| *p == j.job));
        windowed.floors.insert(job.job.collection.clone(), floor);
        Ok((added, vec![(WINDOWED_KEY.to_owned(), json(&*windowed)?)]))
    }

    /// Reads one `lastUpdatedDate` window of a collection into batches (an order window with
    /// its lines completed, with what that did and the URLs read; a GraphQL refusal is added
    /// to `patterns`).
    #[allow(clippy::type_complexity)]
    async fn window_batches<T: Mirror>(
        &self,
        window: Window,
        run_id: i64,
        at: DateTime<Utc>,
        size: usize,
        patterns: &mut Vec<String>,
    ) -> Result<
        (
            (Vec<Batch>, Vec<Quarantined>, usize, u64, u32),
            Option<(Lines, Vec<String>)>,
        ),
        SyncError,
    > {
        let prio = Priority::Backfill;
        let mut batch = self.client.fetch_window::<T>(window, prio).await?;
        let mut lines = self
            .complete_lines(&mut batch.records, prio, run_id, at)
            .await?;
        patterns.extend(lines.refused.map(str::to_owned));
        let seen = batch.records.len() + batch.errors.len() + lines.unreadable.len();
        let (rows, mut q) = self.convert(&batch.records, &batch.errors, run_id, at);
        q.append(&mut lines.quarantine);
        let records = rows.len() as u64;
        let read = batch.records.iter().map(|r| r.key().into_owned()).collect();
        Ok((
            (
                chunk(rows, size, T::put),
                q,
                seen,
                records,
                batch.requests + lines.requests,
            ),
            Some((lines, read)),
        ))
    }

    /// Converts an unfiltered read into batches, with the URLs read.
    #[allow(clippy::type_complexity)]
    fn snapshot_batches<T: Mirror>(
        &self,
        d: finale::Decoded<T>,
        run_id: i64,
        at: DateTime<Utc>,
        size: usize,
    ) -> (
        (Vec<Batch>, Vec<Quarantined>, usize, u64, u32),
        Option<(Lines, Vec<String>)>,
    ) {
        let seen = d.records.len() + d.errors.len();
        let (rows, q) = self.convert(&d.records, &d.errors, run_id, at);
        let records = rows.len() as u64;
        let read = d.records.iter().map(|r| r.key().into_owned()).collect();
        (
            (chunk(rows, size, T::put), q, seen, records, 1),
            Some((Lines::default(), read)),
        )
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
