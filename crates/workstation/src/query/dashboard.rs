//! Dashboard figures: items by state, stock value, and sync health from `sync_runs`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{sql, time};
use crate::CacheError;

/// How many recent runs of a strategy its success rate covers.
pub const RECENT_RUNS: u32 = 20;

/// The strategies, in the order the dashboard lists them.
const STRATEGIES: [&str; 4] = ["full", "smart", "critical", "stock"];

/// Items by state (see the definitions in [`crate::query`]). `inactive + out_of_stock +
/// below_reorder + ok = total`; `at_reorder` and `critical` are flags that overlap the states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StateCounts {
    /// Every item.
    pub total: u64,
    /// Inactive items.
    pub inactive: u64,
    /// Out of stock.
    pub out_of_stock: u64,
    /// At or below a reorder point, not out of stock.
    pub below_reorder: u64,
    /// Active, in stock, above every reorder point.
    pub ok: u64,
    /// At or below a reorder point (out-of-stock ones included).
    pub at_reorder: u64,
    /// Critical.
    pub critical: u64,
}

/// The health of one sync strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StrategyHealth {
    /// `full`, `smart`, `critical` or `stock`.
    pub strategy: String,
    /// When its last run started (`None`: it never ran here).
    pub last_started_at: Option<DateTime<Utc>>,
    /// When its last run finished (`None` while it runs).
    pub last_finished_at: Option<DateTime<Utc>>,
    /// The last run is still open.
    pub running: bool,
    /// Whether the last finished run succeeded.
    pub last_success: Option<bool>,
    /// The last finished run's duration.
    pub last_duration_ms: Option<i64>,
    /// When its last successful run finished.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Finished runs among the last [`crate::query::RECENT_RUNS`].
    pub recent_runs: u32,
    /// Of which succeeded.
    pub recent_succeeded: u32,
    /// `recent_succeeded / recent_runs`, `None` without finished runs.
    pub success_rate: Option<f64>,
    /// The most recent failure's message (its notes, else its most frequent error pattern).
    pub last_error: Option<String>,
    /// When that failed run started.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Dashboard {
    /// Items by state.
    pub items: StateCounts,
    /// On hand × cost over every item (negative on hand counts as 0, unknown cost as 0).
    pub stock_value: f64,
    /// One entry per strategy.
    pub sync: Vec<StrategyHealth>,
    /// When the newest successful run finished: how fresh the data is.
    pub data_as_of: Option<DateTime<Utc>>,
}

/// Reads the dashboard: the item counts and stock value from the `query_counts` row that
/// triggers keep (migration `V20261205060000__item_flags.sql`; a single-row read), the sync
/// health from the recent runs of each strategy.
pub fn dashboard(conn: &Connection) -> Result<Dashboard, CacheError> {
    let (items, stock_value) = conn
        .prepare_cached(
            "SELECT total, inactive, out_of_stock, below_reorder, at_reorder, critical,
                    stock_value
               FROM query_counts WHERE id = 1",
        )
        .and_then(|mut s| {
            s.query_row([], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|n| n.max(0) as u64);
                Ok((
                    counts(n(0)?, n(1)?, n(2)?, n(3)?, n(4)?, n(5)?),
                    r.get::<_, f64>(6)?,
                ))
            })
        })
        .map_err(CacheError::sqlite("read the item counts"))?;
    // A running sum: shown to the cent, so that rounding drift never shows as a fraction.
    let stock_value = (stock_value * 100.0).round() / 100.0;
    with_sync_health(conn, items, stock_value)
}

/// The counts from their parts (`ok` is what remains).
fn counts(
    total: u64,
    inactive: u64,
    out_of_stock: u64,
    below_reorder: u64,
    at_reorder: u64,
    critical: u64,
) -> StateCounts {
    StateCounts {
        total,
        inactive,
        out_of_stock,
        below_reorder,
        ok: total.saturating_sub(inactive + out_of_stock + below_reorder),
        at_reorder,
        critical,
    }
}

/// Counts the items and their stock value from the source rows, one pass over every item
/// (tens of milliseconds at 100k items): what the `query_counts` row must always equal. For
/// tests and consistency checks; [`dashboard()`] reads the kept counters.
pub fn recount(conn: &Connection) -> Result<(StateCounts, f64), CacheError> {
    let q = |what: &'static str| CacheError::sqlite(what);
    let count = |sql: &str, what: &'static str| -> Result<u64, CacheError> {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
            .map_err(q(what))
    };
    let (total, inactive, stock_value): (i64, i64, f64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(status = 'PRODUCT_INACTIVE'), 0),
                    total(max(stock, 0.0) * coalesce(cost, 0.0))
               FROM inventory_items",
        )
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(q("count the items"))?;
    let out_of_stock = count(
        &format!(
            "SELECT count(*) FROM inventory_items ii WHERE {} AND {}",
            sql::OUT_OF_STOCK,
            sql::ACTIVE
        ),
        "count the items out of stock",
    )?;
    // One pass over the items at a reorder point: all of them, those not out of stock, and
    // those of them running out within their lead time (CASE: the lead time is looked up only
    // where it matters).
    let (at_reorder, below_reorder, late): (i64, i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT count(*), coalesce(sum(ii.available > 0), 0),
                    coalesce(sum(CASE WHEN ii.available > 0 AND ii.days_of_stock IS NOT NULL
                                      THEN ii.days_of_stock < (SELECT {lead} FROM products p
                                                                WHERE p.url = ii.finale_id)
                                      ELSE 0 END), 0)
               FROM (SELECT DISTINCT product_url FROM query_reorder_levels
                      WHERE at_reorder = 1) l
               JOIN inventory_items ii ON ii.finale_id = l.product_url
              WHERE {active}",
            lead = sql::LEAD_TIME,
            active = sql::ACTIVE,
        ))
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(q("count the items at reorder point"))?;
    let n = |v: i64| v.max(0) as u64;
    Ok((
        counts(
            n(total),
            n(inactive),
            out_of_stock,
            n(below_reorder),
            n(at_reorder),
            out_of_stock + n(late),
        ),
        stock_value,
    ))
}

