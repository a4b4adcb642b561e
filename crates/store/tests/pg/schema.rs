//! The shape of the schema: the seed's indexes and function, the seed's column names,
//! generated columns and views.

use crate::support::{db, hash};

#[tokio::test]
async fn the_seeds_three_indexes_exist_with_the_seeds_definitions() {
    let db = db().await;
    let expected = [
        (
            "idx_inventory_sync_priority",
            "CREATE INDEX idx_inventory_sync_priority ON public.inventory_items USING btree \
             (finale_last_sync, stock, sales_velocity) WHERE (stock <= reorder_point)",
        ),
        (
            "idx_inventory_change_detection",
            "CREATE INDEX idx_inventory_change_detection ON public.inventory_items USING btree \
             (finale_id, finale_last_sync, cost, stock)",
        ),
        (
            "idx_inventory_active_sync",
            "CREATE INDEX idx_inventory_active_sync ON public.inventory_items USING btree \
             (finale_id, stock, last_updated) WHERE (finale_id IS NOT NULL)",
        ),
    ];
    for (name, definition) in expected {
        let row = db
            .client()
            .query_opt(
                "SELECT tablename, indexdef FROM pg_indexes WHERE indexname = $1",
                &[&name],
            )
            .await
            .expect("pg_indexes")
            .unwrap_or_else(|| panic!("index {name} missing"));
        let table: String = row.get(0);
        let indexdef: String = row.get(1);
        assert_eq!(table, "inventory_items");
        assert_eq!(indexdef, definition);
    }
}

#[tokio::test]
async fn the_function_has_the_seeds_signature() {
    let db = db().await;
    let row = db
        .client()
        .query_one(
            "SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), l.lanname \
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang \
             WHERE p.proname = 'get_items_needing_sync'",
            &[],
        )
        .await
        .expect("function");
    let args: String = row.get(0);
    let result: String = row.get(1);
    let language: String = row.get(2);
    assert_eq!(
        args,
        "strategy text DEFAULT 'smart'::text, limit_count integer DEFAULT 1000"
    );
    assert_eq!(result, "TABLE(id uuid, sku text, priority integer)");
    assert_eq!(language, "plpgsql");
}

/// The migration carries the seed's function verbatim (checked when the seed is beside the
/// repository, as it is on our machines and in CI).
#[test]
fn the_migration_carries_the_seeds_function_and_indexes_verbatim() {
    let seed_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seed/finale-database-flow.md"
    );
    let Ok(seed) = std::fs::read_to_string(seed_path) else {
        eprintln!("seed not found at {seed_path}; skipping the verbatim check");
        return;
    };
    let migration =
        include_str!("../../../../migrations/postgres/V20261123230000__initial_schema.sql");
    let start = seed
        .find("CREATE OR REPLACE FUNCTION get_items_needing_sync(")
        .expect("seed has the function");
    let end = seed[start..]
        .find("$$ LANGUAGE plpgsql;")
        .expect("seed function ends")
        + start
        + "$$ LANGUAGE plpgsql;".len();
    assert!(
        migration.contains(&seed[start..end]),
        "the function differs from the seed's"
    );
    for name in [
        "idx_inventory_sync_priority",
        "idx_inventory_change_detection",
        "idx_inventory_active_sync",
    ] {
        let from = seed
            .find(&format!("CREATE INDEX CONCURRENTLY {name}"))
            .expect("seed index");
        let to = seed[from..].find(';').expect("index ends") + from + 1;
        let ours = seed[from..to].replacen("CREATE INDEX CONCURRENTLY", "CREATE INDEX", 1);
        assert!(migration.contains(&ours), "{name} differs from the seed's");
    }
}

