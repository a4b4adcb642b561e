//! Threshold events: once per crossing, per location and for the item's total.

use workstation::events::{Event, Level, Quantities};

use crate::support::{Db, kinds, one_item};

#[test]
fn threshold_events_fire_once_per_crossing_down_and_back_up() {
    let mut db = one_item();
    assert_eq!(
        db.levels("/p/1"),
        vec![("".into(), Level::Ok), ("/f/main".into(), Level::Ok)]
    );

    // 10 → 8: a stock change, no crossing.
    db.stock("/p/1", "/f/main", 8.0, 0.0);
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["stock_changed"]);
    let Event::StockChanged(c) = &ev[0] else {
        panic!()
    };
    assert_eq!(c.sku, "P1");
    assert_eq!(c.location_url, "/f/main");
    assert_eq!(c.location_name.as_deref(), Some("Main"));
    assert_eq!(
        (c.before, c.after),
        (
            Quantities {
                on_hand: 10.0,
                available: 10.0
            },
            Quantities {
                on_hand: 8.0,
                available: 8.0
            }
        )
    );

    // 8 → 5: down through the reorder point (5), at the location and in total; one alert.
    db.stock("/p/1", "/f/main", 5.0, 0.0);
    let ev = db.derive();
    assert_eq!(
        kinds(&ev),
        [
            "stock_changed",
            "fell_below_reorder_point",
            "fell_below_reorder_point",
            "alert"
        ]
    );
    let Event::FellBelowReorderPoint(l) = &ev[1] else {
        panic!()
    };
    assert_eq!(l.location_url.as_deref(), Some("/f/main"));
    assert_eq!((l.previous_level, l.level), (Level::Ok, Level::Low));
    assert_eq!(l.reorder_point, Some(5.0));
    let Event::FellBelowReorderPoint(t) = &ev[2] else {
        panic!()
    };
    assert_eq!(t.location_url, None, "the second is the item's total");

    // 5 → 3: still low, no new crossing.
    db.stock("/p/1", "/f/main", 3.0, 0.0);
    assert_eq!(kinds(&db.derive()), ["stock_changed"]);

    // 3 → 0: to zero.
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let ev = db.derive();
    assert_eq!(
        kinds(&ev),
        ["stock_changed", "stocked_out", "stocked_out", "alert"]
    );
    let Event::Alert(g) = &ev[3] else { panic!() };
    assert_eq!(g.alerts.len(), 1);
    assert!(g.alerts[0].escalated, "low → out escalates the alert");
    assert_eq!(g.alerts[0].level, Level::Out);

    // Unchanged values write nothing and say nothing.
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    assert!(db.derive().is_empty());

    // 0 → 20: back up past the reorder point.
    db.stock("/p/1", "/f/main", 20.0, 0.0);
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["stock_changed", "restocked", "restocked"]);
    let Event::Restocked(r) = &ev[2] else {
        panic!()
    };
    assert_eq!((r.previous_level, r.level), (Level::Out, Level::Ok));
}

#[test]
fn straight_to_zero_is_one_stockout_not_a_low_as_well() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    assert_eq!(
        kinds(&db.derive()),
        ["stock_changed", "stocked_out", "stocked_out", "alert"]
    );
    // A partial restock (out → low) is a restock, no alert.
    db.stock("/p/1", "/f/main", 2.0, 0.0);
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["stock_changed", "restocked", "restocked"]);
    let Event::Restocked(r) = &ev[1] else {
        panic!()
    };
    assert_eq!((r.previous_level, r.level), (Level::Out, Level::Low));
}

#[test]
fn reserved_stock_is_not_available() {
    let mut db = one_item();
    // Everything on hand is reserved: nothing can be sold, so it is out.
    db.sql("UPDATE stock SET reserved = on_hand");
    let ev = db.derive();
    assert_eq!(
        kinds(&ev),
        ["stock_changed", "stocked_out", "stocked_out", "alert"]
    );
    let Event::StockedOut(o) = &ev[1] else {
        panic!()
    };
    assert_eq!((o.on_hand, o.available), (10.0, 0.0));
}

