//! `stockpulse watch --json` as a user runs it: a real process following a local store
//! that other processes write, printing one JSON object per line, ended by SIGTERM with
//! exit code 0.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;
use common::{Target, run_ok, signal, sim};
use engine::rows::{FacilityRow, GuidelineRow, ProductRow, StockRow};
use engine::sqlite::SqliteStore;
use engine::store::{Batch, Store};
use serde_json::Value;

/// A running `stockpulse watch --json` and its output lines.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    /// Starts `cmd` (a `watch --json` command) and waits until it announced the feed.
    fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let line = line.unwrap_or_default();
                if line.starts_with("watching ") {
                    let _ = ready_tx.send(());
                } else {
                    eprintln!("watch: {line}");
                }
            }
        });
        ready
            .recv_timeout(Duration::from_secs(60))
            .expect("watch announced its feed");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let line = line.unwrap();
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines }
    }

    /// Lines until (and with) the first whose `type` is `until`.
    fn until(&self, until: &str) -> Vec<Value> {
        self.until_line(until, |v| v["type"] == until)
    }

    /// Lines until (and with) the first that `done` accepts (`what` names it for a failure).
    fn until_line(&self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            // A guard against a hang, not a timing assertion.
            let v = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("no {what:?} line; got {out:#?}"));
            let finished = done(&v);
            out.push(v);
            if finished {
                return out;
            }
        }
    }

    /// SIGTERM, then the exit status (0 expected) and the lines not read yet (up to the
    /// end of its output).
    fn stop(mut self) -> Vec<Value> {
        signal(self.child.id(), "-TERM");
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "watch exits 0 on SIGTERM");
        self.lines.iter().collect()
    }
}

/// `stockpulse watch --json` on the local store at `path` only (nothing of the caller's
/// environment or configuration).
fn watch_command(path: &Path) -> Command {
    let mut cmd = common::isolated(&["watch", "--json"]);
    cmd.env("STOCKPULSE_LOCAL_PATH", path);
    cmd
}

fn types(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|v| v["type"].as_str().unwrap()).collect()
}

fn product(url: &str, sku: &str) -> ProductRow {
    let mut p = ProductRow {
        url: url.into(),
        sku: sku.into(),
        name: Some(format!("Product {sku}")),
        status: Some("PRODUCT_ACTIVE".into()),
        product_type: None,
        category: None,
        upc: None,
        cost: Some(1.0),
        lead_time_days: None,
        packing: None,
        list_price: Some(2.0),
        user_fields: serde_json::json!({}),
        finale_created: None,
        finale_last_updated: None,
        suppliers: vec![],
        guidelines: vec![GuidelineRow {
            facility_url: Some("/f/main".into()),
            reorder_point: Some(5.0),
            reorder_qty: None,
            calculation_method: None,
        }],
        content_hash: [0; 32],
    };
    p.content_hash = p.hash();
    p
}

fn stock(product: &str, on_hand: f64) -> StockRow {
    let mut s = StockRow {
        product_url: product.into(),
        facility_url: "/f/main".into(),
        on_hand,
        reserved: 0.0,
        on_order: 0.0,
        content_hash: [0; 32],
    };
    s.content_hash = s.hash();
    s
}

/// A local store at `path` with products `/p/1` (W1) and `/p/2` (W2), 10 each at `/f/main`
/// (reorder point 5), written by the engine's apply and derived once (as the app would
/// have), so the items are known.
async fn stocked_store(path: &Path) -> SqliteStore {
    let store = SqliteStore::open(path).unwrap();
    let mut main = FacilityRow {
        url: "/f/main".into(),
        facility_id: "main".into(),
        name: Some("Main".into()),
        parent_url: None,
        status: None,
        facility_type: None,
        shipping_disabled: None,
        receiving_disabled: None,
        finale_created: None,
        finale_last_updated: None,
        content_hash: [0; 32],
    };
    main.content_hash = main.hash();
    let fill = Batch {
        facilities: vec![main],
        products: vec![product("/p/1", "W1"), product("/p/2", "W2")],
        stock_upserts: vec![stock("/p/1", 10.0), stock("/p/2", 10.0)],
        ..Batch::default()
    };
    store.apply(&fill, Utc::now()).await.unwrap();
    let mut conn = workstation::local::open_existing(path).unwrap();
    let tx = conn.transaction().unwrap();
    assert!(
        workstation::events::derive(&tx, Utc::now())
            .unwrap()
            .is_empty()
    );
    tx.commit().unwrap();
    store
}

