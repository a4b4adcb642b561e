//! The deriver: journal keys → current values → comparison with the level state → events,
//! state and alerts (model in the parent module's docs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use store::derive::{GuidelineAt, StockAt, guideline_totals, location_levels};
use store::sqlite::{from_millis, to_millis};

use super::alerts::{self, AlertInput};
use super::log::{append, prune};
use super::model::{
    Alert, AlertGroup, Change, Envelope, Event, Level, LevelChange, OrderLine, PriceChange,
    Quantities, SalesOrder, StockChange, SyncFinished, SyncStarted,
};
use crate::CacheError;

/// A journal naming at least this many products (or facilities) while the level state is
/// empty is a first fill: [`derive()`] baselines instead (see the parent module's docs).
pub const BASELINE_MIN_KEYS: usize = 1_000;

/// A new sales order is reported when its `order_date` is at most this old at derivation
/// time (the triggers journal orders dated within 7 days of SQLite's clock; this narrows it
/// with the deriver's clock).
pub const NEW_ORDER_MAX_AGE: Duration = Duration::from_secs(48 * 3600);

/// The location key of the item's total in `event_levels`.
const TOTAL: &str = "";

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> CacheError {
    CacheError::sqlite(what)
}

/// Consumes the change journal in the caller's write transaction, updates the level state
/// and the alerts, appends the events to the log (`cache_events`) and returns them, in log
/// order. Nothing is visible to others before the caller commits; a rollback leaves the
/// journal as it was, so the changes are derived again later. `now` stamps the events and
/// the alerts, and bounds the age of new sales orders.
pub fn derive(tx: &Transaction<'_>, now: DateTime<Utc>) -> Result<Vec<Event>, CacheError> {
    Ok(derive_logged(tx, now)?
        .into_iter()
        .map(|e| e.event)
        .collect())
}

