//! The full load's plan, its budget estimate and its ETA: pure functions, no I/O.
//!
//! # The plan
//!
//! A full load is a list of jobs ([`PlannedJob`]) persisted in `backfill_jobs`, in this order
//! — the seed's "progressive loading": what staff look at first lands first, then the
//! details fill in:
//!
//! 1. **Reference snapshots**: `facility`, `partygroup`, `product`, each one unfiltered read.
//!    A `lastUpdatedDate` horizon would miss a product nobody touched in two years, and these
//!    collections are small (one read each, far under Finale's 120k cap).
//! 2. **Stock snapshot**: `inventoryitem` (no filter exists; every read is the whole
//!    account). After it, every product's stock per location is usable, minutes into a load
//!    that may take hours when order lines come through GraphQL.
//! 3. **Order windows**: `order` over the two-year horizon in `lastUpdatedDate` windows of at
//!    most 30 days (Finale rejects wider ones), **newest first**. Every order created in the
//!    horizon was last updated in it, so this covers two years of orders and sales history;
//!    an order dated in the last 90 days was last updated in the last 90 days, so once the
//!    windows reaching back [`VELOCITY_READY_DAYS`] are in, the 30- and 90-day velocities and
//!    days of stock left are right ([`velocity_ready`]). A window that comes back full is
//!    halved by the client in memory and re-read.
//!
//! The full load refreshes the derived rows (daily sales, the seed's `inventory_items`) at
//! each of these milestones, not only at the end, and says what is usable already.
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

use crate::schedule::Schedule;
use store::Strategy;
use store::{JobKind, PlannedJob};

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
    /// When a full load of this store first completed. A later `full` (a re-read of
    /// everything) keeps it, so smart, critical and the stock pulse go on while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_completed_at: Option<DateTime<Utc>>,
}

impl PlanState {
    /// Whether a full load has completed once: what smart, critical and the stock pulse need
    /// (cursors, a stock baseline), whether or not a re-read is under way.
    pub fn loaded(&self) -> bool {
        self.completed_at.is_some() || self.first_completed_at.is_some()
    }

    /// Whether a re-read of a loaded store is under way and unfinished.
    pub fn rereading(&self) -> bool {
        self.completed_at.is_none() && self.first_completed_at.is_some()
    }
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
        snapshot(Collection::InventoryItem),
    ];
    jobs.extend(
        finale::plan_windows(start, end, window)
            .into_iter()
            .rev()
            .map(|w| PlannedJob {
                collection: Collection::Order.path().to_owned(),
                kind: JobKind::Window,
                window_start: w.start,
                window_end: w.end,
            }),
    );
    jobs
}

/// How far back the order windows must reach before velocities are right: the long
/// (90-day) velocity window.
pub const VELOCITY_READY_DAYS: i64 = 90;

/// Whether `job`, an order window of a plan ending at `end`, is the one that completes the
/// last [`VELOCITY_READY_DAYS`] of orders (windows run newest first): the first window that
/// starts at or before `end - 90 days`, or the oldest window of a shorter horizon.
pub fn velocity_ready(job: &PlannedJob, plan_start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let from = (end - chrono::Duration::days(VELOCITY_READY_DAYS)).max(plan_start);
    job.kind == JobKind::Window
        && job.collection == Collection::Order.path()
        && job.window_start <= from
        && job.window_end > from
}

