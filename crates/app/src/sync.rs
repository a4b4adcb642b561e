//! Runs the user starts: one at a time per app, progress as a stream, cancel at a batch
//! boundary.
//!
//! [`SyncControl::start`] spawns the engine's run and returns once the run has its
//! `sync_runs` row (so the caller gets the run's id, or the reason it could not start: another
//! engine holds the writer role, Finale is not configured). Progress goes into a
//! `tokio::sync::watch` channel: a slow reader skips intermediate values and never holds the
//! engine up; the last value has `finished: true`.
//!
//! **Cancel** drops the run's future. That is safe and resumable: every write of the engine
//! is one transaction (a batch), the full load's plan records each finished job, and the
//! next run continues from there (the engine's own guarantee, `engine::schedule`). The run's
//! `sync_runs` row is then closed at once (taking the writer role for a moment and closing
//! the runs left open), instead of waiting for the next run to find it.

use std::sync::Mutex;

use chrono::Utc;
use engine::Strategy;
use engine::store::WriterInfo;
use engine::sync::{Engine, Progress, ProgressUpdate};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::AppError;
use crate::types::{SyncOutcome, SyncProgress};

/// The run in flight (or the last one, finished).
#[derive(Debug)]
struct Running {
    cancel: CancellationToken,
    progress: watch::Receiver<SyncProgress>,
}

/// One app's user-started runs.
#[derive(Debug, Default)]
pub struct SyncControl {
    current: Mutex<Option<Running>>,
}

/// A started run: its id and its progress.
#[derive(Debug)]
pub struct SyncHandle {
    /// The run's `sync_runs` id.
    pub run_id: i64,
    progress: watch::Receiver<SyncProgress>,
    done: bool,
    first: bool,
}

impl SyncHandle {
    /// The current progress at first, then each change; `None` after the finished one.
    pub async fn next(&mut self) -> Option<SyncProgress> {
        if self.done {
            return None;
        }
        if !self.first && self.progress.changed().await.is_err() {
            // The run's task ended: what it left is the last word.
            self.done = true;
            let last = self.progress.borrow().clone();
            return last.finished.then_some(last);
        }
        self.first = false;
        let p = self.progress.borrow_and_update().clone();
        self.done = p.finished;
        Some(p)
    }

