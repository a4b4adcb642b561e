//! Value formatting: how one stored value becomes one JSON value in a GraphQL response.
//!
//! Finale's GraphQL answers with **display strings** unless a field is asked for with
//! `formatter: "none"` (finale-api.md §9): numbers carry thousands separators (`"1,234"`,
//! money always with two decimals `"12.50"`), empty values show as `"--"`, dates as `M/D/YYYY`,
//! date-times as `M/D/YYYY h:mm am`, statuses and order types as labels (`"Completed"`,
//! `"Sale"`), day counts as `"153 d"` / `"> 365 d"` and lots as `"Lot: X"`.
//!
//! Vocabulary:
//! * a [`Scalar`] is the *typed* stored value a resolver produces (it knows it is money, a
//!   date, a status with both its id and label, …);
//! * a [`Formatter`] is the per-field `formatter` argument;
//! * [`render`] combines the two with the request's [`GqlContext`] (account time zone, and
//!   whether raw numbers are JSON numbers or strings).
//!
//! With `formatter: "none"` the raw value comes back: numbers (see [`NoneFormat`]), status /
//! type ids (`ORDER_COMPLETED`), ISO dates (`2025-03-01`), account-local ISO date-times
//! without offset (`2025-03-01T17:02:11`, the same convention as REST timestamps), and `null`
//! for empty values. The other formatters are variations of the display form: `html` escapes
//! markup characters, `abbreviated` shortens large numbers (`"12.3k"`, `"1.2M"`), and
//! `blank-zero` renders zero numbers as an empty string.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde_json::Value as J;

use super::{GqlContext, GqlError, NoneFormat};

/// A typed stored value, before formatting.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    /// No value (absent or empty).
    Null,
    /// Free text or an identifier (ids and URLs are never reformatted).
    Text(String),
    /// A whole number (counts, units).
    Int(i64),
    /// A quantity that may be fractional; displayed with up to two decimals.
    Qty(f64),
    /// An amount of money; displayed with exactly two decimals.
    Money(f64),
    /// A calendar date (already in the account's time zone).
    Date(NaiveDate),
    /// An instant; displayed in the account's time zone.
    DateTime(DateTime<Utc>),
    /// An enumerated value: the stored id and its display label.
    Enum {
        /// Stored id, e.g. `ORDER_COMPLETED`.
        id: String,
        /// Display label, e.g. `Completed`.
        label: String,
    },
    /// A number of days; `None` when unknown (displayed `--`). Over 365 shows as `> 365 d`.
    Days(Option<i64>),
    /// A lot id, displayed as `Lot: X`.
    Lot(Option<String>),
    /// A boolean.
    Bool(bool),
    /// Parallel-array values (summary metrics): each element formatted on its own.
    List(Vec<Scalar>),
}

impl Scalar {
    /// Text, or [`Scalar::Null`] when empty.
    pub(crate) fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() {
            Scalar::Null
        } else {
            Scalar::Text(s)
        }
    }

    /// Optional text, [`Scalar::Null`] when absent or empty.
    pub(crate) fn opt_text(s: Option<impl Into<String>>) -> Self {
        s.map_or(Scalar::Null, Scalar::text)
    }

    /// An enum value with its label.
    pub(crate) fn enumerated(id: impl Into<String>, label: impl Into<String>) -> Self {
        Scalar::Enum {
            id: id.into(),
            label: label.into(),
        }
    }

    /// A sort key: values of different kinds order Null < numbers < dates < text.
    pub(crate) fn sort_key(&self) -> SortKey {
        match self {
            Scalar::Null | Scalar::Days(None) | Scalar::Lot(None) | Scalar::List(_) => {
                SortKey::Null
            }
            Scalar::Int(i) => SortKey::Num(*i as f64),
            Scalar::Qty(x) | Scalar::Money(x) => SortKey::Num(*x),
            Scalar::Days(Some(d)) => SortKey::Num(*d as f64),
            Scalar::Bool(b) => SortKey::Num(f64::from(u8::from(*b))),
            Scalar::Date(d) => SortKey::Time(
                d.and_hms_opt(0, 0, 0)
                    .map_or(i64::MIN, |t| t.and_utc().timestamp_micros()),
            ),
            Scalar::DateTime(t) => SortKey::Time(t.timestamp_micros()),
            Scalar::Text(s) | Scalar::Lot(Some(s)) => SortKey::Text(s.clone()),
            Scalar::Enum { id, .. } => SortKey::Text(id.clone()),
        }
    }
}

