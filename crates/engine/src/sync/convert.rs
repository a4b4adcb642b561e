//! Finale records into store rows: the conversions and checks a record passes before any
//! store sees it.
//!
//! Conversion is pure (`Finale record → Result<Row, Invalid>`) and the same for both stores,
//! so they hold exactly the same values and hashes ([`store::rows`] defines the rows and their
//! hashes). A record that would violate a store CHECK (non-finite numbers, negative prices,
//! empty keys) is rejected here as an [`Invalid`], which the engine quarantines with the
//! record's raw JSON ([`raw_json`]): one bad record never fails the batch it travels in, and
//! NaN never reaches SQLite (which would store it as NULL).
//!
//! Stock is Finale's `inventoryitem` rows summed per (product, sublocation) over lots,
//! packings and orders ([`aggregate_stock`]), in units: a case-packed row counts cases when
//! [`PackedQuantities::Cases`] (the default, `FINALE_PACKED_QUANTITIES`) and is converted by
//! its packing; order-line quantities likewise. A packing that cannot be read is rejected
//! with the raw row, never guessed.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use finale::{Facility, FinaleRecord, InventoryItem, Order, PackedQuantities, PartyGroup, Product};
use serde::Serialize;

use store::rows::{
    FacilityRow, GuidelineRow, Invalid, LineRow, OrderRow, PartyRow, ProductRow, StockRow,
    SupplierLinkRow, business_day, party_url_from_id,
};

// ---------------------------------------------------------------------------------------------
// Validation helpers

struct Check<'a> {
    collection: &'static str,
    key: &'a str,
}

