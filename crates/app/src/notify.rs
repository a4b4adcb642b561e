//! Desktop notifications: what to show (a pure plan) and who shows it (a [`Notifier`]).
//!
//! # The plan
//!
//! The notifier is one more subscriber of the cache's events. The cache already decides what
//! an alert is (an item's total crossing into `low` or `out`, raised once until it recovers,
//! escalated once from `low` to `out`, grouped per derivation: [`workstation::events`]); the
//! [`Planner`] decides how it looks on the desktop:
//!
//! - **One notification per item, updated in place.** Each item has a stable key
//!   ([`NoticeKey::Item`]); the notifier replaces the item's previous notification (the
//!   D-Bus `replaces_id` of the last one it showed under that key) instead of stacking a
//!   new one. An escalation to `out` replaces the item's `low` notification.
//! - **Urgency.** Stockouts are [`Urgency::Critical`] (they stay until dismissed); items at
//!   their reorder point are [`Urgency::Normal`].
//! - **Nothing repeated until the item recovers.** The planner remembers the level it showed
//!   per item and drops an alert at the same or a lower level (a second subscriber, a
//!   replayed group); a [`Event::Restocked`] of the item's total back to `ok` forgets it, so
//!   its next stockout notifies again.
//! - **Bursts grouped.** A group of more than [`BURST`] new item alerts, or new alerts
//!   arriving while [`BURST`] item notifications were already shown within [`BURST_WINDOW`],
//!   become one summary ([`NoticeKey::Summary`], itself updated in place while the burst
//!   lasts: "42 items need attention: 12 out of stock, 30 at reorder point").
//!
//! # The executor
//!
//! [`run`] subscribes to the app's feed, plans each envelope and hands every [`Notice`] to the
//! [`Notifier`] on Tokio's blocking pool (showing a notification talks D-Bus and blocks).
//! A failing notifier is logged and the app goes on; its [`Notifier::status`] tells the
//! Settings screen why nothing shows.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use workstation::events::{Alert, Envelope, Event, Level};

use crate::types::NotificationStatus;

/// More new item alerts than this at once (or within [`BURST_WINDOW`]) become one summary.
pub const BURST: usize = 3;

/// The window in which item notifications count towards a burst.
pub const BURST_WINDOW: TimeDelta = TimeDelta::seconds(30);

/// How urgent a notification is (the freedesktop urgency hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Items at their reorder point.
    Normal,
    /// Stockouts: stays on screen until dismissed.
    Critical,
}

/// What a notification is about: the notifier keeps one notification per key and replaces
/// it in place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NoticeKey {
    /// One item (its product URL).
    Item(String),
    /// The summary of a burst.
    Summary,
}

/// One notification to show (or to update in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Which notification it replaces.
    pub key: NoticeKey,
    /// The title.
    pub summary: String,
    /// The text.
    pub body: String,
    /// How urgent.
    pub urgency: Urgency,
    /// The SKU its "Open" action opens (`None`: the action only shows the window).
    pub open_sku: Option<String>,
}

/// Decides what to show for each event (see the module docs). Pure: no I/O, time passed in.
#[derive(Debug, Default)]
pub struct Planner {
    /// The level last shown per item (product URL).
    shown: HashMap<String, Level>,
    /// When recent item notifications were shown (for bursts).
    recent: VecDeque<DateTime<Utc>>,
    /// The running summary while a burst lasts: (its last alert, out, low).
    burst: Option<(DateTime<Utc>, usize, usize)>,
}

impl Planner {
    /// A planner that has shown nothing.
    pub fn new() -> Planner {
        Planner::default()
    }

