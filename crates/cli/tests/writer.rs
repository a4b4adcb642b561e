//! The writer role between real `stockpulse` processes: a writer frozen with SIGSTOP (a
//! laptop closed mid-sync) is replaced once its lease expires and, woken up, writes nothing
//! more; `serve` beside a busy role asks a handful of times instead of spinning; `status`
//! shows the holder and its last heartbeat.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Target, command, open, output, signal, sim, until_jobs_done};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use engine::store::{JobStatus, WriterInfo};
use finale_sim::{Fault, FaultPlan};
use stockpulse_tests::truth::{Expect, compare, expected_snapshot_with};

/// Makes sure a stopped child never outlives the test (a failed assertion included).
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The lease TTL of the frozen writer's test, seconds.
const TTL: &str = "2";

/// A full load frozen with SIGSTOP mid-run; a second `sync --wait` takes the role over once
/// the lease expires and completes the load; `status` shows the frozen holder's lease
/// expired meanwhile; SIGCONT: the first process fails with the lost-role error and writes
/// nothing more, and the store equals the simulator's truth.
async fn a_frozen_writer_is_replaced_and_fenced(target: Target<'_>) {
    let (sim, cfg) = sim(21).await;
    // Slow order windows so that the load is mid-run for a while.
    let mut slow = FaultPlan::new(Fault::Slow(Duration::from_millis(400)), 25);
    slow.path_contains = Some("/api/order".into());
    sim.inject(slow);

    let a = command(&sim, &cfg, &target, &["sync", "--strategy", "full"])
        .env("STOCKPULSE_WRITER_LEASE_SECONDS", TTL)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let a_pid = a.id();
    let mut a = Reaper(Some(a));
    let a_runner = format!(
        "{}:{a_pid}",
        engine::sync::Engine::default_runner()
            .split(':')
            .next()
            .unwrap()
    );

    // Wait until A holds the role and has stored some jobs.
    let store = until_jobs_done(a.0.as_mut().unwrap(), &target, 3).await;
    let lease = store
        .writer_lease()
        .await
        .unwrap()
        .expect("A holds the role");
    assert_eq!(lease.holder(), format!("{a_runner} (full)"));
    freeze_between_writes(a_pid, &target);
    let frozen_at = Instant::now();

    // The lease runs out: `status` says so, naming the frozen holder.
    loop {
        assert!(
            frozen_at.elapsed() < Duration::from_secs(30),
            "the frozen writer's lease never expired"
        );
        if store
            .writer_lease()
            .await
            .unwrap()
            .is_some_and(|l| l.expired())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = output(command(&sim, &cfg, &target, &["status"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8_lossy(&out.stdout);
    let line = status
        .lines()
        .find(|l| l.starts_with("writer: "))
        .unwrap_or_else(|| panic!("no writer line:\n{status}"));
    assert!(
        line.contains(&format!("{a_runner} (full), last heartbeat "))
            && line.contains(" s ago)")
            && line.contains("expired"),
        "{line}"
    );

    // A second engine takes the role over and completes the load.
    let b = command(
        &sim,
        &cfg,
        &target,
        &["sync", "--strategy", "full", "--wait", "60"],
    )
    .env("STOCKPULSE_WRITER_LEASE_SECONDS", TTL)
    .output();
    let out = tokio::task::spawn_blocking(move || b.unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the second engine did not complete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs = store.backfill_jobs().await.unwrap();
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
    let runs = store.recent_runs(5).await.unwrap();
    assert!(runs[0].metrics.success, "{runs:?}");
    assert_ne!(runs[0].runner.as_deref(), Some(a_runner.as_str()));
    assert!(
        runs.iter()
            .any(|r| r.runner.as_deref() == Some(a_runner.as_str())
                && r.metrics.finished_at.is_some()
                && !r.metrics.success),
        "the frozen run was closed as abandoned: {runs:?}"
    );
    let marks = store.write_marks().await.unwrap();
    let snapshot = store.snapshot().await.unwrap();
    assert_eq!(
        store.writer_lease().await.unwrap(),
        None,
        "B released the role"
    );

    // A wakes up: it fails with the lost-role error and writes nothing more.
    signal(a_pid, "-CONT");
    let child = a.0.take().unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the frozen writer went on: {stderr}");
    assert!(stderr.contains("lost the writer role"), "{stderr}");
    assert_eq!(
        store.write_marks().await.unwrap(),
        marks,
        "A wrote after waking"
    );
    assert_eq!(store.snapshot().await.unwrap(), snapshot);
    let truth = {
        let ds = sim.dataset();
        let ds = ds.read().unwrap();
        expected_snapshot_with(&ds, Utc::now(), &Expect::for_sim(&cfg))
    };
    let diffs = compare(&truth, &snapshot);
    assert!(diffs.is_empty(), "store vs truth:\n{}", diffs.join("\n"));
    let out = output(command(&sim, &cfg, &target, &["status"])).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\nwriter: none\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    sim.shutdown().await;
}

/// SIGSTOPs `pid` outside a write transaction. A process frozen *inside* a SQLite write
/// transaction keeps SQLite's write lock until it dies, which no lease can take over (the
/// README says so); this test is about the lease, so on SQLite it freezes the writer again
/// until it stops between two transactions.
fn freeze_between_writes(pid: u32, target: &Target<'_>) {
    signal(pid, "-STOP");
    let Target::Sqlite(path) = target else { return };
    for _ in 0..100 {
        let conn = engine::sqlite::open(path).unwrap();
        conn.busy_timeout(Duration::from_millis(300)).unwrap();
        if conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK").is_ok() {
            return;
        }
        signal(pid, "-CONT");
        std::thread::sleep(Duration::from_millis(30));
        signal(pid, "-STOP");
    }
    panic!("the writer never stopped between two transactions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_writer_is_replaced_and_fenced_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frozen.db");
    a_frozen_writer_is_replaced_and_fenced(Target::Sqlite(&path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_writer_is_replaced_and_fenced_postgres() {
    let db = engine::testing::TestDb::new().await.unwrap();
    a_frozen_writer_is_replaced_and_fenced(Target::Postgres(db.url())).await;
}

/// `serve` against a store whose writer role another engine holds, for 10 seconds: a
/// handful of attempts (it made thousands on SQLite when "busy" counted as a run done).
async fn serve_does_not_spin_on_a_busy_role(target: Target<'_>) {
    let (sim, cfg) = sim(22).await;
    // The store exists and another engine holds the role.
    let store = match &target {
        Target::Sqlite(_) => open(&target).await,
        Target::Postgres(url) => {
            let mut client = engine::pg::connect(url).await.unwrap();
            engine::pg::migrate(&mut client).await.unwrap();
            open(&target).await
        }
    };
    let holder = WriterInfo {
        runner: "workstation-a:4242".into(),
        purpose: "full".into(),
    };
    let lease = store.acquire_writer(&holder, None).await.unwrap();

    let mut child = command(&sim, &cfg, &target, &["serve"])
        .env("RUST_LOG", "engine::schedule=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(child.try_wait().unwrap().is_none(), "serve ended");
    signal(child.id(), "-TERM");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let attempts = stderr.matches("starting scheduled run").count();
    assert!(
        (1..=3).contains(&attempts),
        "{attempts} attempts in 10 s; the last lines:\n{}",
        stderr.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    assert!(
        stderr.contains("another engine holds the writer role")
            && stderr.contains("workstation-a:4242 (full)"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped: 0 runs, 0 failed"), "{stderr}");
    assert!(store.recent_runs(5).await.unwrap().is_empty());
    lease.release().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_does_not_spin_on_a_busy_role_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    serve_does_not_spin_on_a_busy_role(Target::Sqlite(&path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_does_not_spin_on_a_busy_role_postgres() {
    let db = engine::testing::TestDb::new().await.unwrap();
    serve_does_not_spin_on_a_busy_role(Target::Postgres(db.url())).await;
}
