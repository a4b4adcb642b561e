//! Self-tests of the truth helper: the expected snapshot's invariants, the comparison's
//! report, and one end-to-end check that the client plus rows.rs read the simulator the way
//! the helper does.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use engine::rows::StockRow;
use engine::sync::convert::{aggregate_stock, facility_row, order_row, party_row, product_row};
use finale::{Facility, InventoryItem, Order, PartyGroup, Priority, Product};
use finale_sim::Size;
use finale_sim::generate::generate;

use super::*;
use crate::anchor;

fn small() -> Dataset {
    generate("acme", 7, Size::Small, anchor())
}

fn sales_lines(ds: &Dataset) -> impl Iterator<Item = (&finale_sim::Order, &finale_sim::OrderItem)> {
    ds.orders
        .rows()
        .iter()
        .filter(|o| {
            o.order_type_id == "SALES_ORDER"
                && matches!(o.status_id.as_str(), "ORDER_LOCKED" | "ORDER_COMPLETED")
        })
        .flat_map(|o| o.order_item_list.iter().map(move |l| (o, l)))
}

#[test]
fn every_record_is_expected_with_a_valid_hash() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    assert_eq!(e.facilities.len(), ds.facilities.len());
    assert_eq!(e.parties.len(), ds.party_groups.len());
    assert_eq!(e.products.len(), ds.products.len());
    assert_eq!(e.orders.len(), ds.orders.len());
    assert_eq!(e.items.len(), ds.products.len());
    for p in ds.products.rows() {
        assert!(
            e.products.iter().any(|r| r.url == *p.product_url),
            "{}",
            p.product_url
        );
    }
    assert!(!e.stock.is_empty());
    assert!(e.orders.iter().all(|o| !o.lines.is_empty()));
    let lines: usize = e.orders.iter().map(|o| o.lines.len()).sum();
    assert_eq!(lines, ds.order_line_count());
    assert!(e.facilities.iter().all(|r| r.content_hash == r.hash()));
    assert!(e.parties.iter().all(|r| r.content_hash == r.hash()));
    assert!(e.products.iter().all(|r| r.content_hash == r.hash()));
    assert!(e.orders.iter().all(|r| r.content_hash == r.hash()));
    assert!(e.stock.iter().all(|r| r.content_hash == r.hash()));
    // Exactly one main supplier per product, a list price everywhere.
    assert!(
        e.products
            .iter()
            .all(|p| p.suppliers.iter().filter(|s| s.is_main).count() == 1)
    );
    assert!(e.products.iter().all(|p| p.list_price.is_some()));
    // Sorted by key, as a store's snapshot is.
    assert!(e.products.windows(2).all(|w| w[0].url < w[1].url));
    assert!(e.stock.windows(2).all(|w| w[0].key() < w[1].key()));
    // Deterministic, and equal to itself.
    assert_eq!(e, expected_snapshot(&ds, anchor()));
    assert!(compare(&e, &e).is_empty());
    assert_matches(&e, &e.clone());
}

#[test]
fn stock_sums_every_inventory_row_of_a_pair() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    for p in ds.products.rows() {
        let expected: f64 = e
            .stock
            .iter()
            .filter(|s| s.product_url == *p.product_url)
            .map(|s| s.on_hand)
            .sum();
        assert_eq!(expected, ds.on_hand(&p.product_url), "{}", p.product_url);
    }
    let reserved: f64 = ds.inventory_items.iter().map(|r| r.quantity_reserved).sum();
    let on_order: f64 = ds.inventory_items.iter().map(|r| r.quantity_on_order).sum();
    assert!(reserved > 0.0 && on_order > 0.0);
    assert_eq!(e.stock.iter().map(|s| s.reserved).sum::<f64>(), reserved);
    assert_eq!(e.stock.iter().map(|s| s.on_order).sum::<f64>(), on_order);
    // Several rows (lots, packings, orders) collapse into one pair.
    assert!(e.stock.len() < ds.inventory_items.len());
}

