//! The one error type of the workstation cache.

use std::path::PathBuf;

/// What went wrong in the workstation cache. Messages never contain secrets (database URLs
/// are described by the store's own errors, which leave credentials out).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The shared or the local store failed (connection, migration, query).
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A SQLite statement of the cache failed.
    #[error("local cache: could not {what}: {source}")]
    Sqlite {
        /// What the cache was doing.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A Postgres statement of the mirror failed.
    #[error("shared store: could not {what}: {source}")]
    Postgres {
        /// What the mirror was doing.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The local store file does not exist (commands that only read never create it).
    #[error(
        "no local store at {}: run `stockpulse sync` (embedded) or `stockpulse mirror` first",
        path.display()
    )]
    NoLocalStore {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// A caller's input was refused (a bad search, an unknown sort field, a bad page cursor).
    #[error("{0}")]
    InvalidInput(String),
    /// No product with this SKU or URL in the local store.
    #[error("no item {0} in the local store")]
    NotFound(String),
}

impl CacheError {
    /// A closure for `map_err` on SQLite results.
    pub fn sqlite(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { what, source }
    }

    /// A closure for `map_err` on Postgres results.
    pub fn postgres(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Postgres { what, source }
    }
}