#[tokio::test]
async fn watch_prints_a_stockout_written_by_another_process_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    // The embedded engine's store, written through its own apply.
    let store = stocked_store(&path).await;
    let watch = Watch::start(watch_command(&path));
    // Both items stock out in one batch: the stock events, then one grouped alert.
    let out = Batch {
        stock_upserts: vec![stock("/p/1", 0.0), stock("/p/2", 0.0)],
        ..Batch::default()
    };
    store.apply(&out, Utc::now()).await.unwrap();
    let lines = watch.until("alert");
    assert_eq!(
        types(&lines),
        [
            "stock_changed",
            "stocked_out",
            "stocked_out",
            "stock_changed",
            "stocked_out",
            "stocked_out",
            "alert"
        ],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["sku"], "W1");
    assert_eq!(lines[0]["location_name"], "Main");
    assert_eq!(lines[0]["after"]["on_hand"], 0.0);
    assert!(lines[0]["seq"].is_i64() && lines[0]["at"].is_string());
    let alerted: Vec<_> = lines[6]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sku"].as_str().unwrap())
        .collect();
    assert_eq!(alerted, ["W1", "W2"]);

    // A hand edit with plain SQL, from yet another connection: a restock.
    let conn = workstation::local::open_existing(&path).unwrap();
    conn.execute_batch("UPDATE stock SET on_hand = 50 WHERE product_url = '/p/1'")
        .unwrap();
    let lines = watch.until("restocked");
    assert_eq!(types(&lines), ["stock_changed", "restocked"]);
    assert_eq!(lines[1]["location_url"], "/f/main");
    let lines = watch.until("restocked");
    assert_eq!(lines[0]["location_url"], Value::Null, "the item's total");
    let rest = watch.stop();
    assert!(rest.is_empty(), "{rest:#?}");
}

#[tokio::test]
async fn watch_follows_a_full_sync_without_an_alert_storm() {
    let (sim, cfg) = sim(21).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    let target = Target::Sqlite(&path);
    let watch = Watch::start(watch_command(&path));
    run_ok(&sim, &cfg, &target, &["sync", "--strategy", "full"]).await;
    let lines = watch.until("sync_finished");
    let t = types(&lines);
    eprintln!("the full sync's events: {t:?}");
    assert_eq!(t.first(), Some(&"sync_started"), "{t:?}");
    assert_eq!(lines.last().unwrap()["success"], true);
    assert!(
        !t.iter()
            .any(|t| matches!(*t, "alert" | "stocked_out" | "fell_below_reorder_point")),
        "a first fill raises no alert storm: {t:?}"
    );
    let rest = watch.stop();
    assert!(!types(&rest).contains(&"alert"), "{rest:#?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn two_watchers_deriving_at_once_neither_duplicate_nor_lose_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    let _store = stocked_store(&path).await;
    // Two processes, each deriving whenever the journal holds keys.
    let a = Watch::start(watch_command(&path));
    let b = Watch::start(watch_command(&path));
    let conn = workstation::local::open_existing(&path).unwrap();
    for i in 1..=100 {
        conn.execute_batch(&format!(
            "UPDATE stock SET on_hand = {} WHERE product_url = '/p/1'",
            10 + i
        ))
        .unwrap();
    }
    let last = |v: &Value| v["type"] == "stock_changed" && v["after"]["on_hand"] == 110.0;
    let seen_a = a.until_line("on hand 110", last);
    let seen_b = b.until_line("on hand 110", last);
    // Both tail the same log: the same events with the same seqs.
    assert_eq!(seen_a, seen_b);
    // The stock changes chain from 10 to 110 (a derivation may merge several writes into
    // one change), each change once.
    let chain: Vec<(f64, f64)> = seen_a
        .iter()
        .filter(|v| v["type"] == "stock_changed")
        .map(|v| {
            (
                v["before"]["on_hand"].as_f64().unwrap(),
                v["after"]["on_hand"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(chain[0].0, 10.0, "{chain:?}");
    for w in chain.windows(2) {
        assert_eq!(w[0].1, w[1].0, "{chain:?}");
    }
    assert!(chain.iter().all(|(b, a)| a > b), "{chain:?}");
    let seqs: Vec<i64> = seen_a.iter().map(|v| v["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    a.stop();
    b.stop();
}
