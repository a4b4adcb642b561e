//! The live mirror: LISTEN, catch-up on notification, reconnection.

use std::time::Duration;

use workstation::CacheState;
use workstation::events::{Event, Received};

use crate::support::Setup;

async fn wait_for_state(
    rx: &mut workstation::events::Subscriber,
    state: CacheState,
) -> workstation::CacheStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {state:?} status within 30 s"))
            .expect("bus open");
        if let Received::Event(e) = ev
            && let Event::Status(s) = e.event
            && s.state == state
        {
            return s;
        }
    }
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_mirror_applies_changes_on_notification_and_reconnects_after_losing_the_store() {
    let s = Setup::new(20).await;
    let mut m = s.mirror();
    let mut rx = m.bus().subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        m.run(async {
            let _ = stopped.await;
        })
        .await
    });
    wait_for_state(&mut rx, CacheState::Live).await;
    s.assert_converged().await;

    s.sql("UPDATE products SET name = 'Live edit' WHERE url = '/acme/api/product/3'")
        .await;
    let local = s.local();
    let name = || -> String {
        local
            .query_row(
                "SELECT name FROM products WHERE url = '/acme/api/product/3'",
                [],
                |r| r.get(0),
            )
            .unwrap_or_default()
    };
    wait_until(|| name() == "Live edit").await;

    // The store drops every connection of the mirror (a restart, a network cut).
    s.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    let offline = wait_for_state(&mut rx, CacheState::Offline).await;
    assert!(offline.message.is_some(), "offline says why");
    s.sql("DELETE FROM products WHERE url = '/acme/api/product/4'")
        .await;
    wait_for_state(&mut rx, CacheState::Live).await;
    let gone = || -> bool {
        local
            .query_row(
                "SELECT count(*) FROM products WHERE url = '/acme/api/product/4'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 0)
    };
    wait_until(gone).await;
    s.assert_converged().await;
    let _ = stop.send(());
    task.await.expect("join").expect("the mirror stops cleanly");
    let state: String = local
        .query_row("SELECT state FROM mirror_state", [], |r| r.get(0))
        .expect("state");
    assert!(["live", "offline", "catching_up"].contains(&state.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_a_live_mirror_reconnects_and_converges() {
    let cluster = crate::support::PrivateCluster::start();
    // This test's store lives on a server of its own: restarting it disturbs no one.
    let admin = store::pg::connect(&cluster.admin_url())
        .await
        .expect("connect");
    admin
        .batch_execute("CREATE DATABASE mirror_restart")
        .await
        .expect("create");
    drop(admin);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/mirror_restart",
        cluster.port
    );
    let mut client = store::pg::connect(&url).await.expect("connect");
    store::pg::migrate(&mut client).await.expect("migrate");
    drop(client);
    let client = store::pg::connect(&url).await.expect("connect");
    crate::support::seed(&client, 15).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("cache.db");
    let mut m = crate::support::mirror_of(&url, &path);
    let mut rx = m.bus().subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        m.run(async {
            let _ = stopped.await;
        })
        .await
    });
    wait_for_state(&mut rx, CacheState::Live).await;
    cluster.restart();
    wait_for_state(&mut rx, CacheState::Offline).await;
    let writer = store::pg::connect(&url).await.expect("reconnect");
    writer
        .batch_execute(
            "UPDATE products SET name = 'after restart' WHERE url = '/acme/api/product/1'",
        )
        .await
        .expect("write");
    wait_for_state(&mut rx, CacheState::Live).await;
    let local = rusqlite::Connection::open(&path).expect("cache");
    wait_until(|| {
        local
            .query_row(
                "SELECT name FROM products WHERE url = '/acme/api/product/1'",
                [],
                |r| r.get::<_, String>(0),
            )
            .is_ok_and(|n| n == "after restart")
    })
    .await;
    let _ = stop.send(());
    task.await.expect("join").expect("stops cleanly");
}