#[test]
fn daily_sales_sum_to_the_sales_lines() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    let units: f64 = sales_lines(&ds).map(|(_, l)| l.quantity).sum();
    let revenue: f64 = sales_lines(&ds)
        .map(|(_, l)| l.quantity * l.unit_price)
        .sum();
    assert!(units > 0.0);
    assert_eq!(e.daily_sales.iter().map(|d| d.units).sum::<f64>(), units);
    let got: f64 = e.daily_sales.iter().map(|d| d.revenue).sum();
    assert!((got - revenue).abs() < 1e-6 * revenue, "{got} vs {revenue}");
    // One row per (product, UTC day of the order date).
    let mut per_key: BTreeMap<(String, chrono::NaiveDate), f64> = BTreeMap::new();
    for (o, l) in sales_lines(&ds) {
        *per_key
            .entry((l.product_url.to_string(), o.order_date.date_naive()))
            .or_default() += l.quantity;
    }
    assert_eq!(per_key.len(), e.daily_sales.len());
    for d in &e.daily_sales {
        assert_eq!(per_key[&(d.product_url.clone(), d.day)], d.units);
    }
    // Cancelled and draft sales orders and purchase orders do not count.
    for status in ["ORDER_CANCELLED", "ORDER_CREATED"] {
        assert!(
            ds.orders
                .rows()
                .iter()
                .any(|o| o.status_id == status && o.is_sales()),
            "{status}"
        );
    }
}

#[test]
fn items_follow_stock_guidelines_and_recent_sales() {
    let ds = small();
    let as_of = anchor();
    let e = expected_snapshot(&ds, as_of);
    let today = as_of.date_naive();
    for p in ds.products.rows() {
        let it = e
            .items
            .iter()
            .find(|i| i.finale_id == *p.product_url)
            .unwrap();
        assert_eq!(it.stock, ds.on_hand(&p.product_url));
        assert_eq!(it.sku, *p.product_id);
        assert_eq!(it.price, p.list_price());
        let rp: Vec<f64> = p
            .reorder_guideline_list
            .iter()
            .filter(|g| g.reorder_calculation_method_id.as_deref() != Some("##doNotReorder"))
            .map(|g| g.reorder_point)
            .collect();
        let rp = (!rp.is_empty()).then(|| rp.iter().sum::<f64>());
        assert_eq!(it.reorder_point, rp);
        let first_sale = sales_lines(&ds)
            .filter(|(_, l)| l.product_url == p.product_url)
            .map(|(o, _)| o.order_date.date_naive())
            .min();
        let days = engine::derive::history_days(Some(p.created_date), first_sale, today, 30.0);
        let u30: f64 = sales_lines(&ds)
            .filter(|(o, l)| {
                l.product_url == p.product_url
                    && o.order_date.date_naive() > today - Duration::days(30)
                    && o.order_date.date_naive() <= today
            })
            .map(|(_, l)| l.quantity)
            .sum();
        assert_eq!(it.sales_velocity, engine::derive::round6(u30 / days));
        assert_eq!(it.days_of_stock.is_some(), u30 > 0.0);
    }
    assert!(e.items.iter().any(|i| i.sales_velocity > 0.0));
    assert!(
        e.items
            .iter()
            .any(|i| i.sales_velocity_90d > i.sales_velocity)
    );
    // Velocities move with the date of `as_of` only.
    let later = expected_snapshot(&ds, as_of + Duration::days(45));
    assert!(
        later
            .items
            .iter()
            .zip(&e.items)
            .any(|(a, b)| a.sales_velocity != b.sales_velocity)
    );
    assert_eq!(
        expected_snapshot(&ds, as_of + Duration::hours(23)).items,
        e.items
    );
}

#[test]
fn compare_reports_altered_fields_missing_and_extra_rows() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    let mut a = e.clone();
    a.products[3].cost = Some(123.25);
    a.products[3].content_hash = a.products[3].hash();
    a.orders[5].lines[0].quantity += 1.0;
    a.orders[5].content_hash = a.orders[5].hash();
    let gone = a.orders.remove(0);
    a.stock.push(StockRow::new(
        "/acme/api/product/NOPE".into(),
        e.facilities[0].url.clone(),
        1.0,
        0.0,
        0.0,
    ));
    a.facilities[1].content_hash = [7; 32];
    let diffs = compare(&e, &a);
    let text = diffs.join("\n");
    let p = &e.products[3];
    assert!(
        text.contains(&format!(
            "{}: cost: expected {}, store has 123.25",
            p.url,
            p.cost.unwrap()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}: lines[0].quantity: expected", e.orders[5].url)),
        "{text}"
    );
    assert!(text.contains(&format!("missing {}", gone.url)), "{text}");
    assert!(text.contains("extra /acme/api/product/NOPE @ "), "{text}");
    assert!(
        text.contains(&format!("{}: content_hash", e.facilities[1].url))
            && text.contains("though every field is equal"),
        "{text}"
    );
    assert!(
        text.contains("orders: 1 missing, 1 with differing fields"),
        "{text}"
    );
    // Unaltered tables are not mentioned.
    assert!(!text.contains("parties"), "{text}");
    let panic = std::panic::catch_unwind(|| assert_matches(&e, &a)).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn compare_shows_missing_children_and_list_lengths() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    let mut a = e.clone();
    let i = a
        .products
        .iter()
        .position(|p| p.suppliers.len() > 1)
        .unwrap();
    a.products[i].suppliers.pop();
    a.parties[0].contacts = json!([]);
    let text = compare(&e, &a).join("\n");
    assert!(text.contains("suppliers: expected"), "{text}");
    assert!(text.contains("contacts: expected"), "{text}");
}

