//! `PgStore` against a real Postgres: the Postgres-specific behaviour of the store interface
//! (bulk writes that write only what changed, children rewritten, the report, atomic job
//! completion, the advisory-lock writer role, bookkeeping, derived data) and the raw `COPY`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::json;
use store::derive::item_row;
use store::pg::{PgOptions, PgStore, copy::copy_snapshot};
use store::rows::{
    FacilityRow, GuidelineRow, ItemRow, LineRow, OrderRow, PartyRow, ProductRow, StockRow,
    SupplierLinkRow,
};
use store::testing::TestDb;
use store::{
    Batch, JobDone, JobKind, JobStatus, PlannedJob, Quarantined, RunMetrics, Scope, Store,
    WriterInfo, Writes,
};
use store::{StoreError, Strategy};

use crate::support::db;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .single()
        .expect("valid time")
}

async fn store(db: &TestDb) -> PgStore {
    PgStore::connect(db.url(), PgOptions::default())
        .await
        .expect("store connects")
}

fn facility(n: u32) -> FacilityRow {
    let mut f = FacilityRow {
        url: format!("/acme/api/facility/{n}"),
        facility_id: format!("F{n}"),
        name: Some(format!("Bin {n}")),
        parent_url: (n > 1).then(|| "/acme/api/facility/1".to_owned()),
        status: Some("FACILITY_ACTIVE".into()),
        facility_type: None,
        shipping_disabled: Some(false),
        receiving_disabled: None,
        finale_created: Some(at(1, 0)),
        finale_last_updated: Some(at(1, 1)),
        content_hash: [0; 32],
    };
    f.content_hash = f.hash();
    f
}

fn party(n: u32) -> PartyRow {
    let mut p = PartyRow {
        url: format!("/acme/api/partygroup/{n}"),
        party_id: format!("P{n}"),
        name: Some(format!("Party {n}")),
        roles: vec!["SUPPLIER".into(), "CUSTOMER".into()],
        status: None,
        contacts: json!([{"type": "email", "value": "x@example.com"}]),
        user_fields: json!({"tier": "gold"}),
        finale_last_updated: Some(at(1, 2)),
        content_hash: [0; 32],
    };
    p.content_hash = p.hash();
    p
}

fn product_url(n: u32) -> String {
    format!("/acme/api/product/{n}")
}

fn product(n: u32, cost: f64, suppliers: usize) -> ProductRow {
    let mut p = ProductRow {
        url: product_url(n),
        sku: format!("SKU-{n}"),
        name: Some(format!("Widget {n}")),
        status: Some("PRODUCT_ACTIVE".into()),
        product_type: None,
        category: Some("Tools".into()),
        upc: None,
        cost: Some(cost),
        lead_time_days: Some(7.0),
        packing: None,
        list_price: Some(cost * 2.0),
        user_fields: json!({}),
        finale_created: Some(at(1, 3)),
        finale_last_updated: Some(at(2, 3)),
        suppliers: (0..suppliers)
            .map(|i| SupplierLinkRow {
                supplier_url: Some(format!("/acme/api/partygroup/{i}")),
                supplier_sku: Some(format!("S-{n}-{i}")),
                pref_order_id: (i == 0).then(|| "10_MAIN".to_owned()),
                is_main: i == 0,
                price: Some(cost),
                currency: Some("USD".into()),
                lead_time_days: None,
            })
            .collect(),
        guidelines: vec![
            GuidelineRow {
                facility_url: Some("/acme/api/facility/1".into()),
                reorder_point: Some(5.0),
                reorder_qty: Some(20.0),
                calculation_method: None,
            },
            GuidelineRow {
                facility_url: Some("/acme/api/facility/2".into()),
                reorder_point: Some(1.5),
                reorder_qty: None,
                calculation_method: Some("MANUAL".into()),
            },
        ],
        content_hash: [0; 32],
    };
    p.content_hash = p.hash();
    p
}

fn stock(product: u32, facility: u32, on_hand: f64) -> StockRow {
    StockRow::new(
        product_url(product),
        format!("/acme/api/facility/{facility}"),
        on_hand,
        1.0,
        0.0,
    )
}

fn line(product: u32, quantity: f64, price: Option<f64>) -> LineRow {
    LineRow {
        order_item_url: None,
        product_url: Some(product_url(product)),
        product_id: Some(format!("SKU-{product}")),
        quantity,
        unit_price: price,
    }
}

fn order(n: u32, order_type: &str, date: Option<DateTime<Utc>>, lines: Vec<LineRow>) -> OrderRow {
    let mut o = OrderRow {
        url: format!("/acme/api/order/{n}"),
        order_id: format!("O{n}"),
        order_type: order_type.into(),
        status: Some("ORDER_COMPLETED".into()),
        order_date: date,
        order_day: date.map(|d| d.date_naive()),
        due_date: None,
        origin_facility_url: Some("/acme/api/facility/2".into()),
        destination_facility_url: None,
        party_url: Some("/acme/api/partygroup/1".into()),
        total: Some(10.0),
        reference_number: None,
        finale_created: date,
        finale_last_updated: date,
        lines,
        content_hash: [0; 32],
    };
    o.content_hash = o.hash();
    o
}

fn rehash(o: &mut OrderRow) {
    o.content_hash = o.hash();
}

/// A batch touching every mirror table.
fn full_batch() -> Batch {
    Batch {
        facilities: vec![facility(1), facility(2)],
        parties: vec![party(1)],
        products: vec![product(1, 2.0, 2), product(2, 3.0, 1), product(3, 4.0, 0)],
        orders: vec![
            order(
                1,
                "SALES_ORDER",
                Some(at(10, 12)),
                vec![line(1, 2.0, Some(5.0)), line(2, 1.0, None)],
            ),
            order(
                2,
                "PURCHASE_ORDER",
                Some(at(10, 13)),
                vec![line(3, 50.0, Some(1.0))],
            ),
        ],
        stock_upserts: vec![stock(1, 2, 10.0), stock(1, 3, -2.0), stock(2, 2, 0.0)],
        ..Batch::default()
    }
}

