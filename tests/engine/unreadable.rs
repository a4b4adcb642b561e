//! One order Finale will not give (its own `GET {orderUrl}` fails) never stops the sync: the
//! order is quarantined with its header, every other order is stored, the cursor moves on,
//! and later runs retry it until it reads or a person resolves it.

use chrono::Duration;
use engine::Strategy;
use engine::sync::status;
use finale_sim::{Fault, FaultPlan, Size};
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

/// Lines come only from per-order GETs here: no lines in the collection, no GraphQL.
async fn get_only_account() -> stockpulse_tests::Pair {
    Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| {
            c.quirks.order_items_in_collection = false;
            c.quirks.graphql = false;
        })
        .start(|_| {})
        .await
}

/// A sales order created after `since` whose URL is no other order's prefix (faults match
/// paths by substring).
fn changed_order(pair: &stockpulse_tests::Pair, since: chrono::DateTime<chrono::Utc>) -> String {
    let ds = pair.sim.dataset();
    let ds = ds.read().unwrap();
    let orders = ds.orders.rows();
    orders
        .iter()
        // A sales order: live steps never touch it again (a purchase order is received
        // later, which would put it back in a later run's window).
        .filter(|o| o.created_date > since && o.order_type_id == "SALES_ORDER")
        .map(|o| o.order_url.clone())
        .find(|u| {
            orders
                .iter()
                .filter(|o| o.order_url.contains(u.as_str()))
                .count()
                == 1
        })
        .expect("an order created by the live step")
}

async fn an_order_that_fails_once_is_quarantined_then_read(kind: Kind) {
    let pair = get_only_account().await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:unreadable");
    run(&eng, Strategy::Full).await;
    let cursor_before = status::cursors(&*ts.store).await.unwrap()["order"];

    pair.sim.step_live(Duration::hours(6));
    let broken = changed_order(&pair, cursor_before);
    pair.sim
        .inject(FaultPlan::new(Fault::Status(404), 1).on_path(broken.as_str()));
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.success);
    assert!(smart.applied.new_orders > 0, "the other orders are stored");
    let stored = ts.store.snapshot().await.unwrap();
    assert!(
        !stored.orders.iter().any(|o| o.url == broken),
        "an order without its lines is not stored"
    );
    let cursor_after = status::cursors(&*ts.store).await.unwrap()["order"];
    assert!(cursor_after > cursor_before, "the cursor moved on");
    let waiting = status::unreadable(&*ts.store).await.unwrap();
    assert_eq!(waiting.records.len(), 1, "{waiting:?}");
    assert_eq!(waiting.records[0].url, broken);
    assert_eq!(waiting.records[0].status, Some(404));
    let q = ts.store.quarantined(50).await.unwrap();
    let held = q
        .iter()
        .find(|r| r.record.record_key.as_deref() == Some(broken.as_str()))
        .expect("the order is quarantined");
    let header = held.record.raw_payload.as_ref().expect("with its header");
    assert_eq!(header["url"].as_str(), Some(broken.as_str()), "{header}");

    // The next run reads it: stored, off the list, and the store is the truth again.
    let again = run(&eng, Strategy::Smart).await;
    assert!(again.metrics.success);
    assert!(status::unreadable(&*ts.store).await.unwrap().is_empty());
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

