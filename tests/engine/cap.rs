//! Finale's entity cap: an account whose collections are larger than one response syncs to
//! exactly the simulator's truth, and a truncated snapshot never deletes anything.
//!
//! The simulator cuts every collection response at its cap (finale-api.md §8.2); the client is
//! configured with the same cap, as it is with Finale's 120,000 on a real account.

use std::collections::BTreeSet;

use chrono::Duration;
use engine::Strategy;
use engine::store::{JobKind, JobStatus, PlannedJob};
use finale_sim::Size;
use finale_sim::generate::generate;
use stockpulse_tests::truth::Expect;
use stockpulse_tests::{Pair, Setup, anchor};

use crate::support::{Kind, TestStore, assert_store_is_truth, engine, run};

/// Small-account sizes: (products, parties, stock rows).
fn small_sizes() -> (usize, usize, usize) {
    let ds = generate("acme", 7, Size::Small, anchor());
    (
        ds.products.len(),
        ds.party_groups.len(),
        ds.inventory_items.len(),
    )
}

/// A small account whose simulator and client both cap responses at `cap`.
async fn capped(cap: usize) -> Pair {
    Setup::new(Size::Small)
        .sim(|c| c.cap = cap)
        .start(|c| c.cap = cap)
        .await
}

/// REST `inventoryitem` reads the simulator answered so far.
fn stock_snapshots(pair: &Pair) -> usize {
    pair.sim
        .stats()
        .log
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains("/api/inventoryitem"))
        .count()
}

/// GraphQL POSTs the simulator answered so far.
fn graphql_posts(pair: &Pair) -> usize {
    pair.sim
        .stats()
        .log
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/graphql") && e.status == 200)
        .count()
}

async fn stock_rows_over_the_cap_sync_to_the_truth(kind: Kind) {
    let (products, _, rows) = small_sizes();
    let cap = (products + rows) / 2;
    assert!(products < cap && cap < rows, "{products} < {cap} < {rows}");
    let pair = capped(cap).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:cap");

    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success);
    assert!(graphql_posts(&pair) > 0, "stock came through GraphQL");
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    let stock_job = ts
        .store
        .backfill_jobs()
        .await
        .expect("jobs")
        .into_iter()
        .find(|j| j.job.collection == "inventoryitem")
        .expect("stock job");
    assert_eq!(stock_job.status, JobStatus::Done);
    assert!(
        stock_job.requests > 1,
        "the REST probe and the GraphQL pages: {stock_job:?}"
    );

    pair.sim.step_live(Duration::hours(6));
    let before = graphql_posts(&pair);
    let probes = stock_snapshots(&pair);
    assert_eq!(probes, 1, "the full load probed the REST snapshot once");
    let smart = run(&eng, Strategy::Smart).await;
    assert!(smart.metrics.items_changed > 0);
    assert!(graphql_posts(&pair) > before);
    assert_eq!(
        stock_snapshots(&pair),
        probes,
        "known to be past the cap: no 120,000-row probe to throw away"
    );
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    pair.sim.step_live(Duration::hours(3));
    let critical = run(&eng, Strategy::Critical).await;
    assert!(critical.critical.is_some());
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