fn writes(inserted: u64, updated: u64, deleted: u64) -> Writes {
    Writes {
        inserted,
        updated,
        deleted,
    }
}

#[tokio::test]
async fn apply_writes_everything_once_and_a_repeat_writes_nothing() {
    let db = db().await;
    let s = store(&db).await;
    let batch = full_batch();

    let first = s.apply(&batch, at(11, 0)).await.expect("first apply");
    let expected: BTreeMap<&str, Writes> = [
        ("facilities", writes(2, 0, 0)),
        ("parties", writes(1, 0, 0)),
        ("products", writes(3, 0, 0)),
        ("product_suppliers", writes(3, 0, 0)),
        ("reorder_guidelines", writes(6, 0, 0)),
        ("stock", writes(3, 0, 0)),
        ("orders", writes(2, 0, 0)),
        ("order_lines", writes(3, 0, 0)),
    ]
    .into_iter()
    .collect();
    assert_eq!(first.by_table, expected);
    assert_eq!(first.new_orders, 2);
    assert_eq!(
        first.changed_products,
        vec![product_url(1), product_url(2), product_url(3)]
    );
    assert_eq!(first.changed_parties, vec!["/acme/api/partygroup/1"]);
    assert_eq!(first.stock_products, vec![product_url(1), product_url(2)]);
    // Only the sales order's lines: the purchase order does not move sales history.
    assert_eq!(first.sales_products, vec![product_url(1), product_url(2)]);
    assert!(
        first.price_changes.is_empty(),
        "new products are not price changes"
    );

    // The store holds exactly the batch, hashes included.
    let snap = s.snapshot().await.expect("snapshot");
    assert_eq!(snap.facilities, batch.facilities);
    assert_eq!(snap.parties, batch.parties);
    assert_eq!(snap.products, batch.products);
    assert_eq!(snap.orders, batch.orders);
    let mut stock_rows = batch.stock_upserts.clone();
    stock_rows.sort_by_key(StockRow::key);
    assert_eq!(snap.stock, stock_rows);
    let hashes = s.stock_hashes().await.expect("stock hashes");
    assert_eq!(hashes.len(), 3);
    assert_eq!(hashes[&stock_rows[0].key()], stock_rows[0].content_hash);

    // Timestamps come from `now`.
    let row = db
        .client()
        .query_one(
            "SELECT first_seen_at, updated_at FROM products WHERE url = $1",
            &[&product_url(1)],
        )
        .await
        .expect("product times");
    assert_eq!(row.get::<_, DateTime<Utc>>(0), at(11, 0));
    assert_eq!(row.get::<_, DateTime<Utc>>(1), at(11, 0));

    let marks = s.write_marks().await.expect("marks");
    assert_eq!(marks.len(), 10);
    let again = s.apply(&batch, at(12, 0)).await.expect("second apply");
    assert_eq!(again.rows_written(), 0, "{again:?}");
    assert!(again.by_table.is_empty());
    assert!(again.changed_products.is_empty() && again.sales_products.is_empty());
    assert_eq!(again.new_orders, 0);
    assert_eq!(
        s.write_marks().await.expect("marks"),
        marks,
        "nothing was written"
    );
    let row = db
        .client()
        .query_one(
            "SELECT updated_at FROM products WHERE url = $1",
            &[&product_url(1)],
        )
        .await
        .expect("product times");
    assert_eq!(row.get::<_, DateTime<Utc>>(0), at(11, 0));
}

#[tokio::test]
async fn write_marks_move_on_insert_update_and_delete() {
    let db = db().await;
    let s = store(&db).await;
    let m0 = s.write_marks().await.expect("marks");
    s.apply(&full_batch(), at(11, 0)).await.expect("apply");
    let m1 = s.write_marks().await.expect("marks");
    assert_ne!(m0["stock"], m1["stock"]);
    let b = Batch {
        stock_upserts: vec![stock(1, 2, 11.0)],
        ..Batch::default()
    };
    s.apply(&b, at(11, 1)).await.expect("update");
    let m2 = s.write_marks().await.expect("marks");
    assert_ne!(m1["stock"], m2["stock"], "an update moves the mark");
    assert_eq!(m1["orders"], m2["orders"]);
    let b = Batch {
        stock_deletes: vec![stock(1, 3, 0.0).key()],
        ..Batch::default()
    };
    let applied = s.apply(&b, at(11, 2)).await.expect("delete");
    assert_eq!(applied.by_table["stock"], writes(0, 0, 1));
    assert_eq!(applied.stock_products, vec![product_url(1)]);
    let m3 = s.write_marks().await.expect("marks");
    assert_ne!(m2["stock"], m3["stock"], "a delete moves the mark");
    // Deleting what is not there writes nothing.
    let applied = s.apply(&b, at(11, 3)).await.expect("delete again");
    assert_eq!(applied.rows_written(), 0);
    assert_eq!(s.write_marks().await.expect("marks"), m3);
}

