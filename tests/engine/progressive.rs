//! Progressive loading (the seed's fifth improvement): the full load lands products, locations
//! and stock first, then orders newest first, refreshing the derived rows as each part lands
//! and saying what is usable already.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use engine::Strategy;
use engine::store::{Snapshot, Store};
use engine::sync::{NoProgress, Progress, ProgressUpdate, SyncError};
use finale_sim::{Fault, FaultPlan, Size};
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, truth};

/// Records what the load said, in order, and (with a store) what the store held at each
/// "usable now" note.
#[derive(Default)]
struct Recorder {
    said: Mutex<Vec<String>>,
    store: Option<Arc<dyn Store>>,
    at_notes: Mutex<Vec<Snapshot>>,
}

impl Progress for Recorder {
    fn update(&self, p: &ProgressUpdate) {
        self.said.lock().unwrap().push(format!("phase {}", p.phase));
    }
    fn note(&self, message: &str) {
        self.said.lock().unwrap().push(format!("note {message}"));
        if let (Some(store), true) = (&self.store, message.starts_with("usable now")) {
            let snap = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(store.snapshot())
            })
            .expect("snapshot");
            self.at_notes.lock().unwrap().push(snap);
        }
    }
}

/// The stock summed per product.
fn on_hand(s: &Snapshot) -> BTreeMap<&str, f64> {
    let mut m = BTreeMap::new();
    for r in &s.stock {
        *m.entry(r.product_url.as_str()).or_default() += r.on_hand;
    }
    m
}

async fn stock_is_usable_before_any_order_is_read(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:progressive");

    // Every order read fails: the load ends with failed jobs, but what landed before the
    // orders is usable already.
    pair.sim
        .inject(FaultPlan::new(Fault::Status(400), 10_000).on_path("/api/order/"));
    let err = eng.run(Strategy::Full, &NoProgress).await.unwrap_err();
    assert!(
        matches!(err, SyncError::JobsFailed { failed: 25, .. }),
        "{err}"
    );
    let snap = ts.store.snapshot().await.expect("snapshot");
    let want = truth(&pair, &expect);
    assert_eq!(snap.stock, want.stock, "stock landed");
    assert_eq!(snap.products, want.products, "products landed");
    assert!(snap.orders.is_empty() && snap.daily_sales.is_empty());
    // The item rows were refreshed when the stock landed, not only at the end.
    assert_eq!(
        snap.items.len(),
        want.items.len(),
        "an item row per product"
    );
    let sums = on_hand(&want);
    for i in &snap.items {
        let sum = sums.get(i.finale_id.as_str()).copied().unwrap_or(0.0);
        assert!(
            (i.stock - sum).abs() < 1e-6,
            "{}: {} vs {sum}",
            i.sku,
            i.stock
        );
    }

    // The orders come back: the next full load reads only what is missing and completes.
    pair.sim.clear_faults();
    let progress = Recorder::default();
    eng.run(Strategy::Full, &progress)
        .await
        .expect("resumed load");
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    let said = progress.said.into_inner().unwrap();
    let windows: Vec<usize> = said
        .iter()
        .enumerate()
        .filter(|(_, s)| s.starts_with("phase order "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(windows.len(), 25, "{said:#?}");
    let velocity = said
        .iter()
        .position(|s| s.starts_with("note usable now: sales velocity"))
        .expect("the velocity milestone is announced");
    // Windows are newest first; the fourth 30-day window reaches back past 90 days, and the
    // milestone is announced right after it, before the older history.
    assert!(windows[3] < velocity && velocity < windows[4], "{said:#?}");
    let names: Vec<&str> = said
        .iter()
        .filter_map(|s| s.strip_prefix("phase order "))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted, "order windows newest first");
    pair.sim.shutdown().await;
}

async fn each_part_is_usable_as_it_lands(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:progressive");
    let progress = Recorder {
        store: Some(ts.store.clone()),
        ..Recorder::default()
    };
    let report = eng.run(Strategy::Full, &progress).await.expect("full");
    assert!(report.metrics.success);
    let said = progress.said.into_inner().unwrap();
    let notes: Vec<&String> = said
        .iter()
        .filter(|s| s.starts_with("note usable"))
        .collect();
    assert_eq!(notes.len(), 2, "{said:#?}");
    let stock_note = said.iter().position(|s| s == notes[0]).unwrap();
    let first_window = said
        .iter()
        .position(|s| s.starts_with("phase order "))
        .expect("order windows");
    assert!(notes[0].contains("stock per location"), "{said:#?}");
    assert!(
        stock_note < first_window,
        "stock before any order: {said:#?}"
    );

    let [at_stock, at_velocity]: [Snapshot; 2] = progress
        .at_notes
        .into_inner()
        .unwrap()
        .try_into()
        .expect("two snapshots");
    let done = ts.store.snapshot().await.expect("snapshot");
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    // When stock was announced: stock and items in, no order yet, items show the stock.
    assert_eq!(at_stock.stock, done.stock);
    assert!(at_stock.orders.is_empty());
    assert_eq!(at_stock.items.len(), done.items.len());
    let sums = on_hand(&done);
    for i in &at_stock.items {
        let sum = sums.get(i.finale_id.as_str()).copied().unwrap_or(0.0);
        assert!(
            (i.stock - sum).abs() < 1e-6,
            "{}: {} vs {sum}",
            i.sku,
            i.stock
        );
    }
    // When velocity was announced: only the newest orders, yet every velocity and days of
    // stock left are already what the completed load says.
    assert!(!at_velocity.orders.is_empty());
    assert!(at_velocity.orders.len() < done.orders.len());
    let velocities = |s: &Snapshot| -> Vec<(String, f64, f64, Option<f64>)> {
        s.items
            .iter()
            .map(|i| {
                (
                    i.finale_id.clone(),
                    i.sales_velocity,
                    i.sales_velocity_90d,
                    i.days_of_stock,
                )
            })
            .collect()
    };
    assert_eq!(velocities(&at_velocity), velocities(&done));
    assert!(done.items.iter().any(|i| i.sales_velocity_90d > 0.0));
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    stock_is_usable_before_any_order_is_read,
    each_part_is_usable_as_it_lands
);
