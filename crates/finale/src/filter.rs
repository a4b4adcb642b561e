//! REST filters, `lastUpdatedDate` windows, and the pure planning behind windowed reads.
//!
//! # Filters (finale-api.md §8.1)
//!
//! Finale ignores plain query parameters; the only way to narrow a collection read is
//! `?filter=` + standard padded base64 of a JSON object whose keys are top-level scalar
//! fields and whose values are `[lower, upper]` ranges, both **inclusive** (`null` =
//! unbounded; equality = the same value twice; several keys are AND-ed). [`Filter`] builds
//! that object; [`Filter::encode`] gives the base64 text (the executor URL-encodes it).
//!
//! # Windows (§8.2)
//!
//! Incremental reads use a `lastUpdatedDate` range: at most 30 days wide, lower bound
//! required, and (because one connector saw open upper bounds rejected) we ALWAYS send both
//! bounds. A [`Window`] is such an inclusive range. Bounds are sent as whole UTC seconds
//! with `Z` (`2025-03-01T00:00:00Z`), rounded down: Finale's timestamps have one-second
//! resolution, and rounding both bounds the same way never widens a window.
//!
//! # Planning
//!
//! * [`plan_windows`] covers `[since, until]` with contiguous windows no longer than the
//!   maximum; adjacent windows share their boundary instant (inclusive bounds), so a record
//!   stamped exactly on a boundary is read twice and [`dedupe_newest`] removes the double.
//! * A window whose read returns `>= cap` records (Finale silently truncates at 120,000)
//!   or exactly `limit` records may be incomplete: [`needs_split`] says so and
//!   [`Window::halves`] splits it into two halves that are re-read (recursively, by the
//!   client). A window that cannot be split further and is still full is an error.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};
use serde_json::{Map, Value};

use crate::decode::FinaleRecord;

/// The field Finale indexes for incremental reads.
pub const LAST_UPDATED: &str = "lastUpdatedDate";

/// A value usable as a filter bound.
pub trait FilterValue {
    /// The JSON form sent to Finale.
    fn to_filter_json(self) -> Value;
}

impl FilterValue for &str {
    fn to_filter_json(self) -> Value {
        Value::String(self.to_owned())
    }
}
impl FilterValue for String {
    fn to_filter_json(self) -> Value {
        Value::String(self)
    }
}
impl FilterValue for &String {
    fn to_filter_json(self) -> Value {
        Value::String(self.clone())
    }
}
impl FilterValue for i64 {
    fn to_filter_json(self) -> Value {
        Value::from(self)
    }
}
impl FilterValue for f64 {
    fn to_filter_json(self) -> Value {
        Value::from(self)
    }
}
impl FilterValue for DateTime<Utc> {
    fn to_filter_json(self) -> Value {
        Value::String(format_bound(self))
    }
}
impl<T: FilterValue> FilterValue for Option<T> {
    fn to_filter_json(self) -> Value {
        self.map_or(Value::Null, FilterValue::to_filter_json)
    }
}

/// Format an instant as a filter bound: whole seconds (rounded down), UTC, `Z`.
pub fn format_bound(t: DateTime<Utc>) -> String {
    floor_second(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

/// A `filter` query value: inclusive ranges per field, AND-ed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    ranges: Map<String, Value>,
}

/// A `filter` text that is not valid base64 of a JSON object of two-element arrays.
#[derive(Debug, thiserror::Error)]
#[error("invalid filter: {0}")]
pub struct FilterDecodeError(String);

impl Filter {
    /// An empty filter (matches everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the inclusive range `[lo, hi]` on `field` (replacing an earlier one).
    pub fn range(
        mut self,
        field: impl Into<String>,
        lo: impl FilterValue,
        hi: impl FilterValue,
    ) -> Self {
        self.ranges.insert(
            field.into(),
            Value::Array(vec![lo.to_filter_json(), hi.to_filter_json()]),
        );
        self
    }

    /// Adds an equality test, expressed as Finale does: the range `[v, v]`. Ranges are
    /// ranges: callers should re-check equality client-side (neighbours may match).
    pub fn eq(self, field: impl Into<String>, v: impl FilterValue + Clone) -> Self {
        self.range(field, v.clone(), v)
    }

    /// Whether no range is set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The range set on `field`, as `(lo, hi)` JSON values.
    pub fn get(&self, field: &str) -> Option<(&Value, &Value)> {
        match self.ranges.get(field)? {
            Value::Array(a) if a.len() == 2 => Some((&a[0], &a[1])),
            _ => None,
        }
    }

    /// The JSON object text, e.g. `{"lastUpdatedDate":["2025-03-01T00:00:00Z",...]}`.
    pub fn to_json(&self) -> String {
        Value::Object(self.ranges.clone()).to_string()
    }

    /// Standard padded base64 of [`Filter::to_json`] (URL-encode it in the query).
    pub fn encode(&self) -> String {
        STANDARD.encode(self.to_json())
    }

    /// Parse an encoded filter back (for tests and logs).
    pub fn decode(encoded: &str) -> Result<Self, FilterDecodeError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| FilterDecodeError(format!("not base64: {e}")))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| FilterDecodeError(format!("not JSON: {e}")))?;
        let Value::Object(ranges) = v else {
            return Err(FilterDecodeError("not a JSON object".into()));
        };
        for (k, r) in &ranges {
            if !matches!(r, Value::Array(a) if a.len() == 2) {
                return Err(FilterDecodeError(format!("`{k}` is not a [lo, hi] pair")));
            }
        }
        Ok(Self { ranges })
    }
}

