//! The engine suites' harness: a simulator and client ([`stockpulse_tests::Setup`]), a fresh
//! store of either kind, and an engine over them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use engine::Strategy;
use engine::store::{Snapshot, Store};
use engine::sync::{Engine, NoProgress, RunReport, SyncSettings};
use stockpulse_tests::Pair;
use stockpulse_tests::truth::{Expect, compare, expected_snapshot_with};

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The local SQLite store, in a temporary file.
    Sqlite,
    /// The shared Postgres store, in a fresh database.
    Postgres,
}

/// A fresh, migrated store and what keeps it alive.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub kind: Kind,
    /// The database file's directory (SQLite).
    pub dir: Option<tempfile::TempDir>,
    /// The database (Postgres).
    pub db: Option<engine::testing::TestDb>,
}

impl TestStore {
    /// A fresh store of `kind`.
    pub async fn new(kind: Kind) -> TestStore {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = engine::sqlite::SqliteStore::open(dir.path().join("stockpulse.db"))
                    .expect("SQLite store opens");
                TestStore {
                    store: Arc::new(store),
                    kind,
                    dir: Some(dir),
                    db: None,
                }
            }
            Kind::Postgres => {
                let db = engine::testing::TestDb::migrated()
                    .await
                    .expect("test database");
                let store =
                    engine::pg::PgStore::connect(db.url(), engine::pg::PgOptions::default())
                        .await
                        .expect("Postgres store connects");
                TestStore {
                    store: Arc::new(store),
                    kind,
                    dir: None,
                    db: Some(db),
                }
            }
        }
    }

    /// A second handle on the same store (another engine, another workstation).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        match self.kind {
            Kind::Sqlite => {
                let path = self.dir.as_ref().expect("dir").path().join("stockpulse.db");
                Arc::new(engine::sqlite::SqliteStore::open(&path).expect("reopen"))
            }
            Kind::Postgres => Arc::new(
                engine::pg::PgStore::connect(
                    self.db.as_ref().expect("db").url(),
                    engine::pg::PgOptions::default(),
                )
                .await
                .expect("reconnect"),
            ),
        }
    }
}

/// An engine over the pair's client and `store`.
pub fn engine(pair: &Pair, store: Arc<dyn Store>, runner: &str) -> Engine {
    Engine::new(pair.client.clone(), store, SyncSettings::default(), runner)
}

/// Runs a strategy without progress output; panics on failure.
pub async fn run(engine: &Engine, s: Strategy) -> RunReport {
    match engine.run(s, &NoProgress).await {
        Ok(r) => r,
        Err(e) => panic!("{s} run failed: {e}"),
    }
}

/// The simulator's truth as of the client's now.
pub fn truth(pair: &Pair, expect: &Expect) -> Snapshot {
    let now: DateTime<Utc> = pair.config.clock.now();
    let ds = pair.sim.dataset();
    let ds = ds.read().expect("dataset lock");
    expected_snapshot_with(&ds, now, expect)
}

/// Asserts that the store holds exactly the simulator's truth.
pub async fn assert_store_is_truth(pair: &Pair, store: &dyn Store, expect: &Expect) {
    let actual = store.snapshot().await.expect("snapshot");
    let expected = truth(pair, expect);
    let diffs = compare(&expected, &actual);
    assert!(
        diffs.is_empty(),
        "the store differs from the simulator's truth:\n{}",
        diffs.join("\n")
    );
}

/// Generates one test per store kind from `async fn name(kind: Kind)`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        pub mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Kind::Sqlite).await;
                }
            )*
        }
        pub mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Kind::Postgres).await;
                }
            )*
        }
    };
}
