//! The change feed's guarantees: commit-safe positions, the content-only rule, one NOTIFY per
//! transaction.

use std::time::Duration;

use futures::StreamExt;
use rand::seq::SliceRandom;

use crate::support::Setup;

async fn xid_of(s: &Setup, sql: &str) -> i64 {
    s.db.client()
        .query_one(&format!("SELECT change_xid::text::int8 FROM {sql}"), &[])
        .await
        .expect("change_xid")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookkeeping_and_identical_rewrites_do_not_move_a_position_but_a_hand_edit_does() {
    let s = Setup::new(5).await;
    let row = "products WHERE url = '/acme/api/product/1'";
    let before = xid_of(&s, row).await;
    // The engine confirming an item, moving updated_at, recomputing a hash.
    s.sql("UPDATE products SET updated_at = now() + interval '1 hour', content_hash = sha256('other'::bytea) WHERE url = '/acme/api/product/1'").await;
    s.sql("UPDATE products SET name = name, cost = cost WHERE url = '/acme/api/product/1'")
        .await;
    s.sql("UPDATE inventory_items SET finale_last_sync = now() + interval '1 hour', last_updated = now()").await;
    assert_eq!(
        xid_of(&s, row).await,
        before,
        "bookkeeping does not move the position"
    );
    let item_before = xid_of(&s, "inventory_items WHERE sku = 'SKU-1'").await;
    assert!(item_before <= before + 10);
    // A person editing the name in the SQL editor (the hash is not recomputed).
    s.sql("UPDATE products SET name = 'Edited by hand' WHERE url = '/acme/api/product/1'")
        .await;
    assert!(
        xid_of(&s, row).await > before,
        "a visible change moves the position"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_notification_per_transaction_with_a_position_as_payload() {
    let s = Setup::new(30).await;
    let plan = store::pg::connect::plan_connection(s.db.url()).expect("plan");
    let (listener, mut notes) = plan.connect_listener().await.expect("listener");
    listener
        .batch_execute("LISTEN stockpulse_feed")
        .await
        .expect("listen");
    // 120 rows changed in one transaction: one wake-up.
    s.sql("UPDATE stock SET on_hand = on_hand + 1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got = Vec::new();
    while let Ok(n) = notes.try_recv() {
        got.push(n);
    }
    assert_eq!(
        got.len(),
        1,
        "one per transaction, not one per row: {got:?}"
    );
    // Two more transactions (one of them deletes), each one wake-up.
    s.sql("UPDATE stock SET on_hand = on_hand + 1 WHERE facility_url = '/acme/api/facility/3'")
        .await;
    s.sql("DELETE FROM daily_sales WHERE units = 0").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(n) = notes.try_recv() {
        got.push(n);
    }
    assert_eq!(got.len(), 3, "{got:?}");
    for n in &got {
        assert_eq!(n.channel(), "stockpulse_feed");
        assert!(
            n.payload().parse::<i64>().is_ok(),
            "a position: {}",
            n.payload()
        );
    }
    assert_ne!(got[0].payload(), got[1].payload());
    assert_ne!(got[1].payload(), got[2].payload());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_takes_its_position_first_and_commits_last_is_not_skipped() {
    let s = Setup::new(10).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate");
    // A: takes its transaction id first (it writes), stays open.
    let mut a = store::pg::connect(s.db.url()).await.expect("connect");
    let a_tx = a.transaction().await.expect("begin A");
    a_tx.batch_execute("UPDATE products SET name = 'A' WHERE url = '/acme/api/product/1'")
        .await
        .expect("A writes");
    // B: starts later, commits first.
    s.sql("UPDATE products SET name = 'B' WHERE url = '/acme/api/product/2'")
        .await;
    let pass = m.sync_once().await.expect("catch up while A is open");
    assert_eq!(
        pass.tables,
        vec![("products".to_owned(), 1)],
        "B only: {pass:?}"
    );
    // A commits last: its change is below B's, and still reaches the cache.
    a_tx.commit().await.expect("commit A");
    m.sync_once().await.expect("catch up after A");
    let name: String = s
        .local()
        .query_row(
            "SELECT name FROM products WHERE url = '/acme/api/product/1'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert_eq!(name, "A");
    s.assert_converged().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_writers_in_random_commit_order_converge_exactly() {
    let s = Setup::new(40).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate");
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(store::pg::connect(s.db.url()).await.expect("connect"));
    }
    let mut txs = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let tx = c.transaction().await.expect("begin");
        let p = i + 1;
        tx.batch_execute(&format!(
            "UPDATE stock SET on_hand = on_hand + {p} WHERE product_url = '/acme/api/product/{p}';
             INSERT INTO orders (url, order_id, order_type, content_hash)
                  VALUES ('/acme/api/order/w{p}', 'W{p}', 'SALES_ORDER', sha256('{p}'::bytea));
             DELETE FROM daily_sales WHERE product_url = '/acme/api/product/{p}' AND day = current_date;"
        ))
        .await
        .expect("write");
        txs.push(tx);
    }
    txs.shuffle(&mut rand::rng());
    // Commit in random order, catching up between commits.
    let mut commits = futures::stream::iter(txs);
    let mut n = 0;
    while let Some(tx) = commits.next().await {
        tx.commit().await.expect("commit");
        n += 1;
        if n % 3 == 0 {
            m.sync_once().await.expect("catch up mid-way");
        }
    }
    m.sync_once().await.expect("final catch up");
    s.assert_converged().await;
    let r = m.reconcile_once().await.expect("reconcile");
    assert_eq!(r.mismatched, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_what_a_live_mirror_needs() {
    let s = Setup::new(5).await;
    let mut m = s.mirror();
    m.sync_once().await.expect("hydrate"); // registers the mirror at its position
    s.sql("DELETE FROM products WHERE url = '/acme/api/product/2'")
        .await;
    s.sql("SELECT feed_prune('7 days', '0 seconds')").await;
    let kept: i64 =
        s.db.client()
            .query_one("SELECT count(*) FROM feed_tombstones", &[])
            .await
            .expect("count")
            .get(0);
    assert_eq!(
        kept, 4,
        "the product, its 2 supplier links and its guideline (cascaded)"
    );
    let pass = m.sync_once().await.expect("catch up");
    assert!(!pass.hydrated);
    s.assert_converged().await;
}
