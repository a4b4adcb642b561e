//! Opening the local store: one configured `rusqlite::Connection`.
//!
//! SQLite settings that matter to Stockpulse, and why:
//! - `journal_mode=WAL`: a reader (the CLI's `status`, the desktop UI) never blocks the
//!   engine's writer and vice versa. It is persistent (stored in the file), but [`open()`]
//!   sets and checks it every time: a file that cannot do WAL (some network file systems) is
//!   refused with a clear error rather than silently running in another mode.
//! - `synchronous=NORMAL`: with WAL, a power cut may lose the last transactions but never
//!   corrupts the file; the engine's resumable plan makes losing them harmless.
//! - `foreign_keys=ON`: per connection and off by default in SQLite; the owned-children
//!   tables rely on `ON DELETE CASCADE`.
//! - busy timeout ([`BUSY_TIMEOUT`]): a second connection that wants the write lock waits
//!   instead of failing at once with `SQLITE_BUSY`.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How long a connection waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the local store at `path` and configures the connection; see
/// the module docs. Does not migrate: call [`super::migrate()`] next.
pub fn open(path: impl AsRef<Path>) -> Result<Connection, StoreError> {
    let path = path.as_ref();
    let fail = |what: &'static str| {
        move |source| StoreError::SqliteOpen {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let conn = Connection::open(path).map_err(fail("open the database file"))?;
    // Wait for other connections before the first statement: switching a fresh file to WAL
    // takes a write lock, and two processes opening a new store at once (`sync` and `status`)
    // would otherwise see SQLITE_BUSY at once instead of waiting.
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(fail("set the busy timeout"))?;
    // SQLite does not call the busy handler while another connection converts a fresh file
    // to WAL, so a concurrent opener retries for as long as the busy timeout.
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other.map_err(fail("switch to WAL journal mode"))?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::SqliteOpen {
            path: path.to_path_buf(),
            what: "the file system does not support WAL journal mode",
            source: rusqlite::Error::InvalidQuery,
        });
    }
    configure(&conn).map_err(fail("configure the connection"))?;
    Ok(conn)
}

/// A fresh, private in-memory store (for tests): configured like [`open()`] except the
/// journal (an in-memory database has no WAL). Each call is a new, empty database.
pub fn open_in_memory() -> Result<Connection, StoreError> {
    let fail = |what: &'static str| {
        move |source| StoreError::SqliteOpen {
            path: ":memory:".into(),
            what,
            source,
        }
    };
    let conn = Connection::open_in_memory().map_err(fail("open an in-memory database"))?;
    configure(&conn).map_err(fail("configure the connection"))?;
    Ok(conn)
}

/// The per-connection settings shared by [`open()`] and [`open_in_memory()`].
fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A 64 MiB page cache (the default is 2 MiB): a large account's store holds ~1.7 M rows,
    // and index pages that stay cached make both the engine's upserts and the app's queries
    // cheaper. Memory is taken only as pages are used.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Checkpoint the WAL every 64 MiB instead of every 4 MiB: a load commits a batch every
    // few hundred records, and frequent checkpoints copy the same hot index pages into the
    // database file again and again (measured: the large full load's write path went from
    // 0.46x to 0.61x of a single-transaction bulk insert). The WAL file may grow to ~64 MiB.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |row| row.get(0))?;
    if fk != 1 {
        // A SQLite built without foreign-key support: the cascades would silently not run.
        return Err(rusqlite::Error::InvalidQuery);
    }
    Ok(())
}
