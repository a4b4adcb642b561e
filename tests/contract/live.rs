//! Live changes: as simulated time passes, stock moves and records change, and an
//! incremental read from the last cursor (minus the overlap) sees every change, even when
//! the server's clock runs behind ours.

use std::collections::HashMap;

use chrono::Duration;
use finale::{InventoryItem, Order, Priority, Product};
use finale_sim::Size;
use stockpulse_tests::{Setup, anchor};

#[tokio::test]
async fn incremental_reads_catch_every_live_change_despite_clock_skew() {
    // The server stamps lastUpdatedDate three minutes behind the shared clock.
    let p = Setup::new(Size::Small)
        .sim(|c| c.quirks.clock_skew = Duration::minutes(-3))
        .start(|_| {})
        .await;
    let overlap = p.config.overlap;
    assert!(
        overlap >= Duration::minutes(3),
        "the default overlap must absorb a few minutes of skew"
    );

    let first = p
        .client
        .fetch_changed::<Order>(
            anchor() - Duration::days(30),
            anchor(),
            Priority::Smart,
            |_| {},
        )
        .await
        .unwrap();
    let cursor = p.config.clock.now();
    let stock_before = p
        .client
        .fetch_all::<InventoryItem>(Priority::Smart)
        .await
        .unwrap()
        .records;

    let report = p.sim.step_live(Duration::hours(6));
    assert!(report.new_orders > 0, "{report:?}");

    let now = p.config.clock.now();
    let changed = p
        .client
        .fetch_changed::<Order>(cursor - overlap, now, Priority::Smart, |_| {})
        .await
        .unwrap();
    let missed = {
        let ds = p.sim.dataset();
        let truth = ds.read().unwrap();
        let known: HashMap<&str, Option<chrono::DateTime<chrono::Utc>>> = first
            .records
            .iter()
            .map(|o| (o.url.as_str(), o.last_updated))
            .collect();
        // Every order that is new or changed since the first read is in the incremental read.
        let seen: std::collections::HashSet<&str> =
            changed.records.iter().map(|o| o.url.as_str()).collect();
        let mut missed = Vec::new();
        for t in truth.orders.rows() {
            let is_new_or_changed = match known.get(t.order_url.as_str()) {
                None => t.last_updated_date > anchor() - Duration::days(30),
                Some(lu) => *lu != Some(t.last_updated_date),
            };
            if is_new_or_changed && !seen.contains(t.order_url.as_str()) {
                missed.push(t.order_url.clone());
            }
        }
        missed
    };
    assert!(missed.is_empty(), "incremental read missed {missed:?}");
    // And the server really stamped them behind our clock.
    assert!(
        changed
            .records
            .iter()
            .filter_map(|o| o.last_updated)
            .any(|t| t < cursor),
        "skew exercised"
    );

    let stock_after = p
        .client
        .fetch_all::<InventoryItem>(Priority::Smart)
        .await
        .unwrap()
        .records;
    assert_ne!(stock_before, stock_after, "sales and receipts moved stock");
    let products = p
        .client
        .fetch_all::<Product>(Priority::Smart)
        .await
        .unwrap();
    assert!(products.errors.is_empty());
}
