//! `lastUpdatedDate` windows: complete, without duplicates, split when Finale truncates, and
//! read in the account's time zone.

use std::collections::HashMap;

use chrono::Duration;
use finale::{Error, Order, Priority, Shipment, TimestampZone, Window};
use finale_sim::Size;
use stockpulse_tests::{Setup, anchor, small};

/// Checks that `got` holds exactly the truth orders updated within [since, until], lines included.
fn assert_orders_match(
    got: &[Order],
    truth: &finale_sim::Dataset,
    since: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) {
    let want: Vec<&finale_sim::Order> = truth
        .orders
        .rows()
        .iter()
        .filter(|o| o.last_updated_date >= since && o.last_updated_date <= until)
        .collect();
    let by_url: HashMap<&str, &Order> = got.iter().map(|o| (o.url.as_str(), o)).collect();
    assert_eq!(by_url.len(), got.len(), "duplicates in the result");
    assert_eq!(got.len(), want.len(), "orders in [{since}, {until}]");
    for t in want {
        let o = by_url
            .get(t.order_url.as_str())
            .unwrap_or_else(|| panic!("missing {}", t.order_url));
        assert_eq!(o.order_id, t.order_id);
        assert_eq!(o.order_type, t.order_type_id);
        assert_eq!(o.status.as_deref(), Some(t.status_id.as_str()));
        assert_eq!(o.last_updated, Some(t.last_updated_date));
        assert_eq!(
            o.order_date,
            Some(t.order_date),
            "order times arrive to the second"
        );
        if let Some(lines) = &o.lines {
            assert_eq!(lines.len(), t.order_item_list.len(), "{}", t.order_url);
            for (l, tl) in lines.iter().zip(&t.order_item_list) {
                assert_eq!(l.product_url.as_deref(), Some(&*tl.product_url));
                assert!((l.quantity.unwrap_or(f64::NAN) - tl.quantity).abs() < 1e-9);
            }
        }
    }
}

#[tokio::test]
async fn two_years_of_orders_arrive_exactly_once() {
    let p = small().await;
    let since = anchor() - Duration::days(731);
    let mut progress = Vec::new();
    let got = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Backfill, |w| {
            progress.push((w.done, w.total))
        })
        .await
        .unwrap();
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(progress.len(), 25, "two years in 30-day windows");
    assert_eq!(progress.last(), Some(&(25, 25)));
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, anchor());
    assert!(
        got.records.iter().all(|o| o.lines.is_some()),
        "this simulator carries orderItemList"
    );
}

#[tokio::test]
async fn a_sub_range_returns_exactly_its_changes() {
    let p = small().await;
    let (since, until) = (anchor() - Duration::days(45), anchor() - Duration::days(10));
    let got = p
        .client
        .fetch_changed::<Order>(since, until, Priority::Smart, |_| {})
        .await
        .unwrap();
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, until);
    let ships = p
        .client
        .fetch_changed::<Shipment>(since, until, Priority::Smart, |_| {})
        .await
        .unwrap();
    let truth = ds.read().unwrap();
    let want = truth
        .shipments
        .rows()
        .iter()
        .filter(|s| s.last_updated_date >= since && s.last_updated_date <= until)
        .count();
    assert_eq!(ships.records.len(), want);
}

#[tokio::test]
async fn windows_at_the_cap_are_split_until_complete() {
    // A cap of 40 entities per filtered read (Finale's is 120,000): most 30-day windows are
    // truncated by the server and must be split by the client.
    let p = Setup::new(Size::Small)
        .sim(|c| c.cap = 40)
        .start(|c| c.cap = 40)
        .await;
    let since = anchor() - Duration::days(200);
    let got = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Backfill, |_| {})
        .await
        .unwrap();
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, anchor());
    let w = Window::new(anchor() - Duration::days(30), anchor()).unwrap();
    let batch = p
        .client
        .fetch_window::<Order>(w, Priority::Smart)
        .await
        .unwrap();
    assert!(
        batch.splits > 0 && batch.requests > 1,
        "a capped window is split: {} splits",
        batch.splits
    );
}