#[tokio::test]
async fn inventory_items_has_the_seeds_columns() {
    let db = db().await;
    let rows = db
        .client()
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = 'inventory_items' ORDER BY ordinal_position",
            &[],
        )
        .await
        .expect("columns");
    let columns: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected = [
        ("id", "uuid"),
        ("sku", "text"),
        ("finale_id", "text"),
        ("name", "text"),
        ("stock", "double precision"),
        ("reorder_point", "double precision"),
        ("reorder_quantity", "double precision"),
        ("cost", "double precision"),
        ("price", "double precision"),
        ("sales_velocity", "double precision"),
        ("finale_last_sync", "timestamp with time zone"),
        ("last_updated", "timestamp with time zone"),
        ("content_hash", "bytea"),
        ("status", "text"),
        // V20261124010000__engine_columns: the engine's additions, after the seed's columns.
        ("sales_velocity_90d", "double precision"),
        ("days_of_stock", "double precision"),
        // V20261204030000__available_stock: on hand - reserved.
        ("available", "double precision"),
        // V20261205030000__change_feed: the change position of the feed to the mirrors.
        ("change_xid", "xid8"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(columns, expected);

    // id defaults to a fresh UUID.
    let row = db
        .client()
        .query_one(
            "INSERT INTO inventory_items (sku, content_hash) VALUES ('X', $1) RETURNING id",
            &[&hash(1)],
        )
        .await
        .expect("insert with defaults");
    let id: uuid::Uuid = row.get(0);
    assert_eq!(id.get_version_num(), 4);
}

#[tokio::test]
async fn generated_columns_follow_their_sources() {
    let db = db().await;
    let c = db.client();
    c.execute(
        "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, content_hash) \
         VALUES ('/a/api/product/1', '/a/api/facility/11', 10, 3, 7, $1)",
        &[&hash(1)],
    )
    .await
    .expect("stock");
    let available: f64 = c
        .query_one("SELECT available FROM stock", &[])
        .await
        .expect("read")
        .get(0);
    assert_eq!(available, 7.0);
    c.execute("UPDATE stock SET reserved = 12", &[])
        .await
        .expect("update");
    let available: f64 = c
        .query_one("SELECT available FROM stock", &[])
        .await
        .expect("read")
        .get(0);
    assert_eq!(available, -2.0, "oversold: available goes negative");

    let err = c
        .execute("UPDATE stock SET available = 1", &[])
        .await
        .expect_err("generated columns are read-only");
    assert_eq!(crate::support::sqlstate(&err), "428C9");

    c.execute(
        "INSERT INTO facilities (url, facility_id, parent_url, content_hash) VALUES \
         ('/a/api/facility/1', '1', NULL, $1), ('/a/api/facility/11', '11', '/a/api/facility/1', $1)",
        &[&hash(2)],
    )
    .await
    .expect("facilities");
    let kinds: Vec<(String, String)> = c
        .query("SELECT url, kind FROM facilities ORDER BY url", &[])
        .await
        .expect("kinds")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("/a/api/facility/1".to_owned(), "location".to_owned()),
            ("/a/api/facility/11".to_owned(), "sublocation".to_owned()),
        ]
    );
}

