//! Parsers for Finale's GraphQL *display strings* (finale-api.md §6.5, §7.2, §9 "Pain points").
//!
//! # Why
//!
//! GraphQL returns every scalar formatted for humans unless asked otherwise: `"1,234.50"`,
//! `"(12)"` for negatives, `"$1,234.50"`, `"12 %"`, `"9/9/2026"`, `"3/1/2025 5:02 pm"`,
//! `"153 d"`, `"> 365 d"`, `"Lot: X"`, and `"--"` for "no value". Even with
//! `formatter:"none"` a field may come back as a JSON number *or* a string, so the decoder
//! funnels every such value through one of these functions.
//!
//! # Contract
//!
//! Every parser returns `Result<Option<T>, DisplayError>`:
//! * `Ok(None)` for an *empty* display value: `""`, whitespace, `"--"`, `"-"`, dashes,
//!   `"N/A"`, `"NA"`, `"null"`, `"none"` (case-insensitive);
//! * `Ok(Some(v))` for a value that parses *unambiguously*;
//! * `Err(DisplayError)` carrying the raw text for anything else. We never guess: `"1,2,3"`,
//!   `"1.2.3"`, `"12,34"`, non-ASCII digits, `NaN`/`inf`, numbers too large for the type, and
//!   impossible dates are errors, so a schema or locale change shows up as a quarantined record
//!   instead of a silently wrong quantity.
//!
//! Accepted number syntax: optional sign (`-`, `+`, or U+2212 `−`) or accounting parentheses,
//! an optional currency symbol (`$ € £ ¥`) before or after the sign, digits with *correctly
//! grouped* thousands commas (`1,234,567`), an optional fraction, an optional exponent (only
//! without commas: raw Java doubles look like `1.5E7`), and an optional trailing `%` (the
//! number is returned as displayed: `"12 %"` → `12.0`, not `0.12`). Surrounding Unicode
//! whitespace (including no-break spaces) is ignored.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A display string that could not be parsed; carries the raw text for quarantine reports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DisplayError {
    /// Not a number.
    #[error("not a number: {raw:?}")]
    Number {
        /// The raw display text.
        raw: String,
    },
    /// Not an integer (fractional, out of range, or not a number).
    #[error("not an integer: {raw:?}")]
    Integer {
        /// The raw display text.
        raw: String,
    },
    /// Not a date.
    #[error("not a date: {raw:?}")]
    Date {
        /// The raw display text.
        raw: String,
    },
    /// Not a date-time.
    #[error("not a date-time: {raw:?}")]
    DateTime {
        /// The raw display text.
        raw: String,
    },
    /// Not a day count.
    #[error("not a day count: {raw:?}")]
    Days {
        /// The raw display text.
        raw: String,
    },
    /// Not a lot label.
    #[error("not a lot label: {raw:?}")]
    Lot {
        /// The raw display text.
        raw: String,
    },
}

impl DisplayError {
    /// The raw text that failed to parse.
    pub fn raw(&self) -> &str {
        match self {
            DisplayError::Number { raw }
            | DisplayError::Integer { raw }
            | DisplayError::Date { raw }
            | DisplayError::DateTime { raw }
            | DisplayError::Days { raw }
            | DisplayError::Lot { raw } => raw,
        }
    }
}

/// A day count such as `stockoutDays`: `"153 d"` is exactly 153, `"> 365 d"` at least 365.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Days {
    /// `"153 d"`.
    Exactly(i64),
    /// `"> 365 d"` (Finale's display saturates; the true value is larger). Carries the bound
    /// as displayed.
    AtLeast(i64),
}

/// Whether a trimmed display value means "no value".
fn is_empty_marker(t: &str) -> bool {
    if t.is_empty() || t.chars().all(|c| matches!(c, '-' | '–' | '—')) {
        return true;
    }
    ["n/a", "na", "null", "none"]
        .iter()
        .any(|m| t.eq_ignore_ascii_case(m))
}

