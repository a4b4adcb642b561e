//! Budgets under load: many concurrent callers never push the simulator past Finale's limits.

use std::collections::BTreeMap;

use finale::{Facility, Priority};
use finale_sim::Size;
use stockpulse_tests::Setup;

/// Counts requests per fixed window of `secs` virtual seconds, by the simulator's own log.
fn per_window(at: &[chrono::DateTime<chrono::Utc>], secs: i64) -> BTreeMap<i64, usize> {
    let mut m = BTreeMap::new();
    for t in at {
        *m.entry(t.timestamp().div_euclid(secs)).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_collection_reads_never_exceed_the_hourly_budget() {
    // Scale 600: an hour of Finale budget in six real seconds. (Much faster and loopback
    // jitter alone would be tens of virtual seconds, more than any sane safety margin.)
    let p = Setup::new(Size::Small).scale(600.0).start(|_| {}).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = p.client.clone();
        let prio = [Priority::Backfill, Priority::Smart, Priority::Critical][i % 3];
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                client
                    .fetch_all::<Facility>(prio)
                    .await
                    .expect("read succeeds");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = p.sim.stats();
    assert_eq!(
        stats.by_status.get(&429),
        None,
        "the client provoked a 429: {:?}",
        stats.by_status
    );
    let at: Vec<_> = stats
        .log
        .iter()
        .filter(|e| e.collection)
        .map(|e| e.at)
        .collect();
    assert_eq!(at.len(), 400);
    let windows = per_window(&at, 3600);
    assert!(
        windows.len() >= 2,
        "400 reads need at least two hours of budget: {windows:?}"
    );
    assert!(windows.values().all(|&n| n <= 300), "{windows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_record_reads_never_exceed_the_minute_budget() {
    // Scale 20: a minute of budget in three real seconds; 300 single-record GETs need 3 minutes.
    let p = Setup::new(Size::Small).scale(20.0).start(|_| {}).await;
    let facilities = p
        .client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap()
        .records;
    let urls: Vec<String> = facilities.iter().map(|f| f.url.clone()).collect();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = p.client.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..15 {
                let url = &urls[(i + j) % urls.len()];
                let f: Facility = client
                    .fetch_one(url, Priority::Smart)
                    .await
                    .expect("read succeeds");
                assert_eq!(&f.url, url);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = p.sim.stats();
    assert_eq!(stats.by_status.get(&429), None, "{:?}", stats.by_status);
    let at: Vec<_> = stats
        .log
        .iter()
        .filter(|e| e.method == "GET")
        .map(|e| e.at)
        .collect();
    assert_eq!(at.len(), 301);
    let windows = per_window(&at, 60);
    assert!(windows.values().all(|&n| n <= 120), "{windows:?}");
    let report = p.client.budget_report();
    assert_eq!(report.requests, 301);
}
