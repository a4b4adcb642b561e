//! The seed's `get_items_needing_sync`, one test per branch, through
//! `store::items_needing_sync` (and the raw SQL where the Rust API cannot express a case).

use store::testing::TestDb;
use store::{Strategy, SyncCandidate, items_needing_sync};
use tokio_postgres::types::Type;

use crate::support::{db, hash};

/// One inventory item. `synced_ago`: a Postgres interval before `now()`, or `None` (never).
struct Item {
    sku: &'static str,
    stock: f64,
    reorder_point: Option<f64>,
    velocity: f64,
    synced_ago: Option<&'static str>,
}

const fn item(
    sku: &'static str,
    stock: f64,
    reorder_point: Option<f64>,
    velocity: f64,
    synced_ago: Option<&'static str>,
) -> Item {
    Item {
        sku,
        stock,
        reorder_point,
        velocity,
        synced_ago,
    }
}

async fn insert(db: &TestDb, items: &[Item]) {
    for it in items {
        db.client()
            .query_typed(
                "INSERT INTO inventory_items \
                 (sku, finale_id, stock, reorder_point, sales_velocity, finale_last_sync, content_hash) \
                 VALUES ($1, '/a/api/product/' || $1, $2, $3, $4, now() - $5::text::interval, $6)",
                &[
                    (&it.sku, Type::TEXT),
                    (&it.stock, Type::FLOAT8),
                    (&it.reorder_point, Type::FLOAT8),
                    (&it.velocity, Type::FLOAT8),
                    (&it.synced_ago, Type::TEXT),
                    (&hash(1), Type::BYTEA),
                ],
            )
            .await
            .expect("insert item");
    }
}

fn pairs(rows: &[SyncCandidate]) -> Vec<(&str, i32)> {
    rows.iter().map(|c| (c.sku.as_str(), c.priority)).collect()
}

fn sorted(mut v: Vec<(&str, i32)>) -> Vec<(&str, i32)> {
    v.sort();
    v
}

#[tokio::test]
async fn critical_scores_each_trigger() {
    let db = db().await;
    insert(
        &db,
        &[
            // out of stock (and so at/below its reorder point): 100
            item("OUT", 0.0, Some(5.0), 0.0, Some("10 minutes")),
            // at the reorder point: 90; below it: 90
            item("AT", 5.0, Some(5.0), 3.0, Some("10 minutes")),
            item("BELOW", 2.0, Some(5.0), 0.0, Some("10 minutes")),
            // selling fast, stock fine: 80
            item("FAST", 50.0, Some(5.0), 1.5, Some("10 minutes")),
            // only stale (> 4 h): 50
            item("STALE", 50.0, Some(5.0), 0.5, Some("5 hours")),
            // out of stock, no reorder rule, reached only through staleness: still 100
            item("OUT-STALE", 0.0, None, 0.0, Some("1 day")),
        ],
    )
    .await;
    let rows = items_needing_sync(db.client(), Strategy::Critical, 100)
        .await
        .expect("critical");
    assert_eq!(
        sorted(pairs(&rows)),
        sorted(vec![
            ("OUT", 100),
            ("OUT-STALE", 100),
            ("AT", 90),
            ("BELOW", 90),
            ("FAST", 80),
            ("STALE", 50),
        ])
    );
}

#[tokio::test]
async fn critical_leaves_out_healthy_items_exactly_as_the_seed_does() {
    let db = db().await;
    insert(
        &db,
        &[
            // stock above reorder point, velocity exactly 1 (not > 1), synced 3 h ago
            item("HEALTHY", 20.0, Some(5.0), 1.0, Some("3 hours")),
            // no reorder rule: `stock <= NULL` is never true
            item("NO-RULE", 3.0, None, 0.0, Some("1 hour")),
            // never synced: `NULL < now() - 4h` is not true either (the seed's semantics)
            item("NEVER", 20.0, Some(5.0), 0.0, None),
            // out of stock but no rule and fresh: the seed's WHERE does not reach it
            item("OUT-NO-RULE", 0.0, None, 0.0, Some("1 minute")),
        ],
    )
    .await;
    let rows = items_needing_sync(db.client(), Strategy::Critical, 100)
        .await
        .expect("critical");
    assert!(rows.is_empty(), "{rows:?}");
}