/// Cleans a number display string into something `str::parse::<f64>` accepts exactly
/// (`-1234.50`, `1.5E7`), or `None` if it is not an unambiguous number.
fn clean_number(t: &str) -> Option<String> {
    let mut s = t;
    let mut neg = false;
    // Accounting negatives: "(12)", "($1,234.50)".
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        neg = true;
        s = inner.trim();
    }
    // Trailing percent sign, possibly spaced: "12 %".
    if let Some(r) = s.strip_suffix('%') {
        s = r.trim_end();
    }
    let strip_currency = |x: &str| -> Option<String> {
        x.strip_prefix(['$', '€', '£', '¥'])
            .map(|r| r.trim_start().to_owned())
    };
    let strip_sign = |x: &str| -> Option<(bool, String)> {
        if let Some(r) = x.strip_prefix('-').or_else(|| x.strip_prefix('−')) {
            Some((true, r.to_owned()))
        } else {
            x.strip_prefix('+').map(|r| (false, r.to_owned()))
        }
    };
    let mut body = s.to_owned();
    // Currency and sign in either order: "-$3", "$-3", "$3".
    if let Some(r) = strip_currency(&body) {
        body = r;
    }
    if let Some((n, r)) = strip_sign(&body) {
        if neg {
            return None; // "(-3)" is ambiguous
        }
        neg = n;
        body = r;
        if let Some(r) = strip_currency(&body) {
            body = r;
        }
    }
    if body.is_empty() || !body.is_ascii() {
        return None;
    }
    // Split off an exponent.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body.as_str(), None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    if let Some(f) = frac_part
        && !f.bytes().all(|b| b.is_ascii_digit())
    {
        return None; // covers "1.2.3"
    }
    let int_digits: String = if int_part.contains(',') {
        if exponent.is_some() {
            return None;
        }
        let mut groups = int_part.split(',');
        let first = groups.next().unwrap_or("");
        if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut out = first.to_owned();
        for g in groups {
            if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
                return None; // "1,2,3", "12,34", "1,,234"
            }
            out.push_str(g);
        }
        out
    } else {
        if !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        int_part.to_owned()
    };
    if int_digits.is_empty() && frac_part.is_none_or(str::is_empty) {
        return None; // ".", "", "e5"
    }
    let mut out = String::with_capacity(body.len() + 1);
    if neg {
        out.push('-');
    }
    out.push_str(if int_digits.is_empty() {
        "0"
    } else {
        &int_digits
    });
    if let Some(f) = frac_part
        && !f.is_empty()
    {
        out.push('.');
        out.push_str(f);
    }
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push('e');
        out.push_str(e);
    }
    Some(out)
}

/// Parse a number display string (`"1,234.50"`, `"(12)"`, `"-3"`, `"$1,234.50"`, `"12 %"`).
pub fn number(s: &str) -> Result<Option<f64>, DisplayError> {
    let t = s.trim();
    if is_empty_marker(t) {
        return Ok(None);
    }
    let err = || DisplayError::Number { raw: s.to_owned() };
    let cleaned = clean_number(t).ok_or_else(err)?;
    let v: f64 = cleaned.parse().map_err(|_| err())?;
    if !v.is_finite() {
        return Err(err());
    }
    Ok(Some(v))
}

/// Parse an integer display string (`"1,234"`, `"(12)"`, `"7.00"`). A non-zero fraction, an
/// exponent, or a value outside `i64` is an error.
pub fn integer(s: &str) -> Result<Option<i64>, DisplayError> {
    let t = s.trim();
    if is_empty_marker(t) {
        return Ok(None);
    }
    let err = || DisplayError::Integer { raw: s.to_owned() };
    let cleaned = clean_number(t).ok_or_else(err)?;
    if cleaned.contains('e') {
        return Err(err());
    }
    let int = match cleaned.split_once('.') {
        Some((i, f)) if f.bytes().all(|b| b == b'0') => i,
        Some(_) => return Err(err()),
        None => cleaned.as_str(),
    };
    let v: i64 = int.parse().map_err(|_| err())?;
    // "-0" is fine; i64::parse handles the sign and rejects overflow.
    Ok(Some(v))
}