/// [`derive()`], returning the events with their log `seq` (for a caller that publishes them
/// itself after commit: [`super::Bus::publish`] drops the copies a tail reads again).
pub fn derive_logged(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<Envelope>, CacheError> {
    let journal = take_journal(tx)?;
    if journal.is_empty() {
        return Ok(Vec::new());
    }
    // The store keeps milliseconds: stamp everything with what a reader will read back.
    let now = from_millis(to_millis(now)).unwrap_or(now);
    let mut items = BTreeSet::new();
    let mut facilities = BTreeSet::new();
    let mut prices = Vec::new();
    let mut orders = Vec::new();
    let mut run_starts = Vec::new();
    let mut run_ends = Vec::new();
    for j in journal {
        match j.kind.as_str() {
            "item" => {
                items.insert(j.key);
            }
            "facility" => {
                facilities.insert(j.key);
            }
            "price" => prices.push((j.key, j.old_cost, j.old_list_price)),
            "order" => orders.push(j.key),
            "run_start" => run_starts.extend(j.key.parse::<i64>().ok()),
            "run_end" => run_ends.extend(j.key.parse::<i64>().ok()),
            other => tracing::warn!("event journal: unknown kind {other:?} ignored"),
        }
    }
    run_starts.sort_unstable();
    run_ends.sort_unstable();

    let mut events = Vec::new();
    for id in run_starts {
        events.extend(run_started(tx, id)?.map(Event::SyncStarted));
    }
    let first_fill = items.len() + facilities.len() >= BASELINE_MIN_KEYS && state_is_empty(tx)?;
    if first_fill {
        let n = baseline_levels(tx, now)?;
        tracing::info!("events: first fill of {n} products recorded silently (baseline)");
    } else {
        for f in &facilities {
            items.extend(products_at_facility(tx, f)?);
        }
        let mut cx = Cx {
            conn: tx,
            now,
            names: HashMap::new(),
            raised: Vec::new(),
        };
        for p in &items {
            evaluate(&mut cx, p, &mut events)?;
        }
        for (url, cost, list_price) in prices {
            events.extend(price_change(tx, &url, cost, list_price)?.map(Event::PriceChanged));
        }
        let mut new_orders = Vec::new();
        for url in orders {
            new_orders.extend(sales_order(tx, &url, now)?);
        }
        new_orders.sort_by(|a, b| (a.order_date, &a.order_url).cmp(&(b.order_date, &b.order_url)));
        events.extend(new_orders.into_iter().map(Event::NewSalesOrder));
        let mut raised = cx.raised;
        if !raised.is_empty() {
            raised.sort_by(|a, b| (&a.sku, &a.product_url).cmp(&(&b.sku, &b.product_url)));
            events.push(Event::Alert(AlertGroup { alerts: raised }));
        }
    }
    for id in run_ends {
        events.extend(run_finished(tx, id)?.map(Event::SyncFinished));
    }
    let logged = append(tx, events, now)?;
    if !logged.is_empty() {
        prune(tx, now)?;
    }
    Ok(logged)
}

/// Records every product's current levels as the known state, silently (no event, no new
/// alert), and clears the journal: for the mirror after a fresh hydration, and for
/// [`derive()`] on a first fill. Products without any stock row are left unrecorded (first
/// seen with their first stock row). Alerts of products now `ok`, unstocked or gone are
/// resolved; active alerts of products still low or out are kept (updated). Returns the
/// products recorded.
pub fn baseline(tx: &Transaction<'_>, now: DateTime<Utc>) -> Result<u64, CacheError> {
    take_journal(tx)?;
    let now = from_millis(to_millis(now)).unwrap_or(now);
    baseline_levels(tx, now)
}

// ---------------------------------------------------------------------------------------------
// The journal

struct JournalEntry {
    kind: String,
    key: String,
    old_cost: Option<f64>,
    old_list_price: Option<f64>,
}

/// Reads and empties the journal.
fn take_journal(conn: &Connection) -> Result<Vec<JournalEntry>, CacheError> {
    let rows = conn
        .prepare_cached(
            "SELECT kind, key, old_cost, old_list_price FROM event_journal ORDER BY kind, key",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(JournalEntry {
                    kind: r.get(0)?,
                    key: r.get(1)?,
                    old_cost: r.get(2)?,
                    old_list_price: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(q("read the event journal"))?;
    if !rows.is_empty() {
        conn.execute("DELETE FROM event_journal", [])
            .map_err(q("clear the event journal"))?;
    }
    Ok(rows)
}

fn state_is_empty(conn: &Connection) -> Result<bool, CacheError> {
    conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM event_levels)", [], |r| {
        r.get(0)
    })
    .map_err(q("look at the level state"))
}

fn products_at_facility(conn: &Connection, facility: &str) -> Result<Vec<String>, CacheError> {
    conn.prepare_cached(
        "SELECT product_url FROM stock WHERE facility_url = ?1
         UNION SELECT product_url FROM reorder_guidelines WHERE facility_url = ?1
         UNION SELECT product_url FROM event_levels WHERE location_url = ?1",
    )
    .and_then(|mut s| s.query_map([facility], |r| r.get(0))?.collect())
    .map_err(q("find the products of a facility"))
}

// ---------------------------------------------------------------------------------------------
// Current values of a product

/// One scope's current values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Current {
    q: Quantities,
    reorder_point: Option<f64>,
}

/// A product's scopes (location URL, or [`TOTAL`]) and their current values, from its stock
/// rows (in facility order), guidelines (in position order) and item row's reorder point
/// (`None` when it has no `inventory_items` row).
fn scopes(
    stock: &[StockAt],
    guidelines: &[GuidelineAt],
    item_reorder_point: Option<Option<f64>>,
) -> BTreeMap<String, Current> {
    let mut out = BTreeMap::new();
    for l in location_levels(stock, guidelines) {
        if let Some(loc) = &l.location_url {
            out.insert(
                loc.clone(),
                Current {
                    q: Quantities {
                        on_hand: l.on_hand,
                        available: l.available(),
                    },
                    reorder_point: l.reorder_point,
                },
            );
        }
    }
    let (mut on_hand, mut reserved) = (0.0, 0.0);
    for s in stock {
        on_hand += s.on_hand;
        reserved += s.reserved;
    }
    let reorder_point = match item_reorder_point {
        Some(rp) => rp,
        None => guideline_totals(guidelines).0,
    };
    out.insert(
        TOTAL.to_owned(),
        Current {
            q: Quantities {
                on_hand,
                available: on_hand - reserved,
            },
            reorder_point,
        },
    );
    out
}

