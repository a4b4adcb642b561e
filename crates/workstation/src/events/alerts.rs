//! The alert state (`event_alerts`): at most one active alert per product, raised on the
//! product total's crossing into `low`/`out`, resolved when it is `ok` again (rules in the
//! parent module's docs). Acknowledge and snooze are the app's hooks.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use store::sqlite::{from_millis, to_millis};

use super::model::{Alert, Level};
use crate::CacheError;

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> CacheError {
    CacheError::sqlite(what)
}

/// A product total's evaluation, as the alert rules need it.
pub(super) struct AlertInput<'a> {
    pub product_url: &'a str,
    pub sku: &'a str,
    pub name: Option<&'a str>,
    pub inactive: bool,
    /// The level before, `None` at first sight (and in a baseline): never raises.
    pub previous: Option<Level>,
    pub level: Level,
    pub on_hand: f64,
    pub available: f64,
    pub reorder_point: Option<f64>,
}

const COLUMNS: &str = "id, product_url, sku, name, level, on_hand, available, reorder_point,
                       raised_at, updated_at, acknowledged_at, snoozed_until";

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    let level: String = r.get(4)?;
    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<i64>>(i)?.and_then(from_millis))
    };
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("event_alerts: {what}").into(),
        )
    };
    Ok(Alert {
        id: r.get(0)?,
        product_url: r.get(1)?,
        sku: r.get(2)?,
        name: r.get(3)?,
        level: Level::parse(&level).ok_or_else(|| bad(4, "unknown level"))?,
        on_hand: r.get(5)?,
        available: r.get(6)?,
        reorder_point: r.get(7)?,
        raised_at: time(8)?.ok_or_else(|| bad(8, "bad raised_at"))?,
        updated_at: time(9)?.ok_or_else(|| bad(9, "bad updated_at"))?,
        acknowledged_at: time(10)?,
        snoozed_until: time(11)?,
        escalated: false,
    })
}

fn active_of(conn: &Connection, product: &str) -> Result<Option<Alert>, CacheError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM event_alerts WHERE product_url = ?1 AND resolved_at IS NULL"
    ))
    .and_then(|mut s| s.query_row([product], alert_row).optional())
    .map_err(q("read a product's active alert"))
}

/// Applies the alert rules to a product total's evaluation; returns the alert when it is
/// raised (new) or escalated (and not snoozed), for the grouped event.
pub(super) fn on_total(
    conn: &Connection,
    i: &AlertInput<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Alert>, CacheError> {
    let now_ms = to_millis(now);
    let crossed = i.previous.is_some_and(|p| p < i.level);
    match (i.level, active_of(conn, i.product_url)?) {
        (Level::Ok, None) => Ok(None),
        (Level::Ok, Some(_)) => {
            resolve(conn, i.product_url, Some(i), now_ms)?;
            Ok(None)
        }
        (level, None) => {
            if !crossed || i.inactive {
                return Ok(None);
            }
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO event_alerts (product_url, sku, name, level, on_hand, available,
                            reorder_point, raised_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            i.product_url,
                            i.sku,
                            i.name,
                            level.as_str(),
                            i.on_hand,
                            i.available,
                            i.reorder_point,
                            now_ms
                        ],
                        |r| r.get(0),
                    )
                })
                .map_err(q("raise an alert"))?;
            Ok(Some(Alert {
                id,
                product_url: i.product_url.to_owned(),
                sku: i.sku.to_owned(),
                name: i.name.map(str::to_owned),
                level,
                on_hand: i.on_hand,
                available: i.available,
                reorder_point: i.reorder_point,
                raised_at: now,
                updated_at: now,
                acknowledged_at: None,
                snoozed_until: None,
                escalated: false,
            }))
        }
        (level, Some(mut a)) => {
            let escalate = crossed && a.level == Level::Low && level == Level::Out;
            let unchanged = a.level == level
                && a.on_hand == i.on_hand
                && a.available == i.available
                && a.reorder_point == i.reorder_point
                && a.sku == i.sku;
            if unchanged {
                return Ok(None);
            }
            conn.prepare_cached(
                "UPDATE event_alerts SET level = ?2, on_hand = ?3, available = ?4,
                        reorder_point = ?5, sku = ?6, name = ?7, updated_at = ?8,
                        acknowledged_at = CASE WHEN ?9 THEN NULL ELSE acknowledged_at END
                  WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.id,
                    level.as_str(),
                    i.on_hand,
                    i.available,
                    i.reorder_point,
                    i.sku,
                    i.name,
                    now_ms,
                    escalate
                ])
            })
            .map_err(q("update an alert"))?;
            let snoozed = a.snoozed_until.is_some_and(|t| t > now);
            if !escalate || snoozed {
                return Ok(None);
            }
            a.level = level;
            a.on_hand = i.on_hand;
            a.available = i.available;
            a.reorder_point = i.reorder_point;
            a.updated_at = now;
            a.acknowledged_at = None;
            a.escalated = true;
            Ok(Some(a))
        }
    }
}

