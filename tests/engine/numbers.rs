//! Numbers staff can trust (issue 7): packed stock in units, order lines independent of how
//! they were read, and critical triggers that mean something — each against the simulator,
//! on both stores.

use chrono::{Duration, SubsecRound};
use engine::Strategy;
use engine::sync::{Engine, Severity, SyncSettings};
use finale_sim::{InventoryItem, PackedQuantities, Size};
use stockpulse_tests::Setup;
use stockpulse_tests::truth::Expect;

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

/// Packed stock lands in units whether Finale counts packed rows in cases or in units (the
/// client configured to match), and equals the truth.
async fn packed_stock_syncs_in_units_either_way(kind: Kind) {
    for mode in [PackedQuantities::Cases, PackedQuantities::Units] {
        let pair = Setup::new(Size::Small)
            .sim(|c| c.quirks.packed_quantities = mode)
            .start(|_| {})
            .await;
        let expect = Expect::for_sim(pair.sim.config());
        let ts = TestStore::new(kind).await;
        let eng = engine(&pair, ts.store.clone(), "test:packed");
        run(&eng, Strategy::Full).await;
        assert_store_is_truth(&pair, &*ts.store, &expect).await;
        // A pair held only in cases holds cases × units per case.
        let (pair_key, units) = {
            let ds = pair.sim.dataset();
            let ds = ds.read().unwrap();
            let packed: &InventoryItem = ds
                .inventory_items
                .iter()
                .find(|r| {
                    r.normalized_packing_string.is_some()
                        && r.quantity_on_hand > 0.0
                        && ds
                            .inventory_items
                            .iter()
                            .filter(|o| {
                                o.product_url == r.product_url && o.facility_url == r.facility_url
                            })
                            .all(|o| o.normalized_packing_string.is_some())
                })
                .expect("a pair held only in cases");
            let units: f64 = ds
                .inventory_items
                .iter()
                .filter(|o| {
                    o.product_url == packed.product_url && o.facility_url == packed.facility_url
                })
                .map(|o| o.quantity_on_hand * o.units_per_case())
                .sum();
            (
                (packed.product_url.to_string(), packed.facility_url.clone()),
                units,
            )
        };
        let stored = ts.store.snapshot().await.expect("snapshot");
        let row = stored
            .stock
            .iter()
            .find(|s| s.key() == pair_key)
            .expect("the packed pair");
        assert_eq!(row.on_hand, units, "{mode:?}: {pair_key:?}");
        pair.sim.shutdown().await;
    }
}

/// A packing the engine cannot read is quarantined with its raw row; the pair's stored stock
/// is neither changed nor deleted.
async fn an_unreadable_packing_is_quarantined_and_its_stock_kept(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:packing");
    run(&eng, Strategy::Full).await;
    let before = ts.store.snapshot().await.expect("snapshot");
    // Two pairs go bad: one also holding a loose row, one held by the bad row alone.
    let bad_keys = {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        let mut keys = Vec::new();
        let mut alone = None;
        let mut mixed = None;
        for (i, r) in ds.inventory_items.iter().enumerate() {
            if r.order_url.is_some() {
                continue;
            }
            let n = ds
                .inventory_items
                .iter()
                .filter(|o| o.product_url == r.product_url && o.facility_url == r.facility_url)
                .count();
            if n == 1 && alone.is_none() {
                alone = Some(i);
            } else if n > 1 && mixed.is_none() {
                mixed = Some(i);
            }
        }
        for i in [alone.expect("a lone row"), mixed.expect("a shared pair")] {
            let r = &mut ds.inventory_items[i];
            r.normalized_packing_string = Some("a dozen or so".into());
            r.quantity_on_hand += 5.0;
            keys.push((r.product_url.to_string(), r.facility_url.clone()));
        }
        keys
    };
    pair.sim.step_live(Duration::minutes(1));
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.items_failed >= 2, "{:?}", smart.metrics);
    let q = ts.store.quarantined(50).await.expect("quarantine");
    for key in &bad_keys {
        let k = format!("{} @ {}", key.0, key.1);
        let rec = q
            .iter()
            .find(|r| r.record.record_key.as_deref() == Some(&k))
            .unwrap_or_else(|| panic!("{k} quarantined: {q:?}"));
        assert!(
            rec.record.reason.contains("normalizedPackingString"),
            "{rec:?}"
        );
        let raw = rec.record.raw_payload.as_ref().expect("the raw row");
        assert_eq!(raw["packing"], "a dozen or so", "{raw}");
    }
    let after = ts.store.snapshot().await.expect("snapshot");
    for key in &bad_keys {
        let old = before.stock.iter().find(|s| &s.key() == key);
        let new = after.stock.iter().find(|s| &s.key() == key);
        assert!(old.is_some(), "{key:?} was stored");
        assert_eq!(old, new, "{key:?} neither changed nor deleted");
    }
    pair.sim.shutdown().await;
}

