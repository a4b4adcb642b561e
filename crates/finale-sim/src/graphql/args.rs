//! Field arguments: paging, sorting and the collection filters.
//!
//! By the time a resolver sees them, arguments are plain JSON ([`Args`]): the executor has
//! already substituted variables and turned enum literals into strings. This module gives
//! them meaning, following finale-api.md §9:
//!
//! * **list filters** (`type`, `status`, `role`, `product`, `transactionType`): OR within the
//!   list, AND across filters; `null` or an empty list means "no filter". A single value is
//!   coerced to a one-element list, as GraphQL input coercion does.
//! * **date ranges** (`orderDate`, `recordDate`): an input object with `begin`/`end` (the form
//!   working clients use, type `dateRangeWithFutureInput`) or `start`/`end` (the form in the
//!   filtering docs), per [`DateKeys`]. Either bound may be missing or null. Dates are
//!   `YYYY-MM-DD` or `M/D/YYYY` calendar days in the **account time zone**; the range covers
//!   whole days, `end` inclusive. A date-time (`2025-03-01T10:00:00`, account-local, or with
//!   `Z`/offset) bounds at that instant instead. `afterInclusive` (default `true`) set to
//!   `false` excludes the `begin` day itself [INFER: the flag is seen in working code but its
//!   meaning is undocumented].
//! * **paging**: `first`/`last` (0..=1000; `first` defaults to 100 when neither is given),
//!   `after`/`before` cursors.
//! * **sort**: `[{field, mode}]`, `mode` `asc` (default) or `desc`; earlier entries win.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value as J;

use super::{DateKeys, GqlError, cursor};

/// Arguments of one field, after variable substitution.
pub(crate) type Args = BTreeMap<String, J>;

/// The default page size when neither `first` nor `last` is given.
pub(crate) const DEFAULT_FIRST: usize = 100;
/// The largest accepted `first`/`last`.
pub(crate) const MAX_FIRST: usize = 1000;