#[tokio::test]
async fn critical_orders_by_priority_and_honours_the_limit() {
    let db = db().await;
    insert(
        &db,
        &[
            item("S1", 50.0, Some(5.0), 0.0, Some("6 hours")),
            item("F1", 50.0, Some(5.0), 2.0, Some("1 minute")),
            item("O1", 0.0, Some(1.0), 0.0, Some("1 minute")),
            item("S2", 50.0, Some(5.0), 0.0, Some("7 hours")),
            item("B1", 1.0, Some(2.0), 0.0, Some("1 minute")),
            item("O2", 0.0, Some(1.0), 0.0, Some("1 minute")),
        ],
    )
    .await;
    let all = items_needing_sync(db.client(), Strategy::Critical, 100)
        .await
        .expect("all");
    let priorities: Vec<i32> = all.iter().map(|c| c.priority).collect();
    assert_eq!(priorities, vec![100, 100, 90, 80, 50, 50]);

    let top = items_needing_sync(db.client(), Strategy::Critical, 3)
        .await
        .expect("top 3");
    assert_eq!(
        sorted(pairs(&top)),
        vec![("B1", 90), ("O1", 100), ("O2", 100)]
    );
    let none = items_needing_sync(db.client(), Strategy::Critical, 0)
        .await
        .expect("limit 0");
    assert!(none.is_empty());
}

#[tokio::test]
async fn smart_takes_never_and_day_old_syncs_oldest_first() {
    let db = db().await;
    insert(
        &db,
        &[
            item("FRESH", 0.0, Some(5.0), 9.0, Some("23 hours")),
            item("DAY-2", 10.0, None, 0.0, Some("2 days")),
            item("NEVER", 10.0, None, 0.0, None),
            item("DAY-9", 10.0, None, 0.0, Some("9 days")),
            item("JUST", 10.0, None, 0.0, Some("1 minute")),
            item("DAY-1h", 10.0, None, 0.0, Some("25 hours")),
        ],
    )
    .await;
    let rows = items_needing_sync(db.client(), Strategy::Smart, 100)
        .await
        .expect("smart");
    // NULLS FIRST, then oldest sync first; everything at 50; fresh ones (< 1 day) excluded,
    // however critical they look.
    assert_eq!(
        pairs(&rows),
        vec![("NEVER", 50), ("DAY-9", 50), ("DAY-2", 50), ("DAY-1h", 50)]
    );
    let two = items_needing_sync(db.client(), Strategy::Smart, 2)
        .await
        .expect("smart limit");
    assert_eq!(pairs(&two), vec![("NEVER", 50), ("DAY-9", 50)]);

    // The SQL default strategy is 'smart' (and the default limit 1000).
    let defaults: Vec<String> = db
        .client()
        .query("SELECT sku FROM get_items_needing_sync()", &[])
        .await
        .expect("defaults")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(defaults, vec!["NEVER", "DAY-9", "DAY-2", "DAY-1h"]);
}

#[tokio::test]
async fn full_and_anything_else_take_everything_by_sku() {
    let db = db().await;
    insert(
        &db,
        &[
            item("C-3", 0.0, Some(5.0), 9.0, None),
            item("A-1", 10.0, None, 0.0, Some("1 minute")),
            item("B-2", 10.0, None, 0.0, Some("9 days")),
            item("D-4", 10.0, None, 0.0, Some("1 hour")),
        ],
    )
    .await;
    let rows = items_needing_sync(db.client(), Strategy::Full, 100)
        .await
        .expect("full");
    assert_eq!(
        pairs(&rows),
        vec![("A-1", 10), ("B-2", 10), ("C-3", 10), ("D-4", 10)]
    );
    let ids: std::collections::HashSet<_> = rows.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 4, "ids are the rows' own UUIDs");

    let two = items_needing_sync(db.client(), Strategy::Full, 2)
        .await
        .expect("full limit");
    assert_eq!(pairs(&two), vec![("A-1", 10), ("B-2", 10)]);

    // The seed's ELSE branch: any other strategy name behaves like 'full'.
    for other in ["everything", "", "CRITICAL"] {
        let skus: Vec<(String, i32)> = db
            .client()
            .query(
                "SELECT sku, priority FROM get_items_needing_sync($1, 3)",
                &[&other],
            )
            .await
            .expect("else branch")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            skus,
            vec![
                ("A-1".to_owned(), 10),
                ("B-2".to_owned(), 10),
                ("C-3".to_owned(), 10)
            ],
            "{other:?}"
        );
    }
}

#[tokio::test]
async fn huge_limits_are_clamped_not_rejected() {
    let db = db().await;
    insert(&db, &[item("A", 1.0, None, 0.0, None)]).await;
    let rows = items_needing_sync(db.client(), Strategy::Full, u32::MAX)
        .await
        .expect("u32::MAX");
    assert_eq!(pairs(&rows), vec![("A", 10)]);
}

#[tokio::test]
async fn an_empty_store_needs_nothing() {
    let db = db().await;
    for s in [Strategy::Full, Strategy::Smart, Strategy::Critical] {
        assert!(
            items_needing_sync(db.client(), s, 10)
                .await
                .expect("empty")
                .is_empty()
        );
    }
}