/// The same account read with lines in the order collection and then through GraphQL: the
/// second load writes nothing.
async fn order_lines_hash_the_same_from_rest_and_graphql(kind: Kind) {
    let rest = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let first = run(
        &engine(&rest, ts.store.clone(), "test:rest"),
        Strategy::Full,
    )
    .await;
    assert!(
        first
            .applied
            .by_table
            .get("order_lines")
            .is_some_and(|w| w.inserted > 0)
    );
    rest.sim.shutdown().await;

    let gql = Setup::new(Size::Small)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|_| {})
        .await;
    let before = ts.store.write_marks().await.expect("marks");
    // A horizon one day shorter: a new plan, so every window is read again.
    let eng = Engine::new(
        gql.client.clone(),
        ts.store.clone(),
        SyncSettings {
            horizon: Duration::days(729),
            ..SyncSettings::default()
        },
        "test:graphql",
    );
    let again = run(&eng, Strategy::Full).await;
    let graphql = gql
        .sim
        .stats()
        .log
        .iter()
        .filter(|e| e.path.ends_with("/graphql"))
        .count();
    assert!(graphql > 0, "lines came through GraphQL");
    assert!(again.metrics.items_seen > 0);
    assert_eq!(
        again.applied.rows_written(),
        0,
        "{}",
        again.applied.describe_tables()
    );
    assert_eq!(again.daily_sales.total(), 0);
    assert_eq!(again.items.writes.total(), 0);
    assert_eq!(before, ts.store.write_marks().await.expect("marks"));
    assert_store_is_truth(&gql, &*ts.store, &Expect::for_sim(gql.sim.config())).await;
    gql.sim.shutdown().await;
}

