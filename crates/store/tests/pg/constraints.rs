//! Garbage is rejected by the schema itself: non-finite or negative numbers where they make no
//! sense, missing keys, wrong hash sizes, impossible run and job states.

use store::StoreError;
use tokio_postgres::Client;

use crate::support::{db, sqlstate};

const CHECK: &str = "23514";
const NOT_NULL: &str = "23502";
const FOREIGN_KEY: &str = "23503";
const UNIQUE: &str = "23505";

const H: &str = "'\\x0101010101010101010101010101010101010101010101010101010101010101'";

async fn rejects(c: &Client, sql: &str, expected: &str) {
    let err = c
        .batch_execute(sql)
        .await
        .expect_err(&format!("accepted garbage: {sql}"));
    assert_eq!(sqlstate(&err), expected, "{sql}: {err:?}");
    // The engine classifies it as data trouble, not connection trouble.
    let wrapped = StoreError::Query {
        what: "test",
        source: err,
    };
    assert!(wrapped.is_constraint_violation(), "{sql}");
    assert!(!wrapped.is_retryable(), "{sql}");
}

async fn accepts(c: &Client, sql: &str) {
    c.batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("rejected valid data: {sql}: {e:?}"));
}

#[tokio::test]
async fn inventory_items_reject_non_finite_and_negative_numbers() {
    let db = db().await;
    let c = db.client();
    for (column, value) in [
        ("stock", "'NaN'"),
        ("stock", "'Infinity'"),
        ("stock", "'-Infinity'"),
        ("reorder_point", "-1"),
        ("reorder_point", "'NaN'"),
        ("reorder_quantity", "-0.5"),
        ("cost", "-0.01"),
        ("cost", "'Infinity'"),
        ("price", "-3"),
        ("sales_velocity", "-1"),
        ("sales_velocity", "'NaN'"),
    ] {
        rejects(
            c,
            &format!(
                "INSERT INTO inventory_items (sku, content_hash, {column}) VALUES ('S', {H}, {value})"
            ),
            CHECK,
        )
        .await;
    }
    // Negative stock is real (overselling); zero everywhere is fine.
    accepts(
        c,
        &format!(
            "INSERT INTO inventory_items (sku, content_hash, stock, reorder_point, cost, price) \
             VALUES ('S', {H}, -4, 0, 0, 0)"
        ),
    )
    .await;
}

#[tokio::test]
async fn missing_or_empty_keys_are_rejected() {
    let db = db().await;
    let c = db.client();
    rejects(
        c,
        &format!("INSERT INTO inventory_items (content_hash) VALUES ({H})"),
        NOT_NULL,
    )
    .await;
    rejects(
        c,
        "INSERT INTO inventory_items (sku) VALUES ('S')",
        NOT_NULL,
    )
    .await;
    rejects(
        c,
        &format!("INSERT INTO inventory_items (sku, content_hash) VALUES ('', {H})"),
        CHECK,
    )
    .await;
    rejects(
        c,
        &format!("INSERT INTO products (sku, content_hash) VALUES ('S', {H})"),
        NOT_NULL,
    )
    .await;
    rejects(
        c,
        &format!("INSERT INTO products (url, content_hash) VALUES ('/a/api/product/1', {H})"),
        NOT_NULL,
    )
    .await;
    rejects(
        c,
        &format!("INSERT INTO products (url, sku, content_hash) VALUES ('', 'S', {H})"),
        CHECK,
    )
    .await;
    rejects(
        c,
        &format!(
            "INSERT INTO orders (url, order_id, content_hash) VALUES ('/a/api/order/1', '1', {H})"
        ),
        NOT_NULL,
    )
    .await;
    rejects(
        c,
        &format!(
            "INSERT INTO stock (facility_url, content_hash) VALUES ('/a/api/facility/1', {H})"
        ),
        NOT_NULL,
    )
    .await;
    rejects(
        c,
        "INSERT INTO daily_sales (product_url, units, revenue) VALUES ('/a/api/product/1', 1, 1)",
        NOT_NULL,
    )
    .await;
    // a product URL is unique across the store, and so is an inventory item's Finale id
    accepts(
        c,
        &format!(
            "INSERT INTO products (url, sku, content_hash) VALUES ('/a/api/product/1', 'S', {H})"
        ),
    )
    .await;
    rejects(
        c,
        &format!(
            "INSERT INTO products (url, sku, content_hash) VALUES ('/a/api/product/1', 'T', {H})"
        ),
        UNIQUE,
    )
    .await;
    accepts(
        c,
        &format!("INSERT INTO inventory_items (sku, finale_id, content_hash) VALUES ('S', '/a/api/product/1', {H})"),
    )
    .await;
    rejects(
        c,
        &format!("INSERT INTO inventory_items (sku, finale_id, content_hash) VALUES ('S', '/a/api/product/1', {H})"),
        UNIQUE,
    )
    .await;
}

