//! Building stores for the tests.

use chrono::NaiveDate;
use rusqlite::{Connection, params};
use workstation::query::fixture::{FixtureSpec, generate};

/// The day the hand-made store's sales end.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
}

/// A fresh migrated in-memory store.
pub fn empty() -> Connection {
    let mut conn = store::sqlite::open_in_memory().unwrap();
    store::sqlite::migrate(&mut conn).unwrap();
    conn
}

/// A migrated in-memory store with the generated fixture of `n` products.
pub fn fixture(n: usize) -> Connection {
    let mut conn = empty();
    generate(
        &mut conn,
        &FixtureSpec {
            products: n,
            seed: 7,
            today: today(),
        },
    )
    .unwrap();
    conn
}

pub fn facility(c: &Connection, url: &str, name: &str, parent: Option<&str>) {
    c.execute(
        "INSERT INTO facilities (url, facility_id, name, parent_url, content_hash)
         VALUES (?1, ?1, ?2, ?3, zeroblob(32))",
        params![url, name, parent],
    )
    .unwrap();
}

pub fn supplier(c: &Connection, url: &str, name: &str) {
    c.execute(
        "INSERT INTO parties (url, party_id, name, roles, content_hash)
         VALUES (?1, ?1, ?2, '[\"SUPPLIER\"]', zeroblob(32))",
        params![url, name],
    )
    .unwrap();
}

#[allow(clippy::too_many_arguments)]
pub fn product(
    c: &Connection,
    url: &str,
    sku: &str,
    name: &str,
    upc: Option<&str>,
    status: &str,
    cost: f64,
    lead: Option<f64>,
) {
    c.execute(
        "INSERT INTO products (url, sku, name, status, upc, cost, list_price, lead_time_days,
                content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6 * 2, ?7, zeroblob(32))",
        params![url, sku, name, status, upc, cost, lead],
    )
    .unwrap();
}

#[allow(clippy::too_many_arguments)]
pub fn link(
    c: &Connection,
    product: &str,
    seq: i64,
    supplier: &str,
    supplier_sku: &str,
    is_main: bool,
    price: f64,
    lead: Option<f64>,
) {
    c.execute(
        "INSERT INTO product_suppliers (product_url, seq, supplier_url, supplier_sku, is_main,
                price, currency, lead_time_days)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'USD', ?7)",
        params![product, seq, supplier, supplier_sku, is_main, price, lead],
    )
    .unwrap();
}

pub fn guideline(
    c: &Connection,
    product: &str,
    seq: i64,
    facility: Option<&str>,
    rp: f64,
    rq: f64,
    method: Option<&str>,
) {
    c.execute(
        "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point,
                reorder_qty, calculation_method)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![product, seq, facility, rp, rq, method],
    )
    .unwrap();
}

pub fn stock(
    c: &Connection,
    product: &str,
    facility: &str,
    on_hand: f64,
    reserved: f64,
    on_order: f64,
) {
    c.execute(
        "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, zeroblob(32))",
        params![product, facility, on_hand, reserved, on_order],
    )
    .unwrap();
}

pub fn sale(c: &Connection, product: &str, day: &str, units: f64, revenue: f64) {
    c.execute(
        "INSERT INTO daily_sales (product_url, day, units, revenue) VALUES (?1, ?2, ?3, ?4)",
        params![product, day, units, revenue],
    )
    .unwrap();
}

/// The seed's item row as the engine derives it, from hand-computed figures.
#[allow(clippy::too_many_arguments)]
pub fn item_row(
    c: &Connection,
    url: &str,
    on_hand: f64,
    available: f64,
    rp: Option<f64>,
    rq: Option<f64>,
    v30: f64,
    v90: f64,
) {
    let (sku, name, status, cost, price): (String, String, String, f64, f64) = c
        .query_row(
            "SELECT sku, name, status, cost, list_price FROM products WHERE url = ?1",
            [url],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    let dos = (v30 > 0.0).then(|| available.max(0.0) / v30);
    c.execute(
        "INSERT INTO inventory_items (sku, finale_id, name, stock, available, reorder_point,
                reorder_quantity, cost, price, sales_velocity, sales_velocity_90d, days_of_stock,
                status, content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, zeroblob(32))",
        params![
            sku, url, name, on_hand, available, rp, rq, cost, price, v30, v90, dos, status
        ],
    )
    .unwrap();
}

