//! The main flow: full load, live changes, smart, critical — and after each run the store
//! equals the simulator's truth, table by table.

use chrono::Duration;
use engine::Strategy;
use engine::store::JobStatus;
use finale_sim::Size;
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

async fn full_smart_critical_match_the_truth(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:flow");

    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success);
    assert!(full.metrics.items_seen > 0 && full.metrics.items_changed > 0);
    assert_eq!(full.metrics.items_failed, 0);
    let jobs = ts.store.backfill_jobs().await.expect("jobs");
    assert!(
        jobs.iter().all(|j| j.status == JobStatus::Done),
        "every job done: {jobs:?}"
    );
    assert_eq!(
        jobs.len(),
        29,
        "3 reference snapshots, 25 order windows, stock"
    );
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    // The account moves on: sales, receipts, price changes, new products.
    let live = pair.sim.step_live(Duration::hours(6));
    assert!(
        live.new_orders > 0 && live.stock_rows_changed > 0,
        "{live:?}"
    );
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.items_changed > 0);
    assert!(
        smart.applied.new_orders >= live.new_orders as u64,
        "{:?}",
        smart.applied
    );
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    pair.sim.step_live(Duration::hours(3));
    let critical = run(&eng, Strategy::Critical).await;
    let report = critical.critical.as_ref().expect("a critical report");
    assert!(
        !report.items.is_empty(),
        "the small account has low-stock items"
    );
    assert!(report.items.iter().all(|i| !i.reasons.is_empty()));
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    // Every run left its metrics.
    let runs = ts.store.recent_runs(10).await.expect("runs");
    let strategies: Vec<Strategy> = runs.iter().map(|r| r.strategy).collect();
    assert_eq!(
        strategies,
        vec![Strategy::Critical, Strategy::Smart, Strategy::Full]
    );
    for r in &runs {
        assert!(r.metrics.success, "{r:?}");
        assert!(r.metrics.finished_at.is_some());
        assert!(
            r.metrics.requests.get("get").copied().unwrap_or(0) > 0,
            "{r:?}"
        );
        assert!(r.metrics.network_p50_ms.is_some() && r.metrics.db_latency_ms.is_some());
    }
    pair.sim.shutdown().await;
}

async fn a_second_smart_run_writes_nothing(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:idle");
    run(&eng, Strategy::Full).await;
    pair.sim.step_live(Duration::hours(2));
    run(&eng, Strategy::Smart).await;
    let before = ts.store.write_marks().await.expect("marks");
    // An engine whose smart target is zero: the overrun is recorded, the run still succeeds.
    let strict = engine::sync::Engine::new(
        pair.client.clone(),
        ts.store.clone(),
        engine::sync::SyncSettings {
            smart_max_duration: std::time::Duration::ZERO,
            ..engine::sync::SyncSettings::default()
        },
        "test:idle",
    );
    let again = run(&strict, Strategy::Smart).await;
    assert!(again.metrics.success);
    assert!(
        again
            .metrics
            .error_patterns
            .iter()
            .any(|(p, _)| p.starts_with("smart run over")),
        "{:?}",
        again.metrics.error_patterns
    );
    let after = ts.store.write_marks().await.expect("marks");
    assert_eq!(again.metrics.items_changed, 0, "{:?}", again.applied);
    assert!(again.metrics.items_seen > 0, "it did read Finale");
    assert_eq!(before, after, "no mirror or derived row was written");
    pair.sim.shutdown().await;
}

async fn smart_and_critical_need_a_full_load_first(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:order");
    for s in [Strategy::Smart, Strategy::Critical] {
        let err = eng
            .run(s, &engine::sync::NoProgress)
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("full load has not completed"),
            "{err}"
        );
    }
    let runs = ts.store.recent_runs(5).await.expect("runs");
    assert!(
        runs.iter()
            .all(|r| !r.metrics.success && r.metrics.notes.is_some())
    );
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    full_smart_critical_match_the_truth,
    a_second_smart_run_writes_nothing,
    smart_and_critical_need_a_full_load_first,
);