#[tokio::test]
async fn content_hashes_must_be_32_bytes() {
    let db = db().await;
    let c = db.client();
    for hash in ["'\\x'", "'\\x01'", &format!("{H} || '\\x00'::bytea")] {
        rejects(
            c,
            &format!(
                "INSERT INTO products (url, sku, content_hash) VALUES ('/a/api/product/1', 'S', {hash})"
            ),
            CHECK,
        )
        .await;
    }
    rejects(
        c,
        "INSERT INTO products (url, sku) VALUES ('/a/api/product/1', 'S')",
        NOT_NULL,
    )
    .await;
}

#[tokio::test]
async fn stock_and_money_columns_reject_garbage() {
    let db = db().await;
    let c = db.client();
    let stock = |col: &str, v: &str| {
        format!(
            "INSERT INTO stock (product_url, facility_url, content_hash, {col}) \
             VALUES ('/a/api/product/1', '/a/api/facility/1', {H}, {v})"
        )
    };
    for (col, v) in [
        ("on_hand", "'NaN'"),
        ("on_hand", "'Infinity'"),
        ("reserved", "-1"),
        ("on_order", "-1"),
        ("on_order", "'NaN'"),
    ] {
        rejects(c, &stock(col, v), CHECK).await;
    }
    accepts(c, &stock("on_hand", "-2")).await;

    accepts(
        c,
        &format!(
            "INSERT INTO products (url, sku, content_hash) VALUES ('/a/api/product/1', 'S', {H})"
        ),
    )
    .await;
    for sql in [
        "INSERT INTO product_suppliers (product_url, seq, price) VALUES ('/a/api/product/1', 0, -1)",
        "INSERT INTO product_suppliers (product_url, seq, price) VALUES ('/a/api/product/1', 0, 'NaN')",
        "INSERT INTO product_suppliers (product_url, seq) VALUES ('/a/api/product/1', -1)",
        "INSERT INTO reorder_guidelines (product_url, seq, reorder_point) VALUES ('/a/api/product/1', 0, -5)",
        "INSERT INTO reorder_guidelines (product_url, seq, reorder_qty) VALUES ('/a/api/product/1', 0, 'Infinity')",
        "UPDATE products SET list_price = -1",
        "UPDATE products SET lead_time_days = 'NaN'",
        "INSERT INTO daily_sales (product_url, day, units, revenue) VALUES ('/a/api/product/1', '2026-01-01', 'NaN', 0)",
    ] {
        rejects(c, sql, CHECK).await;
    }
    // Owned children need their parent.
    rejects(
        c,
        "INSERT INTO product_suppliers (product_url, seq) VALUES ('/a/api/product/none', 0)",
        FOREIGN_KEY,
    )
    .await;
    rejects(
        c,
        "INSERT INTO order_lines (order_url, seq, quantity) VALUES ('/a/api/order/none', 0, 1)",
        FOREIGN_KEY,
    )
    .await;
    // ...but references between collections are deliberately not constrained.
    accepts(
        c,
        &format!(
            "INSERT INTO orders (url, order_id, order_type, party_url, origin_facility_url, content_hash) \
             VALUES ('/a/api/order/1', '1', 'SALES_ORDER', '/a/api/partygroup/unknown', '/a/api/facility/unknown', {H}); \
             INSERT INTO order_lines (order_url, seq, product_url, quantity, unit_price) \
             VALUES ('/a/api/order/1', 0, '/a/api/product/unknown', -1, -2.5)"
        ),
    )
    .await;
    rejects(
        c,
        "INSERT INTO order_lines (order_url, seq, quantity) VALUES ('/a/api/order/1', 1, 'NaN')",
        CHECK,
    )
    .await;
    rejects(
        c,
        "INSERT INTO order_lines (order_url, seq) VALUES ('/a/api/order/1', 2)",
        NOT_NULL,
    )
    .await;
}

#[tokio::test]
async fn facilities_and_parties_reject_impossible_shapes() {
    let db = db().await;
    let c = db.client();
    rejects(
        c,
        &format!(
            "INSERT INTO facilities (url, facility_id, parent_url, content_hash) \
             VALUES ('/a/api/facility/1', '1', '/a/api/facility/1', {H})"
        ),
        CHECK,
    )
    .await;
    // `kind` is derived from parent_url and cannot be written.
    let err = c
        .batch_execute(&format!(
            "INSERT INTO facilities (url, facility_id, kind, content_hash) \
             VALUES ('/a/api/facility/1', '1', 'sublocation', {H})"
        ))
        .await
        .expect_err("kind is generated");
    assert_eq!(sqlstate(&err), "428C9");
    rejects(
        c,
        &format!(
            "INSERT INTO parties (url, party_id, roles, content_hash) \
             VALUES ('/a/api/partygroup/1', '1', ARRAY['SUPPLIER', NULL], {H})"
        ),
        CHECK,
    )
    .await;
    rejects(
        c,
        &format!(
            "INSERT INTO parties (url, party_id, contacts, content_hash) \
             VALUES ('/a/api/partygroup/1', '1', '{{}}', {H})"
        ),
        CHECK,
    )
    .await;
}

