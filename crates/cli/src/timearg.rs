//! Parsing of the time arguments users type: `2025-03-01`, `2025-03-01T12:00:00Z`,
//! `2025-03-01T12:00:00` (UTC), or a span back from now such as `36h`, `7d`, `2w`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// Parses `text` relative to `now` (injected so that this stays a pure function).
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Some(span) = parse_span(t) {
        return Ok(now - span);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S") {
        return Ok(naive.and_utc());
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(now));
    }
    Err(format!(
        "cannot read {text:?} as a time: use 2025-03-01, 2025-03-01T12:00:00Z, or a span like 36h, 7d, 2w"
    ))
}

fn parse_span(t: &str) -> Option<Duration> {
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = digits.parse().ok()?;
    match unit {
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn reads_spans_dates_and_instants() {
        assert_eq!(
            parse("36h", now()).unwrap(),
            "2026-11-22T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse("2w", now()).unwrap(),
            "2026-11-09T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse("2025-03-01", now()).unwrap(),
            "2025-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse("2025-03-01T05:00:00+02:00", now()).unwrap(),
            "2025-03-01T03:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse("2025-03-01T05:00:00", now()).unwrap(),
            "2025-03-01T05:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn rejects_garbage_with_a_helpful_message() {
        for bad in [
            "",
            "yesterday",
            "7y",
            "12",
            "2025-13-01",
            "-3d",
            "99999999999999999999d",
        ] {
            let err = parse(bad, now()).unwrap_err();
            assert!(err.contains("36h"), "{bad}: {err}");
        }
    }
}