#[tokio::test]
async fn a_changed_parent_writes_its_changed_children_and_keeps_first_seen() {
    let db = db().await;
    let s = store(&db).await;
    s.apply(&full_batch(), at(11, 0)).await.expect("apply");

    // Product 1: one supplier instead of two, one guideline changed.
    let mut p1 = product(1, 2.0, 1);
    p1.guidelines[1].reorder_point = Some(3.0);
    p1.content_hash = p1.hash();
    // Order 1: the second line is gone, the first has a new quantity.
    let mut o1 = order(
        1,
        "SALES_ORDER",
        Some(at(10, 12)),
        vec![line(1, 3.0, Some(5.0))],
    );
    rehash(&mut o1);
    let b = Batch {
        products: vec![p1.clone(), product(2, 3.0, 1)],
        orders: vec![o1.clone(), full_batch().orders[1].clone()],
        ..Batch::default()
    };
    let applied = s.apply(&b, at(12, 0)).await.expect("apply change");
    assert_eq!(applied.by_table["products"], writes(0, 1, 0));
    // Children by position: supplier 0 and guideline 0 are equal (not written), supplier 1
    // is gone, guideline 1 changed.
    assert_eq!(applied.by_table["product_suppliers"], writes(0, 0, 1));
    assert_eq!(applied.by_table["reorder_guidelines"], writes(0, 1, 0));
    assert_eq!(applied.by_table["orders"], writes(0, 1, 0));
    assert_eq!(applied.by_table["order_lines"], writes(0, 1, 1));
    assert_eq!(applied.changed_products, vec![product_url(1)]);
    assert_eq!(applied.new_orders, 0);

    let snap = s.snapshot().await.expect("snapshot");
    let got = snap
        .products
        .iter()
        .find(|p| p.url == p1.url)
        .expect("product 1");
    assert_eq!(got, &p1);
    let got = snap
        .orders
        .iter()
        .find(|o| o.url == o1.url)
        .expect("order 1");
    assert_eq!(got, &o1);

    let row = db
        .client()
        .query_one(
            "SELECT first_seen_at, updated_at FROM orders WHERE url = $1",
            &[&o1.url],
        )
        .await
        .expect("order times");
    assert_eq!(row.get::<_, DateTime<Utc>>(0), at(11, 0));
    assert_eq!(row.get::<_, DateTime<Utc>>(1), at(12, 0));
}

#[tokio::test]
async fn price_changes_and_sales_products_are_reported() {
    let db = db().await;
    let s = store(&db).await;
    s.apply(&full_batch(), at(11, 0)).await.expect("apply");

    // Product 1's cost changes; product 2 changes its name only; product 9 is new.
    let mut p2 = product(2, 3.0, 1);
    p2.name = Some("Renamed".into());
    p2.content_hash = p2.hash();
    // The sales order moves from products 1, 2 to product 3 (old and new lines count); the
    // purchase order changes but is not a sale; a new cancelled sales order lists its lines.
    let o1 = order(1, "SALES_ORDER", Some(at(10, 12)), vec![line(3, 1.0, None)]);
    let o2 = order(
        2,
        "PURCHASE_ORDER",
        Some(at(10, 13)),
        vec![line(4, 9.0, None)],
    );
    let mut o3 = order(3, "SALES_ORDER", Some(at(10, 14)), vec![line(5, 1.0, None)]);
    o3.status = Some("ORDER_CANCELLED".into());
    rehash(&mut o3);
    let b = Batch {
        products: vec![product(1, 2.5, 2), p2, product(9, 1.0, 0)],
        orders: vec![o1, o2, o3],
        ..Batch::default()
    };
    let applied = s.apply(&b, at(12, 0)).await.expect("apply");
    assert_eq!(
        applied.price_changes.len(),
        1,
        "{:?}",
        applied.price_changes
    );
    let change = &applied.price_changes[0];
    assert_eq!(change.product_url, product_url(1));
    assert_eq!(change.cost, (Some(2.0), Some(2.5)));
    assert_eq!(change.list_price, (Some(4.0), Some(5.0)));
    assert_eq!(
        applied.changed_products,
        vec![product_url(1), product_url(2), product_url(9)]
    );
    assert_eq!(applied.by_table["products"], writes(1, 2, 0));
    assert_eq!(
        applied.sales_products,
        vec![
            product_url(1),
            product_url(2),
            product_url(3),
            product_url(5)
        ]
    );
    assert_eq!(applied.new_orders, 1);
}

#[tokio::test]
async fn a_key_twice_in_one_batch_is_written_once_with_its_last_value() {
    let db = db().await;
    let s = store(&db).await;
    let b = Batch {
        products: vec![product(1, 1.0, 0), product(1, 2.0, 1)],
        stock_upserts: vec![stock(1, 2, 1.0), stock(1, 2, 2.0)],
        state: vec![
            ("cursor:order".into(), json!({"n": 1})),
            ("cursor:order".into(), json!({"n": 2})),
        ],
        ..Batch::default()
    };
    let applied = s.apply(&b, at(11, 0)).await.expect("apply");
    assert_eq!(applied.by_table["products"], writes(1, 0, 0));
    assert_eq!(applied.by_table["stock"], writes(1, 0, 0));
    let snap = s.snapshot().await.expect("snapshot");
    assert_eq!(snap.products, vec![product(1, 2.0, 1)]);
    assert_eq!(snap.stock, vec![stock(1, 2, 2.0)]);
    assert_eq!(
        s.get_state("cursor:order").await.expect("state"),
        Some(json!({"n": 2}))
    );
}

