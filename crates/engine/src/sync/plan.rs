//! The full load's plan, its budget estimate and its ETA: pure functions, no I/O.
//!
//! # The plan
//!
//! A full load is a list of jobs ([`PlannedJob`]) persisted in `backfill_jobs`, in this order:
//!
//! 1. **Reference snapshots**: `facility`, `partygroup`, `product`, each one unfiltered read.
//!    A `lastUpdatedDate` horizon would miss a product nobody touched in two years, and these
//!    collections are small (one read each, far under Finale's 120k cap).
//! 2. **Order windows**: `order` over the two-year horizon in `lastUpdatedDate` windows of at
//!    most 30 days (Finale rejects wider ones). Every order created in the horizon was last
//!    updated in it, so this covers two years of orders and sales history. A window that
//!    comes back full is halved by the client in memory and re-read.
//! 3. **Stock snapshot**: `inventoryitem` (no filter exists; every read is the whole account).
//!
//! The horizon `[start, end)` is fixed when the plan is first made and stored with it
//! (`sync_state` key [`PLAN_KEY`]), so a resumed run plans exactly the same jobs again and
//! the insert is a no-op. A later `full` on demand, after the plan completed, makes a new
//! plan with a new horizon.
//!
//! # Budget estimate and ETA
//!
//! [`estimate`] turns a plan and a [`LoadProfile`] (how many orders, whether order lines come
//! inside the order collection) into requests per budget bucket and a duration: the load is
//! budget-bound when it needs more requests than a bucket allows per window, so the duration
//! is, per bucket, the number of *full windows* it must wait for plus the time the requests
//! themselves take; the slowest bucket decides. [`eta`] applies the same rule to the jobs that
//! remain, with the budget still available now.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use finale::{Bucket, BudgetConfig, Collection};
use serde::{Deserialize, Serialize};

use crate::store::{JobKind, PlannedJob};

/// The `sync_state` key holding the current plan's horizon.
pub const PLAN_KEY: &str = "backfill:plan";

/// The `sync_state` key of a collection's incremental cursor.
pub fn cursor_key(c: Collection) -> String {
    format!("cursor:{}", c.path())
}

/// The stored description of the current plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanState {
    /// Horizon start (two years before `end` by default).
    pub start: DateTime<Utc>,
    /// Horizon end: when the plan was made.
    pub end: DateTime<Utc>,
    /// When every job of the plan was done and the derived data rebuilt.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The stored value of an incremental cursor: every change before `until` has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The upper bound of the last completed read.
    pub until: DateTime<Utc>,
}

/// The jobs of a full load over `[start, end)`, in execution order.
pub fn plan_full(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    window: chrono::Duration,
) -> Vec<PlannedJob> {
    let snapshot = |c: Collection| PlannedJob {
        collection: c.path().to_owned(),
        kind: JobKind::Snapshot,
        window_start: start,
        window_end: end,
    };
    let mut jobs = vec![
        snapshot(Collection::Facility),
        snapshot(Collection::PartyGroup),
        snapshot(Collection::Product),
    ];
    jobs.extend(
        finale::plan_windows(start, end, window)
            .into_iter()
            .map(|w| PlannedJob {
                collection: Collection::Order.path().to_owned(),
                kind: JobKind::Window,
                window_start: w.start,
                window_end: w.end,
            }),
    );
    jobs.push(snapshot(Collection::InventoryItem));
    jobs
}

/// What the planner assumes about the account when estimating a load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadProfile {
    /// Orders in the horizon.
    pub orders: u64,
    /// Whether order rows carry their lines (`orderItemList`) in the collection response. If
    /// not, lines come from GraphQL pages of `graphql_page_size` orders.
    pub lines_in_collection: bool,
    /// Orders per GraphQL page.
    pub graphql_page_size: u32,
    /// GraphQL pages read per page of wanted orders. The client pages `orderViewConnection`
    /// over the *order-date* range of a window's orders, and that range also holds orders
    /// last updated in other windows, so it reads more pages than the window's own orders
    /// fill ([`GRAPHQL_OVERFETCH`] by default).
    pub graphql_overfetch: f64,
    /// Finale's cap of rows per collection response (a fuller window is split).
    pub cap: u64,
    /// GraphQL pages of the stock job: 0 when `inventoryitem` is under the cap, else what
    /// [`super::cap::stock_read_cost`] says (the snapshot is then read through GraphQL).
    pub stock_graphql_pages: u64,
    /// Typical time one request takes (used where the budget is not the limit).
    pub request_time: Duration,
}

/// The default [`LoadProfile::graphql_overfetch`]: 1.9 pages per page of wanted orders,
/// measured on the simulator's `medium` account (265 pages for 140 pages' worth of orders)
/// and checked on `large` by `make bench`.
pub const GRAPHQL_OVERFETCH: f64 = 1.9;

/// Requests and duration of a load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Requests per budget bucket.
    pub requests: BTreeMap<String, u64>,
    /// HTTP requests in all (a GraphQL page counts once even when it uses two buckets).
    pub total_requests: u64,
    /// How long the load takes under the budgets.
    pub duration: Duration,
    /// The bucket that decides the duration.
    pub bottleneck: Option<String>,
}

