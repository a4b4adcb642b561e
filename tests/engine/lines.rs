//! Issue 8 §4 through the engine: after a full load with order lines through GraphQL, a smart
//! run whose changed orders include one placed 700 days ago pages only the recent orders' days
//! and reads the old one with its own GET; the store equals the truth (the old order's
//! changed line included).

use chrono::Duration;
use engine::Strategy;
use finale_sim::Size;
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

async fn one_old_changed_order_costs_one_get_in_a_smart_run(kind: Kind) {
    // A small page size stands in for a large account (small: under one order a day).
    const PAGE: u32 = 5;
    let pair = Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|c| c.graphql_page_size = PAGE)
        .await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:lines");
    run(&eng, Strategy::Full).await;
    // Every change so far is loaded: the smart run reads what changes after it.
    let loaded_at = {
        let ds = pair.sim.dataset();
        let ds = ds.read().unwrap();
        ds.orders
            .rows()
            .iter()
            .map(|o| o.last_updated_date)
            .max()
            .unwrap()
    };

    // New orders and changes, then one order from 700 days ago changes.
    pair.sim.step_live(Duration::days(3));
    let old_url = {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        let target = loaded_at - Duration::days(700);
        let idx = (0..ds.orders.len())
            .min_by_key(|&i| (ds.orders.rows()[i].order_date - target).abs())
            .unwrap();
        let now = pair.config.clock.now();
        ds.orders
            .update(idx, |o| {
                o.order_item_list[0].quantity += 1.0;
                o.last_updated_date = now;
                o.order_url.clone()
            })
            .unwrap()
    };
    // Let the change settle well before the run reads up to its now.
    pair.config
        .clock
        .sleep(std::time::Duration::from_secs(600))
        .await;
    // The changed orders placed in the last 60 days, and the pages their days hold (counted
    // in the truth); the other changed orders (the old one, orders the live step touched
    // late) lie far apart: each costs at most one request, a GET or its share of a page (a
    // run is capped at the GETs its orders would cost).
    let tz = pair.config.timezone;
    let (recent_pages, far) = {
        let ds = pair.sim.dataset();
        let ds = ds.read().unwrap();
        let day = |o: &finale_sim::Order| o.order_date.with_timezone(&tz).date_naive();
        let today = pair.config.clock.now().with_timezone(&tz).date_naive();
        let (near, far): (Vec<&finale_sim::Order>, Vec<&finale_sim::Order>) = ds
            .orders
            .rows()
            .iter()
            .filter(|o| o.last_updated_date > loaded_at)
            .partition(|o| (today - day(o)).num_days() <= 60);
        assert!(near.len() > PAGE as usize, "{} recent", near.len());
        assert!(far.iter().any(|o| o.order_url == old_url));
        let from = near.iter().map(|o| day(o)).min().unwrap();
        let in_span = ds
            .orders
            .rows()
            .iter()
            .filter(|o| day(o) >= from && day(o) <= today)
            .count();
        let far: Vec<String> = far.iter().map(|o| o.order_url.clone()).collect();
        (in_span.div_ceil(PAGE as usize), far)
    };
    let before = pair.sim.stats().log.len();
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.success);
    let log = pair.sim.stats().log;
    let posts = log[before..]
        .iter()
        .filter(|e| e.path.ends_with("/graphql"))
        .count();
    assert!(
        posts <= recent_pages + far.len(),
        "{posts} GraphQL pages; the recent orders' days hold {recent_pages}, and {} far orders",
        far.len()
    );
    assert!(
        log[before..]
            .iter()
            .any(|e| e.method == "GET" && e.path == old_url),
        "the old order is read by its own GET"
    );
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

crate::on_both_stores!(one_old_changed_order_costs_one_get_in_a_smart_run);
