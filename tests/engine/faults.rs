//! Finale misbehaving during a run: 429 storms, 5xx, malformed records.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use engine::Strategy;
use finale_sim::{Fault, FaultPlan, Size};
use stockpulse_tests::Setup;
use stockpulse_tests::truth::{Expect, compare};

use crate::support::{Kind, TestStore, engine, run, truth};

async fn a_429_storm_and_5xx_do_not_stop_or_overrun_the_load(kind: Kind) {
    let pair = Setup::new(Size::Small).scale(60.0).start(|_| {}).await;
    let mut storm = FaultPlan::new(Fault::RateLimitStorm, 2);
    storm.reset_after = Some(chrono::Duration::seconds(20));
    pair.sim.inject(storm);
    pair.sim.inject(FaultPlan::new(Fault::Status(503), 3));
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:faults");
    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success);
    let patterns: Vec<&str> = full
        .metrics
        .error_patterns
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(
        patterns.contains(&"http 429") && patterns.contains(&"http 503"),
        "{patterns:?}"
    );
    // The only 429s are the two injected ones: the engine never overran a budget itself.
    let stats = pair.sim.stats();
    assert_eq!(
        stats.by_status.get(&429).copied().unwrap_or(0),
        2,
        "{:?}",
        stats.by_status
    );
    let expect = Expect::for_sim(pair.sim.config());
    let diffs = compare(
        &truth(&pair, &expect),
        &ts.store.snapshot().await.expect("snapshot"),
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    pair.sim.shutdown().await;
}

async fn malformed_records_are_quarantined_and_the_run_goes_on(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let mut bad = FaultPlan::new(Fault::MalformedRecords(4), 1);
    bad.path_contains = Some("/api/product".into());
    pair.sim.inject(bad);
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:malformed");
    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success, "a bad record is not fatal");
    assert!(full.metrics.items_failed >= 1, "{:?}", full.metrics);
    let q = ts.store.quarantined(100).await.expect("quarantine");
    assert_eq!(q.len() as u64, full.metrics.items_failed);
    for r in &q {
        assert_eq!(r.record.collection, "product");
        assert!(!r.record.reason.is_empty());
        assert!(
            r.record.raw_text.is_some() || r.record.raw_payload.is_some(),
            "{r:?}"
        );
        assert_eq!(r.record.run_id, Some(full.run_id));
    }

    // Everything else is exactly the truth; the affected products are either stored (with
    // the bad optional field empty) or missing, and each missing one is accounted for by a
    // quarantine entry.
    let named: BTreeSet<String> = q
        .iter()
        .filter_map(|r| r.record.record_key.clone())
        .collect();
    let mut actual = ts.store.snapshot().await.expect("snapshot");
    let expected_all = truth(&pair, &Expect::for_sim(pair.sim.config()));
    let stored: BTreeSet<String> = actual.products.iter().map(|p| p.url.clone()).collect();
    let missing: Vec<String> = expected_all
        .products
        .iter()
        .filter(|p| !stored.contains(&p.url))
        .map(|p| p.url.clone())
        .collect();
    assert!(
        missing.len() <= q.len(),
        "missing {missing:?} with only {} quarantined",
        q.len()
    );
    let affected: BTreeSet<String> = named
        .iter()
        .cloned()
        .chain(missing.iter().cloned())
        .collect();
    let expect = Expect::for_sim(pair.sim.config()).exclude_all(affected.iter().cloned());
    actual.products.retain(|p| !affected.contains(&p.url));
    actual.items.retain(|i| !affected.contains(&i.finale_id));
    let diffs = compare(&truth(&pair, &expect), &actual);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    pair.sim.shutdown().await;
}

async fn slow_responses_only_slow_the_run(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    pair.sim.inject(FaultPlan::new(
        Fault::Slow(StdDuration::from_millis(200)),
        5,
    ));
    pair.sim.inject(FaultPlan::new(Fault::Truncate, 1));
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:slow");
    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success);
    let expect = Expect::for_sim(pair.sim.config());
    let diffs = compare(
        &truth(&pair, &expect),
        &ts.store.snapshot().await.expect("snapshot"),
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    a_429_storm_and_5xx_do_not_stop_or_overrun_the_load,
    malformed_records_are_quarantined_and_the_run_goes_on,
    slow_responses_only_slow_the_run,
);