/// An inclusive `lastUpdatedDate` range `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Window {
    /// First instant included.
    pub start: DateTime<Utc>,
    /// Last instant included.
    pub end: DateTime<Utc>,
}

/// A window whose start is after its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("window start {start} is after its end {end}")]
pub struct WindowError {
    /// The rejected start.
    pub start: DateTime<Utc>,
    /// The rejected end.
    pub end: DateTime<Utc>,
}

impl Window {
    /// A window `[start, end]`; `start <= end` is required.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, WindowError> {
        if start <= end {
            Ok(Self { start, end })
        } else {
            Err(WindowError { start, end })
        }
    }

    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    /// Whether `t` lies in the window (bounds included).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t <= self.end
    }

    /// The `lastUpdatedDate` filter for this window (both bounds always sent).
    pub fn filter(&self) -> Filter {
        Filter::new().range(LAST_UPDATED, self.start, self.end)
    }

    /// Split into two halves for re-reading a full window, or `None` when the window is
    /// too short to split at Finale's one-second resolution.
    ///
    /// Halves share their middle instant (rounded down to a second), like adjacent planned
    /// windows. A one-second window `[t, t+1s]` splits into the two instants `[t, t]` and
    /// `[t+1s, t+1s]`; a window shorter than a second cannot be split. Every split strictly
    /// shrinks both halves, so recursive splitting terminates.
    pub fn halves(&self) -> Option<(Window, Window)> {
        let d = self.duration();
        if d < Duration::seconds(1) {
            return None;
        }
        if d < Duration::seconds(2) {
            let a = Window {
                start: self.start,
                end: self.start,
            };
            let b = Window {
                start: self.end,
                end: self.end,
            };
            return Some((a, b));
        }
        let mid = floor_second(self.start + d / 2);
        let mid = if mid <= self.start {
            self.start + Duration::seconds(1)
        } else {
            mid
        };
        Some((
            Window {
                start: self.start,
                end: mid,
            },
            Window {
                start: mid,
                end: self.end,
            },
        ))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {}]",
            self.start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            self.end.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        )
    }
}

/// Cover `[since, until]` with contiguous windows no longer than `max`.
///
/// The first window starts at `since`, the last ends at `until`, each window starts where
/// the previous one ended (shared, inclusive boundary), and none is longer than `max`.
/// `since == until` gives one empty-length window; `since > until` gives none. A
/// non-positive `max` is treated as one second (never loops forever).
pub fn plan_windows(since: DateTime<Utc>, until: DateTime<Utc>, max: Duration) -> Vec<Window> {
    if since > until {
        return Vec::new();
    }
    if since == until {
        return vec![Window {
            start: since,
            end: until,
        }];
    }
    let max = if max <= Duration::zero() {
        Duration::seconds(1)
    } else {
        max
    };
    let mut out = Vec::new();
    let mut start = since;
    while start < until {
        let end = start
            .checked_add_signed(max)
            .map_or(until, |e| e.min(until));
        out.push(Window { start, end });
        start = end;
    }
    out
}

/// Whether a window that returned `count` records may have been truncated and must be
/// split: it reached Finale's entity cap, or it returned exactly the requested `limit`.
pub fn needs_split(count: usize, cap: usize, limit: Option<u32>) -> bool {
    count >= cap || limit.is_some_and(|l| count == l as usize)
}

