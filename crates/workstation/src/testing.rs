//! Test support (feature `testing`): an independent, table-by-table comparison of a local
//! store with the shared store it mirrors, for the mirror's own tests and the end-to-end
//! suites.
//!
//! It reads the store with `to_jsonb` and the cache with plain `SELECT *`, and compares
//! every column a user sees by meaning (a timestamp against its milliseconds, a boolean
//! against 0/1, a JSON array against its text), not by reusing the mirror's own casts: a
//! mistake in those would otherwise agree with itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;

use rusqlite::types::Value as Local;
use serde_json::Value as Json;

/// Columns that are bookkeeping, not content: the feed does not ship changes of these alone,
/// so the cache may hold an older value.
pub const BOOKKEEPING: [&str; 6] = [
    "change_xid",
    "content_hash",
    "updated_at",
    "first_seen_at",
    "finale_last_sync",
    "last_updated",
];

pub const TABLES: [&str; 12] = [
    "facilities",
    "parties",
    "products",
    "product_suppliers",
    "reorder_guidelines",
    "stock",
    "inventory_items",
    "orders",
    "order_lines",
    "daily_sales",
    "sync_runs",
    "sync_errors",
];

/// Every difference between the store and the cache, one line each (empty: they agree).
pub async fn differences(
    client: &tokio_postgres::Client,
    local: &rusqlite::Connection,
) -> Vec<String> {
    let mut out = Vec::new();
    for table in TABLES {
        let theirs = store_rows(client, table).await;
        let ours = cache_rows(local, table);
        if theirs.len() != ours.len() {
            out.push(format!(
                "{table}: the store has {} rows, the cache {}",
                theirs.len(),
                ours.len()
            ));
        }
        for (key, row) in &theirs {
            let Some(mine) = ours.get(key) else {
                out.push(format!("{table}: row {key} is missing from the cache"));
                continue;
            };
            for (col, v) in row {
                match mine.get(col) {
                    None => out.push(format!("{table}.{col}: no such column in the cache")),
                    Some(l) if !same(v, l) => out.push(format!(
                        "{table} {key}: column {col} is {v} in the store but {l:?} in the cache"
                    )),
                    Some(_) => {}
                }
            }
        }
        for key in ours.keys().filter(|k| !theirs.contains_key(*k)) {
            out.push(format!("{table}: row {key} is in the cache only"));
        }
    }
    out
}

/// A table of the store, keyed by primary key, visible columns as JSON.
async fn store_rows(
    client: &tokio_postgres::Client,
    table: &str,
) -> BTreeMap<String, BTreeMap<String, Json>> {
    let keys = store::pg::feed::key_columns(table).unwrap_or(&[]);
    let rows = client
        .query(&format!("SELECT to_jsonb(t) FROM {table} t"), &[])
        .await
        .expect("read the store");
    rows.iter()
        .map(|r| {
            let Json::Object(map) = r.get::<_, Json>(0) else {
                panic!("to_jsonb gives objects")
            };
            let key = keys
                .iter()
                .map(|k| json_key(&map[*k]))
                .collect::<Vec<_>>()
                .join("|");
            let visible = map
                .into_iter()
                .filter(|(c, _)| !BOOKKEEPING.contains(&c.as_str()))
                // Generated in both stores, from the same inputs.
                .filter(|(c, _)| c != "kind" && c != "available" || table == "inventory_items")
                .collect();
            (key, visible)
        })
        .collect()
}

fn json_key(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A table of the cache, keyed by primary key.
fn cache_rows(
    conn: &rusqlite::Connection,
    table: &str,
) -> BTreeMap<String, BTreeMap<String, Local>> {
    let keys = store::pg::feed::key_columns(table).unwrap_or(&[]);
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table}"))
        .expect("read the cache");
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let rows = stmt
        .query_map([], |r| {
            let mut m = BTreeMap::new();
            for (i, n) in names.iter().enumerate() {
                m.insert(n.clone(), r.get::<_, Local>(i)?);
            }
            Ok(m)
        })
        .expect("read the cache");
    rows.map(|r| {
        let r = r.expect("a row");
        let key = keys
            .iter()
            .map(|k| match &r[*k] {
                Local::Text(s) => s.clone(),
                Local::Integer(i) => i.to_string(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join("|");
        (key, r)
    })
    .collect()
}

/// Whether a store value (JSON) and a cache value mean the same.
fn same(v: &Json, l: &Local) -> bool {
    match (v, l) {
        (Json::Null, Local::Null) => true,
        (Json::Bool(b), Local::Integer(i)) => i64::from(*b) == *i,
        (Json::Number(n), Local::Integer(i)) => n.as_f64() == Some(*i as f64),
        // `to_jsonb` turns a double into a JSON number through `numeric`, which keeps 15
        // significant digits: equal to that precision is equal.
        (Json::Number(n), Local::Real(r)) => n
            .as_f64()
            .is_some_and(|x| x == *r || (x - r).abs() <= 1e-12 * x.abs().max(r.abs())),
        (Json::String(s), Local::Integer(ms)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis() == *ms)
            .unwrap_or(false),
        (Json::String(s), Local::Text(t)) => s == t,
        (Json::String(s), Local::Blob(b)) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            *s == format!("\\x{hex}")
        }
        (Json::Array(_) | Json::Object(_), Local::Text(t)) => {
            serde_json::from_str::<Json>(t).is_ok_and(|parsed| &parsed == v)
        }
        _ => false,
    }
}