/// A bucket's name in reports and `sync_runs.requests`.
pub fn bucket_name(b: Bucket) -> &'static str {
    match b {
        Bucket::Get => "get",
        Bucket::Post => "post",
        Bucket::Collection => "collection",
    }
}

/// Requests and duration of `jobs` for an account like `profile` under `budgets`.
pub fn estimate(jobs: &[PlannedJob], profile: &LoadProfile, budgets: &BudgetConfig) -> Estimate {
    let windows = jobs.iter().filter(|j| j.kind == JobKind::Window).count() as u64;
    let snapshots = jobs.len() as u64 - windows;
    // Orders spread evenly over the windows; a window over the cap is read, found full, and
    // halved until each part fits: 1 + 2 + ... reads, i.e. 2^(k+1) - 1 for k halvings.
    let per_window = profile.orders.div_ceil(windows.max(1));
    let mut reads_per_window = 1u64;
    let mut parts = 1u64;
    while per_window.div_ceil(parts) >= profile.cap && parts < 1 << 20 {
        parts *= 2;
        reads_per_window += parts;
    }
    let collection_reads = snapshots + windows * reads_per_window;
    let line_pages = if profile.lines_in_collection {
        0
    } else {
        let pages = profile
            .orders
            .div_ceil(u64::from(profile.graphql_page_size.max(1)));
        (pages as f64 * profile.graphql_overfetch.max(1.0)).ceil() as u64
    };
    let graphql_pages = line_pages + profile.stock_graphql_pages;
    let mut by_bucket: BTreeMap<Bucket, u64> = BTreeMap::new();
    *by_bucket.entry(Bucket::Get).or_default() += collection_reads;
    *by_bucket.entry(Bucket::Collection).or_default() += collection_reads;
    if graphql_pages > 0 {
        *by_bucket.entry(Bucket::Post).or_default() += graphql_pages;
        if budgets.graphql_counts_as_collection {
            *by_bucket.entry(Bucket::Collection).or_default() += graphql_pages;
        }
    }
    let total = collection_reads + graphql_pages;
    let full_budget: BTreeMap<Bucket, u64> = Bucket::ALL
        .iter()
        .map(|&b| (b, u64::from(budgets.limit(b))))
        .collect();
    let (duration, bottleneck) = budget_time(
        &by_bucket,
        &full_budget,
        budgets,
        total,
        profile.request_time,
    );
    Estimate {
        requests: by_bucket
            .iter()
            .map(|(b, n)| (bucket_name(*b).to_owned(), *n))
            .collect(),
        total_requests: total,
        duration,
        bottleneck,
    }
}

/// Time to make `needed` requests per bucket when `available` can go out now and each bucket
/// refills by its limit once per window; requests themselves take `request_time` each, one at
/// a time. Returns the time and the deciding bucket (`None` when no bucket has to wait).
fn budget_time(
    needed: &BTreeMap<Bucket, u64>,
    available: &BTreeMap<Bucket, u64>,
    budgets: &BudgetConfig,
    total_requests: u64,
    request_time: Duration,
) -> (Duration, Option<String>) {
    let work = request_time.saturating_mul(u32::try_from(total_requests).unwrap_or(u32::MAX));
    if !budgets.enabled {
        return (work, None);
    }
    let mut worst = (Duration::ZERO, None);
    for (&b, &n) in needed {
        let avail = available.get(&b).copied().unwrap_or(0);
        if n <= avail {
            continue;
        }
        let limit = u64::from(budgets.limit(b).max(1));
        // Requests beyond what is available now go out `limit` per window, the last batch at
        // the start of its window.
        let waits = (n - avail).div_ceil(limit);
        let window = budgets.window(b).to_std().unwrap_or(Duration::ZERO);
        let t = window.saturating_mul(u32::try_from(waits).unwrap_or(u32::MAX));
        if t > worst.0 {
            worst = (t, Some(bucket_name(b).to_owned()));
        }
    }
    (worst.0.max(work), worst.1)
}

