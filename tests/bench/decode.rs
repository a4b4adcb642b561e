//! `make bench` — decoding and serving throughput, as ratios measured in one run.
//!
//! 1. The simulator generates the `large` account (≈50,000 products, ≈1,000,000 order lines).
//! 2. We fetch, over real loopback HTTP, the bodies the client would decode: the whole
//!    `inventoryitem` collection, and every 30-day `lastUpdatedDate` window of `order` over
//!    two years (with `orderItemList`, the heavier variant).
//! 3. On the same bytes, in the same process, we time the typed column-major decode
//!    (`finale::decode_collection`) against `serde_json::from_slice::<Value>` — the cheapest
//!    generic parse, which does strictly less work (no typing, no transposition). The ratio
//!    typed/Value in MB/s must be ≥ 1: the typed decoder is not allowed to be slower.
//! 4. Serving: the simulator's rate for the same bodies (generation + rendering + loopback).
//!
//! Each figure is the median of several rounds; run with `--quick` (or without `--bench`)
//! for a small smoke run.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use finale::{DecodeContext, InventoryItem, Order, decode_collection, plan_windows};
use finale_sim::{SimConfig, Simulator, Size};

struct Body {
    bytes: Bytes,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn time_rounds(rounds: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut out = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        out = f();
        times.push(t.elapsed());
    }
    (median(times), out)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (size, rounds) = if quick {
        (Size::Small, 3)
    } else {
        (Size::Large, 5)
    };

    let anchor: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut cfg = SimConfig::new(size, 42);
    cfg.anchor = anchor;
    cfg.limits.enabled = false;
    let t = Instant::now();
    let sim = Simulator::start(cfg.clone()).await.unwrap();
    println!(
        "simulator: {size} account generated and listening in {:.2?}",
        t.elapsed()
    );
    {
        let ds = sim.dataset();
        let d = ds.read().unwrap();
        let lines: usize = d
            .orders
            .rows()
            .iter()
            .map(|o| o.order_item_list.len())
            .sum();
        println!(
            "  {} products, {} stock rows, {} orders with {} lines, {} shipments",
            d.products.len(),
            d.inventory_items.len(),
            d.orders.len(),
            lines,
            d.shipments.len()
        );
    }

    // Bodies are fetched uncompressed (what the decoder sees either way); serving is
    // measured both ways below.
    let identity = reqwest::Client::builder().no_gzip().build().unwrap();
    let gzip = reqwest::Client::new();
    let root = format!("{}/{}/api", sim.base_url(), sim.account());
    let fetch = |http: &reqwest::Client, url: String| {
        let http = http.clone();
        let (k, s) = (cfg.api_key.clone(), cfg.api_secret.clone());
        async move {
            let resp = http.get(url).basic_auth(k, Some(s)).send().await.unwrap();
            assert!(resp.status().is_success(), "{}", resp.status());
            resp.bytes().await.unwrap()
        }
    };
    let get = |url: String| fetch(&identity, url);

    // Bodies: inventoryitem (whole table) and order windows over two years.
    let stock = vec![Body {
        bytes: get(format!("{root}/inventoryitem/")).await,
    }];
    let mut orders = Vec::new();
    for url in order_urls(&root, anchor) {
        orders.push(Body {
            bytes: get(url).await,
        });
    }

    let ctx = DecodeContext {
        timestamp_zone: chrono_tz::UTC,
    };
    println!();
    println!(
        "{:<14} {:>10} {:>11} {:>12} {:>12} {:>13} {:>13} {:>7}",
        "collection",
        "MB",
        "records",
        "typed MB/s",
        "Value MB/s",
        "typed rec/s",
        "Value rec/s",
        "ratio"
    );
    for (name, bodies) in [("inventoryitem", &stock), ("order", &orders)] {
        let total: usize = bodies.iter().map(|b| b.bytes.len()).sum();
        let (typed, records) = time_rounds(rounds, || {
            let mut n = 0;
            for b in bodies.iter() {
                n += if name == "order" {
                    decode_collection::<Order>(&b.bytes, &ctx)
                        .unwrap()
                        .records
                        .len()
                } else {
                    decode_collection::<InventoryItem>(&b.bytes, &ctx)
                        .unwrap()
                        .records
                        .len()
                };
            }
            n
        });
        let (value, _) = time_rounds(rounds, || {
            let mut n = 0;
            for b in bodies.iter() {
                let v: serde_json::Value = serde_json::from_slice(&b.bytes).unwrap();
                n += v.as_object().map_or(0, |o| o.len());
            }
            n
        });
        println!(
            "{:<14} {:>10.1} {:>11} {:>12.1} {:>12.1} {:>13.0} {:>13.0} {:>6.2}x",
            name,
            total as f64 / 1e6,
            records,
            mbps(total, typed),
            mbps(total, value),
            records as f64 / typed.as_secs_f64(),
            records as f64 / value.as_secs_f64(),
            value.as_secs_f64() / typed.as_secs_f64()
        );
    }

    // Serving rate of the simulator for the same bodies.
    println!();
    println!(
        "{:<14} {:>10} {:>10} {:>12} {:>12}",
        "served", "requests", "MB", "MB/s", "req/s"
    );
    for (name, http, urls) in [
        (
            "inventoryitem",
            &identity,
            vec![format!("{root}/inventoryitem/")],
        ),
        ("  gzip", &gzip, vec![format!("{root}/inventoryitem/")]),
        ("order windows", &identity, order_urls(&root, anchor)),
        ("  gzip", &gzip, order_urls(&root, anchor)),
    ] {
        let mut times = Vec::new();
        let mut total = 0usize;
        for _ in 0..rounds {
            let t = Instant::now();
            total = 0;
            for u in &urls {
                total += fetch(http, u.clone()).await.len();
            }
            times.push(t.elapsed());
        }
        let d = median(times);
        println!(
            "{:<14} {:>10} {:>10.1} {:>12.1} {:>12.1}",
            name,
            urls.len(),
            total as f64 / 1e6,
            mbps(total, d),
            urls.len() as f64 / d.as_secs_f64()
        );
    }
    sim.shutdown().await;
}

fn order_urls(root: &str, anchor: DateTime<Utc>) -> Vec<String> {
    plan_windows(
        anchor - chrono::Duration::days(731),
        anchor,
        chrono::Duration::days(30),
    )
    .into_iter()
    .map(|w| {
        let filter = format!(
            r#"{{"lastUpdatedDate":["{}","{}"]}}"#,
            w.start.format("%Y-%m-%dT%H:%M:%SZ"),
            w.end.format("%Y-%m-%dT%H:%M:%SZ")
        );
        format!(
            "{root}/order/?filter={}",
            urlencode(&base64_std(filter.as_bytes()))
        )
    })
    .collect()
}

fn base64_std(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}