/// A list filter: `None` when absent, null or empty (no filtering).
pub(crate) fn list_filter(args: &Args, name: &str) -> Result<Option<Vec<String>>, GqlError> {
    let values = match args.get(name) {
        None | Some(J::Null) => return Ok(None),
        Some(J::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(single) => vec![single],
    };
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        match v {
            J::String(s) => out.push(s.clone()),
            J::Null => {}
            J::Number(n) => out.push(n.to_string()),
            other => {
                return Err(GqlError::new(format!(
                    "Argument \"{name}\" expects a list of strings, got {other}"
                )));
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// A single-valued string filter (e.g. `productId`): `None` when absent, null or empty.
pub(crate) fn string_filter(args: &Args, name: &str) -> Result<Option<String>, GqlError> {
    match args.get(name) {
        None | Some(J::Null) => Ok(None),
        Some(J::String(s)) if s.is_empty() => Ok(None),
        Some(J::String(s)) => Ok(Some(s.clone())),
        Some(J::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(GqlError::new(format!(
            "Argument \"{name}\" expects a string, got {other}"
        ))),
    }
}

/// A half-open interval of instants `[start, end)`; either side may be open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct DateRange {
    /// Inclusive lower bound.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub end: Option<DateTime<Utc>>,
}

impl DateRange {
    /// Whether the instant `t` lies in the range.
    pub(crate) fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t < e)
    }

    /// Whether the calendar day `d` (in the account zone `tz`) lies in the range: the day's
    /// first instant is what is compared.
    pub(crate) fn contains_day(&self, d: NaiveDate, tz: Tz) -> bool {
        self.contains(local_midnight(d, tz))
    }

    /// Whether the range has no bound at all.
    pub(crate) fn is_open(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }
}

/// A date-range filter; `None` when absent, null, or an object with no bounds.
pub(crate) fn date_range(
    args: &Args,
    name: &str,
    keys: DateKeys,
    tz: Tz,
) -> Result<Option<DateRange>, GqlError> {
    let obj = match args.get(name) {
        None | Some(J::Null) => return Ok(None),
        Some(J::Object(o)) => o,
        Some(other) => {
            return Err(GqlError::new(format!(
                "Argument \"{name}\" expects a date range object, got {other}"
            )));
        }
    };
    let accepted = match keys {
        DateKeys::Both => "{begin, end} or {start, end}",
        DateKeys::BeginEndOnly => "{begin, end}",
        DateKeys::StartEndOnly => "{start, end}",
    };
    for key in obj.keys() {
        let ok = match key.as_str() {
            "end" | "afterInclusive" => true,
            "begin" => keys != DateKeys::StartEndOnly,
            "start" => keys != DateKeys::BeginEndOnly,
            _ => false,
        };
        if !ok {
            return Err(GqlError::new(format!(
                "Argument \"{name}\" has unknown field \"{key}\"; the date range accepts {accepted}"
            )));
        }
    }
    if obj.contains_key("begin") && obj.contains_key("start") {
        return Err(GqlError::new(format!(
            "Argument \"{name}\" gives both \"begin\" and \"start\"; use one"
        )));
    }
    let after_inclusive = match obj.get("afterInclusive") {
        None | Some(J::Null) => true,
        Some(J::Bool(b)) => *b,
        Some(other) => {
            return Err(GqlError::new(format!(
                "Argument \"{name}.afterInclusive\" expects a boolean, got {other}"
            )));
        }
    };
    let lower = obj.get("begin").or_else(|| obj.get("start"));
    let start = match bound(lower, name, tz)? {
        None => None,
        Some(Bound::Day(d)) if after_inclusive => Some(local_midnight(d, tz)),
        Some(Bound::Day(d)) => Some(next_local_midnight(d, tz)),
        Some(Bound::Instant(t)) if after_inclusive => Some(t),
        Some(Bound::Instant(t)) => Some(t + Duration::microseconds(1)),
    };
    let end = match bound(obj.get("end"), name, tz)? {
        None => None,
        Some(Bound::Day(d)) => Some(next_local_midnight(d, tz)),
        Some(Bound::Instant(t)) => Some(t + Duration::microseconds(1)),
    };
    let range = DateRange { start, end };
    Ok(if range.is_open() { None } else { Some(range) })
}

enum Bound {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
}

fn bound(v: Option<&J>, name: &str, tz: Tz) -> Result<Option<Bound>, GqlError> {
    let s = match v {
        None | Some(J::Null) => return Ok(None),
        Some(J::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(J::String(s)) => s.trim(),
        Some(other) => {
            return Err(GqlError::new(format!(
                "Argument \"{name}\" expects dates as strings, got {other}"
            )));
        }
    };
    parse_bound(s, tz).map(Some).ok_or_else(|| {
        GqlError::new(format!(
            "Argument \"{name}\" has an invalid date \"{s}\"; use YYYY-MM-DD or M/D/YYYY"
        ))
    })
}

fn parse_bound(s: &str, tz: Tz) -> Option<Bound> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(Bound::Day(d));
    }
    if let Some(d) = parse_us_date(s) {
        return Some(Bound::Day(d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(Bound::Instant(t.with_timezone(&Utc)));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Bound::Instant(local_instant(naive, tz)));
        }
    }
    None
}

/// `M/D/YYYY` (one- or two-digit month and day, four-digit year).
fn parse_us_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('/');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.is_empty() || d.is_empty() {
        return None;
    }
    if m.len() > 2 || d.len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The first instant of day `d` in `tz` (handles days that start inside a DST gap).
pub(crate) fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    local_instant(d.and_time(chrono::NaiveTime::MIN), tz)
}

fn next_local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    match d.succ_opt() {
        Some(next) => local_midnight(next, tz),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// A wall-clock time in `tz` as an instant: the earlier one when ambiguous, and the first
/// valid instant after a DST gap.
fn local_instant(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let mut probe = naive;
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += Duration::minutes(30);
    }
    naive.and_utc()
}

/// Parsed paging arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Paging {
    /// `first`, if given.
    pub first: Option<usize>,
    /// `last`, if given.
    pub last: Option<usize>,
    /// Offset named by `after`.
    pub after: Option<usize>,
    /// Offset named by `before`.
    pub before: Option<usize>,
}