/// Resolves a product's active alert (with its last quantities when known).
pub(super) fn resolve(
    conn: &Connection,
    product: &str,
    last: Option<&AlertInput<'_>>,
    now_ms: i64,
) -> Result<(), CacheError> {
    conn.prepare_cached(
        "UPDATE event_alerts SET resolved_at = max(?2, raised_at), updated_at = ?2,
                on_hand = coalesce(?3, on_hand), available = coalesce(?4, available)
          WHERE product_url = ?1 AND resolved_at IS NULL",
    )
    .and_then(|mut s| {
        s.execute(params![
            product,
            now_ms,
            last.map(|i| i.on_hand),
            last.map(|i| i.available)
        ])
    })
    .map_err(q("resolve an alert"))?;
    Ok(())
}

/// The active (unresolved) alerts, worst first (`out` before `low`), then by SKU. Includes
/// acknowledged and snoozed ones: the caller decides how to show them.
pub fn active_alerts(conn: &Connection) -> Result<Vec<Alert>, CacheError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM event_alerts WHERE resolved_at IS NULL
          ORDER BY CASE level WHEN 'out' THEN 0 ELSE 1 END, sku, product_url"
    ))
    .and_then(|mut s| s.query_map([], alert_row)?.collect())
    .map_err(q("list the active alerts"))
}

/// One alert by id, resolved or not (`None` when there is no such alert).
pub fn alert(conn: &Connection, id: i64) -> Result<Option<Alert>, CacheError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM event_alerts WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], alert_row).optional())
        .map_err(q("read an alert"))
}

/// Marks an active alert as seen by a user at `now`. It stays active until the item
/// recovers; an escalation to `out` clears the acknowledgement. Fails with
/// [`CacheError::NotFound`] when no active alert has this id.
pub fn acknowledge(conn: &Connection, id: i64, now: DateTime<Utc>) -> Result<(), CacheError> {
    let n = conn
        .prepare_cached(
            "UPDATE event_alerts SET acknowledged_at = ?2 WHERE id = ?1 AND resolved_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![id, to_millis(now)]))
        .map_err(q("acknowledge an alert"))?;
    if n == 0 {
        return Err(CacheError::NotFound(format!("active alert {id}")));
    }
    Ok(())
}

/// Snoozes an active alert until `until` (`None` un-snoozes): its escalation is not raised
/// again before then. Fails with [`CacheError::NotFound`] when no active alert has this id.
pub fn snooze(conn: &Connection, id: i64, until: Option<DateTime<Utc>>) -> Result<(), CacheError> {
    let n = conn
        .prepare_cached(
            "UPDATE event_alerts SET snoozed_until = ?2 WHERE id = ?1 AND resolved_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![id, until.map(to_millis)]))
        .map_err(q("snooze an alert"))?;
    if n == 0 {
        return Err(CacheError::NotFound(format!("active alert {id}")));
    }
    Ok(())
}
