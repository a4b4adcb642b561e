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
    /// The mirror cannot go on: the store's or the cache's data or schema is not what it
    /// needs (a store that predates the change feed, a cache without a position, a corrupt
    /// tombstone), or one of its worker threads failed.
    #[error("mirror: {0}")]
    Mirror(String),
    /// The connection to the shared store was lost.
    #[error("lost the connection to the shared store: {0}")]
    Disconnected(String),
    /// No product with this SKU or URL in the local store.
    #[error("no item {0} in the local store")]
    NotFound(String),
}

impl CacheError {
    /// Whether retrying cannot help (a wrong password, a bad URL, no such database): a
    /// mirror stops instead of retrying forever. A store newer than this binary is *not*
    /// such an error: the cache keeps serving and the mirror retries (an upgrade fixes it).
    pub fn ends_mirror(&self) -> bool {
        matches!(
            self,
            Self::Store(
                store::StoreError::Auth { .. }
                    | store::StoreError::NoSuchDatabase { .. }
                    | store::StoreError::InvalidUrl { .. }
                    | store::StoreError::TlsSetup { .. }
            )
        )
    }

    /// A closure for `map_err` on SQLite results.
    pub fn sqlite(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { what, source }
    }

    /// A closure for `map_err` on Postgres results.
    pub fn postgres(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Postgres { what, source }
    }
}