/// What the planner assumes about the account when estimating a load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadProfile {
    /// Orders in the horizon.
    pub orders: u64,
    /// Whether order rows carry their lines (`orderItemList`) in the collection response. If
    /// not, each order window's lines are completed the way the client does it
    /// ([`finale::line_plan`]): GraphQL pages of `graphql_page_size` orders over dense runs of
    /// order days, per-order GETs for the rest.
    pub lines_in_collection: bool,
    /// Orders per GraphQL page.
    pub graphql_page_size: u32,
    /// How long after its order day an order last changes: `order_lag[d]` is the share of
    /// orders last changed `d` whole days after their order day (see [`lag_shares`]). An
    /// order window holds the orders last changed in it, so its order days reach back by
    /// these lags; empty means every order last changes on its order day.
    pub order_lag: Vec<f64>,
    /// Finale's cap of rows per collection response (a fuller window is split).
    pub cap: u64,
    /// GraphQL pages of the stock job: 0 when `inventoryitem` is under the cap, else what
    /// [`super::cap::stock_read_cost`] says (the snapshot is then read through GraphQL).
    pub stock_graphql_pages: u64,
    /// Typical time one request takes (used where the budget is not the limit).
    pub request_time: Duration,
}

/// [`LoadProfile::order_lag`] from the lags (last change − order day, in whole days) of an
/// account's orders, e.g. the stored orders of a completed load or a sample; negative lags
/// count as 0.
pub fn lag_shares(lags: impl IntoIterator<Item = i64>) -> Vec<f64> {
    let mut counts: Vec<u64> = Vec::new();
    let mut total = 0u64;
    for lag in lags {
        let d = usize::try_from(lag.max(0))
            .unwrap_or(usize::MAX)
            .min(10_000);
        if counts.len() <= d {
            counts.resize(d + 1, 0);
        }
        counts[d] += 1;
        total += 1;
    }
    counts
        .into_iter()
        .map(|c| c as f64 / total.max(1) as f64)
        .collect()
}

/// Requests to complete the lines of one order window of `window_days` days, the
/// `days_before` days before it holding orders as well (0 for the horizon's oldest window),
/// for an account with `per_day` orders a day: the client's own plan
/// ([`finale::line_plan::plan_days`]) over the window's modelled batch. Returns (GraphQL pages,
/// per-order GETs).
pub fn window_line_requests(
    window_days: i64,
    days_before: i64,
    per_day: f64,
    order_lag: &[f64],
    page_size: u32,
    budgets: &BudgetConfig,
) -> (u64, u64) {
    let lag: &[f64] = if order_lag.is_empty() {
        &[1.0]
    } else {
        order_lag
    };
    let reach = i64::try_from(lag.len() - 1)
        .unwrap_or(i64::MAX)
        .min(days_before.max(0));
    // Orders placed on day t (window days are 0..window_days) and last changed in the window.
    let loads: Vec<finale::line_plan::DayLoad> = (-reach..window_days)
        .map(|t| {
            let share: f64 = lag
                .iter()
                .enumerate()
                .filter(|(l, _)| (0..window_days).contains(&(t + *l as i64)))
                .map(|(_, s)| s)
                .sum();
            finale::line_plan::DayLoad {
                day: t,
                wanted: per_day * share,
            }
        })
        .filter(|d| d.wanted > 0.0)
        .collect();
    // The client's density estimate, on the modelled batch.
    let density = finale::line_plan::density_of(&loads);
    let runs = finale::line_plan::plan_days(
        &loads,
        page_size,
        density,
        finale::line_plan::page_weight(budgets),
    );
    let pages = runs.iter().map(|r| u64::from(r.expected_pages)).sum();
    let in_runs: f64 = runs
        .iter()
        .flat_map(|r| &loads[r.first..=r.last])
        .map(|d| d.wanted)
        .sum();
    let all: f64 = loads.iter().map(|d| d.wanted).sum();
    (pages, (all - in_runs).max(0.0).round() as u64)
}

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
    let (line_pages, line_gets) = if profile.lines_in_collection {
        (0, 0)
    } else {
        line_requests(jobs, profile, budgets)
    };
    let graphql_pages = line_pages + profile.stock_graphql_pages;
    let mut by_bucket: BTreeMap<Bucket, u64> = BTreeMap::new();
    *by_bucket.entry(Bucket::Get).or_default() += collection_reads + line_gets;
    *by_bucket.entry(Bucket::Collection).or_default() += collection_reads;
    if graphql_pages > 0 {
        *by_bucket.entry(Bucket::Post).or_default() += graphql_pages;
        if budgets.graphql_counts_as_collection {
            *by_bucket.entry(Bucket::Collection).or_default() += graphql_pages;
        }
    }
    let total = collection_reads + graphql_pages + line_gets;
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

