//! The embedded default: the engine writes through `SqliteStore::apply` (the store crate's
//! `Batch`), knowing nothing of events; a follower derives after its commits.

use chrono::Utc;
use store::Store;
use store::rows::{FacilityRow, GuidelineRow, ProductRow, StockRow};
use store::sqlite::SqliteStore;
use store::{Batch, RunMetrics, Strategy};
use workstation::events::{self, Event, Follower, Since};

use crate::support::kinds;

fn facility(url: &str) -> FacilityRow {
    let mut f = FacilityRow {
        url: url.into(),
        facility_id: url.into(),
        name: Some(format!("Facility {url}")),
        parent_url: None,
        status: None,
        facility_type: None,
        shipping_disabled: None,
        receiving_disabled: None,
        finale_created: None,
        finale_last_updated: None,
        content_hash: [0; 32],
    };
    f.content_hash = f.hash();
    f
}

fn product(url: &str, sku: &str, point: f64, list_price: f64) -> ProductRow {
    let mut p = ProductRow {
        url: url.into(),
        sku: sku.into(),
        name: Some(format!("Product {sku}")),
        status: Some("PRODUCT_ACTIVE".into()),
        product_type: None,
        category: None,
        upc: None,
        cost: Some(1.0),
        lead_time_days: None,
        packing: None,
        list_price: Some(list_price),
        user_fields: serde_json::json!({}),
        finale_created: None,
        finale_last_updated: None,
        suppliers: vec![],
        guidelines: vec![GuidelineRow {
            facility_url: Some("/f/main".into()),
            reorder_point: Some(point),
            reorder_qty: Some(10.0),
            calculation_method: None,
        }],
        content_hash: [0; 32],
    };
    p.content_hash = p.hash();
    p
}

fn stock(product: &str, on_hand: f64, reserved: f64) -> StockRow {
    let mut s = StockRow {
        product_url: product.into(),
        facility_url: "/f/main".into(),
        on_hand,
        reserved,
        on_order: 0.0,
        content_hash: [0; 32],
    };
    s.content_hash = s.hash();
    s
}

#[tokio::test]
async fn the_engines_writes_raise_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut follower = Follower::open(&path, Since::Now).unwrap();
    let now = Utc::now;

    let batch = Batch {
        facilities: vec![facility("/f/main")],
        products: (0..40)
            .map(|i| product(&format!("/p/{i}"), &format!("E{i:02}"), 5.0, 9.0))
            .collect(),
        stock_upserts: (0..40)
            .map(|i| stock(&format!("/p/{i}"), 20.0, 0.0))
            .collect(),
        ..Batch::default()
    };
    store.apply(&batch, now()).await.unwrap();
    let run = store
        .begin_run(Strategy::Smart, "test", now())
        .await
        .unwrap();
    let ev = follower.poll(now()).unwrap();
    assert_eq!(
        ev.iter().map(|e| e.event.kind()).collect::<Vec<_>>(),
        ["sync_started"],
        "the first fill is silent"
    );

    // One batch stocks out all 40, another makes one low, a third drops a stock row.
    let out = Batch {
        stock_upserts: (0..40)
            .map(|i| stock(&format!("/p/{i}"), 0.0, 0.0))
            .collect(),
        ..Batch::default()
    };
    store.apply(&out, now()).await.unwrap();
    let ev: Vec<Event> = follower
        .poll(now())
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let k = kinds(&ev);
    assert_eq!(k.iter().filter(|k| **k == "stocked_out").count(), 80);
    let groups: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Alert(g) => Some(g.alerts.len()),
            _ => None,
        })
        .collect();
    assert_eq!(groups, [40], "one grouped alert of 40");

    // Nothing changed: the engine skips equal hashes, and nothing is said.
    store.apply(&out, now()).await.unwrap();
    assert!(follower.poll(now()).unwrap().is_empty());

    // Restock, price change, deletion of a stock row.
    let mut repriced = product("/p/1", "E01", 5.0, 12.0);
    repriced.content_hash = repriced.hash();
    let b = Batch {
        products: vec![repriced],
        stock_upserts: vec![stock("/p/0", 50.0, 0.0)],
        stock_deletes: vec![("/p/2".into(), "/f/main".into())],
        ..Batch::default()
    };
    store.apply(&b, now()).await.unwrap();
    store
        .finish_run(
            run,
            &RunMetrics {
                finished_at: Some(now()),
                success: true,
                items_seen: 3,
                items_changed: 3,
                ..RunMetrics::default()
            },
        )
        .await
        .unwrap();
    let ev: Vec<Event> = follower
        .poll(now())
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        kinds(&ev),
        [
            "stock_changed",
            "restocked",
            "restocked",
            "price_changed",
            "sync_finished"
        ],
        "{ev:#?}"
    );
    let Event::PriceChanged(p) = &ev[3] else {
        panic!()
    };
    assert_eq!(
        (p.list_price.before, p.list_price.after),
        (Some(9.0), Some(12.0))
    );
    let conn = workstation::local::open_existing(&path).unwrap();
    assert_eq!(events::active_alerts(&conn).unwrap().len(), 39);
}

