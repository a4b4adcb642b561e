//! Query plans on a larger fixture (run by hand: `cargo test -p workstation --test query
//! plans -- --ignored --nocapture`).

use std::time::Instant;

use crate::support::fixture;

#[test]
#[ignore = "prints query plans; run by hand"]
fn print_plans() {
    let n = std::env::var("PLAN_PRODUCTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let c = fixture(n);
    let lead = "coalesce((SELECT ps.lead_time_days FROM product_suppliers ps \
         WHERE ps.product_url = p.url AND ps.lead_time_days IS NOT NULL \
         ORDER BY ps.is_main DESC, ps.seq LIMIT 1), p.lead_time_days, 14.0)";
    let main = "(SELECT x.seq FROM product_suppliers x WHERE x.product_url = ii.finale_id ORDER BY x.is_main DESC, x.seq LIMIT 1)";
    let owned = [
        "SELECT count(*), coalesce(sum(status = 'PRODUCT_INACTIVE'), 0),
                total(max(stock, 0.0) * coalesce(cost, 0.0)) FROM inventory_items".to_owned(),
        format!("SELECT count(*), coalesce(sum(ii.available > 0), 0),
                    coalesce(sum(CASE WHEN ii.available > 0 AND ii.days_of_stock IS NOT NULL
                                      THEN ii.days_of_stock < {lead} ELSE 0 END), 0)
               FROM (SELECT DISTINCT product_url FROM query_reorder_levels
                      WHERE at_reorder = 1) l
               JOIN inventory_items ii ON ii.finale_id = l.product_url
               JOIN products p ON p.url = ii.finale_id
              WHERE coalesce(ii.status, '') <> 'PRODUCT_INACTIVE'"),
        "SELECT count(*) FROM query_reorder_levels WHERE at_reorder = 1".to_owned(),
        format!("SELECT ii.sku FROM (SELECT DISTINCT product_url AS u FROM product_suppliers WHERE supplier_url = '/demo/api/partygroup/S05') m
             CROSS JOIN inventory_items ii ON ii.finale_id = m.u
           CROSS JOIN products p ON p.url = ii.finale_id
           LEFT JOIN product_suppliers ms ON ms.product_url = ii.finale_id AND ms.seq = {main}
           LEFT JOIN parties pa ON pa.url = ms.supplier_url
          WHERE ms.supplier_url = '/demo/api/partygroup/S05' AND coalesce(ii.status, '') <> 'PRODUCT_INACTIVE' AND EXISTS (SELECT 1 FROM query_reorder_levels l WHERE l.product_url = ii.finale_id AND l.at_reorder = 1)
          ORDER BY ii.sku, ii.id LIMIT 51"),
        format!("SELECT ii.sku FROM product_suppliers ms INDEXED BY product_suppliers_supplier_url
                 CROSS JOIN inventory_items ii ON ii.finale_id = ms.product_url
           CROSS JOIN products p ON p.url = ii.finale_id
           LEFT JOIN parties pa ON pa.url = ms.supplier_url
          WHERE ms.supplier_url IS NOT NULL AND ms.seq = {main} AND coalesce(ii.status, '') <> 'PRODUCT_INACTIVE' AND EXISTS (SELECT 1 FROM query_reorder_levels l WHERE l.product_url = ii.finale_id AND l.at_reorder = 1)
          ORDER BY ms.supplier_url, ii.sku, ii.id LIMIT 51"),
        "SELECT ii.sku FROM inventory_items ii CROSS JOIN products p ON p.url = ii.finale_id
          WHERE ((SELECT d.id FROM search_docs d WHERE d.product_url = ii.finale_id)
                  IN (SELECT rowid FROM product_search WHERE product_search MATCH '\"widg\"*')
                 OR (p.sku >= 'widg' COLLATE NOCASE AND p.sku < 'widh' COLLATE NOCASE))
          ORDER BY ii.available DESC, ii.sku DESC, ii.id DESC LIMIT 51".to_owned(),
        "SELECT count(*) FROM product_search WHERE product_search MATCH '\"widg\"*'".to_owned(),
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
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..15 {
            let t = std::time::Instant::now();
            n = c
                .prepare_cached(sql)
                .unwrap()
                .query_map([], |_| Ok(()))
                .unwrap()
                .count();
            times.push(t.elapsed());
        }
        times.sort();
        eprintln!("  -> {n} rows, min {:?}, median {:?}\n", times[0], times[7]);
    }
    let mut times = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        workstation::query::dashboard(&c).unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    eprintln!("dashboard(): min {:?}, median {:?}", times[0], times[7]);
}
