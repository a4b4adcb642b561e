//! Schema migrations of the local store: the append-only SQL files of `migrations/sqlite/`,
//! embedded at build time and applied by refinery (its `rusqlite` driver).
//!
//! The vocabulary is the Postgres side's (see `crate::pg::migrate`): a migration is
//! `V<yyyymmddhhmmss>__<name>.sql`, the **known version** is the newest embedded in this
//! binary, the **database version** the newest in `refinery_schema_history`. A database
//! newer than the binary is refused with [`StoreError::SchemaTooNew`] (the same message as
//! Postgres) before anything is applied; each migration runs in its own transaction.
//!
//! There is no advisory lock in SQLite. The local store has one writer process by design
//! (the engine), and refinery's transactions plus the busy timeout serialise writes; two
//! processes migrating the same fresh file at the same instant could still make the second
//! one fail (it then sees an up-to-date schema on its next start).

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;
use crate::pg::MigrationReport;

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

/// Brings the local store's schema up to this binary's migrations; see the module docs.
pub fn migrate(conn: &mut Connection) -> Result<MigrationReport, StoreError> {
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
