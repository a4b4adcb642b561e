//! Item detail against the hand-made store's hand-computed figures.

use workstation::CacheError;
use workstation::query::item;

use crate::support::{hand_made, today};

#[test]
fn item_by_sku_and_by_url() {
    let c = hand_made();
    let d = item(&c, "SKU-100", today()).unwrap();
    assert_eq!(item(&c, "P1", today()).unwrap(), d);
    assert_eq!(
        item(&c, "sku-100", today()).unwrap().summary.product_url,
        "P1"
    );
    let s = &d.summary;
    assert_eq!(
        (s.on_hand, s.reserved, s.available, s.on_order),
        (38.0, 1.0, 37.0, 4.0)
    );
    assert_eq!((s.velocity_30d, s.velocity_90d), (2.0, 1.0));
    assert_eq!(s.days_of_stock, Some(18.5));
    assert_eq!(s.lead_time_days, 10.0, "the main supplier's");
    assert_eq!(d.product_lead_time_days, Some(30.0));
    assert_eq!((s.cost, s.price), (Some(2.5), Some(5.0)));
    assert_eq!(s.state.as_str(), "below_reorder");
    assert!(s.at_reorder && !s.critical && !s.out_of_stock);

    // Locations: EAST (30 in EAST-A), MAIN (MAIN-A 6/1/4 + MAIN-B 2).
    let locs: Vec<_> = d
        .locations
        .iter()
        .map(|l| {
            (
                l.location_url.clone().unwrap(),
                l.on_hand,
                l.reserved,
                l.on_order,
                l.available,
            )
        })
        .collect();
    assert_eq!(
        locs,
        [
            ("EAST".to_string(), 30.0, 0.0, 0.0, 30.0),
            ("MAIN".to_string(), 8.0, 1.0, 4.0, 7.0)
        ]
    );
    let main = &d.locations[1];
    assert_eq!(main.name.as_deref(), Some("Main Warehouse"));
    assert_eq!(
        (main.reorder_point, main.reorder_qty, main.at_reorder),
        (Some(10.0), Some(20.0), true)
    );
    assert_eq!(main.sublocations.len(), 2);
    assert_eq!(main.sublocations[0].facility_url, "MAIN-A");
    assert_eq!(main.sublocations[0].available, 5.0);
    assert_eq!(d.locations[0].reorder_point, None);
    assert!(!d.locations[0].at_reorder);

    let sup: Vec<_> = d
        .suppliers
        .iter()
        .map(|l| {
            (
                l.name.clone().unwrap(),
                l.supplier_sku.clone().unwrap(),
                l.is_main,
                l.price,
                l.lead_time_days,
            )
        })
        .collect();
    assert_eq!(
        sup,
        [
            (
                "Acme Supply".into(),
                "AC-77".into(),
                true,
                Some(2.25),
                Some(10.0)
            ),
            (
                "Bolt Brothers".into(),
                "BT-1".into(),
                false,
                Some(2.4),
                Some(5.0)
            )
        ]
    );
    assert_eq!(d.reorder_rules.len(), 1);
    assert_eq!(d.reorder_rules[0].location_url.as_deref(), Some("MAIN"));

    // Two years, today included: 2024-12-06 .. 2026-12-05 (2024-12-05 is 730 days back).
    let days: Vec<String> = d.sales.iter().map(|s| s.day.to_string()).collect();
    assert_eq!(days, ["2024-12-06", "2026-11-20", "2026-12-01"]);
    assert_eq!((d.units_sold_2y, d.revenue_2y), (62.0, 310.0));
}

#[test]
fn product_wide_level_and_critical() {
    let c = hand_made();
    let d = item(&c, "ABC-1", today()).unwrap();
    assert!(
        d.summary.critical,
        "10 days of stock < 20 days of lead time"
    );
    let all = d.locations.last().unwrap();
    assert_eq!(all.location_url, None);
    assert_eq!(
        (all.available, all.reorder_point, all.at_reorder),
        (40.0, Some(50.0), true)
    );
    let inactive = item(&c, "SKU-200", today()).unwrap();
    assert_eq!(inactive.summary.state.as_str(), "inactive");
    assert!(!inactive.summary.out_of_stock);
}

#[test]
fn unknown_and_ambiguous_items() {
    let c = hand_made();
    assert!(matches!(item(&c, "NOPE-1", today()), Err(CacheError::NotFound(k)) if k == "NOPE-1"));
    assert!(matches!(
        item(&c, "", today()),
        Err(CacheError::InvalidInput(_))
    ));
    crate::support::product(&c, "P9", "XYZ-9", "Twin", None, "PRODUCT_ACTIVE", 1.0, None);
    assert!(matches!(
        item(&c, "XYZ-9", today()),
        Err(CacheError::InvalidInput(m)) if m.contains("P5") && m.contains("P9")
    ));
    // A product without its derived row yet still has a detail.
    let d = item(&c, "P9", today()).unwrap();
    assert_eq!(d.summary.on_hand, 0.0);
}

#[test]
fn the_reorder_suggestion_is_the_reorder_lists() {
    let c = hand_made();
    let listed = workstation::query::reorder(&c, &workstation::query::ReorderQuery::default())
        .unwrap()
        .rows;
    assert!(!listed.is_empty());
    for row in &listed {
        let d = item(&c, &row.sku, today()).unwrap();
        assert_eq!(d.suggestion.as_ref(), Some(&row.suggestion), "{}", row.sku);
    }
    // An item at no reorder point has none.
    let skus: Vec<&str> = listed.iter().map(|r| r.sku.as_str()).collect();
    let page = workstation::query::search(&c, &workstation::query::SearchQuery::default()).unwrap();
    let ok = page
        .rows
        .iter()
        .find(|r| !skus.contains(&r.sku.as_str()))
        .expect("an item not at a reorder point");
    assert_eq!(item(&c, &ok.sku, today()).unwrap().suggestion, None);
}