/// Strictly `digits` ASCII digits with `min..=max` length, as a number.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `M/D/YYYY`, `MM/DD/YYYY` or `YYYY-MM-DD`, validated.
fn parse_date_part(t: &str) -> Option<NaiveDate> {
    let (y, m, d) = if t.contains('/') {
        let mut it = t.split('/');
        let (m, d, y) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        (digits(y, 4, 4)?, digits(m, 1, 2)?, digits(d, 1, 2)?)
    } else {
        let mut it = t.split('-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        (digits(y, 4, 4)?, digits(m, 2, 2)?, digits(d, 2, 2)?)
    };
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// Parse a date display string: `"9/9/2026"`, `"09/09/2026"`, `"2026-09-09"`; an ISO
/// date-time (`"2026-09-09T10:00:00"`) yields its date.
pub fn date(s: &str) -> Result<Option<NaiveDate>, DisplayError> {
    let t = s.trim();
    if is_empty_marker(t) {
        return Ok(None);
    }
    if let Some(d) = parse_date_part(t) {
        return Ok(Some(d));
    }
    match datetime(t) {
        Ok(Some(dt)) if t.contains('T') => Ok(Some(dt.date())),
        _ => Err(DisplayError::Date { raw: s.to_owned() }),
    }
}

/// `H:MM`, `H:MM:SS`, `H:MM:SS.fff`, optionally followed by `am`/`pm` (any case, with or
/// without a space or dots).
fn parse_time_part(t: &str) -> Option<NaiveTime> {
    let lower = t.trim().to_ascii_lowercase();
    let (clock, meridiem) = if let Some(r) = lower
        .strip_suffix("am")
        .or_else(|| lower.strip_suffix("a.m."))
    {
        (r.trim_end(), Some(false))
    } else if let Some(r) = lower
        .strip_suffix("pm")
        .or_else(|| lower.strip_suffix("p.m."))
    {
        (r.trim_end(), Some(true))
    } else {
        (lower.as_str(), None)
    };
    let mut it = clock.split(':');
    let h = digits(it.next()?, 1, 2)?;
    let m = digits(it.next()?, 2, 2)?;
    let (sec, nano) = match it.next() {
        None => (0, 0),
        Some(sp) => {
            let (sw, frac) = match sp.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (sp, None),
            };
            let sec = digits(sw, 2, 2)?;
            let nano = match frac {
                None => 0,
                Some(f) => {
                    if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
                }
            };
            (sec, nano)
        }
    };
    if it.next().is_some() {
        return None;
    }
    let hour = match meridiem {
        None => h,
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            match (h, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, false) => h,
                (h, true) => h + 12,
            }
        }
    };
    NaiveTime::from_hms_nano_opt(hour, m, sec, nano)
}

/// Parse a date-time display string: `"3/1/2025 5:02 pm"`, `"3/1/2025 17:02:11"`,
/// `"2025-03-01T17:02:11"` (optionally with millis), RFC 3339 with an offset (converted to
/// UTC), or a bare date (midnight).
pub fn datetime(s: &str) -> Result<Option<NaiveDateTime>, DisplayError> {
    let t = s.trim();
    if is_empty_marker(t) {
        return Ok(None);
    }
    let err = || DisplayError::DateTime { raw: s.to_owned() };
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(Some(dt.naive_utc()));
    }
    let (d, time) = match t.split_once(['T', ' ']) {
        Some((d, rest)) => (d, Some(rest)),
        None => (t, None),
    };
    let date = parse_date_part(d).ok_or_else(err)?;
    let time = match time {
        None => NaiveTime::MIN,
        Some(rest) => parse_time_part(rest).ok_or_else(err)?,
    };
    Ok(Some(date.and_time(time)))
}

/// Parse a day count: `"153 d"`, `"1 d"`, `"0 d"`, `"-4 d"`, `"> 365 d"`, `"153 days"`, or a
/// bare number.
pub fn days(s: &str) -> Result<Option<Days>, DisplayError> {
    let t = s.trim();
    if is_empty_marker(t) {
        return Ok(None);
    }
    let err = || DisplayError::Days { raw: s.to_owned() };
    let (at_least, rest) = match t.strip_prefix(['>', '≥']) {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    let rest = rest.strip_prefix('=').map_or(rest, str::trim_start);
    let lower = rest.to_ascii_lowercase();
    let n = ["days", "day", "d"]
        .iter()
        .find_map(|u| lower.strip_suffix(u))
        .unwrap_or(&lower)
        .trim_end();
    let v = integer(n).map_err(|_| err())?.ok_or_else(err)?;
    Ok(Some(if at_least {
        Days::AtLeast(v)
    } else {
        Days::Exactly(v)
    }))
}

/// Parse a lot label: `"Lot: X"` → `"X"` (prefix case-insensitive, optional); an empty lot
/// is `None`. Multi-line text is an error.
pub fn lot(s: &str) -> Result<Option<String>, DisplayError> {
    let t = s.trim();
    if is_empty_marker(t) {
        return Ok(None);
    }
    if t.contains(['\n', '\r']) {
        return Err(DisplayError::Lot { raw: s.to_owned() });
    }
    let rest = match t.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("lot:") => t[4..].trim(),
        _ => t,
    };
    if is_empty_marker(rest) {
        return Ok(None);
    }
    Ok(Some(rest.to_owned()))
}