impl Check<'_> {
    fn fail(&self, field: &str, reason: impl Into<String>) -> Invalid {
        Invalid {
            collection: self.collection,
            key: self.key.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
    fn finite(&self, field: &str, v: Option<f64>) -> Result<Option<f64>, Invalid> {
        match v {
            Some(x) if !x.is_finite() => Err(self.fail(field, format!("{x} is not a number"))),
            v => Ok(v),
        }
    }
    fn non_negative(&self, field: &str, v: Option<f64>) -> Result<Option<f64>, Invalid> {
        match self.finite(field, v)? {
            Some(x) if x < 0.0 => Err(self.fail(field, format!("{x} is negative"))),
            v => Ok(v),
        }
    }
    fn required(&self, field: &str, v: &str) -> Result<String, Invalid> {
        if v.trim().is_empty() {
            Err(self.fail(field, "is empty"))
        } else {
            Ok(v.to_owned())
        }
    }
    /// An optional reference: `Some("")` is treated as absent (Finale sends empty strings).
    fn reference(v: &Option<String>) -> Option<String> {
        v.as_ref().filter(|s| !s.is_empty()).cloned()
    }
}

fn user_fields_json(fields: &[finale::UserField]) -> serde_json::Value {
    let map: BTreeMap<&str, Option<&str>> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_deref()))
        .collect();
    serde_json::to_value(map).unwrap_or(serde_json::Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Conversions

/// Converts and validates a Finale facility.
pub fn facility_row(f: &Facility) -> Result<FacilityRow, Invalid> {
    let c = Check {
        collection: "facility",
        key: &f.url,
    };
    let url = c.required("facilityUrl", &f.url)?;
    let parent_url = Check::reference(&f.parent_url);
    if parent_url.as_deref() == Some(url.as_str()) {
        return Err(c.fail("parentFacilityUrl", "a facility cannot be its own parent"));
    }
    let mut row = FacilityRow {
        facility_id: c.required("facilityId", &f.facility_id)?,
        url,
        name: f.name.clone(),
        parent_url,
        status: f.status.clone(),
        facility_type: f.facility_type.clone(),
        shipping_disabled: f.shipping_disabled,
        receiving_disabled: f.receiving_disabled,
        finale_created: f.created,
        finale_last_updated: f.last_updated,
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    Ok(row)
}

/// Converts and validates a Finale party group.
pub fn party_row(p: &PartyGroup) -> Result<PartyRow, Invalid> {
    let c = Check {
        collection: "partygroup",
        key: &p.url,
    };
    let contacts =
        serde_json::to_value(&p.contacts).map_err(|e| c.fail("contactMechList", e.to_string()))?;
    let mut row = PartyRow {
        url: c.required("partyUrl", &p.url)?,
        party_id: c.required("partyId", &p.party_id)?,
        name: p.name.clone(),
        roles: p.roles.clone(),
        status: p.status.clone(),
        contacts,
        user_fields: user_fields_json(&p.user_fields),
        finale_last_updated: p.last_updated,
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    Ok(row)
}

/// Converts and validates a Finale product (with its supplier links and guidelines).
pub fn product_row(p: &Product) -> Result<ProductRow, Invalid> {
    let c = Check {
        collection: "product",
        key: &p.url,
    };
    let mut suppliers = Vec::with_capacity(p.suppliers.len());
    for (i, s) in p.suppliers.iter().enumerate() {
        let pref = s.pref_order_id.clone();
        suppliers.push(SupplierLinkRow {
            supplier_url: Check::reference(&s.supplier_party_url),
            supplier_sku: s.supplier_product_id.clone(),
            is_main: pref
                .as_deref()
                .is_some_and(|p| p.to_ascii_uppercase().contains("MAIN")),
            pref_order_id: pref,
            price: c.non_negative(&format!("supplierList[{i}].price"), s.price)?,
            currency: s.currency.clone(),
            lead_time_days: c.non_negative(&format!("supplierList[{i}].leadTime"), s.lead_time)?,
        });
    }
    let mut guidelines = Vec::with_capacity(p.reorder_guidelines.len());
    for (i, g) in p.reorder_guidelines.iter().enumerate() {
        guidelines.push(GuidelineRow {
            facility_url: Check::reference(&g.facility_url),
            reorder_point: c.non_negative(
                &format!("reorderGuidelineList[{i}].reorderPoint"),
                g.reorder_point,
            )?,
            reorder_qty: c.non_negative(
                &format!("reorderGuidelineList[{i}].reorderQuantity"),
                g.reorder_quantity,
            )?,
            calculation_method: g.calculation_method.clone(),
        });
    }
    let list_price = p
        .prices
        .iter()
        .find(|r| r.price_type.as_deref() == Some("LIST_PRICE"))
        .and_then(|r| r.price);
    let mut row = ProductRow {
        url: c.required("productUrl", &p.url)?,
        sku: c.required("productId", &p.product_id)?,
        name: p.name.clone(),
        status: p.status.clone(),
        product_type: p.product_type.clone(),
        category: p.category.clone(),
        upc: p.upc.clone(),
        cost: c.non_negative("cost", p.cost)?,
        lead_time_days: c.non_negative("leadTime", p.lead_time)?,
        packing: p.packing.clone(),
        list_price: c.non_negative("priceList[LIST_PRICE].price", list_price)?,
        user_fields: user_fields_json(&p.user_fields),
        finale_created: p.created,
        finale_last_updated: p.last_updated,
        suppliers,
        guidelines,
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    Ok(row)
}

/// Converts and validates a Finale order. Its lines must have been completed
/// (`lines == Some(..)`); an order whose lines are unknown is rejected rather than
/// stored as an order without lines. Line quantities are stored in units: a packed line
/// is converted as `packed` says, and an unreadable packing rejects the order. `zone` is
/// the account's time zone, which decides [`OrderRow::order_day`].
pub fn order_row(o: &Order, packed: PackedQuantities, zone: Tz) -> Result<OrderRow, Invalid> {
    let c = Check {
        collection: "order",
        key: &o.url,
    };
    let Some(src_lines) = &o.lines else {
        return Err(c.fail("orderItemList", "the order's lines could not be read"));
    };
    let mut lines = Vec::with_capacity(src_lines.len());
    for (i, l) in src_lines.iter().enumerate() {
        let quantity = c
            .finite(&format!("orderItemList[{i}].quantity"), l.quantity)?
            .unwrap_or(0.0);
        let quantity = packed
            .to_units(quantity, l.packing.as_deref())
            .map_err(|e| {
                c.fail(
                    &format!("orderItemList[{i}].normalizedPackingString"),
                    e.to_string(),
                )
            })?;
        let quantity = c
            .finite(&format!("orderItemList[{i}].quantity"), Some(quantity))?
            .unwrap_or(0.0);
        lines.push(LineRow {
            // Not stored: GraphQL lines have none (see [`LineRow`]).
            order_item_url: None,
            product_url: Check::reference(&l.product_url),
            product_id: l.product_id.clone(),
            quantity,
            unit_price: c.finite(&format!("orderItemList[{i}].unitPrice"), l.unit_price)?,
        });
    }
    let wanted_role = match o.order_type.as_str() {
        "PURCHASE_ORDER" => "SUPPLIER",
        _ => "CUSTOMER",
    };
    let party_url = o
        .roles
        .iter()
        .find(|r| r.role_type.as_deref() == Some(wanted_role))
        .and_then(|r| {
            Check::reference(&r.party_url).or_else(|| {
                r.party_id
                    .as_deref()
                    .filter(|id| !id.is_empty())
                    .and_then(|id| party_url_from_id(&o.url, id))
            })
        });
    let mut row = OrderRow {
        url: c.required("orderUrl", &o.url)?,
        order_id: c.required("orderId", &o.order_id)?,
        order_type: c.required("orderTypeId", &o.order_type)?,
        status: o.status.clone(),
        order_date: o.order_date,
        order_day: o.order_date.map(|t| business_day(t, zone)),
        due_date: o.due_date,
        origin_facility_url: Check::reference(&o.origin_facility_url),
        destination_facility_url: Check::reference(&o.destination_facility_url),
        party_url,
        total: c.finite("orderTotal", o.total)?,
        reference_number: o.reference_number.clone(),
        finale_created: o.created,
        finale_last_updated: o.last_updated,
        lines,
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    Ok(row)
}

/// A rejected stock pair or row, with the raw row when one row is to blame.
pub type StockReject = (Invalid, Option<serde_json::Value>);

/// Finale's `inventoryitem` snapshot summed per (product, sublocation), in units: one
/// [`StockRow`] per pair, sorted by key. Packed rows are converted as `packed` says; a row
/// whose packing cannot be read is rejected with its raw JSON and its pair gets no row (its
/// sum would be incomplete). A pair whose sum is not finite, or whose reserved or on-order
/// sum is negative, is rejected too. Every rejection is keyed `"{product} @ {facility}"`.
pub fn aggregate_stock(
    items: &[InventoryItem],
    packed: PackedQuantities,
) -> (Vec<StockRow>, Vec<StockReject>) {
    let mut sums: BTreeMap<(&str, &str), [f64; 3]> = BTreeMap::new();
    let mut unreadable: std::collections::BTreeSet<(&str, &str)> = Default::default();
    let mut bad = Vec::new();
    for it in items {
        if it.product_url.is_empty() || it.facility_url.is_empty() {
            continue;
        }
        let pair = (&*it.product_url, &*it.facility_url);
        let per_unit = match packed.to_units(1.0, it.packing.as_deref()) {
            Ok(f) => f,
            Err(e) => {
                bad.push((
                    Invalid {
                        collection: "inventoryitem",
                        key: format!("{} @ {}", pair.0, pair.1),
                        field: "normalizedPackingString".into(),
                        reason: e.to_string(),
                    },
                    Some(raw_json(it)),
                ));
                unreadable.insert(pair);
                continue;
            }
        };
        let s = sums.entry(pair).or_insert([0.0; 3]);
        s[0] += it.quantity_on_hand * per_unit;
        s[1] += it.quantity_reserved * per_unit;
        s[2] += it.quantity_on_order * per_unit;
    }
    let mut rows = Vec::with_capacity(sums.len());
    for ((p, f), [on_hand, reserved, on_order]) in sums {
        if unreadable.contains(&(p, f)) {
            continue;
        }
        let key = format!("{p} @ {f}");
        let c = Check {
            collection: "inventoryitem",
            key: &key,
        };
        let checked = c
            .finite("quantityOnHand", Some(on_hand))
            .and(c.non_negative("quantityReserved", Some(reserved)))
            .and(c.non_negative("quantityOnOrder", Some(on_order)));
        match checked {
            Ok(_) => rows.push(StockRow::new(
                p.to_owned(),
                f.to_owned(),
                on_hand,
                reserved,
                on_order,
            )),
            Err(e) => bad.push((e, None)),
        }
    }
    (rows, bad)
}

/// The raw JSON of a Finale record, for quarantine.
pub fn raw_json<T: FinaleRecord + Serialize>(record: &T) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_sums_lots_and_rejects_negative_reserved() {
        let item = |p: &str, f: &str, oh: f64, res: f64| InventoryItem {
            product_url: p.into(),
            product_id: None,
            facility_url: f.into(),
            lot_id: None,
            packing: None,
            order_url: None,
            quantity_on_hand: oh,
            quantity_on_order: 0.0,
            quantity_reserved: res,
        };
        let (rows, bad) = aggregate_stock(
            &[
                item("/p/1", "/f/1", 3.0, 0.0),
                item("/p/1", "/f/1", 4.0, 1.0),
                item("/p/2", "/f/1", 1.0, -5.0),
                item("/p/3", "/f/2", f64::NAN, 0.0),
            ],
            PackedQuantities::Cases,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].on_hand, rows[0].reserved), (7.0, 1.0));
        assert_eq!(bad.len(), 2);
        assert!(bad.iter().any(|(e, _)| e.field == "quantityReserved"));
        assert!(bad.iter().any(|(e, _)| e.field == "quantityOnHand"));
    }

    fn packed(p: &str, f: &str, packing: Option<&str>, oh: f64, res: f64) -> InventoryItem {
        InventoryItem {
            product_url: p.into(),
            product_id: None,
            facility_url: f.into(),
            lot_id: None,
            packing: packing.map(str::to_owned),
            order_url: None,
            quantity_on_hand: oh,
            quantity_on_order: 0.0,
            quantity_reserved: res,
        }
    }

    #[test]
    fn packed_stock_is_summed_in_units_as_the_switch_says() {
        let rows = [
            packed("/p/1", "/f/1", None, 5.0, 0.0),
            packed("/p/1", "/f/1", Some("12 cs 12/1"), 3.0, 0.0),
            packed("/p/1", "/f/1", Some("12 cs 12/1"), 0.0, 1.0),
        ];
        let (cases, bad) = aggregate_stock(&rows, PackedQuantities::Cases);
        assert!(bad.is_empty());
        assert_eq!((cases[0].on_hand, cases[0].reserved), (41.0, 12.0));
        let (units, _) = aggregate_stock(&rows, PackedQuantities::Units);
        assert_eq!((units[0].on_hand, units[0].reserved), (8.0, 1.0));
    }

    #[test]
    fn an_unreadable_packing_is_rejected_with_its_row_and_its_pair_gets_no_row() {
        let rows = [
            packed("/p/1", "/f/1", None, 5.0, 0.0),
            packed("/p/1", "/f/1", Some("a dozen-ish"), 3.0, 0.0),
            packed("/p/2", "/f/1", Some("6 cs 6/1"), 2.0, 0.0),
        ];
        let (ok, bad) = aggregate_stock(&rows, PackedQuantities::Cases);
        assert_eq!(ok.len(), 1);
        assert_eq!((ok[0].product_url.as_str(), ok[0].on_hand), ("/p/2", 12.0));
        assert_eq!(bad.len(), 1);
        let (e, raw) = &bad[0];
        assert_eq!(e.key, "/p/1 @ /f/1");
        assert_eq!(e.field, "normalizedPackingString");
        assert!(e.reason.contains("a dozen-ish"), "{}", e.reason);
        let raw = raw.as_ref().expect("the raw row");
        assert_eq!(raw["packing"], "a dozen-ish");
        assert_eq!(raw["quantity_on_hand"], 3.0);
        // Quantities in units need no packing at all.
        let (ok, bad) = aggregate_stock(&rows, PackedQuantities::Units);
        assert_eq!((ok.len(), bad.len()), (2, 0));
    }

    #[test]
    fn packed_order_lines_are_stored_in_units_and_no_line_keeps_its_url() {
        let line = |packing: Option<&str>, q: f64| finale::OrderLine {
            order_item_url: Some("/acme/api/order/SO-1/orderItem/00000001".into()),
            product_id: Some("W".into()),
            product_url: Some("/acme/api/product/W".into()),
            quantity: Some(q),
            unit_price: Some(2.0),
            unit_list_price: None,
            packing: packing.map(str::to_owned),
            description: None,
        };
        let order = |lines| Order {
            url: "/acme/api/order/SO-1".into(),
            order_id: "SO-1".into(),
            order_type: "SALES_ORDER".into(),
            status: Some("ORDER_LOCKED".into()),
            order_date: None,
            due_date: None,
            created: None,
            last_updated: None,
            origin_facility_url: None,
            destination_facility_url: None,
            roles: Vec::new(),
            lines: Some(lines),
            status_history: Vec::new(),
            shipment_urls: Vec::new(),
            invoice_urls: Vec::new(),
            reference_number: None,
            total: None,
            user_fields: Vec::new(),
        };
        let o = order(vec![line(Some("36 cs 36/1"), 12.0), line(None, 5.0)]);
        let r = order_row(&o, PackedQuantities::Cases, Tz::UTC).expect("valid");
        assert_eq!(r.lines[0].quantity, 432.0);
        assert_eq!(r.lines[1].quantity, 5.0);
        assert!(r.lines.iter().all(|l| l.order_item_url.is_none()));
        let u = order_row(&o, PackedQuantities::Units, Tz::UTC).expect("valid");
        assert_eq!(u.lines[0].quantity, 12.0);
        let bad = order(vec![line(Some("box"), 1.0)]);
        let e = order_row(&bad, PackedQuantities::Cases, Tz::UTC).expect_err("unreadable");
        assert_eq!(e.field, "orderItemList[0].normalizedPackingString");
    }
}
