//! The search index and the reorder levels follow every write (triggers).

use rusqlite::params;
use workstation::query::{Filters, SearchQuery, search};

use crate::support::{hand_made, item_row, link, product, skus};

fn find(c: &rusqlite::Connection, t: &str) -> Vec<String> {
    skus(
        &search(
            c,
            &SearchQuery {
                text: Some(t.into()),
                ..SearchQuery::default()
            },
        )
        .unwrap(),
    )
}

fn below(c: &rusqlite::Connection) -> Vec<String> {
    skus(
        &search(
            c,
            &SearchQuery {
                filters: Filters {
                    below_reorder: true,
                    ..Filters::default()
                },
                ..SearchQuery::default()
            },
        )
        .unwrap(),
    )
}

#[test]
fn products_updated_and_deleted() {
    let c = hand_made();
    c.execute(
        "UPDATE products SET name = 'Purple Sprocket' WHERE url = 'P5'",
        [],
    )
    .unwrap();
    assert_eq!(find(&c, "sprock"), ["XYZ-9"]);
    assert!(find(&c, "hinge").is_empty());
    c.execute("UPDATE products SET upc = '999888777' WHERE url = 'P5'", [])
        .unwrap();
    assert_eq!(find(&c, "999888"), ["XYZ-9"]);
    // The upsert the engine uses (ON CONFLICT DO UPDATE).
    c.execute(
        "INSERT INTO products (url, sku, name, content_hash) VALUES ('P5', 'XYZ-10', 'Oak Hinge', zeroblob(32))
         ON CONFLICT (url) DO UPDATE SET sku = excluded.sku, name = excluded.name",
        [],
    )
    .unwrap();
    assert!(find(&c, "sprock").is_empty());
    assert_eq!(find(&c, "xyz-10"), ["XYZ-10"]);
    // INSERT OR REPLACE (no delete trigger without recursive triggers) keeps one document.
    c.execute(
        "INSERT OR REPLACE INTO products (url, sku, name, content_hash)
         VALUES ('P5', 'XYZ-11', 'Cedar Hinge', zeroblob(32))",
        [],
    )
    .unwrap();
    assert_eq!(find(&c, "cedar"), ["XYZ-11"]);
    assert!(find(&c, "oak").is_empty());
    let docs: i64 = c
        .query_row(
            "SELECT count(*) FROM search_docs WHERE product_url = 'P5'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(docs, 1);
    // Deleted: gone from the index, the docs and the levels (its guidelines cascade).
    assert_eq!(find(&c, "blue"), ["SKU-100"]);
    c.execute("DELETE FROM products WHERE url = 'P1'", [])
        .unwrap();
    assert!(find(&c, "blue").is_empty());
    assert!(find(&c, "ac-77").is_empty());
    let n: i64 = c
        .query_row(
            "SELECT (SELECT count(*) FROM search_docs) + 0 * (SELECT count(*) FROM product_search)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let fts: i64 = c
        .query_row("SELECT count(*) FROM product_search", [], |r| r.get(0))
        .unwrap();
    assert_eq!((n, fts), (4, 4));
    let levels: i64 = c
        .query_row(
            "SELECT count(*) FROM query_reorder_levels WHERE product_url = 'P1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(levels, 0);
    // A new product is searchable at once, its links too.
    product(
        &c,
        "P7",
        "NEW-1",
        "Copper Valve",
        None,
        "PRODUCT_ACTIVE",
        1.0,
        None,
    );
    link(&c, "P7", 0, "ACME", "AC-555", true, 1.0, None);
    // The list shows products with their derived item row (the engine writes both).
    assert!(find(&c, "copper").is_empty());
    item_row(&c, "P7", 0.0, 0.0, None, None, 0.0, 0.0);
    assert_eq!(find(&c, "copper"), ["NEW-1"]);
    assert_eq!(find(&c, "ac-555"), ["NEW-1"]);
}

#[test]
fn supplier_links_updated_and_deleted() {
    let c = hand_made();
    assert_eq!(find(&c, "bt-1"), ["SKU-100"]);
    c.execute(
        "UPDATE product_suppliers SET supplier_sku = 'BT-42' WHERE product_url = 'P1' AND seq = 1",
        [],
    )
    .unwrap();
    assert!(find(&c, "bt-1").is_empty());
    assert_eq!(find(&c, "bt-42"), ["SKU-100"]);
    assert_eq!(find(&c, "ac-77"), ["SKU-100"], "the other link stays");
    c.execute(
        "DELETE FROM product_suppliers WHERE product_url = 'P1' AND seq = 0",
        [],
    )
    .unwrap();
    assert!(find(&c, "ac-77").is_empty());
    assert_eq!(find(&c, "bt-42"), ["SKU-100"]);
}

#[test]
fn levels_follow_stock_guidelines_and_facilities() {
    let c = hand_made();
    assert_eq!(below(&c), ["ABC-1", "SKU-100"]);
    // MAIN: 7 + 8 available > 10.
    c.execute(
        "UPDATE stock SET on_hand = 10 WHERE product_url = 'P1' AND facility_url = 'MAIN-B'",
        [],
    )
    .unwrap();
    assert_eq!(below(&c), ["ABC-1"]);
    // The guideline rises to 20: at reorder again.
    c.execute(
        "UPDATE reorder_guidelines SET reorder_point = 20 WHERE product_url = 'P1'",
        [],
    )
    .unwrap();
    assert_eq!(below(&c), ["ABC-1", "SKU-100"]);
    // Do not reorder: no level.
    c.execute(
        "UPDATE reorder_guidelines SET calculation_method = '##doNotReorder' WHERE product_url = 'P1'",
        [],
    )
    .unwrap();
    assert_eq!(below(&c), ["ABC-1"]);
    c.execute(
        "UPDATE reorder_guidelines SET calculation_method = NULL WHERE product_url = 'P1'",
        [],
    )
    .unwrap();
    // MAIN-B moves to EAST: MAIN holds 5 again.
    c.execute(
        "UPDATE facilities SET parent_url = 'EAST' WHERE url = 'MAIN-B'",
        [],
    )
    .unwrap();
    let main: (f64, f64) = c
        .query_row(
            "SELECT on_hand, reserved FROM query_reorder_levels WHERE product_url = 'P1' AND location_url = 'MAIN'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(main, (6.0, 1.0));
    // Deleting stock counts too.
    c.execute("DELETE FROM stock WHERE product_url = 'P4'", [])
        .unwrap();
    let p4: f64 = c
        .query_row(
            "SELECT on_hand FROM query_reorder_levels WHERE product_url = 'P4'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(p4, 0.0);
    c.execute(
        "INSERT INTO stock (product_url, facility_url, on_hand, content_hash) VALUES ('P4', 'EAST-A', 99, zeroblob(32))",
        params![],
    )
    .unwrap();
    assert_eq!(
        below(&c),
        ["SKU-100"],
        "ABC-1's product-wide level counts every location"
    );
}
