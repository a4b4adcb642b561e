//! `stockpulse mirror` as a user runs it: the engine syncs a simulated account into a real
//! Postgres, the mirror hydrates a local store from it and follows it live, and the query
//! commands answer from the local store with the store unreachable.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Target, command, output, run_ok, signal, sim};
use serde_json::Value;

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_hydrates_follows_live_and_the_cache_answers_offline() {
    let (sim, cfg) = sim(31).await;
    let db = engine::testing::TestDb::migrated().await.unwrap();
    let pg = Target::Postgres(db.url());
    run_ok(&sim, &cfg, &pg, &["sync", "--strategy", "full"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.db");
    let mirror = |args: &[&str]| {
        let mut c = command(&sim, &cfg, &pg, args);
        c.env("STOCKPULSE_LOCAL_PATH", &cache);
        c
    };

    // One pass: hydrate, a JSON summary.
    let out = output(mirror(&["mirror", "--once", "--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary");
    assert_eq!(summary["hydrated"], true);
    assert!(summary["rows"].as_u64().unwrap() > 1000, "{summary}");
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "status" && l["state"] == "hydrating")
    );

    // Live: status lines, then a hand edit in the store arrives as events.
    let mut child = mirror(&["mirror", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { return };
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    let wait_for = |pred: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let v = rx.recv_timeout(left).expect("the line in time");
            assert!(v["type"].is_string(), "every line has a type: {v}");
            if pred(&v) {
                return v;
            }
        }
    };
    wait_for(&|v| v["type"] == "status" && v["state"] == "live");
    // A product with stock sells out everywhere, by hand in the SQL editor.
    let picked = db
        .client()
        .query_one(
            "SELECT s.product_url, p.sku FROM stock s JOIN products p ON p.url = s.product_url
              WHERE s.on_hand > 0 ORDER BY s.product_url LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (url, sku): (String, String) = (picked.get(0), picked.get(1));
    db.client()
        .execute(
            "UPDATE stock SET on_hand = 0, reserved = 0 WHERE product_url = $1",
            &[&url],
        )
        .await
        .unwrap();
    let changed = wait_for(&|v| v["type"] == "stock_changed");
    assert_eq!(changed["sku"], sku.as_str(), "{changed}");
    assert!(changed["product_url"].is_string());
    signal(child.id(), "-TERM");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(
        status.success(),
        "SIGTERM ends the mirror with 0: {status:?}"
    );

    // Offline: the store's URL now points nowhere; the cache still answers.
    let offline = |args: &[&str]| {
        let mut c = command(
            &sim,
            &cfg,
            &Target::Postgres("postgres://nobody:s3cret@127.0.0.1:1/none"),
            args,
        );
        c.env("STOCKPULSE_LOCAL_PATH", &cache);
        c
    };
    let out = output(offline(&["search", &sku, "--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_lines(&out.stdout);
    assert!(rows.iter().any(|r| r["sku"] == sku.as_str()), "{rows:?}");
    let out = output(offline(&["item", &sku, "--json"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = output(offline(&["status"])).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cache: "), "status shows the cache: {text}");
    assert!(text.contains("data as of"), "{text}");
    // The mirror itself, offline, fails with a clear message and leaves the cache alone.
    let out = output(offline(&["mirror", "--once"])).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("127.0.0.1:1"),
        "names the store it could not reach: {err}"
    );
    assert!(!err.contains("s3cret"), "no password in messages: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_without_a_shared_store_says_what_to_set() {
    let (sim, cfg) = sim(32).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.db");
    let out = output(command(
        &sim,
        &cfg,
        &Target::Sqlite(&local),
        &["mirror", "--once"],
    ))
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("STOCKPULSE_DATABASE_URL"), "{err}");
    assert!(!local.exists(), "nothing created");
}