/// Per-location reorder points, do-not-reorder guidelines, available stock, severities.
async fn critical_triggers_look_at_locations_and_available_stock(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let (p, q, r, main) = {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        let locations: Vec<String> = ds.location_urls().iter().map(|s| s.to_string()).collect();
        let (main, depot) = (locations[0].clone(), locations[1].clone());
        let main_sub = ds.sublocations_of(&main)[0].to_owned();
        let depot_sub = ds.sublocations_of(&depot)[0].to_owned();
        let active: Vec<usize> = (0..ds.products.len())
            .filter(|&i| ds.products.rows()[i].is_active())
            .take(3)
            .collect();
        let urls: Vec<String> = active
            .iter()
            .map(|&i| ds.products.rows()[i].product_url.to_string())
            .collect();
        ds.inventory_items
            .retain(|row| !urls.iter().any(|u| **u == *row.product_url));
        let guide = |loc: &str, rp: f64, dnr: bool| finale_sim::ReorderGuideline {
            facility_url: loc.to_owned(),
            reorder_point: rp,
            reorder_quantity: rp * 2.0,
            reorder_calculation_method_id: dnr.then(|| "##doNotReorder".to_owned()),
        };
        // P: nothing in the main warehouse (point 20), 150 at the depot (point 20).
        // Q: 50 in main under a do-not-reorder guideline of 1000, 100 at the depot (point 5).
        // R: 50 on hand in main, all 50 reserved; guidelines do-not-reorder.
        let plan = [
            (
                vec![guide(&main, 20.0, false), guide(&depot, 20.0, false)],
                vec![(depot_sub.clone(), 150.0, 0.0)],
            ),
            (
                vec![guide(&main, 1000.0, true), guide(&depot, 5.0, false)],
                vec![
                    (main_sub.clone(), 50.0, 0.0),
                    (depot_sub.clone(), 100.0, 0.0),
                ],
            ),
            (
                vec![guide(&main, 0.0, true), guide(&depot, 0.0, true)],
                vec![(main_sub.clone(), 50.0, 0.0), (main_sub.clone(), 0.0, 50.0)],
            ),
        ];
        for (&i, (guides, stock)) in active.iter().zip(plan) {
            ds.products
                .update(i, |pr| pr.reorder_guideline_list = guides);
            let pr = ds.products.rows()[i].clone();
            for (k, (sub, on_hand, reserved)) in stock.into_iter().enumerate() {
                ds.inventory_items.push(InventoryItem {
                    product_id: pr.product_id.clone(),
                    product_url: pr.product_url.clone(),
                    facility_url: sub,
                    lot_id: None,
                    normalized_packing_string: None,
                    order_url: (reserved > 0.0).then(|| format!("/acme/api/order/SO-RES-{k}")),
                    quantity_on_hand: on_hand,
                    quantity_on_order: 0.0,
                    quantity_reserved: reserved,
                });
            }
        }
        (urls[0].clone(), urls[1].clone(), urls[2].clone(), main)
    };
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:triggers");
    run(&eng, Strategy::Full).await;
    assert_store_is_truth(&pair, &*ts.store, &Expect::for_sim(pair.sim.config())).await;
    let report = run(&eng, Strategy::Critical)
        .await
        .critical
        .expect("report");
    let find = |u: &str| report.items.iter().find(|i| i.product_url == u);

    let pi = find(&p).expect("P: its main warehouse is below its point");
    assert!(pi.reasons.contains(&"at_reorder_point"), "{pi:?}");
    assert!(!pi.reasons.contains(&"out_of_stock") && !pi.reasons.contains(&"low_stock"));
    let at: Vec<_> = pi
        .locations
        .iter()
        .map(|l| (l.location_url.as_deref(), l.available, l.reorder_point))
        .collect();
    assert_eq!(at, vec![(Some(main.as_str()), 0.0, 20.0)]);
    assert!(pi.severity >= Severity::AtReorderPoint);

    assert!(
        find(&q).is_none_or(|i| !i.reasons.contains(&"at_reorder_point")),
        "Q: do-not-reorder is no reorder point: {:?}",
        find(&q)
    );
    let items = ts.store.snapshot().await.expect("snapshot").items;
    let q_row = items.iter().find(|i| i.finale_id == q).expect("Q's row");
    assert_eq!(
        q_row.reorder_point,
        Some(5.0),
        "the total skips do-not-reorder"
    );

    let ri = find(&r).expect("R: all of it is reserved");
    assert!(ri.reasons.contains(&"out_of_stock"), "{ri:?}");
    assert_eq!(
        (ri.stock, ri.available, ri.severity),
        (50.0, 0.0, Severity::OutOfStock)
    );
    let r_row = items.iter().find(|i| i.finale_id == r).expect("R's row");
    assert_eq!((r_row.stock, r_row.available), (50.0, 0.0));

    // Most severe first.
    assert!(
        report
            .items
            .windows(2)
            .all(|w| w[0].severity >= w[1].severity),
        "sorted by severity"
    );
    pair.sim.shutdown().await;
}

