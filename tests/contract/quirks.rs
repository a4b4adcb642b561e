//! Every fact that finale-api.md marks uncertain (§15) is a switch on the simulator; the client
//! must work against each plausible reading, or fail with a message that says what is wrong.
//! (Order lines in collections, time zones and open upper bounds are covered in
//! `order_lines` and `windows`.)

use chrono::Duration;
use finale::{Error, Facility, GraphqlDateKeys, Order, Priority, Window};
use finale_sim::{DateKeys, ErrorBodyShape, NoneFormat, Size};
use stockpulse_tests::{Setup, anchor};

/// Fetches 90 days of header-only orders and completes their lines (GraphQL for that many).
async fn complete_lines(p: &stockpulse_tests::Pair) -> Result<Vec<Order>, Error> {
    let since = anchor() - Duration::days(90);
    let mut orders = p
        .client
        .fetch_changed::<Order>(since, anchor(), Priority::Smart, |_| {})
        .await?
        .records;
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await?;
    assert!(report.via_graphql > 0, "{report:?}");
    Ok(orders)
}

fn assert_lines_match(orders: &[Order], p: &stockpulse_tests::Pair) {
    super::order_lines::assert_lines_match(orders, &p.sim.dataset().read().unwrap());
}

async fn graphql_pair(
    keys: DateKeys,
    none: NoneFormat,
    client_keys: GraphqlDateKeys,
) -> stockpulse_tests::Pair {
    Setup::new(Size::Small)
        .scale(10.0)
        .sim(|c| {
            c.quirks.order_items_in_collection = false;
            c.quirks.graphql_date_keys = keys;
            c.quirks.graphql_none_format = none;
        })
        .start(|c| c.graphql_date_keys = client_keys)
        .await
}

#[tokio::test]
async fn graphql_date_ranges_work_with_either_key_form() {
    for (server, client) in [
        (DateKeys::BeginEndOnly, GraphqlDateKeys::BeginEnd),
        (DateKeys::StartEndOnly, GraphqlDateKeys::StartEnd),
    ] {
        let p = graphql_pair(server, NoneFormat::Numbers, client).await;
        let orders = complete_lines(&p).await.unwrap();
        assert_lines_match(&orders, &p);
    }
}

#[tokio::test]
async fn a_date_key_form_the_server_rejects_falls_back_and_says_why() {
    let p = graphql_pair(
        DateKeys::StartEndOnly,
        NoneFormat::Numbers,
        GraphqlDateKeys::BeginEnd,
    )
    .await;
    let mut orders = super::order_lines::orders_changed_in_the_last(&p, 90).await;
    // The query is refused, the lines still arrive (per-order GETs), and the server's reason
    // reaches the user.
    let report = p
        .client
        .complete_order_lines(&mut orders, Priority::Smart)
        .await
        .expect("falls back to per-order GETs");
    assert_eq!(report.via_get, orders.len(), "{report:?}");
    let why = report.graphql_refused.expect("the refusal is reported");
    assert!(why.contains("start"), "the server's reason: {why}");
    assert_eq!(p.client.graphql_refusal().as_deref(), Some(why.as_str()));
    assert_lines_match(&orders, &p);
}

#[tokio::test]
async fn formatter_none_may_yield_numbers_or_strings() {
    for none in [NoneFormat::Numbers, NoneFormat::Strings] {
        let p = graphql_pair(DateKeys::Both, none, GraphqlDateKeys::BeginEnd).await;
        let orders = complete_lines(&p).await.unwrap();
        assert_lines_match(&orders, &p);
    }
}

#[tokio::test]
async fn graphql_may_count_as_a_collection_read_on_both_sides() {
    let p = Setup::new(Size::Small)
        .scale(10.0)
        .sim(|c| {
            c.quirks.order_items_in_collection = false;
            c.limits.graphql_counts_as_collection = true;
        })
        .start(|c| c.budgets.graphql_counts_as_collection = true)
        .await;
    let orders = complete_lines(&p).await.unwrap();
    assert_lines_match(&orders, &p);
    let stats = p.sim.stats();
    assert_eq!(stats.by_status.get(&429), None);
    let collection_reads = stats.by_bucket.get("collection").copied().unwrap_or(0);
    let rest_reads = stats.log.iter().filter(|e| e.collection).count() as u64;
    assert!(
        collection_reads > rest_reads,
        "GraphQL posts were charged to the collection budget"
    );
    let client_side = p.client.budget_report();
    let used = client_side
        .buckets
        .iter()
        .find(|b| b.bucket == finale::Bucket::Collection)
        .unwrap()
        .used;
    assert_eq!(
        used, collection_reads,
        "client and server agree on what was spent"
    );
}

#[tokio::test]
async fn every_error_body_shape_yields_the_servers_message() {
    for shape in [
        ErrorBodyShape::ErrorMessage,
        ErrorBodyShape::PlainText,
        ErrorBodyShape::MessageKey,
        ErrorBodyShape::ErrorsList,
    ] {
        let p = Setup::new(Size::Small)
            .sim(|c| c.quirks.error_body = shape)
            .start(|c| c.max_window = Duration::days(40))
            .await;
        let w = Window::new(anchor() - Duration::days(40), anchor()).unwrap();
        let err = p
            .client
            .fetch_window::<Order>(w, Priority::Smart)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::BadRequest { .. }),
            "{shape:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("30"),
            "{shape:?}: the reason is lost: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rate_limit_headers_the_client_still_never_provokes_a_429() {
    let p = Setup::new(Size::Small)
        .scale(20.0)
        .sim(|c| c.quirks.rate_limit_headers = false)
        .start(|_| {})
        .await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = p.client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..14 {
                client
                    .fetch_all::<Facility>(Priority::Smart)
                    .await
                    .expect("read succeeds");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = p.sim.stats();
    assert_eq!(stats.requests, 140);
    assert_eq!(stats.by_status.get(&429), None, "{:?}", stats.by_status);
}

/// Finale's clock is learnt from the `Date` header of its responses (the engine's cursors
/// follow it): ten minutes behind or ahead of ours shows as that offset, to the second.
#[tokio::test]
async fn finale_s_clock_comes_from_the_date_header() {
    for skew in [Duration::minutes(-10), Duration::minutes(10)] {
        let p = Setup::new(Size::Small)
            .sim(|c| c.quirks.clock_skew = skew)
            .start(|_| {})
            .await;
        assert_eq!(p.client.finale_offset(), None, "nothing shown yet");
        p.client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect("facilities");
        let offset = p.client.finale_offset().expect("a Date header");
        assert!(
            (offset - skew).num_milliseconds().abs() <= 2_000,
            "skew {skew}, measured {offset}"
        );
        let finale_now = p.client.finale_now().expect("Finale's now");
        let expected = p.config.clock.now() + skew;
        assert!((finale_now - expected).num_milliseconds().abs() <= 2_000);
        p.sim.shutdown().await;
    }
}
