//! Re-running `full` on a store whose load is complete re-reads everything without switching
//! smart, critical and the stock pulse off meanwhile; `serve` takes the re-read in slices.

use chrono::Duration;
use engine::Strategy;
use engine::sync::{Engine, NoProgress, SyncSettings, status};
use finale_sim::Size;
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

async fn a_re_read_keeps_smart_and_critical_running(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:reread");
    run(&eng, Strategy::Full).await;
    let first = status::plan_state(&*ts.store).await.unwrap().unwrap();
    assert!(first.loaded() && !first.rereading());

    // A re-read (a second later: a plan of its own) taken in the shortest slices: one job
    // per run.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let sliced = Engine::new(
        pair.client.clone(),
        ts.store.clone(),
        SyncSettings {
            full_slice: Some(std::time::Duration::ZERO),
            ..SyncSettings::default()
        },
        "test:reread-sliced",
    );
    run(&sliced, Strategy::Full).await;
    let plan = status::plan_state(&*ts.store).await.unwrap().unwrap();
    assert!(plan.rereading(), "{plan:?}");
    assert_eq!(plan.first_completed_at, first.completed_at);
    let b = status::backfill_status(&*ts.store, &pair.config.budgets)
        .await
        .unwrap();
    assert!(b.done < b.total, "one slice did not do the whole re-read");

    // Meanwhile the other strategies run as usual.
    pair.sim.step_live(Duration::hours(3));
    for s in [Strategy::Critical, Strategy::Stock, Strategy::Smart] {
        let r = eng.run(s, &NoProgress).await;
        assert!(r.is_ok(), "{s} during a re-read: {r:?}");
    }
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    // A one-off full finishes the re-read.
    run(&eng, Strategy::Full).await;
    let done = status::plan_state(&*ts.store).await.unwrap().unwrap();
    assert!(done.completed_at.is_some() && !done.rereading());
    assert_eq!(done.first_completed_at, first.completed_at);
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

/// A full run dropped mid-way (a cancelled `serve` run, a caller's timeout) stops reading
/// Finale: its background reader does not go on spending the budget for nobody.
async fn a_dropped_full_run_stops_reading(kind: Kind) {
    // Order lines by GET: an order window is many requests, so a reader left running goes on.
    let pair = Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| {
            c.quirks.order_items_in_collection = false;
            c.quirks.graphql = false;
        })
        .start(|_| {})
        .await;
    pair.sim.inject(finale_sim::FaultPlan::new(
        finale_sim::Fault::Slow(std::time::Duration::from_millis(50)),
        100_000,
    ));
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:dropped");
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(1500),
        eng.run(Strategy::Full, &NoProgress),
    )
    .await;
    assert!(cut.is_err(), "the run was still going");
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let before = pair.sim.stats().log.len();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let after = pair.sim.stats().log.len();
    assert_eq!(before, after, "requests went on after the run was dropped");
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    a_re_read_keeps_smart_and_critical_running,
    a_dropped_full_run_stops_reading,
);