#[test]
fn compare_caps_each_table_and_keeps_every_kind_visible() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    let mut a = e.clone();
    for o in a.orders.iter_mut().skip(10).take(60) {
        o.status = Some("ORDER_LOCKED_X".into());
    }
    a.orders.truncate(a.orders.len() - 30);
    let diffs = compare(&e, &a);
    let orders: Vec<&String> = diffs
        .iter()
        .skip_while(|l| !l.starts_with("orders:"))
        .take_while(|l| l.starts_with("orders:") || l.starts_with("  "))
        .collect();
    assert!(orders.len() <= LINES_PER_TABLE + 2, "{orders:#?}");
    assert!(orders.iter().any(|l| l.contains("status: expected")));
    assert!(orders.iter().any(|l| l.contains("  missing ")));
    assert!(orders.last().unwrap().contains("more lines for orders"));
    assert!(
        orders[0].contains("30 missing, 60 with differing fields"),
        "{orders:#?}"
    );
}

#[test]
fn daily_sales_tolerate_summation_order_but_nothing_more() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    let mut a = e.clone();
    let d = &mut a.daily_sales[0];
    d.revenue = f64::from_bits(d.revenue.to_bits() + 1);
    assert!(compare(&e, &a).is_empty());
    a.daily_sales[0].revenue += 0.01;
    assert!(!compare(&e, &a).is_empty());
    let mut a = e.clone();
    a.stock[0].on_hand = f64::from_bits(a.stock[0].on_hand.to_bits() + 1);
    assert!(!compare(&e, &a).is_empty(), "mirror numbers are bit-exact");
}

#[test]
fn excluded_records_leave_every_table() {
    let ds = small();
    let sale = ds
        .orders
        .rows()
        .iter()
        .find(|o| o.is_sales() && o.status_id == "ORDER_COMPLETED")
        .unwrap();
    let product = &ds.products.rows()[0];
    let pair = ds.inventory_items[0].clone();
    let expect = Expect::new()
        .exclude(sale.order_url.clone())
        .exclude(product.product_url.to_string())
        .exclude_stock(pair.product_url.to_string(), pair.facility_url.clone());
    let full = expected_snapshot(&ds, anchor());
    let e = expected_snapshot_with(&ds, anchor(), &expect);
    assert_eq!(e.orders.len(), full.orders.len() - 1);
    assert!(e.orders.iter().all(|o| o.url != sale.order_url));
    assert!(e.products.iter().all(|p| p.url != *product.product_url));
    assert!(e.items.iter().all(|i| i.finale_id != *product.product_url));
    assert_eq!(e.stock.len(), full.stock.len() - 1);
    let units = |s: &Snapshot| s.daily_sales.iter().map(|d| d.units).sum::<f64>();
    let sold: f64 = sale.order_item_list.iter().map(|l| l.quantity).sum();
    assert_eq!(units(&e), units(&full) - sold);
}

