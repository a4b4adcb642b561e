//! Fault injection: the client survives what the real API does on a bad day, and never
//! hammers a server that asked it to wait.

use std::time::Duration;

use finale::{Error, Facility, PartyGroup, Priority, Product};
use finale_sim::{Fault, FaultPlan, Size};
use stockpulse_tests::Setup;

/// A client with quick retries, so fault tests do not sleep for long.
async fn quick(scale: f64) -> stockpulse_tests::Pair {
    Setup::new(Size::Small)
        .scale(scale)
        .start(|c| {
            c.retry.base = Duration::from_millis(20);
            c.retry.max = Duration::from_millis(200);
            c.retry.max_attempts = 4;
            c.request_timeout = Duration::from_millis(1500);
        })
        .await
}

#[tokio::test]
async fn a_429_is_honoured_until_its_reset_and_nothing_is_sent_meanwhile() {
    // Scale 60: the 30 virtual seconds of the storm pass in half a real second.
    let p = quick(60.0).await;
    p.sim.inject(FaultPlan {
        fault: Fault::RateLimitStorm,
        count: 1,
        path_contains: Some("/facility".into()),
        reset_after: Some(chrono::Duration::seconds(30)),
    });
    let got = p
        .client
        .fetch_all::<Facility>(Priority::Critical)
        .await
        .unwrap();
    assert!(!got.records.is_empty());
    let log = p.sim.stats().log;
    let facility: Vec<_> = log
        .iter()
        .filter(|e| e.path.contains("/facility"))
        .collect();
    assert_eq!(
        facility.len(),
        2,
        "one 429, then exactly one retry: {facility:?}"
    );
    assert_eq!(facility[0].status, 429);
    assert_eq!(facility[1].status, 200);
    let waited = facility[1].at - facility[0].at;
    // Reset is whole epoch seconds, so allow the sub-second rounding.
    assert!(
        waited >= chrono::Duration::seconds(29),
        "retried after only {waited}"
    );
    assert_eq!(p.client.budget_report().throttled, 1);
}

#[tokio::test]
async fn a_429_pauses_every_caller_of_that_bucket() {
    let p = quick(60.0).await;
    p.sim.inject(FaultPlan {
        fault: Fault::RateLimitStorm,
        count: 1,
        path_contains: None,
        reset_after: Some(chrono::Duration::seconds(20)),
    });
    let (a, b, c) = tokio::join!(
        p.client.fetch_all::<Facility>(Priority::Smart),
        p.client.fetch_all::<PartyGroup>(Priority::Smart),
        p.client.fetch_all::<Product>(Priority::Smart),
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let log = p.sim.stats().log;
    let first_429 = log
        .iter()
        .find(|e| e.status == 429)
        .expect("the storm answered once")
        .at;
    // Requests already in flight when the 429 came back may land just after it; any request
    // *started* after the client saw the 429 must wait for the reset.
    let early: Vec<_> = log
        .iter()
        .filter(|e| {
            e.at > first_429 + chrono::Duration::seconds(2)
                && e.at < first_429 + chrono::Duration::seconds(19)
        })
        .collect();
    assert!(early.is_empty(), "requests sent while paused: {early:?}");
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let p = quick(1.0).await;
    p.sim.inject(FaultPlan::new(Fault::Status(503), 2));
    let got = p
        .client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap();
    assert!(!got.records.is_empty());
    let statuses: Vec<u16> = p.sim.stats().log.iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

#[tokio::test]
async fn persistent_server_errors_exhaust_the_retries_with_the_cause() {
    let p = quick(1.0).await;
    p.sim.inject(FaultPlan::new(Fault::Status(500), 100));
    let err = p
        .client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Exhausted { .. }), "{err:?}");
    assert_eq!(p.sim.stats().requests, 4, "max_attempts = 4");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the last cause is kept"
    );
}

#[tokio::test]
async fn truncated_and_dropped_responses_are_retried() {
    let p = quick(1.0).await;
    let clean = p
        .client
        .fetch_all::<Product>(Priority::Smart)
        .await
        .unwrap();
    p.sim.inject(FaultPlan::new(Fault::Truncate, 1));
    p.sim.inject(FaultPlan::new(Fault::Drop, 1));
    let again = p
        .client
        .fetch_all::<Product>(Priority::Smart)
        .await
        .unwrap();
    assert_eq!(
        again.records, clean.records,
        "a retried read yields the same records"
    );
    assert_eq!(
        p.sim.stats().requests,
        4,
        "clean + truncated + dropped + good"
    );
}

#[tokio::test]
async fn a_slow_response_times_out_and_is_retried() {
    let p = quick(1.0).await;
    p.sim
        .inject(FaultPlan::new(Fault::Slow(Duration::from_secs(5)), 1));
    let got = p
        .client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap();
    assert!(!got.records.is_empty());
    assert_eq!(p.sim.stats().requests, 2);
}

#[tokio::test]
async fn malformed_records_are_isolated_not_fatal_and_not_lost() {
    let p = quick(1.0).await;
    let clean = p
        .client
        .fetch_all::<Product>(Priority::Smart)
        .await
        .unwrap();
    p.sim.inject(FaultPlan::new(Fault::MalformedRecords(5), 1));
    let dirty = p
        .client
        .fetch_all::<Product>(Priority::Smart)
        .await
        .unwrap();
    assert!(!dirty.errors.is_empty(), "corruption must be reported");
    for e in &dirty.errors {
        assert!(e.index < clean.records.len(), "{e:?}");
        assert!(!e.raw.is_empty() && !e.field.is_empty(), "{e:?}");
    }
    // Every clean record is either decoded again or accounted for by an error at its index.
    let bad: std::collections::HashSet<usize> = dirty.errors.iter().map(|e| e.index).collect();
    assert!(
        bad.len() <= 5,
        "only the corrupted records are affected: {bad:?}"
    );
    let keys: std::collections::HashSet<&str> =
        dirty.records.iter().map(|r| r.url.as_str()).collect();
    for (i, r) in clean.records.iter().enumerate() {
        assert!(
            keys.contains(r.url.as_str()) || bad.contains(&i),
            "record {i} lost"
        );
    }
    assert_eq!(keys.len(), dirty.records.len(), "no duplicates");
}

#[tokio::test]
async fn a_200_with_an_error_body_is_an_error() {
    let p = quick(1.0).await;
    p.sim.inject(FaultPlan::new(Fault::ErrorBody200, 100));
    let res = p.client.fetch_all::<Facility>(Priority::Smart).await;
    assert!(
        res.is_err(),
        "an error body must not decode as an empty collection: {res:?}"
    );
}
