//! Sales on the account's business day (issue 7 §3): an account west of UTC (Los Angeles)
//! and one east of it (Sydney), sales placed near local midnight and on both sides of a DST
//! change, in both stores, equal to the truth; and a store whose account zone changes moves
//! its stored sales to the new days.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use engine::Strategy;
use engine::rows::DailySalesRow;
use engine::sync::{Engine, SyncSettings};
use finale_sim::Size;
use stockpulse_tests::truth::Expect;
use stockpulse_tests::{Pair, Setup};

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run, truth};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("day")
}

/// Adds a one-line sales order of `product_url` placed at `at` (a copy of the first
/// completed sales order, so every other field is realistic), returning its quantity.
fn place_sale(pair: &Pair, id: &str, at: DateTime<Utc>, product_url: &str) -> f64 {
    let ds = pair.sim.dataset();
    let mut ds = ds.write().expect("dataset lock");
    let mut o = ds
        .orders
        .rows()
        .iter()
        .find(|o| o.order_type_id == "SALES_ORDER" && o.status_id == "ORDER_COMPLETED")
        .expect("a completed sale")
        .clone();
    o.order_id = id.to_owned();
    o.order_url = format!("/{}/api/order/{id}", ds.account);
    o.order_date = at;
    o.created_date = at;
    o.last_updated_date = at;
    o.shipment_url_list.clear();
    o.order_item_list.truncate(1);
    o.order_item_list[0].product_url = product_url.into();
    o.order_item_list[0].quantity = 7.0;
    ds.orders.push(o);
    7.0
}

/// Units of one product per day in a store's daily sales.
fn units(rows: &[DailySalesRow], product_url: &str) -> BTreeMap<NaiveDate, f64> {
    rows.iter()
        .filter(|r| r.product_url == product_url)
        .map(|r| (r.day, r.units))
        .collect()
}

/// Sales around local midnight and on both sides of a daylight-saving change land on the
/// account's day in the store, equal to the truth (which also holds the velocities as of the
/// account's day: at the test clock, 2026-11-01T00:00Z, it is still 31 October in Los
/// Angeles); the UTC day would have put them elsewhere.
async fn sales_land_on_the_account_day(kind: Kind, zone: Tz, sales: &[(&str, &str, &str)]) {
    let pair = Setup::new(Size::Small)
        .sim(|c| c.quirks.timezone = zone)
        .start(|_| {})
        .await;
    // A product nobody else buys on those days: the product with the fewest order lines.
    let product = {
        let ds = pair.sim.dataset();
        let ds = ds.read().expect("dataset lock");
        let mut count: BTreeMap<&str, usize> = ds
            .products
            .rows()
            .iter()
            .map(|p| (&*p.product_url, 0))
            .collect();
        for o in ds.orders.rows() {
            for l in &o.order_item_list {
                *count.entry(&l.product_url).or_default() += 1;
            }
        }
        let (url, _) = count.into_iter().min_by_key(|(_, n)| *n).expect("products");
        url.to_owned()
    };
    let before = units(
        &truth(&pair, &Expect::for_sim(pair.sim.config())).daily_sales,
        &product,
    );
    for (id, at, _) in sales {
        place_sale(&pair, id, t(at), &product);
    }
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:business-day");
    run(&eng, Strategy::Full).await;
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    let stored = units(
        &ts.store.snapshot().await.expect("snapshot").daily_sales,
        &product,
    );
    for (id, at, local_day) in sales {
        let day = d(local_day);
        assert_ne!(
            t(at).date_naive(),
            day,
            "{id}: the fixture must fall on another UTC day"
        );
        let want = before.get(&day).copied().unwrap_or(0.0)
            + 7.0
                * sales
                    .iter()
                    .filter(|(_, _, other)| *other == *local_day)
                    .count() as f64;
        assert_eq!(
            stored.get(&day).copied(),
            Some(want),
            "{id} on {day} in {zone}"
        );
    }
    // Read as a UTC account, the same data gives other days: the difference shows.
    let utc = truth(
        &pair,
        &Expect::for_sim(pair.sim.config()).timezone(chrono_tz::UTC),
    );
    assert_ne!(units(&utc.daily_sales, &product), stored, "{zone}");
}

