//! The stock pulse (`Strategy::Stock`): the stock snapshot alone, at critical priority, writing
//! only the pairs that changed and the item rows of their products.

use std::collections::BTreeMap;

use chrono::Duration;
use engine::Strategy;
use engine::sync::{NoProgress, SyncError};
use finale_sim::Size;
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, engine, run, truth};

async fn the_stock_pulse_writes_only_changed_stock(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:pulse");

    // Before the full load there is nothing to compare stock with.
    let err = eng.run(Strategy::Stock, &NoProgress).await.unwrap_err();
    assert!(matches!(err, SyncError::NoFullLoad), "{err}");

    run(&eng, Strategy::Full).await;
    let before = ts.store.snapshot().await.expect("snapshot");
    let live = pair.sim.step_live(Duration::hours(2));
    assert!(live.stock_rows_changed > 0, "{live:?}");

    let pulse = run(&eng, Strategy::Stock).await;
    assert!(pulse.metrics.success);
    // One collection read: the stock snapshot, nothing else.
    assert_eq!(
        pulse.metrics.requests.get("collection").copied(),
        Some(1),
        "{:?}",
        pulse.metrics.requests
    );
    let tables: Vec<&str> = pulse.applied.by_table.keys().copied().collect();
    assert_eq!(tables, vec!["stock"], "only stock rows are written");
    assert!(!pulse.applied.stock_products.is_empty());
    assert!(pulse.items.writes.total() > 0, "{:?}", pulse.items);
    assert_eq!(pulse.daily_sales.total(), 0, "sales history is not rebuilt");

    let after = ts.store.snapshot().await.expect("snapshot");
    let want = truth(&pair, &expect);
    assert_eq!(
        after.stock, want.stock,
        "stock equals Finale's after the pulse"
    );
    // Orders and products are left to the critical and smart runs.
    assert_eq!(after.orders, before.orders);
    assert_eq!(after.products, before.products);
    // The items of products whose stock moved show the new on-hand sum.
    let mut on_hand: BTreeMap<&str, f64> = BTreeMap::new();
    for s in &after.stock {
        *on_hand.entry(s.product_url.as_str()).or_default() += s.on_hand;
    }
    for p in &pulse.applied.stock_products {
        let item = after
            .items
            .iter()
            .find(|i| &i.finale_id == p)
            .expect("an item row for every product with stock");
        let sum = on_hand.get(p.as_str()).copied().unwrap_or(0.0);
        assert!(
            (item.stock - sum).abs() < 1e-6,
            "{p}: {} vs {sum}",
            item.stock
        );
    }

    // A second pulse with nothing changed writes nothing at all.
    let marks = ts.store.write_marks().await.expect("marks");
    let again = run(&eng, Strategy::Stock).await;
    assert_eq!(again.metrics.items_changed, 0, "{:?}", again.applied);
    assert_eq!(ts.store.write_marks().await.expect("marks"), marks);

    let runs = ts.store.recent_runs(3).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.strategy).collect::<Vec<_>>(),
        vec![Strategy::Stock, Strategy::Stock, Strategy::Full]
    );
    pair.sim.shutdown().await;
}

crate::on_both_stores!(the_stock_pulse_writes_only_changed_stock);
