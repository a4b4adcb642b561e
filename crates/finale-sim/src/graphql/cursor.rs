//! Relay cursors.
//!
//! A cursor names a position in a connection's filtered, sorted result list. Finale's cursors
//! are opaque to clients but decode to `{"idx":n}` (finale-api.md §9), where `n` is the
//! absolute zero-based offset of the edge in that list; standard base64 with padding. Paging
//! `after: cursor(n)` therefore continues at offset `n + 1`. Nested connections (an order's
//! `itemList`) number their edges per parent.
//!
//! Decoding is strict: anything that is not base64 of a JSON object whose `idx` is a
//! non-negative integer is an error, so a client that mangles a cursor hears about it instead
//! of silently restarting from the first page.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::GqlError;

/// The cursor of the edge at absolute offset `idx`.
pub(crate) fn encode(idx: usize) -> String {
    STANDARD.encode(format!("{{\"idx\":{idx}}}"))
}

/// The offset named by `cursor`.
pub(crate) fn decode(cursor: &str) -> Result<usize, GqlError> {
    let bad = || GqlError::new(format!("Invalid cursor \"{}\"", truncate(cursor)));
    let trimmed = cursor.trim_end_matches('=');
    let bytes = STANDARD_NO_PAD.decode(trimmed).map_err(|_| bad())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let idx = value
        .as_object()
        .and_then(|o| o.get("idx"))
        .and_then(serde_json::Value::as_u64);
    idx.and_then(|i| usize::try_from(i).ok()).ok_or_else(bad)
}

/// Keeps error messages short when a client sends a huge cursor.
fn truncate(s: &str) -> String {
    if s.chars().count() > 64 {
        format!("{}…", s.chars().take(64).collect::<String>())
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for idx in [0usize, 1, 9, 10, 199, 200, 123_456_789] {
            assert_eq!(decode(&encode(idx)).unwrap(), idx);
        }
    }

    #[test]
    fn matches_documented_example() {
        // finale-api.md §9 example: endCursor "eyJpZHgiOjIwMH0=" after 200 rows.
        assert_eq!(encode(200), "eyJpZHgiOjIwMH0=");
        assert_eq!(decode("eyJpZHgiOjIwMH0=").unwrap(), 200);
        // Padding is optional on input.
        assert_eq!(decode("eyJpZHgiOjIwMH0").unwrap(), 200);
    }

    #[test]
    fn rejects_malformed() {
        let b64 = |s: &str| STANDARD.encode(s);
        for bad in [
            String::new(),
            "not base64!!".to_owned(),
            b64("not json"),
            b64("[1,2]"),
            b64("{\"idx\":-1}"),
            b64("{\"idx\":1.5}"),
            b64("{\"idx\":\"3\"}"),
            b64("{\"offset\":3}"),
            "x".repeat(10_000),
        ] {
            let err = decode(&bad).unwrap_err();
            assert!(err.message.starts_with("Invalid cursor"), "{}", err.message);
            assert!(err.message.len() < 200);
        }
    }
}