#[tokio::test]
async fn windows_that_fill_the_limit_are_split_too() {
    let p = small().await;
    let mut config = p.config.clone();
    config.limit = Some(25);
    let client = finale::FinaleClient::new(config).unwrap();
    let since = anchor() - Duration::days(90);
    let got = client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap();
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, anchor());
}

#[tokio::test]
async fn a_window_over_thirty_days_is_refused_by_finale_with_its_message() {
    let p = small().await;
    let mut config = p.config.clone();
    config.max_window = Duration::days(45);
    let client = finale::FinaleClient::new(config).unwrap();
    let w = Window::new(anchor() - Duration::days(45), anchor()).unwrap();
    let err = client
        .fetch_window::<Order>(w, Priority::Smart)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadRequest { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("30"),
        "the server's reason reaches the user: {err}"
    );
    assert_eq!(p.sim.stats().requests, 1, "a 400 is not retried");
}

#[tokio::test]
async fn open_upper_bounds_are_never_sent() {
    let p = Setup::new(Size::Small)
        .sim(|c| c.quirks.reject_open_upper_bound = true)
        .start(|_| {})
        .await;
    let since = anchor() - Duration::days(20);
    let got = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap();
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, anchor());
}

/// `FINALE_TIMESTAMPS=utc` (the default): an account in Chicago whose server writes UTC is
/// read exactly, windows included (bounds go out with `Z`), and reading the same bytes as
/// Chicago wall time would be off by Chicago's offset.
#[tokio::test]
async fn offset_less_timestamps_are_utc_by_default_whatever_the_account_zone() {
    let chicago: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    let p = Setup::new(Size::Small)
        .sim(|c| c.quirks.timezone = chicago)
        .start(|_| {})
        .await;
    assert_eq!(p.config.timezone, chicago);
    assert_eq!(p.config.timestamps, TimestampZone::Utc);
    let since = anchor() - Duration::days(60);
    let got = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap();
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, anchor());

    let mut local = p.config.clone();
    local.timestamps = TimestampZone::Account;
    let client = finale::FinaleClient::new(local).unwrap();
    let w = Window::new(anchor() - Duration::days(20), anchor() - Duration::days(10)).unwrap();
    let skewed = client
        .fetch_window::<Order>(w, Priority::Smart)
        .await
        .unwrap();
    let truth = ds.read().unwrap();
    let o = skewed.records.first().expect("some orders in the window");
    let t = truth.orders.by_url(&o.url).unwrap();
    let off = o.last_updated.unwrap() - t.last_updated_date;
    assert!(
        off == Duration::hours(5) || off == Duration::hours(6),
        "offset {off}"
    );
}

/// `FINALE_TIMESTAMPS=account`: a server writing Chicago wall time is read in Chicago time.
#[tokio::test]
async fn offset_less_timestamps_are_read_in_the_account_time_zone() {
    let chicago: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    let p = Setup::new(Size::Small)
        .sim(|c| {
            c.quirks.timezone = chicago;
            c.quirks.timestamps = finale_sim::Timestamps::Account;
        })
        .start(|_| {})
        .await;
    assert_eq!(p.config.timezone, chicago);
    assert_eq!(p.config.timestamps, TimestampZone::Account);
    let since = anchor() - Duration::days(60);
    let got = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await
        .unwrap();
    let ds = p.sim.dataset();
    assert_orders_match(&got.records, &ds.read().unwrap(), since, anchor());

    // The same account read as if it were UTC is off by Chicago's offset: the setting matters.
    let mut utc = p.config.clone();
    utc.timestamps = TimestampZone::Utc;
    let client = finale::FinaleClient::new(utc).unwrap();
    let w = Window::new(anchor() - Duration::days(20), anchor() - Duration::days(10)).unwrap();
    let skewed = client
        .fetch_window::<Order>(w, Priority::Smart)
        .await
        .unwrap();
    let truth = ds.read().unwrap();
    let o = skewed.records.first().expect("some orders in the window");
    let t = truth.orders.by_url(&o.url).unwrap();
    let off = o.last_updated.unwrap() - t.last_updated_date;
    assert!(
        off == Duration::hours(-5) || off == Duration::hours(-6),
        "offset {off}"
    );
}
