//! One writer: two engines against one store.

use std::time::Duration;

use engine::Strategy;
use engine::store::WriterInfo;
use engine::sync::{NoProgress, SyncError, SyncSettings};
use finale_sim::{Fault, FaultPlan, Size};
use stockpulse_tests::Setup;

use crate::support::{Kind, TestStore, engine, run};

async fn a_second_engine_is_told_who_writes(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let other = ts.reopen().await;
    let lease = ts
        .store
        .acquire_writer(
            &WriterInfo {
                runner: "workstation-a:4242".into(),
                purpose: "full".into(),
            },
            None,
        )
        .await
        .expect("first writer");
    let b = engine(&pair, other.clone(), "workstation-b:7");
    match b.run(Strategy::Full, &NoProgress).await {
        Err(SyncError::WriterBusy { holder }) => {
            assert!(holder.contains("workstation-a:4242"), "{holder}")
        }
        other => panic!("expected WriterBusy, got {other:?}"),
    }
    assert!(
        other.recent_runs(5).await.expect("runs").is_empty(),
        "a refused run leaves no row"
    );
    lease.release().await;
    let r = run(&b, Strategy::Full).await;
    assert!(r.metrics.success);
    pair.sim.shutdown().await;
}

async fn two_engines_at_once_exactly_one_writes(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    // Slow the first responses so that the two runs overlap.
    pair.sim
        .inject(FaultPlan::new(Fault::Slow(Duration::from_millis(300)), 4));
    let ts = TestStore::new(kind).await;
    let a = engine(&pair, ts.store.clone(), "engine-a");
    let b = engine(&pair, ts.reopen().await, "engine-b");
    let (ra, rb) = tokio::join!(
        a.run(Strategy::Full, &NoProgress),
        b.run(Strategy::Full, &NoProgress)
    );
    let busy = |r: &Result<_, SyncError>| matches!(r, Err(SyncError::WriterBusy { .. }));
    assert!(
        (ra.is_ok() && busy(&rb)) || (rb.is_ok() && busy(&ra)),
        "exactly one writes: a={:?} b={:?}",
        ra.as_ref().map(|r| r.run_id),
        rb.as_ref().map(|r| r.run_id)
    );
    assert_eq!(ts.store.recent_runs(5).await.expect("runs").len(), 1);

    // With a wait, each engine runs after the other instead of giving up.
    let waiting = |name: &str, store| {
        engine::sync::Engine::new(
            pair.client.clone(),
            store,
            SyncSettings {
                writer_wait: Some(Duration::from_secs(30)),
                ..SyncSettings::default()
            },
            name,
        )
    };
    let c = waiting("engine-c", ts.reopen().await);
    let d = waiting("engine-d", ts.reopen().await);
    pair.sim
        .inject(FaultPlan::new(Fault::Slow(Duration::from_millis(300)), 4));
    let (rc, rd) = tokio::join!(
        c.run(Strategy::Smart, &NoProgress),
        d.run(Strategy::Smart, &NoProgress)
    );
    assert!(
        rc.is_ok() && rd.is_ok(),
        "c={:?} d={:?}",
        rc.err(),
        rd.err()
    );
    let runs = ts.store.recent_runs(5).await.expect("runs");
    assert_eq!(runs.len(), 3);
    // One after the other: the later run started after the earlier one finished.
    let (later, earlier) = (&runs[0], &runs[1]);
    assert!(earlier.metrics.finished_at.expect("finished") <= later.started_at);
    pair.sim.shutdown().await;
}

/// Two workstations: A holds the role and freezes (stops renewing); once its lease expires
/// B takes it over. Every write A then tries (a batch, a run row, closing runs) fails with
/// the lost-role error naming B, and none of it is stored; B's writes go through.
async fn a_replaced_writer_cannot_write(kind: Kind) {
    let pair = Setup::new(Size::Small).start(|_| {}).await;
    let ts = TestStore::new(kind).await;
    let a = ts.store.clone();
    let b = ts.reopen().await;
    let ttl = Duration::from_millis(800);
    let frozen = a
        .acquire_writer_for(
            &WriterInfo {
                runner: "workstation-a:1".into(),
                purpose: "full".into(),
            },
            None,
            ttl,
        )
        .await
        .expect("A takes the role");
    // A writes while it holds the role.
    let now = chrono::Utc::now();
    a.begin_run(Strategy::Full, "workstation-a:1", now)
        .await
        .expect("A writes while it holds the role");
    frozen.stop_renewing();
    let started = std::time::Instant::now();
    let lease_b = loop {
        match b
            .acquire_writer_for(
                &WriterInfo {
                    runner: "workstation-b:2".into(),
                    purpose: "smart".into(),
                },
                None,
                ttl,
            )
            .await
        {
            Ok(l) => break l,
            Err(engine::StoreError::WriterBusy { .. }) => {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "the expired lease was never taken over"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    let marks = b.write_marks().await.expect("marks");
    let runs = b.recent_runs(10).await.expect("runs");
    let batch = engine::store::Batch {
        state: vec![("cursor:fence".to_owned(), serde_json::json!("A"))],
        ..Default::default()
    };
    let lost = |r: Result<(), engine::StoreError>, what: &str| match r {
        Err(engine::StoreError::LostWriterRole { holder }) => {
            assert_eq!(holder, "workstation-b:2 (smart)", "{what}")
        }
        other => panic!("{what}: expected LostWriterRole, got {other:?}"),
    };
    lost(a.apply(&batch, now).await.map(|_| ()), "apply");
    lost(
        a.begin_run(Strategy::Smart, "workstation-a:1", now)
            .await
            .map(|_| ()),
        "begin_run",
    );
    lost(a.close_abandoned_runs(now).await.map(|_| ()), "close runs");
    assert_eq!(b.write_marks().await.expect("marks"), marks, "A wrote");
    assert_eq!(
        b.recent_runs(10).await.expect("runs"),
        runs,
        "A wrote a run"
    );
    assert_eq!(b.get_state("cursor:fence").await.expect("state"), None);
    // B writes.
    b.apply(&batch, now).await.expect("B writes");
    drop(frozen);
    lease_b.release().await;
    // With nobody holding the role, A's handle writes unfenced again (it no longer claims it).
    a.apply(&batch, now).await.expect("unfenced after release");
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    a_second_engine_is_told_who_writes,
    two_engines_at_once_exactly_one_writes,
    a_replaced_writer_cannot_write,
);