/// One page: the half-open offset interval `[start, end)` plus the page-info flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// First offset on the page.
    pub start: usize,
    /// One past the last offset on the page.
    pub end: usize,
    /// Whether items exist after the page.
    pub has_next: bool,
    /// Whether items exist before the page.
    pub has_previous: bool,
}

impl Paging {
    /// Parses `first`, `last`, `after`, `before`.
    pub(crate) fn parse(args: &Args) -> Result<Self, GqlError> {
        Ok(Paging {
            first: count(args, "first")?,
            last: count(args, "last")?,
            after: cursor_arg(args, "after")?,
            before: cursor_arg(args, "before")?,
        })
    }

    /// The page of a list of `len` items.
    #[cfg(test)]
    pub(crate) fn window(&self, len: usize) -> Window {
        self.window_with(|n| n.min(len))
    }

    /// The page of a list whose size is only revealed on demand: `available(n)` returns
    /// `min(n, len)`. Forward paging (`first`/`after` only) asks for just one row past the
    /// page, so lazily filtered sources never scan further than needed.
    pub(crate) fn window_with(&self, mut available: impl FnMut(usize) -> usize) -> Window {
        let from = self.after.map_or(0, |a| a.saturating_add(1));
        if self.before.is_none() && self.last.is_none() {
            let first = self.first.unwrap_or(DEFAULT_FIRST);
            let stop = from.saturating_add(first);
            let n = available(stop.saturating_add(1));
            let start = from.min(n);
            let end = stop.min(n).max(start);
            return Window {
                start,
                end,
                has_next: n > end,
                has_previous: start > 0,
            };
        }
        let len = available(usize::MAX);
        let mut start = from.min(len);
        let mut end = self.before.map_or(len, |b| b.min(len)).max(start);
        if let Some(f) = self.first {
            end = end.min(start.saturating_add(f));
        }
        if let Some(l) = self.last {
            start = start.max(end.saturating_sub(l));
        }
        Window {
            start,
            end,
            has_next: end < len,
            has_previous: start > 0,
        }
    }
}

fn count(args: &Args, name: &str) -> Result<Option<usize>, GqlError> {
    match args.get(name) {
        None | Some(J::Null) => Ok(None),
        Some(J::Number(n)) => match n.as_u64() {
            Some(v) if v as usize <= MAX_FIRST => Ok(Some(v as usize)),
            Some(v) => Err(GqlError::new(format!(
                "Argument \"{name}\" is {v}; the maximum page size is {MAX_FIRST}"
            ))),
            None => Err(GqlError::new(format!(
                "Argument \"{name}\" must be a non-negative integer, got {n}"
            ))),
        },
        Some(other) => Err(GqlError::new(format!(
            "Argument \"{name}\" must be an integer, got {other}"
        ))),
    }
}

fn cursor_arg(args: &Args, name: &str) -> Result<Option<usize>, GqlError> {
    match args.get(name) {
        None | Some(J::Null) => Ok(None),
        Some(J::String(s)) => cursor::decode(s).map(Some),
        Some(other) => Err(GqlError::new(format!(
            "Argument \"{name}\" must be a cursor string, got {other}"
        ))),
    }
}

/// One `sort` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SortSpec {
    /// Node field to sort by.
    pub field: String,
    /// Descending when true.
    pub desc: bool,
}

