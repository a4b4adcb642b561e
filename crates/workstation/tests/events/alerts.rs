//! The alert state: once per stockout, cleared by a restock, grouped in bursts, persisted.

use workstation::CacheError;
use workstation::events::{self, Event, Level};

use crate::support::{Db, kinds, now, one_item};

fn alert_events(ev: &[Event]) -> Vec<&events::AlertGroup> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Alert(g) => Some(g),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stockout_alerts_once_while_out_and_again_after_a_restock() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let ev = db.derive();
    let groups = alert_events(&ev);
    assert_eq!(groups.len(), 1);
    let first = groups[0].alerts[0].clone();
    assert_eq!(
        (first.sku.as_str(), first.level, first.escalated),
        ("P1", Level::Out, false)
    );
    assert_eq!(first.name.as_deref(), Some("Product P1"));

    // Still out, deeper (a negative count), then reserved moves: no new alert.
    for (on_hand, reserved) in [(-2.0, 0.0), (-2.0, 1.0), (0.0, 0.0)] {
        db.stock("/p/1", "/f/main", on_hand, reserved);
        let ev = db.derive();
        assert!(alert_events(&ev).is_empty(), "{:?}", kinds(&ev));
        assert!(!kinds(&ev).contains(&"stocked_out"), "{:?}", kinds(&ev));
    }
    let active = events::active_alerts(&db.conn).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, first.id);
    assert_eq!(active[0].available, 0.0, "the alert follows the quantities");

    // A restock clears it.
    db.stock("/p/1", "/f/main", 30.0, 0.0);
    db.derive();
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
    let resolved = events::alert(&db.conn, first.id).unwrap().unwrap();
    assert_eq!(resolved.level, Level::Out);

    // A new stockout is a new alert.
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let ev = db.derive();
    let groups = alert_events(&ev);
    assert_eq!(groups.len(), 1);
    assert_ne!(groups[0].alerts[0].id, first.id);
    assert_eq!(events::active_alerts(&db.conn).unwrap().len(), 1);
}

#[test]
fn forty_stockouts_in_one_transaction_make_one_grouped_alert() {
    let mut db = Db::new();
    db.facility("/f/main", None, "Main");
    for i in 0..40 {
        let p = format!("/p/{i:02}");
        db.product(&p, &format!("SKU-{i:02}"));
        db.stock(&p, "/f/main", 10.0, 0.0);
    }
    assert!(db.derive().is_empty());

    db.sql("BEGIN");
    for i in 0..40 {
        db.stock(&format!("/p/{i:02}"), "/f/main", 0.0, 0.0);
    }
    db.sql("COMMIT");
    let ev = db.derive();
    let k = kinds(&ev);
    assert_eq!(k.iter().filter(|k| **k == "stock_changed").count(), 40);
    assert_eq!(k.iter().filter(|k| **k == "stocked_out").count(), 80);
    assert_eq!(
        k.last(),
        Some(&"alert"),
        "the group comes after the stock events"
    );
    let groups = alert_events(&ev);
    assert_eq!(groups.len(), 1, "one grouped alert");
    let skus: Vec<_> = groups[0].alerts.iter().map(|a| a.sku.clone()).collect();
    let expected: Vec<_> = (0..40).map(|i| format!("SKU-{i:02}")).collect();
    assert_eq!(skus, expected);
    assert_eq!(events::active_alerts(&db.conn).unwrap().len(), 40);
}

#[test]
fn alerts_survive_reopening_the_file() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    db.derive();
    let id = events::active_alerts(&db.conn).unwrap()[0].id;
    let path = db.path.clone();
    let dir = db.dir;
    drop(db.conn);

    // A new process: the state and the alert are in the file.
    let mut conn = workstation::local::open_or_create(&path).unwrap();
    let active = events::active_alerts(&conn).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, id);
    crate::support::stock_on(&conn, "/p/1", "/f/main", -1.0, 0.0);
    let ev = crate::support::derive_on(&mut conn, now());
    assert_eq!(kinds(&ev), ["stock_changed"], "still out: no second alert");
    crate::support::stock_on(&conn, "/p/1", "/f/main", 9.0, 0.0);
    crate::support::derive_on(&mut conn, now());
    assert!(events::active_alerts(&conn).unwrap().is_empty());
    drop(dir);
}

#[test]
fn acknowledge_and_snooze() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 4.0, 0.0);
    db.derive();
    let a = events::active_alerts(&db.conn).unwrap().remove(0);
    assert_eq!(a.level, Level::Low);
    events::acknowledge(&db.conn, a.id, now()).unwrap();
    let acked = events::alert(&db.conn, a.id).unwrap().unwrap();
    assert!(acked.acknowledged_at.is_some());

    // An escalation to out raises it again and clears the acknowledgement.
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let ev = db.derive();
    let g = alert_events(&ev);
    assert_eq!(g.len(), 1);
    assert!(g[0].alerts[0].escalated);
    assert_eq!(g[0].alerts[0].id, a.id);
    assert!(
        events::alert(&db.conn, a.id)
            .unwrap()
            .unwrap()
            .acknowledged_at
            .is_none()
    );

    // Back to low (no alert), then snoozed: the next escalation is silent.
    db.stock("/p/1", "/f/main", 3.0, 0.0);
    assert!(alert_events(&db.derive()).is_empty());
    events::snooze(&db.conn, a.id, Some(now() + chrono::Duration::hours(1))).unwrap();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let ev = db.derive();
    assert!(alert_events(&ev).is_empty(), "{:?}", kinds(&ev));
    assert_eq!(
        events::alert(&db.conn, a.id).unwrap().unwrap().level,
        Level::Out,
        "the snoozed alert still follows the level"
    );

    // Unknown or resolved alerts are refused.
    assert!(matches!(
        events::acknowledge(&db.conn, 9_999, now()),
        Err(CacheError::NotFound(_))
    ));
    db.stock("/p/1", "/f/main", 50.0, 0.0);
    db.derive();
    assert!(matches!(
        events::snooze(&db.conn, a.id, None),
        Err(CacheError::NotFound(_))
    ));
}

#[test]
fn inactive_products_raise_events_but_no_alert() {
    let mut db = one_item();
    db.sql("UPDATE products SET status = 'PRODUCT_INACTIVE' WHERE url = '/p/1'");
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    let ev = db.derive();
    assert_eq!(kinds(&ev), ["stock_changed", "stocked_out", "stocked_out"]);
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
}

#[test]
fn a_deleted_product_drops_its_state_and_resolves_its_alert_silently() {
    let mut db = one_item();
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    db.derive();
    assert_eq!(events::active_alerts(&db.conn).unwrap().len(), 1);
    // Guidelines cascade; the stock rows are not owned by the product.
    db.sql("DELETE FROM stock WHERE product_url = '/p/1'; DELETE FROM products WHERE url = '/p/1'");
    assert!(db.derive().is_empty());
    assert!(events::active_alerts(&db.conn).unwrap().is_empty());
    assert!(db.levels("/p/1").is_empty());
}