fn stock_of(conn: &Connection, product: &str) -> Result<Vec<StockAt>, CacheError> {
    conn.prepare_cached(
        "SELECT s.facility_url, f.parent_url, s.on_hand, s.reserved
           FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
          WHERE s.product_url = ?1 ORDER BY s.facility_url",
    )
    .and_then(|mut s| {
        s.query_map([product], |r| {
            Ok(StockAt {
                facility_url: r.get(0)?,
                parent_url: r.get(1)?,
                on_hand: r.get(2)?,
                reserved: r.get(3)?,
            })
        })?
        .collect()
    })
    .map_err(q("read a product's stock"))
}

fn guidelines_of(conn: &Connection, product: &str) -> Result<Vec<GuidelineAt>, CacheError> {
    conn.prepare_cached(
        "SELECT g.facility_url, f.parent_url, g.reorder_point, g.reorder_qty, g.calculation_method
           FROM reorder_guidelines g LEFT JOIN facilities f ON f.url = g.facility_url
          WHERE g.product_url = ?1 ORDER BY g.seq",
    )
    .and_then(|mut s| s.query_map([product], guideline_row)?.collect())
    .map_err(q("read a product's reorder guidelines"))
}

fn guideline_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GuidelineAt> {
    Ok(GuidelineAt {
        facility_url: r.get(0)?,
        parent_url: r.get(1)?,
        reorder_point: r.get(2)?,
        reorder_qty: r.get(3)?,
        calculation_method: r.get(4)?,
    })
}

fn item_reorder_point(conn: &Connection, product: &str) -> Result<Option<Option<f64>>, CacheError> {
    conn.prepare_cached("SELECT reorder_point FROM inventory_items WHERE finale_id = ?1")
        .and_then(|mut s| s.query_row([product], |r| r.get(0)).optional())
        .map_err(q("read an item's reorder point"))
}

/// A product's identity as events name it.
struct Product {
    sku: String,
    name: Option<String>,
    inactive: bool,
}

fn product(conn: &Connection, url: &str) -> Result<Option<Product>, CacheError> {
    conn.prepare_cached("SELECT sku, name, status FROM products WHERE url = ?1")
        .and_then(|mut s| {
            s.query_row([url], |r| {
                let status: Option<String> = r.get(2)?;
                Ok(Product {
                    sku: r.get(0)?,
                    name: r.get(1)?,
                    inactive: status.as_deref() == Some("PRODUCT_INACTIVE"),
                })
            })
            .optional()
        })
        .map_err(q("read a product"))
}

// ---------------------------------------------------------------------------------------------
// The level state

#[derive(Debug, Clone, Copy)]
struct Stored {
    q: Quantities,
    reorder_point: Option<f64>,
    level: Level,
}

