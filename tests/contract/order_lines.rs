//! Order lines when the order collection carries only headers (finale-api.md §6.1, disputed):
//! the client completes them through GraphQL or per-order GETs, whichever the budget favours.

use chrono::Duration;
use finale::{Order, Priority};
use finale_sim::Size;
use stockpulse_tests::{Setup, anchor};

/// Every order has exactly the simulator's lines: product, quantity (exactly) and unit price.
pub(crate) fn assert_lines_match(orders: &[Order], truth: &finale_sim::Dataset) {
    for o in orders {
        let t = truth.orders.by_url(&o.url).unwrap();
        let lines = o
            .lines
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no lines", o.url));
        assert_eq!(lines.len(), t.order_item_list.len(), "{}", o.url);
        for (l, tl) in lines.iter().zip(&t.order_item_list) {
            assert_eq!(
                l.product_url.as_deref(),
                Some(&*tl.product_url),
                "{}",
                o.url
            );
            assert_eq!(l.quantity, Some(tl.quantity), "{}", o.url);
            assert!((l.unit_price.unwrap_or(f64::NAN) - tl.unit_price).abs() < 1e-6);
        }
    }
}

/// The orders changed in the last `days` days before the anchor, as the collection sends them.
pub(crate) async fn orders_changed_in_the_last(
    p: &stockpulse_tests::Pair,
    days: i64,
) -> Vec<Order> {
    p.client
        .fetch_changed::<Order>(
            anchor() - Duration::days(days),
            anchor(),
            Priority::Smart,
            |_| {},
        )
        .await
        .unwrap()
        .records
}

async fn headers_only(scale: f64) -> stockpulse_tests::Pair {
    Setup::new(Size::Small)
        .scale(scale)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|_| {})
        .await
}

#[tokio::test]
async fn many_orders_get_their_lines_through_graphql() {
    let p = headers_only(10.0).await;
    let mut orders = orders_changed_in_the_last(&p, 120).await;
    assert!(orders.len() > 50);
    assert!(
        orders.iter().all(|o| o.lines.is_none()),
        "headers only: lines unknown, not empty"
    );
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.orders_completed, orders.len());
    assert!(report.via_graphql > 0, "{report:?}");
    let ds = p.sim.dataset();
    assert_lines_match(&orders, &ds.read().unwrap());
    assert!(
        p.sim
            .stats()
            .log
            .iter()
            .any(|e| e.path.ends_with("/graphql"))
    );
}

#[tokio::test]
async fn a_few_orders_get_their_lines_by_record_reads() {
    let p = headers_only(1.0).await;
    let all = orders_changed_in_the_last(&p, 30).await;
    let mut two: Vec<Order> = all.into_iter().take(2).collect();
    let report = p
        .client
        .complete_order_lines(&mut two, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.via_get, 2, "{report:?}");
    let ds = p.sim.dataset();
    assert_lines_match(&two, &ds.read().unwrap());
}

#[tokio::test]
async fn orders_that_already_have_lines_cost_nothing() {
    let p = Setup::new(Size::Small).start(|_| {}).await;
    let mut orders = orders_changed_in_the_last(&p, 30).await;
    let before = p.sim.stats().requests;
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.orders_completed, 0);
    assert_eq!(p.sim.stats().requests, before);
}

/// A stand-in or account that serves no GraphQL (finale-api.md §3b of issue 7): the budget
/// chooses GraphQL for many orders, the endpoint answers 404, and the lines come from per-order
/// GETs instead of failing; the refusal is remembered, so the next completion spends no POST.
#[tokio::test]
async fn lines_fall_back_to_record_reads_when_graphql_refuses() {
    let p = Setup::new(Size::Small)
        .scale(10.0)
        .sim(|c| {
            c.quirks.order_items_in_collection = false;
            c.quirks.graphql = false;
        })
        .start(|_| {})
        .await;
    let mut orders = orders_changed_in_the_last(&p, 120).await;
    assert!(
        orders.len() > 50,
        "enough orders for the budget to pick GraphQL"
    );
    let half = orders.len() / 2;
    let (first, rest) = orders.split_at_mut(half);
    let report = p
        .client
        .complete_order_lines(first, Priority::Smart)
        .await
        .expect("a GraphQL refusal falls back to per-order GETs");
    assert_eq!(report.orders_completed, first.len(), "{report:?}");
    assert_eq!(report.via_get, first.len(), "{report:?}");
    assert_eq!(report.via_graphql, 0);
    let why = report.graphql_refused.expect("the refusal is reported");
    assert!(why.contains("404"), "{why}");
    let posts = |p: &stockpulse_tests::Pair| {
        p.sim
            .stats()
            .log
            .iter()
            .filter(|e| e.path.ends_with("/graphql"))
            .count()
    };
    assert_eq!(posts(&p), 1, "one refused POST, not one per page or retry");

    let report = p
        .client
        .complete_order_lines(rest, Priority::Smart)
        .await
        .unwrap();
    assert_eq!(report.via_get, rest.len(), "{report:?}");
    assert!(report.graphql_refused.is_some());
    assert_eq!(posts(&p), 1, "the refusal is remembered: no second POST");
    let ds = p.sim.dataset();
    assert_lines_match(&orders, &ds.read().unwrap());
}

