//! Live mode: the account keeps changing while a sync runs.
//!
//! [`step`] applies the changes that would happen during `elapsed` virtual time, drawn from
//! the simulator's own RNG stream (seeded from the config seed, separate from the generator),
//! so a sequence of steps is deterministic. Counts are proportional to `elapsed`: each kind of
//! event has an hourly rate per [`Size`], and fractional remainders carry over to the next
//! step, so ten 6-minute steps produce the same number of events as one hour.
//!
//! Events, each stamping `lastUpdatedDate` of every record it touches with `stamp`
//! (the clock's now plus the configured skew):
//! - a sale: a new completed sales order with a shipment; its lines draw on-hand rows down,
//!   and rows that reach zero disappear (stockouts when it was the last one);
//! - a receipt: the oldest committed purchase order completes, its on-order rows become
//!   on-hand rows (a new purchase order is placed when none is open);
//! - a price change: cost and list price move, sometimes by more than 5 %;
//! - a new product (with a little stock), or a deactivation.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Size;
use crate::generate::encode_segment;
use crate::model::*;

/// What one live step changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveReport {
    /// New orders (sales orders and newly placed purchase orders).
    pub new_orders: usize,
    /// Products whose price/cost changed.
    pub changed_products: usize,
    /// Products created.
    pub new_products: usize,
    /// Products deactivated.
    pub deactivated: usize,
    /// Stock rows created, changed or removed.
    pub stock_rows_changed: usize,
}

/// Hourly event rates for a size: (sales, receipts, price changes, new products, deactivations).
fn rates(size: Size) -> [f64; 5] {
    match size {
        Size::Small => [2.0, 0.5, 1.0, 0.25, 0.1],
        Size::Medium => [20.0, 3.0, 8.0, 1.0, 0.5],
        Size::Large => [120.0, 15.0, 40.0, 5.0, 2.0],
    }
}

/// Deterministic state of live mode.
#[derive(Debug, Clone)]
pub struct LiveState {
    rng: ChaCha8Rng,
    size: Size,
    carry: [f64; 5],
    serial: u32,
}

impl LiveState {
    /// A fresh live stream for `seed` and `size`.
    pub fn new(seed: u64, size: Size) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x11FE_5EED_0000_0001),
            size,
            carry: [0.0; 5],
            serial: 0,
        }
    }

    fn counts(&mut self, elapsed: Duration) -> [usize; 5] {
        let hours = (elapsed.num_milliseconds().max(0) as f64) / 3_600_000.0;
        let r = rates(self.size);
        let mut out = [0; 5];
        for i in 0..5 {
            let x = self.carry[i] + r[i] * hours;
            out[i] = x.floor() as usize;
            self.carry[i] = x - x.floor();
        }
        out
    }
}

fn history(status: &str, at: DateTime<Utc>, account: &str) -> StatusHistoryEntry {
    StatusHistoryEntry {
        status_id: Some(status.to_owned()),
        tx_stamp: at,
        user_login_url: format!("/{account}/api/userlogin/ops"),
    }
}

fn next_shipment_id(ds: &Dataset) -> u64 {
    ds.shipments
        .rows()
        .iter()
        .filter_map(|s| s.shipment_id.parse::<u64>().ok())
        .max()
        .unwrap_or(600_000)
        + 1
}