/// Parses `sort` (a list of `{field, mode}` objects, or one object).
pub(crate) fn sort(args: &Args) -> Result<Vec<SortSpec>, GqlError> {
    let entries = match args.get("sort") {
        None | Some(J::Null) => return Ok(Vec::new()),
        Some(J::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(single) => vec![single],
    };
    let mut out = Vec::new();
    for e in entries {
        let Some(obj) = e.as_object() else {
            if e.is_null() {
                continue;
            }
            return Err(GqlError::new(format!(
                "Argument \"sort\" expects objects {{field, mode}}, got {e}"
            )));
        };
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "field" | "mode")) {
            return Err(GqlError::new(format!(
                "Argument \"sort\" has unknown field \"{k}\""
            )));
        }
        let Some(field) = obj.get("field").and_then(J::as_str) else {
            return Err(GqlError::new("Argument \"sort\" needs a \"field\" string"));
        };
        let desc = match obj.get("mode") {
            None | Some(J::Null) => false,
            Some(J::String(m)) if m.eq_ignore_ascii_case("asc") => false,
            Some(J::String(m)) if m.eq_ignore_ascii_case("desc") => true,
            Some(other) => {
                return Err(GqlError::new(format!(
                    "Argument \"sort\" has invalid mode {other}; use \"asc\" or \"desc\""
                )));
            }
        };
        out.push(SortSpec {
            field: field.to_owned(),
            desc,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn args(v: J) -> Args {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    const NY: Tz = chrono_tz::America::New_York;

    #[test]
    fn list_filters() {
        let a = args(
            json!({"type": ["SALES_ORDER", "PURCHASE_ORDER"], "status": [], "role": null,
                            "product": "/acme/api/product/1", "bad": [{"x": 1}]}),
        );
        assert_eq!(
            list_filter(&a, "type").unwrap(),
            Some(vec!["SALES_ORDER".into(), "PURCHASE_ORDER".into()])
        );
        assert_eq!(list_filter(&a, "status").unwrap(), None);
        assert_eq!(list_filter(&a, "role").unwrap(), None);
        assert_eq!(list_filter(&a, "missing").unwrap(), None);
        assert_eq!(
            list_filter(&a, "product").unwrap(),
            Some(vec!["/acme/api/product/1".into()])
        );
        assert!(list_filter(&a, "bad").is_err());
    }

    #[test]
    fn date_range_both_key_forms_are_whole_local_days() {
        let a = args(json!({"d1": {"begin": "2025-03-01", "end": "2025-03-02"},
                            "d2": {"start": "3/1/2025", "end": "3/2/2025"}}));
        let r1 = date_range(&a, "d1", DateKeys::Both, NY).unwrap().unwrap();
        let r2 = date_range(&a, "d2", DateKeys::Both, NY).unwrap().unwrap();
        assert_eq!(r1, r2);
        // New York is UTC-5 in early March.
        assert_eq!(
            r1.start,
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 5, 0, 0).unwrap())
        );
        assert_eq!(
            r1.end,
            Some(Utc.with_ymd_and_hms(2025, 3, 3, 5, 0, 0).unwrap())
        );
        assert!(r1.contains(Utc.with_ymd_and_hms(2025, 3, 3, 4, 59, 59).unwrap()));
        assert!(!r1.contains(Utc.with_ymd_and_hms(2025, 3, 3, 5, 0, 0).unwrap()));
        assert!(!r1.contains(Utc.with_ymd_and_hms(2025, 3, 1, 4, 59, 59).unwrap()));
        assert!(r1.contains_day(NaiveDate::from_ymd_opt(2025, 3, 2).unwrap(), NY));
        assert!(!r1.contains_day(NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(), NY));
    }

    #[test]
    fn date_range_rejected_key_form_names_the_accepted_one() {
        let a = args(json!({"d": {"start": "2025-03-01"}, "e": {"begin": "2025-03-01"}}));
        let err = date_range(&a, "d", DateKeys::BeginEndOnly, NY).unwrap_err();
        assert!(err.message.contains("\"start\"") && err.message.contains("{begin, end}"));
        let err = date_range(&a, "e", DateKeys::StartEndOnly, NY).unwrap_err();
        assert!(err.message.contains("\"begin\"") && err.message.contains("{start, end}"));
        assert!(
            date_range(&a, "d", DateKeys::StartEndOnly, NY)
                .unwrap()
                .is_some()
        );
        assert!(
            date_range(&a, "e", DateKeys::BeginEndOnly, NY)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn date_range_open_bounds_and_hostile_input() {
        let a = args(json!({
            "open": {"begin": null, "end": ""}, "lo": {"begin": "2025-01-31"},
            "bad1": {"begin": "2025-02-30"}, "bad2": {"begin": "31/1/2025"},
            "bad3": {"begin": 20250101}, "bad4": "2025-01-01", "bad5": {"from": "2025-01-01"},
            "both": {"begin": "2025-01-01", "start": "2025-01-01"},
            "excl": {"begin": "2025-01-31", "afterInclusive": false},
            "inst": {"begin": "2025-01-31T10:00:00Z", "end": "2025-01-31T10:00:00"}
        }));
        assert_eq!(date_range(&a, "open", DateKeys::Both, NY).unwrap(), None);
        let lo = date_range(&a, "lo", DateKeys::Both, NY).unwrap().unwrap();
        assert_eq!(lo.end, None);
        for bad in ["bad1", "bad2", "bad3", "bad4", "bad5", "both"] {
            assert!(date_range(&a, bad, DateKeys::Both, NY).is_err(), "{bad}");
        }
        let excl = date_range(&a, "excl", DateKeys::Both, NY).unwrap().unwrap();
        assert_eq!(
            excl.start,
            Some(Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap())
        );
        let inst = date_range(&a, "inst", DateKeys::Both, NY).unwrap().unwrap();
        assert!(inst.contains(Utc.with_ymd_and_hms(2025, 1, 31, 15, 0, 0).unwrap()));
        assert!(!inst.contains(Utc.with_ymd_and_hms(2025, 1, 31, 15, 0, 1).unwrap()));
    }

    #[test]
    fn paging_windows() {
        let p = |v: J| Paging::parse(&args(v)).unwrap();
        let w = p(json!({})).window(250);
        assert_eq!(
            (w.start, w.end, w.has_next, w.has_previous),
            (0, 100, true, false)
        );
        let w = p(json!({"first": 7, "after": cursor::encode(6)})).window(10);
        assert_eq!(
            (w.start, w.end, w.has_next, w.has_previous),
            (7, 10, false, true)
        );
        let w = p(json!({"first": 5, "after": cursor::encode(99)})).window(10);
        assert_eq!((w.start, w.end), (10, 10));
        let w = p(json!({"last": 3, "before": cursor::encode(5)})).window(10);
        assert_eq!(
            (w.start, w.end, w.has_next, w.has_previous),
            (2, 5, true, true)
        );
        let w = p(json!({"first": 0})).window(10);
        assert_eq!((w.start, w.end, w.has_next), (0, 0, true));
        let w = p(json!({"first": 1000})).window(5);
        assert_eq!((w.start, w.end, w.has_next), (0, 5, false));
    }

    #[test]
    fn paging_rejects_bad_values() {
        for bad in [
            json!({"first": 1001}),
            json!({"first": -1}),
            json!({"first": 1.5}),
            json!({"first": "10"}),
            json!({"last": 5000}),
            json!({"after": "garbage"}),
            json!({"after": 5}),
        ] {
            assert!(Paging::parse(&args(bad.clone())).is_err(), "{bad}");
        }
        let err = Paging::parse(&args(json!({"first": 1001}))).unwrap_err();
        assert!(err.message.contains("1000"), "{}", err.message);
    }

    #[test]
    fn sort_specs() {
        let s = sort(&args(
            json!({"sort": [{"field": "orderDate", "mode": "desc"},
                                             {"field": "orderId"}]}),
        ))
        .unwrap();
        assert_eq!(
            s,
            vec![
                SortSpec {
                    field: "orderDate".into(),
                    desc: true
                },
                SortSpec {
                    field: "orderId".into(),
                    desc: false
                }
            ]
        );
        assert_eq!(
            sort(&args(json!({"sort": {"field": "x", "mode": "ASC"}})))
                .unwrap()
                .len(),
            1
        );
        assert!(sort(&args(json!({"sort": [{"field": "x", "mode": "up"}]}))).is_err());
        assert!(sort(&args(json!({"sort": [{"mode": "asc"}]}))).is_err());
        assert!(sort(&args(json!({"sort": ["orderDate"]}))).is_err());
        assert!(sort(&args(json!({"sort": [{"field": "x", "dir": "asc"}]}))).is_err());
    }
}