/// GraphQL answering with an `errors` array (a removed field, finale-api.md §7.3) is a refusal
/// too: lines still arrive by GETs.
#[tokio::test]
async fn lines_fall_back_when_graphql_answers_with_errors() {
    let p = headers_only(10.0).await;
    p.sim
        .inject(finale_sim::FaultPlan::new(finale_sim::Fault::ErrorBody200, 1).on_path("/graphql"));
    let mut orders = orders_changed_in_the_last(&p, 120).await;
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .expect("an error answer falls back to per-order GETs");
    assert_eq!(report.orders_completed, orders.len(), "{report:?}");
    assert!(report.graphql_refused.is_some());
    let ds = p.sim.dataset();
    assert_lines_match(&orders, &ds.read().unwrap());
}

/// A smart run's order batch after one order placed `days_back` days ago changed: the old
/// order (one line's quantity raised, stamped an hour before the anchor) plus every order
/// changed in the last `recent_days` days, as the collection sends them (headers only).
/// Returns the batch and the old order's URL.
async fn one_old_order_changed(
    p: &stockpulse_tests::Pair,
    days_back: i64,
    recent_days: i64,
) -> (Vec<Order>, String) {
    let old_url = {
        let ds = p.sim.dataset();
        let mut ds = ds.write().unwrap();
        let target = anchor() - Duration::days(days_back);
        let idx = (0..ds.orders.len())
            .min_by_key(|&i| (ds.orders.rows()[i].order_date - target).abs())
            .unwrap();
        ds.orders
            .update(idx, |o| {
                o.order_item_list[0].quantity += 1.0;
                o.last_updated_date = anchor() - Duration::hours(1);
                o.order_url.clone()
            })
            .unwrap()
    };
    let orders = orders_changed_in_the_last(p, recent_days).await;
    assert!(
        orders.iter().any(|o| o.url == old_url),
        "the old order is in the batch"
    );
    assert!(orders.iter().all(|o| o.lines.is_none()));
    (orders, old_url)
}

/// GraphQL POSTs and order GETs (by path) the simulator saw since `from` (a log index).
fn line_requests(p: &stockpulse_tests::Pair, from: usize) -> (usize, Vec<String>) {
    let log = p.sim.stats().log;
    let posts = log[from..]
        .iter()
        .filter(|e| e.path.ends_with("/graphql"))
        .count();
    let gets = log[from..]
        .iter()
        .filter(|e| e.method == "GET" && !e.collection && e.path.contains("/order/"))
        .map(|e| e.path.clone())
        .collect();
    (posts, gets)
}

/// Issue 8 §4: one changed order from two years ago must not make the client page through
/// every order between it and the newest. The recent orders come through GraphQL pages over
/// their own days (never more pages than the truth holds there), the old one by its own GET.
/// A small page size stands in for a large account (small: under one order a day).
#[tokio::test]
async fn one_old_changed_order_costs_a_get_not_the_pages_between() {
    const PAGE: u32 = 5;
    let p = Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|c| c.graphql_page_size = PAGE)
        .await;
    let (mut orders, old_url) = one_old_order_changed(&p, 700, 20).await;
    let tz = p.config.timezone;
    let day = |o: &Order| o.order_date.unwrap().with_timezone(&tz).date_naive();
    // The pages the recent orders' own day span holds, counted in the truth.
    let recent: Vec<&Order> = orders.iter().filter(|o| o.url != old_url).collect();
    assert!(recent.len() > 2 * PAGE as usize, "{} recent", recent.len());
    let from = recent.iter().map(|o| day(o)).min().unwrap();
    let to = recent.iter().map(|o| day(o)).max().unwrap();
    let in_span = {
        let ds = p.sim.dataset();
        let ds = ds.read().unwrap();
        ds.orders
            .rows()
            .iter()
            .filter(|o| {
                let d = o.order_date.with_timezone(&tz).date_naive();
                d >= from && d <= to
            })
            .count()
    };
    let recent_pages = in_span.div_ceil(PAGE as usize);
    let before = p.sim.stats().log.len();
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .unwrap();
    let (posts, gets) = line_requests(&p, before);
    assert_eq!(report.orders_completed, orders.len(), "{report:?}");
    assert!(
        posts <= recent_pages,
        "{posts} GraphQL pages for {} orders; their own days hold {recent_pages} pages ({report:?})",
        orders.len()
    );
    assert!(
        gets.contains(&old_url),
        "the old order is read by its own GET: {gets:?}"
    );
    assert_eq!(report.requests as usize, posts + gets.len());
    let ds = p.sim.dataset();
    assert_lines_match(&orders, &ds.read().unwrap());
}

