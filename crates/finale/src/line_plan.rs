//! Planning GraphQL line completion: which missing orders to page for, over which order
//! days, how many pages each run may spend, and which orders to read one by one. Pure
//! functions, no I/O; [`crate::FinaleClient::complete_order_lines`] executes the plan and the
//! engine's load estimate (`engine::sync::plan::estimate`) calls the same [`plan_lines`].
//!
//! # The cost model
//!
//! GraphQL cannot ask for a list of orders by URL: `orderViewConnection` filters by order
//! type and an `orderDate` range of account-local days (finale-api.md §6.5, §9), so a page
//! returns *every* order of those days, wanted or not. Paging a range of `span` days of an
//! account with `density` orders a day costs about `ceil(span × density / page_size)` pages;
//! reading its `n` wanted orders one by one costs `n` GETs. One page is worth
//! [`page_weight`] GETs: the ratio of the GET budget's refill rate to the GraphQL one's (1 with
//! Finale's 120 GET/min and 120 POST/min; 24 when a GraphQL POST also spends one of the 300
//! collection reads an hour).
//!
//! # The plan
//!
//! The wanted orders' days, sorted, are cut into **runs** (consecutive days paged as one
//! range) and **GET days** (orders read one by one), choosing the cut with the lowest total
//! cost: an exact dynamic programme over the distinct days (a run `j..=i` costs its pages ×
//! the page weight; a GET day costs its orders). A gap between wanted days is paged only when
//! paging it costs less than reading the orders on one side of it one by one, so one order
//! changed two years ago is one GET, never the pages between it and today. Orders without an
//! order date are GETs. On a tie a GET wins (exact, and no order of another day is read), and
//! of two cuts that cost the same, the one with fewer runs.
//!
//! Each run gets a **page cap**: twice its expected pages plus two (the density is an
//! estimate), but never more pages than its wanted orders would cost as GETs. The executor
//! stops a run at its cap (or when every wanted order is found, or the pages end) and reads
//! whatever is still missing with per-order GETs, so the pages spent on a missing order are
//! bounded whatever the account's real density.
//!
//! # The density
//!
//! The executor does not know how many orders the account has on a day. [`density_hint`]
//! takes the densest span of the batch's days that holds at least [`DENSITY_MIN_ORDERS`]
//! wanted orders: a lower bound of the account's density there when the batch holds every
//! order of those days (a full load's window does; so does a run after a day's new orders),
//! and not fooled by one busy day of a sparse account. An underestimate makes runs longer
//! than they should be, and the page cap bounds what that costs. The load estimate applies
//! the same [`density_of`] to its modelled batches.

use chrono::{Datelike, NaiveDate};

use crate::scheduler::BudgetConfig;

/// One run of consecutive order days, paged as one `orderDate` range.
#[derive(Clone, Debug, PartialEq)]
pub struct LineRun {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Indices (into the planner's input) of the wanted orders on these days.
    pub wanted: Vec<usize>,
    /// Pages the run is expected to take at the planned density.
    pub expected_pages: u32,
    /// Pages the executor may spend on it before reading the rest one by one.
    pub page_cap: u32,
}

/// What [`plan_lines`] decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinePlan {
    /// Date ranges to page, in day order.
    pub runs: Vec<LineRun>,
    /// Indices of the orders to read with their own GET (isolated days, no order date).
    pub gets: Vec<usize>,
}

impl LinePlan {
    /// Pages the runs are expected to take.
    pub fn expected_pages(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.expected_pages)).sum()
    }

    /// The most pages the executor may spend (the runs' caps).
    pub fn page_cap(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.page_cap)).sum()
    }
}

/// The cost of one GraphQL page in GETs: how many GETs the GET budget refills while the
/// GraphQL budget refills one page (the POST minute budget, and the hourly collection budget
/// when a GraphQL POST counts as a collection read). 1 with budgets disabled.
pub fn page_weight(budgets: &BudgetConfig) -> f64 {
    if !budgets.enabled {
        return 1.0;
    }
    let per_sec = |limit: u32, window: chrono::TimeDelta| {
        f64::from(limit) / (window.num_milliseconds().max(1) as f64 / 1e3)
    };
    let get = per_sec(budgets.get_per_minute, budgets.minute);
    let mut page = per_sec(budgets.post_per_minute, budgets.minute);
    if budgets.graphql_counts_as_collection {
        page = page.min(per_sec(budgets.collection_per_hour, budgets.hour));
    }
    if get <= 0.0 {
        // No GET budget: pages are all there is.
        return 0.0;
    }
    if page <= 0.0 {
        return f64::INFINITY;
    }
    get / page
}

