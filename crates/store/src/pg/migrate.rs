//! Schema migrations: the append-only SQL files of `migrations/postgres/`, embedded at build
//! time and applied by refinery.
//!
//! Vocabulary:
//! - A **migration** is a file `V<yyyymmddhhmmss>__<name>.sql`; its version is the timestamp
//!   (refinery's `int8-versions`), so parallel branches do not fight over "the next number".
//!   A shipped file is never edited: refinery stores each file's checksum in
//!   `refinery_schema_history` and fails on a divergent one.
//! - The **known version** is the newest migration embedded in this binary; the **database
//!   version** is the newest recorded in `refinery_schema_history`.
//!
//! Lifecycle of [`migrate`]: take a session advisory lock (two workstations starting at once
//! migrate one after the other), compare versions, refuse a database that is newer than this
//! binary ([`StoreError::SchemaTooNew`]: writing into a schema we do not know could corrupt
//! it), apply what is missing (each migration in its own transaction), release the lock.
//! Migrating an up-to-date database applies nothing.
//!
//! Needs a direct or session-mode connection (not Supabase's transaction-mode pooler):
//! refinery prepares statements and the advisory lock belongs to the session.

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::{MigrationReport, StoreError};

mod embedded {
    refinery::embed_migrations!("../../migrations/postgres");
}

/// Key of the session advisory lock held while migrating ("stockpulse migrate" as bytes,
/// truncated to 8). The engine's writer lock uses a different key.
pub const MIGRATION_LOCK_KEY: i64 = 0x7370_5f6d_6967_7261;

/// The table where refinery records applied migrations.
const HISTORY_TABLE: &str = "refinery_schema_history";

/// The newest migration version embedded in this binary.
pub fn known_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}

/// The newest migration version recorded in the database, `None` when it has none.
///
/// Uses the simple-query protocol, so it also works through a transaction-mode pooler.
pub async fn database_version(client: &Client) -> Result<Option<i64>, StoreError> {
    let exists = first_value(
        client,
        &format!("SELECT to_regclass('{HISTORY_TABLE}') IS NOT NULL"),
        "look for the migration history table",
    )
    .await?;
    if exists.as_deref() != Some("t") {
        return Ok(None);
    }
    let max = first_value(
        client,
        &format!("SELECT max(version) FROM {HISTORY_TABLE}"),
        "read the schema version",
    )
    .await?;
    max.map(|v| {
        v.parse::<i64>().map_err(|_| StoreError::Corrupt {
            what: format!("{HISTORY_TABLE}.version is not an integer: {v:?}"),
        })
    })
    .transpose()
}

/// Brings the store's schema up to this binary's migrations; see the module docs.
pub async fn migrate(client: &mut Client) -> Result<MigrationReport, StoreError> {
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .await
        .map_err(StoreError::query("take the migration lock"))?;
    let result = migrate_locked(client).await;
    let unlock = client
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .await
        .map_err(StoreError::query("release the migration lock"));
    let report = result?;
    unlock?;
    Ok(report)
}

async fn migrate_locked(client: &mut Client) -> Result<MigrationReport, StoreError> {
    let known = known_version();
    let previous = database_version(client).await?;
    MigrationReport::refuse_newer(previous, known)?;
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(client)
        .await
        .map_err(|source| StoreError::Migration { source })?;
    let applied = MigrationReport::applied(&report, "shared");
    let current = database_version(client).await?.unwrap_or(0);
    Ok(MigrationReport {
        applied,
        previous_version: previous,
        current_version: current,
        known_version: known,
    })
}

/// The first column of the first row of a simple query, as text.
async fn first_value(
    client: &Client,
    sql: &str,
    what: &'static str,
) -> Result<Option<String>, StoreError> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(StoreError::query(what))?;
    Ok(messages
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
            _ => None,
        })
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_timestamp_versioned_and_ordered() {
        let runner = embedded::migrations::runner();
        let versions: Vec<i64> = runner
            .get_migrations()
            .iter()
            .map(|m| m.version())
            .collect();
        assert!(!versions.is_empty());
        assert!(versions.contains(&20261123230000));
        for v in &versions {
            // yyyymmddhhmmss: 14 digits
            assert!((10_000_000_000_000..100_000_000_000_000).contains(v), "{v}");
        }
        assert_eq!(known_version(), *versions.iter().max().expect("non-empty"));
    }

    #[test]
    fn schema_too_new_message_is_the_documented_one() {
        let e = StoreError::SchemaTooNew {
            database: 20990101000000,
            known: 20261123230000,
        };
        assert_eq!(
            e.to_string(),
            "database schema version 20990101000000 is newer than this Stockpulse \
             (knows up to 20261123230000); upgrade Stockpulse"
        );
    }
}