/// A numeric field that may be a JSON number or a display string (formatter `"none"` yields
/// either). `null` is `None`; booleans, arrays and objects are errors.
pub fn number_value(v: &serde_json::Value) -> Result<Option<f64>, DisplayError> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(DisplayError::Number { raw: n.to_string() }),
        },
        serde_json::Value::String(s) => number(s),
        other => Err(DisplayError::Number {
            raw: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn numbers_table() {
        let ok: &[(&str, f64)] = &[
            ("0", 0.0),
            ("1,234.50", 1234.5),
            ("1,234,567", 1_234_567.0),
            ("(12)", -12.0),
            ("($1,234.50)", -1234.5),
            ("-3", -3.0),
            ("+3", 3.0),
            ("−3", -3.0),
            ("$1,234.50", 1234.5),
            ("-$3.10", -3.1),
            ("$-3.10", -3.1),
            ("€ 5", 5.0),
            ("12 %", 12.0),
            ("12%", 12.0),
            ("-0.5 %", -0.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("  45  ", 45.0),
            ("\u{a0}7\u{a0}", 7.0),
            ("1.5E7", 15_000_000.0),
            ("2e-3", 0.002),
            ("007", 7.0),
        ];
        for (raw, want) in ok {
            assert_eq!(number(raw), Ok(Some(*want)), "{raw:?}");
        }
    }

    #[test]
    fn number_empties_and_garbage() {
        for raw in [
            "", "   ", "--", "-", "—", "N/A", "n/a", "NA", "null", "None",
        ] {
            assert_eq!(number(raw), Ok(None), "{raw:?}");
        }
        let huge = "9".repeat(400);
        let bad = [
            "1,2,3",
            "1.2.3",
            "12,34",
            "1,,234",
            ",123",
            "1234,567",
            "1,234,56",
            "1,234e5",
            "abc",
            "12abc",
            "1 234",
            "١٢٣",
            "１２",
            "NaN",
            "inf",
            "-inf",
            "1e400",
            huge.as_str(),
            "(-3)",
            "((3))",
            "--3",
            "$",
            ".",
            "e5",
            "1e",
            "1e+",
            "%",
            "$$3",
            "3-",
            "0x1F",
        ];
        for raw in bad {
            let e = number(raw).expect_err(raw);
            assert_eq!(e.raw(), raw);
        }
        // A long but finite number is fine.
        let big = format!("1{}", "0".repeat(300));
        assert_eq!(number(&big), Ok(Some(1e300)));
    }

    #[test]
    fn integers_table() {
        assert_eq!(integer("1,234"), Ok(Some(1234)));
        assert_eq!(integer("(12)"), Ok(Some(-12)));
        assert_eq!(integer("7.00"), Ok(Some(7)));
        assert_eq!(integer("-0"), Ok(Some(0)));
        assert_eq!(integer("9,223,372,036,854,775,807"), Ok(Some(i64::MAX)));
        assert_eq!(integer("--"), Ok(None));
        for raw in ["1.5", "9223372036854775808", "1e3", "1,2,3", "x", "1.2.3"] {
            assert!(
                matches!(integer(raw), Err(DisplayError::Integer { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn dates_table() {
        for (raw, want) in [
            ("9/9/2026", ymd(2026, 9, 9)),
            ("09/09/2026", ymd(2026, 9, 9)),
            ("2026-09-09", ymd(2026, 9, 9)),
            ("12/31/1999", ymd(1999, 12, 31)),
            ("2/29/2024", ymd(2024, 2, 29)),
            (" 1/2/2025 ", ymd(2025, 1, 2)),
            ("2026-09-09T10:11:12", ymd(2026, 9, 9)),
        ] {
            assert_eq!(date(raw), Ok(Some(want)), "{raw:?}");
        }
        assert_eq!(date("--"), Ok(None));
        for raw in [
            "2/29/2025",
            "13/1/2025",
            "0/1/2025",
            "1/32/2025",
            "9/9/26",
            "2026-9-9",
            "2026/09/09",
            "9/9/2026/1",
            "99999-01-01",
            "+2026-01-01",
            "tomorrow",
            "9/9/2026 extra",
            "９/９/２０２６",
        ] {
            assert!(
                matches!(date(raw), Err(DisplayError::Date { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn datetimes_table() {
        let dt = |y, mo, d, h, mi, s| ymd(y, mo, d).and_hms_opt(h, mi, s).unwrap();
        for (raw, want) in [
            ("3/1/2025 5:02 pm", dt(2025, 3, 1, 17, 2, 0)),
            ("3/1/2025 5:02 PM", dt(2025, 3, 1, 17, 2, 0)),
            ("3/1/2025 5:02pm", dt(2025, 3, 1, 17, 2, 0)),
            ("3/1/2025 12:05 am", dt(2025, 3, 1, 0, 5, 0)),
            ("3/1/2025 12:05 pm", dt(2025, 3, 1, 12, 5, 0)),
            ("3/1/2025 17:02:11", dt(2025, 3, 1, 17, 2, 11)),
            ("2025-03-01T17:02:11", dt(2025, 3, 1, 17, 2, 11)),
            ("2025-03-01 17:02:11", dt(2025, 3, 1, 17, 2, 11)),
            ("2025-03-01T17:02:11Z", dt(2025, 3, 1, 17, 2, 11)),
            ("2025-03-01T19:02:11+02:00", dt(2025, 3, 1, 17, 2, 11)),
            ("3/1/2025", dt(2025, 3, 1, 0, 0, 0)),
        ] {
            assert_eq!(datetime(raw), Ok(Some(want)), "{raw:?}");
        }
        assert_eq!(
            datetime("2018-04-30T19:00:00.000"),
            Ok(Some(dt(2018, 4, 30, 19, 0, 0)))
        );
        assert_eq!(
            datetime("2018-04-30T19:00:00.25").unwrap().unwrap(),
            dt(2018, 4, 30, 19, 0, 0) + chrono::Duration::milliseconds(250)
        );
        assert_eq!(datetime(""), Ok(None));
        for raw in [
            "3/1/2025 13:02 pm",
            "3/1/2025 0:02 am",
            "3/1/2025 25:00",
            "3/1/2025 5:2",
            "3/1/2025 5:02:60:1",
            "3/1/2025 5",
            "2025-03-01T17:02:11.1234567890",
            "3/1/2025 5:02 xm",
            "yesterday 5pm",
        ] {
            assert!(
                matches!(datetime(raw), Err(DisplayError::DateTime { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn days_table() {
        for (raw, want) in [
            ("153 d", Days::Exactly(153)),
            ("1 d", Days::Exactly(1)),
            ("0 d", Days::Exactly(0)),
            ("-4 d", Days::Exactly(-4)),
            ("> 365 d", Days::AtLeast(365)),
            (">365d", Days::AtLeast(365)),
            (">= 365 d", Days::AtLeast(365)),
            ("153 days", Days::Exactly(153)),
            ("1 day", Days::Exactly(1)),
            ("1,200 d", Days::Exactly(1200)),
            ("42", Days::Exactly(42)),
        ] {
            assert_eq!(days(raw), Ok(Some(want)), "{raw:?}");
        }
        assert_eq!(days("--"), Ok(None));
        for raw in ["d", "> d", "1.5 d", "< 1 d", "153 w", "many d", "> > 3 d"] {
            assert!(
                matches!(days(raw), Err(DisplayError::Days { .. })),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn lots_table() {
        assert_eq!(lot("Lot: X"), Ok(Some("X".into())));
        assert_eq!(lot("lot:L-2025-03"), Ok(Some("L-2025-03".into())));
        assert_eq!(lot("  LOT:  a b  "), Ok(Some("a b".into())));
        assert_eq!(lot("L-7"), Ok(Some("L-7".into())));
        assert_eq!(lot("Lot: "), Ok(None));
        assert_eq!(lot("Lot: --"), Ok(None));
        assert_eq!(lot("--"), Ok(None));
        assert_eq!(lot("Lö"), Ok(Some("Lö".into())));
        assert!(matches!(lot("Lot: a\nb"), Err(DisplayError::Lot { .. })));
    }

    #[test]
    fn number_values_from_json() {
        use serde_json::json;
        assert_eq!(number_value(&json!(6)), Ok(Some(6.0)));
        assert_eq!(number_value(&json!(4.25)), Ok(Some(4.25)));
        assert_eq!(number_value(&json!("1,234")), Ok(Some(1234.0)));
        assert_eq!(number_value(&json!("--")), Ok(None));
        assert_eq!(number_value(&json!(null)), Ok(None));
        for v in [json!(true), json!([1]), json!({"a": 1}), json!("x")] {
            assert!(number_value(&v).is_err(), "{v}");
        }
        let e = number_value(&json!({"a": 1})).unwrap_err();
        assert_eq!(e.raw(), r#"{"a":1}"#);
        assert!(e.to_string().contains("not a number"));
    }
}