/// Orders a span of days must hold before its average counts as a density: one busy day
/// of a sparse account (3 orders where 0.8 a day is usual) is noise, not density.
pub const DENSITY_MIN_ORDERS: f64 = 10.0;

/// The account's orders a day as the batch shows them: the highest average over any span of
/// consecutive days holding at least [`DENSITY_MIN_ORDERS`] wanted orders (the whole batch's
/// average when it holds fewer). A lower bound where the batch holds every order of its
/// densest days (see the module docs). At least 1.
pub fn density_hint(days: &[Option<NaiveDate>]) -> f64 {
    let mut sorted: Vec<NaiveDate> = days.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let loads: Vec<DayLoad> = sorted
        .chunk_by(|a, b| a == b)
        .map(|g| DayLoad {
            day: i64::from(g[0].num_days_from_ce()),
            wanted: g.len() as f64,
        })
        .collect();
    density_of(&loads)
}

/// [`density_hint`] over day loads (sorted by day, distinct).
pub fn density_of(loads: &[DayLoad]) -> f64 {
    let total: f64 = loads.iter().map(|d| d.wanted).sum();
    let (Some(first), Some(last)) = (loads.first(), loads.last()) else {
        return 1.0;
    };
    if total < DENSITY_MIN_ORDERS {
        return (total / (last.day - first.day + 1) as f64).max(1.0);
    }
    let mut best = 0.0f64;
    let (mut j, mut sum) = (0usize, 0.0f64);
    for i in 0..loads.len() {
        // The shortest span from day i holding enough orders.
        while j < loads.len() && sum < DENSITY_MIN_ORDERS {
            sum += loads[j].wanted;
            j += 1;
        }
        if sum < DENSITY_MIN_ORDERS {
            break;
        }
        let span = (loads[j - 1].day - loads[i].day + 1) as f64;
        best = best.max(sum / span);
        sum -= loads[i].wanted;
    }
    best.max(1.0)
}

/// Expected pages to read `span` days at `density` orders a day holding `wanted` orders.
pub fn expected_pages(span_days: u64, wanted: f64, density: f64, page_size: u32) -> u32 {
    let p = f64::from(page_size.max(1));
    let orders = (span_days as f64 * density).max(wanted);
    let pages = (orders / p).ceil().max(1.0);
    pages.min(f64::from(u32::MAX)) as u32
}

/// The page cap of a run expected to take `expected` pages for `wanted` orders.
pub fn page_cap(expected: u32, wanted: f64, weight: f64) -> u32 {
    let as_gets = if weight > 0.0 {
        (wanted / weight).floor().min(f64::from(u32::MAX)) as u32
    } else {
        u32::MAX
    };
    expected
        .saturating_mul(2)
        .saturating_add(2)
        .min(as_gets)
        .max(expected)
}

/// One day of the batch for [`plan_days`]: a day number (any consecutive numbering) and how
/// many wanted orders it holds (fractional in the load estimate's model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayLoad {
    /// Day number; consecutive days differ by 1.
    pub day: i64,
    /// Wanted orders on the day.
    pub wanted: f64,
}

/// A run over day numbers (the result of [`plan_days`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayRun {
    /// Index of the run's first day in the input.
    pub first: usize,
    /// Index of the run's last day in the input (inclusive).
    pub last: usize,
    /// Expected pages.
    pub expected_pages: u32,
    /// Page cap.
    pub page_cap: u32,
}

/// Added to each run's cost so that equal-cost cuts prefer fewer runs (and a GET day wins a
/// tie with a run).
const RUN_TIE_BREAK: f64 = 1e-6;

