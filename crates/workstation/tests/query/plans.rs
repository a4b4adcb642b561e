//! Query plans on a larger fixture (run by hand: `cargo test -p workstation --test query
//! plans -- --ignored --nocapture`).

use crate::support::fixture;

#[test]
#[ignore = "prints query plans; run by hand"]
fn print_plans() {
    let c = fixture(20_000);
    let sqls = [
        "SELECT ii.sku FROM inventory_items ii JOIN products p ON p.url = ii.finale_id
          WHERE EXISTS (SELECT 1 FROM product_suppliers ps WHERE ps.product_url = ii.finale_id AND ps.supplier_url = '/demo/api/partygroup/S05')
          ORDER BY ii.sku, ii.id LIMIT 51",
        "SELECT ii.sku FROM inventory_items ii JOIN products p ON p.url = ii.finale_id
          WHERE (ii.finale_id IN (SELECT d.product_url FROM product_search fs JOIN search_docs d ON d.id = fs.rowid WHERE product_search MATCH '\"widg\"*')
                 OR (p.sku >= 'widg' COLLATE NOCASE AND p.sku < 'widh' COLLATE NOCASE))
          ORDER BY ii.available DESC, ii.sku DESC, ii.id DESC LIMIT 51",
    ];
    for sql in sqls {
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        eprintln!("{sql}\n  {}\n", rows.join("\n  "));
        let t = std::time::Instant::now();
        let n = c
            .prepare(sql)
            .unwrap()
            .query_map([], |_| Ok(()))
            .unwrap()
            .count();
        eprintln!("  -> {n} rows in {:?}\n", t.elapsed());
    }
}