/// GraphQL pages and per-order GETs completing the lines of the plan's order windows:
/// orders spread evenly over the horizon's days, each window planned by
/// [`window_line_requests`].
fn line_requests(jobs: &[PlannedJob], profile: &LoadProfile, budgets: &BudgetConfig) -> (u64, u64) {
    let windows: Vec<&PlannedJob> = jobs.iter().filter(|j| j.kind == JobKind::Window).collect();
    let (Some(start), Some(end)) = (
        windows.iter().map(|j| j.window_start).min(),
        windows.iter().map(|j| j.window_end).max(),
    ) else {
        return (0, 0);
    };
    let days = |a: DateTime<Utc>, b: DateTime<Utc>| {
        ((b - a).num_seconds() as f64 / 86_400.0).ceil() as i64
    };
    let per_day = profile.orders as f64 / days(start, end).max(1) as f64;
    windows.iter().fold((0, 0), |(pages, gets), w| {
        let (p, g) = window_line_requests(
            days(w.window_start, w.window_end).max(1),
            days(start, w.window_start),
            per_day,
            &profile.order_lag,
            profile.graphql_page_size,
            budgets,
        );
        (pages + p, gets + g)
    })
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

/// Collection reads one run of a strategy makes in steady state (each is also one GET):
/// `critical` reads parties, products, stock and orders since their cursors (4); `smart`
/// facilities too (5); the stock pulse the stock snapshot alone (1). A cursor more than 30
/// days behind (after a long outage) costs one more read per 30 days, once.
pub fn reads_per_run(strategy: Strategy) -> u32 {
    match strategy {
        Strategy::Critical => 4,
        Strategy::Smart => 5,
        Strategy::Stock => 1,
        // Not scheduled hourly: its reads are the plan's ([`estimate`]).
        Strategy::Full => 0,
    }
}

/// One scheduled strategy's share of the busiest hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StrategySpend {
    /// The strategy.
    pub strategy: Strategy,
    /// Runs in the busiest hour.
    pub runs: u32,
    /// Collection reads in that hour (`runs` × [`reads_per_run`]).
    pub collection_reads: u32,
    /// GETs in that hour: every collection read is one. Orders whose lines are not in the
    /// order collection add one GET (or a share of a GraphQL page) per changed order.
    pub gets: u32,
}

/// What the configured schedule spends of Finale's hourly collection budget in its busiest
/// hour: the daily smart run, every critical run and every stock pulse that can fall into
/// one 60-minute window (an upper bound: a pulse is skipped when a critical or smart run
/// reads the stock anyway).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleSpend {
    /// Per scheduled strategy, in run order (critical, stock, smart).
    pub strategies: Vec<StrategySpend>,
    /// Collection reads in all.
    pub collection_reads: u32,
    /// The collection budget per hour they are measured against.
    pub collection_budget: u32,
}

/// A schedule that would spend more than Finale allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the schedule would spend {reads} of Finale's {budget} collection reads an hour ({detail}); \
     run it less often: raise {setting} (now {minutes} min), or switch the stock pulse off with \
     STOCKPULSE_STOCK_EVERY_MINUTES=0"
)]
pub struct OverBudget {
    /// Collection reads in the busiest hour.
    pub reads: u32,
    /// The hourly budget.
    pub budget: u32,
    /// The spend per strategy, for the message.
    pub detail: String,
    /// The setting to lower the cadence of: the biggest spender's interval.
    pub setting: &'static str,
    /// Its current value, in minutes.
    pub minutes: i64,
}