fn stored_levels(conn: &Connection, product: &str) -> Result<HashMap<String, Stored>, CacheError> {
    let rows: Vec<(String, f64, f64, Option<f64>, String)> = conn
        .prepare_cached(
            "SELECT location_url, on_hand, available, reorder_point, level
               FROM event_levels WHERE product_url = ?1",
        )
        .and_then(|mut s| {
            s.query_map([product], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(q("read a product's level state"))?;
    rows.into_iter()
        .map(|(loc, on_hand, available, reorder_point, level)| {
            let level = Level::parse(&level).ok_or_else(|| {
                CacheError::InvalidInput(format!("event_levels.level {level:?} is unknown"))
            })?;
            Ok((
                loc,
                Stored {
                    q: Quantities { on_hand, available },
                    reorder_point,
                    level,
                },
            ))
        })
        .collect()
}

fn write_level(
    conn: &Connection,
    product: &str,
    location: &str,
    cur: &Current,
    level: Level,
    now: i64,
) -> Result<(), CacheError> {
    conn.prepare_cached(
        "INSERT INTO event_levels (product_url, location_url, on_hand, available, reorder_point,
                level, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (product_url, location_url) DO UPDATE SET on_hand = excluded.on_hand,
                available = excluded.available, reorder_point = excluded.reorder_point,
                level = excluded.level, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            product,
            location,
            cur.q.on_hand,
            cur.q.available,
            cur.reorder_point,
            level.as_str(),
            now
        ])
    })
    .map_err(q("write the level state"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Evaluating one product

/// What one derivation carries across products.
struct Cx<'c> {
    conn: &'c Connection,
    now: DateTime<Utc>,
    /// Facility names already looked up.
    names: HashMap<String, Option<String>>,
    /// Alerts raised or escalated so far.
    raised: Vec<Alert>,
}

impl Cx<'_> {
    fn location_name(&mut self, url: &str) -> Result<Option<String>, CacheError> {
        if let Some(n) = self.names.get(url) {
            return Ok(n.clone());
        }
        let name: Option<String> = self
            .conn
            .prepare_cached("SELECT name FROM facilities WHERE url = ?1")
            .and_then(|mut s| s.query_row([url], |r| r.get(0)).optional())
            .map_err(q("read a facility's name"))?
            .flatten();
        self.names.insert(url.to_owned(), name.clone());
        Ok(name)
    }
}

/// Recomputes one product's scopes, compares them with the state, emits its events and
/// keeps its state and alert.
fn evaluate(cx: &mut Cx<'_>, url: &str, events: &mut Vec<Event>) -> Result<(), CacheError> {
    let conn = cx.conn;
    let now_ms = to_millis(cx.now);
    let Some(prod) = product(conn, url)? else {
        // Gone from the store: forget it, and close its alert without a word.
        conn.prepare_cached("DELETE FROM event_levels WHERE product_url = ?1")
            .and_then(|mut s| s.execute([url]))
            .map_err(q("drop a deleted product's level state"))?;
        alerts::resolve(conn, url, None, now_ms)?;
        return Ok(());
    };
    let stock = stock_of(conn, url)?;
    let stored = stored_levels(conn, url)?;
    if stock.is_empty() && stored.is_empty() {
        // Not stocked anywhere yet (a new product, or its stock still loading): it is first
        // seen with its first stock row.
        return Ok(());
    }
    let current = scopes(
        &stock,
        &guidelines_of(conn, url)?,
        item_reorder_point(conn, url)?,
    );
    let known = stored.contains_key(TOTAL);
    // Locations the state knows but the product no longer has (every row and guideline
    // gone): nothing is there any more.
    let mut all = current;
    for loc in stored.keys() {
        all.entry(loc.clone()).or_insert(Current {
            q: Quantities {
                on_hand: 0.0,
                available: 0.0,
            },
            reorder_point: None,
        });
    }
    let mut thresholds = Vec::new();
    // Locations first (BTreeMap order, TOTAL = "" is first: skip it here), the total last.
    let order = all
        .keys()
        .filter(|k| !k.is_empty())
        .cloned()
        .chain([TOTAL.to_owned()])
        .collect::<Vec<_>>();
    for loc in order {
        let Some(cur) = all.get(&loc).copied() else {
            continue;
        };
        let level = Level::of(cur.q.available, cur.reorder_point);
        let old = stored.get(&loc).copied();
        let is_total = loc.is_empty();
        let location_url = (!is_total).then(|| loc.clone());
        let location_name = match &location_url {
            Some(l) => cx.location_name(l)?,
            None => None,
        };
        match old {
            None => {
                let zero = Quantities {
                    on_hand: 0.0,
                    available: 0.0,
                };
                if known && !is_total && cur.q != zero {
                    events.push(Event::StockChanged(StockChange {
                        product_url: url.to_owned(),
                        sku: prod.sku.clone(),
                        location_url: loc.clone(),
                        location_name: location_name.clone(),
                        before: zero,
                        after: cur.q,
                    }));
                }
                write_level(conn, url, &loc, &cur, level, now_ms)?;
            }
            Some(old) => {
                if !is_total && old.q != cur.q {
                    events.push(Event::StockChanged(StockChange {
                        product_url: url.to_owned(),
                        sku: prod.sku.clone(),
                        location_url: loc.clone(),
                        location_name: location_name.clone(),
                        before: old.q,
                        after: cur.q,
                    }));
                }
                if old.level != level {
                    let change = LevelChange {
                        product_url: url.to_owned(),
                        sku: prod.sku.clone(),
                        location_url: location_url.clone(),
                        location_name: location_name.clone(),
                        level,
                        previous_level: old.level,
                        on_hand: cur.q.on_hand,
                        available: cur.q.available,
                        reorder_point: cur.reorder_point,
                    };
                    thresholds.push(match (old.level, level) {
                        (_, Level::Out) => Event::StockedOut(change),
                        (Level::Ok, Level::Low) => Event::FellBelowReorderPoint(change),
                        _ => Event::Restocked(change),
                    });
                }
                if old.q != cur.q || old.reorder_point != cur.reorder_point || old.level != level {
                    write_level(conn, url, &loc, &cur, level, now_ms)?;
                }
            }
        }
        if is_total {
            let input = AlertInput {
                product_url: url,
                sku: &prod.sku,
                name: prod.name.as_deref(),
                inactive: prod.inactive,
                previous: old.map(|o| o.level),
                level,
                on_hand: cur.q.on_hand,
                available: cur.q.available,
                reorder_point: cur.reorder_point,
            };
            if let Some(a) = alerts::on_total(conn, &input, cx.now)? {
                cx.raised.push(a);
            }
        }
    }
    events.extend(thresholds);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Baseline

/// Every product's levels written as the state in one pass (three ordered scans, no event).
fn baseline_levels(conn: &Connection, now: DateTime<Utc>) -> Result<u64, CacheError> {
    let now_ms = to_millis(now);
    let products: Vec<(String, String, Option<String>, bool)> = conn
        .prepare("SELECT url, sku, name, status FROM products ORDER BY url")
        .and_then(|mut s| {
            s.query_map([], |r| {
                let status: Option<String> = r.get(3)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    status.as_deref() == Some("PRODUCT_INACTIVE"),
                ))
            })?
            .collect()
        })
        .map_err(q("read the products for a baseline"))?;
    let mut stock: HashMap<String, Vec<StockAt>> = HashMap::new();
    {
        let mut s = conn
            .prepare(
                "SELECT s.product_url, s.facility_url, f.parent_url, s.on_hand, s.reserved
                   FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                  ORDER BY s.product_url, s.facility_url",
            )
            .map_err(q("read the stock for a baseline"))?;
        let mut rows = s.query([]).map_err(q("read the stock for a baseline"))?;
        while let Some(r) = rows.next().map_err(q("read the stock for a baseline"))? {
            let p: String = r.get(0).map_err(q("read the stock for a baseline"))?;
            let at = StockAt {
                facility_url: r.get(1).map_err(q("read the stock for a baseline"))?,
                parent_url: r.get(2).map_err(q("read the stock for a baseline"))?,
                on_hand: r.get(3).map_err(q("read the stock for a baseline"))?,
                reserved: r.get(4).map_err(q("read the stock for a baseline"))?,
            };
            stock.entry(p).or_default().push(at);
        }
    }
    let mut guidelines: HashMap<String, Vec<GuidelineAt>> = HashMap::new();
    {
        let mut s = conn
            .prepare(
                "SELECT g.product_url, g.facility_url, f.parent_url, g.reorder_point,
                        g.reorder_qty, g.calculation_method
                   FROM reorder_guidelines g LEFT JOIN facilities f ON f.url = g.facility_url
                  ORDER BY g.product_url, g.seq",
            )
            .map_err(q("read the guidelines for a baseline"))?;
        let rows: Vec<(String, GuidelineAt)> = s
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    GuidelineAt {
                        facility_url: r.get(1)?,
                        parent_url: r.get(2)?,
                        reorder_point: r.get(3)?,
                        reorder_qty: r.get(4)?,
                        calculation_method: r.get(5)?,
                    },
                ))
            })
            .and_then(|m| m.collect())
            .map_err(q("read the guidelines for a baseline"))?;
        for (p, g) in rows {
            guidelines.entry(p).or_default().push(g);
        }
    }
    let item_points: HashMap<String, Option<f64>> = conn
        .prepare("SELECT finale_id, reorder_point FROM inventory_items WHERE finale_id IS NOT NULL")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(q("read the item reorder points for a baseline"))?;

    conn.execute("DELETE FROM event_levels", [])
        .map_err(q("clear the level state"))?;
    let mut n = 0u64;
    for (url, sku, name, inactive) in &products {
        let Some(stock) = stock.get(url) else {
            // Not stocked anywhere: first seen with its first stock row (as in `evaluate`).
            alerts::resolve(conn, url, None, now_ms)?;
            continue;
        };
        let current = scopes(
            stock,
            guidelines.get(url).map_or(&[][..], Vec::as_slice),
            item_points.get(url).copied(),
        );
        for (loc, cur) in &current {
            let level = Level::of(cur.q.available, cur.reorder_point);
            write_level(conn, url, loc, cur, level, now_ms)?;
        }
        if let Some(total) = current.get(TOTAL) {
            let level = Level::of(total.q.available, total.reorder_point);
            let input = AlertInput {
                product_url: url,
                sku,
                name: name.as_deref(),
                inactive: *inactive,
                // No previous level: a baseline never raises.
                previous: None,
                level,
                on_hand: total.q.on_hand,
                available: total.q.available,
                reorder_point: total.reorder_point,
            };
            alerts::on_total(conn, &input, now)?;
        }
        n += 1;
    }
    // Alerts of products that are gone.
    conn.prepare_cached(
        "UPDATE event_alerts SET resolved_at = max(?1, raised_at), updated_at = ?1
          WHERE resolved_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM products p WHERE p.url = event_alerts.product_url)",
    )
    .and_then(|mut s| s.execute([now_ms]))
    .map_err(q("resolve the alerts of deleted products"))?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Prices, orders, runs