#[tokio::test]
async fn job_done_commits_with_its_batch_and_a_failing_batch_leaves_the_job_open() {
    let db = db().await;
    let s = store(&db).await;
    let jobs = vec![
        PlannedJob {
            collection: "order".into(),
            kind: JobKind::Window,
            window_start: at(1, 0),
            window_end: at(2, 0),
        },
        PlannedJob {
            collection: "product".into(),
            kind: JobKind::Snapshot,
            window_start: at(1, 0),
            window_end: at(20, 0),
        },
    ];
    assert_eq!(s.plan_backfill(&jobs, at(1, 0)).await.expect("plan"), 2);
    let planned = s.backfill_jobs().await.expect("jobs");
    let (ok_id, bad_id) = (planned[0].id, planned[1].id);
    s.start_job(ok_id, at(2, 0)).await.expect("start");
    s.start_job(bad_id, at(2, 0)).await.expect("start");

    let mut b = full_batch();
    b.job_done = Some(JobDone {
        id: ok_id,
        records: 7,
        requests: 3,
        at: at(2, 1),
    });
    b.state = vec![("cursor:order".into(), json!({"last_updated": "2026-03-02"}))];
    s.apply(&b, at(2, 1)).await.expect("apply with job");

    // A batch whose product violates a CHECK (negative cost): nothing of it is written.
    let marks = s.write_marks().await.expect("marks");
    let mut bad = product(7, 1.0, 0);
    bad.cost = Some(-1.0);
    let b = Batch {
        facilities: vec![facility(9)],
        products: vec![product(8, 1.0, 1), bad],
        state: vec![("cursor:product".into(), json!(1))],
        job_done: Some(JobDone {
            id: bad_id,
            records: 2,
            requests: 1,
            at: at(2, 2),
        }),
        ..Batch::default()
    };
    let err = s
        .apply(&b, at(2, 2))
        .await
        .expect_err("constraint violation");
    assert!(err.is_constraint_violation(), "{err:?}");
    assert_eq!(s.write_marks().await.expect("marks"), marks);
    assert_eq!(s.get_state("cursor:product").await.expect("state"), None);

    let jobs = s.backfill_jobs().await.expect("jobs");
    assert_eq!(jobs[0].status, JobStatus::Done);
    assert_eq!((jobs[0].records, jobs[0].requests), (7, 3));
    assert_eq!(jobs[1].status, JobStatus::Running);
    assert_eq!(jobs[1].records, 0);
    assert_eq!(
        s.get_state("cursor:order").await.expect("state"),
        Some(json!({"last_updated": "2026-03-02"}))
    );

    // Completing a job that does not exist rolls the batch back too.
    let b = Batch {
        facilities: vec![facility(9)],
        job_done: Some(JobDone {
            id: 999_999,
            records: 1,
            requests: 1,
            at: at(3, 0),
        }),
        ..Batch::default()
    };
    let err = s.apply(&b, at(3, 0)).await.expect_err("unknown job");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(s.write_marks().await.expect("marks"), marks);
}

#[tokio::test]
async fn backfill_plans_are_idempotent_and_jobs_move_through_their_lifecycle() {
    let db = db().await;
    let s = store(&db).await;
    let job = |d: u32| PlannedJob {
        collection: "order".into(),
        kind: JobKind::Window,
        window_start: at(d, 0),
        window_end: at(d + 1, 0),
    };
    assert_eq!(
        s.plan_backfill(&[job(1), job(2), job(1)], at(1, 0))
            .await
            .expect("plan"),
        2
    );
    assert_eq!(
        s.plan_backfill(&[job(2), job(3)], at(1, 0))
            .await
            .expect("plan"),
        1
    );
    let jobs = s.backfill_jobs().await.expect("jobs");
    assert_eq!(
        jobs.iter().map(|j| j.job.clone()).collect::<Vec<_>>(),
        vec![job(1), job(2), job(3)]
    );
    assert!(jobs.iter().all(|j| j.status == JobStatus::Pending));

    s.start_job(jobs[0].id, at(2, 0)).await.expect("start");
    s.start_job(jobs[1].id, at(2, 0)).await.expect("start");
    s.fail_job(jobs[1].id, "http 500").await.expect("fail");
    assert_eq!(s.reset_interrupted_jobs().await.expect("reset"), 1);
    s.start_job(jobs[1].id, at(3, 0)).await.expect("restart");
    let jobs = s.backfill_jobs().await.expect("jobs");
    assert_eq!(jobs[0].status, JobStatus::Pending);
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(jobs[1].status, JobStatus::Running);
    assert_eq!(jobs[1].attempts, 2);
    assert_eq!(jobs[1].last_error.as_deref(), Some("http 500"));

    // Bad input: an unknown job, an empty window.
    assert!(s.start_job(424242, at(3, 0)).await.is_err());
    assert!(s.fail_job(424242, "x").await.is_err());
    let mut empty = job(5);
    empty.window_end = empty.window_start;
    let err = s
        .plan_backfill(&[empty], at(1, 0))
        .await
        .expect_err("empty window");
    assert!(err.is_constraint_violation(), "{err:?}");
}

#[tokio::test]
async fn runs_record_their_metrics_and_abandoned_runs_are_closed() {
    let db = db().await;
    let s = store(&db).await;
    let a = s
        .begin_run(Strategy::Full, "host-a:1", at(1, 0))
        .await
        .expect("begin");
    let b = s
        .begin_run(Strategy::Smart, "host-a:1", at(2, 0))
        .await
        .expect("begin");
    let metrics = RunMetrics {
        finished_at: Some(at(2, 1)),
        duration_ms: 3_600_000,
        items_seen: 100,
        items_changed: 7,
        items_failed: 2,
        items_per_sec: 0.03,
        success: true,
        error_patterns: vec![("http 429".into(), 3), ("decode".into(), 1)],
        network_p50_ms: Some(12.5),
        network_p95_ms: Some(80.0),
        db_latency_ms: Some(f64::NAN),
        requests: [("get".to_owned(), 41), ("collection".to_owned(), 5)]
            .into_iter()
            .collect(),
        notes: Some("ok".into()),
    };
    s.finish_run(b, &metrics).await.expect("finish");
    assert!(s.finish_run(999, &metrics).await.is_err(), "unknown run");

    let closed = s.close_abandoned_runs(at(3, 0)).await.expect("close");
    assert_eq!(closed, 1);
    assert_eq!(s.close_abandoned_runs(at(3, 0)).await.expect("close"), 0);

    let runs = s.recent_runs(10).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, b);
    assert_eq!(runs[0].strategy, Strategy::Smart);
    assert_eq!(runs[0].runner.as_deref(), Some("host-a:1"));
    // A NaN measurement is dropped rather than losing the run's record.
    let mut expected = metrics.clone();
    expected.db_latency_ms = None;
    assert_eq!(runs[0].metrics, expected);
    assert_eq!(runs[1].id, a);
    assert!(!runs[1].metrics.success);
    assert_eq!(runs[1].metrics.finished_at, Some(at(3, 0)));
    assert!(
        runs[1]
            .metrics
            .notes
            .as_deref()
            .is_some_and(|n| n.contains("abandoned"))
    );
    assert_eq!(s.recent_runs(1).await.expect("runs").len(), 1);
}

