//! Dashboard figures on the hand-made store.

use workstation::query::dashboard;

use crate::support::hand_made;

#[test]
fn counts_value_and_sync_health() {
    let c = hand_made();
    c.execute_batch(
        "INSERT INTO sync_runs (strategy, started_at, finished_at, duration_ms, success)
              VALUES ('full', 1000, 5000, 4000, 1);
         INSERT INTO sync_runs (strategy, started_at, finished_at, duration_ms, success, notes)
              VALUES ('smart', 6000, 7000, 1000, 0, 'Finale answered 503');
         INSERT INTO sync_runs (strategy, started_at, finished_at, duration_ms, success)
              VALUES ('smart', 8000, 9500, 1500, 1);
         INSERT INTO sync_runs (strategy, started_at, finished_at, duration_ms, success,
                                error_patterns)
              VALUES ('critical', 10000, 10500, 500, 0, '[[\"timeout\", 3], [\"429\", 5]]');
         INSERT INTO sync_runs (strategy, started_at) VALUES ('critical', 11000);",
    )
    .unwrap();
    let d = dashboard(&c).unwrap();
    let i = d.items;
    assert_eq!(
        (i.total, i.inactive, i.out_of_stock, i.below_reorder, i.ok),
        (5, 1, 1, 2, 1)
    );
    assert_eq!((i.at_reorder, i.critical), (2, 2));
    // 38 × 2.5 + 3 × 4 + 0 × 1 + 40 × 0.5 + 12 × 3
    assert_eq!(d.stock_value, 163.0);
    let s = |name: &str| d.sync.iter().find(|h| h.strategy == name).unwrap().clone();
    let smart = s("smart");
    assert_eq!((smart.recent_runs, smart.recent_succeeded), (2, 1));
    assert_eq!(smart.success_rate, Some(0.5));
    assert_eq!(smart.last_success, Some(true));
    assert_eq!(smart.last_error.as_deref(), Some("Finale answered 503"));
    let critical = s("critical");
    assert!(critical.running);
    assert_eq!(critical.last_success, Some(false));
    assert_eq!(critical.last_error.as_deref(), Some("429 (×5)"));
    assert_eq!(s("stock").last_started_at, None);
    assert_eq!(d.data_as_of.map(|t| t.timestamp_millis()), Some(9500));
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["items"]["out_of_stock"], 1);
}

#[test]
fn the_cache_follows_other_connections_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    {
        let mut w = store::sqlite::open(&path).unwrap();
        store::sqlite::migrate(&mut w).unwrap();
    }
    let reader = workstation::local::open_existing(&path).unwrap();
    let writer = store::sqlite::open(&path).unwrap();
    let mut cache = workstation::query::DashboardCache::new();
    assert_eq!(cache.get(&reader).unwrap().items.total, 0);
    crate::support::product(
        &writer,
        "P1",
        "A-1",
        "Thing",
        None,
        "PRODUCT_ACTIVE",
        1.0,
        None,
    );
    crate::support::item_row(&writer, "P1", 0.0, 0.0, None, None, 0.0, 0.0);
    let d = cache.get(&reader).unwrap();
    assert_eq!((d.items.total, d.items.out_of_stock), (1, 1));
    assert_eq!(cache.get(&reader).unwrap(), d);
}
