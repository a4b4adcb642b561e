//! Finale's entity cap: what the engine does when a collection is larger than one response.
//!
//! Finale silently truncates every collection response at 120,000 entities (finale-api.md
//! §8.2; [`finale::FinaleConfig::cap`], `FINALE_COLLECTION_CAP`), and an unfiltered read of
//! such a collection "is not accurate". The client flags every response that reached the cap
//! ([`finale::Decoded::capped`]). The engine's rule: **a capped response is never evidence
//! that something is absent.** Nothing is deleted, zeroed or quarantined because it is missing
//! from one; the engine reads the collection another way instead.
//!
//! # Stock (`inventoryitem`)
//!
//! Below the cap the one-read REST snapshot stays the way to read stock (one collection read
//! for the whole account). When it comes back capped, the engine discards it and reads stock
//! through GraphQL: `productViewConnection` pages of 500 products, each product with its
//! `stockItem` rows (type, quantity, lot, packing, sublocation; finale-api.md §7.2,
//! [`finale::FinaleClient::fetch_stock_graphql`]). The rows become the same `inventoryitem`
//! records, summed per (product, sublocation) and diffed by hash exactly like a REST snapshot,
//! so both paths produce identical stock rows and vanished pairs are deleted only on the
//! evidence of a complete read.
//!
//! Why this way, by request budget (the `large` data set: 50,000 products, ~126,000 stock
//! rows — 127,224 at the test anchor, at most 2,559 for one lot-tracked product):
//!
//! | way | requests per stock read | what it yields |
//! |---|---|---|
//! | REST `inventoryitem` | 1 collection read | truncated at 120,000 rows: unusable |
//! | GraphQL products + `stockItem` | ⌈50,000 / 500⌉ = 100 POSTs + 1 per further 1,000 rows of a product (2 products on `large`: **103 POSTs measured**), plus the REST probe (1 collection read) once per [`REPROBE_AFTER`] | every row, per sublocation, complete |
//! | GraphQL per-location stock columns | 100 POSTs | per *location* only: the store keeps stock per sublocation |
//! | `stockHistoryViewConnection` ledger | a few POSTs per day of movements, **after** a baseline | movements of on-hand stock only |
//!
//! The ledger is the cheapest in steady state but cannot stand alone: a delta feed needs a
//! trustworthy baseline, and the only complete baseline past the cap is the GraphQL read
//! above (or replaying the whole history from zero: ~1,000,000 order lines on `large`, 2,000
//! pages); it carries no reserved or on-order quantities at all (they are not stock
//! movements), and a missed or double-counted movement drifts forever without a periodic
//! full read. The GraphQL product read is complete every time, costs ~100 POSTs — within one
//! minute of the 120/min POST budget, and no collection read unless the account counts
//! GraphQL as one (then 100 of the 300 hourly collection reads: read stock less often) — and
//! needs no state. So at the cap every stock read is a GraphQL product read.
//!
//! The REST probe itself is 120,000 rows (tens of megabytes) thrown away, so the engine
//! remembers that the account is past the cap (`sync_state` key [`STOCK_CAPPED_KEY`], the
//! time of the last capped probe) and goes straight to GraphQL for [`REPROBE_AFTER`]; then it
//! probes REST again, and an account that shrank under the cap returns to the one-read
//! snapshot.
//!
//! # Products, parties, facilities in the full load
//!
//! The full load reads reference collections as one unfiltered snapshot each. A snapshot
//! that comes back capped is stored as far as it goes (upserts only; nothing is deleted by a
//! full load), and the plan is **extended** with `lastUpdatedDate` window jobs for that
//! collection, from just before its oldest change to the plan's end, each at most 30 days
//! (the client halves a window that itself reaches the cap). The oldest change is the older
//! of the oldest record in the capped snapshot and GraphQL's answer to "oldest
//! `recordLastUpdated` first" (finale-api.md §9 `sort`), less a day for time-zone slack;
//! without GraphQL it is [`FALLBACK_FLOOR`]. The floor is stored (`sync_state` key
//! [`WINDOWED_KEY`], tied to the plan's horizon) in the same transaction that marks the
//! snapshot job done, and [`expand_windowed`] re-plans the same window jobs from it, so a
//! resumed run plans exactly the same jobs. The window jobs run right after their snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, TimeZone, Utc};
use finale::{Collection, FinaleRecord, Priority};
use serde::{Deserialize, Serialize};

