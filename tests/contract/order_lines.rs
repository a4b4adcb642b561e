//! Order lines when the order collection carries only headers (finale-api.md §6.1, disputed):
//! the client completes them through GraphQL or per-order GETs, whichever the budget favours.

use chrono::Duration;
use finale::{Order, Priority};
use finale_sim::Size;
use stockpulse_tests::{Setup, anchor};

/// Every order has exactly the simulator's lines: product, quantity (exactly) and unit price.
pub(crate) fn assert_lines_match(orders: &[Order], truth: &finale_sim::Dataset) {
    for o in orders {
        let t = truth.orders.by_url(&o.url).unwrap();
        let lines = o
            .lines
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no lines", o.url));
        assert_eq!(lines.len(), t.order_item_list.len(), "{}", o.url);
        for (l, tl) in lines.iter().zip(&t.order_item_list) {
            assert_eq!(
                l.product_url.as_deref(),
                Some(&*tl.product_url),
                "{}",
                o.url
            );
            assert_eq!(l.quantity, Some(tl.quantity), "{}", o.url);
            assert!((l.unit_price.unwrap_or(f64::NAN) - tl.unit_price).abs() < 1e-6);
        }
    }
}

async fn headers_only(scale: f64) -> stockpulse_tests::Pair {
    Setup::new(Size::Small)
        .scale(scale)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|_| {})
        .await
}

#[tokio::test]
async fn many_orders_get_their_lines_through_graphql() {
    let p = headers_only(10.0).await;
    let since = anchor() - Duration::days(120);
    let mut orders = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap()
        .records;
    assert!(orders.len() > 50);
    assert!(
        orders.iter().all(|o| o.lines.is_none()),
        "headers only: lines unknown, not empty"
    );
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.orders_completed, orders.len());
    assert!(report.via_graphql > 0, "{report:?}");
    let ds = p.sim.dataset();
    assert_lines_match(&orders, &ds.read().unwrap());
    assert!(
        p.sim
            .stats()
            .log
            .iter()
            .any(|e| e.path.ends_with("/graphql"))
    );
}

#[tokio::test]
async fn a_few_orders_get_their_lines_by_record_reads() {
    let p = headers_only(1.0).await;
    let since = anchor() - Duration::days(30);
    let all = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap()
        .records;
    let mut two: Vec<Order> = all.into_iter().take(2).collect();
    let report = p
        .client
        .complete_order_lines(&mut two, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.via_get, 2, "{report:?}");
    let ds = p.sim.dataset();
    assert_lines_match(&two, &ds.read().unwrap());
}

#[tokio::test]
async fn orders_that_already_have_lines_cost_nothing() {
    let p = Setup::new(Size::Small).start(|_| {}).await;
    let since = anchor() - Duration::days(30);
    let mut orders = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap()
        .records;
    let before = p.sim.stats().requests;
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.orders_completed, 0);
    assert_eq!(p.sim.stats().requests, before);
}
