//! The health screen's series: one point per sync run from `sync_runs` (the seed's
//! `SyncMetrics`), error patterns summed over them, and the Finale budget in use.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use engine::store::RunRecord;

use crate::types::{ErrorPatternCount, HealthPoint, SyncRunSummary};

/// The points of the runs that started within `days` before `now`, oldest first (runs still
/// open are left out: they have no metrics yet), and their error patterns, most frequent
/// first.
pub fn series(
    runs: &[RunRecord],
    days: u32,
    now: DateTime<Utc>,
) -> (Vec<HealthPoint>, Vec<ErrorPatternCount>) {
    let since = now - TimeDelta::days(i64::from(days));
    let mut points: Vec<HealthPoint> = runs
        .iter()
        .filter(|r| r.started_at >= since && r.metrics.finished_at.is_some())
        .map(|r| {
            let m = &r.metrics;
            HealthPoint {
                at: r.started_at,
                strategy: r.strategy.as_str().to_owned(),
                duration_seconds: m.duration_ms as f64 / 1000.0,
                items_per_second: m.items_per_sec,
                success: m.success,
                errors: m.error_patterns.iter().map(|(_, n)| n).sum(),
                network_ms: m.network_p50_ms,
                database_ms: m.db_latency_ms,
            }
        })
        .collect();
    points.sort_by_key(|p| p.at);
    let mut patterns: BTreeMap<&str, u64> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| r.started_at >= since && r.metrics.finished_at.is_some())
    {
        for (p, n) in &r.metrics.error_patterns {
            *patterns.entry(p).or_default() += n;
        }
    }
    let mut errors: Vec<ErrorPatternCount> = patterns
        .into_iter()
        .map(|(p, n)| ErrorPatternCount {
            pattern: p.to_owned(),
            count: n,
        })
        .collect();
    errors.sort_by(|a, b| b.count.cmp(&a.count).then(a.pattern.cmp(&b.pattern)));
    (points, errors)
}

/// A run as the sync screen lists it.
pub fn summary(r: &RunRecord) -> SyncRunSummary {
    let m = &r.metrics;
    let status = match (m.finished_at, m.success) {
        (None, _) => "running",
        (Some(_), true) => "succeeded",
        (Some(_), false) => "failed",
    };
    SyncRunSummary {
        id: r.id,
        strategy: r.strategy.as_str().to_owned(),
        started_at: r.started_at,
        finished_at: m.finished_at,
        status: status.to_owned(),
        items: m.items_seen,
        duration_seconds: m.finished_at.map(|_| m.duration_ms as f64 / 1000.0),
        error: if m.finished_at.is_some() && !m.success {
            m.notes
                .clone()
                .or_else(|| m.error_patterns.first().map(|(p, _)| p.clone()))
        } else {
            None
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use engine::Strategy;
    use engine::store::RunMetrics;

    use super::*;

    fn run(id: i64, hours_ago: i64, ok: bool, patterns: &[(&str, u64)]) -> RunRecord {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let started = now - TimeDelta::hours(hours_ago);
        RunRecord {
            id,
            strategy: Strategy::Smart,
            started_at: started,
            runner: None,
            metrics: RunMetrics {
                finished_at: Some(started + TimeDelta::seconds(3)),
                duration_ms: 3000,
                items_seen: 300,
                items_per_sec: 100.0,
                success: ok,
                error_patterns: patterns
                    .iter()
                    .map(|(p, n)| ((*p).to_owned(), *n))
                    .collect(),
                network_p50_ms: Some(12.5),
                notes: (!ok).then(|| "HTTP 500".to_owned()),
                ..RunMetrics::default()
            },
        }
    }

    #[test]
    fn points_cover_the_window_oldest_first_with_patterns_summed() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let runs = vec![
            run(3, 1, false, &[("timeout", 2), ("http 500", 1)]),
            run(2, 30, true, &[("timeout", 1)]),
            run(1, 24 * 9, true, &[("old", 7)]),
        ];
        let (points, errors) = series(&runs, 7, now);
        assert_eq!(points.len(), 2);
        assert!(points[0].at < points[1].at);
        assert_eq!(points[1].errors, 3);
        assert!(!points[1].success);
        assert_eq!(points[0].duration_seconds, 3.0);
        assert_eq!(
            errors,
            vec![
                ErrorPatternCount {
                    pattern: "timeout".into(),
                    count: 3
                },
                ErrorPatternCount {
                    pattern: "http 500".into(),
                    count: 1
                },
            ]
        );
        let s = summary(&runs[0]);
        assert_eq!(
            (s.status.as_str(), s.error.as_deref()),
            ("failed", Some("HTTP 500"))
        );
        assert_eq!(summary(&runs[1]).error, None);
    }
}