#[tokio::test]
async fn sync_runs_reject_impossible_states() {
    let db = db().await;
    let c = db.client();
    for sql in [
        "INSERT INTO sync_runs (strategy, started_at) VALUES ('everything', now())",
        "INSERT INTO sync_runs (strategy, started_at, finished_at, success) \
             VALUES ('full', now(), now() - interval '1 minute', true)",
        "INSERT INTO sync_runs (strategy, started_at, finished_at) VALUES ('full', now(), now())",
        "INSERT INTO sync_runs (strategy, started_at, success) VALUES ('full', now(), false)",
        "INSERT INTO sync_runs (strategy, started_at, items_seen) VALUES ('full', now(), -1)",
        "INSERT INTO sync_runs (strategy, started_at, items_per_sec) VALUES ('full', now(), 'NaN')",
        "INSERT INTO sync_runs (strategy, started_at, network_p95_ms) VALUES ('full', now(), -1)",
        "INSERT INTO sync_runs (strategy, started_at, error_patterns) VALUES ('full', now(), '{}')",
        "INSERT INTO sync_runs (strategy, started_at, requests) VALUES ('full', now(), '[]')",
    ] {
        rejects(c, sql, CHECK).await;
    }
    rejects(
        c,
        "INSERT INTO sync_runs (strategy) VALUES ('full')",
        NOT_NULL,
    )
    .await;
    accepts(
        c,
        "INSERT INTO sync_runs (strategy, started_at, finished_at, success, duration_ms, \
             items_seen, items_changed, items_failed, items_per_sec, error_patterns, requests) \
         VALUES ('smart', now() - interval '5 minutes', now(), true, 300000, 10, 2, 1, 0.03, \
             '[{\"pattern\": \"http 429\", \"count\": 3}]', '{\"get\": 12, \"collection\": 3}')",
    )
    .await;

    rejects(
        c,
        "INSERT INTO sync_errors (collection, reason, at) VALUES ('product', 'bad', now())",
        CHECK,
    )
    .await;
    rejects(
        c,
        "INSERT INTO sync_errors (collection, reason, raw_text, at) VALUES ('product', '', 'x', now())",
        CHECK,
    )
    .await;
    rejects(
        c,
        "INSERT INTO sync_errors (run_id, collection, reason, raw_text, at) \
         VALUES (999999, 'product', 'bad', 'x', now())",
        FOREIGN_KEY,
    )
    .await;
    accepts(
        c,
        "INSERT INTO sync_errors (run_id, collection, record_key, reason, raw_text, at) \
         SELECT id, 'product', NULL, 'productUrl is not a string', '{\"productUrl\": 7', now() \
         FROM sync_runs",
    )
    .await;
}

#[tokio::test]
async fn backfill_jobs_are_unique_and_consistent() {
    let db = db().await;
    let c = db.client();
    let job = "INSERT INTO backfill_jobs (collection, window_start, window_end) \
               VALUES ('order', '2025-01-01T00:00:00Z', '2025-01-31T00:00:00Z')";
    accepts(c, job).await;
    rejects(c, job, UNIQUE).await;
    // planning twice is idempotent with ON CONFLICT DO NOTHING
    let n = c
        .execute(&format!("{job} ON CONFLICT DO NOTHING"), &[])
        .await
        .expect("idempotent plan");
    assert_eq!(n, 0);
    for sql in [
        "INSERT INTO backfill_jobs (collection, window_start, window_end) \
             VALUES ('order', '2025-02-01T00:00:00Z', '2025-02-01T00:00:00Z')",
        "INSERT INTO backfill_jobs (collection, window_start, window_end, status) \
             VALUES ('order', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', 'maybe')",
        "INSERT INTO backfill_jobs (collection, window_start, window_end, status) \
             VALUES ('order', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', 'done')",
        "INSERT INTO backfill_jobs (collection, window_start, window_end, done_at) \
             VALUES ('order', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', now())",
        "INSERT INTO backfill_jobs (collection, window_start, window_end, attempts) \
             VALUES ('order', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', -1)",
        "UPDATE backfill_jobs SET records = -1",
    ] {
        rejects(c, sql, CHECK).await;
    }
    accepts(
        c,
        "UPDATE backfill_jobs SET status = 'done', done_at = now(), records = 120",
    )
    .await;
}