async fn sales_land_on_the_account_day_west_of_utc(kind: Kind) {
    // Los Angeles: UTC-7 (PDT) until 2026-11-01, UTC-8 (PST) on 2026-03-07.
    sales_land_on_the_account_day(
        kind,
        chrono_tz::America::Los_Angeles,
        &[
            // 20:30 PDT on 14 September.
            ("SO-LA-1", "2026-09-15T03:30:00Z", "2026-09-14"),
            // 23:59:59 PST on 7 March, the evening before daylight saving starts.
            ("SO-LA-2", "2026-03-08T07:59:59Z", "2026-03-07"),
            // 23:30 PDT on 8 March, the evening after it started (UTC-7 now).
            ("SO-LA-3", "2026-03-09T06:30:00Z", "2026-03-08"),
        ],
    )
    .await;
}

async fn sales_land_on_the_account_day_east_of_utc(kind: Kind) {
    // Sydney: UTC+10 (AEST) until 02:00 on 2026-10-04, then UTC+11 (AEDT).
    sales_land_on_the_account_day(
        kind,
        chrono_tz::Australia::Sydney,
        &[
            // 07:15 AEST on 16 September.
            ("SO-SYD-1", "2026-09-15T21:15:00Z", "2026-09-16"),
            // 00:30 AEST on 4 October, an hour and a half before daylight saving starts.
            ("SO-SYD-2", "2026-10-03T14:30:00Z", "2026-10-04"),
            // 00:30 AEDT on 5 October: UTC+11 now, so 13:30 UTC the day before.
            ("SO-SYD-3", "2026-10-04T13:30:00Z", "2026-10-05"),
        ],
    )
    .await;
}

/// A store synced while the account was configured as UTC follows a change of
/// `FINALE_TIMEZONE`: the next run re-derives every stored order's day (Finale has nothing
/// new to say about them) and rebuilds daily sales, after which the store equals the
/// truth read in the new zone; a further run moves nothing.
async fn a_changed_account_zone_moves_stored_sales(kind: Kind) {
    let sydney = chrono_tz::Australia::Sydney;
    let pair = Setup::new(Size::Small)
        .sim(|c| c.quirks.timezone = sydney)
        .start(|_| {})
        .await;
    let ts = TestStore::new(kind).await;
    let mut as_utc = pair.config.clone();
    as_utc.timezone = chrono_tz::UTC;
    let client = finale::FinaleClient::new(as_utc).expect("client");
    let eng = Engine::new(
        client,
        ts.store.clone(),
        SyncSettings::default(),
        "test:utc",
    );
    run(&eng, Strategy::Full).await;
    let utc_days = truth(
        &pair,
        &Expect::for_sim(pair.sim.config()).timezone(chrono_tz::UTC),
    );
    let stored = ts.store.snapshot().await.expect("snapshot");
    assert_eq!(stored.daily_sales, utc_days.daily_sales, "UTC days first");

    let eng = engine(&pair, ts.store.clone(), "test:sydney");
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.daily_sales.total() > 0, "{:?}", smart.daily_sales);
    assert_store_is_truth(&pair, &*ts.store, &Expect::for_sim(pair.sim.config())).await;
    let again = run(&eng, Strategy::Smart).await;
    assert_eq!(again.applied.rows_written(), 0, "{:?}", again.applied);
    assert_eq!(again.daily_sales.total(), 0, "{:?}", again.daily_sales);
}

/// Order lines completed through GraphQL (headers-only collections) for an account east of
/// UTC: GraphQL's `orderDate` is the account-local day, the client asks for the account's
/// days, and every order gets its lines; the store equals the truth.
async fn headers_only_lines_east_of_utc(kind: Kind) {
    let pair = Setup::new(Size::Small)
        .sim(|c| {
            c.quirks.timezone = chrono_tz::Pacific::Kiritimati; // UTC+14
            c.quirks.order_items_in_collection = false;
        })
        .start(|_| {})
        .await;
    let ts = TestStore::new(kind).await;
    run(
        &engine(&pair, ts.store.clone(), "test:kiritimati"),
        Strategy::Full,
    )
    .await;
    let expect = Expect::for_sim(pair.sim.config());
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
}

crate::on_both_stores!(
    headers_only_lines_east_of_utc,
    sales_land_on_the_account_day_west_of_utc,
    sales_land_on_the_account_day_east_of_utc,
    a_changed_account_zone_moves_stored_sales,
);
