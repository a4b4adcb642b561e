//! An account (or a stand-in) that serves no GraphQL, with order lines absent from the order
//! collection: the engine reads the lines with per-order GETs within the GET budget instead of
//! failing the job, says so in the run's error patterns, and the store equals the truth.

use chrono::Duration;
use engine::Strategy;
use finale_sim::Size;
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

async fn lines_come_by_get_when_graphql_refuses(kind: Kind) {
    // A virtual minute passes in 0.1 s, so the GET budget (120 a minute) is no wait here.
    let pair = Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| {
            c.quirks.order_items_in_collection = false;
            c.quirks.graphql = false;
        })
        .start(|_| {})
        .await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:no-graphql");

    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success);
    assert!(
        full.metrics
            .error_patterns
            .iter()
            .any(|(p, _)| p == engine::sync::GRAPHQL_REFUSED),
        "{:?}",
        full.metrics.error_patterns
    );
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    pair.sim.step_live(Duration::hours(6));
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.success);
    assert!(smart.applied.new_orders > 0);
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    // The refusal is remembered: at most one GraphQL POST in all.
    let posts = pair
        .sim
        .stats()
        .log
        .iter()
        .filter(|e| e.path.ends_with("/graphql"))
        .count();
    assert!(posts <= 1, "{posts} GraphQL POSTs");
    pair.sim.shutdown().await;
}

crate::on_both_stores!(lines_come_by_get_when_graphql_refuses);