/// Who writes the stock: plain SQL in another connection, or the engine's apply.
enum Writer {
    Sql(rusqlite::Connection),
    Engine(SqliteStore),
}

impl Writer {
    async fn set(&self, on_hand: f64, reserved: f64) {
        match self {
            Writer::Sql(c) => crate::support::stock_on(c, "/p/0", "/f/main", on_hand, reserved),
            Writer::Engine(s) => {
                let b = Batch {
                    stock_upserts: vec![stock("/p/0", on_hand, reserved)],
                    ..Batch::default()
                };
                s.apply(&b, Utc::now()).await.unwrap();
            }
        }
    }
}

/// The crossing suite, the same steps and expectations whoever writes.
async fn crossings(engine: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    let store = SqliteStore::open(&path).unwrap();
    let fill = Batch {
        facilities: vec![facility("/f/main")],
        products: vec![product("/p/0", "E00", 5.0, 9.0)],
        stock_upserts: vec![stock("/p/0", 10.0, 0.0)],
        ..Batch::default()
    };
    store.apply(&fill, Utc::now()).await.unwrap();
    let writer = if engine {
        Writer::Engine(store)
    } else {
        drop(store);
        Writer::Sql(workstation::local::open_existing(&path).unwrap())
    };
    let mut follower = Follower::open(&path, Since::Now).unwrap();
    assert!(follower.poll(Utc::now()).unwrap().is_empty());
    let steps: [(f64, f64, &[&str]); 9] = [
        (8.0, 0.0, &["stock_changed"]),
        (
            5.0,
            0.0,
            &[
                "stock_changed",
                "fell_below_reorder_point",
                "fell_below_reorder_point",
                "alert",
            ],
        ),
        (3.0, 0.0, &["stock_changed"]),
        (
            3.0,
            3.0,
            &["stock_changed", "stocked_out", "stocked_out", "alert"],
        ),
        (-1.0, 0.0, &["stock_changed"]),
        (0.0, 0.0, &["stock_changed"]),
        (20.0, 0.0, &["stock_changed", "restocked", "restocked"]),
        (20.0, 0.0, &[]),
        (
            0.0,
            0.0,
            &["stock_changed", "stocked_out", "stocked_out", "alert"],
        ),
    ];
    let mut alert_ids = Vec::new();
    for (i, (on_hand, reserved, expected)) in steps.into_iter().enumerate() {
        writer.set(on_hand, reserved).await;
        let ev: Vec<Event> = follower
            .poll(Utc::now())
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(kinds(&ev), expected, "step {i} (engine: {engine})");
        for e in &ev {
            if let Event::Alert(g) = e {
                alert_ids.push(g.alerts[0].id);
            }
        }
    }
    // Raised, escalated (the same alert), then a new one after the restock.
    assert_eq!(alert_ids.len(), 3);
    assert_eq!(alert_ids[0], alert_ids[1]);
    assert_ne!(alert_ids[1], alert_ids[2]);
}

#[tokio::test]
async fn the_crossing_suite_through_the_engines_apply() {
    crossings(true).await;
}

#[tokio::test]
async fn the_crossing_suite_through_plain_sql() {
    crossings(false).await;
}