/// The store is loaded from an uncapped account; then the same account (same seed, same
/// anchor) answers with its `inventoryitem` cut at a cap. Read naively, every pair that fell
/// off the end would be deleted.
async fn a_later_snapshot_at_the_cap_deletes_nothing(kind: Kind) {
    let (products, _, rows) = small_sizes();
    let ts = TestStore::new(kind).await;
    let open = Setup::new(Size::Small).start(|_| {}).await;
    let expect = Expect::for_sim(open.sim.config());
    run(
        &engine(&open, ts.store.clone(), "test:open"),
        Strategy::Full,
    )
    .await;
    assert_store_is_truth(&open, &*ts.store, &expect).await;
    let stock_before = ts.store.stock_hashes().await.expect("hashes");
    open.sim.shutdown().await;

    let cap = (products + rows) / 2;
    let pair = capped(cap).await;
    let eng = engine(&pair, ts.store.clone(), "test:capped");
    for s in [Strategy::Smart, Strategy::Critical] {
        let report = run(&eng, s).await;
        assert_eq!(
            report.applied.rows_written(),
            0,
            "{s}: the account did not change, nothing may be written: {:?}",
            report.applied
        );
        let stock_after = ts.store.stock_hashes().await.expect("hashes");
        assert_eq!(
            stock_after.len(),
            stock_before.len(),
            "{s}: no stock pair deleted"
        );
        assert_eq!(stock_after, stock_before, "{s}: no stock changed");
        assert_store_is_truth(&pair, &*ts.store, &expect).await;
    }
    // Then stock really moves and really vanishes: the capped account still syncs exactly.
    pair.sim.step_live(Duration::hours(6));
    run(&eng, Strategy::Smart).await;
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

async fn products_and_parties_over_the_cap_complete_the_full_load(kind: Kind) {
    let (products, parties, _) = small_sizes();
    let cap = 30;
    assert!(parties > cap && products > cap, "{parties}, {products}");
    let pair = capped(cap).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:cap-ref");

    let full = run(&eng, Strategy::Full).await;
    assert!(full.metrics.success, "{:?}", full.metrics.notes);
    assert_store_is_truth(&pair, &*ts.store, &expect).await;

    let jobs = ts.store.backfill_jobs().await.expect("jobs");
    assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
    let windows_of = |c: &str| {
        jobs.iter()
            .filter(|j| j.job.collection == c && j.job.kind == JobKind::Window)
            .count()
    };
    assert!(windows_of("product") > 0, "products read in windows");
    assert!(windows_of("partygroup") > 0, "parties read in windows");
    assert_eq!(windows_of("facility"), 0, "facilities fit under the cap");
    for j in &jobs {
        assert!(
            j.job.window_end - j.job.window_start <= Duration::days(30)
                || j.job.kind == JobKind::Snapshot
        );
    }

    // A resumed run plans exactly these jobs again (from the stored horizon and floors).
    let plan = engine::sync::status::plan_state(&*ts.store)
        .await
        .expect("state")
        .expect("a plan");
    let windowed: engine::sync::cap::Windowed =
        engine::sync::status::read_state(&*ts.store, engine::sync::cap::WINDOWED_KEY)
            .await
            .expect("state")
            .expect("windowed collections are recorded");
    let replanned = engine::sync::cap::expand_windowed(
        engine::sync::plan_full(plan.start, plan.end, eng.settings().window),
        &windowed.for_plan(plan.end),
        eng.settings().window,
    );
    let stored: BTreeSet<String> = jobs.iter().map(|j| key(&j.job)).collect();
    let again: BTreeSet<String> = replanned.iter().map(key).collect();
    assert_eq!(stored, again);
    assert_eq!(replanned.len(), jobs.len());

    // Later runs on the capped account stay exact.
    pair.sim.step_live(Duration::hours(6));
    run(&eng, Strategy::Smart).await;
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

/// Injects a permanent failure into the next product read once the product snapshot is
/// written (that read is one of the window jobs the snapshot added).
struct FailNextProductRead {
    sim: finale_sim::SimHandle,
    done: std::sync::atomic::AtomicBool,
}

impl engine::sync::Progress for FailNextProductRead {
    fn update(&self, p: &engine::sync::ProgressUpdate) {
        if p.phase == "product snapshot"
            && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            self.sim.inject(
                finale_sim::FaultPlan::new(finale_sim::Fault::Status(400), 1)
                    .on_path("/api/product"),
            );
        }
    }
}

async fn a_failed_window_of_a_capped_snapshot_is_retried_by_the_next_run(kind: Kind) {
    let pair = capped(30).await;
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:cap-resume");
    let progress = FailNextProductRead {
        sim: pair.sim.clone(),
        done: false.into(),
    };
    let err = eng
        .run(Strategy::Full, &progress)
        .await
        .expect_err("one window job fails");
    assert!(err.to_string().contains("backfill jobs failed"), "{err}");
    let first = ts.store.backfill_jobs().await.expect("jobs");
    let failed: Vec<_> = first
        .iter()
        .filter(|j| j.status == JobStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].job.collection, "product");
    assert_eq!(failed[0].job.kind, JobKind::Window);

    let again = run(&eng, Strategy::Full).await;
    assert!(again.metrics.success);
    let second = ts.store.backfill_jobs().await.expect("jobs");
    assert!(
        second.iter().all(|j| j.status == JobStatus::Done),
        "{second:?}"
    );
    let ids = |jobs: &[engine::store::BackfillJob]| -> BTreeSet<String> {
        jobs.iter().map(|j| key(&j.job)).collect()
    };
    assert_eq!(
        ids(&first),
        ids(&second),
        "the resumed run planned the same jobs"
    );
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

fn key(j: &PlannedJob) -> String {
    format!(
        "{} {} {} {}",
        j.collection,
        j.kind.as_str(),
        j.window_start.timestamp(),
        j.window_end.timestamp()
    )
}

/// Past the cap, stock comes through GraphQL `stockItem` rows; with packed quantities read
/// as units on both sides (the other reading of the same uncertain fact), the GraphQL rows
/// count units like the REST rows they mirror, and the store still equals the truth.
async fn stock_over_the_cap_in_units_mode_matches_the_truth(kind: Kind) {
    let (products, _, rows) = small_sizes();
    let cap = (products + rows) / 2;
    let pair = Setup::new(Size::Small)
        .sim(|c| {
            c.cap = cap;
            c.quirks.packed_quantities = finale_sim::PackedQuantities::Units;
        })
        .start(|c| c.cap = cap)
        .await;
    assert_eq!(
        pair.config.packed_quantities,
        finale::PackedQuantities::Units
    );
    let ds = pair.sim.dataset();
    let packed = ds
        .read()
        .unwrap()
        .inventory_items
        .iter()
        .filter(|r| r.normalized_packing_string.is_some())
        .count();
    assert!(packed > 0, "the account has packed stock rows");
    let expect = Expect::for_sim(pair.sim.config());
    let ts = TestStore::new(kind).await;
    let eng = engine(&pair, ts.store.clone(), "test:cap-units");
    run(&eng, Strategy::Full).await;
    assert!(graphql_posts(&pair) > 0, "stock came through GraphQL");
    assert_store_is_truth(&pair, &*ts.store, &expect).await;
    pair.sim.shutdown().await;
}

crate::on_both_stores!(
    stock_over_the_cap_in_units_mode_matches_the_truth,
    stock_rows_over_the_cap_sync_to_the_truth,
    a_later_snapshot_at_the_cap_deletes_nothing,
    products_and_parties_over_the_cap_complete_the_full_load,
    a_failed_window_of_a_capped_snapshot_is_retried_by_the_next_run,
);
