//! The kept item flags and dashboard counters (migration `V20261205060000__item_flags.sql`)
//! equal a fresh computation after every kind of write the stores and a person can make.

use rusqlite::Connection;
use workstation::query::{ReorderQuery, dashboard, recount, reorder};

use crate::support::fixture;

/// Flag rows that differ between the kept table and the view over the source rows.
fn stale_flags(c: &Connection) -> i64 {
    c.query_row(
        "SELECT (SELECT count(*) FROM (SELECT * FROM query_item_flags
                                        EXCEPT SELECT * FROM query_item_flags_now))
              + (SELECT count(*) FROM (SELECT * FROM query_item_flags_now
                                        EXCEPT SELECT * FROM query_item_flags))",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// The kept flags and counters agree with the source rows.
fn assert_kept(c: &Connection, after: &str) {
    assert_eq!(stale_flags(c), 0, "flags after {after}");
    let kept = dashboard(c).unwrap();
    let (counts, value) = recount(c).unwrap();
    assert_eq!(kept.items, counts, "counts after {after}");
    assert!(
        (kept.stock_value - value).abs() < 0.01,
        "stock value after {after}: kept {} vs {value}",
        kept.stock_value
    );
}

/// Every item at a reorder point, by walking the reorder list page by page.
fn reorder_walk(c: &Connection, grouped: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = reorder(
            c,
            &ReorderQuery {
                group_by_supplier: grouped,
                limit: Some(97),
                after: after.take(),
                ..ReorderQuery::default()
            },
        )
        .unwrap();
        out.extend(page.rows.iter().map(|r| r.sku.clone()));
        match page.next_cursor {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

#[test]
fn flags_and_counters_follow_every_write() {
    let c = fixture(600);
    assert_kept(&c, "the fixture");
    let (at_reorder, critical) = {
        let d = dashboard(&c).unwrap();
        (d.items.at_reorder, d.items.critical)
    };
    assert!(
        at_reorder > 20 && critical > 5,
        "the fixture has items to count"
    );

    let steps: &[(&str, &str)] = &[
        (
            "stock sold out at every location of some products",
            "UPDATE stock SET on_hand = 0, reserved = 0
              WHERE product_url IN (SELECT finale_id FROM inventory_items WHERE sku LIKE '%3')",
        ),
        (
            "the engine's derived rows following that stock",
            "UPDATE inventory_items SET stock = 0, available = 0, days_of_stock = 0
              WHERE sku LIKE '%3'",
        ),
        (
            "a restock far above every reorder point",
            "UPDATE stock SET on_hand = on_hand + 100000
              WHERE product_url IN (SELECT finale_id FROM inventory_items WHERE sku LIKE '%7')",
        ),
        (
            "items set inactive",
            "UPDATE inventory_items SET status = 'PRODUCT_INACTIVE' WHERE sku LIKE '%5'",
        ),
        (
            "reorder points raised",
            "UPDATE reorder_guidelines SET reorder_point = reorder_point + 500
              WHERE product_url IN (SELECT finale_id FROM inventory_items WHERE sku LIKE '%1')",
        ),
        (
            "guidelines marked do-not-reorder",
            "UPDATE reorder_guidelines SET calculation_method = '##doNotReorder'
              WHERE product_url IN (SELECT finale_id FROM inventory_items WHERE sku LIKE '%2')",
        ),
        (
            "lead times lengthened on the products",
            "UPDATE products SET lead_time_days = 400 WHERE sku LIKE '%4'",
        ),
        (
            "supplier links' lead times and main flags changed",
            "UPDATE product_suppliers SET lead_time_days = 365, is_main = 1 - is_main
              WHERE product_url IN (SELECT finale_id FROM inventory_items WHERE sku LIKE '%6')",
        ),
        (
            "supplier links deleted",
            "DELETE FROM product_suppliers
              WHERE product_url IN (SELECT finale_id FROM inventory_items WHERE sku LIKE '%8')",
        ),
        (
            "costs and stock changed by hand",
            "UPDATE inventory_items SET cost = coalesce(cost, 1) * 1.37, stock = stock + 3.25
              WHERE sku LIKE '%9'",
        ),
        (
            "a sublocation moved to another parent",
            "UPDATE facilities SET parent_url = (SELECT url FROM facilities
                                                  WHERE parent_url IS NULL ORDER BY url DESC LIMIT 1)
              WHERE url = (SELECT url FROM facilities WHERE parent_url IS NOT NULL
                            ORDER BY url LIMIT 1)",
        ),
        (
            "items deleted",
            "DELETE FROM inventory_items WHERE sku LIKE '%0'",
        ),
        (
            "products deleted (their links and guidelines cascade)",
            "DELETE FROM products WHERE sku LIKE '%11'",
        ),
        (
            "an item whose product does not exist",
            "INSERT INTO inventory_items (sku, finale_id, stock, available, days_of_stock,
                                          content_hash)
             VALUES ('ORPHAN-1', 'https://example.invalid/product/none', 0, 0, 0, zeroblob(32))",
        ),
    ];
    for (what, sql) in steps {
        c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        let changed = c.execute(sql, []).unwrap();
        assert!(changed > 0, "{what} changed no row");
        assert_kept(&c, what);
    }

    // The reorder list walks exactly the items the counters count, grouped or not.
    let by_sku = reorder_walk(&c, false);
    let grouped = reorder_walk(&c, true);
    assert_eq!(by_sku.len() as u64, dashboard(&c).unwrap().items.at_reorder);
    let mut sorted = grouped.clone();
    sorted.sort();
    let mut expected = by_sku.clone();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "grouped and by-SKU lists hold the same items"
    );
}