#[tokio::test]
async fn quarantined_records_and_state_travel_with_the_batch() {
    let db = db().await;
    let s = store(&db).await;
    let run = s
        .begin_run(Strategy::Full, "me", at(1, 0))
        .await
        .expect("run");
    let q = |key: &str, t: DateTime<Utc>| Quarantined {
        run_id: Some(run),
        collection: "product".into(),
        record_key: Some(key.into()),
        reason: "cost: -1 is negative".into(),
        raw_payload: Some(json!({"productUrl": key, "cost": -1})),
        raw_text: None,
        at: t,
    };
    let b = Batch {
        quarantine: vec![q("/p/1", at(1, 1)), q("/p/2", at(1, 2))],
        state: vec![("backfill:plan".into(), json!({"horizon": 730}))],
        ..Batch::default()
    };
    let applied = s.apply(&b, at(1, 2)).await.expect("apply");
    assert_eq!(applied.by_table["sync_errors"], writes(2, 0, 0));
    assert_eq!(
        applied.rows_written(),
        0,
        "quarantine is not a mirror write"
    );
    let got = s.quarantined(10).await.expect("quarantined");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].record, q("/p/2", at(1, 2)), "newest first");
    assert_eq!(got[1].record, q("/p/1", at(1, 1)));
    assert_eq!(
        s.get_state("backfill:plan").await.expect("state"),
        Some(json!({"horizon": 730}))
    );
    assert_eq!(s.get_state("nothing").await.expect("state"), None);

    // A record with neither payload nor text violates the table's CHECK: the batch fails.
    let mut bad = q("/p/3", at(1, 3));
    bad.raw_payload = None;
    let b = Batch {
        quarantine: vec![bad],
        ..Batch::default()
    };
    let err = s.apply(&b, at(1, 3)).await.expect_err("check");
    assert!(err.is_constraint_violation(), "{err:?}");
}

#[tokio::test]
async fn daily_sales_and_item_inputs_follow_the_conventions() {
    let db = db().await;
    let s = store(&db).await;
    let mut cancelled = order(
        4,
        "SALES_ORDER",
        Some(at(9, 10)),
        vec![line(1, 100.0, Some(1.0))],
    );
    cancelled.status = Some("ORDER_CANCELLED".into());
    rehash(&mut cancelled);
    let b = Batch {
        products: vec![product(1, 2.0, 0), product(2, 3.0, 0), product(3, 1.0, 0)],
        orders: vec![
            // 23:30 UTC on the 9th is the 9th, whatever the server's time zone.
            order(
                1,
                "SALES_ORDER",
                Some(
                    Utc.with_ymd_and_hms(2026, 3, 9, 23, 30, 0)
                        .single()
                        .expect("t"),
                ),
                vec![line(1, 2.0, Some(5.0)), line(2, 1.0, None)],
            ),
            order(
                3,
                "SALES_ORDER",
                Some(at(9, 8)),
                vec![line(1, 1.0, Some(4.0))],
            ),
            order(5, "SALES_ORDER", None, vec![line(1, 100.0, Some(1.0))]),
            order(
                2,
                "PURCHASE_ORDER",
                Some(at(9, 13)),
                vec![line(1, 50.0, Some(1.0))],
            ),
            cancelled,
        ],
        stock_upserts: vec![stock(1, 2, 10.0), stock(1, 3, -2.5)],
        ..Batch::default()
    };
    s.apply(&b, at(10, 0)).await.expect("apply");

    let w = s
        .refresh_daily_sales(&Scope::All, at(10, 0))
        .await
        .expect("refresh");
    assert_eq!(w, writes(2, 0, 0));
    let snap = s.snapshot().await.expect("snapshot");
    let day = NaiveDate::from_ymd_opt(2026, 3, 9).expect("day");
    let sales: Vec<(String, NaiveDate, f64, f64)> = snap
        .daily_sales
        .iter()
        .map(|d| (d.product_url.clone(), d.day, d.units, d.revenue))
        .collect();
    assert_eq!(
        sales,
        vec![
            (product_url(1), day, 3.0, 14.0),
            (product_url(2), day, 1.0, 0.0),
        ]
    );
    let marks = s.write_marks().await.expect("marks");
    assert_eq!(
        s.refresh_daily_sales(&Scope::All, at(10, 1))
            .await
            .expect("refresh"),
        Writes::default()
    );
    assert_eq!(s.write_marks().await.expect("marks"), marks);

    // Order 1 loses product 2 and changes quantity: one day updated, one deleted.
    let mut o1 = snap
        .orders
        .iter()
        .find(|o| o.url.ends_with("/1"))
        .expect("o1")
        .clone();
    o1.lines = vec![line(1, 4.0, Some(5.0))];
    rehash(&mut o1);
    let applied = s
        .apply(
            &Batch {
                orders: vec![o1],
                ..Batch::default()
            },
            at(10, 2),
        )
        .await
        .expect("apply");
    assert_eq!(applied.sales_products, vec![product_url(1), product_url(2)]);
    let w = s
        .refresh_daily_sales(&Scope::Products(applied.sales_products.clone()), at(10, 2))
        .await
        .expect("refresh");
    assert_eq!(w, writes(0, 1, 1));
    // An empty scope touches nothing.
    assert_eq!(
        s.refresh_daily_sales(&Scope::Products(vec![]), at(10, 3))
            .await
            .expect("refresh"),
        Writes::default()
    );

    // Item inputs: on hand summed, guidelines summed (none: NULL), sales windows.
    let inputs = s
        .item_inputs(&Scope::All, at(10, 5).date_naive())
        .await
        .expect("inputs");
    assert_eq!(inputs.len(), 3);
    let i1 = &inputs[0];
    assert_eq!(i1.product_url, product_url(1));
    assert_eq!(i1.on_hand, 7.5);
    assert_eq!(i1.reorder_point, Some(6.5));
    assert_eq!(i1.reorder_qty, Some(20.0));
    assert_eq!((i1.units_30d, i1.units_90d), (5.0, 5.0));
    assert_eq!(inputs[1].on_hand, 0.0, "no stock rows: 0");
    assert_eq!((inputs[1].units_30d, inputs[1].units_90d), (0.0, 0.0));
    // 40 days later the sale is outside 30 days but inside 90.
    let later = s
        .item_inputs(
            &Scope::Products(vec![product_url(1), product_url(1), "/nope".into()]),
            (at(9, 0) + chrono::Duration::days(40)).date_naive(),
        )
        .await
        .expect("inputs");
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].units_30d, later[0].units_90d), (0.0, 5.0));
    // "as_of.date − N < d ≤ as_of.date": a sale on as_of's own day counts, one 30 days
    // before does not.
    let edge = s
        .item_inputs(
            &Scope::Products(vec![product_url(1)]),
            (at(9, 0) + chrono::Duration::days(30)).date_naive(),
        )
        .await
        .expect("inputs");
    assert_eq!(edge[0].units_30d, 0.0);
    let edge = s
        .item_inputs(
            &Scope::Products(vec![product_url(1)]),
            at(9, 0).date_naive(),
        )
        .await
        .expect("inputs");
    assert_eq!(edge[0].units_30d, 5.0);
}