/// Applies `elapsed` worth of changes to `ds`, stamping touched records with `stamp`.
pub fn step(
    ds: &mut Dataset,
    st: &mut LiveState,
    elapsed: Duration,
    stamp: DateTime<Utc>,
) -> LiveReport {
    let stamp = DateTime::<Utc>::from_timestamp(stamp.timestamp(), 0).unwrap_or(stamp);
    let [sales, receipts, price_changes, new_products, deactivations] = st.counts(elapsed);
    let mut rep = LiveReport::default();
    let account = ds.account.clone();
    let api = format!("/{account}/api");
    if ds.products.is_empty() || ds.facilities.is_empty() {
        return rep;
    }
    let locations: Vec<String> = ds.location_urls().into_iter().map(str::to_owned).collect();

    for _ in 0..sales {
        st.serial += 1;
        // Pick up to 3 products that are in stock, weighted towards popular ones.
        let mut lines: Vec<OrderItem> = Vec::new();
        for _ in 0..st.rng.random_range(1..=3) {
            for _attempt in 0..20 {
                let i = st.rng.random_range(0..ds.products.len());
                let p = &ds.products.rows()[i];
                if !p.is_active() || lines.iter().any(|l| l.product_url == p.product_url) {
                    continue;
                }
                if st.rng.random::<f64>() > (p.popularity * 50.0).min(1.0) + 0.05 {
                    continue;
                }
                let on_hand: f64 = ds
                    .inventory_items
                    .iter()
                    .filter(|r| {
                        r.product_url == p.product_url
                            && r.order_url.is_none()
                            && r.normalized_packing_string.is_none()
                    })
                    .map(|r| r.quantity_on_hand)
                    .sum();
                if on_hand <= 0.0 {
                    continue;
                }
                let q = f64::from(st.rng.random_range(1u32..=8)).min(on_hand);
                lines.push(OrderItem {
                    seq: lines.len() as u32 + 1,
                    product_id: p.product_id.clone(),
                    product_url: p.product_url.clone(),
                    quantity: q,
                    unit_price: p.list_price().unwrap_or(1.0),
                });
                break;
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Draw stock down, removing rows that reach zero.
        let mut ship_items = Vec::new();
        for l in &lines {
            let mut left = l.quantity;
            let mut k = 0;
            while left > 0.0 && k < ds.inventory_items.len() {
                let r = &mut ds.inventory_items[k];
                // Sales draw loose units (eaches rows); cases stay whole.
                if r.product_url == l.product_url
                    && r.order_url.is_none()
                    && r.normalized_packing_string.is_none()
                    && r.quantity_on_hand > 0.0
                {
                    let take = left.min(r.quantity_on_hand);
                    r.quantity_on_hand -= take;
                    left -= take;
                    rep.stock_rows_changed += 1;
                    ship_items.push(ShipmentItem {
                        product_id: l.product_id.clone(),
                        product_url: l.product_url.clone(),
                        facility_url: r.facility_url.clone(),
                        lot_id: r.lot_id.clone(),
                        quantity: take,
                    });
                    if r.quantity_on_hand <= 0.0 {
                        ds.inventory_items.remove(k);
                        continue;
                    }
                }
                k += 1;
            }
        }
        let order_id = format!("SO-L{}-{}", stamp.timestamp(), st.serial);
        let order_url = format!("{api}/order/{}", encode_segment(&order_id));
        let ship_id = next_shipment_id(ds);
        let ship_url = format!("{api}/shipment/{ship_id}");
        let loc = locations[0].clone();
        let customer = ds
            .party_groups
            .rows()
            .iter()
            .filter(|p| p.role_type_id_list.iter().any(|r| r == "CUSTOMER"))
            .nth(st.rng.random_range(0..8))
            .map(|p| p.party_id.clone())
            .unwrap_or_else(|| "PRIMARY".into());
        ds.shipments.push(Shipment {
            shipment_id: ship_id.to_string(),
            shipment_id_user: format!("{order_id}-1"),
            shipment_url: ship_url.clone(),
            shipment_type_id: "SALES_SHIPMENT".into(),
            status_id: "SHIPMENT_SHIPPED".into(),
            primary_order_url: order_url.clone(),
            origin_facility_url: Some(loc.clone()),
            destination_facility_url: None,
            ship_date: Some(stamp),
            receive_date: None,
            shipment_item_list: ship_items,
            status_id_history_list: vec![history("SHIPMENT_SHIPPED", stamp, &account)],
            created_date: stamp,
            last_updated_date: stamp,
        });
        ds.orders.push(Order {
            order_id,
            order_url,
            order_type_id: "SALES_ORDER".into(),
            status_id: "ORDER_COMPLETED".into(),
            order_date: stamp,
            origin_facility_url: Some(loc),
            destination_facility_url: None,
            order_role_list: vec![OrderRole {
                role_type_id: "CUSTOMER".into(),
                party_id: customer,
            }],
            order_item_list: lines,
            status_id_history_list: vec![
                history("ORDER_CREATED", stamp, &account),
                history("ORDER_LOCKED", stamp, &account),
                history("ORDER_COMPLETED", stamp, &account),
            ],
            shipment_url_list: vec![ship_url],
            reference_number: None,
            created_date: stamp,
            last_updated_date: stamp,
        });
        rep.new_orders += 1;
    }

    for _ in 0..receipts {
        let open = ds.orders.natural_order().iter().copied().find(|&i| {
            let o = &ds.orders.rows()[i];
            !o.is_sales() && o.status_id == "ORDER_LOCKED"
        });
        let Some(oi) = open else {
            // Nothing to receive: place a purchase order for a low-stock product instead.
            st.serial += 1;
            let pi = st.rng.random_range(0..ds.products.len());
            let p = ds.products.rows()[pi].clone();
            let order_id = format!("PO-L{}-{}", stamp.timestamp(), st.serial);
            let order_url = format!("{api}/order/{}", encode_segment(&order_id));
            let sub = ds
                .sublocations_of(&locations[0])
                .first()
                .map(|s| (*s).to_owned());
            let supplier = p
                .main_supplier()
                .map(|s| s.supplier_party_url.clone())
                .unwrap_or_default();
            let supplier_id = supplier.rsplit('/').next().unwrap_or("").to_owned();
            let qty = f64::from(st.rng.random_range(5u32..50) * 10);
            ds.orders.push(Order {
                order_id,
                order_url: order_url.clone(),
                order_type_id: "PURCHASE_ORDER".into(),
                status_id: "ORDER_LOCKED".into(),
                order_date: stamp,
                origin_facility_url: None,
                destination_facility_url: Some(locations[0].clone()),
                order_role_list: vec![OrderRole {
                    role_type_id: "SUPPLIER".into(),
                    party_id: supplier_id,
                }],
                order_item_list: vec![OrderItem {
                    seq: 1,
                    product_id: p.product_id.clone(),
                    product_url: p.product_url.clone(),
                    quantity: qty,
                    unit_price: p.main_supplier().map_or(1.0, |s| s.price),
                }],
                status_id_history_list: vec![
                    history("ORDER_CREATED", stamp, &account),
                    history("ORDER_LOCKED", stamp, &account),
                ],
                shipment_url_list: Vec::new(),
                reference_number: None,
                created_date: stamp,
                last_updated_date: stamp,
            });
            if let Some(sub) = sub {
                ds.inventory_items.push(InventoryItem {
                    product_id: p.product_id.clone(),
                    product_url: p.product_url.clone(),
                    facility_url: sub,
                    lot_id: None,
                    normalized_packing_string: None,
                    order_url: Some(order_url),
                    quantity_on_hand: 0.0,
                    quantity_on_order: qty,
                    quantity_reserved: 0.0,
                });
                rep.stock_rows_changed += 1;
            }
            rep.new_orders += 1;
            continue;
        };
        let order_url = ds.orders.rows()[oi].order_url.clone();
        let ship_id = next_shipment_id(ds);
        let ship_url = format!("{api}/shipment/{ship_id}");
        // On-order rows of this PO become on-hand rows.
        let mut items = Vec::new();
        for r in ds.inventory_items.iter_mut() {
            if r.order_url.as_deref() == Some(order_url.as_str()) && r.quantity_on_order > 0.0 {
                r.quantity_on_hand = r.quantity_on_order;
                r.quantity_on_order = 0.0;
                r.order_url = None;
                rep.stock_rows_changed += 1;
                items.push(ShipmentItem {
                    product_id: r.product_id.clone(),
                    product_url: r.product_url.clone(),
                    facility_url: r.facility_url.clone(),
                    lot_id: None,
                    quantity: r.quantity_on_hand,
                });
            }
        }
        let dest = ds.orders.rows()[oi].destination_facility_url.clone();
        ds.shipments.push(Shipment {
            shipment_id: ship_id.to_string(),
            shipment_id_user: format!("{}-1", ds.orders.rows()[oi].order_id),
            shipment_url: ship_url.clone(),
            shipment_type_id: "PURCHASE_SHIPMENT".into(),
            status_id: "SHIPMENT_DELIVERED".into(),
            primary_order_url: order_url,
            origin_facility_url: None,
            destination_facility_url: dest,
            ship_date: None,
            receive_date: Some(stamp),
            shipment_item_list: items,
            status_id_history_list: vec![history("SHIPMENT_DELIVERED", stamp, &account)],
            created_date: stamp,
            last_updated_date: stamp,
        });
        ds.orders.update(oi, |o| {
            o.status_id = "ORDER_COMPLETED".into();
            o.status_id_history_list
                .push(history("ORDER_COMPLETED", stamp, &account));
            o.shipment_url_list.push(ship_url);
            o.last_updated_date = stamp;
        });
    }

    for _ in 0..price_changes {
        let i = st.rng.random_range(0..ds.products.len());
        let big = st.rng.random_bool(0.3);
        let pct = if big {
            st.rng.random_range(0.06..0.25)
        } else {
            st.rng.random_range(0.005..0.04)
        };
        let factor = if st.rng.random_bool(0.7) {
            1.0 + pct
        } else {
            1.0 - pct
        };
        ds.products.update(i, |p| {
            p.cost = p.cost.map(|c| ((c * factor) * 100.0).round() / 100.0);
            for pr in &mut p.price_list {
                pr.price = ((pr.price * factor) * 100.0).round() / 100.0;
            }
            p.last_updated_date = stamp;
        });
        rep.changed_products += 1;
    }

    for _ in 0..new_products {
        st.serial += 1;
        let template = ds.products.rows()[st.rng.random_range(0..ds.products.len())].clone();
        let sku = format!("NEW-{}-{}", stamp.timestamp(), st.serial);
        let url = format!("{api}/product/{}", encode_segment(&sku));
        let mut p = template;
        p.product_id = Arc::from(sku.as_str());
        p.product_url = Arc::from(url.as_str());
        p.internal_name = format!("New arrival {}", st.serial);
        p.status_id = "PRODUCT_ACTIVE".into();
        p.created_date = stamp;
        p.last_updated_date = stamp;
        if let Some(sub) = ds
            .sublocations_of(&locations[0])
            .first()
            .map(|s| (*s).to_owned())
        {
            ds.inventory_items.push(InventoryItem {
                product_id: p.product_id.clone(),
                product_url: p.product_url.clone(),
                facility_url: sub,
                lot_id: None,
                normalized_packing_string: None,
                order_url: None,
                quantity_on_hand: f64::from(st.rng.random_range(1u32..100)),
                quantity_on_order: 0.0,
                quantity_reserved: 0.0,
            });
            rep.stock_rows_changed += 1;
        }
        ds.products.push(p);
        rep.new_products += 1;
    }

    for _ in 0..deactivations {
        let i = st.rng.random_range(0..ds.products.len());
        if ds.products.rows()[i].is_active() {
            ds.products.update(i, |p| {
                p.status_id = "PRODUCT_INACTIVE".into();
                p.last_updated_date = stamp;
            });
            rep.deactivated += 1;
        }
    }
    rep
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::generate::generate;

    fn anchor() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn steps_change_records_and_stock_deterministically() {
        let mut a = generate("acme", 4, Size::Small, anchor());
        let mut b = a.clone();
        let stock_before = a.inventory_items.clone();
        let stamp = anchor() + Duration::hours(6);
        let mut sa = LiveState::new(4, Size::Small);
        let mut sb = LiveState::new(4, Size::Small);
        let ra = step(&mut a, &mut sa, Duration::hours(6), stamp);
        let rb = step(&mut b, &mut sb, Duration::hours(6), stamp);
        assert_eq!(ra, rb);
        assert_eq!(a.orders.rows(), b.orders.rows());
        assert!(ra.new_orders > 0, "{ra:?}");
        assert!(ra.changed_products > 0, "{ra:?}");
        assert_ne!(a.inventory_items, stock_before);
        let changed = a.orders.updated_between(stamp, stamp).len()
            + a.products.updated_between(stamp, stamp).len();
        assert!(changed >= ra.new_orders + ra.changed_products.min(1));
        for r in &a.inventory_items {
            let nz = [r.quantity_on_hand, r.quantity_on_order, r.quantity_reserved]
                .iter()
                .filter(|q| **q != 0.0)
                .count();
            assert_eq!(nz, 1, "{r:?}");
        }
    }

    #[test]
    fn small_steps_accumulate_like_one_big_step() {
        let mut st = LiveState::new(1, Size::Small);
        let mut total = 0;
        for _ in 0..10 {
            total += st.counts(Duration::minutes(6))[0];
        }
        assert_eq!(total, 2);
        assert_eq!(
            LiveState::new(1, Size::Small).counts(Duration::seconds(-5)),
            [0; 5]
        );
    }
}