/// The cost-minimal cut of `days` (sorted by day, distinct, each with wanted orders) into
/// runs; the days outside every run are read by GETs. See the module docs.
pub fn plan_days(days: &[DayLoad], page_size: u32, density: f64, weight: f64) -> Vec<DayRun> {
    let m = days.len();
    if m == 0 {
        return Vec::new();
    }
    let density = density.max(0.0);
    // prefix[i] = wanted orders on days[..i]
    let mut prefix = vec![0.0f64; m + 1];
    for (i, d) in days.iter().enumerate() {
        prefix[i + 1] = prefix[i] + d.wanted.max(0.0);
    }
    let run_cost = |j: usize, i: usize| -> (f64, u32) {
        let span = (days[i].day - days[j].day + 1).max(1) as u64;
        let pages = expected_pages(span, prefix[i + 1] - prefix[j], density, page_size);
        // A hair more per run: of two cuts that cost the same, the one with fewer runs.
        (f64::from(pages) * weight + RUN_TIE_BREAK, pages)
    };
    // best[i]: cheapest plan of days[..i]; from[i]: None = day i-1 by GETs, Some(j) = run j..i.
    let mut best = vec![0.0f64; m + 1];
    let mut from: Vec<Option<usize>> = vec![None; m + 1];
    for i in 1..=m {
        best[i] = best[i - 1] + days[i - 1].wanted.max(0.0);
        from[i] = None;
        for j in (0..i).rev() {
            let (cost, _) = run_cost(j, i - 1);
            // Runs only grow dearer as they reach back: stop once one alone costs more.
            if cost >= best[i] {
                break;
            }
            if best[j] + cost < best[i] {
                best[i] = best[j] + cost;
                from[i] = Some(j);
            }
        }
    }
    let mut runs = Vec::new();
    let mut i = m;
    while i > 0 {
        match from[i] {
            None => i -= 1,
            Some(j) => {
                let (_, pages) = run_cost(j, i - 1);
                let wanted = prefix[i] - prefix[j];
                runs.push(DayRun {
                    first: j,
                    last: i - 1,
                    expected_pages: pages,
                    page_cap: page_cap(pages, wanted, weight),
                });
                i = j;
            }
        }
    }
    runs.reverse();
    runs
}