#[test]
fn timestamps_go_through_the_account_zone() {
    let chicago = Wire {
        tz: chrono_tz::America::Chicago,
    };
    let utc = Wire { tz: chrono_tz::UTC };
    let t: DateTime<Utc> = "2026-03-10T17:45:12Z".parse().unwrap();
    assert_eq!(chicago.time(t), t);
    assert_eq!(utc.time(t), t);
    // Fractions of a second are not rendered.
    let ms: DateTime<Utc> = "2026-03-10T17:45:12.345Z".parse().unwrap();
    assert_eq!(chicago.time(ms), t);
    // 01:30 happens twice on 2025-11-02 in Chicago; the client reads the earlier one.
    let second: DateTime<Utc> = "2025-11-02T07:30:00Z".parse().unwrap();
    let first: DateTime<Utc> = "2025-11-02T06:30:00Z".parse().unwrap();
    assert_eq!(chicago.time(second), first);
    assert_eq!(chicago.time(first), first);
    // A generated data set in another zone reads the same except where that bites.
    let ds = small();
    let c = expected_snapshot_with(
        &ds,
        anchor(),
        &Expect::new().timestamp_zone(chrono_tz::Asia::Tokyo),
    );
    assert!(compare(&expected_snapshot(&ds, anchor()), &c).is_empty());
}

#[test]
fn numbers_read_as_the_json_the_simulator_writes() {
    assert_eq!(num(-0.0).to_bits(), 0.0f64.to_bits());
    assert_eq!(num(40.0), 40.0);
    assert_eq!(num(4.25), 4.25);
    assert_eq!(num(0.1 + 0.2), 0.1 + 0.2);
}

#[test]
fn contacts_serialize_like_the_clients_contact_mechs() {
    let ds = small();
    let mut n = 0;
    for p in ds.party_groups.rows() {
        for c in &p.contact_mech_list {
            let client = finale::ContactMech {
                id: Some(c.contact_mech_id.clone()),
                mech_type: Some(c.contact_mech_type_id.clone()),
                purpose: Some(c.contact_mech_purpose_type_id.clone()),
                info: c.info_string.clone(),
                address1: c.address1.clone(),
                address2: None,
                city: c.city.clone(),
                state: None,
                postal_code: c.postal_code.clone(),
                country: c.country_geo_id.clone(),
            };
            assert_eq!(serde_json::to_value(&client).unwrap(), contact(c));
            n += 1;
        }
    }
    assert!(n > ds.party_groups.len());
}

#[test]
fn order_parties_as_sent_or_resolved_by_id() {
    let ds = small();
    let sent = expected_snapshot_with(
        &ds,
        anchor(),
        &Expect::new().order_party(OrderParty::AsSent),
    );
    assert!(sent.orders.iter().all(|o| o.party_url.is_none()));
    // The default is what the engine stores: the party resolved from its id.
    let by_id = expected_snapshot(&ds, anchor());
    for o in &by_id.orders {
        let t = ds.orders.by_url(&o.url).unwrap();
        let party = ds
            .party_groups
            .rows()
            .iter()
            .find(|p| Some(&p.party_url) == o.party_url.as_ref())
            .unwrap();
        let role = if t.is_sales() { "CUSTOMER" } else { "SUPPLIER" };
        assert!(
            party.role_type_id_list.iter().any(|r| r == role),
            "{}",
            o.url
        );
        assert_eq!(t.order_role_list[0].party_id, party.party_id);
    }
    // Lines never carry their orderItemUrl (GraphQL lines have none).
    assert!(
        by_id
            .orders
            .iter()
            .all(|o| o.lines.iter().all(|l| l.order_item_url.is_none()))
    );
}

/// The other reading: everything read through the client over HTTP and converted with
/// rows.rs equals the expected mirror tables (derived tables are the engine's business).
#[tokio::test]
async fn the_client_and_rows_rs_read_the_simulator_like_the_helper() {
    let p = crate::Setup::new(Size::Small)
        .sim(|c| {
            c.quirks.timezone = chrono_tz::America::Chicago;
            c.quirks.timestamps = finale_sim::Timestamps::Account;
        })
        .start(|_| {})
        .await;
    // A local time that happens twice in Chicago: both readings must pick the same instant.
    let ambiguous: DateTime<Utc> = "2025-11-02T07:30:00Z".parse().unwrap();
    p.sim
        .dataset()
        .write()
        .unwrap()
        .facilities
        .update(1, |f| f.last_updated_date = ambiguous);
    read_back_and_compare(&p).await;
}

/// The same for an account east of UTC whose timestamps are UTC (the default reading):
/// business days differ from UTC days, and both readings agree on them.
#[tokio::test]
async fn an_account_east_of_utc_with_utc_timestamps_reads_the_same_way() {
    let p = crate::Setup::new(Size::Small)
        .sim(|c| c.quirks.timezone = chrono_tz::Australia::Sydney)
        .start(|_| {})
        .await;
    assert_eq!(p.config.timestamp_zone(), chrono_tz::UTC);
    read_back_and_compare(&p).await;
}