use super::{Engine, SyncError};
use store::{JobKind, PlannedJob};

/// The `sync_state` key remembering when the stock snapshot last reached the cap
/// ([`StockCapped`], or `null` once it no longer does).
pub const STOCK_CAPPED_KEY: &str = "stock:capped";

/// How long stock is read through GraphQL without probing the REST snapshot again.
pub const REPROBE_AFTER: Duration = Duration::hours(24);

/// The stored value of [`STOCK_CAPPED_KEY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCapped {
    /// When the REST stock snapshot last reached the cap.
    pub at: DateTime<Utc>,
}

/// The stock records of one read, from REST or (at the cap) GraphQL.
pub(super) struct StockRecords {
    /// Records and bad rows; never from a capped response.
    pub items: finale::Decoded<finale::InventoryItem>,
    /// Requests made.
    pub requests: u32,
    /// `sync_state` to write with the read's changes.
    pub state: Vec<(String, serde_json::Value)>,
}

/// The `sync_state` key of [`Windowed`].
pub const WINDOWED_KEY: &str = "backfill:windowed";

/// Where windowed reads start when GraphQL cannot name a collection's oldest change: before
/// any Finale account existed (Finale launched in the early 2010s).
pub const FALLBACK_FLOOR: &str = "2010-01-01T00:00:00Z";

/// Collections of the current plan that are read in windows because their snapshot reached
/// the cap, with the instant their windows start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windowed {
    /// The plan's horizon end these floors belong to (a new plan starts afresh).
    pub plan_end: Option<DateTime<Utc>>,
    /// Collection path → first window start.
    pub floors: BTreeMap<String, DateTime<Utc>>,
}

impl Windowed {
    /// The floors if they belong to the plan ending at `plan_end`.
    pub fn for_plan(self, plan_end: DateTime<Utc>) -> BTreeMap<String, DateTime<Utc>> {
        if self.plan_end == Some(plan_end) {
            self.floors
        } else {
            BTreeMap::new()
        }
    }
}

/// The window jobs that replace a capped snapshot of `collection`: `[floor, end]` in windows
/// of at most `window`.
pub fn window_jobs(
    collection: &str,
    floor: DateTime<Utc>,
    end: DateTime<Utc>,
    window: Duration,
) -> Vec<PlannedJob> {
    finale::plan_windows(floor, end, window)
        .into_iter()
        .map(|w| PlannedJob {
            collection: collection.to_owned(),
            kind: JobKind::Window,
            window_start: w.start,
            window_end: w.end,
        })
        .collect()
}

/// `planned` with the window jobs of every windowed collection right after its snapshot job.
/// Pure: the same plan and floors give the same jobs.
pub fn expand_windowed(
    planned: Vec<PlannedJob>,
    floors: &BTreeMap<String, DateTime<Utc>>,
    window: Duration,
) -> Vec<PlannedJob> {
    if floors.is_empty() {
        return planned;
    }
    let mut out = Vec::with_capacity(planned.len());
    for job in planned {
        let extra = match (job.kind, floors.get(&job.collection)) {
            (JobKind::Snapshot, Some(&floor)) => {
                window_jobs(&job.collection, floor, job.window_end, window)
            }
            _ => Vec::new(),
        };
        out.push(job);
        out.extend(extra);
    }
    out
}

/// What one stock read costs ([`stock_read_cost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockReadCost {
    /// Collection reads: the REST `inventoryitem` snapshot (also the probe when it is capped).
    pub collection_reads: u64,
    /// GraphQL POSTs (0 below the cap).
    pub graphql_pages: u64,
    /// Whether stock comes through GraphQL (the snapshot reaches the cap).
    pub via_graphql: bool,
}

