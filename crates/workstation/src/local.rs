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