/// Dedupe records by [`FinaleRecord::key`], keeping for each key the record with the newest
/// `last_updated` (the later one on ties or when neither has a timestamp). The output keeps
/// the order in which keys were first seen.
pub fn dedupe_newest<T: FinaleRecord>(records: Vec<T>) -> Vec<T> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(records.len());
    let mut out: Vec<T> = Vec::with_capacity(records.len());
    for r in records {
        match index.get(r.key().as_ref()) {
            Some(&i) => {
                if r.last_updated() >= out[i].last_updated() {
                    out[i] = r;
                }
            }
            None => {
                index.insert(r.key().into_owned(), out.len());
                out.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Facility;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("valid instant")
    }

    #[test]
    fn filter_encodes_to_padded_base64_of_the_json_and_decodes_back() {
        let f = Filter::new()
            .range(
                LAST_UPDATED,
                t("2025-03-01T00:00:00Z"),
                t("2025-03-01T23:59:59.900Z"),
            )
            .eq("orderTypeId", "SALES_ORDER")
            .eq("statusId", "ORDER_LOCKED");
        let enc = f.encode();
        assert_eq!(enc.len() % 4, 0, "padded");
        let json: Value =
            serde_json::from_slice(&STANDARD.decode(&enc).expect("base64")).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "lastUpdatedDate": ["2025-03-01T00:00:00Z", "2025-03-01T23:59:59Z"],
                "orderTypeId": ["SALES_ORDER", "SALES_ORDER"],
                "statusId": ["ORDER_LOCKED", "ORDER_LOCKED"],
            })
        );
        assert_eq!(Filter::decode(&enc).expect("decodes"), f);
        assert_eq!(
            f.get("orderTypeId").map(|(a, b)| (a.clone(), b.clone())),
            Some((Value::from("SALES_ORDER"), Value::from("SALES_ORDER")))
        );
    }

    #[test]
    fn filter_open_bounds_are_null() {
        let f = Filter::new().range("productId", Some("A"), None::<&str>);
        assert_eq!(f.to_json(), r#"{"productId":["A",null]}"#);
        assert!(Filter::new().is_empty() && !f.is_empty());
    }

    #[test]
    fn filter_decode_rejects_garbage() {
        for bad in [
            "%%%",
            "bm90IGpzb24=",
            "WzEsMl0=",
            "eyJhIjoxfQ==",
            "eyJhIjpbMV19",
        ] {
            assert!(Filter::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_filter_sends_both_bounds_in_whole_utc_seconds() {
        let w =
            Window::new(t("2025-01-01T10:00:00.999Z"), t("2025-01-31T10:00:00.5Z")).expect("valid");
        let f = w.filter();
        let (lo, hi) = f.get(LAST_UPDATED).expect("range");
        assert_eq!(lo, "2025-01-01T10:00:00Z");
        assert_eq!(hi, "2025-01-31T10:00:00Z");
    }

    #[test]
    fn window_new_validates() {
        let a = t("2025-01-02T00:00:00Z");
        let b = t("2025-01-01T00:00:00Z");
        assert!(Window::new(a, b).is_err());
        assert!(Window::new(a, a).is_ok());
    }

    fn check_plan(since: DateTime<Utc>, until: DateTime<Utc>, max: Duration) {
        let ws = plan_windows(since, until, max);
        assert!(!ws.is_empty());
        assert_eq!(ws[0].start, since);
        assert_eq!(ws.last().map(|w| w.end), Some(until));
        for w in &ws {
            assert!(w.start <= w.end);
            assert!(w.duration() <= max.max(Duration::seconds(1)), "{w}");
        }
        for pair in ws.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "no gap, shared boundary");
            assert!(pair[0].start < pair[1].start, "progress");
        }
    }

    #[test]
    fn plan_windows_properties() {
        let until = t("2026-11-01T00:00:00Z");
        let d30 = Duration::days(30);
        let two_years = plan_windows(until - Duration::days(731), until, d30);
        assert_eq!(two_years.len(), 25);
        check_plan(until - Duration::days(731), until, d30);
        check_plan(until - Duration::days(30), until, d30);
        check_plan(
            until - Duration::days(30) - Duration::nanoseconds(1),
            until,
            d30,
        );
        check_plan(t("2025-03-09T06:59:59.123Z"), until, d30);
        check_plan(until - Duration::minutes(5), until, Duration::hours(1));
        check_plan(until - Duration::hours(10), until, Duration::minutes(7));
        check_plan(until - Duration::seconds(3), until, Duration::zero());
        check_plan(until - Duration::seconds(3), until, Duration::seconds(-5));
        // Exact multiples do not produce an empty trailing window.
        assert_eq!(
            plan_windows(until - Duration::days(60), until, d30).len(),
            2
        );
        // Degenerate inputs.
        assert_eq!(
            plan_windows(until, until, d30),
            vec![Window {
                start: until,
                end: until
            }]
        );
        assert!(plan_windows(until, until - Duration::seconds(1), d30).is_empty());
    }

    #[test]
    fn plan_windows_pseudo_random_properties() {
        // A small deterministic LCG: many shapes without a property-testing dependency.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let base = Utc
            .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        for _ in 0..500 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let since = base + Duration::milliseconds((x >> 20) as i64 % 100_000_000_000);
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = Duration::milliseconds((x >> 24) as i64 % 10_000_000_000);
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let max = Duration::seconds(1 + (x >> 40) as i64 % 3_000_000);
            check_plan(since, since + len, max);
        }
    }

    #[test]
    fn halves_shrink_and_cover() {
        let w = Window::new(t("2025-01-01T00:00:00Z"), t("2025-01-31T00:00:00Z")).expect("ok");
        let (a, b) = w.halves().expect("splits");
        assert_eq!(a.start, w.start);
        assert_eq!(b.end, w.end);
        assert_eq!(a.end, b.start);
        assert_eq!(a.end, t("2025-01-16T00:00:00Z"));
        // Recursive splitting always terminates, at instants one second apart.
        let mut stack =
            vec![Window::new(t("2025-01-01T00:00:00Z"), t("2025-01-01T00:00:37Z")).expect("ok")];
        let mut leaves = Vec::new();
        let mut steps = 0;
        while let Some(w) = stack.pop() {
            steps += 1;
            assert!(steps < 1000, "does not terminate");
            match w.halves() {
                Some((a, b)) => {
                    assert!(a.duration() < w.duration() && b.duration() < w.duration());
                    stack.push(a);
                    stack.push(b);
                }
                None => leaves.push(w),
            }
        }
        assert!(leaves.iter().all(|w| w.duration() == Duration::zero()));
        let mut covered: Vec<i64> = leaves.iter().map(|w| w.start.timestamp()).collect();
        covered.sort_unstable();
        covered.dedup();
        assert_eq!(covered.len(), 38, "every second of [0, 37] is covered");
        // One second: two instants.
        let one = Window::new(t("2025-01-01T00:00:00Z"), t("2025-01-01T00:00:01Z")).expect("ok");
        let (a, b) = one.halves().expect("splits");
        assert_eq!(
            (a.duration(), b.duration()),
            (Duration::zero(), Duration::zero())
        );
        assert_eq!((a.start, b.start), (one.start, one.end));
        // Shorter than a second: cannot split.
        let tiny = Window::new(t("2025-01-01T00:00:00Z"), t("2025-01-01T00:00:00.5Z")).expect("ok");
        assert_eq!(tiny.halves(), None);
    }

    #[test]
    fn split_decision() {
        assert!(needs_split(120_000, 120_000, None));
        assert!(needs_split(130_000, 120_000, None));
        assert!(!needs_split(119_999, 120_000, None));
        assert!(needs_split(25, 120_000, Some(25)));
        assert!(!needs_split(24, 120_000, Some(25)));
        assert!(
            !needs_split(26, 120_000, Some(25)),
            "a server ignoring limit returned all"
        );
        assert!(needs_split(0, 0, None), "cap 0 is always full");
    }

    fn fac(url: &str, updated: Option<&str>, name: &str) -> Facility {
        Facility {
            url: url.into(),
            facility_id: url.rsplit('/').next().unwrap_or_default().into(),
            name: Some(name.into()),
            parent_url: None,
            status: None,
            facility_type: None,
            shipping_disabled: None,
            receiving_disabled: None,
            created: None,
            last_updated: updated.map(t),
        }
    }

    #[test]
    fn dedupe_keeps_newest_in_first_seen_order() {
        let recs = vec![
            fac("/a/api/facility/1", Some("2025-01-02T00:00:00Z"), "new"),
            fac("/a/api/facility/2", Some("2025-01-01T00:00:00Z"), "b"),
            fac("/a/api/facility/1", Some("2025-01-01T00:00:00Z"), "old"),
            fac("/a/api/facility/3", None, "c1"),
            fac("/a/api/facility/3", None, "c2"),
            fac("/a/api/facility/2", Some("2025-01-03T00:00:00Z"), "b2"),
        ];
        let out = dedupe_newest(recs);
        let got: Vec<(&str, &str)> = out
            .iter()
            .map(|f| (f.url.as_str(), f.name.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            [
                ("/a/api/facility/1", "new"),
                ("/a/api/facility/2", "b2"),
                ("/a/api/facility/3", "c2")
            ]
        );
        assert!(dedupe_newest(Vec::<Facility>::new()).is_empty());
    }
}