/// The busiest hour of `schedule` (see [`ScheduleSpend`]).
pub fn schedule_spend(schedule: &Schedule, budgets: &BudgetConfig) -> ScheduleSpend {
    let per_hour = |every: chrono::TimeDelta| -> u32 {
        let minutes = every.num_minutes().max(1);
        u32::try_from((60 + minutes - 1) / minutes).unwrap_or(u32::MAX)
    };
    let spend = |strategy: Strategy, runs: u32| {
        let reads = runs.saturating_mul(reads_per_run(strategy));
        StrategySpend {
            strategy,
            runs,
            collection_reads: reads,
            gets: reads,
        }
    };
    let strategies: Vec<StrategySpend> = [
        Some(spend(Strategy::Critical, per_hour(schedule.critical_every))),
        schedule
            .stock_every
            .map(|every| spend(Strategy::Stock, per_hour(every))),
        Some(spend(Strategy::Smart, 1)),
    ]
    .into_iter()
    .flatten()
    .collect();
    ScheduleSpend {
        collection_reads: strategies.iter().map(|s| s.collection_reads).sum(),
        collection_budget: budgets.collection_per_hour,
        strategies,
    }
}

impl ScheduleSpend {
    /// `runs x reads` per strategy, e.g. `critical 1 x 4, stock 12 x 1, smart 1 x 5`.
    pub fn describe(&self) -> String {
        self.strategies
            .iter()
            .map(|s| format!("{} {} x {}", s.strategy, s.runs, reads_per_run(s.strategy)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Refuses a schedule whose busiest hour exceeds the collection budget, naming the
    /// interval to raise (the strategy that spends the most).
    pub fn check(&self, schedule: &Schedule) -> Result<(), OverBudget> {
        if self.collection_reads <= self.collection_budget {
            return Ok(());
        }
        let top = self
            .strategies
            .iter()
            .filter(|s| s.strategy != Strategy::Smart)
            .max_by_key(|s| s.collection_reads)
            .map_or(Strategy::Critical, |s| s.strategy);
        let (setting, every) = match top {
            Strategy::Stock => (
                "STOCKPULSE_STOCK_EVERY_MINUTES",
                schedule.stock_every.unwrap_or_default(),
            ),
            _ => ("STOCKPULSE_CRITICAL_EVERY_MINUTES", schedule.critical_every),
        };
        Err(OverBudget {
            reads: self.collection_reads,
            budget: self.collection_budget,
            detail: self.describe(),
            setting,
            minutes: every.num_minutes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spends_21_collection_reads_in_its_busiest_hour() {
        let spend = schedule_spend(&Schedule::default(), &BudgetConfig::default());
        assert_eq!(
            spend
                .strategies
                .iter()
                .map(|s| (s.strategy, s.runs, s.collection_reads, s.gets))
                .collect::<Vec<_>>(),
            vec![
                (Strategy::Critical, 1, 4, 4),
                (Strategy::Stock, 12, 12, 12),
                (Strategy::Smart, 1, 5, 5),
            ]
        );
        assert_eq!((spend.collection_reads, spend.collection_budget), (21, 300));
        assert_eq!(
            spend.describe(),
            "critical 1 x 4, stock 12 x 1, smart 1 x 5"
        );
        assert!(spend.check(&Schedule::default()).is_ok());
    }

    #[test]
    fn a_schedule_over_the_budget_is_refused_naming_the_setting_to_raise() {
        let budgets = BudgetConfig::default();
        // Critical every minute with the pulse every minute: 240 + 60 + 5 = 305 > 300.
        let s = Schedule {
            critical_every: chrono::TimeDelta::minutes(1),
            stock_every: Some(chrono::TimeDelta::minutes(1)),
            ..Schedule::default()
        };
        let err = schedule_spend(&s, &budgets).check(&s).unwrap_err();
        assert_eq!((err.reads, err.budget), (305, 300));
        assert_eq!(err.setting, "STOCKPULSE_CRITICAL_EVERY_MINUTES");
        let msg = err.to_string();
        assert!(msg.contains("305 of Finale's 300"), "{msg}");
        assert!(
            msg.contains("critical 60 x 4, stock 60 x 1, smart 1 x 5"),
            "{msg}"
        );
        // Exactly at the budget is allowed; without the pulse the same critical cadence fits.
        let off = Schedule {
            stock_every: None,
            ..s
        };
        assert_eq!(schedule_spend(&off, &budgets).collection_reads, 245);
        assert!(schedule_spend(&off, &budgets).check(&off).is_ok());
        // A smaller collection budget makes the pulse the biggest spender.
        let small = BudgetConfig {
            collection_per_hour: 20,
            ..budgets
        };
        let s = Schedule {
            stock_every: Some(chrono::TimeDelta::minutes(2)),
            ..Schedule::default()
        };
        let err = schedule_spend(&s, &small).check(&s).unwrap_err();
        assert_eq!(err.setting, "STOCKPULSE_STOCK_EVERY_MINUTES");
        assert_eq!(err.minutes, 2);
        // Intervals that do not divide the hour round up: every 45 minutes can run twice.
        let s = Schedule {
            critical_every: chrono::TimeDelta::minutes(45),
            stock_every: None,
            ..Schedule::default()
        };
        assert_eq!(schedule_spend(&s, &budgets).strategies[0].runs, 2);
    }
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
            order_lag: Vec::new(),
            cap: 120_000,
            stock_graphql_pages: 0,
            request_time: Duration::from_millis(500),
        }
    }

    #[test]
    fn plan_is_reference_then_stock_then_windows_newest_first_and_covers_the_horizon() {
        let (start, end) = (t(2024, 11, 24), t(2026, 11, 24));
        let jobs = plan_full(start, end, chrono::Duration::days(30));
        let names: Vec<&str> = jobs.iter().map(|j| j.collection.as_str()).collect();
        assert_eq!(
            &names[..4],
            &["facility", "partygroup", "product", "inventoryitem"],
            "what staff look at first lands first"
        );
        assert!(names[4..].iter().all(|n| *n == "order"));
        let windows: Vec<_> = jobs.iter().filter(|j| j.kind == JobKind::Window).collect();
        assert_eq!(windows.len(), 25, "730 days in 30-day windows");
        assert_eq!(windows[0].window_end, end, "newest first");
        assert_eq!(windows.last().map(|w| w.window_start), Some(start));
        for pair in windows.windows(2) {
            assert_eq!(
                pair[1].window_end, pair[0].window_start,
                "no gaps, no overlap"
            );
        }
        assert!(
            windows
                .iter()
                .all(|w| w.window_end - w.window_start <= chrono::Duration::days(30))
        );
        // Exactly one window completes the last 90 days: the fourth (30-day windows counted
        // back from the end; the first three reach back 90 days to the second).
        let ready: Vec<usize> = windows
            .iter()
            .enumerate()
            .filter(|(_, w)| velocity_ready(w, start, end))
            .map(|(i, _)| i)
            .collect();
        let from = end - chrono::Duration::days(90);
        assert_eq!(ready.len(), 1, "{ready:?}");
        let w = windows[ready[0]];
        assert!(w.window_start <= from && w.window_end > from, "{w:?}");
        assert!(windows[..ready[0]].iter().all(|w| w.window_start > from));
        // A horizon shorter than 90 days: its oldest window.
        let short = plan_full(
            end - chrono::Duration::days(40),
            end,
            chrono::Duration::days(30),
        );
        let ready: Vec<&PlannedJob> = short
            .iter()
            .filter(|j| velocity_ready(j, end - chrono::Duration::days(40), end))
            .collect();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].window_start, end - chrono::Duration::days(40));
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
        // 383.6 orders a day, every order last changed on its order day: each 30-day window
        // is one run of 11,507 orders, 116 pages (the client rounds up per run); the oldest
        // window's 10 days take 39. 24 x 116 + 39 = 2,823 pages + 29 reads = 2,852 collection
        // reads at 300/hour: 9 more windows.
        assert_eq!(e.requests.get("post"), Some(&2_823));
        assert_eq!(e.requests.get("collection"), Some(&2_852));
        assert_eq!(e.bottleneck.as_deref(), Some("collection"));
        assert_eq!(e.duration, Duration::from_secs(9 * 3600));
        // As POSTs only, the minute budget decides: 2,823 / 120 per minute.
        let e = estimate(&jobs, &profile(280_000, false), &BudgetConfig::default());
        assert_eq!(e.bottleneck.as_deref(), Some("post"));
        assert_eq!(
            e.duration,
            Duration::from_secs(23 * 60).max(Duration::from_millis(500 * 2_852))
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
    fn lag_shares_count_whole_days() {
        let shares = lag_shares([0, 0, 1, 3, -2]);
        assert_eq!(shares, vec![0.6, 0.2, 0.0, 0.2]);
        assert!(lag_shares(std::iter::empty()).is_empty());
    }

    #[test]
    fn late_changes_reach_back_and_cost_what_the_client_plans() {
        let budgets = BudgetConfig::default();
        let coll = BudgetConfig {
            graphql_counts_as_collection: true,
            ..BudgetConfig::default()
        };
        let late = |share: f64, days: usize| {
            let mut lag = vec![0.0; days + 1];
            lag[0] = 1.0 - share;
            lag[days] = share;
            lag
        };
        // 390 orders a day, 200 a page, all changed on their order day: 11,700 orders, 59
        // pages a window, whatever a page costs.
        assert_eq!(
            window_line_requests(30, 60, 390.0, &[], 200, &budgets),
            (59, 0)
        );
        assert_eq!(
            window_line_requests(30, 60, 390.0, &[], 200, &coll),
            (59, 0)
        );
        // Half the orders change 3 days late: the batch reaches 3 days back at half density,
        // cheaper paged (1.95 pages a day) than read one by one (195 GETs): 33 days, 65 pages.
        assert_eq!(
            window_line_requests(30, 60, 390.0, &late(0.5, 3), 200, &budgets),
            (65, 0)
        );
        // The horizon's oldest window has no orders before it.
        assert_eq!(
            window_line_requests(30, 0, 390.0, &late(0.5, 3), 200, &budgets),
            (59, 0)
        );
        // 1 % change 20 days late: 3.9 orders on each of the 20 days before the window. Paging
        // such a day (1.95 pages) beats 3.9 GETs, so the run reaches back 20 days...
        assert_eq!(
            window_line_requests(30, 60, 390.0, &late(0.01, 20), 200, &budgets),
            (98, 0)
        );
        // ...unless a page is worth 24 GETs (GraphQL counted as a collection read)...
        assert_eq!(
            window_line_requests(30, 60, 390.0, &late(0.01, 20), 200, &coll),
            (59, 78)
        );
        // ...or the tail is thinner than a page's worth of GETs a day (0.78 orders a day).
        assert_eq!(
            window_line_requests(30, 60, 390.0, &late(0.002, 20), 200, &budgets),
            (59, 16)
        );
    }

    #[test]
    fn the_estimate_counts_line_gets_in_the_get_bucket() {
        let jobs = plan_full(t(2024, 11, 24), t(2026, 11, 24), chrono::Duration::days(30));
        let mut lag = vec![0.0; 21];
        lag[0] = 0.998;
        lag[20] = 0.002;
        let p = LoadProfile {
            order_lag: lag,
            ..profile(280_000, false)
        };
        let e = estimate(&jobs, &p, &BudgetConfig::default());
        let gets = e.requests.get("get").copied().unwrap_or(0);
        let posts = e.requests.get("post").copied().unwrap_or(0);
        assert!(gets > 29, "29 reads and the tails' GETs: {e:?}");
        assert_eq!(e.total_requests, gets + posts);
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
