//! Reorder suggestions on the hand-made store, computed by hand.

use workstation::query::{ReorderQuery, reorder};

use crate::support::{guideline, hand_made, item_row, product, stock};

#[test]
fn suggestions_by_hand() {
    let c = hand_made();
    let page = reorder(&c, &ReorderQuery::default()).unwrap();
    let skus: Vec<&str> = page.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!(skus, ["ABC-1", "SKU-100"]);
    assert!(page.next_cursor.is_none());

    // ABC-1: d = max(4, 3) = 4, LT 20 (BOLT), RP 50 → target 130; position 40 + 0;
    // suggested floor(90) + 1 = 91 (RQ 40 is less); unit cost 0.45 → 40.95.
    let a = &page.rows[0];
    assert_eq!(a.suggestion.demand_per_day, 4.0);
    assert_eq!(a.suggestion.target, 130.0);
    assert_eq!(a.suggestion.position, 40.0);
    assert_eq!(a.suggestion.suggested_qty, 91.0);
    assert!((a.order_value - 40.95).abs() < 1e-9);
    assert_eq!(a.supplier_name.as_deref(), Some("Bolt Brothers"));
    assert_eq!(a.supplier_sku.as_deref(), Some("BT-9"));
    assert!(a.critical);
    assert_eq!(a.suggestion.low_locations.len(), 1);
    assert_eq!(a.suggestion.low_locations[0].location_url, None);
    assert_eq!(a.suggestion.low_locations[0].need, 11.0);
    assert!(a.suggestion.transfers.is_empty());

    // SKU-100: d = 2, LT 10, RP 10 → target 30; position 37 + 4 = 41 > 30: buy nothing;
    // MAIN needs floor(10 − 7) + 1 = 4, EAST spares ceil(30 − 0) − 1 = 29: move 4.
    let b = &page.rows[1];
    assert_eq!(b.suggestion.target, 30.0);
    assert_eq!(b.suggestion.position, 41.0);
    assert_eq!(b.suggestion.suggested_qty, 0.0);
    assert_eq!(
        b.suggestion.low_locations[0].location_url.as_deref(),
        Some("MAIN")
    );
    assert_eq!(b.suggestion.low_locations[0].need, 4.0);
    assert_eq!(b.suggestion.transfers.len(), 1);
    let t = &b.suggestion.transfers[0];
    assert_eq!(
        (
            t.from_location_url.as_str(),
            t.to_location_url.as_str(),
            t.qty
        ),
        ("EAST", "MAIN", 4.0)
    );
    assert_eq!(t.from_name.as_deref(), Some("East Depot"));
    assert_eq!(b.supplier_name.as_deref(), Some("Acme Supply"));
}

#[test]
fn grouped_filtered_and_paged() {
    let c = hand_made();
    // An item at its reorder point without any supplier link: last when grouped.
    product(
        &c,
        "P6",
        "NOLINK-1",
        "Lone Spring",
        None,
        "PRODUCT_ACTIVE",
        1.0,
        None,
    );
    guideline(&c, "P6", 0, Some("MAIN"), 5.0, 10.0, None);
    stock(&c, "P6", "MAIN-A", 1.0, 0.0, 0.0);
    item_row(&c, "P6", 1.0, 1.0, Some(5.0), Some(10.0), 0.0, 0.0);
    let plain = reorder(&c, &ReorderQuery::default()).unwrap();
    let skus: Vec<&str> = plain.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!(skus, ["ABC-1", "NOLINK-1", "SKU-100"]);
    let grouped = reorder(
        &c,
        &ReorderQuery {
            group_by_supplier: true,
            ..ReorderQuery::default()
        },
    )
    .unwrap();
    let skus: Vec<&str> = grouped.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!(skus, ["SKU-100", "ABC-1", "NOLINK-1"], "Acme, Bolt, none");
    let bolt = reorder(
        &c,
        &ReorderQuery {
            supplier: Some("bolt brothers".into()),
            ..ReorderQuery::default()
        },
    )
    .unwrap();
    assert_eq!(bolt.rows.len(), 1);
    assert_eq!(bolt.rows[0].sku, "ABC-1");
    let main = reorder(
        &c,
        &ReorderQuery {
            location: Some("Main Warehouse".into()),
            ..ReorderQuery::default()
        },
    )
    .unwrap();
    let skus: Vec<&str> = main.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!(skus, ["NOLINK-1", "SKU-100"]);
    for group_by_supplier in [false, true] {
        let mut q = ReorderQuery {
            group_by_supplier,
            limit: Some(1),
            ..ReorderQuery::default()
        };
        let mut seen = Vec::new();
        loop {
            let p = reorder(&c, &q).unwrap();
            seen.extend(p.rows.into_iter().map(|r| r.sku));
            match p.next_cursor {
                Some(n) => q.after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 3, "{seen:?}");
    }
}

#[test]
fn grouped_and_plain_walks_list_the_same_items() {
    let c = crate::support::fixture(2000);
    let walk = |group_by_supplier: bool| {
        let mut q = ReorderQuery {
            group_by_supplier,
            limit: Some(17),
            ..ReorderQuery::default()
        };
        let mut out = Vec::new();
        loop {
            let p = reorder(&c, &q).unwrap();
            out.extend(p.rows);
            match p.next_cursor {
                Some(n) => q.after = Some(n),
                None => return out,
            }
        }
    };
    let plain = walk(false);
    let grouped = walk(true);
    assert!(plain.len() > 50, "{}", plain.len());
    let mut a: Vec<&str> = plain.iter().map(|r| r.sku.as_str()).collect();
    let b: Vec<&str> = grouped.iter().map(|r| r.sku.as_str()).collect();
    assert!(
        a.windows(2).all(|w| w[0] < w[1]),
        "plain: by SKU, once each"
    );
    let mut sorted_b = b.clone();
    sorted_b.sort();
    a.sort();
    assert_eq!(a, sorted_b);
    let keys: Vec<String> = grouped
        .iter()
        .map(|r| {
            r.supplier_url
                .clone()
                .unwrap_or_else(|| "\u{10FFFF}".into())
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "grouped by supplier");
    assert!(plain.iter().all(|r| !r.suggestion.low_locations.is_empty()));
}
