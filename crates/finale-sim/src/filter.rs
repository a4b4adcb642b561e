//! REST collection queries: the `filter` and `limit` parameters (finale-api.md §8).
//!
//! Model:
//! - `filter` is base64 (standard, padded; URL-safe and unpadded are accepted too) of a JSON
//!   object mapping **top-level scalar fields** to inclusive `[lo, hi]` ranges; `null` means
//!   unbounded; several keys are AND-ed. Dates compare as instants (bounds may be date-only,
//!   naive in the account zone, or with `Z`/offset), strings lexicographically, numbers
//!   numerically. Anything malformed is a 400.
//! - `lastUpdatedDate` is special: its lower bound is required, its upper bound defaults to
//!   "now" (or is rejected, per quirk), the range may span at most 30 days, and it is applied
//!   **first**, through the table's time index, after which the result is truncated to the
//!   entity cap **before** the other filters run. A read without a window is truncated to
//!   the cap as well (the whole collection stands in for the window); `inventoryitem`, which
//!   takes no filter at all, is cut at the cap by the server ([`truncate_at_cap`]).
//! - `limit` applies last. There is no offset.
//!
//! [`parse`] turns the raw parameters into a [`Query`] (pure, testable), and [`run`] applies a
//! query to a [`Table`] and returns row indexes in the collection's natural order.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use crate::model::{Record, Table};
use crate::render::{Kind, Render, Scalar};

/// Why a query was rejected (all map to HTTP 400).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// The `filter` parameter is not base64.
    #[error("filter is not valid base64")]
    Base64,
    /// The decoded filter is not a JSON object of two-element arrays.
    #[error("filter is not a JSON object of [lower, upper] ranges: {0}")]
    Shape(String),
    /// The field is not a filterable top-level scalar of this collection.
    #[error("cannot filter on field {0:?}")]
    Field(String),
    /// A bound does not fit the field's type.
    #[error("invalid bound {bound} for field {field:?}")]
    Bound {
        /// Field name.
        field: String,
        /// The offending bound, as JSON.
        bound: String,
    },
    /// `lastUpdatedDate` without a lower bound.
    #[error("lastUpdatedDate filter requires a lower bound")]
    MissingLowerBound,
    /// `lastUpdatedDate` without an upper bound while the quirk rejects it.
    #[error("lastUpdatedDate filter requires an upper bound")]
    MissingUpperBound,
    /// `lastUpdatedDate` range longer than 30 days.
    #[error("lastUpdatedDate range may not exceed 30 days")]
    RangeTooWide,
    /// `limit` is not a non-negative integer.
    #[error("limit must be a non-negative integer")]
    Limit,
}

/// A typed bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// String bound.
    Str(String),
    /// Numeric bound.
    Num(f64),
    /// Instant bound.
    Date(DateTime<Utc>),
    /// Boolean bound.
    Bool(bool),
}

/// One inclusive range condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// Field name.
    pub field: String,
    /// Lower bound (`None` = unbounded).
    pub lo: Option<Bound>,
    /// Upper bound (`None` = unbounded).
    pub hi: Option<Bound>,
}

/// A parsed collection query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The `lastUpdatedDate` window, applied first.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The other conditions.
    pub conds: Vec<Cond>,
    /// `limit`.
    pub limit: Option<usize>,
}

/// Parses a date bound: `2025-01-01`, `2025-01-01T10:00:00[.mmm]` (naive, account zone),
/// or RFC 3339 with `Z`/offset.
pub fn parse_date(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

fn decode_base64(s: &str) -> Result<Vec<u8>, FilterError> {
    // A '+' that reached us unencoded in a query string arrives as ' '.
    let s: String = s
        .trim()
        .chars()
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(&s) {
            return Ok(bytes);
        }
    }
    Err(FilterError::Base64)
}

