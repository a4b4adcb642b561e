//! Reorder suggestions on the hand-made store, computed by hand.

use workstation::query::{ReorderQuery, reorder};

use crate::support::hand_made;

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
    let grouped = reorder(
        &c,
        &ReorderQuery {
            group_by_supplier: true,
            ..ReorderQuery::default()
        },
    )
    .unwrap();
    let skus: Vec<&str> = grouped.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!(skus, ["SKU-100", "ABC-1"], "Acme before Bolt");
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
    assert_eq!(main.rows.len(), 1);
    assert_eq!(main.rows[0].sku, "SKU-100");
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
        assert_eq!(seen.len(), 2, "{seen:?}");
    }
}