async fn an_order_that_always_fails_is_retried_until_resolved(kind: Kind) {
    let pair = get_only_account().await;
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:unreadable");
    run(&eng, Strategy::Full).await;
    let since = status::cursors(&*ts.store).await.unwrap()["order"];
    pair.sim.step_live(Duration::hours(6));
    let broken = changed_order(&pair, since);
    pair.sim
        .inject(FaultPlan::new(Fault::Status(404), usize::MAX).on_path(broken.as_str()));

    for attempt in 1..=3 {
        pair.sim.step_live(Duration::hours(1));
        let r = run(&eng, Strategy::Critical).await;
        assert!(r.metrics.success, "run {attempt}");
        let waiting = status::unreadable(&*ts.store).await.unwrap();
        assert_eq!(waiting.records.len(), 1);
        assert_eq!(waiting.records[0].attempts, attempt, "one retry per run");
    }
    // Once newer changes have moved the cursor's overlap past the order's last change (5
    // virtual minutes are 0.5 s here), only the retry reads it.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    pair.sim.step_live(Duration::hours(1));
    run(&eng, Strategy::Critical).await;
    let resolved = eng.resolve_unreadable(&broken).await.unwrap();
    assert_eq!(resolved.map(|r| r.url), Some(broken.clone()));
    assert!(status::unreadable(&*ts.store).await.unwrap().is_empty());
    assert!(eng.resolve_unreadable(&broken).await.unwrap().is_none());
    // Resolved: no more GETs for it.
    let gets_before = pair
        .sim
        .stats()
        .log
        .iter()
        .filter(|e| e.path == broken)
        .count();
    run(&eng, Strategy::Critical).await;
    let gets_after = pair
        .sim
        .stats()
        .log
        .iter()
        .filter(|e| e.path == broken)
        .count();
    assert_eq!(gets_before, gets_after);
    pair.sim.shutdown().await;
}

async fn an_unreadable_order_in_the_full_load_does_not_fail_its_job(kind: Kind) {
    let pair = get_only_account().await;
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:unreadable");
    let broken = changed_order(&pair, chrono::DateTime::<chrono::Utc>::MIN_UTC);
    pair.sim
        .inject(FaultPlan::new(Fault::Status(404), 1).on_path(broken.as_str()));
    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success);
    assert_eq!(full.metrics.items_failed, 1, "{:?}", full.metrics);
    let waiting = status::unreadable(&*ts.store).await.unwrap();
    assert_eq!(waiting.records.len(), 1);
    assert_eq!(waiting.records[0].url, broken);
    // The first smart run reads it.
    pair.sim.step_live(Duration::hours(1));
    run(&eng, Strategy::Smart).await;
    assert!(status::unreadable(&*ts.store).await.unwrap().is_empty());
    let stored = ts.store.snapshot().await.unwrap();
    assert!(stored.orders.iter().any(|o| o.url == broken));
    pair.sim.shutdown().await;
}

/// A corrupted response: records with a known URL that were stored incomplete (a cost or a
/// date unreadable) are read again, one GET each, by the next run.
async fn records_a_corrupted_read_lost_are_read_again(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    pair.sim
        .inject(FaultPlan::new(Fault::MalformedRecords(6), 1).on_path("/api/product"));
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:corrupt");
    run(&eng, Strategy::Full).await;
    let listed: Vec<String> = status::unreadable(&*ts.store)
        .await
        .unwrap()
        .records
        .into_iter()
        .map(|r| {
            assert_eq!(r.collection, "product");
            r.url
        })
        .collect();
    assert!(!listed.is_empty(), "a product stored incomplete is listed");
    let expect = Expect::for_sim(pair.sim.config());
    let same_as_truth = |stored: &engine::store::Snapshot, url: &str| {
        let truth = crate::support::truth(&pair, &expect);
        let want = truth.products.iter().find(|p| p.url == url);
        let got = stored.products.iter().find(|p| p.url == url);
        want.is_some() && want == got
    };
    let stored = ts.store.snapshot().await.unwrap();
    assert!(
        listed.iter().all(|u| !same_as_truth(&stored, u)),
        "{listed:?}"
    );
    pair.sim.step_live(Duration::hours(1));
    run(&eng, Strategy::Smart).await;
    let stored = ts.store.snapshot().await.unwrap();
    for url in &listed {
        assert!(same_as_truth(&stored, url), "{url} read again");
    }
    assert!(status::unreadable(&*ts.store).await.unwrap().is_empty());
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    records_a_corrupted_read_lost_are_read_again,
    an_order_that_fails_once_is_quarantined_then_read,
    an_order_that_always_fails_is_retried_until_resolved,
    an_unreadable_order_in_the_full_load_does_not_fail_its_job,
);