/// The requests of one stock read of an account with `products` products and `stock_rows`
/// `inventoryitem` rows under the entity `cap`; `overflowing` is the number of follow-up
/// pages for products with more than [`finale::graphql_stock::STOCK_ROWS_PER_PRODUCT`] rows
/// (one per further [`finale::graphql_stock::STOCK_ROWS_PER_FOLLOW_UP`] rows). On the
/// `large` data set (50,000 products, 127,224 rows, 3 follow-up pages): 1 collection read +
/// 103 POSTs, as measured by the contract suite's `large_stock_through_graphql`. This is the
/// read that finds the cap; later reads within [`REPROBE_AFTER`] skip the collection read.
pub fn stock_read_cost(
    products: u64,
    stock_rows: u64,
    overflowing: u64,
    cap: u64,
) -> StockReadCost {
    if stock_rows < cap {
        return StockReadCost {
            collection_reads: 1,
            graphql_pages: 0,
            via_graphql: false,
        };
    }
    let page = u64::from(finale::graphql_stock::STOCK_PAGE_SIZE);
    StockReadCost {
        collection_reads: 1,
        graphql_pages: products.div_ceil(page).max(1) + overflowing,
        via_graphql: true,
    }
}

/// The GraphQL connection and node field naming a collection's last change, if it has one.
fn graphql_source(c: Collection) -> Option<&'static str> {
    match c {
        Collection::Product => Some("productViewConnection"),
        Collection::PartyGroup => Some("partyViewConnection"),
        _ => None,
    }
}

/// Reads `2025-03-01T17:02:11` (raw) or a display date-time; the zone does not matter to
/// the caller, which keeps a day of slack.
fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .or_else(|| finale::display::datetime(s).ok().flatten())
}

impl Engine {
    /// Where the window jobs of a capped snapshot of `T` start (see the module docs).
    pub(super) async fn windowed_floor<T: FinaleRecord>(
        &self,
        records: &[T],
        prio: Priority,
    ) -> DateTime<Utc> {
        let seen = records.iter().filter_map(FinaleRecord::last_updated).min();
        let oldest = match graphql_source(T::COLLECTION) {
            Some(conn) => {
                let request = serde_json::json!({ "query": format!(
                    "{{ {conn}(first:1, sort:[{{field:\"recordLastUpdated\", mode:\"asc\"}}]) \
                     {{ edges {{ node {{ recordLastUpdated(formatter:\"none\") }} }} }} }}"
                ) });
                match self.client.graphql(&request, prio).await {
                    Ok(v) => v["data"][conn]["edges"][0]["node"]["recordLastUpdated"]
                        .as_str()
                        .and_then(parse_naive)
                        .map(|n| Utc.from_utc_datetime(&n)),
                    Err(e) => {
                        tracing::warn!(collection = %T::COLLECTION, error = %e, "GraphQL could not name the oldest change");
                        None
                    }
                }
            }
            None => None,
        };
        let fallback: DateTime<Utc> = FALLBACK_FLOOR.parse().unwrap_or(DateTime::<Utc>::MIN_UTC);
        let floor = match (seen, oldest) {
            (Some(a), Some(b)) => a.min(b) - Duration::days(1),
            // The capped snapshot alone does not know what it missed.
            _ => fallback,
        };
        // Whole seconds: both stores keep the planned instants exactly (SQLite keeps
        // milliseconds), so the stored jobs compare equal to the re-planned ones.
        floor.trunc_subsecs(0)
    }

    /// Reads every stock row: the REST snapshot below the cap, GraphQL product pages at it
    /// (straight away while [`STOCK_CAPPED_KEY`] is younger than [`REPROBE_AFTER`]).
    pub(super) async fn stock_records(&self, prio: Priority) -> Result<StockRecords, SyncError> {
        let now = self.now();
        let known: Option<StockCapped> = self
            .read_state::<Option<StockCapped>>(STOCK_CAPPED_KEY)
            .await?
            .flatten();
        let graphql = |requests: u32, state: Vec<(String, serde_json::Value)>| async move {
            let g = self.client.fetch_stock_graphql(prio).await?;
            Ok::<_, SyncError>(StockRecords {
                items: g.items,
                requests: requests + g.requests,
                state,
            })
        };
        if known.is_some_and(|k| now - k.at < REPROBE_AFTER && k.at <= now) {
            return graphql(0, Vec::new()).await;
        }
        let d = self.client.fetch_all::<finale::InventoryItem>(prio).await?;
        if d.capped {
            // A truncated snapshot is no evidence: read every product's stock rows instead.
            tracing::warn!(
                rows = d.records.len(),
                "the stock snapshot reached Finale's entity cap; reading stock through GraphQL"
            );
            let state = serde_json::to_value(Some(StockCapped { at: now }))
                .map_err(|e| SyncError::State(e.to_string()))?;
            return graphql(1, vec![(STOCK_CAPPED_KEY.to_owned(), state)]).await;
        }
        let state = if known.is_some() {
            vec![(STOCK_CAPPED_KEY.to_owned(), serde_json::Value::Null)]
        } else {
            Vec::new()
        };
        Ok(StockRecords {
            items: d,
            requests: 1,
            state,
        })
    }