/// Time left for the `remaining` jobs of a running load: their requests estimated from the
/// jobs done so far (`requests_per_job`, at least 1), under the budget `available` right now.
pub fn eta(
    remaining_jobs: u64,
    requests_per_job: f64,
    available: &BTreeMap<Bucket, u64>,
    budgets: &BudgetConfig,
    time_per_job: Duration,
) -> Duration {
    let per_job = requests_per_job.max(1.0);
    let requests = (remaining_jobs as f64 * per_job).ceil() as u64;
    let mut needed = BTreeMap::new();
    needed.insert(Bucket::Get, requests);
    needed.insert(Bucket::Collection, remaining_jobs);
    let per_request = time_per_job.div_f64(per_job);
    budget_time(&needed, available, budgets, requests, per_request).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("valid date")
    }

    fn profile(orders: u64, lines_in_collection: bool) -> LoadProfile {
        LoadProfile {
            orders,
            lines_in_collection,
            graphql_page_size: 100,
            graphql_overfetch: 1.0,
            cap: 120_000,
            stock_graphql_pages: 0,
            request_time: Duration::from_millis(500),
        }
    }

    #[test]
    fn plan_is_reference_then_windows_then_stock_and_covers_the_horizon() {
        let (start, end) = (t(2024, 11, 24), t(2026, 11, 24));
        let jobs = plan_full(start, end, chrono::Duration::days(30));
        let names: Vec<&str> = jobs.iter().map(|j| j.collection.as_str()).collect();
        assert_eq!(&names[..3], &["facility", "partygroup", "product"]);
        assert_eq!(names.last(), Some(&"inventoryitem"));
        let windows: Vec<_> = jobs.iter().filter(|j| j.kind == JobKind::Window).collect();
        assert_eq!(windows.len(), 25, "730 days in 30-day windows");
        assert_eq!(windows[0].window_start, start);
        assert_eq!(windows.last().map(|w| w.window_end), Some(end));
        for pair in windows.windows(2) {
            assert_eq!(
                pair[0].window_end, pair[1].window_start,
                "no gaps, no overlap"
            );
        }
        assert!(
            windows
                .iter()
                .all(|w| w.window_end - w.window_start <= chrono::Duration::days(30))
        );
        // Same horizon, same plan: resuming re-plans identically.
        assert_eq!(jobs, plan_full(start, end, chrono::Duration::days(30)));
    }

    #[test]
    fn lines_in_the_collection_make_the_backfill_a_few_reads() {
        let jobs = plan_full(t(2024, 11, 24), t(2026, 11, 24), chrono::Duration::days(30));
        let e = estimate(&jobs, &profile(280_000, true), &BudgetConfig::default());
        assert_eq!(e.total_requests, 29);
        assert_eq!(e.requests.get("collection"), Some(&29));
        assert_eq!(e.bottleneck, None, "29 reads fit in one hour's 300");
    }

    #[test]
    fn graphql_lines_counted_as_collection_reads_take_hours() {
        let jobs = plan_full(t(2024, 11, 24), t(2026, 11, 24), chrono::Duration::days(30));
        let budgets = BudgetConfig {
            graphql_counts_as_collection: true,
            ..BudgetConfig::default()
        };
        let e = estimate(&jobs, &profile(280_000, false), &budgets);
        // 2,800 pages + 29 reads = 2,829 collection reads at 300/hour: 9 more windows.
        assert_eq!(e.requests.get("collection"), Some(&2_829));
        assert_eq!(e.bottleneck.as_deref(), Some("collection"));
        assert_eq!(e.duration, Duration::from_secs(9 * 3600));
        // As POSTs only, the minute budget decides: 2,800 / 120 per minute.
        let e = estimate(&jobs, &profile(280_000, false), &BudgetConfig::default());
        assert_eq!(e.bottleneck.as_deref(), Some("post"));
        assert_eq!(
            e.duration,
            Duration::from_secs(23 * 60).max(Duration::from_millis(500 * 2_829))
        );
    }

    #[test]
    fn stock_over_the_cap_costs_its_graphql_pages() {
        let jobs = plan_full(t(2024, 11, 24), t(2026, 11, 24), chrono::Duration::days(30));
        let cost = super::super::cap::stock_read_cost(50_000, 127_224, 3, 120_000);
        let p = LoadProfile {
            stock_graphql_pages: cost.graphql_pages,
            ..profile(280_000, true)
        };
        let e = estimate(&jobs, &p, &BudgetConfig::default());
        assert_eq!(e.requests.get("post"), Some(&103));
        assert_eq!(
            e.requests.get("collection"),
            Some(&29),
            "no collection read added"
        );
        assert_eq!(e.total_requests, 29 + 103);
    }

    #[test]
    fn windows_over_the_cap_are_split_and_counted() {
        let jobs = plan_full(t(2026, 10, 25), t(2026, 11, 24), chrono::Duration::days(30));
        let p = LoadProfile {
            cap: 1_000,
            ..profile(2_500, true)
        };
        // One window of 2,500: read (full), halves of 1,250 (full), quarters of 625: 1+2+4.
        let e = estimate(&jobs, &p, &BudgetConfig::default());
        assert_eq!(e.total_requests, 4 + 7);
    }

    #[test]
    fn eta_waits_for_the_next_window_when_the_budget_is_spent() {
        let budgets = BudgetConfig::default();
        let mut avail = BTreeMap::new();
        avail.insert(Bucket::Get, 120);
        avail.insert(Bucket::Collection, 0);
        let d = eta(10, 1.0, &avail, &budgets, Duration::from_secs(1));
        assert_eq!(d, Duration::from_secs(3600));
        avail.insert(Bucket::Collection, 300);
        assert_eq!(
            eta(10, 1.0, &avail, &budgets, Duration::from_secs(1)),
            Duration::from_secs(10)
        );
        assert_eq!(
            eta(0, 1.0, &avail, &budgets, Duration::from_secs(1)),
            Duration::ZERO
        );
    }
}