fn price_change(
    conn: &Connection,
    url: &str,
    old_cost: Option<f64>,
    old_list_price: Option<f64>,
) -> Result<Option<PriceChange>, CacheError> {
    let now: Option<(String, Option<f64>, Option<f64>)> = conn
        .prepare_cached("SELECT sku, cost, list_price FROM products WHERE url = ?1")
        .and_then(|mut s| {
            s.query_row([url], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(q("read a product's prices"))?;
    Ok(now.and_then(|(sku, cost, list_price)| {
        (cost != old_cost || list_price != old_list_price).then(|| PriceChange {
            product_url: url.to_owned(),
            sku,
            cost: Change {
                before: old_cost,
                after: cost,
            },
            list_price: Change {
                before: old_list_price,
                after: list_price,
            },
        })
    }))
}

fn sales_order(
    conn: &Connection,
    url: &str,
    now: DateTime<Utc>,
) -> Result<Option<SalesOrder>, CacheError> {
    let max_age = i64::try_from(NEW_ORDER_MAX_AGE.as_millis()).unwrap_or(i64::MAX);
    let since = to_millis(now).saturating_sub(max_age);
    type Head = (
        String,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<f64>,
    );
    let head: Option<Head> = conn
        .prepare_cached(
            "SELECT order_id, status, order_date, party_url, total FROM orders
              WHERE url = ?1 AND order_type = 'SALES_ORDER' AND order_date >= ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![url, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()
        })
        .map_err(q("read a new sales order"))?;
    let Some((order_id, status, date, party_url, total)) = head else {
        return Ok(None);
    };
    let lines = conn
        .prepare_cached(
            "SELECT l.product_url, p.sku, l.quantity
               FROM order_lines l LEFT JOIN products p ON p.url = l.product_url
              WHERE l.order_url = ?1 ORDER BY l.seq",
        )
        .and_then(|mut s| {
            s.query_map([url], |r| {
                Ok(OrderLine {
                    product_url: r.get(0)?,
                    sku: r.get(1)?,
                    quantity: r.get(2)?,
                })
            })?
            .collect()
        })
        .map_err(q("read a new sales order's lines"))?;
    Ok(Some(SalesOrder {
        order_url: url.to_owned(),
        order_id,
        status,
        order_date: date.and_then(from_millis),
        party_url,
        total,
        lines,
    }))
}

fn run_started(conn: &Connection, id: i64) -> Result<Option<SyncStarted>, CacheError> {
    conn.prepare_cached("SELECT strategy, started_at, runner FROM sync_runs WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok(SyncStarted {
                    run_id: id,
                    strategy: r.get(0)?,
                    started_at: r.get::<_, Option<i64>>(1)?.and_then(from_millis),
                    runner: r.get(2)?,
                })
            })
            .optional()
        })
        .map_err(q("read a sync run"))
}

