//! What a schema migration did, and the rule both stores share: a database newer than this
//! binary is refused before anything is applied.

use super::StoreError;

/// One migration applied by a `migrate` call (of either store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The version (the file name's timestamp).
    pub version: i64,
    /// The name after `__`.
    pub name: String,
}

/// What a `migrate` call (of either store) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The migrations applied now, oldest first; empty when the database was up to date.
    pub applied: Vec<AppliedMigration>,
    /// The database version before this call (`None`: a database Stockpulse never migrated).
    pub previous_version: Option<i64>,
    /// The database version now: equal to [`MigrationReport::known_version`] after success.
    pub current_version: i64,
    /// The newest migration this binary knows.
    pub known_version: i64,
}

impl MigrationReport {
    /// Refuses a database whose schema is newer than this binary knows, before anything is
    /// applied. Shared by both stores so that they refuse with the same error.
    pub fn refuse_newer(previous: Option<i64>, known: i64) -> Result<(), StoreError> {
        match previous.filter(|&v| v > known) {
            Some(database) => Err(StoreError::SchemaTooNew { database, known }),
            None => Ok(()),
        }
    }

    /// The migrations a refinery run applied, oldest first, each logged once; `store` names
    /// the store in the log ("shared" or "local").
    pub(crate) fn applied(report: &refinery::Report, store: &'static str) -> Vec<AppliedMigration> {
        report
            .applied_migrations()
            .iter()
            .map(|m| {
                tracing::info!(store, version = m.version(), name = %m.name(), "applied migration");
                AppliedMigration {
                    version: m.version(),
                    name: m.name().to_owned(),
                }
            })
            .collect()
    }
}