/// The hand-made store:
///
/// - locations MAIN (bins MAIN-A, MAIN-B) and EAST (bin EAST-A); suppliers ACME, BOLT.
/// - P1 `SKU-100` "Blue Widget" (UPC 0001112223334), ACME main (`AC-77`, lead 10), BOLT
///   (`BT-1`); guideline MAIN rp 10 rq 20; stock MAIN-A 6/1/4, MAIN-B 2/0/0, EAST-A 30/0/0.
///   MAIN available 7 ≤ 10: at reorder. Sales: 60 units in 30 days → v30 2, v90 1.
///   days of stock = 37 / 2 = 18.5 ≥ lead 10: not critical.
/// - P2 `SKU-1000` "Red Gadget": out of stock (EAST-A 3 on hand, 3 reserved), no guideline.
/// - P3 `SKU-200` "Green Widget", inactive, out of stock.
/// - P4 `ABC-1` "Steel Bolt", BOLT main (`BT-9`, lead 20); product-wide guideline rp 50 rq 40;
///   stock MAIN-A 40; v30 4 → days of stock 10 < 20: critical.
/// - P5 `XYZ-9` "Oak Hinge", in stock, no guideline: ok.
pub fn hand_made() -> Connection {
    let c = empty();
    facility(&c, "MAIN", "Main Warehouse", None);
    facility(&c, "MAIN-A", "Main bin A", Some("MAIN"));
    facility(&c, "MAIN-B", "Main bin B", Some("MAIN"));
    facility(&c, "EAST", "East Depot", None);
    facility(&c, "EAST-A", "East bin A", Some("EAST"));
    supplier(&c, "ACME", "Acme Supply");
    supplier(&c, "BOLT", "Bolt Brothers");

    product(
        &c,
        "P1",
        "SKU-100",
        "Blue Widget",
        Some("0001112223334"),
        "PRODUCT_ACTIVE",
        2.5,
        Some(30.0),
    );
    link(&c, "P1", 0, "ACME", "AC-77", true, 2.25, Some(10.0));
    link(&c, "P1", 1, "BOLT", "BT-1", false, 2.4, Some(5.0));
    guideline(&c, "P1", 0, Some("MAIN"), 10.0, 20.0, None);
    stock(&c, "P1", "MAIN-A", 6.0, 1.0, 4.0);
    stock(&c, "P1", "MAIN-B", 2.0, 0.0, 0.0);
    stock(&c, "P1", "EAST-A", 30.0, 0.0, 0.0);
    sale(&c, "P1", "2026-12-01", 40.0, 200.0);
    sale(&c, "P1", "2026-11-20", 20.0, 100.0);
    sale(&c, "P1", "2024-12-05", 1.0, 5.0); // 730 days back: outside the two years
    sale(&c, "P1", "2024-12-06", 2.0, 10.0); // 729 days back: inside
    item_row(&c, "P1", 38.0, 37.0, Some(10.0), Some(20.0), 2.0, 1.0);

    product(
        &c,
        "P2",
        "SKU-1000",
        "Red Gadget",
        None,
        "PRODUCT_ACTIVE",
        4.0,
        None,
    );
    stock(&c, "P2", "EAST-A", 3.0, 3.0, 0.0);
    item_row(&c, "P2", 3.0, 0.0, None, None, 0.0, 0.0);

    product(
        &c,
        "P3",
        "SKU-200",
        "Green Widget",
        None,
        "PRODUCT_INACTIVE",
        1.0,
        None,
    );
    item_row(&c, "P3", 0.0, 0.0, None, None, 0.0, 0.0);

    product(
        &c,
        "P4",
        "ABC-1",
        "Steel Bolt",
        None,
        "PRODUCT_ACTIVE",
        0.5,
        Some(7.0),
    );
    link(&c, "P4", 0, "BOLT", "BT-9", true, 0.45, Some(20.0));
    guideline(&c, "P4", 0, None, 50.0, 40.0, None);
    stock(&c, "P4", "MAIN-A", 40.0, 0.0, 0.0);
    item_row(&c, "P4", 40.0, 40.0, Some(50.0), Some(40.0), 4.0, 3.0);

    product(
        &c,
        "P5",
        "XYZ-9",
        "Oak Hinge",
        None,
        "PRODUCT_ACTIVE",
        3.0,
        None,
    );
    stock(&c, "P5", "EAST-A", 12.0, 0.0, 0.0);
    item_row(&c, "P5", 12.0, 12.0, None, None, 0.0, 0.0);
    c
}

/// The SKUs of a page.
pub fn skus(page: &workstation::query::SearchPage) -> Vec<String> {
    page.rows.iter().map(|r| r.sku.clone()).collect()
}

/// A fingerprint of every user table's contents, to prove a store unchanged.
pub fn contents(c: &Connection) -> String {
    let mut out = String::new();
    for t in [
        "products",
        "product_suppliers",
        "reorder_guidelines",
        "stock",
        "inventory_items",
        "facilities",
        "parties",
        "daily_sales",
        "search_docs",
        "query_reorder_levels",
    ] {
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap();
        out.push_str(&format!("{t}={n};"));
    }
    let fts: i64 = c
        .query_row("SELECT count(*) FROM product_search", [], |r| r.get(0))
        .unwrap();
    out.push_str(&format!("fts={fts}"));
    out
}
