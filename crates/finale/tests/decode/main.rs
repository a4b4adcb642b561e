//! Fixture tests for the column-major decoder: one hand-written payload per quirk in
//! `tests/fixtures/`, including the examples of finale-api.md §6.1, §6.2 and §7.1.

use chrono::{DateTime, TimeZone, Utc};
use finale::decode::decode_record;
use finale::{
    DecodeContext, DecodeError, Decoded, Facility, FinaleRecord, InventoryItem, Order, PartyGroup,
    Product, Shipment, decode_collection,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode<T: FinaleRecord>(name: &str) -> Decoded<T> {
    decode_collection::<T>(&fixture(name), &DecodeContext::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid")
}

#[test]
fn product_doc_example() {
    let d = decode::<Product>("product_doc_example.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records.len(), 2);
    let (w, g) = (&d.records[0], &d.records[1]);
    assert_eq!(w.url, "/acme/api/product/WIDGET-1");
    assert_eq!(w.key(), "/acme/api/product/WIDGET-1");
    assert_eq!(w.product_id, "WIDGET-1");
    assert_eq!(w.name.as_deref(), Some("Widget, blue"));
    assert_eq!(w.status.as_deref(), Some("PRODUCT_ACTIVE"));
    assert_eq!(w.last_updated, Some(utc(2025, 3, 1, 17, 2, 11)));
    assert_eq!(w.suppliers.len(), 1);
    let main = w.main_supplier().expect("main supplier");
    assert_eq!(
        main.supplier_party_url.as_deref(),
        Some("/acme/api/partygroup/10031")
    );
    assert_eq!(main.supplier_product_id.as_deref(), Some("B-77"));
    assert_eq!(main.price, Some(3.1));
    assert_eq!(main.currency.as_deref(), Some("USD"));
    assert_eq!(w.user_fields.len(), 1);
    assert_eq!(w.user_fields[0].name, "user_10000");
    assert_eq!(w.user_fields[0].value.as_deref(), Some("aisle 4"));
    // The URL's id differs from the SKU: never build one from the other.
    assert_eq!(g.url, "/acme/api/product/100245");
    assert_eq!(g.product_id, "GADGET 2");
    assert!(g.suppliers.is_empty() && g.main_supplier().is_none());
    assert_eq!(g.last_updated, Some(utc(2024, 11, 28, 9, 40, 0)));
}

#[test]
fn product_all_fields_and_lenient_nested_keys() {
    let d = decode::<Product>("product_full.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let p = &d.records[0];
    assert_eq!(p.cost, Some(12.5), "numeric strings are numbers");
    assert_eq!(p.lead_time, Some(14.0));
    assert_eq!(
        p.upc.as_deref(),
        Some("012345678905"),
        "barcodes keep leading zeros"
    );
    assert_eq!(p.packing.as_deref(), Some("9 cs 9/1"));
    assert_eq!(
        p.category.as_deref(),
        Some("Legacy cat"),
        "userCategory is the fallback"
    );
    assert_eq!(p.product_type.as_deref(), Some("GOOD"));
    let main = p.main_supplier().expect("main");
    assert_eq!(
        main.supplier_party_url.as_deref(),
        Some("/acme/api/partygroup/2")
    );
    assert_eq!(main.price, Some(8.75));
    assert_eq!(main.lead_time, Some(7.0));
    assert_eq!(p.list_price(), Some(21.5));
    let g = &p.reorder_guidelines;
    assert_eq!(g.len(), 3);
    assert_eq!(g[0].reorder_point, Some(20.0));
    assert_eq!(g[0].reorder_quantity, Some(60.0));
    assert_eq!(
        g[1].facility_url.as_deref(),
        Some("/acme/api/facility/20000")
    );
    assert_eq!(g[1].reorder_point, Some(5.0), "reorderLevel alias");
    assert_eq!(g[1].reorder_quantity, Some(10.0), "reorderQty alias");
    assert!(g[2].do_not_reorder() && !g[0].do_not_reorder());
    assert_eq!(
        p.last_updated,
        Some(utc(2025, 3, 1, 17, 2, 11) + chrono::Duration::milliseconds(123))
    );
}

#[test]
fn inventoryitem_doc_example() {
    let d = decode::<InventoryItem>("inventoryitem_doc_example.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records.len(), 4);
    let r = &d.records;
    assert_eq!(r[0].quantity_on_hand, 40.0);
    assert_eq!(r[1].lot_id.as_deref(), Some("L-2025-03"));
    assert_eq!(r[2].order_url.as_deref(), Some("/acme/api/order/PO-77"));
    assert_eq!(r[2].quantity_on_order, 100.0);
    assert_eq!(r[3].packing.as_deref(), Some("12 cs 12/1"));
    assert_eq!(r[3].quantity_reserved, 6.0);
    let on_hand: f64 = r.iter().map(|i| i.quantity_on_hand).sum();
    assert_eq!(on_hand, 45.0);
    // Keys are unique per stock row and stable.
    let keys: std::collections::HashSet<String> = r.iter().map(|i| i.key().into_owned()).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(
        r[1].key(),
        "/acme/api/product/WIDGET-1|/acme/api/facility/10012|L-2025-03||"
    );
    assert!(r.iter().all(|i| i.last_updated().is_none()));
}

#[test]
fn ragged_columns_are_none_past_their_end() {
    let d = decode::<Facility>("ragged_columns.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records.len(), 3);
    assert_eq!(d.records[0].name.as_deref(), Some("Main"));
    assert_eq!(d.records[2].name, None, "short facilityName column");
    assert_eq!(
        d.records[1].last_updated, None,
        "short lastUpdatedDate column"
    );
    assert!(!d.records[0].is_sublocation());
    assert!(d.records[1].is_sublocation() && d.records[2].is_sublocation());
}

#[test]
fn row_count_is_the_longest_column() {
    let d = decode::<Facility>("longest_column_wins.json");
    // Five rows: rows 0-1 complete, 2-3 lack facilityId, row 4 lacks its URL as well.
    let urls: Vec<&str> = d.records.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(urls, ["/acme/api/facility/1", "/acme/api/facility/2"]);
    let missing: Vec<(usize, &str)> = d
        .errors
        .iter()
        .map(|e| (e.index, e.field.as_str()))
        .collect();
    assert_eq!(
        missing,
        [(2, "facilityId"), (3, "facilityId"), (4, "facilityUrl")]
    );
    assert_eq!(d.errors[0].key.as_deref(), Some("/acme/api/facility/3"));
    assert_eq!(d.errors[2].key, None);
}

#[test]
fn empty_collections() {
    let d = decode::<Product>("empty_object.json");
    assert!(d.records.is_empty() && d.errors.is_empty());
    let d = decode::<Product>("empty_arrays.json");
    assert!(d.records.is_empty() && d.errors.is_empty());
}

#[test]
fn null_cells_and_null_columns() {
    let d = decode::<PartyGroup>("null_cells_and_columns.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records.len(), 2);
    let (s, me) = (&d.records[0], &d.records[1]);
    assert_eq!(s.name, None);
    assert_eq!(s.roles, ["SUPPLIER", "CARRIER"]);
    assert!(s.has_role("CARRIER") && !s.has_role("CUSTOMER"));
    assert_eq!(me.name.as_deref(), Some("Acme Inc."));
    assert!(me.roles.is_empty());
    assert_eq!(me.party_id, "PRIMARY");
    assert!(s.status.is_none() && s.contacts.is_empty());
    assert!(
        s.last_updated.is_none() && me.last_updated.is_none(),
        "null and \"\""
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let d = decode::<Facility>("unknown_fields.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records.len(), 1, "unknown columns do not add rows");
    assert_eq!(d.records[0].facility_id, "1", "numeric ids become text");
    assert_eq!(d.records[0].name.as_deref(), Some("Dock"));
}

#[test]
fn bad_scalar_cells_are_per_record_errors() {
    let d = decode::<InventoryItem>("bad_scalar_cells.json");
    assert_eq!(d.records.len(), 3, "bad optional cells never drop a record");
    let r = &d.records;
    assert_eq!(r[0].quantity_on_hand, 1.5);
    assert_eq!(r[0].quantity_on_order, 2.0);
    assert_eq!(r[0].quantity_reserved, 0.0, "\"\" is nothing");
    assert_eq!(r[1].product_id, None);
    assert_eq!(r[1].quantity_on_hand, 0.0);
    assert_eq!(r[2].product_id.as_deref(), Some("42"));
    assert_eq!(r[2].quantity_reserved, -0.5);
    let errs: Vec<(usize, &str, &str)> = d
        .errors
        .iter()
        .map(|e| (e.index, e.field.as_str(), e.raw.as_str()))
        .collect();
    assert_eq!(
        errs,
        [
            (1, "productId", r#"{"oops":true}"#),
            (1, "quantityOnHand", r#""many""#),
            (1, "quantityOnOrder", "true"),
            (2, "quantityOnHand", r#"{"n":3}"#),
            (2, "quantityOnOrder", "[1,2]"),
        ]
    );
    assert!(
        d.errors
            .iter()
            .all(|e| e.key.is_some() && !e.reason.is_empty())
    );
    assert_eq!(d.errors[0].key.as_deref(), Some("/acme/api/product/2"));
}

#[test]
fn records_without_a_valid_url_are_isolated() {
    let d = decode::<Product>("missing_required.json");
    let ids: Vec<&str> = d.records.iter().map(|p| p.product_id.as_str()).collect();
    assert_eq!(ids, ["P1"]);
    let errs: Vec<(usize, &str)> = d
        .errors
        .iter()
        .map(|e| (e.index, e.field.as_str()))
        .collect();
    assert_eq!(
        errs,
        [
            (1, "productUrl"),
            (2, "productUrl"),
            (3, "productUrl"),
            (4, "productId")
        ]
    );
    assert_eq!(d.errors[2].raw, r#""not a url""#);
    assert!(d.errors[0].reason.contains("missing"));
    assert!(d.errors[2].reason.contains("not a record URL"));
    // Display names the record, field and raw value.
    let shown = d.errors[2].to_string();
    assert!(
        shown.contains("productUrl") && shown.contains("not a url"),
        "{shown}"
    );
}

#[test]
fn one_bad_nested_object_is_reported_with_its_raw_text() {
    let d = decode::<Product>("bad_nested_element.json");
    assert_eq!(d.records.len(), 2);
    let p1 = &d.records[0];
    assert_eq!(p1.suppliers.len(), 1, "the good supplier row survives");
    assert!(p1.main_supplier().is_some());
    assert_eq!(p1.list_price(), Some(5.0));
    assert!(d.records[1].suppliers.is_empty() && d.records[1].prices.is_empty());
    let errs: Vec<(usize, &str)> = d
        .errors
        .iter()
        .map(|e| (e.index, e.field.as_str()))
        .collect();
    assert_eq!(
        errs,
        [
            (0, "supplierList[1]"),
            (0, "supplierList[2]"),
            (1, "supplierList"),
            (1, "priceList")
        ]
    );
    assert!(
        d.errors[0].raw.contains(r#""amount": 4"#),
        "{:?}",
        d.errors[0]
    );
    assert_eq!(d.errors[1].raw, r#""not an object""#);
}

#[test]
fn orders_with_items_and_a_bad_line() {
    let d = decode::<Order>("order_with_items.json");
    assert_eq!(d.records.len(), 3);
    let (so, po, bad) = (&d.records[0], &d.records[1], &d.records[2]);
    assert_eq!(so.order_type, "SALES_ORDER");
    assert_eq!(so.order_date, Some(utc(2025, 3, 2, 0, 0, 0)));
    let lines = so.lines.as_ref().expect("lines present");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].quantity, Some(6.0));
    assert_eq!(lines[0].unit_price, Some(4.25));
    assert_eq!(
        lines[0].order_item_url.as_deref(),
        Some("/acme/api/order/SO-1/orderItem/00000001")
    );
    assert_eq!(lines[1].quantity, Some(2.0));
    assert_eq!(lines[1].unit_price, Some(10.0));
    assert_eq!(
        so.party_for_role("CUSTOMER")
            .and_then(|r| r.party_id.as_deref()),
        Some("10077")
    );
    assert_eq!(so.status_history[0].at, Some(utc(2025, 3, 2, 17, 2, 11)));
    assert_eq!(so.shipment_urls, ["/acme/api/shipment/609070"]);
    assert_eq!(so.total, Some(25.5));
    assert_eq!(po.order_id, "PO 77");
    assert_eq!(po.url, "/acme/api/order/PO%2077", "URLs are kept verbatim");
    assert_eq!(po.order_date, Some(utc(2025, 2, 1, 0, 0, 0)), "date only");
    assert_eq!(po.roles[0].party_id.as_deref(), Some("10031"));
    assert_eq!(po.status_history[0].status, None);
    assert_eq!(po.status_history[0].at, Some(utc(2025, 2, 19, 21, 20, 0)));
    // A line that cannot be read makes the lines unknown (re-fetched), not silently short.
    assert_eq!(bad.lines, None);
    assert!(bad.shipment_urls.is_empty());
    assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
    assert_eq!(d.errors[0].index, 2);
    assert_eq!(d.errors[0].field, "orderItemList[0]");
    assert_eq!(d.errors[0].key.as_deref(), Some("/acme/api/order/SO-3"));
}

#[test]
fn order_headers_only_have_unknown_lines() {
    let d = decode::<Order>("order_headers_only.json");
    assert!(d.errors.is_empty());
    assert_eq!(d.records.len(), 2);
    assert!(d.records.iter().all(|o| o.lines.is_none()));
}

#[test]
fn single_order_doc_example() {
    let d = decode_record::<Order>(
        &fixture("order_single_doc_example.json"),
        &DecodeContext::default(),
    )
    .expect("decodes");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let o = &d.records[0];
    assert_eq!(o.url, "/acme/api/order/SO-1042");
    assert_eq!(o.order_id, "SO-1042");
    assert_eq!(o.status.as_deref(), Some("ORDER_LOCKED"));
    assert_eq!(o.destination_facility_url, None);
    assert_eq!(o.lines.as_ref().map(Vec::len), Some(1));
    assert_eq!(o.reference_number.as_deref(), Some("PO-CUST-8812"));
    assert_eq!(o.created, Some(utc(2025, 3, 2, 15, 10, 3)));
    // A collection decoder given a single record refuses it as a page (shape error).
    let err = decode_collection::<Order>(
        &fixture("order_single_doc_example.json"),
        &DecodeContext::default(),
    )
    .expect_err("not column-major");
    assert!(matches!(err, DecodeError::Shape { .. }), "{err:?}");
}

#[test]
fn shipments_with_numeric_internal_ids() {
    let d = decode::<Shipment>("shipment_numeric_ids.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let (a, b) = (&d.records[0], &d.records[1]);
    assert_eq!(a.shipment_id, "609070");
    assert_eq!(a.shipment_id_user.as_deref(), Some("SO-1042-1"));
    assert_eq!(a.items[0].quantity, 6.0);
    assert_eq!(b.shipment_id, "609071");
    assert_eq!(b.items[0].quantity, 100.0);
    assert_eq!(b.items[0].lot_id.as_deref(), Some("L-1"));
    assert_eq!(b.receive_date, Some(utc(2025, 3, 5, 14, 30, 0)));
    assert_eq!(
        b.status_history[0].status.as_deref(),
        Some("SHIPMENT_DELIVERED")
    );
}

#[test]
fn party_group_contacts_and_user_fields() {
    let d = decode::<PartyGroup>("partygroup_contacts.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let g = &d.records[0];
    assert_eq!(g.name.as_deref(), Some("Blue Supply Co."));
    assert_eq!(g.contacts.len(), 2);
    assert_eq!(g.contacts[0].id.as_deref(), Some("1"));
    assert_eq!(g.contacts[0].city.as_deref(), Some("Springfield"));
    assert_eq!(g.contacts[1].info.as_deref(), Some("orders@blue.example"));
    assert_eq!(g.user_fields[0].value.as_deref(), Some("17"));
}

#[test]
fn timestamps_in_the_account_time_zone() {
    let chicago = DecodeContext {
        timestamp_zone: "America/Chicago".parse().expect("tz"),
    };
    let body = fixture("timestamps_with_offsets.json");
    let d = decode_collection::<Facility>(&body, &chicago).expect("decodes");
    let got: Vec<Option<DateTime<Utc>>> = d.records.iter().map(|f| f.last_updated).collect();
    assert_eq!(
        got,
        [
            Some(utc(2025, 7, 1, 17, 0, 0)), // CDT = UTC-5
            Some(utc(2025, 7, 1, 12, 0, 0)), // Z honoured
            Some(utc(2025, 7, 1, 10, 0, 0)), // +02:00 honoured
            Some(utc(2025, 7, 1, 5, 0, 0)),  // local midnight
            Some(utc(2025, 7, 1, 17, 0, 0) + chrono::Duration::milliseconds(500)),
            Some(utc(2025, 7, 1, 12, 0, 0)), // epoch seconds
            None,                            // garbage -> error, record kept
        ]
    );
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0].index, 6);
    assert_eq!(d.errors[0].raw, r#""July 1st""#);
    // The same bytes read as UTC differ by the zone offset.
    let u = decode_collection::<Facility>(&body, &DecodeContext::default()).expect("decodes");
    assert_eq!(u.records[0].last_updated, Some(utc(2025, 7, 1, 12, 0, 0)));
}

#[test]
fn escaped_keys_and_values() {
    let d = decode::<Product>("escaped_strings.json");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records[0].url, "/a/api/product/1");
    assert_eq!(
        d.records[0].product_id, "été 🌞",
        "escaped key `product\\u0049d`"
    );
    assert_eq!(d.records[0].name.as_deref(), Some("Grüße \"quoted\""));
    assert_eq!(d.records[1].url, "/a/api/product/café");
    assert_eq!(d.records[1].product_id, "tab\there");
    assert_eq!(d.records[1].name.as_deref(), Some("日本"));
}

#[test]
fn pages_that_are_not_collections_fail_whole() {
    let ctx = DecodeContext::default();
    let e = decode_collection::<Facility>(&fixture("truncated.json"), &ctx).expect_err("truncated");
    assert!(matches!(e, DecodeError::Truncated { .. }), "{e:?}");
    let e =
        decode_collection::<Facility>(&fixture("html_error_page.json"), &ctx).expect_err("html");
    assert!(matches!(e, DecodeError::Syntax { .. }), "{e:?}");
    let e = decode_collection::<Facility>(&fixture("not_column_major_array.json"), &ctx)
        .expect_err("array");
    assert!(matches!(e, DecodeError::Shape { .. }), "{e:?}");
    for body in [
        &b"null"[..],
        b"\"x\"",
        b"42",
        b"{\"facilityUrl\": {\"a\": 1}}",
        b"{\"facilityUrl\": 7}",
    ] {
        let e = decode_collection::<Facility>(body, &ctx).expect_err("not a page");
        assert!(matches!(e, DecodeError::Shape { .. }), "{e:?}");
    }
}

#[test]
fn hostile_inputs_do_not_panic() {
    let ctx = DecodeContext::default();
    let deep = format!(
        "{{\"facilityUrl\": [{}1{}]}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let cases: Vec<Vec<u8>> = vec![
        b"{\"facilityUrl\": [\"/a\", \"/b\"], \"facilityUrl\": [\"/c\"]}".to_vec(),
        b"{\"facilityId\": [1e999]}".to_vec(),
        b"{\"facilityId\": [\"\\ud800\"]}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        deep.into_bytes(),
        vec![0xff, 0xfe, 0x00],
        b"{\"facilityUrl\": [\"/a\"], \"facilityId\": [\"1\"]}\n\n".to_vec(),
    ];
    for body in cases {
        let _ = decode_collection::<Facility>(&body, &ctx);
        let _ = decode_record::<Facility>(&body, &ctx);
    }
    // Duplicate columns: the later column wins cell by cell, the row count stays the longest.
    let d = decode_collection::<Facility>(
        b"{\"facilityUrl\": [\"/a\", \"/b\"], \"facilityId\": [\"1\",\"2\"], \"facilityUrl\": [\"/c\"]}",
        &ctx,
    )
    .expect("decodes");
    let urls: Vec<&str> = d.records.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(urls, ["/c", "/b"]);
}

#[test]
fn a_large_generated_page_round_trips() {
    // 5,000 inventory rows with every third lotId null: row count, order and sums survive.
    let n = 5000;
    let mut body = String::from("{\"productUrl\":[");
    for i in 0..n {
        body.push_str(&format!(
            "{}\"/acme/api/product/{i}\"",
            if i > 0 { "," } else { "" }
        ));
    }
    body.push_str("],\"facilityUrl\":[");
    for i in 0..n {
        body.push_str(&format!(
            "{}\"/acme/api/facility/{}\"",
            if i > 0 { "," } else { "" },
            i % 7
        ));
    }
    body.push_str("],\"lotId\":[");
    for i in 0..n {
        let lot = if i % 3 == 0 {
            "null".to_owned()
        } else {
            format!("\"L{i}\"")
        };
        body.push_str(&format!("{}{lot}", if i > 0 { "," } else { "" }));
    }
    body.push_str("],\"quantityOnHand\":[");
    for i in 0..n {
        body.push_str(&format!("{}{}", if i > 0 { "," } else { "" }, i % 10));
    }
    body.push_str("]}");
    let d = decode_collection::<InventoryItem>(body.as_bytes(), &DecodeContext::default())
        .expect("decodes");
    assert!(d.errors.is_empty());
    assert_eq!(d.records.len(), n);
    assert_eq!(&*d.records[4999].product_url, "/acme/api/product/4999");
    assert_eq!(d.records[3].lot_id, None);
    assert_eq!(d.records[4].lot_id.as_deref(), Some("L4"));
    let sum: f64 = d.records.iter().map(|r| r.quantity_on_hand).sum();
    assert_eq!(sum, (0..n).map(|i| (i % 10) as f64).sum::<f64>());
}

// ---------------------------------------------------------------------------------------------
// finale-api.md §15b: facts from captured payloads, one test per fact.

/// The one record of a single-record body.
fn one<T: FinaleRecord>(body: &[u8], ctx: &DecodeContext) -> T {
    let d = decode_record::<T>(body, ctx).expect("decodes");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    d.records.into_iter().next().expect("one record")
}

/// Finale's build example: `createdDate` equals its `txStamp` epoch seconds read as UTC, so
/// the default reading (UTC) puts both on the same instant.
#[test]
fn payload_timestamps_are_utc_looking() {
    let body = br#"{"orderUrl": "/a/api/order/B1", "orderId": "B1", "orderTypeId": "SALES_ORDER",
        "createdDate": "2019-07-25T19:12:08", "lastUpdatedDate": "2019-07-25T19:13:45",
        "statusIdHistoryList": [
            {"statusId": null, "txStamp": 1564081928, "userLoginUrl": "/a/api/userlogin/k"},
            {"statusId": "ORDER_LOCKED", "txStamp": 1564082025, "userLoginUrl": "/a/api/userlogin/k"}]}"#;
    let o: Order = one(body, &DecodeContext::default());
    assert_eq!(o.created, o.status_history[0].at);
    assert_eq!(o.last_updated, o.status_history[1].at);
    assert_eq!(o.created, Some(utc(2019, 7, 25, 19, 12, 8)));
    assert_eq!(
        o.status_history[0].status, None,
        "a null statusId is an edit, kept"
    );
}

/// A date-only field carries a fixed clock time (`T16:00:00`): its date part is the date,
/// in either timestamp zone.
#[test]
fn payload_date_only_fields_keep_their_date() {
    let body = br#"{"orderUrl": "/a/api/order/1", "orderId": "1", "orderTypeId": "PURCHASE_ORDER",
        "dueDate": "2019-07-30T16:00:00", "orderDate": "2019-07-25T19:00:00"}"#;
    for zone in ["UTC", "Australia/Sydney", "America/Los_Angeles"] {
        let ctx = DecodeContext {
            timestamp_zone: zone.parse().expect("tz"),
        };
        let o: Order = one(body, &ctx);
        assert_eq!(o.due_date, Some(utc(2019, 7, 30, 0, 0, 0)), "{zone}");
    }
    let bad = br#"{"orderUrl": "/a/api/order/1", "orderId": "1", "orderTypeId": "X",
        "dueDate": "next week"}"#;
    let d = decode_collection::<Order>(
        br#"{"orderUrl": ["/a/api/order/1"], "orderId": ["1"], "orderTypeId": ["X"],
             "dueDate": ["next week"]}"#,
        &DecodeContext::default(),
    )
    .expect("page");
    assert_eq!(d.records[0].due_date, None);
    assert_eq!(
        d.errors.len(),
        1,
        "a bad date is a cell error, the record survives"
    );
    let single = decode_record::<Order>(bad, &DecodeContext::default()).expect("decodes");
    assert_eq!(single.records.len(), 1);
    assert_eq!(single.errors.len(), 1);
}

/// The live product collection omits whole columns nobody set and keys inside nested
/// objects (`price` missing from a `priceList` entry); explicit nulls elsewhere.
#[test]
fn payload_absent_keys_and_columns_are_none() {
    let body =
        br#"{"productId": ["A", "B"], "productUrl": ["/a/api/product/A", "/a/api/product/B"],
        "priceList": [[{"productPriceTypeId": "LIST_PRICE", "currencyUomId": "USD"}],
                      [{"productPriceTypeId": "LIST_PRICE", "price": null}]]}"#;
    let d = decode_collection::<Product>(body, &DecodeContext::default()).expect("decodes");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.records.len(), 2);
    for p in &d.records {
        assert_eq!(p.name, None, "no description/internalName column");
        assert_eq!(p.prices.len(), 1);
        assert_eq!(p.prices[0].price, None);
        assert_eq!(p.prices[0].price_type.as_deref(), Some("LIST_PRICE"));
    }
    assert_eq!(d.records[0].prices[0].currency.as_deref(), Some("USD"));
}

/// Nested lists are arrays per record (`"supplierList": [[]]`), custom fields come as
/// string `attrValue`s, and price types may be user-defined (`##user2`).
#[test]
fn payload_nested_lists_user_fields_and_user_price_types() {
    let body = br###"{"productId": ["A"], "productUrl": ["/a/api/product/A"],
        "supplierList": [[]], "productStoreList": [[]], "glAccountList": [[]],
        "contentList": [[]], "productAssocList": [[]], "reorderGuidelineList": [[]],
        "userFieldDataList": [[{"attrName": "user_10001", "attrValue": "1.1993"}]],
        "priceList": [[{"productPriceTypeId": "##user2", "price": 3.5, "currencyUomId": "USD"},
                       {"productPriceTypeId": "LIST_PRICE", "price": 9}]]}"###;
    let d = decode_collection::<Product>(body, &DecodeContext::default()).expect("decodes");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let p = &d.records[0];
    assert!(p.suppliers.is_empty());
    assert_eq!(p.user_fields[0].name, "user_10001");
    assert_eq!(p.user_fields[0].value.as_deref(), Some("1.1993"));
    let types: Vec<_> = p.prices.iter().map(|r| r.price_type.as_deref()).collect();
    assert_eq!(types, [Some("##user2"), Some("LIST_PRICE")]);
    assert_eq!(p.prices[1].price, Some(9.0));
}

/// Ids are strings even when numeric (`"orderId":"10012"`), and a numeric id sent as a JSON
/// number is read as the same string.
#[test]
fn payload_numeric_ids_are_strings() {
    let body = br#"{"orderUrl": ["/a/api/order/10012", "/a/api/order/10013"],
        "orderId": ["10012", 10013], "orderTypeId": ["SALES_ORDER", "SALES_ORDER"]}"#;
    let d = decode_collection::<Order>(body, &DecodeContext::default()).expect("decodes");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let ids: Vec<&str> = d.records.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["10012", "10013"]);
}

/// Finale's own single-order example has no `orderDate`, `createdDate` or
/// `lastUpdatedDate`; a build example carries an undocumented `invalidations` key.
#[test]
fn payload_orders_without_dates_and_unknown_keys() {
    let body = br#"{"orderUrl": "/a/api/order/7", "orderId": "7", "orderTypeId": "SALES_ORDER",
        "invalidations": {"facility": ["/a/api/facility/1"]}, "statusId": "ORDER_CREATED",
        "orderItemList": [{"productId": "A", "quantity": 2}]}"#;
    let o: Order = one(body, &DecodeContext::default());
    assert_eq!(
        (o.order_date, o.created, o.last_updated),
        (None, None, None)
    );
    assert_eq!(o.lines.as_ref().map(Vec::len), Some(1));
}