fn bound(
    field: &str,
    kind: Kind,
    v: &Value,
    tz: chrono_tz::Tz,
) -> Result<Option<Bound>, FilterError> {
    let bad = || FilterError::Bound {
        field: field.to_owned(),
        bound: v.to_string(),
    };
    Ok(Some(match (kind, v) {
        (_, Value::Null) => return Ok(None),
        (Kind::Str, Value::String(s)) => Bound::Str(s.clone()),
        (Kind::Str, Value::Number(n)) => Bound::Str(n.to_string()),
        (Kind::Num, Value::Number(n)) => Bound::Num(n.as_f64().ok_or_else(bad)?),
        (Kind::Num, Value::String(s)) => Bound::Num(s.trim().parse().map_err(|_| bad())?),
        (Kind::Date, Value::String(s)) => Bound::Date(parse_date(s, tz).ok_or_else(bad)?),
        (Kind::Bool, Value::Bool(b)) => Bound::Bool(*b),
        (Kind::Bool, Value::String(s)) if s == "true" || s == "false" => Bound::Bool(s == "true"),
        _ => return Err(bad()),
    }))
}

/// Parses `filter` and `limit` for a collection of `T`. `now` closes an open
/// `lastUpdatedDate` upper bound unless `reject_open_upper` is set.
pub fn parse<T: Render>(
    filter: Option<&str>,
    limit: Option<&str>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    reject_open_upper: bool,
) -> Result<Query, FilterError> {
    let mut q = Query::default();
    if let Some(l) = limit {
        q.limit = Some(l.trim().parse().map_err(|_| FilterError::Limit)?);
    }
    let Some(f) = filter else { return Ok(q) };
    let bytes = decode_base64(f)?;
    let json: Value =
        serde_json::from_slice(&bytes).map_err(|e| FilterError::Shape(e.to_string()))?;
    let Value::Object(map) = json else {
        return Err(FilterError::Shape("not an object".into()));
    };
    for (field, range) in &map {
        let Some([lo, hi]) = range
            .as_array()
            .and_then(|a| <&[Value; 2]>::try_from(a.as_slice()).ok())
        else {
            return Err(FilterError::Shape(format!(
                "{field}: expected [lower, upper]"
            )));
        };
        let kind = T::kind(field).ok_or_else(|| FilterError::Field(field.clone()))?;
        let lo = bound(field, kind, lo, tz)?;
        let hi = bound(field, kind, hi, tz)?;
        if field == "lastUpdatedDate" {
            let Some(Bound::Date(lo)) = lo else {
                return Err(FilterError::MissingLowerBound);
            };
            let hi = match hi {
                Some(Bound::Date(h)) => h,
                _ if reject_open_upper => return Err(FilterError::MissingUpperBound),
                _ => now,
            };
            if hi - lo > Duration::days(30) {
                return Err(FilterError::RangeTooWide);
            }
            q.window = Some((lo, hi));
        } else {
            q.conds.push(Cond {
                field: field.clone(),
                lo,
                hi,
            });
        }
    }
    Ok(q)
}

fn cmp(v: &Scalar<'_>, b: &Bound) -> Option<std::cmp::Ordering> {
    match (v, b) {
        (Scalar::Str(s), Bound::Str(b)) => Some((*s).cmp(b.as_str())),
        (Scalar::Num(n), Bound::Num(b)) => n.partial_cmp(b),
        (Scalar::Date(d), Bound::Date(b)) => Some(d.cmp(b)),
        (Scalar::Bool(x), Bound::Bool(b)) => Some(x.cmp(b)),
        _ => None,
    }
}

/// Whether `row` satisfies every condition.
pub fn matches<T: Render>(row: &T, conds: &[Cond]) -> bool {
    conds.iter().all(|c| {
        let Some(v) = row.scalar(&c.field) else {
            return false;
        };
        if v == Scalar::Null {
            return c.lo.is_none() && c.hi.is_none();
        }
        let lo_ok =
            c.lo.as_ref()
                .is_none_or(|b| cmp(&v, b).is_some_and(|o| o.is_ge()));
        let hi_ok =
            c.hi.as_ref()
                .is_none_or(|b| cmp(&v, b).is_some_and(|o| o.is_le()));
        lo_ok && hi_ok
    })
}

/// Runs `q` on `table`: window first, then `cap`, then conditions, then `limit`.
/// Returns row indexes in natural order (oldest `lastUpdatedDate` first).
///
/// The cap applies to unfiltered reads too (finale-api.md §8.2: collections larger than the
/// cap are silently truncated, and unfiltered reads of them are "not accurate"): a read
/// without a `lastUpdatedDate` window sees only the first `cap` records of the collection.
pub fn run<T: Render + Record>(table: &Table<T>, q: &Query, cap: usize) -> Vec<usize> {
    let candidates: &[usize] = match q.window {
        Some((lo, hi)) => table.updated_between(lo, hi),
        None => table.natural_order(),
    };
    let candidates = &candidates[..candidates.len().min(cap)];
    let limit = q.limit.unwrap_or(usize::MAX);
    candidates
        .iter()
        .copied()
        .filter(|&i| table.get(i).is_some_and(|r| matches(r, &q.conds)))
        .take(limit)
        .collect()
}

