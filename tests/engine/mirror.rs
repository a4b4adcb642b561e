//! The engine and the workstation mirror together: the simulator → the engine → Postgres →
//! the mirror → a local store, equal table by table after a hydration, after syncs of live
//! activity and after catch-up; and the embedded default, where the engine writes the local
//! store itself and the same queries and events work.

use chrono::Duration;
use engine::Strategy;
use workstation::events::Bus;
use workstation::mirror::{Mirror, MirrorConfig};

use crate::support::{Kind, TestStore, engine, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_equals_the_store_after_hydration_syncs_and_catch_up() {
    let pair = stockpulse_tests::small().await;
    let ts = TestStore::new(Kind::Postgres).await;
    let db = ts.db.as_ref().expect("a Postgres store");
    let eng = engine(&pair, ts.store.clone(), "mirror-test");
    run(&eng, Strategy::Full).await;

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("cache.db");
    let mut mirror = Mirror::open(
        MirrorConfig {
            database_url: db.url().to_owned(),
            lock_url: None,
            local_path: path.clone(),
        },
        Bus::default(),
    )
    .expect("mirror");
    let pass = mirror.sync_once().await.expect("hydrate");
    assert!(pass.hydrated);
    let local = workstation::local::open_existing(&path).expect("cache");
    let diffs = workstation::testing::differences(db.client(), &local).await;
    assert!(diffs.is_empty(), "after hydration:\n{}", diffs.join("\n"));

    // Six hours of sales, receipts and price changes; the engine syncs them.
    pair.sim.step_live(Duration::hours(6));
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.items_changed > 0);
    run(&eng, Strategy::Stock).await;
    let pass = mirror.sync_once().await.expect("catch up");
    assert!(!pass.hydrated);
    assert!(pass.rows() > 0, "{pass:?}");
    let diffs = workstation::testing::differences(db.client(), &local).await;
    assert!(diffs.is_empty(), "after catch-up:\n{}", diffs.join("\n"));
    let r = mirror.reconcile_once().await.expect("reconcile");
    assert_eq!(r.mismatched, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_embedded_default_the_engine_fills_the_cache_that_queries_and_events_read() {
    let pair = stockpulse_tests::small().await;
    let ts = TestStore::new(Kind::Sqlite).await;
    let path = ts.dir.as_ref().expect("dir").path().join("stockpulse.db");
    let eng = engine(&pair, ts.store.clone(), "embedded-test");
    run(&eng, Strategy::Full).await;

    let conn = workstation::local::open_existing(&path).expect("the engine's store");
    let page = workstation::query::search(
        &conn,
        &workstation::query::SearchQuery {
            limit: Some(5),
            ..Default::default()
        },
    )
    .expect("search");
    assert_eq!(page.rows.len(), 5);
    let first = &page.rows[0];
    let detail =
        workstation::query::item(&conn, &first.sku, chrono::Utc::now().date_naive()).expect("item");
    assert_eq!(detail.summary.product_url, first.product_url);
    // The first fill raised no alert storm; later activity derives events.
    let mut conn = conn;
    let first_fill = {
        let tx = conn.transaction().expect("tx");
        let e = workstation::events::derive(&tx, chrono::Utc::now()).expect("derive");
        tx.commit().expect("commit");
        e
    };
    assert!(
        !first_fill.iter().any(|e| e.kind() == "alert"),
        "no alerts from a first fill: {:?}",
        first_fill.iter().map(|e| e.kind()).collect::<Vec<_>>()
    );
    pair.sim.step_live(Duration::hours(6));
    run(&eng, Strategy::Stock).await;
    let tx = conn.transaction().expect("tx");
    let events = workstation::events::derive(&tx, chrono::Utc::now()).expect("derive");
    tx.commit().expect("commit");
    assert!(
        events.iter().any(|e| e.kind() == "stock_changed"),
        "stock moved in six hours of activity: {:?}",
        events.iter().map(|e| e.kind()).collect::<Vec<_>>()
    );
}