#[tokio::test]
async fn upsert_items_writes_changes_and_confirms_stale_rows() {
    let db = db().await;
    let s = store(&db).await;
    let b = Batch {
        products: vec![product(1, 2.0, 0), product(2, 3.0, 0)],
        ..Batch::default()
    };
    s.apply(&b, at(10, 0)).await.expect("apply");
    let rows: Vec<ItemRow> = s
        .item_inputs(&Scope::All, at(10, 0).date_naive())
        .await
        .expect("inputs")
        .iter()
        .map(item_row)
        .collect();

    let w = s
        .upsert_items(&rows, at(10, 0), at(9, 0))
        .await
        .expect("upsert");
    assert_eq!(w.writes, writes(2, 0, 0));
    assert_eq!(w.confirmed, 0);
    let snap = s.snapshot().await.expect("snapshot");
    assert_eq!(snap.items, rows);

    // Fresh confirmation: nothing written.
    let marks = s.write_marks().await.expect("marks");
    let w = s
        .upsert_items(&rows, at(10, 1), at(9, 0))
        .await
        .expect("upsert");
    assert_eq!((w.writes, w.confirmed), (Writes::default(), 0));
    assert_eq!(s.write_marks().await.expect("marks"), marks);

    // Stale confirmation: finale_last_sync moves, last_updated does not.
    let w = s
        .upsert_items(&rows, at(12, 0), at(11, 0))
        .await
        .expect("upsert");
    assert_eq!((w.writes, w.confirmed), (Writes::default(), 2));
    let row = db
        .client()
        .query_one(
            "SELECT finale_last_sync, last_updated, id FROM inventory_items WHERE finale_id = $1",
            &[&product_url(1)],
        )
        .await
        .expect("item");
    assert_eq!(row.get::<_, DateTime<Utc>>(0), at(12, 0));
    assert_eq!(row.get::<_, DateTime<Utc>>(1), at(10, 0));
    let id: uuid::Uuid = row.get(2);

    // A content change keeps the row's id.
    let mut changed = rows[0].clone();
    changed.stock = 99.0;
    changed.content_hash = store::derive::item_hash(&changed);
    let w = s
        .upsert_items(&[changed], at(13, 0), at(11, 0))
        .await
        .expect("upsert");
    assert_eq!(w.writes, writes(0, 1, 0));
    let row = db
        .client()
        .query_one(
            "SELECT finale_last_sync, last_updated, id, stock FROM inventory_items \
             WHERE finale_id = $1",
            &[&product_url(1)],
        )
        .await
        .expect("item");
    assert_eq!(row.get::<_, DateTime<Utc>>(0), at(13, 0));
    assert_eq!(row.get::<_, DateTime<Utc>>(1), at(13, 0));
    assert_eq!(row.get::<_, uuid::Uuid>(2), id);
    assert_eq!(row.get::<_, f64>(3), 99.0);

    // The seed's ranking sees the rows.
    let ranked = s
        .items_needing_sync(Strategy::Full, 10, at(13, 0))
        .await
        .expect("ranking");
    assert_eq!(ranked.len(), 2);
    assert_eq!(ranked[0].sku, "SKU-1");
}

fn me(runner: &str, purpose: &str) -> WriterInfo {
    WriterInfo {
        runner: runner.into(),
        purpose: purpose.into(),
    }
}