/// A totally ordered key derived from a [`Scalar`], used by the `sort` argument.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub(crate) enum SortKey {
    /// Empty values sort first (ascending).
    Null,
    /// Any number.
    Num(f64),
    /// Dates and instants, in microseconds since the epoch.
    Time(i64),
    /// Text and ids.
    Text(String),
}

impl SortKey {
    /// Total order (NaN sorts as equal to everything, which cannot occur in practice).
    pub(crate) fn cmp_total(&self, other: &Self) -> std::cmp::Ordering {
        self.partial_cmp(other).unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// The `formatter` argument of a scalar field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Formatter {
    /// No argument: display strings.
    #[default]
    Display,
    /// `"html"`: display strings, HTML-escaped.
    Html,
    /// `"none"`: raw stored values.
    None,
    /// `"abbreviated"`: display strings with large numbers shortened.
    Abbreviated,
    /// `"blank-zero"`: display strings with zero numbers blank.
    BlankZero,
}

impl Formatter {
    /// Parses the argument value; `null` means the default.
    pub(crate) fn parse(v: Option<&J>) -> Result<Self, GqlError> {
        match v {
            None | Some(J::Null) => Ok(Formatter::Display),
            Some(J::String(s)) => match s.as_str() {
                "html" => Ok(Formatter::Html),
                "none" => Ok(Formatter::None),
                "abbreviated" => Ok(Formatter::Abbreviated),
                "blank-zero" => Ok(Formatter::BlankZero),
                other => Err(GqlError::new(format!(
                    "Unknown formatter \"{other}\"; expected one of \"html\", \"none\", \
                     \"abbreviated\", \"blank-zero\""
                ))),
            },
            Some(other) => Err(GqlError::new(format!(
                "Argument \"formatter\" must be a string, got {other}"
            ))),
        }
    }
}

/// Placeholder for an empty value in display formats.
const EMPTY: &str = "--";

/// Formats `value` for the response.
pub(crate) fn render(value: &Scalar, fmt: Formatter, ctx: &GqlContext) -> J {
    if fmt == Formatter::None {
        return render_raw(value, ctx);
    }
    if let Scalar::List(items) = value {
        return J::Array(items.iter().map(|i| render(i, fmt, ctx)).collect());
    }
    let s = match value {
        Scalar::Null | Scalar::Days(None) | Scalar::Lot(None) => EMPTY.to_owned(),
        Scalar::Text(s) if s.is_empty() => EMPTY.to_owned(),
        Scalar::Text(s) => s.clone(),
        Scalar::Int(i) => number_display(*i as f64, 0, 0, fmt),
        Scalar::Qty(x) => number_display(*x, 0, 2, fmt),
        Scalar::Money(x) => number_display(*x, 2, 2, fmt),
        Scalar::Date(d) => date_display(*d),
        Scalar::DateTime(t) => datetime_display(*t, ctx),
        Scalar::Enum { label, .. } => label.clone(),
        Scalar::Days(Some(d)) if *d > 365 => "> 365 d".to_owned(),
        Scalar::Days(Some(d)) => format!("{d} d"),
        Scalar::Lot(Some(l)) => format!("Lot: {l}"),
        Scalar::Bool(b) => if *b { "Yes" } else { "No" }.to_owned(),
        Scalar::List(_) => String::new(), // handled above
    };
    if fmt == Formatter::Html {
        J::String(html_escape(&s))
    } else {
        J::String(s)
    }
}

/// The `formatter: "none"` form.
fn render_raw(value: &Scalar, ctx: &GqlContext) -> J {
    let num = |x: f64| -> J {
        match ctx.none_formatter_numbers {
            NoneFormat::Numbers => {
                if x.fract() == 0.0 && x.abs() < 9.0e15 {
                    J::from(x as i64)
                } else {
                    serde_json::Number::from_f64(x).map_or(J::Null, J::Number)
                }
            }
            NoneFormat::Strings => J::String(plain_number(x)),
        }
    };
    match value {
        Scalar::Null | Scalar::Days(None) | Scalar::Lot(None) => J::Null,
        Scalar::Text(s) if s.is_empty() => J::Null,
        Scalar::Text(s) | Scalar::Lot(Some(s)) => J::String(s.clone()),
        Scalar::Int(i) => num(*i as f64),
        Scalar::Qty(x) | Scalar::Money(x) => num(*x),
        Scalar::Days(Some(d)) => num(*d as f64),
        Scalar::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
        Scalar::DateTime(t) => J::String(
            t.with_timezone(&ctx.timezone)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
        ),
        Scalar::Enum { id, .. } => J::String(id.clone()),
        Scalar::Bool(b) => J::Bool(*b),
        Scalar::List(items) => J::Array(items.iter().map(|i| render_raw(i, ctx)).collect()),
    }
}

/// A number without separators, shortest round-trip form (`1234.5`, `12`).
fn plain_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Display form of a number: thousands separators, between `min_dec` and `max_dec` decimals
/// (trailing zeros beyond `min_dec` trimmed), with the formatter's variations.
fn number_display(x: f64, min_dec: usize, max_dec: usize, fmt: Formatter) -> String {
    if !x.is_finite() {
        return EMPTY.to_owned();
    }
    if fmt == Formatter::BlankZero && x == 0.0 {
        return String::new();
    }
    if fmt == Formatter::Abbreviated && x.abs() >= 1000.0 {
        let (div, suffix) = if x.abs() >= 1.0e9 {
            (1.0e9, "B")
        } else if x.abs() >= 1.0e6 {
            (1.0e6, "M")
        } else {
            (1.0e3, "k")
        };
        return format!("{}{suffix}", trim_decimals(&format!("{:.1}", x / div), 0));
    }
    let fixed = format!("{:.*}", max_dec, x);
    let fixed = trim_decimals(&fixed, min_dec);
    let (neg, body) = match fixed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, fixed.as_str()),
    };
    let (int_part, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let mut grouped = String::with_capacity(int_part.len() + int_part.len() / 3);
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let mut out = String::new();
    // "-0" / "-0.00" after rounding is just zero.
    if neg && body.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    out.push_str(&grouped);
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Trims trailing zeros of a fixed-point string down to `min_dec` decimals.
fn trim_decimals(s: &str, min_dec: usize) -> String {
    let Some((int_part, frac)) = s.split_once('.') else {
        return s.to_owned();
    };
    let mut frac = frac.trim_end_matches('0').to_owned();
    while frac.len() < min_dec {
        frac.push('0');
    }
    if frac.is_empty() {
        int_part.to_owned()
    } else {
        format!("{int_part}.{frac}")
    }
}

/// `M/D/YYYY`.
pub(crate) fn date_display(d: NaiveDate) -> String {
    format!("{}/{}/{}", d.month(), d.day(), d.year())
}

/// `M/D/YYYY h:mm am` in the account time zone.
fn datetime_display(t: DateTime<Utc>, ctx: &GqlContext) -> String {
    let local = t.with_timezone(&ctx.timezone);
    let (pm, hour12) = local.hour12();
    format!(
        "{} {}:{:02} {}",
        date_display(local.date_naive()),
        hour12,
        local.minute(),
        if pm { "pm" } else { "am" }
    )
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::graphql::DateKeys;

    fn ctx() -> GqlContext {
        GqlContext {
            account: "acme".into(),
            timezone: chrono_tz::America::New_York,
            now: Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap(),
            date_keys: DateKeys::Both,
            none_formatter_numbers: NoneFormat::Numbers,
            packed_quantities: crate::config::PackedQuantities::Cases,
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn display_table() {
        let c = ctx();
        let t = Utc.with_ymd_and_hms(2025, 3, 1, 22, 2, 11).unwrap(); // 5:02 pm in New York
        let midnight = Utc.with_ymd_and_hms(2025, 7, 4, 4, 5, 0).unwrap(); // 12:05 am EDT
        let cases: Vec<(Scalar, &str)> = vec![
            (Scalar::Int(0), "0"),
            (Scalar::Int(999), "999"),
            (Scalar::Int(1234), "1,234"),
            (Scalar::Int(-1234567), "-1,234,567"),
            (Scalar::Qty(1234.5), "1,234.5"),
            (Scalar::Qty(12.0), "12"),
            (Scalar::Qty(0.333333), "0.33"),
            (Scalar::Qty(-0.001), "0"),
            (Scalar::Money(12.5), "12.50"),
            (Scalar::Money(1234567.891), "1,234,567.89"),
            (Scalar::Money(0.0), "0.00"),
            (Scalar::Money(-3.0), "-3.00"),
            (Scalar::Qty(f64::NAN), "--"),
            (Scalar::Null, "--"),
            (Scalar::Text(String::new()), "--"),
            (Scalar::text("Widget, blue"), "Widget, blue"),
            (Scalar::Date(d(2026, 9, 9)), "9/9/2026"),
            (Scalar::Date(d(2025, 12, 31)), "12/31/2025"),
            (Scalar::DateTime(t), "3/1/2025 5:02 pm"),
            (Scalar::DateTime(midnight), "7/4/2025 12:05 am"),
            (
                Scalar::enumerated("ORDER_COMPLETED", "Completed"),
                "Completed",
            ),
            (Scalar::Days(Some(153)), "153 d"),
            (Scalar::Days(Some(365)), "365 d"),
            (Scalar::Days(Some(366)), "> 365 d"),
            (Scalar::Days(None), "--"),
            (Scalar::Lot(Some("A-17".into())), "Lot: A-17"),
            (Scalar::Lot(None), "--"),
        ];
        for (value, want) in cases {
            assert_eq!(
                render(&value, Formatter::Display, &c),
                json!(want),
                "{value:?}"
            );
        }
    }

    #[test]
    fn raw_table() {
        let c = ctx();
        let t = Utc.with_ymd_and_hms(2025, 3, 1, 22, 2, 11).unwrap();
        let cases: Vec<(Scalar, J)> = vec![
            (Scalar::Int(1234), json!(1234)),
            (Scalar::Qty(1234.5), json!(1234.5)),
            (Scalar::Money(12.5), json!(12.5)),
            (Scalar::Null, J::Null),
            (Scalar::Text(String::new()), J::Null),
            (Scalar::Date(d(2026, 9, 9)), json!("2026-09-09")),
            (Scalar::DateTime(t), json!("2025-03-01T17:02:11")),
            (
                Scalar::enumerated("ORDER_COMPLETED", "Completed"),
                json!("ORDER_COMPLETED"),
            ),
            (Scalar::Days(Some(400)), json!(400)),
            (Scalar::Lot(Some("A-17".into())), json!("A-17")),
        ];
        for (value, want) in cases {
            assert_eq!(render(&value, Formatter::None, &c), want, "{value:?}");
        }
        let strings = GqlContext {
            none_formatter_numbers: NoneFormat::Strings,
            ..ctx()
        };
        assert_eq!(
            render(&Scalar::Qty(1234.5), Formatter::None, &strings),
            json!("1234.5")
        );
        assert_eq!(
            render(&Scalar::Int(7), Formatter::None, &strings),
            json!("7")
        );
        assert_eq!(render(&Scalar::Null, Formatter::None, &strings), J::Null);
    }

    #[test]
    fn other_formatters() {
        let c = ctx();
        assert_eq!(render(&Scalar::Int(0), Formatter::BlankZero, &c), json!(""));
        assert_eq!(
            render(&Scalar::Int(5), Formatter::BlankZero, &c),
            json!("5")
        );
        assert_eq!(
            render(&Scalar::Int(12_345), Formatter::Abbreviated, &c),
            json!("12.3k")
        );
        assert_eq!(
            render(&Scalar::Money(2_000_000.0), Formatter::Abbreviated, &c),
            json!("2M")
        );
        assert_eq!(
            render(&Scalar::Int(999), Formatter::Abbreviated, &c),
            json!("999")
        );
        assert_eq!(
            render(&Scalar::text("<b>A & B</b>"), Formatter::Html, &c),
            json!("&lt;b&gt;A &amp; B&lt;/b&gt;")
        );
    }

    #[test]
    fn formatter_argument_parsing() {
        assert_eq!(Formatter::parse(None).unwrap(), Formatter::Display);
        assert_eq!(
            Formatter::parse(Some(&J::Null)).unwrap(),
            Formatter::Display
        );
        assert_eq!(
            Formatter::parse(Some(&json!("none"))).unwrap(),
            Formatter::None
        );
        assert_eq!(
            Formatter::parse(Some(&json!("blank-zero"))).unwrap(),
            Formatter::BlankZero
        );
        let err = Formatter::parse(Some(&json!("raw"))).unwrap_err();
        assert!(err.message.contains("raw"), "{}", err.message);
        assert!(Formatter::parse(Some(&json!(1))).is_err());
        assert!(Formatter::parse(Some(&json!("NONE"))).is_err());
    }

    #[test]
    fn sort_keys_order_sensibly() {
        let mut v = [Scalar::Int(10), Scalar::Null, Scalar::Qty(2.5)];
        v.sort_by(|a, b| a.sort_key().cmp_total(&b.sort_key()));
        assert_eq!(v, [Scalar::Null, Scalar::Qty(2.5), Scalar::Int(10)]);
    }
}
