//! Query plans on a larger fixture (run by hand: `cargo test -p workstation --test query
//! plans -- --ignored --nocapture`).

use crate::support::fixture;

#[test]
#[ignore = "prints query plans; run by hand"]
fn print_plans() {
    let c = fixture(20_000);
    let lead = "coalesce((SELECT ps.lead_time_days FROM product_suppliers ps \
         WHERE ps.product_url = p.url AND ps.lead_time_days IS NOT NULL \
         ORDER BY ps.is_main DESC, ps.seq LIMIT 1), p.lead_time_days, 14.0)";
    let owned = [
        "SELECT count(*), coalesce(sum(status = 'PRODUCT_INACTIVE'), 0),
                total(max(stock, 0.0) * coalesce(cost, 0.0)) FROM inventory_items".to_owned(),
        "SELECT count(*) FROM inventory_items ii WHERE ii.available <= 0 AND coalesce(ii.status, '') <> 'PRODUCT_INACTIVE'".to_owned(),
        "SELECT count(*) FROM (SELECT DISTINCT product_url FROM query_reorder_levels WHERE at_reorder = 1) l
           JOIN inventory_items ii ON ii.finale_id = l.product_url
           JOIN products p ON p.url = ii.finale_id WHERE coalesce(ii.status, '') <> 'PRODUCT_INACTIVE'".to_owned(),
        format!("SELECT count(*) FROM (SELECT DISTINCT product_url FROM query_reorder_levels WHERE at_reorder = 1) l
           JOIN inventory_items ii ON ii.finale_id = l.product_url
           JOIN products p ON p.url = ii.finale_id WHERE coalesce(ii.status, '') <> 'PRODUCT_INACTIVE'
           AND ii.available > 0 AND ii.days_of_stock IS NOT NULL AND ii.days_of_stock < {lead}"),
        "SELECT ii.sku FROM inventory_items ii CROSS JOIN products p ON p.url = ii.finale_id
          WHERE ((SELECT d.id FROM search_docs d WHERE d.product_url = ii.finale_id)
                  IN (SELECT rowid FROM product_search WHERE product_search MATCH '\"widg\"*')
                 OR (p.sku >= 'widg' COLLATE NOCASE AND p.sku < 'widh' COLLATE NOCASE))
          ORDER BY ii.available DESC, ii.sku DESC, ii.id DESC LIMIT 51".to_owned(),
        "SELECT ii.sku, coalesce(pa.name, ms.supplier_url, '') FROM inventory_items ii JOIN products p ON p.url = ii.finale_id
           LEFT JOIN product_suppliers ms ON ms.product_url = p.url AND ms.seq = (SELECT x.seq FROM product_suppliers x WHERE x.product_url = p.url ORDER BY x.is_main DESC, x.seq LIMIT 1)
           LEFT JOIN parties pa ON pa.url = ms.supplier_url
          WHERE coalesce(ii.status, '') <> 'PRODUCT_INACTIVE' AND EXISTS (SELECT 1 FROM query_reorder_levels l WHERE l.product_url = ii.finale_id AND l.at_reorder = 1)
          ORDER BY coalesce(pa.name, ms.supplier_url, ''), ii.sku, ii.id LIMIT 51".to_owned(),
    ];
    let sqls: Vec<&str> = owned.iter().map(String::as_str).collect();
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