    /// Sends every progress message to `send` on a task of its own, until the run finished
    /// or `send` returns `false` (the window went away).
    pub fn forward(mut self, mut send: impl FnMut(SyncProgress) -> bool + Send + 'static) {
        tokio::spawn(async move {
            while let Some(p) = self.next().await {
                if !send(p) {
                    return;
                }
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SyncControl {
    /// The run in flight, if any.
    pub fn running(&self) -> Option<SyncProgress> {
        lock(&self.current)
            .as_ref()
            .map(|r| r.progress.borrow().clone())
            .filter(|p| !p.finished)
    }

    /// Starts `strategy` on `engine` (see the module docs). `stop` ends the run as a cancel
    /// does (the app's shutdown, a settings change).
    pub async fn start(
        &self,
        engine: Engine,
        strategy: Strategy,
        stop: &CancellationToken,
    ) -> Result<SyncHandle, AppError> {
        let budget_limit = u64::from(engine.client().config().budgets.collection_per_hour);
        let initial = SyncProgress {
            run_id: 0,
            strategy: strategy.as_str().to_owned(),
            phase: "starting".to_owned(),
            done: 0,
            total: None,
            eta_seconds: None,
            budget_used: 0,
            budget_limit,
            finished: false,
            outcome: SyncOutcome::Running,
            message: None,
        };
        let (tx, rx) = watch::channel(initial);
        let cancel = stop.child_token();
        {
            let mut current = lock(&self.current);
            if let Some(r) = current.as_ref()
                && !r.progress.borrow().finished
            {
                return Err(AppError::Busy {
                    holder: "this app is already syncing".to_owned(),
                });
            }
            *current = Some(Running {
                cancel: cancel.clone(),
                progress: rx.clone(),
            });
        }
        let (started_tx, started_rx) = oneshot::channel();
        tokio::spawn(run(engine, strategy, tx, started_tx, cancel));
        match started_rx.await {
            Ok(Ok(run_id)) => Ok(SyncHandle {
                run_id,
                progress: rx,
                done: false,
                first: true,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AppError::Internal(
                "the sync task ended before its run began".into(),
            )),
        }
    }

    /// Cancels the run in flight (nothing when none runs).
    pub fn cancel(&self) {
        if let Some(r) = lock(&self.current).as_ref() {
            r.cancel.cancel();
        }
    }
}

/// The engine's progress, into the watch channel.
struct Adapter {
    tx: watch::Sender<SyncProgress>,
    started: Mutex<Option<oneshot::Sender<Result<i64, AppError>>>>,
    engine: Engine,
}

impl Adapter {
    fn budget_used(&self) -> u64 {
        self.engine
            .client()
            .budget_report()
            .buckets
            .iter()
            .find(|b| b.bucket == finale::Bucket::Collection)
            .map_or(0, |b| u64::from(b.in_window))
    }
}

impl Progress for Adapter {
    fn started(&self, run_id: i64) {
        self.tx.send_modify(|p| p.run_id = run_id);
        if let Some(s) = lock(&self.started).take() {
            let _ = s.send(Ok(run_id));
        }
    }

    fn update(&self, u: &ProgressUpdate) {
        let used = self.budget_used();
        self.tx.send_modify(|p| {
            p.phase.clone_from(&u.phase);
            p.done = u.done;
            p.total = (u.total > 0).then_some(u.total);
            p.eta_seconds = u.eta.map(|d| d.as_secs_f64());
            p.budget_used = used;
        });
    }

    fn note(&self, message: &str) {
        self.tx
            .send_modify(|p| p.message = Some(message.to_owned()));
    }
}

async fn run(
    engine: Engine,
    strategy: Strategy,
    tx: watch::Sender<SyncProgress>,
    started: oneshot::Sender<Result<i64, AppError>>,
    cancel: CancellationToken,
) {
    let adapter = Adapter {
        tx,
        started: Mutex::new(Some(started)),
        engine: engine.clone(),
    };
    let result = tokio::select! {
        r = engine.run(strategy, &adapter) => Some(r),
        () = cancel.cancelled() => None,
    };
    let (outcome, message) = match result {
        Some(Ok(report)) => (
            SyncOutcome::Succeeded,
            Some(format!(
                "{} records read, {} rows written",
                report.metrics.items_seen, report.metrics.items_changed
            )),
        ),
        Some(Err(e)) => {
            let e = AppError::from(e);
            let message = e.to_string();
            if let Some(s) = lock(&adapter.started).take() {
                // It never began: the starter gets the error itself.
                let _ = s.send(Err(e));
            }
            (SyncOutcome::Failed, Some(message))
        }
        None => {
            close_cancelled(&engine).await;
            (
                SyncOutcome::Cancelled,
                Some("cancelled; the next run resumes from here".to_owned()),
            )
        }
    };
    let used = adapter.budget_used();
    adapter.tx.send_modify(|p| {
        p.finished = true;
        p.outcome = outcome;
        p.message = message;
        p.budget_used = used;
    });
    // A cancel before the run began: the starter hears it as a cancelled start.
    if let Some(s) = lock(&adapter.started).take() {
        let _ = s.send(Err(AppError::InvalidInput("the sync was cancelled".into())));
    }
}

/// Closes the `sync_runs` row a cancelled run left open (best effort: the next run closes
/// it otherwise).
async fn close_cancelled(engine: &Engine) {
    let me = WriterInfo {
        runner: Engine::default_runner(),
        purpose: "cancel".to_owned(),
    };
    let store = engine.store();
    let closed = async {
        let lease = store
            .acquire_writer_for(
                &me,
                Some(std::time::Duration::from_secs(5)),
                engine.settings().writer_lease,
            )
            .await?;
        let n = store.close_abandoned_runs(Utc::now()).await;
        lease.release().await;
        n
    };
    match closed.await {
        Ok(n) => tracing::info!(closed = n, "closed the cancelled run"),
        Err(e) => tracing::warn!(%e, "could not close the cancelled run yet"),
    }
}