/// What a smart run writes is reported by the next critical run (once), and vendor updates
/// count suppliers only.
async fn no_alert_is_lost_between_smart_and_critical(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:alerts");
    run(&eng, Strategy::Full).await;

    // Whole seconds a little in the past: a read's upper bound is the current whole second.
    let now = || (pair.config.clock.now() - Duration::seconds(2)).trunc_subsecs(0);
    let repriced = {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        let i = (0..ds.products.len())
            .find(|&i| {
                let p = &ds.products.rows()[i];
                p.is_active() && p.cost.is_some_and(|c| c > 1.0)
            })
            .expect("a product with a cost");
        let at = now();
        ds.products.update(i, |p| {
            p.cost = p.cost.map(|c| (c * 1.5 * 100.0).round() / 100.0);
            p.last_updated_date = at;
        });
        ds.products.rows()[i].product_url.to_string()
    };
    let live = pair.sim.step_live(Duration::hours(4));
    assert!(live.new_orders > 0, "{live:?}");
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.critical.is_none());
    assert!(
        smart
            .applied
            .price_changes
            .iter()
            .any(|p| p.product_url == repriced),
        "{:?}",
        smart.applied.price_changes
    );
    assert!(smart.applied.new_orders > 0);

    // One supplier and one customer change; only the supplier is a vendor update.
    {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        for role in ["SUPPLIER", "CUSTOMER"] {
            let i = (0..ds.party_groups.len())
                .find(|&i| {
                    let p = &ds.party_groups.rows()[i];
                    p.role_type_id_list == vec![role.to_owned()]
                })
                .expect("a party");
            let at = now();
            ds.party_groups.update(i, |p| {
                p.group_name.push_str(" (renamed)");
                p.last_updated_date = at;
            });
        }
    }
    let critical = run(&eng, Strategy::Critical).await;
    let report = critical.critical.expect("report");
    let item = report
        .items
        .iter()
        .find(|i| i.product_url == repriced)
        .expect("the smart run's price change is reported");
    assert!(item.reasons.contains(&"price_change"), "{item:?}");
    assert!(
        report.new_orders >= smart.applied.new_orders,
        "{} new orders reported, the smart run wrote {}",
        report.new_orders,
        smart.applied.new_orders
    );
    assert!(critical.applied.changed_parties.len() >= 2);
    assert_eq!(report.vendor_updates, 1, "suppliers only");

    // Reported once: the next critical run starts afresh.
    let next = run(&eng, Strategy::Critical)
        .await
        .critical
        .expect("report");
    assert!(
        next.items
            .iter()
            .all(|i| !(i.product_url == repriced && i.reasons.contains(&"price_change")))
    );
    assert_eq!((next.new_orders, next.vendor_updates), (0, 0));

    // A critical run that fails after writing a price change leaves it to the next one.
    let second = {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        let i = (0..ds.products.len())
            .rev()
            .find(|&i| {
                let p = &ds.products.rows()[i];
                p.is_active() && p.cost.is_some_and(|c| c > 1.0) && *p.product_url != *repriced
            })
            .expect("another product with a cost");
        let at = now();
        ds.products.update(i, |p| {
            p.cost = p.cost.map(|c| (c * 2.0 * 100.0).round() / 100.0);
            p.last_updated_date = at;
        });
        ds.products.rows()[i].product_url.to_string()
    };
    pair.sim.inject(
        finale_sim::FaultPlan::new(finale_sim::Fault::Status(401), 1).on_path("inventoryitem"),
    );
    let failed = eng.run(Strategy::Critical, &engine::sync::NoProgress).await;
    assert!(failed.is_err(), "the stock read fails");
    let after = run(&eng, Strategy::Critical)
        .await
        .critical
        .expect("report");
    assert!(
        after
            .items
            .iter()
            .any(|i| i.product_url == second && i.reasons.contains(&"price_change")),
        "the failed run's price change is reported by the next critical run"
    );
    pair.sim.shutdown().await;
}

/// A product 20 days old divides its sales by 20 days in both windows: no velocity spike.
async fn a_young_product_is_no_velocity_spike(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let young = {
        let ds = pair.sim.dataset();
        let mut ds = ds.write().unwrap();
        let now = pair.config.clock.now();
        let born = now - Duration::days(19);
        // The best seller: created 20 days ago (today included), every earlier sale of it
        // cancelled (an import would have kept them).
        let i = (0..ds.products.len())
            .filter(|&i| ds.products.rows()[i].is_active())
            .max_by(|&a, &b| {
                let (pa, pb) = (&ds.products.rows()[a], &ds.products.rows()[b]);
                pa.popularity.total_cmp(&pb.popularity)
            })
            .expect("a product");
        ds.products.update(i, |p| p.created_date = born);
        let url = ds.products.rows()[i].product_url.to_string();
        let older: Vec<usize> = (0..ds.orders.len())
            .filter(|&k| {
                let o = &ds.orders.rows()[k];
                o.order_date < born - Duration::days(1)
                    && o.order_item_list.iter().any(|l| *l.product_url == *url)
            })
            .collect();
        for k in older {
            ds.orders
                .update(k, |o| o.status_id = "ORDER_CANCELLED".into());
        }
        url
    };
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:young");
    run(&eng, Strategy::Full).await;
    assert_store_is_truth(&pair, &*ts.store, &Expect::for_sim(pair.sim.config())).await;
    let items = ts.store.snapshot().await.expect("snapshot").items;
    let row = items
        .iter()
        .find(|i| i.finale_id == young)
        .expect("its row");
    assert!(row.sales_velocity > 0.0, "{row:?}");
    assert_eq!(row.sales_velocity, row.sales_velocity_90d, "{row:?}");
    let report = run(&eng, Strategy::Critical)
        .await
        .critical
        .expect("report");
    assert!(
        report
            .items
            .iter()
            .all(|i| !(i.product_url == young && i.reasons.contains(&"velocity_spike"))),
        "youth is no spike"
    );
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    a_young_product_is_no_velocity_spike,
    packed_stock_syncs_in_units_either_way,
    an_unreadable_packing_is_quarantined_and_its_stock_kept,
    order_lines_hash_the_same_from_rest_and_graphql,
    critical_triggers_look_at_locations_and_available_stock,
    no_alert_is_lost_between_smart_and_critical,
);