/// The first `cap` rows of an unfilterable collection (`inventoryitem`): Finale truncates it
/// silently like any other collection larger than the cap.
pub fn truncate_at_cap<T>(rows: &[T], cap: usize) -> &[T] {
    &rows[..rows.len().min(cap)]
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::config::Size;
    use crate::generate::generate;
    use crate::model::{Order, Product};

    fn b64(v: Value) -> String {
        STANDARD.encode(v.to_string())
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
    }

    fn p<T: Render>(f: Value) -> Result<Query, FilterError> {
        parse::<T>(Some(&b64(f)), None, chrono_tz::UTC, now(), false)
    }

    #[test]
    fn dates_parse_in_all_accepted_forms() {
        let tz = chrono_tz::America::Chicago;
        let want = Utc.with_ymd_and_hms(2025, 1, 1, 6, 0, 0).unwrap();
        assert_eq!(parse_date("2025-01-01", tz), Some(want));
        assert_eq!(parse_date("2025-01-01T00:00:00", tz), Some(want));
        assert_eq!(parse_date("2025-01-01T00:00:00.000", tz), Some(want));
        assert_eq!(parse_date("2025-01-01T06:00:00Z", tz), Some(want));
        assert_eq!(parse_date("2025-01-01T01:00:00-05:00", tz), Some(want));
        assert_eq!(parse_date("01/01/2025", tz), None);
        assert_eq!(parse_date("not-a-date", tz), None);
    }

    #[test]
    fn hostile_filters_are_400s() {
        assert_eq!(
            parse::<Order>(Some("%%%"), None, chrono_tz::UTC, now(), false),
            Err(FilterError::Base64)
        );
        let not_json = STANDARD.encode("{nope");
        assert!(matches!(
            parse::<Order>(Some(&not_json), None, chrono_tz::UTC, now(), false),
            Err(FilterError::Shape(_))
        ));
        assert!(matches!(
            p::<Order>(json!([1, 2])),
            Err(FilterError::Shape(_))
        ));
        assert!(matches!(
            p::<Order>(json!({"statusId": "ORDER_LOCKED"})),
            Err(FilterError::Shape(_))
        ));
        assert!(matches!(
            p::<Order>(json!({"statusId": ["A", "B", "C"]})),
            Err(FilterError::Shape(_))
        ));
        assert!(matches!(
            p::<Order>(json!({"orderItemList": [null, null]})),
            Err(FilterError::Field(_))
        ));
        assert!(matches!(
            p::<Order>(json!({"nope": [null, null]})),
            Err(FilterError::Field(_))
        ));
        assert!(matches!(
            p::<Order>(json!({"orderDate": ["yesterday", null]})),
            Err(FilterError::Bound { .. })
        ));
        assert!(matches!(
            p::<Product>(json!({"cost": [{}, null]})),
            Err(FilterError::Bound { .. })
        ));
        assert_eq!(
            parse::<Order>(None, Some("ten"), chrono_tz::UTC, now(), false),
            Err(FilterError::Limit)
        );
        assert_eq!(
            parse::<Order>(None, Some("-1"), chrono_tz::UTC, now(), false),
            Err(FilterError::Limit)
        );
    }

    #[test]
    fn last_updated_rules() {
        assert_eq!(
            p::<Order>(json!({"lastUpdatedDate": [null, "2025-05-01"]})),
            Err(FilterError::MissingLowerBound)
        );
        assert_eq!(
            p::<Order>(json!({"lastUpdatedDate": ["2025-01-01", "2025-02-01"]})),
            Err(FilterError::RangeTooWide)
        );
        let ok = p::<Order>(json!({"lastUpdatedDate": ["2025-01-01", "2025-01-31"]})).unwrap();
        assert!(ok.window.is_some());
        let open = p::<Order>(json!({"lastUpdatedDate": ["2025-05-10T00:00:00Z", null]})).unwrap();
        assert_eq!(open.window.unwrap().1, now());
        assert_eq!(
            p::<Order>(json!({"lastUpdatedDate": ["2025-04-01", null]})),
            Err(FilterError::RangeTooWide),
            "open upper bound = now, 61 days"
        );
        let f = b64(json!({"lastUpdatedDate": ["2025-05-10", null]}));
        assert_eq!(
            parse::<Order>(Some(&f), None, chrono_tz::UTC, now(), true),
            Err(FilterError::MissingUpperBound)
        );
    }

    #[test]
    fn base64_variants_are_accepted() {
        let raw = json!({"statusId": ["ORDER_LOCKED", "ORDER_LOCKED"], "x": null}).to_string();
        let raw = raw.replace(",\"x\":null", "");
        for enc in [
            STANDARD.encode(&raw),
            STANDARD_NO_PAD.encode(&raw),
            URL_SAFE.encode(&raw),
            URL_SAFE_NO_PAD.encode(&raw),
        ] {
            let q = parse::<Order>(Some(&enc), None, chrono_tz::UTC, now(), false).unwrap();
            assert_eq!(q.conds.len(), 1);
        }
    }

    #[test]
    fn window_then_cap_then_filters_then_limit() {
        let d = generate("acme", 9, Size::Small, now());
        let lo = now() - Duration::days(30);
        let window: Vec<usize> = d.orders.updated_between(lo, now()).to_vec();
        assert!(window.len() > 10);
        let base = Query {
            window: Some((lo, now())),
            ..Default::default()
        };
        assert_eq!(run(&d.orders, &base, usize::MAX), window);
        // cap before other filters: only sales orders among the first 10 of the window
        let sales = Cond {
            field: "orderTypeId".into(),
            lo: Some(Bound::Str("SALES_ORDER".into())),
            hi: Some(Bound::Str("SALES_ORDER".into())),
        };
        let q = Query {
            conds: vec![sales.clone()],
            ..base.clone()
        };
        let capped = run(&d.orders, &q, 10);
        let want: Vec<usize> = window[..10]
            .iter()
            .copied()
            .filter(|&i| d.orders.rows()[i].is_sales())
            .collect();
        assert_eq!(capped, want);
        // limit after filters
        let q = Query {
            conds: vec![sales],
            limit: Some(3),
            ..base
        };
        let limited = run(&d.orders, &q, usize::MAX);
        assert_eq!(limited.len(), 3);
        assert!(limited.iter().all(|&i| d.orders.rows()[i].is_sales()));
    }

    #[test]
    fn unfiltered_reads_are_cut_at_the_cap_before_filters() {
        let d = generate("acme", 9, Size::Small, now());
        let all = run(&d.products, &Query::default(), usize::MAX);
        assert_eq!(all.len(), d.products.len());
        let capped = run(&d.products, &Query::default(), 25);
        assert_eq!(capped, all[..25].to_vec(), "the first 25 in natural order");
        let q = Query {
            limit: Some(100),
            ..Query::default()
        };
        assert_eq!(
            run(&d.products, &q, 25).len(),
            25,
            "limit cannot lift the cap"
        );
        assert_eq!(truncate_at_cap(&d.inventory_items, 7).len(), 7);
        assert_eq!(
            truncate_at_cap(&d.inventory_items, usize::MAX).len(),
            d.inventory_items.len()
        );
    }

    #[test]
    fn numeric_string_and_null_comparisons() {
        let d = generate("acme", 9, Size::Small, now());
        let q = p::<Product>(json!({"cost": [10, "20.5"]})).unwrap();
        let got = run(&d.products, &q, usize::MAX);
        assert!(!got.is_empty());
        for i in &got {
            let c = d.products.rows()[*i].cost.unwrap();
            assert!((10.0..=20.5).contains(&c), "{c}");
        }
        let q = p::<Order>(json!({"referenceNumber": [null, null]})).unwrap();
        assert_eq!(run(&d.orders, &q, usize::MAX).len(), d.orders.len());
        let q = p::<Order>(json!({"referenceNumber": ["", null]})).unwrap();
        let with_ref = run(&d.orders, &q, usize::MAX);
        assert!(
            with_ref.len() < d.orders.len(),
            "nulls do not match a bounded range"
        );
    }
}
