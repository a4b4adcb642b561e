//! Schema migrations of the local store: the append-only SQL files of `migrations/sqlite/`,
//! embedded at build time and applied by refinery (its `rusqlite` driver).
//!
//! The vocabulary is the Postgres side's (see `crate::pg::migrate`): a migration is
//! `V<yyyymmddhhmmss>__<name>.sql`, the **known version** is the newest embedded in this
//! binary, the **database version** the newest in `refinery_schema_history`. A database
//! newer than the binary is refused with [`StoreError::SchemaTooNew`] (the same message as
//! Postgres) before anything is applied; each migration runs in its own transaction.
//!
//! SQLite has no advisory lock, and refinery reads the schema history before its
//! transactions, so two processes migrating the same fresh file at once (`stockpulse sync`
//! and `stockpulse status` started together) would both try to create the schema. Migration
//! of a database file therefore holds an exclusive lock on `<database>.migrate.lock` (an OS
//! file lock, released when the process ends, even by SIGKILL): the second process waits,
//! then finds the schema current and applies nothing. In-memory databases need no lock.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;
use crate::MigrationReport;

mod embedded {
    refinery::embed_migrations!("../../migrations/sqlite");
}

/// The table where refinery records applied migrations.
const HISTORY_TABLE: &str = "refinery_schema_history";

/// The newest migration version embedded in this binary for the local store.
pub fn known_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}

/// The newest migration version recorded in the local store, `None` when it has none.
pub fn database_version(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [HISTORY_TABLE],
            |row| row.get(0),
        )
        .map_err(StoreError::sqlite("look for the migration history table"))?;
    if !exists {
        return Ok(None);
    }
    let max: Option<rusqlite::types::Value> = conn
        .query_row(
            &format!("SELECT max(version) FROM {HISTORY_TABLE}"),
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(StoreError::sqlite("read the schema version"))?;
    match max {
        None | Some(rusqlite::types::Value::Null) => Ok(None),
        Some(rusqlite::types::Value::Integer(v)) => Ok(Some(v)),
        Some(other) => Err(StoreError::Corrupt {
            what: format!("{HISTORY_TABLE}.version is not an integer: {other:?}"),
        }),
    }
}

/// The lock file that serialises migrations of the database file `db`.
pub fn migrate_lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".migrate.lock");
    PathBuf::from(p)
}

/// Waits for and takes the migration lock of the connection's database file (`None` for an
/// in-memory database). The lock lasts as long as the returned file.
fn lock_migrations(conn: &Connection) -> Result<Option<File>, StoreError> {
    let Some(db) = conn.path().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = migrate_lock_path(Path::new(db));
    let fail = |what: &'static str| {
        let path = path.clone();
        move |source: std::io::Error| StoreError::LockFile { path, what, source }
    };
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(fail("open the migration lock file"))?;
    file.lock().map_err(fail("lock the migration lock file"))?;
    Ok(Some(file))
}

/// Brings the local store's schema up to this binary's migrations; see the module docs.
pub fn migrate(conn: &mut Connection) -> Result<MigrationReport, StoreError> {
    let _lock = lock_migrations(conn)?;
    let known = known_version();
    let previous = database_version(conn)?;
    MigrationReport::refuse_newer(previous, known)?;
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run(conn)
        .map_err(|source| StoreError::Migration { source })?;
    let applied = MigrationReport::applied(&report, "local");
    let current = database_version(conn)?.unwrap_or(0);
    Ok(MigrationReport {
        applied,
        previous_version: previous,
        current_version: current,
        known_version: known,
    })
}
