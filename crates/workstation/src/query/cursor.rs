//! Opaque keyset cursors: the last row's sort key, tied to the query that produced it.
//!
//! A cursor is URL-safe base64 (no padding) of a small JSON object: `q`, a fingerprint of
//! the query (text, filters, sort; not the page size), and `k`, the key values of the last
//! row returned. Nothing in it is trusted: the key values are bound as SQL parameters, and a
//! cursor whose fingerprint differs from the query it is used with is refused, so that a
//! cursor of one sort order never positions a walk in another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::CacheError;

/// The longest cursor accepted (a real one is well under 1 KiB).
const MAX_CURSOR_LEN: usize = 4096;

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    q: String,
    k: Vec<Value>,
}

/// A 64-bit FNV-1a fingerprint of the query's identity, as hex.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Encodes the key of the last row of a page for the query `fingerprint`.
pub(crate) fn encode(fingerprint: &str, key: Vec<Value>) -> String {
    let wire = Wire {
        q: fingerprint.to_owned(),
        k: key,
    };
    // Serializing strings, numbers and nulls cannot fail.
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor given back by a caller for the query `fingerprint`; returns its key
/// values (exactly `len` of them).
pub(crate) fn decode(
    cursor: &str,
    fingerprint: &str,
    len: usize,
) -> Result<Vec<Value>, CacheError> {
    let bad = |why: &str| {
        CacheError::InvalidInput(format!(
            "malformed page cursor ({why}): pass back a next_cursor exactly as a page returned it"
        ))
    };
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(bad("too long"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad("not base64"))?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor"))?;
    if wire.q != fingerprint {
        return Err(CacheError::InvalidInput(
            "this page cursor belongs to another query (other text, filters or sort): \
             start again without a cursor"
                .into(),
        ));
    }
    if wire.k.len() != len {
        return Err(bad("wrong key length"));
    }
    Ok(wire.k)
}

/// A key value as a string, or a clear error.
pub(crate) fn text(v: &Value) -> Result<String, CacheError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| CacheError::InvalidInput("malformed page cursor (bad key)".into()))
}

/// A number as a key value: its bits, so that it comes back exactly (a decimal rendering
/// may not parse back to the same `f64`, and a keyset bound must be exact).
pub(crate) fn num(x: f64) -> Value {
    Value::from(x.to_bits())
}

/// A key value written by [`num`] as a number, or a clear error.
pub(crate) fn number(v: &Value) -> Result<f64, CacheError> {
    v.as_u64()
        .map(f64::from_bits)
        .filter(|x| x.is_finite())
        .ok_or_else(|| CacheError::InvalidInput("malformed page cursor (bad key)".into()))
}

/// A key value as an integer, or a clear error.
pub(crate) fn integer(v: &Value) -> Result<i64, CacheError> {
    v.as_i64()
        .ok_or_else(|| CacheError::InvalidInput("malformed page cursor (bad key)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let fp = fingerprint(&["a", "b"]);
        let c = encode(&fp, vec![num(1.5), Value::from("SKU-1"), Value::from("id")]);
        let k = decode(&c, &fp, 3).expect("own cursor");
        assert_eq!(number(&k[0]).ok(), Some(1.5));
        assert_eq!(text(&k[1]).ok().as_deref(), Some("SKU-1"));
        assert!(
            decode(&c, &fingerprint(&["a", "c"]), 3).is_err(),
            "other query"
        );
        assert!(decode(&c, &fp, 2).is_err(), "other shape");
        for bad in ["", "!!!", "e30", "bm90IGpzb24", &"A".repeat(5000)] {
            assert!(
                matches!(decode(bad, &fp, 3), Err(CacheError::InvalidInput(_))),
                "{bad}"
            );
        }
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
