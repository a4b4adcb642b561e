//! `stockpulse finale fetch` as a user runs it: a real process, credentials from the
//! environment, JSON lines on stdout, diagnostics on stderr, and a clear error for each
//! misconfiguration.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use finale_sim::{SimConfig, SimHandle, Simulator, Size};

fn anchor() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().unwrap()
}

async fn sim() -> (SimHandle, SimConfig) {
    let mut cfg = SimConfig::new(Size::Small, 3);
    cfg.anchor = anchor();
    (Simulator::start(cfg.clone()).await.unwrap(), cfg)
}

/// Runs `stockpulse` with exactly these FINALE_* variables (the rest of the environment is
/// cleared of FINALE_* so the developer's own settings cannot leak in).
async fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stockpulse"));
    cmd.args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FINALE_")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn env_for(sim: &SimHandle, cfg: &SimConfig) -> Vec<(&'static str, String)> {
    vec![
        ("FINALE_BASE_URL", sim.base_url()),
        ("FINALE_ACCOUNT", sim.account().to_string()),
        ("FINALE_API_KEY", cfg.api_key.clone()),
        ("FINALE_API_SECRET", cfg.api_secret.clone()),
    ]
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_every_record_as_a_json_line() {
    let (sim, cfg) = sim().await;
    let out = run(&["finale", "fetch", "product"], &env_for(&sim, &cfg)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = lines(&out);
    assert_eq!(records.len(), sim.dataset().read().unwrap().products.len());
    assert!(records.iter().all(|r| {
        r["url"]
            .as_str()
            .is_some_and(|u| u.contains("/api/product/"))
    }));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("requests"),
        "a summary closes the run: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_and_until_select_a_window_of_changes() {
    let (sim, cfg) = sim().await;
    let out = run(
        &[
            "finale",
            "fetch",
            "order",
            "--since",
            "2026-09-01",
            "--until",
            "2026-10-15T00:00:00Z",
        ],
        &env_for(&sim, &cfg),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lo: DateTime<Utc> = "2026-09-01T00:00:00Z".parse().unwrap();
    let hi: DateTime<Utc> = "2026-10-15T00:00:00Z".parse().unwrap();
    let want = sim
        .dataset()
        .read()
        .unwrap()
        .orders
        .rows()
        .iter()
        .filter(|o| o.last_updated_date >= lo && o.last_updated_date <= hi)
        .count();
    assert!(want > 0);
    assert_eq!(lines(&out).len(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_clearly_without_echoing_the_secret() {
    let (sim, cfg) = sim().await;
    let mut env = env_for(&sim, &cfg);
    env[3].1 = "not-the-secret-4711".into();
    let out = run(&["finale", "fetch", "facility"], &env).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") || stderr.to_lowercase().contains("auth"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-secret-4711"),
        "secret leaked: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misuse_gets_a_helpful_message() {
    let (sim, cfg) = sim().await;
    let env = env_for(&sim, &cfg);
    let cases: [(&[&str], &str); 3] = [
        (
            &["finale", "fetch", "inventoryitem", "--since", "7d"],
            "inventoryitem",
        ),
        (
            &["finale", "fetch", "order", "--since", "last tuesday"],
            "36h",
        ),
        (
            &[
                "finale",
                "fetch",
                "order",
                "--since",
                "2026-10-02",
                "--until",
                "2026-10-01",
            ],
            "after",
        ),
    ];
    for (args, needle) in cases {
        let out = run(args, &env).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let out = run(&["finale", "fetch", "facility"], &env[..1]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FINALE_ACCOUNT"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["finale", "fetch", "widgets"], &env).await;
    assert!(!out.status.success());
}