/// The same after live changes (new orders and products, price changes, stock moves).
#[test]
fn packed_stock_counts_units() {
    let ds = small();
    let e = expected_snapshot(&ds, anchor());
    let packed: Vec<&finale_sim::InventoryItem> = ds
        .inventory_items
        .iter()
        .filter(|r| r.normalized_packing_string.is_some() && r.quantity_on_hand > 0.0)
        .collect();
    assert!(!packed.is_empty(), "the small account has packed stock");
    for r in packed {
        let s = e
            .stock
            .iter()
            .find(|s| s.product_url == *r.product_url && s.facility_url == r.facility_url)
            .unwrap();
        assert!(
            s.on_hand >= r.quantity_on_hand * r.units_per_case(),
            "{r:?} is counted in units: {s:?}"
        );
        assert!(r.units_per_case() > 1.0);
    }
    // Cases or units on the wire, the store holds the same units.
    let units = expected_snapshot_with(
        &ds,
        anchor(),
        &Expect::new().packed(finale_sim::PackedQuantities::Units),
    );
    assert_eq!(units.stock, e.stock);
}

/// The client and rows.rs read packed stock as the helper does, whichever way the simulator
/// counts it (the client configured to match).
#[tokio::test]
async fn packed_stock_reads_the_same_as_cases_or_as_units() {
    for mode in [
        finale_sim::PackedQuantities::Cases,
        finale_sim::PackedQuantities::Units,
    ] {
        let p = crate::Setup::new(Size::Small)
            .sim(|c| c.quirks.packed_quantities = mode)
            .start(|_| {})
            .await;
        read_back_and_compare(&p).await;
        p.sim.shutdown().await;
    }
}

#[tokio::test]
async fn live_changes_read_the_same_way() {
    let p = crate::Setup::new(Size::Small).start(|_| {}).await;
    let report = p.sim.step_live(Duration::hours(12));
    assert!(
        report.new_orders > 0 && report.changed_products > 0,
        "{report:?}"
    );
    read_back_and_compare(&p).await;
}

async fn read_back_and_compare(p: &crate::Pair) {
    let c = &p.client;
    let facilities = c.fetch_all::<Facility>(Priority::Smart).await.unwrap();
    let parties = c.fetch_all::<PartyGroup>(Priority::Smart).await.unwrap();
    let products = c.fetch_all::<Product>(Priority::Smart).await.unwrap();
    let orders = c.fetch_all::<Order>(Priority::Smart).await.unwrap();
    let stock = c.fetch_all::<InventoryItem>(Priority::Smart).await.unwrap();
    assert!(facilities.errors.is_empty() && parties.errors.is_empty());
    assert!(products.errors.is_empty() && orders.errors.is_empty() && stock.errors.is_empty());
    // Complete reads: nothing reached the entity cap.
    assert!(!(facilities.capped || parties.capped || products.capped || orders.capped));
    assert!(!stock.capped);
    let (stock_rows, bad) = aggregate_stock(&stock.records, p.config.packed_quantities);
    assert!(bad.is_empty());
    let ds = p.sim.dataset();
    let ds = ds.read().unwrap();
    let expected = expected_snapshot_with(&ds, anchor(), &Expect::for_sim(p.sim.config()));
    let actual = Snapshot {
        facilities: rows(&facilities.records, facility_row, |r| r.url.clone()),
        parties: rows(&parties.records, party_row, |r| r.url.clone()),
        products: rows(&products.records, product_row, |r| r.url.clone()),
        stock: stock_rows,
        orders: rows(
            &orders.records,
            |o| order_row(o, p.config.packed_quantities, p.config.timezone),
            |r| r.url.clone(),
        ),
        daily_sales: expected.daily_sales.clone(),
        items: expected.items.clone(),
    };
    assert_matches(&expected, &actual);
}

/// Converts client records with rows.rs, sorted by key as a store snapshot is.
fn rows<R, T, E: std::fmt::Debug>(
    records: &[R],
    convert: impl Fn(&R) -> Result<T, E>,
    key: impl Fn(&T) -> String,
) -> Vec<T> {
    let mut v: Vec<T> = records.iter().map(|r| convert(r).unwrap()).collect();
    v.sort_by_key(key);
    v
}