#[tokio::test]
async fn stock_rolls_up_from_sublocations_to_locations() {
    let db = db().await;
    let c = db.client();
    c.execute(
        "INSERT INTO facilities (url, facility_id, parent_url, content_hash) VALUES \
         ('/a/api/facility/1', '1', NULL, $1), \
         ('/a/api/facility/11', '11', '/a/api/facility/1', $1), \
         ('/a/api/facility/12', '12', '/a/api/facility/1', $1), \
         ('/a/api/facility/2', '2', NULL, $1), \
         ('/a/api/facility/21', '21', '/a/api/facility/2', $1)",
        &[&hash(1)],
    )
    .await
    .expect("facilities");
    c.execute(
        "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, content_hash) VALUES \
         ('/a/api/product/P', '/a/api/facility/11', 5, 1, 0, $1), \
         ('/a/api/product/P', '/a/api/facility/12', 7, 0, 10, $1), \
         ('/a/api/product/P', '/a/api/facility/21', 1, 2, 0, $1), \
         ('/a/api/product/P', '/a/api/facility/99', 4, 0, 0, $1), \
         ('/a/api/product/Q', '/a/api/facility/11', 3, 0, 0, $1)",
        &[&hash(1)],
    )
    .await
    .expect("stock");
    let rows = c
        .query(
            "SELECT product_url, location_url, on_hand, reserved, on_order, available \
             FROM stock_by_location ORDER BY 1, 2",
            &[],
        )
        .await
        .expect("view");
    let got: Vec<(String, String, f64, f64, f64, f64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let p = "/a/api/product/P".to_owned();
    let q = "/a/api/product/Q".to_owned();
    assert_eq!(
        got,
        vec![
            (
                p.clone(),
                "/a/api/facility/1".to_owned(),
                12.0,
                1.0,
                10.0,
                11.0
            ),
            (
                p.clone(),
                "/a/api/facility/2".to_owned(),
                1.0,
                2.0,
                0.0,
                -1.0
            ),
            // an unknown facility counts as its own location
            (p, "/a/api/facility/99".to_owned(), 4.0, 0.0, 0.0, 4.0),
            (q, "/a/api/facility/1".to_owned(), 3.0, 0.0, 0.0, 3.0),
        ]
    );
}

#[tokio::test]
async fn supplier_and_customer_views_filter_by_role() {
    let db = db().await;
    let c = db.client();
    c.execute(
        "INSERT INTO parties (url, party_id, roles, content_hash) VALUES \
         ('/a/api/partygroup/1', '1', ARRAY['SUPPLIER'], $1), \
         ('/a/api/partygroup/2', '2', ARRAY['CUSTOMER'], $1), \
         ('/a/api/partygroup/3', '3', ARRAY['CUSTOMER','SUPPLIER'], $1), \
         ('/a/api/partygroup/4', '4', '{}', $1)",
        &[&hash(1)],
    )
    .await
    .expect("parties");
    let ids = |sql: &'static str| async move {
        c.query(sql, &[])
            .await
            .expect("view")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids("SELECT party_id FROM suppliers ORDER BY 1").await,
        vec!["1", "3"]
    );
    assert_eq!(
        ids("SELECT party_id FROM customers ORDER BY 1").await,
        vec!["2", "3"]
    );
}

#[tokio::test]
async fn owned_children_go_with_their_parent() {
    let db = db().await;
    let c = db.client();
    c.execute(
        "INSERT INTO products (url, sku, content_hash) VALUES ('/a/api/product/1', 'S1', $1)",
        &[&hash(1)],
    )
    .await
    .expect("product");
    c.batch_execute(
        "INSERT INTO product_suppliers (product_url, seq, supplier_url, is_main) \
             VALUES ('/a/api/product/1', 0, '/a/api/partygroup/9', true); \
         INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point, reorder_qty) \
             VALUES ('/a/api/product/1', 0, '/a/api/facility/1', 5, 20); \
         INSERT INTO orders (url, order_id, order_type, content_hash) \
             VALUES ('/a/api/order/SO-1', 'SO-1', 'SALES_ORDER', '\\x0101010101010101010101010101010101010101010101010101010101010101'); \
         INSERT INTO order_lines (order_url, seq, product_url, quantity, unit_price) \
             VALUES ('/a/api/order/SO-1', 0, '/a/api/product/1', 2, 9.5);",
    )
    .await
    .expect("children");
    c.batch_execute(
        "DELETE FROM products WHERE url = '/a/api/product/1'; \
         DELETE FROM orders WHERE url = '/a/api/order/SO-1';",
    )
    .await
    .expect("delete parents");
    for table in ["product_suppliers", "reorder_guidelines", "order_lines"] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 0, "{table} kept orphans");
    }
}

#[tokio::test]
async fn upsert_by_hash_writes_only_what_changed() {
    // The write pattern the engine uses, proven against the schema.
    let db = db().await;
    let c = db.client();
    let upsert = "INSERT INTO products (url, sku, name, content_hash) VALUES ($1, $2, $3, $4) \
                  ON CONFLICT (url) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name, \
                      content_hash = EXCLUDED.content_hash, updated_at = now() \
                  WHERE products.content_hash IS DISTINCT FROM EXCLUDED.content_hash";
    let url = "/a/api/product/1";
    assert_eq!(
        c.execute(upsert, &[&url, &"S1", &"Widget", &hash(1)])
            .await
            .expect("insert"),
        1
    );
    assert_eq!(
        c.execute(upsert, &[&url, &"S1", &"Widget", &hash(1)])
            .await
            .expect("same"),
        0,
        "unchanged content must not be written"
    );
    assert_eq!(
        c.execute(upsert, &[&url, &"S1", &"Widget 2", &hash(2)])
            .await
            .expect("changed"),
        1
    );
}
