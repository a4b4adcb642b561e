//! Opening the local store for the workstation side: the same file and schema as the
//! embedded engine's store ([`store::sqlite`]), migrated by whichever binary is newer.

use std::path::Path;

use rusqlite::Connection;

use crate::CacheError;

/// Opens the local store at `path`, creating and migrating it: for writers (the mirror) and
/// for long-lived readers that should work on a first run (the app).
pub fn open_or_create(path: &Path) -> Result<Connection, CacheError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| {
            CacheError::InvalidInput(format!(
                "cannot create the folder of the local store {}: {source}",
                dir.display()
            ))
        })?;
    }
    let mut conn = store::sqlite::open(path)?;
    store::sqlite::migrate(&mut conn)?;
    Ok(conn)
}

/// The page cache of a connection that only serves reads ([`tune_for_reading`]), in KiB.
pub const READER_CACHE_KIB: i64 = 8 * 1024;

/// Sets a connection up for a long-lived reader (the app's query pool, the event follower):
/// a small private page cache.
///
/// Why: the store's default is a 64 MiB private cache per connection (good for the engine's
/// writer). A workstation holds several long-lived readers, and each one's cache filled up
/// and stayed full: the app's heap grew by 100–600 MiB over a 100k-product cache (measured
/// in the app benchmark). A reader's misses are served from the kernel's page cache, shared
/// by every connection and reclaimable. (Memory-mapping the file instead was tried: the
/// mapped pages count in the app's RSS, ~900 MiB of it at rest over the same cache.)
pub fn tune_for_reading(conn: &Connection) -> Result<(), CacheError> {
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
        .map_err(CacheError::sqlite("set a reader's page cache"))?;
    Ok(())
}

/// Opens the local store at `path` like [`open_or_create`], set up for a long-lived reader
/// ([`tune_for_reading`]).
pub fn open_reader(path: &Path) -> Result<Connection, CacheError> {
    let conn = open_or_create(path)?;
    tune_for_reading(&conn)?;
    Ok(conn)
}

/// Opens an existing local store for reading (the query commands): never creates a file,
/// and migrates it only when this binary is newer.
pub fn open_existing(path: &Path) -> Result<Connection, CacheError> {
    if !path.exists() {
        return Err(CacheError::NoLocalStore {
            path: path.to_path_buf(),
        });
    }
    let mut conn = store::sqlite::open(path)?;
    match store::sqlite::migrate(&mut conn) {
        Ok(_) => Ok(conn),
        // A newer binary already migrated this file: its additions are additive, so the
        // reads this binary knows still answer. Say so once, and keep serving.
        Err(err @ store::StoreError::SchemaTooNew { .. }) => {
            tracing::warn!("{err}; reading it as it is");
            Ok(conn)
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_a_small_cache() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_reader(&dir.path().join("cache.db")).unwrap();
        let cache: i64 = conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(cache, -READER_CACHE_KIB);
        // And it reads the schema it migrated.
        let n: i64 = conn
            .query_row("SELECT count(*) FROM query_counts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
