//! Hydration, catch-up and reconciliation, one pass at a time.

use crate::support::{Setup, position};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hydration_copies_every_table_and_catch_up_applies_inserts_updates_and_deletes() {
    let s = Setup::new(60).await;
    let mut m = s.mirror();
    let pass = m.sync_once().await.expect("hydrate");
    assert!(pass.hydrated, "a new cache hydrates");
    assert_eq!(pass.reason.as_deref(), Some("a new cache"));
    s.assert_converged().await;
    let hydrated_at = position(&s.local());

    // Changes of every kind, by hand, in several transactions.
    s.sql("UPDATE stock SET on_hand = on_hand + 3 WHERE product_url = '/acme/api/product/7'")
        .await;
    s.sql(
        "INSERT INTO products (url, sku, name, content_hash)
         VALUES ('/acme/api/product/new', 'SKU-NEW', 'New', sha256('n'::bytea));
         INSERT INTO product_suppliers (product_url, seq, supplier_url, price)
         VALUES ('/acme/api/product/new', 0, '/acme/api/partygroup/2', 3.5);",
    )
    .await;
    s.sql("DELETE FROM orders WHERE url = '/acme/api/order/3'")
        .await; // cascades to its lines
    s.sql("DELETE FROM product_suppliers WHERE product_url = '/acme/api/product/9' AND seq = 1")
        .await;
    s.sql("UPDATE parties SET roles = ARRAY['SUPPLIER', 'CUSTOMER'] WHERE party_id = '2'")
        .await;

    let pass = m.sync_once().await.expect("catch up");
    assert!(!pass.hydrated);
    assert!(
        pass.deleted >= 5,
        "the order, its 3 lines and a supplier link: {pass:?}"
    );
    // (An open transaction elsewhere on the server may hold the snapshot's xmin back.)
    assert!(position(&s.local()) >= hydrated_at);
    s.assert_converged().await;

    // Nothing changed: nothing applied.
    let pass = m.sync_once().await.expect("idle catch up");
    assert_eq!(pass.rows(), 0, "{pass:?}");
    assert_eq!(pass.deleted, 0);

    // The checksums agree.
    let r = m.reconcile_once().await.expect("reconcile");
    assert_eq!(r.mismatched, 0, "{r:?}");
    assert_eq!(r.tables, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_finds_and_repairs_drift_without_rehydrating() {
    let s = Setup::new(40).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate");
    // Drift: the cache loses a row, holds one the store never had, and an old version.
    let local = s.local();
    local
        .execute(
            "DELETE FROM stock WHERE product_url = '/acme/api/product/5'",
            [],
        )
        .expect("drift");
    local
        .execute(
            "INSERT INTO facilities (url, facility_id, content_hash, change_xid)
             VALUES ('/acme/api/facility/ghost', 'ghost', zeroblob(32), 1)",
            [],
        )
        .expect("drift");
    local
        .execute(
            "UPDATE products SET name = 'stale', change_xid = 1 WHERE url = '/acme/api/product/8'",
            [],
        )
        .expect("drift");
    drop(local);
    let r = m.reconcile_once().await.expect("reconcile");
    assert!(r.mismatched >= 3, "{r:?}");
    assert_eq!(r.rows_deleted, 1, "{r:?}");
    assert!(r.rows_repaired >= 5, "4 stock rows and a product: {r:?}");
    s.assert_converged().await;
    let again = m.reconcile_once().await.expect("reconcile again");
    assert_eq!(again.mismatched, 0, "{again:?}");
    let recorded: i64 = s
        .local()
        .query_row("SELECT count(*) FROM mirror_reconciliations", [], |r| {
            r.get(0)
        })
        .expect("recorded");
    assert_eq!(recorded, 2, "every reconciliation is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_behind_the_pruning_horizon_rehydrates_and_says_why() {
    let s = Setup::new(20).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate");
    s.sql("DELETE FROM products WHERE url = '/acme/api/product/4'")
        .await;
    // No live mirror registered, nothing kept by age: pruning drops what no one needs.
    s.sql("DELETE FROM feed_mirrors; SELECT feed_prune('1 second', '0 seconds');")
        .await;
    // (Other tests' open transactions hold the server's xmin, and so the horizon, back; move
    // it past this mirror the way a later prune would.)
    s.sql("UPDATE feed_horizon SET horizon = pg_current_xact_id()")
        .await;
    let pass = m.sync_once().await.expect("rehydrate");
    assert!(pass.hydrated, "{pass:?}");
    assert!(
        pass.reason
            .as_deref()
            .is_some_and(|r| r.contains("pruning horizon")),
        "{pass:?}"
    );
    s.assert_converged().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_of_another_store_rehydrates() {
    let s = Setup::new(10).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate");
    s.sql("UPDATE feed_identity SET id = gen_random_uuid()")
        .await;
    let pass = m.sync_once().await.expect("rehydrate");
    assert!(pass.hydrated);
    assert_eq!(
        pass.reason.as_deref(),
        Some("the cache held another store's data")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_newer_than_this_binary_is_refused_and_the_cache_keeps_its_data() {
    let s = Setup::new(10).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate");
    s.sql(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         VALUES (99991231000000, 'from_the_future', now()::text, '0')",
    )
    .await;
    let err = m.sync_once().await.expect_err("a newer store");
    assert!(err.to_string().contains("newer"), "{err}");
    assert!(
        !err.ends_mirror(),
        "an upgrade fixes it: the mirror keeps trying"
    );
    let n: i64 = s
        .local()
        .query_row("SELECT count(*) FROM products", [], |r| r.get(0))
        .expect("the cache still answers");
    assert_eq!(n, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_in_the_store_reaches_the_cache_as_the_right_events() {
    use workstation::events::{Event, Received};
    let s = Setup::new(12).await;
    let mut m = s.mirror();
    let hydrated = m.sync_once().await.expect("hydrate");
    assert_eq!(hydrated.events, 0, "a first fill raises nothing");
    let mut rx = m.bus().subscribe();
    // Product 5 sells out everywhere, by hand in the SQL editor; product 6's price moves.
    s.sql(
        "UPDATE stock SET on_hand = 0, reserved = 0 WHERE product_url = '/acme/api/product/5';
         UPDATE products SET list_price = 99 WHERE url = '/acme/api/product/6';",
    )
    .await;
    let pass = m.sync_once().await.expect("catch up");
    assert!(pass.events > 0, "{pass:?}");
    let mut kinds = Vec::new();
    while let Some(Received::Event(e)) = rx.try_recv() {
        match &e.event {
            Event::StockedOut(c) if c.location_url.is_none() => {
                assert_eq!(c.sku, "SKU-5");
                assert_eq!(c.product_url, "/acme/api/product/5");
            }
            Event::PriceChanged(p) => assert_eq!(p.sku, "SKU-6"),
            _ => {}
        }
        assert!(e.seq.is_some(), "derived events are logged");
        kinds.push(e.event.kind());
    }
    assert!(kinds.contains(&"stocked_out"), "{kinds:?}");
    assert!(kinds.contains(&"stock_changed"), "{kinds:?}");
    assert!(kinds.contains(&"price_changed"), "{kinds:?}");
    // The same change again is no change: no event.
    let again = m.sync_once().await.expect("idle");
    assert_eq!(again.events, 0);
}