/// Plans the completion of orders whose local order days are `days` (`None`: no order date):
/// runs to page with `page_size` orders a page at `density` orders a day, each page worth
/// `weight` GETs (see the module docs).
pub fn plan_lines(
    days: &[Option<NaiveDate>],
    page_size: u32,
    density: f64,
    weight: f64,
) -> LinePlan {
    let mut dated: Vec<(NaiveDate, usize)> = Vec::new();
    let mut gets = Vec::new();
    for (i, d) in days.iter().enumerate() {
        match d {
            Some(d) => dated.push((*d, i)),
            None => gets.push(i),
        }
    }
    dated.sort_unstable();
    let groups: Vec<&[(NaiveDate, usize)]> = dated.chunk_by(|a, b| a.0 == b.0).collect();
    let loads: Vec<DayLoad> = groups
        .iter()
        .map(|g| DayLoad {
            day: i64::from(g[0].0.num_days_from_ce()),
            wanted: g.len() as f64,
        })
        .collect();
    let day_runs = plan_days(&loads, page_size, density, weight);
    let mut in_run = vec![false; groups.len()];
    let mut runs = Vec::with_capacity(day_runs.len());
    for r in day_runs {
        let mut wanted = Vec::new();
        for (k, g) in groups.iter().enumerate().take(r.last + 1).skip(r.first) {
            in_run[k] = true;
            wanted.extend(g.iter().map(|&(_, i)| i));
        }
        runs.push(LineRun {
            from: groups[r.first][0].0,
            to: groups[r.last][0].0,
            wanted,
            expected_pages: r.expected_pages,
            page_cap: r.page_cap,
        });
    }
    for (k, g) in groups.iter().enumerate() {
        if !in_run[k] {
            gets.extend(g.iter().map(|&(_, i)| i));
        }
    }
    gets.sort_unstable();
    LinePlan { runs, gets }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// `n` orders on each of the days `from..=to`.
    fn days(from: &str, to: &str, n: usize) -> Vec<Option<NaiveDate>> {
        d(from)
            .iter_days()
            .take_while(|x| *x <= d(to))
            .flat_map(|x| std::iter::repeat_n(Some(x), n))
            .collect()
    }

    #[test]
    fn nothing_wanted_plans_nothing() {
        assert_eq!(plan_lines(&[], 200, 10.0, 1.0), LinePlan::default());
        assert!(plan_days(&[], 200, 10.0, 1.0).is_empty());
    }

    #[test]
    fn one_order_is_a_get() {
        let p = plan_lines(&[Some(d("2025-03-01"))], 200, 1.0, 1.0);
        assert!(p.runs.is_empty());
        assert_eq!(p.gets, vec![0]);
    }

    #[test]
    fn orders_without_a_date_are_gets() {
        let mut batch = days("2026-10-01", "2026-10-10", 50);
        batch.insert(3, None);
        batch.push(None);
        let p = plan_lines(&batch, 200, 50.0, 1.0);
        assert_eq!(p.gets, vec![3, batch.len() - 1]);
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.runs[0].wanted.len(), 500);
    }

    #[test]
    fn all_on_one_day_is_one_run_of_their_pages() {
        let batch = vec![Some(d("2026-10-31")); 450];
        let p = plan_lines(&batch, 200, density_hint(&batch), 1.0);
        assert_eq!(p.runs.len(), 1);
        let r = &p.runs[0];
        assert_eq!((r.from, r.to), (d("2026-10-31"), d("2026-10-31")));
        assert_eq!(r.expected_pages, 3);
        assert_eq!(r.page_cap, 8, "2 x 3 + 2");
        assert_eq!(r.wanted.len(), 450);
        assert!(p.gets.is_empty());
    }

    #[test]
    fn one_old_order_far_from_a_dense_run_is_a_get() {
        // The case: a day's changes plus one order from 700 days before.
        let mut batch = days("2026-10-30", "2026-10-31", 390);
        batch.push(Some(d("2024-12-01")));
        let p = plan_lines(&batch, 200, density_hint(&batch), 1.0);
        assert_eq!(p.gets, vec![batch.len() - 1]);
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.runs[0].from, d("2026-10-30"));
        assert_eq!(p.runs[0].expected_pages, 4);
        assert_eq!(p.expected_pages(), 4);
    }

    #[test]
    fn two_far_clusters_are_two_runs() {
        let mut batch = days("2025-01-01", "2025-01-05", 40);
        batch.extend(days("2026-06-01", "2026-06-03", 40));
        let p = plan_lines(&batch, 100, 40.0, 1.0);
        assert_eq!(p.runs.len(), 2, "{p:?}");
        assert_eq!(
            (p.runs[0].from, p.runs[0].to),
            (d("2025-01-01"), d("2025-01-05"))
        );
        assert_eq!(p.runs[0].expected_pages, 2);
        assert_eq!(
            (p.runs[1].from, p.runs[1].to),
            (d("2026-06-01"), d("2026-06-03"))
        );
        assert_eq!(p.runs[1].expected_pages, 2);
        assert!(p.gets.is_empty());
    }

    #[test]
    fn a_gap_is_paged_when_it_saves_a_page() {
        // 40 a day, 100 a page: the three days before the gap fill 1.2 pages, the day after
        // it 0.4; paging the gap day too makes five days of 2 pages instead of 2 + 1.
        let mut batch = days("2025-01-01", "2025-01-03", 40);
        batch.extend(days("2025-01-05", "2025-01-05", 40));
        let p = plan_lines(&batch, 100, 40.0, 1.0);
        assert_eq!(p.runs.len(), 1, "{p:?}");
        assert_eq!(
            (p.runs[0].from, p.runs[0].to),
            (d("2025-01-01"), d("2025-01-05"))
        );
        assert_eq!(p.runs[0].expected_pages, 2);
    }

    #[test]
    fn sparse_days_beside_a_run_are_gets_when_paging_them_costs_more() {
        // 400 a day, 200 a page: one day costs 2 pages; a day with one wanted order is a GET,
        // a day with five is paged.
        let mut batch = days("2026-10-31", "2026-10-31", 400);
        batch.push(Some(d("2026-10-20")));
        batch.extend(std::iter::repeat_n(Some(d("2026-10-30")), 5));
        let p = plan_lines(&batch, 200, 400.0, 1.0);
        assert_eq!(p.gets, vec![400]);
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.runs[0].from, d("2026-10-30"));
        assert_eq!(p.runs[0].expected_pages, 4);
    }

    #[test]
    fn a_dear_page_sends_more_orders_to_gets() {
        // GraphQL counted as a collection read: a page is worth 24 GETs.
        let budgets = BudgetConfig {
            graphql_counts_as_collection: true,
            ..BudgetConfig::default()
        };
        let w = page_weight(&budgets);
        assert!((w - 24.0).abs() < 1e-9, "{w}");
        // 20 orders: one page (24 GETs' worth) is dearer than their GETs.
        let batch = days("2026-10-01", "2026-10-02", 10);
        assert_eq!(plan_lines(&batch, 200, 10.0, w).gets.len(), 20);
        assert_eq!(plan_lines(&batch, 200, 10.0, 1.0).runs.len(), 1);
        assert!((page_weight(&BudgetConfig::default()) - 1.0).abs() < 1e-9);
        let off = BudgetConfig {
            enabled: false,
            ..budgets
        };
        assert!((page_weight(&off) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn huge_runs_are_planned_quickly_and_capped_by_their_gets() {
        // Two years of a large account's window: 730 days, 390 orders each.
        let batch = days("2024-11-01", "2026-10-31", 390);
        let p = plan_lines(&batch, 200, 390.0, 1.0);
        assert_eq!(p.runs.len(), 1);
        let r = &p.runs[0];
        assert_eq!(r.wanted.len(), 730 * 390);
        assert_eq!(r.expected_pages, (730u32 * 390).div_ceil(200));
        assert_eq!(r.page_cap, r.expected_pages * 2 + 2);
        // Sparse days across the whole horizon: one run would be dearer than the GETs.
        let sparse: Vec<Option<NaiveDate>> = days("2024-11-01", "2026-10-31", 1)
            .into_iter()
            .step_by(7)
            .collect();
        let p = plan_lines(&sparse, 200, 390.0, 1.0);
        assert!(p.runs.is_empty());
        assert_eq!(p.gets.len(), sparse.len());
    }

    #[test]
    fn a_run_never_may_spend_more_pages_than_its_orders_as_gets() {
        assert_eq!(page_cap(3, 100.0, 1.0), 8);
        assert_eq!(page_cap(3, 5.0, 1.0), 5);
        assert_eq!(page_cap(3, 2.0, 1.0), 3, "never under the expected pages");
        assert_eq!(page_cap(1, 30.0, 24.0), 1);
        assert_eq!(page_cap(2, 30.0, 0.0), 6);
        // Every planned run is cheaper than its GETs, so its cap is at least its pages.
        let mut batch = days("2026-10-01", "2026-10-31", 7);
        batch.extend(days("2025-10-01", "2025-10-02", 3));
        for w in [0.5, 1.0, 3.0] {
            for r in plan_lines(&batch, 20, 7.0, w).runs {
                assert!(f64::from(r.expected_pages) * w < r.wanted.len() as f64);
                assert!(r.page_cap >= r.expected_pages);
                assert!(
                    f64::from(r.page_cap) * w <= r.wanted.len() as f64
                        || r.page_cap == r.expected_pages
                );
            }
        }
    }

    #[test]
    fn density_hint_is_the_densest_span_of_enough_orders() {
        // A busy day of a dense batch is its density.
        let mut batch = days("2026-10-01", "2026-10-02", 30);
        batch.extend(days("2026-10-03", "2026-10-03", 45));
        batch.push(None);
        assert!((density_hint(&batch) - 45.0).abs() < 1e-9);
        // A sparse batch: one order most days, four on one. Ten orders take 7 days at best.
        let mut sparse = days("2026-09-01", "2026-09-30", 1);
        sparse.extend(days("2026-09-10", "2026-09-10", 3));
        assert!(
            (density_hint(&sparse) - 10.0 / 7.0).abs() < 1e-9,
            "{}",
            density_hint(&sparse)
        );
        // Fewer orders than that: their average, at least 1.
        assert!((density_hint(&days("2026-10-01", "2026-10-02", 3)) - 3.0).abs() < 1e-9);
        assert!((density_hint(&[Some(d("2026-01-01")), Some(d("2026-01-05"))]) - 1.0).abs() < 1e-9);
        assert!((density_hint(&[None]) - 1.0).abs() < 1e-9);
        assert!((density_hint(&[]) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn fractional_days_from_the_load_model() {
        let loads: Vec<DayLoad> = (0..30)
            .map(|k| DayLoad {
                day: k,
                wanted: 38.5,
            })
            .collect();
        let runs = plan_days(&loads, 200, 38.5, 1.0);
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].first, runs[0].last), (0, 29));
        assert_eq!(runs[0].expected_pages, 6, "1,155 orders");
    }
}
