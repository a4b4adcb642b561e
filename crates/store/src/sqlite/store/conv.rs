//! Conversions between the row model and SQLite values, shared by the store's parts.

use std::collections::HashMap;
use std::hash::Hash as StdHash;

use chrono::{DateTime, NaiveDate, Utc};

use crate::Scope;
use crate::StoreError;
use crate::sqlite::from_millis;

/// A stored timestamp.
pub fn time(v: Option<i64>, what: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    v.map(|v| {
        from_millis(v).ok_or_else(|| StoreError::Corrupt {
            what: format!("{what} is not a timestamp: {v}"),
        })
    })
    .transpose()
}

/// A stored NOT NULL timestamp.
pub fn time_req(v: i64, what: &str) -> Result<DateTime<Utc>, StoreError> {
    from_millis(v).ok_or_else(|| StoreError::Corrupt {
        what: format!("{what} is not a timestamp: {v}"),
    })
}

/// A stored `YYYY-MM-DD` day.
pub fn day(v: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| StoreError::Corrupt {
        what: format!("daily_sales.day is not a date: {v:?}"),
    })
}

/// A day as stored.
pub fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A JSON column's value.
pub fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

/// A stored JSON value.
pub fn json(v: &str, what: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(v).map_err(|e| StoreError::Corrupt {
        what: format!("{what} is not JSON: {e}"),
    })
}

/// A count as SQLite's `INTEGER`, saturating (counts never come near it).
pub fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count, negative ones as 0 (the schema CHECKs them non-negative).
pub fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `sql` with `AND <col> IN (the scope)` appended after its `WHERE` clause (marked
/// `/*scope*/`), or nothing for [`Scope::All`]. The list travels as one JSON parameter
/// (`?9`), read with `json_each`, so the statement text does not depend on its length.
pub fn scoped(sql: &str, col: &str, scope: &Scope) -> String {
    let filter = match scope {
        Scope::All => String::new(),
        Scope::Products(_) => format!(" AND {col} IN (SELECT value FROM json_each(?9))"),
    };
    sql.replace("/*scope*/", &filter)
}

/// The JSON array bound as `?9` by [`scoped`] statements (`None` for [`Scope::All`], where
/// the statement does not mention `?9`).
pub fn scope_param(scope: &Scope) -> Option<String> {
    match scope {
        Scope::All => None,
        Scope::Products(list) => Some(serde_json::Value::from(list.clone()).to_string()),
    }
}

/// The last occurrence of every key, in the order of those last occurrences.
pub fn last_by_key<'a, T, K: Eq + StdHash>(rows: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut last: HashMap<K, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(key(r), i);
    }
    rows.iter()
        .enumerate()
        .filter(|(i, r)| last.get(&key(r)) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// Refuses a non-finite number before it reaches SQLite (which would store NaN as NULL).
pub fn finite(v: Option<f64>, what: &dyn Fn() -> String) -> Result<(), StoreError> {
    match v {
        Some(x) if !x.is_finite() => Err(StoreError::Corrupt {
            what: format!("refusing to store {x} in {}", what()),
        }),
        _ => Ok(()),
    }
}

/// A non-finite metric becomes NULL (telemetry: losing a NaN latency beats failing a run).
pub fn metric(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
}