/// The figure for issue 8's closing note: requests spent completing lines in a smart run's
/// batch (orders changed in the last day) after one order from 700 days ago changed, on the
/// `large` account with the default page size and Finale's budgets. Prints POSTs and GETs.
/// `cargo test -p stockpulse-tests --test contract large_line_completion -- --ignored --nocapture`
#[tokio::test]
#[ignore = "large account: minutes of generation and paging; run by hand for the figure"]
async fn large_line_completion_after_one_old_order_changed() {
    let p = Setup::new(Size::Large)
        .scale(3600.0)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|_| {})
        .await;
    let (mut orders, _) = one_old_order_changed(&p, 700, 1).await;
    let before = p.sim.stats().log.len();
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .unwrap();
    let (posts, gets) = line_requests(&p, before);
    println!(
        "large, smart batch of {} orders after one 700-day-old order changed: {posts} GraphQL POSTs, {} GETs ({} via GraphQL, {} via GET)",
        orders.len(),
        gets.len(),
        report.via_graphql,
        report.via_get
    );
    assert_eq!(report.orders_completed, orders.len(), "{report:?}");
    let ds = p.sim.dataset();
    assert_lines_match(&orders, &ds.read().unwrap());
}

/// [`engine::sync::plan::LoadProfile::order_lag`] of the simulator's orders: whole days from
/// each order's local order day to its last change's.
pub(crate) fn order_lag(ds: &finale_sim::Dataset, tz: chrono_tz::Tz) -> Vec<f64> {
    engine::sync::plan::lag_shares(ds.orders.rows().iter().map(|o| {
        let day = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).date_naive();
        (day(o.last_updated_date) - day(o.order_date)).num_days()
    }))
}

/// Issue 8 §4: the load estimate's line requests come from the client's own rule. Over a full
/// load's order windows (newest first, as the engine reads them), the GraphQL pages and order
/// GETs the client spends are what `estimate` planned, within 25 % (the estimate spreads the
/// orders evenly over the horizon; the account has seasons, weekdays and growth). A small page
/// size stands in for a large account.
#[tokio::test]
async fn the_load_estimate_is_what_line_completion_spends() {
    const PAGE: u32 = 5;
    let p = Setup::new(Size::Small)
        .scale(600.0)
        .sim(|c| c.quirks.order_items_in_collection = false)
        .start(|c| c.graphql_page_size = PAGE)
        .await;
    let (start, end) = (anchor() - Duration::days(730), anchor());
    let jobs = engine::sync::plan_full(start, end, Duration::days(30));
    let profile = {
        let ds = p.sim.dataset();
        let ds = ds.read().unwrap();
        engine::sync::LoadProfile {
            orders: ds.orders.len() as u64,
            lines_in_collection: false,
            graphql_page_size: PAGE,
            order_lag: order_lag(&ds, p.config.timezone),
            cap: p.config.cap as u64,
            stock_graphql_pages: 0,
            request_time: std::time::Duration::ZERO,
        }
    };
    let est = engine::sync::estimate(&jobs, &profile, &p.config.budgets);
    let bucket = |b: &str| est.requests.get(b).copied().unwrap_or(0);
    let (planned_pages, planned_gets) = (bucket("post"), bucket("get") - bucket("collection"));

    let (mut pages, mut gets) = (0usize, 0usize);
    for job in jobs
        .iter()
        .filter(|j| j.kind == engine::store::JobKind::Window)
    {
        let mut batch = p
            .client
            .fetch_window::<Order>(
                finale::Window::new(job.window_start, job.window_end).unwrap(),
                Priority::Backfill,
            )
            .await
            .unwrap();
        let before = p.sim.stats().log.len();
        let report = p
            .client
            .complete_order_lines(&mut batch.records, Priority::Backfill)
            .await
            .unwrap();
        assert_eq!(report.orders_completed, batch.records.len(), "{report:?}");
        let (posts, order_gets) = line_requests(&p, before);
        pages += posts;
        gets += order_gets.len();
        let ds = p.sim.dataset();
        assert_lines_match(&batch.records, &ds.read().unwrap());
    }
    let (planned, spent) = ((planned_pages + planned_gets) as f64, (pages + gets) as f64);
    println!(
        "planned {planned_pages} pages + {planned_gets} GETs; spent {pages} pages + {gets} GETs"
    );
    assert!(
        (spent - planned).abs() <= 0.25 * planned,
        "planned {planned_pages} pages + {planned_gets} GETs, spent {pages} pages + {gets} GETs"
    );
}
