//! `stockpulse sync` as a user runs it: a real process against the simulator, and the one
//! thing only a real process can show — SIGKILL in the middle of the full load, then a
//! restart that finishes with exactly the result of an uninterrupted run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Target, command, open, output, run_ok, sim, until_jobs_done};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use engine::store::JobStatus;
use finale_sim::{Fault, FaultPlan};
use stockpulse_tests::truth::{Expect, compare, expected_snapshot_with};

/// Starts a full load, kills it with SIGKILL once some jobs are done, restarts it, and
/// compares the result with the simulator's truth and with an uninterrupted load.
async fn killed_full_load_resumes(target: Target<'_>, clean: Target<'_>) {
    let (sim, cfg) = sim(11).await;
    // Slow order windows so that the kill lands in the middle of the load.
    let mut slow = FaultPlan::new(Fault::Slow(Duration::from_millis(250)), 25);
    slow.path_contains = Some("/api/order".into());
    sim.inject(slow);

    let mut child: Child = command(&sim, &cfg, &target, &["sync", "--strategy", "full"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = until_jobs_done(&mut child, &target, 6).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let jobs = store.backfill_jobs().await.unwrap();
    let done = jobs.iter().filter(|j| j.status == JobStatus::Done).count();
    assert!(
        done < jobs.len(),
        "killed in the middle: {done}/{} done",
        jobs.len()
    );

    run_ok(&sim, &cfg, &target, &["sync", "--strategy", "full"]).await;
    let jobs = store.backfill_jobs().await.unwrap();
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
    // Each window was planned once: resuming did not plan a second copy.
    assert_eq!(jobs.len(), 29);
    let runs = store.recent_runs(5).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].metrics.success);
    assert!(
        !runs[1].metrics.success,
        "the killed run is closed as failed: {:?}",
        runs[1]
    );

    // Same result as an uninterrupted load, and as the truth.
    let out = output(command(&sim, &cfg, &clean, &["sync", "--strategy", "full"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = store.snapshot().await.unwrap();
    let uninterrupted = open(&clean).await.snapshot().await.unwrap();
    let diffs = compare(&uninterrupted, &resumed);
    assert!(
        diffs.is_empty(),
        "resumed vs uninterrupted:\n{}",
        diffs.join("\n")
    );
    let truth = {
        let ds = sim.dataset();
        let ds = ds.read().unwrap();
        expected_snapshot_with(&ds, Utc::now(), &Expect::for_sim(&cfg))
    };
    let diffs = compare(&truth, &resumed);
    assert!(diffs.is_empty(), "resumed vs truth:\n{}", diffs.join("\n"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_the_full_load_then_resume_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    killed_full_load_resumes(Target::Sqlite(&a), Target::Sqlite(&b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_the_full_load_then_resume_postgres() {
    let a = engine::testing::TestDb::new().await.unwrap();
    let b = engine::testing::TestDb::new().await.unwrap();
    killed_full_load_resumes(Target::Postgres(a.url()), Target::Postgres(b.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_while_one_runs_exits_75_naming_the_holder() {
    let (sim, cfg) = sim(12).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let target = Target::Sqlite(&path);
    let mut slow = FaultPlan::new(Fault::Slow(Duration::from_millis(300)), 20);
    slow.path_contains = Some("/api/order".into());
    sim.inject(slow);
    let mut first = command(&sim, &cfg, &target, &["sync", "--strategy", "full"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first one holds the role (it has started a job).
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(60));
        if path.exists() {
            let s = open(&target).await;
            if s.backfill_jobs()
                .await
                .unwrap_or_default()
                .iter()
                .any(|j| j.attempts > 0)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = output(command(
        &sim,
        &cfg,
        &target,
        &["sync", "--strategy", "full"],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another Stockpulse engine") && stderr.contains("(full)"),
        "{stderr}"
    );
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misconfiguration_gets_a_clear_message() {
    let (sim, cfg) = sim(13).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    // Wrong secret: a clear Finale error, and the secret never echoed.
    let mut cmd = command(
        &sim,
        &cfg,
        &Target::Sqlite(&path),
        &["sync", "--strategy", "full"],
    );
    cmd.env("FINALE_API_SECRET", "hunter2-wrong");
    let out = output(cmd).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("hunter2-wrong"), "{err}");
    assert!(
        err.to_lowercase().contains("credential") || err.contains("401"),
        "{err}"
    );
    // A bad database URL: named as such, password not echoed.
    let out = output(command(
        &sim,
        &cfg,
        &Target::Postgres("postgres://u:s3cret-pw@127.0.0.1:1/db?sslmode=bogus"),
        &["sync"],
    ))
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(err.contains("sslmode"), "{err}");
    // An unreachable database.
    let out = output(command(
        &sim,
        &cfg,
        &Target::Postgres("postgres://u:s3cret-pw@127.0.0.1:1/db"),
        &["sync"],
    ))
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("s3cret-pw") && err.contains("cannot connect"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_catches_up_then_stops_cleanly_on_sigterm() {
    let (sim, cfg) = sim(14).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.db");
    let target = Target::Sqlite(&path);
    let mut child = command(&sim, &cfg, &target, &["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A store that never synced: serve runs the full load first, then catches up the missed
    // critical and smart runs once each.
    let started = Instant::now();
    let store = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not catch up"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited early: {status}");
        }
        if path.exists() {
            let s = open(&target).await;
            let runs = s.recent_runs(10).await.unwrap_or_default();
            let ok =
                |st: engine::Strategy| runs.iter().any(|r| r.strategy == st && r.metrics.success);
            if ok(engine::Strategy::Full)
                && ok(engine::Strategy::Smart)
                && ok(engine::Strategy::Critical)
            {
                break s;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Then it sleeps until the next slot; SIGTERM ends it at once, cleanly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = store.recent_runs(10).await.unwrap();
    assert_eq!(runs.len(), 3, "one run per strategy, no repeats: {runs:?}");
    assert!(runs.iter().all(|r| r.metrics.finished_at.is_some()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_plan_cursors_and_runs_without_secrets() {
    let (sim, cfg) = sim(15).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("status.db");
    let target = Target::Sqlite(&path);
    // Before anything ran.
    let out = output(command(&sim, &cfg, &target, &["status"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("full load: never run"), "{text}");

    let out = run_ok(&sim, &cfg, &target, &["sync", "--strategy", "full"]).await;
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("full run #1 finished"), "{summary}");

    let out = output(command(&sim, &cfg, &target, &["status"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "full load (complete): 29/29 jobs done, 0 failed",
        "cursors: facility ",
        "order ",
        "recent runs:",
        "full ",
        "requests [collection 29, get 29, post 0]",
        " ok",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    assert!(
        !text.contains(&cfg.api_secret),
        "the secret leaked:\n{text}"
    );
    sim.shutdown().await;
}

/// One 404 (or GraphQL error, or error body) is a failed run for `serve`, recorded and
/// retried later: the service lives on. Only configuration errors end it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_lives_on_after_a_404() {
    let (sim, cfg) = sim(15).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.db");
    let target = Target::Sqlite(&path);
    run_ok(&sim, &cfg, &target, &["sync", "--strategy", "full"]).await;
    // The first scheduled run (critical) meets a 404 on the parties' collection.
    sim.inject(FaultPlan::new(Fault::Status(404), 1).on_path("/partygroup/"));
    let mut child = command(&sim, &cfg, &target, &["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no failed run recorded"
        );
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve exited on a 404: {status}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if path.exists() {
            let s = open(&target).await;
            let runs = s.recent_runs(10).await.unwrap_or_default();
            if runs
                .iter()
                .any(|r| r.metrics.finished_at.is_some() && !r.metrics.success)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve must wait and retry, not exit"
    );
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sim.shutdown().await;
}