#[test]
fn sublocations_roll_up_into_their_location() {
    let mut db = Db::new();
    db.facility("/f/wh", None, "Warehouse");
    db.facility("/f/wh/a", Some("/f/wh"), "Aisle A");
    db.facility("/f/wh/b", Some("/f/wh"), "Aisle B");
    db.facility("/f/shop", None, "Shop");
    db.product("/p/1", "P1");
    // The guideline names a sublocation: it applies to its location.
    db.guideline("/p/1", 0, Some("/f/wh/a"), 4.0);
    db.stock("/p/1", "/f/wh/a", 3.0, 0.0);
    db.stock("/p/1", "/f/wh/b", 4.0, 0.0);
    db.stock("/p/1", "/f/shop", 1.0, 0.0);
    assert!(db.derive().is_empty());
    assert_eq!(
        db.levels("/p/1"),
        vec![
            ("".into(), Level::Ok),
            ("/f/shop".into(), Level::Ok),
            ("/f/wh".into(), Level::Ok),
        ],
        "no level state for sublocations"
    );

    // Aisle B empties: the warehouse holds 3 (≤ 4: low); the shop is unchanged; the total
    // (4, point 4) is low too.
    db.stock("/p/1", "/f/wh/b", 0.0, 0.0);
    let ev = db.derive();
    assert_eq!(
        kinds(&ev),
        [
            "stock_changed",
            "fell_below_reorder_point",
            "fell_below_reorder_point",
            "alert"
        ]
    );
    let Event::StockChanged(c) = &ev[0] else {
        panic!()
    };
    assert_eq!(c.location_url, "/f/wh");
    assert_eq!(c.location_name.as_deref(), Some("Warehouse"));
    assert_eq!((c.before.on_hand, c.after.on_hand), (7.0, 3.0));

    // The shop's only row is deleted: its stock is gone (0, out at that location; the total,
    // 3, stays low).
    db.sql("DELETE FROM stock WHERE facility_url = '/f/shop'");
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["stock_changed", "stocked_out"]);
    let Event::StockedOut(o) = &ev[1] else {
        panic!()
    };
    assert_eq!(o.location_url.as_deref(), Some("/f/shop"));

    // Aisle B is re-parented to the shop: stock moves between locations.
    db.stock("/p/1", "/f/wh/b", 6.0, 0.0);
    db.derive();
    db.sql("UPDATE facilities SET parent_url = '/f/shop' WHERE url = '/f/wh/b'");
    let ev = db.derive();
    let moved: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::StockChanged(c) => Some((c.location_url.as_str(), c.after.on_hand)),
            _ => None,
        })
        .collect();
    assert_eq!(moved, [("/f/shop", 6.0), ("/f/wh", 3.0)]);
}

#[test]
fn a_known_products_first_stock_at_a_new_location_starts_from_zero() {
    let mut db = one_item();
    db.facility("/f/two", None, "Two");
    db.stock("/p/1", "/f/two", 4.0, 1.0);
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["stock_changed"]);
    let Event::StockChanged(c) = &ev[0] else {
        panic!()
    };
    assert_eq!(
        (c.before.on_hand, c.after.on_hand, c.after.available),
        (0.0, 4.0, 3.0)
    );
}

#[test]
fn a_new_product_is_recorded_silently_whatever_its_level() {
    let mut db = one_item();
    db.product("/p/new", "NEW");
    db.stock("/p/new", "/f/main", 0.0, 0.0);
    assert!(db.derive().is_empty());
    assert_eq!(
        db.levels("/p/new"),
        vec![("".into(), Level::Out), ("/f/main".into(), Level::Out)]
    );
    // From now on it is known.
    db.stock("/p/new", "/f/main", 3.0, 0.0);
    assert_eq!(
        kinds(&db.derive()),
        ["stock_changed", "restocked", "restocked"]
    );
}

#[test]
fn the_item_total_uses_the_item_rows_reorder_point() {
    let mut db = Db::new();
    db.facility("/f/a", None, "A");
    db.facility("/f/b", None, "B");
    db.product("/p/1", "P1");
    db.stock("/p/1", "/f/a", 6.0, 0.0);
    db.stock("/p/1", "/f/b", 6.0, 0.0);
    db.derive();
    // The engine's item row says the item's reorder point is 12 (say, from guidelines the
    // engine summed): the total (12) is now low; the locations have no point of their own.
    db.sql(
        "INSERT INTO inventory_items (sku, finale_id, stock, reorder_point, content_hash)
         VALUES ('P1', '/p/1', 12, 12, zeroblob(32))",
    );
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["fell_below_reorder_point", "alert"]);
    let Event::FellBelowReorderPoint(t) = &ev[0] else {
        panic!()
    };
    assert_eq!(
        (t.location_url.as_deref(), t.reorder_point),
        (None, Some(12.0))
    );
    // The point is lowered by hand: the total recovers.
    db.sql("UPDATE inventory_items SET reorder_point = 2 WHERE finale_id = '/p/1'");
    assert_eq!(kinds(&db.derive()), ["restocked"]);
    // Other columns of the item row are not journalled.
    db.sql("UPDATE inventory_items SET sales_velocity = 3 WHERE finale_id = '/p/1'");
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 0);
}

#[test]
fn do_not_reorder_guidelines_are_skipped() {
    let mut db = Db::new();
    db.facility("/f/a", None, "A");
    db.product("/p/1", "P1");
    db.sql(
        "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point,
                calculation_method)
         VALUES ('/p/1', 0, '/f/a', 50, '##doNotReorder')",
    );
    db.stock("/p/1", "/f/a", 10.0, 0.0);
    db.derive();
    assert_eq!(
        db.levels("/p/1"),
        vec![("".into(), Level::Ok), ("/f/a".into(), Level::Ok)]
    );
}
