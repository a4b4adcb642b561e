//! `PgStore` behind a real transaction-mode pooler, the way Supabase's pooler (Supavisor,
//! port 6543) serves it: a private PgBouncer ([`pgbouncer`]) with `pool_mode = transaction`,
//! two server sessions per database, TLS required from clients (`sslmode=require`).
//!
//! - **Negative controls** first prove the harness is what it claims: a named prepared
//!   statement does not follow its client to the next transaction, a `SET` stays behind
//!   with the server session (and leaks to another client), a session advisory lock
//!   outlives the clients that took it, and a plaintext client is refused. Each control
//!   pins sessions with open transactions, so the outcome is deterministic, not luck.
//! - **The conformance suite** (`store::conformance`) then runs through the pooler: every
//!   check on a fresh database, migrated over the *direct* URL, and a store whose pool
//!   goes through the pooler while its writer lock uses the direct URL
//!   ([`PgOptions::lock_url`]), which is the documented Supabase setup.
//! - **The writer role** through the pooler: taken over the direct lock URL, and a second
//!   store is told who holds it (both through the pooler's `pg_locks` view and on its own
//!   failed attempt).
//!
//! Every test starts its own PgBouncer (a few milliseconds) and kills it on drop.

#![cfg(unix)]

mod pgbouncer;

use std::future::Future;
use std::time::Duration;

use store::StoreError;
use store::pg::{PgOptions, PgStore};
use store::testing::TestDb;
use store::{Store, WriterInfo};
use tokio_postgres::Client;

use crate::support::sqlstate;
use pgbouncer::Pgbouncer;

/// Server sessions per database in the pooler: small, so transactions of different clients
/// really share sessions.
const POOL_SIZE: u32 = 2;

/// A store as a Supabase user configures it: the pool through the pooler, the writer lock
/// over the direct URL.
async fn pooled_store(pooler: &Pgbouncer, db: &TestDb) -> PgStore {
    PgStore::connect(
        &pooler.url(db.name()),
        PgOptions {
            lock_url: Some(db.url().to_owned()),
            ..PgOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("store through the pooler: {e:?}\n{}", pooler.log()))
}

/// A raw client through the pooler.
async fn pooled_client(pooler: &Pgbouncer, db: &TestDb) -> Client {
    store::connect(&pooler.url(db.name()))
        .await
        .unwrap_or_else(|e| panic!("client through the pooler: {e:?}\n{}", pooler.log()))
}

/// `fut`, or a panic naming `what` after 10 s. A pooler that pinned sessions to clients
/// (session mode) would make the controls below wait forever for a free session.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no server session after 10 s (not transaction mode?)"))
}

/// The server process serving `client`'s current transaction.
async fn backend_pid(client: &Client) -> i32 {
    within(
        "pg_backend_pid",
        client.query_typed_one("SELECT pg_backend_pid()", &[]),
    )
    .await
    .expect("pg_backend_pid")
    .get(0)
}

async fn sql(client: &Client, text: &str) {
    within(text, client.batch_execute(text))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
}