#[tokio::test]
async fn one_writer_at_a_time_and_the_second_is_told_who() {
    let db = db().await;
    let a = store(&db).await;
    let b = store(&db).await;
    let lease = a
        .acquire_writer(&me("host-a:101", "smart"), None)
        .await
        .expect("first writer");
    assert_eq!(lease.holder(), &me("host-a:101", "smart"));
    assert_eq!(
        b.writer_holder().await.expect("holder").as_deref(),
        Some("host-a:101 (smart)")
    );

    let err = b
        .acquire_writer(&me("host-b:202", "critical"), None)
        .await
        .expect_err("busy");
    match &err {
        StoreError::WriterBusy { holder } => assert_eq!(holder, "host-a:101 (smart)"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    assert!(err.to_string().contains("host-a:101 (smart)"), "{err}");

    // Waiting briefly still fails, after about the wait.
    let started = std::time::Instant::now();
    let err = b
        .acquire_writer(
            &me("host-b:202", "critical"),
            Some(Duration::from_millis(600)),
        )
        .await
        .expect_err("still busy");
    assert!(matches!(err, StoreError::WriterBusy { .. }));
    assert!(started.elapsed() >= Duration::from_millis(600));

    // The lock is per database: another database is free.
    let other = crate::support::db().await;
    let c = store(&other).await;
    let _other_lease = c
        .acquire_writer(&me("host-c:303", "full"), None)
        .await
        .expect("another database has its own writer");

    // Dropping the lease releases the role (the session closes asynchronously, so allow a
    // moment).
    drop(lease);
    let lease_b = b
        .acquire_writer(&me("host-b:202", "critical"), Some(Duration::from_secs(5)))
        .await
        .expect("free after drop");
    assert_eq!(
        a.writer_holder().await.expect("holder").as_deref(),
        Some("host-b:202 (critical)")
    );
    drop(lease_b);
}

/// The writer's lock session asks the server for TCP keepalive, so the session (and its
/// advisory lock) of a holder that vanished from the network ends within about a minute.
#[tokio::test]
async fn the_writer_session_has_server_side_keepalive() {
    let db = db().await;
    let a = store(&db).await;
    let lease = a
        .acquire_pg_writer(&me("host-a:101", "smart"), None, store::lease::DEFAULT_TTL)
        .await
        .expect("writer role");
    let settings = lease
        .session_settings(&[
            "tcp_keepalives_idle",
            "tcp_keepalives_interval",
            "tcp_keepalives_count",
        ])
        .await
        .expect("settings");
    assert_eq!(settings, ["30", "10", "3"]);
}

#[tokio::test]
async fn a_waiting_writer_gets_the_role_when_it_is_released() {
    let db = db().await;
    let a = store(&db).await;
    let b = store(&db).await;
    let lease = a
        .acquire_writer(&me("host-a:1", "full"), None)
        .await
        .expect("first writer");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        drop(lease);
    });
    let started = std::time::Instant::now();
    let lease = b
        .acquire_writer(&me("host-b:2", "smart"), Some(Duration::from_secs(10)))
        .await
        .expect("acquired after waiting");
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(started.elapsed() < Duration::from_secs(9));
    assert_eq!(lease.holder().runner, "host-b:2");
    release.await.expect("release task");
}

#[tokio::test]
async fn a_dead_pool_connection_is_replaced() {
    let db = db().await;
    let s = PgStore::connect(
        db.url(),
        PgOptions {
            connections: 1,
            ..PgOptions::default()
        },
    )
    .await
    .expect("store");
    s.apply(&full_batch(), at(1, 0)).await.expect("apply");
    let pid: i32 = s
        .client()
        .await
        .expect("client")
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    db.client()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    // The first call may see the dying connection; the pool then opens a fresh one.
    let mut ok = false;
    for _ in 0..20 {
        if s.stock_hashes().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the store recovers from a killed connection");
}

#[tokio::test]
async fn describe_and_debug_never_show_the_password() {
    let db = db().await;
    let s = store(&db).await;
    assert!(s.describe().starts_with("postgres "), "{}", s.describe());
    assert!(s.describe().contains(db.name()), "{}", s.describe());
    let opts = PgOptions {
        connections: 2,
        lock_url: Some("postgres://u:hunter2@db.example.com:5432/postgres".into()),
    };
    assert!(!format!("{opts:?}").contains("hunter2"));
    let err = PgStore::connect("postgres://u:hunter2@127.0.0.1:1/x", PgOptions::default())
        .await
        .expect_err("nothing listens on port 1");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn copy_snapshot_loads_the_same_rows_as_apply() {
    let source = db().await;
    let s = store(&source).await;
    s.apply(&full_batch(), at(11, 0)).await.expect("apply");
    let snap = s.snapshot().await.expect("snapshot");

    let mut target = db().await;
    let tx = target.client_mut().transaction().await.expect("begin");
    let n = copy_snapshot(tx.client(), &snap).await.expect("copy");
    tx.commit().await.expect("commit");
    // 2 facilities, 1 party, 3 products, 3 suppliers, 6 guidelines, 3 stock, 2 orders, 3 lines
    assert_eq!(n, 23);
    let t = store(&target).await;
    let copied = t.snapshot().await.expect("snapshot");
    assert_eq!(copied, snap);
    // The copied store is a normal store: applying the same batch writes nothing.
    let applied = t.apply(&full_batch(), at(12, 0)).await.expect("apply");
    assert_eq!(applied.rows_written(), 0);

    // Copying again collides with the keys: an error, not duplicates.
    let err = copy_snapshot(target.client(), &snap)
        .await
        .expect_err("duplicate keys");
    assert!(err.is_constraint_violation(), "{err:?}");
}

#[tokio::test]
async fn concurrent_batches_with_shared_keys_neither_deadlock_nor_collide() {
    let db = db().await;
    let s = store(&db).await;
    // Three batches at once (the smart strategy's concurrency) carrying the same new and
    // then changed products, orders and stock rows, each in a different order.
    for round in 0..4u32 {
        let batches: Vec<Batch> = (0..3u32)
            .map(|task| {
                let mut ids: Vec<u32> = (0..40).collect();
                ids.rotate_left((task * 13) as usize);
                if task == 1 {
                    ids.reverse();
                }
                let cost = f64::from(round * 10 + task + 1);
                Batch {
                    products: ids.iter().map(|&i| product(i, cost, 2)).collect(),
                    orders: ids
                        .iter()
                        .map(|&i| {
                            order(
                                i,
                                "SALES_ORDER",
                                Some(at(5, 1)),
                                vec![line(i, cost, Some(1.0)), line(i + 1, 1.0, None)],
                            )
                        })
                        .collect(),
                    stock_upserts: ids.iter().map(|&i| stock(i, 2, cost)).collect(),
                    ..Batch::default()
                }
            })
            .collect();
        let now = at(6, round);
        let results = futures::future::join_all(batches.iter().map(|b| s.apply(b, now))).await;
        for r in results {
            let applied = r.expect("no deadlock, no duplicate children");
            assert!(applied.rows_written() > 0);
        }
    }
    // Every product and order has exactly its own children, whichever batch won.
    let snap = s.snapshot().await.expect("snapshot");
    assert_eq!(snap.products.len(), 40);
    for p in &snap.products {
        assert_eq!(p.suppliers.len(), 2);
        assert_eq!(p.hash(), p.content_hash, "children match the stored hash");
    }
    for o in &snap.orders {
        assert_eq!(o.lines.len(), 2);
        assert_eq!(o.hash(), o.content_hash);
    }
}

/// A TCP proxy in front of the test server that reads the frontend's protocol messages and
/// records the name of every `Parse` (prepare) with a non-empty statement name: what a
/// transaction-mode pooler cannot carry from one transaction to the next.
async fn parse_spy(upstream: String) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let named = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = named.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&upstream)
                .await
                .expect("upstream");
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
            });
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::new();
                let mut started = false;
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let n = match cr.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    // Complete messages: the startup one has no type byte.
                    loop {
                        let head = if started { 1 } else { 0 };
                        if buf.len() < head + 4 {
                            break;
                        }
                        let len =
                            u32::from_be_bytes(buf[head..head + 4].try_into().expect("4 bytes"))
                                as usize;
                        if buf.len() < head + len {
                            break;
                        }
                        if started && buf[0] == b'P' {
                            let body = &buf[5..1 + len];
                            let end = body.iter().position(|&b| b == 0).unwrap_or(0);
                            if end > 0 {
                                seen.lock()
                                    .expect("lock")
                                    .push(String::from_utf8_lossy(&body[..end]).into_owned());
                            }
                        }
                        let frame: Vec<u8> = buf.drain(..head + len).collect();
                        if sw.write_all(&frame).await.is_err() {
                            return;
                        }
                        started = true;
                    }
                }
                let _ = sw.shutdown().await;
            });
        }
    });
    (port, named)
}

