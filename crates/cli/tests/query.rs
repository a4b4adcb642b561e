//! `stockpulse search`, `item` and `reorder` as a user runs them: against a local store that
//! `stockpulse demo --size small` built, offline (a database URL pointing nowhere is ignored),
//! in both output forms, and with bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;

/// `stockpulse <args>` with a clean environment and this local store.
fn cmd(store: &Path, args: &[&str]) -> Command {
    let mut c = common::isolated(args);
    c.env("STOCKPULSE_LOCAL_PATH", store);
    c
}

fn run(store: &Path, args: &[&str]) -> Output {
    cmd(store, args).output().unwrap()
}

/// Runs a query command with an unreachable Postgres configured: it must not matter.
fn query(store: &Path, args: &[&str]) -> Output {
    cmd(store, args)
        .env(
            "STOCKPULSE_DATABASE_URL",
            "postgres://nobody@127.0.0.1:9/nowhere",
        )
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn demo_store(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("local.db");
    let out = run(
        &path,
        &[
            "demo",
            "--size",
            "small",
            "--no-budgets",
            "--store",
            path.to_str().unwrap(),
        ],
    );
    ok(&out);
    path
}

#[test]
fn search_item_and_reorder_on_a_demo_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());

    let all = lines(&ok(&query(&db, &["search", "--json"])));
    assert!(all.len() >= 100, "{} rows", all.len());
    for r in &all {
        for k in [
            "sku",
            "product_url",
            "name",
            "on_hand",
            "available",
            "state",
        ] {
            assert!(r.get(k).is_some(), "{k} in {r}");
        }
    }
    let human = ok(&query(&db, &["search"]));
    let mut hl = human.lines();
    let header = hl.next().unwrap();
    assert!(
        header.starts_with("SKU") && header.contains("AVAIL"),
        "{header}"
    );
    assert_eq!(human.lines().count(), all.len() + 2, "header, rows, count");
    assert!(
        human
            .trim_end()
            .ends_with(&format!("{} item(s)", all.len()))
    );

    // By SKU: the item first.
    let sku = all[17]["sku"].as_str().unwrap().to_owned();
    let hits = lines(&ok(&query(&db, &["search", &sku, "--json"])));
    assert_eq!(hits[0]["sku"], sku.as_str());
    let prefix = &sku[..sku.len() - 1];
    let hits = lines(&ok(&query(&db, &["search", prefix, "--json"])));
    assert!(hits.iter().any(|h| h["sku"] == sku.as_str()));

    // Filters.
    let oos = lines(&ok(&query(&db, &["search", "--out-of-stock", "--json"])));
    assert!(
        oos.iter()
            .all(|r| r["out_of_stock"] == true && r["available"].as_f64().unwrap() <= 0.0)
    );
    let below = lines(&ok(&query(&db, &["search", "--below-reorder", "--json"])));
    assert!(!below.is_empty());
    assert!(below.iter().all(|r| r["at_reorder"] == true));
    let critical = lines(&ok(&query(&db, &["search", "--critical", "--json"])));
    assert!(critical.iter().all(|r| r["critical"] == true));

    // Sorted, both ways.
    let desc = lines(&ok(&query(
        &db,
        &["search", "--sort", "available:desc", "--json"],
    )));
    let av: Vec<f64> = desc
        .iter()
        .map(|r| r["available"].as_f64().unwrap())
        .collect();
    assert!(av.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(desc.len(), all.len());
    let asc = lines(&ok(&query(&db, &["search", "--sort", "on_hand", "--json"])));
    let oh: Vec<f64> = asc.iter().map(|r| r["on_hand"].as_f64().unwrap()).collect();
    assert!(oh.windows(2).all(|w| w[0] <= w[1]));

    // Pages: three rows, then the cursor on stderr; the next page follows on.
    let o = query(&db, &["search", "--limit", "3", "--json"]);
    let first = lines(&ok(&o));
    assert_eq!(first.len(), 3);
    let err = String::from_utf8(o.stderr).unwrap();
    let cursor = err
        .lines()
        .find_map(|l| l.strip_prefix("next page: --after "))
        .expect("a cursor on stderr")
        .trim()
        .to_owned();
    let second = lines(&ok(&query(
        &db,
        &["search", "--limit", "3", "--after", &cursor, "--json"],
    )));
    assert_eq!(second.len(), 3);
    assert_eq!(second[0]["sku"], all[3]["sku"]);

    // Item detail, then a location filter by the location's name.
    let detail = ok(&query(&db, &["item", &sku, "--json"]));
    let d: Value = serde_json::from_str(detail.trim()).unwrap();
    assert_eq!(d["sku"], sku.as_str());
    assert!(d["locations"].is_array() && d["suppliers"].is_array() && d["sales"].is_array());
    let human = ok(&query(&db, &["item", &sku]));
    assert!(
        human.starts_with(&sku) && human.contains("Stock by location"),
        "{human}"
    );
    if let Some(loc) = d["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|l| l["name"].as_str().filter(|_| l["location_url"].is_string()))
    {
        let at = lines(&ok(&query(&db, &["search", "--location", loc, "--json"])));
        assert!(at.iter().any(|r| r["sku"] == sku.as_str()), "{loc}");
    }
    let by_url = ok(&query(
        &db,
        &["item", d["product_url"].as_str().unwrap(), "--json"],
    ));
    assert_eq!(
        serde_json::from_str::<Value>(by_url.trim()).unwrap()["sku"],
        sku.as_str()
    );

    // Reorder suggestions.
    let sugg = lines(&ok(&query(&db, &["reorder", "--json"])));
    assert!(!sugg.is_empty());
    assert!(
        sugg.iter()
            .all(|s| s["suggested_qty"].as_f64().is_some() && s["sku"].is_string())
    );
    let human = ok(&query(&db, &["reorder", "--group-by-supplier"]));
    assert!(human.starts_with("SKU") && human.contains("SUGGEST"));
    assert!(
        human
            .trim_end()
            .ends_with(&format!("{} suggestion(s)", sugg.len()))
    );
}

#[test]
fn errors_are_clear_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    for args in [&["search"][..], &["item", "SKU-1"], &["reorder", "--json"]] {
        let o = query(&missing, args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("no local store"), "{err}");
        assert!(o.stdout.is_empty());
    }
    assert!(!missing.exists(), "no store file was created");

    let db = demo_store(dir.path());
    let fails = |args: &[&str], says: &str| {
        let o = query(&db, args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    fails(&["item", "NO-SUCH-SKU-42"], "no item NO-SUCH-SKU-42");
    fails(
        &["search", "--sort", "price; DROP TABLE products"],
        "unknown sort field",
    );
    fails(&["search", "--sort", "bogus"], "unknown sort field");
    fails(&["search", "--after", "not-a-cursor"], "cursor");
    fails(&["search", "--limit", "0"], "page size");
    fails(&["search", "--location", "Atlantis"], "no location named");
    fails(&["search", "a\u{1}b"], "control character");
    // Hostile text is text.
    let o = query(&db, &["search", "\" OR 1=1 --", "--json"]);
    ok(&o);
    let o = query(&db, &["search", "NEAR(", "--json"]);
    ok(&o);
    assert!(
        !lines(&ok(&query(&db, &["search", "--json"]))).is_empty(),
        "still there"
    );
}
