//! Measuring a run: records seen and quarantined, store latency, error patterns, and the
//! Finale requests it made (the difference of two budget reports). Shared by concurrent batch
//! writers, so everything is atomic or behind a short lock.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use finale::BudgetReport;

use store::StoreError;
use store::{Quarantined, RunMetrics};

use super::plan::bucket_name;

/// Counters of one run.
#[derive(Debug)]
pub struct Meter {
    run_id: i64,
    seen: AtomicU64,
    failed: AtomicU64,
    db_calls: AtomicU64,
    db_micros: AtomicU64,
    patterns: Mutex<BTreeMap<String, u64>>,
}

impl Meter {
    /// A meter for run `run_id`.
    pub fn new(run_id: i64) -> Self {
        Self {
            run_id,
            seen: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            db_calls: AtomicU64::new(0),
            db_micros: AtomicU64::new(0),
            patterns: Mutex::new(BTreeMap::new()),
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Counts records read from Finale.
    pub fn saw(&self, n: usize) {
        self.seen.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Records read so far.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Counts quarantined records and their error patterns (collection and field; the values
    /// stay in `sync_errors`).
    pub fn quarantined(&self, q: &[Quarantined]) {
        self.failed.fetch_add(q.len() as u64, Ordering::Relaxed);
        for r in q {
            let field = r
                .reason
                .split('`')
                .nth(1)
                .map(|f| f.split('[').next().unwrap_or(f))
                .unwrap_or("record");
            self.pattern(format!("invalid {}.{field}", r.collection));
        }
    }

    /// Counts one occurrence of an error pattern.
    pub fn pattern(&self, p: impl Into<String>) {
        if let Ok(mut m) = self.patterns.lock() {
            *m.entry(p.into()).or_default() += 1;
        }
    }

    /// Times one store call.
    pub async fn db<T>(
        &self,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let t = Instant::now();
        let r = f.await;
        self.db_calls.fetch_add(1, Ordering::Relaxed);
        self.db_micros
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        r
    }

    /// The run's metrics, from the budget reports taken before and after it.
    pub fn metrics(
        &self,
        before: &BudgetReport,
        after: &BudgetReport,
        wall: Duration,
    ) -> RunMetrics {
        let seen = self.seen();
        let calls = self.db_calls.load(Ordering::Relaxed);
        let mut requests = BTreeMap::new();
        for b in &after.buckets {
            let used0 = before
                .buckets
                .iter()
                .find(|x| x.bucket == b.bucket)
                .map_or(0, |x| x.used);
            requests.insert(
                bucket_name(b.bucket).to_owned(),
                b.used.saturating_sub(used0),
            );
        }
        let mut patterns = self.patterns.lock().map(|m| m.clone()).unwrap_or_default();
        for (status, n) in &after.status_counts {
            let n0 = before.status_counts.get(status).copied().unwrap_or(0);
            if *status >= 400 && *n > n0 {
                *patterns.entry(format!("http {status}")).or_default() += n - n0;
            }
        }
        let mut error_patterns: Vec<(String, u64)> = patterns.into_iter().collect();
        error_patterns.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let secs = wall.as_secs_f64();
        RunMetrics {
            finished_at: None,
            duration_ms: wall.as_millis() as u64,
            items_seen: seen,
            items_changed: 0,
            items_failed: self.failed.load(Ordering::Relaxed),
            items_per_sec: if secs > 0.0 { seen as f64 / secs } else { 0.0 },
            success: false,
            error_patterns,
            network_p50_ms: (after.requests > before.requests).then_some(after.latency_p50_ms),
            network_p95_ms: (after.requests > before.requests).then_some(after.latency_p95_ms),
            db_latency_ms: (calls > 0)
                .then(|| self.db_micros.load(Ordering::Relaxed) as f64 / calls as f64 / 1000.0),
            requests,
            notes: None,
        }
    }
}
