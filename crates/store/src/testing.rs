//! Test harness: one fresh, throwaway Postgres database per test (feature `testing`).
//!
//! - The server comes from `TEST_DATABASE_URL` (a `postgres://` URL of a role allowed to
//!   `CREATE DATABASE`), default [`DEFAULT_TEST_DATABASE_URL`] (the machine's local server,
//!   trust auth).
//! - [`TestDb::new`] creates `sp_<random hex>` on that server and connects to it;
//!   [`TestDb::migrated`] also applies the migrations. Tests run in parallel without
//!   seeing each other's data.
//! - Dropping a [`TestDb`] drops its database (`WITH (FORCE)`, so open connections do not
//!   block it), unless `KEEP_TEST_DB=1`, in which case the name is logged and the database
//!   kept for inspection. Drop runs the cleanup on a helper thread with its own runtime, so
//!   it works from inside `#[tokio::test]` and from plain code alike.
//!
//! Later suites (engine, CLI, end-to-end) use it the same way:
//!
//! ```no_run
//! # async fn demo() -> Result<(), store::StoreError> {
//! let db = store::testing::TestDb::migrated().await?;
//! let rows = db.client().query_typed("SELECT count(*) FROM products", &[]).await;
//! # let _ = rows; Ok(()) }
//! ```

use tokio_postgres::Client;

use crate::pg::{connect, migrate};
use crate::{MigrationReport, StoreError};

/// The server used when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL: `TEST_DATABASE_URL` or [`DEFAULT_TEST_DATABASE_URL`].
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Whether `KEEP_TEST_DB=1` asks to keep test databases.
pub fn keep_test_db() -> bool {
    std::env::var("KEEP_TEST_DB").is_ok_and(|v| v == "1")
}

/// A fresh database, dropped when this value is dropped (see the module docs).
#[derive(Debug)]
pub struct TestDb {
    /// `sp_<16 hex digits>`: safe to splice into SQL unquoted.
    name: String,
    /// URL of the test database (the admin URL with the database replaced).
    url: String,
    /// URL of the server's admin database, to drop the test database from.
    admin_url: String,
    /// A connection to the test database.
    client: Option<Client>,
}

impl TestDb {
    /// Creates an empty database and connects to it.
    pub async fn new() -> Result<TestDb, StoreError> {
        let admin_url = admin_url();
        let name = format!("sp_{:016x}", rand::random::<u64>());
        let url = database_url(&admin_url, &name)?;
        let admin = connect(&admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(StoreError::query("create a test database"))?;
        drop(admin);
        let mut db = TestDb {
            name,
            url,
            admin_url,
            client: None,
        };
        // If connecting fails, `db` is dropped here and so is the new database.
        db.client = Some(connect(&db.url).await?);
        Ok(db)
    }

    /// Creates a database and applies every migration.
    pub async fn migrated() -> Result<TestDb, StoreError> {
        let mut db = TestDb::new().await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations to this database.
    pub async fn migrate(&mut self) -> Result<MigrationReport, StoreError> {
        migrate(self.client_mut()).await
    }

    /// The database's name (`sp_…`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for more connections to this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection opened by [`TestDb::new`].
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the client is only taken in Drop")
    }

    /// The connection, mutably (transactions and migrations need `&mut`).
    pub fn client_mut(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("the client is only taken in Drop")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.client.take());
        if keep_test_db() {
            tracing::info!(database = %self.name, url = %redacted(&self.url), "KEEP_TEST_DB=1: keeping test database");
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let admin = connect(&admin_url).await.map_err(|e| e.to_string())?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(database = %self.name, %error, "could not drop test database");
            }
            Err(_) => tracing::warn!(database = %self.name, "test database cleanup panicked"),
        }
    }
}

/// `admin_url` with its database path replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> Result<String, StoreError> {
    let mut url = url::Url::parse(admin_url).map_err(|e| StoreError::InvalidUrl {
        reason: format!("TEST_DATABASE_URL is not a postgres:// URL ({e})"),
    })?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// A URL with its password replaced, for logs.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                // Infallible for URLs with a host, which a postgres URL with a password has.
                let _ = u.set_password(Some("***"));
            }
            u.into()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_only_the_database() {
        let u = database_url("postgres://me:pw@db:6000/postgres?sslmode=disable", "sp_ab")
            .expect("url");
        assert_eq!(u, "postgres://me:pw@db:6000/sp_ab?sslmode=disable");
        assert!(database_url("nonsense", "sp_ab").is_err());
    }

    #[test]
    fn redacted_hides_the_password() {
        assert_eq!(
            redacted("postgres://me:secret@db/x"),
            "postgres://me:***@db/x"
        );
        assert_eq!(redacted("postgres://me@db/x"), "postgres://me@db/x");
    }
}
