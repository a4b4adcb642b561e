//! End-to-end tests of the HTTP surface against a real listener on 127.0.0.1:0.

use std::time::{Duration as StdDuration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::{Fault, FaultPlan, SimClock, SimConfig, SimHandle, Simulator, Size};

fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

fn cfg() -> SimConfig {
    let mut c = SimConfig::new(Size::Small, 21);
    c.anchor = anchor();
    c.clock = SimClock::scaled(SystemTime::now(), anchor(), 1.0);
    c
}

async fn start(c: SimConfig) -> SimHandle {
    Simulator::start(c).await.unwrap()
}

thread_local! {
    // Building a client (TLS setup) is slow; each test runs on its own thread and runtime, so a
    // per-thread client never outlives the runtime its pooled connections belong to.
    static CLIENT: reqwest::Client =
        reqwest::Client::builder().timeout(StdDuration::from_secs(10)).build().unwrap();
}

fn client() -> reqwest::Client {
    CLIENT.with(Clone::clone)
}

async fn get(sim: &SimHandle, path_and_query: &str) -> reqwest::Response {
    client()
        .get(format!("{}{}", sim.base_url(), path_and_query))
        .basic_auth("sim-key", Some("sim-secret"))
        .send()
        .await
        .unwrap()
}

async fn get_json(sim: &SimHandle, pq: &str) -> (u16, Value) {
    let r = get(sim, pq).await;
    let s = r.status().as_u16();
    let b = r.bytes().await.unwrap();
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn f(v: Value) -> String {
    let b = STANDARD.encode(v.to_string());
    percent_encoding::utf8_percent_encode(&b, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn rows(v: &Value) -> usize {
    v.as_object().map_or(0, |o| {
        o.values()
            .map(|a| a.as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0)
    })
}

#[tokio::test]
async fn collections_are_column_major_and_bodies_deterministic() {
    let a = start(cfg()).await;
    let b = start(cfg()).await;
    let mut other = cfg();
    other.seed = 22;
    let c = start(other).await;
    for coll in [
        "product",
        "facility",
        "partygroup",
        "inventoryitem",
        "shipment",
    ] {
        let pa = get(&a, &format!("/acme/api/{coll}/")).await;
        assert_eq!(pa.status(), 200);
        assert_eq!(pa.headers()["content-type"], "application/json");
        let ba = pa.bytes().await.unwrap();
        let bb = get(&b, &format!("/acme/api/{coll}/"))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(ba, bb, "{coll} differs between identical simulators");
        if coll == "product" {
            let bc = get(&c, "/acme/api/product/").await.bytes().await.unwrap();
            assert_ne!(ba, bc, "different seeds give different products");
        }
        let v: Value = serde_json::from_slice(&ba).unwrap();
        let n = rows(&v);
        assert!(n > 0);
        for (k, col) in v.as_object().unwrap() {
            assert_eq!(col.as_array().unwrap().len(), n, "{coll}.{k}");
        }
    }
    let ds = a.dataset();
    let (n_products, n_stock) = {
        let truth = ds.read().unwrap();
        (truth.products.len(), truth.inventory_items.len())
    };
    let (_, v) = get_json(&a, "/acme/api/product/").await;
    assert_eq!(rows(&v), n_products);
    let (_, v) = get_json(&a, "/acme/api/inventoryitem/?filter=garbage&limit=1").await;
    assert_eq!(rows(&v), n_stock, "inventoryitem ignores filter and limit");
}

#[tokio::test]
async fn single_records_match_stored_urls_exactly() {
    let sim = start(cfg()).await;
    let (product_url, odd_order_url, ship_url, sku) = {
        let ds = sim.dataset();
        let d = ds.read().unwrap();
        let p = d
            .products
            .rows()
            .iter()
            .find(|p| {
                !p.product_url
                    .ends_with(&crate::generate::encode_segment(&p.product_id))
            })
            .unwrap();
        let o = d
            .orders
            .rows()
            .iter()
            .find(|o| o.order_url.contains('%') || o.order_id.contains("Dropship"));
        let o = o.unwrap_or(&d.orders.rows()[0]);
        (
            p.product_url.to_string(),
            o.order_url.clone(),
            d.shipments.rows()[0].shipment_url.clone(),
            p.product_id.to_string(),
        )
    };
    let (s, v) = get_json(&sim, &product_url).await;
    assert_eq!(s, 200);
    assert_eq!(v["productUrl"], json!(product_url));
    assert!(v["supplierList"].is_array());
    let (s, _) = get_json(
        &sim,
        &format!(
            "/acme/api/product/{}",
            crate::generate::encode_segment(&sku)
        ),
    )
    .await;
    assert_eq!(s, 404, "the SKU is not the URL id for this product");
    let (s, v) = get_json(&sim, &odd_order_url).await;
    assert_eq!(s, 200, "{odd_order_url}");
    assert!(v["orderItemList"].is_array());
    let (s, v) = get_json(&sim, &ship_url).await;
    assert_eq!(s, 200);
    assert!(v["shipmentIdUser"].as_str().unwrap().ends_with("-1"));
    for bad in [
        "/acme/api/order/NOPE",
        "/acme/api/productStock/",
        "/acme/api/inventoryitem/1",
        "/other/api/product/",
        "/acme/nothing",
    ] {
        assert_eq!(get(&sim, bad).await.status(), 404, "{bad}");
    }
    let r = client()
        .post(format!("{}/acme/api/product/", sim.base_url()))
        .basic_auth("sim-key", Some("sim-secret"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn filters_windows_cap_and_limit() {
    let mut c = cfg();
    c.cap = 15;
    let sim = start(c).await;
    let ds = sim.dataset();
    let (lo, hi) = (anchor() - Duration::days(30), anchor());
    let window: Vec<String> = {
        let d = ds.read().unwrap();
        d.orders
            .updated_between(lo, hi)
            .iter()
            .map(|&i| d.orders.rows()[i].order_url.clone())
            .collect()
    };
    assert!(window.len() > 15, "need more than the cap in the window");
    let w = json!({"lastUpdatedDate": ["2025-05-02T00:00:00Z", "2025-06-01T00:00:00"]});
    let (s, v) = get_json(&sim, &format!("/acme/api/order/?filter={}", f(w.clone()))).await;
    assert_eq!(s, 200);
    let got: Vec<&str> = v["orderUrl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        window[..15].iter().map(String::as_str).collect::<Vec<_>>(),
        "cap keeps the oldest 15"
    );
    // cap before other filters
    let wf = json!({"lastUpdatedDate": ["2025-05-02T00:00:00Z", "2025-06-01T00:00:00"], "orderTypeId": ["PURCHASE_ORDER", "PURCHASE_ORDER"]});
    let (_, v) = get_json(&sim, &format!("/acme/api/order/?filter={}", f(wf))).await;
    let want = {
        let d = ds.read().unwrap();
        window[..15]
            .iter()
            .filter(|u| !d.orders.by_url(u).unwrap().is_sales())
            .count()
    };
    assert_eq!(rows(&v), want);
    // limit after filters; plain params ignored
    let (_, v) = get_json(
        &sim,
        &format!(
            "/acme/api/order/?filter={}&limit=4&offset=100&orderTypeId=X",
            f(w)
        ),
    )
    .await;
    assert_eq!(rows(&v), 4);
    // 400s
    for bad in [
        json!({"lastUpdatedDate": [null, "2025-05-01"]}),
        json!({"lastUpdatedDate": ["2025-01-01", "2025-03-01"]}),
        json!({"orderItemList": [null, null]}),
    ] {
        let (s, v) = get_json(&sim, &format!("/acme/api/order/?filter={}", f(bad.clone()))).await;
        assert_eq!(s, 400, "{bad}");
        assert!(v["errorMessage"].is_string());
    }
    assert_eq!(get(&sim, "/acme/api/order/?filter=***").await.status(), 400);
    // empty result is {}
    let none = json!({"orderId": ["ZZZ", "ZZZZ"]});
    let r = get(&sim, &format!("/acme/api/order/?filter={}", f(none))).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"{}");
    // no date filter: the cap applies all the same (finale-api.md §8.2), inventoryitem too
    let (_, v) = get_json(&sim, "/acme/api/product/").await;
    assert!(ds.read().unwrap().products.len() > 15);
    assert_eq!(rows(&v), 15);
    let (_, v) = get_json(&sim, "/acme/api/inventoryitem/").await;
    assert!(ds.read().unwrap().inventory_items.len() > 15);
    assert_eq!(v["productUrl"].as_array().unwrap().len(), 15);
    let first: Vec<String> = {
        let d = ds.read().unwrap();
        d.products.natural_order()[..15]
            .iter()
            .map(|&i| d.products.rows()[i].product_url.to_string())
            .collect()
    };
    let (_, v) = get_json(&sim, "/acme/api/product/").await;
    let got: Vec<String> = v["productUrl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, first, "the first 15 in natural order");
}

#[tokio::test]
async fn auth_is_required_and_legacy_login_issues_a_session() {
    let mut c = cfg();
    c.legacy_user = Some(("bob".into(), "pw".into()));
    let sim = start(c).await;
    let url = format!("{}/acme/api/facility/", sim.base_url());
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(&url)
        .basic_auth("sim-key", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(body["errorMessage"].is_string());
    assert!(!body.to_string().contains("sim-secret"));
    let r = client()
        .get(&url)
        .header("Authorization", "Basic !!!notbase64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let login = format!("{}/acme/api/auth", sim.base_url());
    let r = client()
        .post(&login)
        .body(json!({"username": "bob", "password": "nope"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client().post(&login).body("not json").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(&login)
        .body(json!({"username": "bob", "password": "pw"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("JSESSIONID=") && cookie.contains("Path=/acme"),
        "{cookie}"
    );
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["resourceFacilityUrl"], "/acme/api/facility/");
    assert_eq!(body["resourceFacility"], "/acme/api/facility/");
    let session = cookie.split(';').next().unwrap().to_owned();
    let r = client()
        .get(&url)
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(&url)
        .header("Cookie", "JSESSIONID=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn error_body_shapes_follow_the_quirk() {
    let mut c = cfg();
    c.quirks.error_body = crate::ErrorBodyShape::PlainText;
    let sim = start(c).await;
    let r = client()
        .get(format!("{}/acme/api/product/", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let mut c = cfg();
    c.quirks.error_body = crate::ErrorBodyShape::ErrorsList;
    let sim = start(c).await;
    // A missing record is an API error in the configured shape (an unknown path is HTML).
    let (s, v) = get_json(&sim, "/acme/api/product/NO-SUCH-SKU").await;
    assert_eq!(s, 404);
    assert!(v["errors"][0].is_string());
}

#[tokio::test]
async fn the_121st_get_in_a_window_is_429_until_the_reset() {
    // Scale 10: a virtual minute window passes in six real seconds. Requests are counted per
    // window (by X-RateLimit-Reset), so a window that rolls over mid-loop just restarts the count.
    let mut c = cfg();
    c.clock = SimClock::scaled(SystemTime::now(), anchor() + Duration::seconds(1), 10.0);
    let sim = start(c).await;
    let (mut window, mut count) = (0i64, 0u32);
    let mut rejected = None;
    for _ in 0..3000 {
        let r = get(&sim, "/acme/api/facility/10000").await;
        let reset: i64 = r.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        if r.status() == 429 {
            rejected = Some((r, reset));
            break;
        }
        assert_eq!(r.status(), 200);
        if reset != window {
            (window, count) = (reset, 0);
        }
        count += 1;
        assert_eq!(
            r.headers()["x-ratelimit-remaining"].to_str().unwrap(),
            (120 - count).to_string()
        );
    }
    let (r, reset) = rejected.expect("a 429 within the loop");
    assert_eq!(reset, window, "the 429 describes the window that is full");
    assert_eq!(count, 120, "exactly 120 GETs were admitted in that window");
    assert_eq!(r.headers()["x-ratelimit-limit"], "120");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(body["errorMessage"].is_string());
    let now = sim.config().clock.now().timestamp();
    sim.config()
        .clock
        .sleep(Duration::seconds((reset - now).max(0) + 1))
        .await;
    let r = get(&sim, "/acme/api/facility/10000").await;
    assert_eq!(r.status(), 200, "a new window after the reset");
    let st = sim.stats();
    assert_eq!(st.by_status.get(&429), Some(&1));
    assert_eq!(
        st.by_bucket.get("collection"),
        None,
        "single-record GETs do not use the collection bucket"
    );
}

#[tokio::test]
async fn collection_reads_report_the_collection_bucket() {
    let mut c = cfg();
    c.limits.collection_per_hour = 2;
    let sim = start(c).await;
    let r = get(&sim, "/acme/api/facility/").await;
    assert_eq!(r.headers()["x-ratelimit-limit"], "2");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "1");
    let reset: i64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reset % 3600, 0);
    assert_eq!(get(&sim, "/acme/api/facility/").await.status(), 200);
    let r = get(&sim, "/acme/api/facility/").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-limit"], "2");
    // A single-record GET is still fine.
    assert_eq!(get(&sim, "/acme/api/facility/10000").await.status(), 200);
    let st = sim.stats();
    assert_eq!(st.by_bucket["collection"], 2);
    assert_eq!(st.by_bucket["get"], 3);
    assert!(st.log.iter().filter(|e| e.collection).count() == 3);
    // disabled limits: never 429, headers still there
    let mut c = cfg();
    c.limits.enabled = false;
    c.limits.collection_per_hour = 1;
    let sim = start(c).await;
    for _ in 0..3 {
        let r = get(&sim, "/acme/api/facility/").await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-ratelimit-remaining"));
    }
}

#[tokio::test]
async fn faults_do_what_they_say_and_cost_no_budget() {
    let mut c = cfg();
    c.limits.collection_per_hour = 100;
    let sim = start(c).await;
    sim.inject(FaultPlan::new(Fault::Status(503), 1).on_path("/product"));
    assert_eq!(
        get(&sim, "/acme/api/facility/").await.status(),
        200,
        "path filter"
    );
    assert_eq!(get(&sim, "/acme/api/product/").await.status(), 503);
    assert_eq!(
        get(&sim, "/acme/api/product/").await.status(),
        200,
        "count used up"
    );

    sim.inject(FaultPlan {
        fault: Fault::RateLimitStorm,
        count: 1,
        path_contains: None,
        reset_after: Some(Duration::seconds(30)),
    });
    let r = get(&sim, "/acme/api/facility/").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let reset: i64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((reset - sim.config().clock.now().timestamp() - 30).abs() <= 1);
    assert!(r.headers().contains_key("retry-after"));

    sim.inject(FaultPlan::new(Fault::ErrorBody200, 1));
    let (s, v) = get_json(&sim, "/acme/api/facility/").await;
    assert_eq!(s, 200);
    assert!(v["errorMessage"].is_string());

    sim.inject(FaultPlan::new(Fault::MalformedRecords(3), 1));
    let (s, v) = get_json(&sim, "/acme/api/product/").await;
    assert_eq!(s, 200);
    let bad_cost = v["cost"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c == &&json!("twelve"))
        .count();
    let bad_date = v["lastUpdatedDate"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c == &&json!("not-a-date"))
        .count();
    let bad_url = v["productUrl"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.is_number())
        .count();
    assert_eq!((bad_cost, bad_date, bad_url), (1, 1, 1));

    sim.inject(FaultPlan::new(Fault::Drop, 1));
    let err = client()
        .get(format!("{}/acme/api/facility/", sim.base_url()))
        .basic_auth("sim-key", Some("sim-secret"))
        .send()
        .await;
    assert!(err.is_err(), "dropped connection");

    sim.inject(FaultPlan::new(Fault::Truncate, 1));
    let r = client()
        .get(format!("{}/acme/api/product/", sim.base_url()))
        .basic_auth("sim-key", Some("sim-secret"))
        .send()
        .await;
    // An Err here is also acceptable: the cut came before the headers were read.
    if let Ok(r) = r {
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.is_err(), "truncated body must fail to read");
    }

    sim.inject(FaultPlan::new(
        Fault::Slow(StdDuration::from_millis(300)),
        1,
    ));
    let t = std::time::Instant::now();
    assert_eq!(get(&sim, "/acme/api/facility/").await.status(), 200);
    assert!(t.elapsed() >= StdDuration::from_millis(300));

    sim.inject(FaultPlan::new(Fault::Status(500), 10));
    sim.clear_faults();
    assert_eq!(get(&sim, "/acme/api/facility/").await.status(), 200);

    let st = sim.stats();
    let statuses: Vec<u16> = st.log.iter().map(|e| e.status).collect();
    assert!(statuses.contains(&503) && statuses.contains(&429) && statuses.contains(&0));
    assert_eq!(st.log.iter().filter(|e| e.status == 0).count(), 2);
    // Budget: only the non-fault requests count (facility×4 + product×1 + slow facility + final).
    let admitted = st.by_bucket["collection"];
    assert_eq!(admitted, 5, "{st:?}");
}

#[tokio::test]
async fn gzip_is_served_when_asked() {
    let sim = start(cfg()).await;
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(format!("{}/acme/api/product/", sim.base_url()))
        .basic_auth("sim-key", Some("sim-secret"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let (s, v) = get_json(&sim, "/acme/api/product/").await;
    assert_eq!(s, 200);
    assert!(rows(&v) > 0);
}

#[tokio::test]
async fn live_mode_changes_timestamps_and_stock() {
    let mut c = cfg();
    c.quirks.clock_skew = Duration::minutes(-3);
    let sim = start(c).await;
    let before = get(&sim, "/acme/api/inventoryitem/")
        .await
        .bytes()
        .await
        .unwrap();
    let rep = sim.step_live(Duration::hours(6));
    assert!(rep.new_orders > 0 && rep.stock_rows_changed > 0, "{rep:?}");
    let after = get(&sim, "/acme/api/inventoryitem/")
        .await
        .bytes()
        .await
        .unwrap();
    assert_ne!(before, after);
    let now = sim.config().clock.now();
    let w = json!({"lastUpdatedDate": [(now - Duration::minutes(10)).to_rfc3339(), (now + Duration::minutes(1)).to_rfc3339()]});
    let (s, v) = get_json(&sim, &format!("/acme/api/order/?filter={}", f(w))).await;
    assert_eq!(s, 200);
    assert!(
        rows(&v) >= rep.new_orders,
        "new orders are in the latest window"
    );
    let stamps = v["lastUpdatedDate"].as_array().unwrap();
    let skewed = (now - Duration::minutes(3))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    assert!(
        stamps
            .iter()
            .any(|s| s.as_str().unwrap().starts_with(&skewed)),
        "{stamps:?} vs {skewed}"
    );
    sim.clone().shutdown().await;
}

/// The timestamp zone (`Quirks::timestamps`): UTC by default whatever the account zone, the
/// account's wall time under `Timestamps::Account`; naive filter bounds are read in the same
/// zone, so a bound with `Z` and the same instant written naive select the same rows in both
/// modes. Orders are placed at any time of day, not only at midnight.
#[tokio::test]
async fn timestamps_are_written_and_naive_bounds_read_in_the_timestamp_zone() {
    let sydney = chrono_tz::Australia::Sydney;
    for mode in [crate::Timestamps::Utc, crate::Timestamps::Account] {
        let mut c = cfg();
        c.quirks.timezone = sydney;
        c.quirks.timestamps = mode;
        let sim = start(c).await;
        let zone = sim.config().quirks.timestamp_zone();
        assert_eq!(
            zone,
            match mode {
                crate::Timestamps::Utc => chrono_tz::UTC,
                crate::Timestamps::Account => sydney,
            }
        );
        let (lo, hi) = (anchor() - Duration::days(10), anchor() - Duration::days(3));
        let z = json!({"lastUpdatedDate": [
            lo.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            hi.format("%Y-%m-%dT%H:%M:%SZ").to_string()]});
        let naive = json!({"lastUpdatedDate": [
            lo.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S").to_string(),
            hi.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S").to_string()]});
        let (s, by_z) = get_json(&sim, &format!("/acme/api/order/?filter={}", f(z))).await;
        assert_eq!(s, 200);
        let (_, by_naive) = get_json(&sim, &format!("/acme/api/order/?filter={}", f(naive))).await;
        assert!(rows(&by_z) > 0);
        assert_eq!(by_z["orderUrl"], by_naive["orderUrl"], "{mode:?}");
        let ds = sim.dataset();
        let ds = ds.read().unwrap();
        let mut off_midnight = 0;
        for (i, url) in by_z["orderUrl"].as_array().unwrap().iter().enumerate() {
            let o = ds.orders.by_url(url.as_str().unwrap()).unwrap();
            let want = o
                .order_date
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M:%S");
            assert_eq!(by_z["orderDate"][i], json!(want.to_string()), "{mode:?}");
            if o.order_date.timestamp() % 86_400 != 0 {
                off_midnight += 1;
            }
        }
        assert!(off_midnight > 0, "orders are placed at any time of day");
    }
}

/// finale-api.md §15b: a collection path without its trailing slash and any unknown path
/// answer an HTML 404 (not JSON); the quirk can serve the slash-less path instead. The
/// `X-RateLimit-Reset` header can be written in epoch milliseconds.
#[tokio::test]
async fn unknown_paths_are_html_404s_and_the_reset_unit_is_a_quirk() {
    let sim = start(cfg()).await;
    for path in ["/acme/api/inventoryitem?limit=5", "/acme/api/nonsense/"] {
        let r = get(&sim, path).await;
        assert_eq!(r.status(), 404, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        let body = r.text().await.unwrap();
        assert!(
            serde_json::from_str::<Value>(&body).is_err(),
            "{path}: {body}"
        );
    }
    let reset = |r: &reqwest::Response| -> i64 {
        r.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let secs = reset(&get(&sim, "/acme/api/facility/").await);
    assert!(secs > 1_000_000_000 && secs < 1_000_000_000_000, "{secs}");

    let mut c = cfg();
    c.quirks.collection_needs_trailing_slash = false;
    c.quirks.rate_limit_reset_millis = true;
    let lax = start(c).await;
    let r = get(&lax, "/acme/api/inventoryitem?limit=5").await;
    assert_eq!(r.status(), 200);
    let ms = reset(&r);
    assert!(ms > 1_000_000_000_000, "{ms}");
    assert_eq!(ms % 1000, 0);
}

/// finale-api.md §15b shapes on request: live-captured products (a user-defined price type
/// without a `price` key, empty nested lists per record) and doc-example single records (no
/// dates, an `invalidations` key). A purchase order's `dueDate` is a date at a fixed clock
/// time in either case.
#[tokio::test]
async fn live_and_doc_payload_shapes_follow_their_quirks() {
    let plain = start(cfg()).await;
    let mut c = cfg();
    c.quirks.live_product_shape = true;
    c.quirks.doc_shaped_records = true;
    let shaped = start(c).await;

    let (_, p) = get_json(&plain, "/acme/api/product/").await;
    assert!(p.get("productStoreList").is_none());
    let (_, p) = get_json(&shaped, "/acme/api/product/").await;
    let prices = p["priceList"][0].as_array().unwrap();
    let user = prices.last().unwrap();
    assert_eq!(user["productPriceTypeId"], json!("##user2"));
    assert!(user.get("price").is_none(), "{user}");
    assert!(
        prices
            .iter()
            .any(|e| e["productPriceTypeId"] == json!("LIST_PRICE"))
    );
    assert_eq!(p["productStoreList"][0], json!([]));
    assert_eq!(rows(&p), shaped.dataset().read().unwrap().products.len());

    let po = {
        let ds = plain.dataset();
        let ds = ds.read().unwrap();
        ds.orders
            .rows()
            .iter()
            .find(|o| o.order_type_id == "PURCHASE_ORDER")
            .unwrap()
            .clone()
    };
    let path = po.order_url.clone();
    let (s, one) = get_json(&plain, &path).await;
    assert_eq!(s, 200);
    assert!(one["orderDate"].is_string() && one.get("invalidations").is_none());
    let due = format!("{}T16:00:00", po.due_day(chrono_tz::UTC).unwrap());
    assert_eq!(one["dueDate"], json!(due));
    let (s, one) = get_json(&shaped, &path).await;
    assert_eq!(s, 200);
    for key in ["orderDate", "createdDate", "lastUpdatedDate"] {
        assert!(one.get(key).is_none(), "{key}: {one}");
    }
    assert!(one["invalidations"].is_object());
    assert_eq!(one["dueDate"], json!(due));
    assert!(one["orderItemList"].is_array());
    // Collections keep their dates.
    let (_, coll) = get_json(&shaped, "/acme/api/order/?limit=3").await;
    assert!(coll["orderDate"][0].is_string());
}

/// finale-api.md §15b: `offset` appears to be ignored; collections return oldest rows first.
#[tokio::test]
async fn offset_is_ignored() {
    let sim = start(cfg()).await;
    let (_, first) = get_json(&sim, "/acme/api/facility/?limit=2").await;
    let (_, skipped) = get_json(&sim, "/acme/api/facility/?limit=2&offset=1").await;
    assert_eq!(rows(&first), 2);
    assert_eq!(first["facilityUrl"], skipped["facilityUrl"]);
}
