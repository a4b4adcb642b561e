//! Helpers shared by the test modules.

use store::testing::TestDb;

/// A 32-byte content hash made from one byte.
pub fn hash(b: u8) -> Vec<u8> {
    vec![b; 32]
}

/// A fresh, migrated database.
pub async fn db() -> TestDb {
    TestDb::migrated()
        .await
        .expect("fresh migrated test database")
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(err: &tokio_postgres::Error) -> String {
    err.code()
        .map(|c| c.code().to_owned())
        .unwrap_or_else(|| format!("no sqlstate: {err}"))
}
