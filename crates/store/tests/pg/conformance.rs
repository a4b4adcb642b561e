//! The store conformance suite (`store::conformance`) on [`PgStore`]: every check on a fresh,
//! migrated database of its own, through a default pool.

use store::pg::{PgOptions, PgStore};

store::conformance_tests!(async || {
    let db = store::testing::TestDb::migrated()
        .await
        .expect("fresh migrated test database");
    let store = PgStore::connect(db.url(), PgOptions::default())
        .await
        .expect("store connects");
    // The store's connections are closed by the database's forced drop.
    (db, store)
});