fn me(runner: &str, purpose: &str) -> WriterInfo {
    WriterInfo {
        runner: runner.into(),
        purpose: purpose.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Negative controls: the harness really is a transaction pooler.

/// X holds session 1 in a transaction, so P's named statement is prepared on session 2 and
/// works there; Z's transaction then takes session 2 (the only free one), so once X commits,
/// P's next statement runs on session 1, where its prepared statement does not exist.
#[tokio::test]
async fn a_named_prepared_statement_does_not_follow_its_client() {
    let db = TestDb::new().await.expect("test db");
    let pooler = Pgbouncer::start(POOL_SIZE).await;
    let x = pooled_client(&pooler, &db).await;
    let p = pooled_client(&pooler, &db).await;
    let z = pooled_client(&pooler, &db).await;

    sql(&x, "BEGIN").await;
    let session_1 = backend_pid(&x).await;
    let statement = within("prepare", p.prepare("SELECT pg_backend_pid()"))
        .await
        .expect("prepare a named statement");
    let session_2: i32 = within("execute", p.query_one(&statement, &[]))
        .await
        .expect("the statement works on the session it was prepared on")
        .get(0);
    assert_ne!(session_1, session_2);

    sql(&z, "BEGIN").await;
    assert_eq!(
        backend_pid(&z).await,
        session_2,
        "Z got P's session\n{}",
        pooler.log()
    );
    sql(&x, "COMMIT").await;
    let err = within("execute again", p.query_one(&statement, &[]))
        .await
        .expect_err("P now runs on session 1, which never saw the statement");
    // invalid_sql_statement_name: prepared statement "s0" does not exist
    assert_eq!(sqlstate(&err), "26000", "{err}");
    sql(&z, "COMMIT").await;
}

/// The same pinning with a `SET`: it stays behind on the session, where another client
/// sees it, while its own client no longer does.
#[tokio::test]
async fn a_session_setting_stays_with_the_server_session() {
    let db = TestDb::new().await.expect("test db");
    let pooler = Pgbouncer::start(POOL_SIZE).await;
    let x = pooled_client(&pooler, &db).await;
    let p = pooled_client(&pooler, &db).await;
    let z = pooled_client(&pooler, &db).await;

    sql(&x, "BEGIN").await;
    let default = show_work_mem(&x).await;
    assert_ne!(default, "17MB");
    sql(&p, "SET work_mem = '17MB'").await;
    assert_eq!(show_work_mem(&p).await, "17MB");

    sql(&z, "BEGIN").await;
    assert_eq!(
        show_work_mem(&z).await,
        "17MB",
        "Z inherited P's setting with P's session"
    );
    sql(&x, "COMMIT").await;
    assert_eq!(
        show_work_mem(&p).await,
        default,
        "P lost its own setting: it now runs on X's session"
    );
    sql(&z, "COMMIT").await;
}

async fn show_work_mem(client: &Client) -> String {
    within("SHOW work_mem", client.simple_query("SHOW work_mem"))
        .await
        .expect("SHOW work_mem")
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("a row")
}

/// With one server session, two clients both "take" the same session advisory lock (it is
/// the session's, and session locks nest), and it outlives both clients: a direct
/// connection still cannot take it. This is why the writer lock needs a direct URL.
#[tokio::test]
async fn a_session_advisory_lock_belongs_to_the_server_session() {
    let db = TestDb::new().await.expect("test db");
    let pooler = Pgbouncer::start(1).await;
    let try_lock = async |c: &Client| -> bool {
        within(
            "pg_try_advisory_lock",
            c.query_typed_one("SELECT pg_try_advisory_lock(4242)", &[]),
        )
        .await
        .expect("pg_try_advisory_lock")
        .get(0)
    };
    let a = pooled_client(&pooler, &db).await;
    let b = pooled_client(&pooler, &db).await;
    assert!(try_lock(&a).await);
    assert!(try_lock(&b).await, "B got the lock A \"holds\"");
    drop(a);
    drop(b);
    // Give the pooler a moment to see both clients go: it keeps the server session.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let direct = store::connect(db.url()).await.expect("direct client");
    assert!(
        !try_lock(&direct).await,
        "the lock outlived both clients, held by the pooler's session"
    );
}

/// Like Supabase's pooler, this one refuses plaintext clients; `sslmode=require` works.
#[tokio::test]
async fn the_pooler_requires_tls() {
    let db = TestDb::new().await.expect("test db");
    let pooler = Pgbouncer::start(POOL_SIZE).await;
    let err = PgStore::connect(&pooler.plaintext_url(db.name()), PgOptions::default())
        .await
        .expect_err("a plaintext client is refused");
    match &err {
        StoreError::Connect { source, .. } => assert_eq!(
            source.as_db_error().map(|e| e.message()),
            Some("SSL required"),
            "{err:?}"
        ),
        other => panic!("expected Connect, got {other:?}"),
    }
    let client = pooled_client(&pooler, &db).await;
    sql(&client, "SELECT 1").await;
    assert!(
        pooler.log().contains(&format!("db={} user=", db.name()))
            && pooler.log().contains("tls=TLSv1."),
        "the pooler logged a TLS login\n{}",
        pooler.log()
    );
}

// ---------------------------------------------------------------------------------------------
// The store through the pooler.

mod conformance {
    //! The store conformance suite through the pooler (see the parent module).

    use super::{POOL_SIZE, Pgbouncer, pooled_store};

    store::conformance_tests!(async || {
        // Migrated over the direct URL: migrations take a session lock.
        let db = store::testing::TestDb::migrated()
            .await
            .expect("fresh migrated test database");
        let pooler = Pgbouncer::start(POOL_SIZE).await;
        let store = pooled_store(&pooler, &db).await;
        // The pooler dies first, then the database; the store's clients are dead by then.
        ((pooler, db), store)
    });
}

/// The writer lock over the direct URL while everything else goes through the pooler: the
/// role is exclusive, a second store is told who holds it (also when it asks through the
/// pooler), and a release hands it over at once.
#[tokio::test]
async fn the_writer_role_through_the_pooler_with_a_direct_lock_url() {
    let db = crate::support::db().await;
    let pooler = Pgbouncer::start(POOL_SIZE).await;
    let a = pooled_store(&pooler, &db).await;
    let b = pooled_store(&pooler, &db).await;

    let lease = a
        .acquire_writer(&me("host-a:101", "smart"), None)
        .await
        .expect("writer role");
    match b.acquire_writer(&me("host-b:202", "full"), None).await {
        Err(StoreError::WriterBusy { holder }) => assert_eq!(holder, "host-a:101 (smart)"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    let started = tokio::time::Instant::now();
    assert!(matches!(
        b.acquire_writer(&me("host-b:202", "full"), Some(Duration::from_millis(600)))
            .await,
        Err(StoreError::WriterBusy { holder }) if holder == "host-a:101 (smart)"
    ));
    assert!(started.elapsed() >= Duration::from_millis(500));
    // Asked through the pooler, whichever server session answers.
    for _ in 0..4 {
        assert_eq!(
            b.writer_holder().await.expect("holder").as_deref(),
            Some("host-a:101 (smart)")
        );
    }
    // The holder keeps working through the pooler meanwhile.
    let run = a
        .begin_run(store::Strategy::Smart, "host-a:101", chrono::Utc::now())
        .await
        .expect("a run through the pooler");
    a.finish_run(run, &Default::default())
        .await
        .expect("finish the run");

    lease.release().await;
    assert_eq!(b.writer_holder().await.expect("holder"), None);
    let lease = b
        .acquire_writer(&me("host-b:202", "full"), None)
        .await
        .expect("free at once after the release");
    match a.acquire_writer(&me("host-a:101", "smart"), None).await {
        Err(StoreError::WriterBusy { holder }) => assert_eq!(holder, "host-b:202 (full)"),
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    lease.release().await;
}