    /// What to show for one event.
    pub fn plan(&mut self, event: &Event, now: DateTime<Utc>) -> Vec<Notice> {
        match event {
            Event::Alert(group) => self.alerts(&group.alerts, now),
            Event::Restocked(c) if c.location_url.is_none() && c.level == Level::Ok => {
                self.shown.remove(&c.product_url);
                Vec::new()
            }
            Event::Restocked(c) if c.location_url.is_none() => {
                // Better but not ok (out → low): it may escalate to `out` again.
                if let Some(l) = self.shown.get_mut(&c.product_url) {
                    *l = (*l).min(c.level);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn alerts(&mut self, alerts: &[Alert], now: DateTime<Utc>) -> Vec<Notice> {
        let fresh: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.level != Level::Ok)
            .filter(|a| self.shown.get(&a.product_url).is_none_or(|l| *l < a.level))
            .collect();
        if fresh.is_empty() {
            return Vec::new();
        }
        for a in &fresh {
            self.shown.insert(a.product_url.clone(), a.level);
        }
        while self.recent.front().is_some_and(|t| now - *t > BURST_WINDOW) {
            self.recent.pop_front();
        }
        if self
            .burst
            .is_some_and(|(last, _, _)| now - last > BURST_WINDOW)
        {
            self.burst = None;
        }
        let in_burst = self.burst.is_some() || self.recent.len() + fresh.len() > BURST;
        if !in_burst {
            return fresh
                .into_iter()
                .map(|a| {
                    self.recent.push_back(now);
                    item_notice(a)
                })
                .collect();
        }
        let (_, mut out, mut low) = self.burst.unwrap_or((now, 0, 0));
        for a in &fresh {
            if a.level == Level::Out {
                out += 1;
            } else {
                low += 1;
            }
        }
        self.burst = Some((now, out, low));
        vec![summary_notice(
            out,
            low,
            fresh.first().map(|a| a.sku.clone()),
        )]
    }
}

fn item_notice(a: &Alert) -> Notice {
    let name = a.name.as_deref().unwrap_or(&a.sku);
    let (summary, urgency) = match a.level {
        Level::Out => (format!("Out of stock: {}", a.sku), Urgency::Critical),
        _ => (format!("Reorder: {}", a.sku), Urgency::Normal),
    };
    let point = a
        .reorder_point
        .map(|p| format!(", reorder point {}", num(p)))
        .unwrap_or_default();
    Notice {
        key: NoticeKey::Item(a.product_url.clone()),
        summary,
        body: format!("{name}: {} available{point}", num(a.available)),
        urgency,
        open_sku: Some(a.sku.clone()),
    }
}

fn summary_notice(out: usize, low: usize, first: Option<String>) -> Notice {
    let n = out + low;
    let mut parts = Vec::new();
    if out > 0 {
        parts.push(format!("{out} out of stock"));
    }
    if low > 0 {
        parts.push(format!("{low} at reorder point"));
    }
    Notice {
        key: NoticeKey::Summary,
        summary: format!("{n} items need attention"),
        body: parts.join(", "),
        urgency: if out > 0 {
            Urgency::Critical
        } else {
            Urgency::Normal
        },
        // A single item opens; a burst opens the window (the alerts screen lists them).
        open_sku: if n == 1 { first } else { None },
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Why a notification could not be shown.
#[derive(Debug, thiserror::Error)]
#[error("notification not shown: {0}")]
pub struct NotifyError(pub String);

/// Shows notifications (the shell's notify-rust one, a recorder in tests).
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Shows `notice`, replacing the notification last shown under its key. Blocking.
    fn show(&self, notice: &Notice) -> Result<(), NotifyError>;
    /// Whether notifications can be shown, for Settings.
    fn status(&self) -> NotificationStatus;
}

/// Shows nothing: no notification service (or notifications switched off).
#[derive(Debug, Clone)]
pub struct NullNotifier {
    /// Why (shown in Settings).
    pub reason: String,
}

impl Notifier for NullNotifier {
    fn show(&self, _notice: &Notice) -> Result<(), NotifyError> {
        Ok(())
    }

    fn status(&self) -> NotificationStatus {
        NotificationStatus {
            available: false,
            message: Some(self.reason.clone()),
        }
    }
}

/// Keeps every notice it is asked to show (tests, and a log of what was shown).
#[derive(Debug, Clone, Default)]
pub struct RecordingNotifier {
    shown: Arc<Mutex<Vec<Notice>>>,
}

impl RecordingNotifier {
    /// What was shown so far.
    pub fn shown(&self) -> Vec<Notice> {
        self.shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Notifier for RecordingNotifier {
    fn show(&self, notice: &Notice) -> Result<(), NotifyError> {
        self.shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(notice.clone());
        Ok(())
    }

    fn status(&self) -> NotificationStatus {
        NotificationStatus {
            available: true,
            message: None,
        }
    }
}

/// The executor: plans every envelope of `feed` and shows the notices, until the feed ends.
pub async fn run(
    mut feed: tokio::sync::broadcast::Receiver<Envelope>,
    notifier: Arc<dyn Notifier>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut planner = Planner::new();
    loop {
        let envelope = match feed.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the notifier fell behind the event feed");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let notices = planner.plan(&envelope.event, Utc::now());
        if notices.is_empty() {
            continue;
        }
        let notifier = notifier.clone();
        let shown = tokio::task::spawn_blocking(move || {
            for n in &notices {
                if let Err(e) = notifier.show(n) {
                    tracing::warn!(%e, "desktop notification");
                }
            }
        })
        .await;
        if let Err(e) = shown {
            tracing::warn!(%e, "the notifier's thread failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use workstation::events::{AlertGroup, LevelChange};

    use super::*;

    fn alert(n: u32, level: Level) -> Alert {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Alert {
            id: i64::from(n),
            product_url: format!("/p/{n}"),
            sku: format!("SKU-{n}"),
            name: Some(format!("Widget {n}")),
            level,
            on_hand: 0.0,
            available: if level == Level::Out { 0.0 } else { 3.0 },
            reorder_point: Some(5.0),
            raised_at: t,
            updated_at: t,
            acknowledged_at: None,
            snoozed_until: None,
            escalated: false,
        }
    }

    fn group(alerts: Vec<Alert>) -> Event {
        Event::Alert(AlertGroup { alerts })
    }

    fn recovered(n: u32, level: Level) -> Event {
        Event::Restocked(LevelChange {
            product_url: format!("/p/{n}"),
            sku: format!("SKU-{n}"),
            location_url: None,
            location_name: None,
            level,
            previous_level: Level::Out,
            on_hand: 10.0,
            available: 10.0,
            reorder_point: Some(5.0),
        })
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_stockout_is_one_critical_notification_keyed_by_its_item() {
        let mut p = Planner::new();
        let n = p.plan(&group(vec![alert(1, Level::Out)]), t(0));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].key, NoticeKey::Item("/p/1".into()));
        assert_eq!(n[0].urgency, Urgency::Critical);
        assert_eq!(n[0].summary, "Out of stock: SKU-1");
        assert_eq!(n[0].body, "Widget 1: 0 available, reorder point 5");
        assert_eq!(n[0].open_sku.as_deref(), Some("SKU-1"));
    }

    #[test]
    fn reorder_alerts_are_normal_and_an_escalation_replaces_them_in_place() {
        let mut p = Planner::new();
        let low = p.plan(&group(vec![alert(1, Level::Low)]), t(0));
        assert_eq!(low[0].urgency, Urgency::Normal);
        let out = p.plan(&group(vec![alert(1, Level::Out)]), t(60));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, low[0].key, "the same notification, updated");
        assert_eq!(out[0].urgency, Urgency::Critical);
    }

    #[test]
    fn nothing_is_repeated_until_the_item_recovers() {
        let mut p = Planner::new();
        assert_eq!(p.plan(&group(vec![alert(1, Level::Out)]), t(0)).len(), 1);
        assert!(
            p.plan(&group(vec![alert(1, Level::Out)]), t(100))
                .is_empty()
        );
        assert!(
            p.plan(&group(vec![alert(1, Level::Low)]), t(200))
                .is_empty()
        );
        // Better but not ok: still no repeat of the same level ...
        assert!(p.plan(&recovered(1, Level::Low), t(250)).is_empty());
        assert!(
            p.plan(&group(vec![alert(1, Level::Low)]), t(260))
                .is_empty()
        );
        // ... but a new stockout after that escalates again.
        assert_eq!(p.plan(&group(vec![alert(1, Level::Out)]), t(270)).len(), 1);
        // Recovered to ok: the next stockout notifies again.
        assert!(p.plan(&recovered(1, Level::Ok), t(300)).is_empty());
        assert_eq!(p.plan(&group(vec![alert(1, Level::Out)]), t(400)).len(), 1);
    }

    #[test]
    fn a_burst_becomes_one_summary() {
        let mut p = Planner::new();
        let mut alerts: Vec<Alert> = (0..30).map(|i| alert(i, Level::Out)).collect();
        alerts.extend((30..40).map(|i| alert(i, Level::Low)));
        let n = p.plan(&group(alerts), t(0));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].key, NoticeKey::Summary);
        assert_eq!(n[0].summary, "40 items need attention");
        assert_eq!(n[0].body, "30 out of stock, 10 at reorder point");
        assert_eq!(n[0].urgency, Urgency::Critical);
        assert_eq!(n[0].open_sku, None);
    }

    #[test]
    fn alerts_trickling_in_fold_into_the_running_summary() {
        let mut p = Planner::new();
        for i in 0..3 {
            let n = p.plan(&group(vec![alert(i, Level::Low)]), t(i64::from(i)));
            assert_eq!(n[0].key, NoticeKey::Item(format!("/p/{i}")));
        }
        let n = p.plan(&group(vec![alert(3, Level::Out)]), t(4));
        assert_eq!(n[0].key, NoticeKey::Summary);
        assert_eq!(n[0].body, "1 out of stock");
        let n = p.plan(&group(vec![alert(4, Level::Low)]), t(5));
        assert_eq!(n[0].key, NoticeKey::Summary, "updated in place");
        assert_eq!(n[0].summary, "2 items need attention");
        assert_eq!(n[0].body, "1 out of stock, 1 at reorder point");
        // After a quiet window, single items notify one by one again.
        let n = p.plan(&group(vec![alert(5, Level::Out)]), t(120));
        assert_eq!(n[0].key, NoticeKey::Item("/p/5".into()));
    }

    #[test]
    fn other_events_show_nothing() {
        let mut p = Planner::new();
        assert!(p.plan(&recovered(9, Level::Ok), t(0)).is_empty());
        assert!(p.plan(&group(vec![]), t(0)).is_empty());
    }
}