/// Supabase's transaction-mode pooler cannot keep named prepared statements: every store
/// call goes through a protocol spy, and none may prepare a named statement.
#[tokio::test]
async fn the_store_never_prepares_a_named_statement() {
    let db = db().await;
    let mut url = url::Url::parse(db.url()).expect("test url");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    );
    let (port, named) = parse_spy(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(port)).expect("port");
    let s = PgStore::connect(url.as_str(), PgOptions::default())
        .await
        .expect("store through the spy");

    let now = at(11, 0);
    let mut batch = full_batch();
    batch.state = vec![("k".into(), json!(1))];
    s.apply(&batch, now).await.expect("apply");
    s.apply(&batch, now).await.expect("apply again");
    s.stock_hashes().await.expect("stock hashes");
    s.refresh_daily_sales(&Scope::All, now)
        .await
        .expect("refresh");
    let rows: Vec<ItemRow> = s
        .item_inputs(&Scope::All, now.date_naive())
        .await
        .expect("inputs")
        .iter()
        .map(item_row)
        .collect();
    s.upsert_items(&rows, now, now).await.expect("items");
    s.items_needing_sync(Strategy::Smart, 10, now)
        .await
        .expect("ranking");
    s.get_state("k").await.expect("state");
    let run = s.begin_run(Strategy::Smart, "me", now).await.expect("run");
    s.finish_run(run, &RunMetrics::default())
        .await
        .expect("finish");
    s.close_abandoned_runs(now).await.expect("close");
    s.recent_runs(5).await.expect("runs");
    let job = PlannedJob {
        collection: "order".into(),
        kind: JobKind::Window,
        window_start: at(1, 0),
        window_end: at(2, 0),
    };
    s.plan_backfill(&[job], now).await.expect("plan");
    let id = s.backfill_jobs().await.expect("jobs")[0].id;
    s.start_job(id, now).await.expect("start");
    s.fail_job(id, "x").await.expect("fail");
    s.reset_interrupted_jobs().await.expect("reset");
    s.quarantined(5).await.expect("quarantined");
    s.snapshot().await.expect("snapshot");
    s.write_marks().await.expect("marks");
    s.writer_holder().await.expect("holder");
    let lease = s
        .acquire_writer(&me("spy:1", "smart"), None)
        .await
        .expect("writer");
    drop(lease);

    assert_eq!(*named.lock().expect("lock"), Vec::<String>::new());
    // The spy does see a named prepare when one happens.
    let client = s.client().await.expect("client");
    client.query("SELECT 1", &[]).await.expect("prepared query");
    assert_eq!(named.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn the_writer_lock_can_use_its_own_url() {
    let db = db().await;
    // The pool through one URL (a pooler in production), the lock through another (a
    // session connection): here the same server, spelled differently.
    let lock_url = db.url().replace("127.0.0.1", "localhost");
    let a = PgStore::connect(
        db.url(),
        PgOptions {
            lock_url: Some(lock_url),
            ..PgOptions::default()
        },
    )
    .await
    .expect("store");
    let b = store(&db).await;
    let lease = a
        .acquire_writer(&me("split:1", "serve"), None)
        .await
        .expect("writer");
    assert!(matches!(
        b.acquire_writer(&me("other:2", "smart"), None).await,
        Err(StoreError::WriterBusy { holder }) if holder == "split:1 (serve)"
    ));
    drop(lease);

    // A malformed lock URL is refused up front, without its password in the message.
    let err = PgStore::connect(
        db.url(),
        PgOptions {
            lock_url: Some("mysql://u:hunter2@db/x".into()),
            ..PgOptions::default()
        },
    )
    .await
    .expect_err("not a postgres URL");
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_released_lease_is_free_at_once() {
    let db = db().await;
    let a = store(&db).await;
    let b = store(&db).await;
    for round in 0..5 {
        let lease = a
            .acquire_writer(&me("a:1", "smart"), None)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        lease.release().await;
        // No wait: the unlock happened before `release` returned.
        let lease = b
            .acquire_writer(&me("b:2", "smart"), None)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            a.writer_holder().await.expect("holder").as_deref(),
            Some("b:2 (smart)")
        );
        lease.release().await;
        assert_eq!(a.writer_holder().await.expect("holder"), None);
    }
}