/// The dashboard of these item figures, with the sync health read from `sync_runs`.
fn with_sync_health(
    conn: &Connection,
    items: StateCounts,
    stock_value: f64,
) -> Result<Dashboard, CacheError> {
    let q = |what: &'static str| CacheError::sqlite(what);
    let mut sync = Vec::new();
    let mut data_as_of: Option<i64> = None;
    for strategy in STRATEGIES {
        type Run = (
            i64,
            Option<i64>,
            Option<i64>,
            Option<bool>,
            String,
            Option<String>,
        );
        let runs: Vec<Run> = conn
            .prepare_cached(
                "SELECT started_at, finished_at, duration_ms, success, error_patterns, notes
                   FROM sync_runs WHERE strategy = ?1
                  ORDER BY started_at DESC, id DESC LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(rusqlite::params![strategy, RECENT_RUNS], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect()
            })
            .map_err(q("read the sync runs"))?;
        let last_success_at: Option<i64> = conn
            .prepare_cached(
                "SELECT finished_at FROM sync_runs WHERE strategy = ?1 AND success = 1
                  ORDER BY started_at DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([strategy], |r| r.get(0)).optional())
            .map_err(q("read the last successful run"))?
            .flatten();
        if let Some(t) = last_success_at {
            data_as_of = Some(data_as_of.map_or(t, |d| d.max(t)));
        }
        let last = runs.first();
        let last_finished = runs.iter().find(|r| r.1.is_some());
        let finished: Vec<&Run> = runs.iter().filter(|r| r.3.is_some()).collect();
        let succeeded = finished.iter().filter(|r| r.3 == Some(true)).count() as u32;
        let failed = runs.iter().find(|r| r.3 == Some(false));
        sync.push(StrategyHealth {
            strategy: strategy.to_owned(),
            last_started_at: last.and_then(|r| time(Some(r.0))),
            last_finished_at: last.and_then(|r| time(r.1)),
            running: last.is_some_and(|r| r.1.is_none()),
            last_success: last_finished.and_then(|r| r.3),
            last_duration_ms: last_finished.and_then(|r| r.2),
            last_success_at: time(last_success_at),
            recent_runs: finished.len() as u32,
            recent_succeeded: succeeded,
            success_rate: (!finished.is_empty())
                .then(|| f64::from(succeeded) / finished.len() as f64),
            last_error: failed.map(|r| error_message(&r.4, r.5.as_deref())),
            last_error_at: failed.and_then(|r| time(Some(r.0))),
        });
    }
    Ok(Dashboard {
        items,
        stock_value,
        sync,
        data_as_of: time(data_as_of),
    })
}

/// A failed run's message: its notes, else its most frequent error pattern, else a default.
fn error_message(patterns: &str, notes: Option<&str>) -> String {
    if let Some(n) = notes.filter(|n| !n.trim().is_empty()) {
        return n.to_owned();
    }
    let parsed: Vec<(String, u64)> = serde_json::from_str(patterns).unwrap_or_default();
    parsed
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(p, n)| format!("{p} (×{n})"))
        .unwrap_or_else(|| "failed (no error recorded)".into())
}

/// The dashboard of a long-lived reader connection, computed again only when the store has
/// changed: SQLite's `PRAGMA data_version` moves whenever *another* connection commits, so
/// an app polling the figures every second reads them (the counters and the recent runs of
/// each strategy, well under a millisecond) once per change, not once per poll. For reader
/// connections only: a commit on the same connection does not move `data_version`.
#[derive(Debug, Default)]
pub struct DashboardCache {
    version: Option<i64>,
    figures: Option<Dashboard>,
}

impl DashboardCache {
    /// A cache that holds nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The figures: remembered ones while `data_version` has not moved, else fresh ones.
    pub fn get(&mut self, conn: &Connection) -> Result<Dashboard, CacheError> {
        let version: i64 = conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(CacheError::sqlite("read the store's data version"))?;
        if self.version == Some(version)
            && let Some(f) = &self.figures
        {
            return Ok(f.clone());
        }
        let figures = dashboard(conn)?;
        self.version = Some(version);
        self.figures = Some(figures.clone());
        Ok(figures)
    }
}
