//! Store errors: one enum, classified, and free of secrets.
//!
//! Secrets rule: a database URL may carry a password. No variant stores the URL; messages
//! name the target as `user@host:port/db` only. Errors from `tokio-postgres` are kept as
//! sources where their text is fixed by the library (connect, TLS, queries: none of them
//! echoes the configuration); URL parse failures are turned into a redacted `reason` string
//! instead, because a parser may quote the input it rejects.

use tokio_postgres::error::SqlState;

/// Everything that can go wrong between Stockpulse and its store (the shared Postgres one or
/// the local SQLite one: both implement the same store, so they share one error type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL could not be understood. `reason` never contains the password.
    #[error("invalid database URL: {reason}")]
    InvalidUrl {
        /// What is wrong, with any password redacted.
        reason: String,
    },

    /// The TLS connector could not be built (e.g. an unreadable `sslrootcert`).
    #[error("cannot set up TLS for {target}: {what}")]
    TlsSetup {
        /// `user@host:port/db`, no password.
        target: String,
        /// What failed.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// TLS was required (`sslmode=require`/`verify-*`) but the handshake failed or the server
    /// does not offer TLS.
    #[error("TLS connection to {target} failed (sslmode={sslmode})")]
    Tls {
        /// `user@host:port/db`, no password.
        target: String,
        /// The `sslmode` in effect.
        sslmode: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server rejected the credentials or the role.
    #[error("Postgres at {target} rejected the login (wrong user or password?)")]
    Auth {
        /// `user@host:port/db`, no password.
        target: String,
        /// The driver's error (the server's message).
        #[source]
        source: tokio_postgres::Error,
    },

    /// The database named in the URL does not exist.
    #[error("database does not exist at {target}")]
    NoSuchDatabase {
        /// `user@host:port/db`, no password.
        target: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// Any other failure to establish the connection (unreachable host, refused, timeout).
    #[error("cannot connect to Postgres at {target}")]
    Connect {
        /// `user@host:port/db`, no password.
        target: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The database has migrations this binary does not know: another workstation runs a
    /// newer Stockpulse.
    #[error(
        "database schema version {database} is newer than this Stockpulse (knows up to {known}); upgrade Stockpulse"
    )]
    SchemaTooNew {
        /// Highest migration version recorded in the database.
        database: i64,
        /// Highest migration version embedded in this binary.
        known: i64,
    },

    /// refinery failed to apply or verify migrations (SQL error, a shipped file edited, a
    /// migration missing from this binary).
    #[error("database migration failed")]
    Migration {
        /// refinery's error.
        #[source]
        source: refinery::Error,
    },

    /// A statement failed.
    #[error("store query failed: {what}")]
    Query {
        /// What the statement was for.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The local SQLite store could not be opened or configured (missing directory, not a
    /// database, WAL unavailable).
    #[error("cannot open the local SQLite store at {path}: {what}")]
    SqliteOpen {
        /// The database file (a local path: not a secret).
        path: std::path::PathBuf,
        /// What failed.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },

    /// A statement on the local SQLite store failed.
    #[error("local store query failed: {what}")]
    Sqlite {
        /// What the statement was for.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },

    /// Another engine holds the writer role (a Postgres advisory lock, or the local store's
    /// lock file).
    #[error("another Stockpulse engine is writing to this store: {holder}")]
    WriterBusy {
        /// Who holds it (`host:pid (purpose)`), or "unknown" when it cannot be told.
        holder: String,
    },

    /// This engine's lease on the writer role expired (it was frozen or cut off for longer
    /// than its TTL) and another engine took the role over: the write was refused and
    /// nothing of it was stored.
    #[error(
        "lost the writer role to {holder}: this engine's lease expired and was taken over; nothing more was written"
    )]
    LostWriterRole {
        /// Who holds the role now (`host:pid (purpose)`), or "nobody".
        holder: String,
    },

    /// A lock file of the local store (`<database>.writer.lock`, the writer role;
    /// `<database>.migrate.lock`, migrations) could not be opened, locked or written
    /// (permissions, a read-only directory).
    #[error("cannot use the lock file {path}: {what}")]
    LockFile {
        /// The lock file (a local path: not a secret).
        path: std::path::PathBuf,
        /// What failed.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A value read from the store did not have the expected shape.
    #[error("unexpected value in the store: {what}")]
    Corrupt {
        /// What was unexpected.
        what: String,
    },
}

impl StoreError {
    /// Whether trying again later may succeed without changing anything (network trouble,
    /// a closed connection, a serialization failure or deadlock).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            StoreError::Query { source, .. } => {
                source.is_closed()
                    || matches!(
                        source.code(),
                        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
                            || *c == SqlState::T_R_DEADLOCK_DETECTED
                            || *c == SqlState::ADMIN_SHUTDOWN
                            || *c == SqlState::CANNOT_CONNECT_NOW
                    )
            }
            _ => false,
        }
    }

    /// Whether this is a violated constraint (a CHECK, NOT NULL, unique or foreign key):
    /// the data is wrong, not the connection; quarantine the record and go on.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            StoreError::Query { source, .. } => {
                source.code().is_some_and(|c| c.code().starts_with("23"))
            }
            StoreError::Sqlite { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            }
            _ => false,
        }
    }

    pub(crate) fn sqlite(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Sqlite { what, source }
    }

    pub(crate) fn query(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
        move |source| StoreError::Query { what, source }
    }
}