    /// The stored floors of the plan ending at `plan_end`.
    pub(super) async fn windowed_floors(
        &self,
        plan_end: DateTime<Utc>,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, SyncError> {
        Ok(self
            .read_state::<Windowed>(WINDOWED_KEY)
            .await?
            .unwrap_or_default()
            .for_plan(plan_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn snapshot(c: &str) -> PlannedJob {
        PlannedJob {
            collection: c.into(),
            kind: JobKind::Snapshot,
            window_start: t("2024-11-01T00:00:00Z"),
            window_end: t("2026-11-01T00:00:00Z"),
        }
    }

    #[test]
    fn windowed_collections_get_their_windows_right_after_their_snapshot() {
        let planned = vec![
            snapshot("facility"),
            snapshot("product"),
            snapshot("inventoryitem"),
        ];
        assert_eq!(
            expand_windowed(planned.clone(), &BTreeMap::new(), Duration::days(30)),
            planned
        );
        let mut floors = BTreeMap::new();
        floors.insert("product".to_owned(), t("2020-01-01T00:00:00Z"));
        let got = expand_windowed(planned.clone(), &floors, Duration::days(30));
        assert_eq!(got[0], planned[0]);
        assert_eq!(got[1], planned[1]);
        assert_eq!(got.last(), planned.last());
        let windows = &got[2..got.len() - 1];
        assert!(
            windows
                .iter()
                .all(|j| j.collection == "product" && j.kind == JobKind::Window)
        );
        assert_eq!(windows[0].window_start, t("2020-01-01T00:00:00Z"));
        assert_eq!(
            windows.last().map(|w| w.window_end),
            Some(planned[1].window_end)
        );
        for pair in windows.windows(2) {
            assert_eq!(pair[0].window_end, pair[1].window_start, "contiguous");
        }
        assert!(
            windows
                .iter()
                .all(|w| w.window_end - w.window_start <= Duration::days(30))
        );
        // Same floors, same plan (a resumed run).
        assert_eq!(got, expand_windowed(planned, &floors, Duration::days(30)));
    }

    #[test]
    fn stock_read_cost_on_the_large_account() {
        // `large`: 50,000 products, 127,224 stock rows, 2 products over 1,000 rows (3 pages).
        let large = stock_read_cost(50_000, 127_224, 3, 120_000);
        assert_eq!(
            large,
            StockReadCost {
                collection_reads: 1,
                graphql_pages: 103,
                via_graphql: true
            }
        );
        let medium = stock_read_cost(5_000, 12_600, 0, 120_000);
        assert_eq!(medium.graphql_pages, 0);
        assert!(!medium.via_graphql);
        assert_eq!(stock_read_cost(200, 500, 2, 300).graphql_pages, 3);
    }

    #[test]
    fn floors_belong_to_one_plan() {
        let mut w = Windowed {
            plan_end: Some(t("2026-11-01T00:00:00Z")),
            ..Windowed::default()
        };
        w.floors.insert("product".into(), t("2020-01-01T00:00:00Z"));
        assert_eq!(w.clone().for_plan(t("2026-11-01T00:00:00Z")).len(), 1);
        assert!(w.for_plan(t("2026-12-01T00:00:00Z")).is_empty());
        assert!(parse_naive("2025-03-01T17:02:11").is_some());
        assert!(parse_naive("garbage").is_none());
    }
}
