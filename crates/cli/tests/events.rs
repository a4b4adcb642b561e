//! In the embedded default, `stockpulse sync` turns what it wrote into domain events and
//! alerts itself: nobody has to run `watch` for a stockout to be recorded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use chrono::Duration;
use common::{Target, run_ok, sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_in_the_embedded_default_derives_its_events_without_a_watcher() {
    let (sim, cfg) = sim(41).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let target = Target::Sqlite(&path);
    run_ok(&sim, &cfg, &target, &["sync", "--strategy", "full"]).await;
    let conn = workstation::local::open_existing(&path).unwrap();
    let pending = |conn: &workstation::query::Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM event_journal", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(pending(&conn), 0, "the full load's journal was consumed");
    let first = workstation::events::last_seq(&conn).unwrap();
    let alerts = workstation::events::active_alerts(&conn).unwrap();
    assert!(
        alerts.is_empty(),
        "a first fill raises no alerts: {alerts:?}"
    );

    // Hours of sales move stock; the stock pulse syncs them and derives the events.
    sim.step_live(Duration::hours(8));
    run_ok(&sim, &cfg, &target, &["sync", "--strategy", "stock"]).await;
    assert_eq!(pending(&conn), 0);
    let events = workstation::events::read_after(&conn, first, 10_000).unwrap();
    assert!(
        events.iter().any(|e| e.event.kind() == "stock_changed"),
        "{:?}",
        events.iter().map(|e| e.event.kind()).collect::<Vec<_>>()
    );
    assert!(
        events.iter().any(|e| e.event.kind() == "sync_finished"),
        "the run itself is an event"
    );
}
