//! Naming a location or a supplier the way a person does: by URL, by Finale id, or by name
//! (case-insensitive). A name shared by two records is refused with both URLs listed.

use rusqlite::Connection;

use crate::CacheError;

/// The facility URL for `key` (a location or a sublocation).
pub(crate) fn location(conn: &Connection, key: &str) -> Result<String, CacheError> {
    one(
        conn,
        "SELECT url FROM facilities WHERE url = ?1 OR facility_id = ?1 ORDER BY url LIMIT 2",
        "SELECT url FROM facilities WHERE name = ?1 COLLATE NOCASE ORDER BY url LIMIT 2",
        key,
        "location",
    )
}

/// The party URL for `key` (a supplier).
pub(crate) fn supplier(conn: &Connection, key: &str) -> Result<String, CacheError> {
    one(
        conn,
        "SELECT url FROM parties WHERE url = ?1 OR party_id = ?1 ORDER BY url LIMIT 2",
        "SELECT url FROM parties WHERE name = ?1 COLLATE NOCASE ORDER BY url LIMIT 2",
        key,
        "supplier",
    )
}

fn one(
    conn: &Connection,
    by_key: &str,
    by_name: &str,
    key: &str,
    what: &str,
) -> Result<String, CacheError> {
    let key = key.trim();
    if key.is_empty() || key.chars().any(char::is_control) || key.len() > 1000 {
        return Err(CacheError::InvalidInput(format!(
            "give a {what} by name, id or URL"
        )));
    }
    for sql in [by_key, by_name] {
        let urls: Vec<String> = conn
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map([key], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(CacheError::sqlite("look up a location or supplier"))?;
        match urls.as_slice() {
            [] => continue,
            [url] => return Ok(url.clone()),
            _ => {
                return Err(CacheError::InvalidInput(format!(
                    "{what} {key:?} is ambiguous ({} and more): give its URL",
                    urls.join(", ")
                )));
            }
        }
    }
    // A URL the store does not hold (yet) still filters correctly: by URL.
    if key.contains("://") || key.starts_with('/') {
        return Ok(key.to_owned());
    }
    Err(CacheError::InvalidInput(format!(
        "no {what} named {key:?} in the local store (give a name, id or URL)"
    )))
}