fn run_finished(conn: &Connection, id: i64) -> Result<Option<SyncFinished>, CacheError> {
    conn.prepare_cached(
        "SELECT strategy, started_at, finished_at, success, duration_ms, items_seen,
                items_changed, items_failed, notes
           FROM sync_runs WHERE id = ?1 AND finished_at IS NOT NULL",
    )
    .and_then(|mut s| {
        s.query_row([id], |r| {
            Ok(SyncFinished {
                run_id: id,
                strategy: r.get(0)?,
                started_at: r.get::<_, Option<i64>>(1)?.and_then(from_millis),
                finished_at: r.get::<_, Option<i64>>(2)?.and_then(from_millis),
                success: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
                duration_ms: r.get(4)?,
                items_seen: r.get(5)?,
                items_changed: r.get(6)?,
                items_failed: r.get(7)?,
                notes: r.get(8)?,
            })
        })
        .optional()
    })
    .map_err(q("read a finished sync run"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(facility: &str, parent: Option<&str>, on_hand: f64, reserved: f64) -> StockAt {
        StockAt {
            facility_url: facility.into(),
            parent_url: parent.map(Into::into),
            on_hand,
            reserved,
        }
    }

    #[test]
    fn sublocations_roll_up_and_the_total_uses_the_item_reorder_point() {
        let stock = [
            at("/f/a1", Some("/f/a"), 5.0, 1.0),
            at("/f/a2", Some("/f/a"), 2.0, 0.0),
            at("/f/b", None, 3.0, 3.0),
        ];
        let g = [GuidelineAt {
            facility_url: Some("/f/a1".into()),
            parent_url: Some("/f/a".into()),
            reorder_point: Some(7.0),
            reorder_qty: None,
            calculation_method: None,
        }];
        let s = scopes(&stock, &g, Some(Some(20.0)));
        assert_eq!(s.len(), 3);
        let a = s["/f/a"];
        assert_eq!(
            (a.q.on_hand, a.q.available, a.reorder_point),
            (7.0, 6.0, Some(7.0))
        );
        assert_eq!(Level::of(a.q.available, a.reorder_point), Level::Low);
        let b = s["/f/b"];
        assert_eq!(Level::of(b.q.available, b.reorder_point), Level::Out);
        let t = s[TOTAL];
        assert_eq!(
            (t.q.on_hand, t.q.available, t.reorder_point),
            (10.0, 6.0, Some(20.0))
        );
        // Without an item row, the total's point is the guidelines' sum.
        assert_eq!(scopes(&stock, &g, None)[TOTAL].reorder_point, Some(7.0));
        // An item row without a point means none, even with guidelines.
        assert_eq!(scopes(&stock, &g, Some(None))[TOTAL].reorder_point, None);
    }

    #[test]
    fn levels() {
        assert_eq!(Level::of(0.0, None), Level::Out);
        assert_eq!(Level::of(-2.0, Some(5.0)), Level::Out);
        assert_eq!(Level::of(5.0, Some(5.0)), Level::Low);
        assert_eq!(Level::of(5.5, Some(5.0)), Level::Ok);
        assert_eq!(Level::of(0.5, None), Level::Ok);
    }
}
