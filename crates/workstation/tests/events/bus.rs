//! The bus and the follow loop: a slow subscriber never blocks the writer or the deriver.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::oneshot;
use workstation::events::{
    self, Bus, Envelope, Event, FollowOptions, Follower, Received, Since, SyncStarted,
};

use crate::support::{Db, one_item, stock_on};

fn envelope(seq: Option<i64>, run_id: i64) -> Envelope {
    Envelope {
        seq,
        at: Utc::now(),
        event: Event::SyncStarted(SyncStarted {
            run_id,
            strategy: "smart".into(),
            started_at: None,
            runner: None,
        }),
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_told_what_it_missed_and_goes_on() {
    let bus = Bus::new(8);
    let mut slow = bus.subscribe();
    let mut fast = bus.subscribe();
    let mut fast_seen = 0;
    for i in 1..=100 {
        // Publishing never waits, whoever is not reading.
        assert!(bus.publish(envelope(Some(i), i)));
        while let Some(Received::Event(_)) = fast.try_recv() {
            fast_seen += 1;
        }
    }
    assert_eq!(fast_seen, 100, "a subscriber that keeps up sees everything");
    assert_eq!(slow.recv().await, Some(Received::Lagged { missed: 92 }));
    let Some(Received::Event(e)) = slow.recv().await else {
        panic!()
    };
    assert_eq!(e.seq, Some(93), "it continues with the oldest still held");
    drop(bus);
    let mut rest = 0;
    while let Some(r) = slow.recv().await {
        assert!(matches!(r, Received::Event(_)));
        rest += 1;
    }
    assert_eq!(rest, 7);
}

#[tokio::test]
async fn logged_events_are_published_once_in_seq_order() {
    let bus = Bus::default();
    let mut sub = bus.subscribe();
    assert!(bus.publish(envelope(Some(5), 1)));
    assert!(!bus.publish(envelope(Some(5), 1)), "the same seq twice");
    assert!(!bus.publish(envelope(Some(3), 1)), "an older seq");
    assert!(
        bus.publish(envelope(None, 2)),
        "unlogged events always pass"
    );
    assert!(bus.publish(envelope(None, 2)));
    assert_eq!(bus.last_seq(), Some(5));
    let mut n = 0;
    while sub.try_recv().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
}

async fn next_event(sub: &mut events::Subscriber) -> Envelope {
    // A guard against a hang, not a timing assertion.
    loop {
        match tokio::time::timeout(Duration::from_secs(30), sub.recv()).await {
            Ok(Some(Received::Event(e))) => return e,
            Ok(Some(Received::Lagged { .. })) => continue,
            other => panic!("no event: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_derives_hand_edits_and_a_slow_subscriber_does_not_block_it() {
    let db = one_item();
    let bus = Bus::new(4);
    let _never_reads = bus.subscribe();
    let mut sub = bus.subscribe();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(events::follow_with(
        db.path.clone(),
        bus.clone(),
        Since::Now,
        FollowOptions {
            poll_interval: Duration::from_millis(5),
            ..FollowOptions::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));

    // A stockout edited by hand in another connection reaches the subscriber.
    let writer = db.connect();
    stock_on(&writer, "/p/1", "/f/main", 0.0, 0.0);
    let e = next_event(&mut sub).await;
    assert_eq!(e.event.kind(), "stock_changed");
    assert!(e.seq.is_some());

    // Many more changes while one subscriber never reads: derivation goes on (the journal
    // drains and the log grows), the reading subscriber hears of what it missed.
    for i in 0..200 {
        stock_on(&writer, "/p/1", "/f/main", f64::from(i + 1), 0.0);
    }
    let journal_drained = async {
        loop {
            let (journal, changes): (i64, i64) = writer
                .query_row(
                    "SELECT (SELECT count(*) FROM event_journal),
                            (SELECT count(*) FROM cache_events WHERE type = 'stock_changed')",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            if journal == 0 && changes > 1 {
                let last: f64 = writer
                    .query_row(
                        "SELECT on_hand FROM event_levels WHERE product_url = '/p/1'
                            AND location_url = '/f/main'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                if last == 200.0 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), journal_drained)
        .await
        .expect("the deriver kept up");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[test]
fn a_tail_without_deriving_reads_what_another_process_derived() {
    let mut db = one_item();
    let mut tail = Follower::new(db.connect(), Since::Now).unwrap();
    tail.set_derive(false);
    assert!(tail.poll(Utc::now()).unwrap().is_empty());
    db.stock("/p/1", "/f/main", 0.0, 0.0);
    // Not derived yet: the tail does not derive, the journal waits.
    assert!(tail.poll(Utc::now()).unwrap().is_empty());
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 1);
    let derived = db.derive();
    let read: Vec<_> = tail
        .poll(Utc::now())
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(read, derived);
    // Nothing new: nothing read.
    assert!(tail.poll(Utc::now()).unwrap().is_empty());

    // Since::After reads from a given seq.
    let mut from_start = Follower::new(db.connect(), Since::After(0)).unwrap();
    assert_eq!(from_start.poll(Utc::now()).unwrap().len(), derived.len());
    let _ = Db::new;
}
