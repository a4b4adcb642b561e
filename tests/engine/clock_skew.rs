//! Finale's clock and ours disagree: cursors follow what Finale has shown (its `Date`
//! header), so no change is lost when the engine's clock runs ahead of Finale's and none
//! waits when it runs behind.

use chrono::Duration;
use engine::Strategy;
use engine::sync::status;
use finale_sim::{DateHeader, Size};
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

async fn changes_are_read_with_finale_skewed_by(kind: Kind, skew: Duration) {
    changes_are_read_with(kind, skew, DateHeader::FinaleClock).await;
}

/// `skew`: how far Finale's stamps run ahead of the engine's clock; `date`: what its `Date`
/// header shows.
async fn changes_are_read_with(kind: Kind, skew: Duration, date: DateHeader) {
    let pair = Setup::new(Size::Small)
        .sim(|c| {
            c.quirks.clock_skew = skew;
            c.quirks.date_header = date;
        })
        .start(|_| {})
        .await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:skew");
    run(&eng, Strategy::Full).await;
    for round in 0..3 {
        let report = pair.sim.step_live(Duration::hours(2));
        assert!(report.new_orders > 0, "round {round}: {report:?}");
        let smart = run(&eng, Strategy::Smart).await;
        assert!(smart.metrics.success);
        assert_store_is_truth(&pair, &*ts.store, &expect).await;
        // Never past Finale's clock.
        let finale_now = pair.config.clock.now() + skew;
        for (collection, at) in status::cursors(&*ts.store).await.unwrap() {
            assert!(
                at <= finale_now,
                "{collection} cursor {at} is past Finale's {finale_now}"
            );
        }
    }
    pair.sim.shutdown().await;
}

async fn finale_behind_the_engine_by_ten_minutes(kind: Kind) {
    changes_are_read_with_finale_skewed_by(kind, Duration::minutes(-10)).await;
}

async fn finale_ahead_of_the_engine_by_ten_minutes(kind: Kind) {
    changes_are_read_with_finale_skewed_by(kind, Duration::minutes(10)).await;
}

/// A stand-in whose `Date` header comes from the host's clock while its records are stamped
/// ten minutes behind or ahead, and one with no `Date` at all: the cursor follows the
/// changes received, so nothing is lost either way.
async fn stamps_skewed_against_the_date_header(kind: Kind) {
    for skew in [Duration::minutes(-10), Duration::minutes(10)] {
        changes_are_read_with(kind, skew, DateHeader::SharedClock).await;
        changes_are_read_with(kind, skew, DateHeader::Absent).await;
    }
}

/// A cursor stored in the future (by a workstation whose clock ran fast, before cursors
/// followed Finale's clock) is clamped: the next run reads from Finale's now minus the
/// overlap and picks up what changed meanwhile.
async fn a_cursor_in_the_future_is_clamped(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:skew");
    run(&eng, Strategy::Full).await;
    let future = pair.config.clock.now() + Duration::hours(3);
    let state: Vec<(String, serde_json::Value)> = ["facility", "partygroup", "product", "order"]
        .iter()
        .map(|c| {
            (
                format!("cursor:{c}"),
                serde_json::json!({ "until": future }),
            )
        })
        .collect();
    let batch = engine::store::Batch {
        state,
        ..engine::store::Batch::default()
    };
    ts.store
        .apply(&batch, pair.config.clock.now())
        .await
        .unwrap();
    pair.sim.step_live(Duration::hours(2));
    run(&eng, Strategy::Smart).await;
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    for (collection, at) in status::cursors(&*ts.store).await.unwrap() {
        assert!(at < future, "{collection} cursor still in the future: {at}");
    }
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    finale_behind_the_engine_by_ten_minutes,
    finale_ahead_of_the_engine_by_ten_minutes,
    a_cursor_in_the_future_is_clamped,
    stamps_skewed_against_the_date_header,
);
