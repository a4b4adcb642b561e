//! The alerts screen: the cache's active alerts ([`workstation::events::active_alerts`],
//! one per item) grouped the way they were raised.
//!
//! A **group** is the active alerts of one kind raised at the same instant: the cache raises
//! every alert of one derivation with the same `raised_at` (40 stockouts in one catch-up are
//! one group, as they were one notification). An escalated alert (`low` → `out`) keeps its
//! `raised_at` and moves to the stockout group of that instant. The group's id is its smallest
//! alert id, so it stays the same while the group shrinks (items recover) and
//! [`members`] finds the alerts an acknowledgement or a snooze applies to.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use workstation::events::{Alert, Level};

use crate::types::{AlertItem, AlertKind, AlertListGroup};

fn kind(level: Level) -> AlertKind {
    if level == Level::Out {
        AlertKind::Stockout
    } else {
        AlertKind::Reorder
    }
}

/// Groups active alerts: stockouts first, then newest first; items by SKU.
pub fn group(alerts: &[Alert]) -> Vec<AlertListGroup> {
    let mut by: BTreeMap<(u8, std::cmp::Reverse<DateTime<Utc>>), Vec<&Alert>> = BTreeMap::new();
    for a in alerts {
        let k = kind(a.level);
        let rank = u8::from(k != AlertKind::Stockout);
        by.entry((rank, std::cmp::Reverse(a.raised_at)))
            .or_default()
            .push(a);
    }
    by.into_iter()
        .map(|((_, std::cmp::Reverse(raised_at)), mut members)| {
            members.sort_by(|a, b| a.sku.cmp(&b.sku).then(a.id.cmp(&b.id)));
            AlertListGroup {
                id: members.iter().map(|a| a.id).min().unwrap_or_default(),
                kind: kind(members[0].level),
                raised_at,
                acknowledged: members.iter().all(|a| a.acknowledged_at.is_some()),
                snoozed_until: members.iter().filter_map(|a| a.snoozed_until).min(),
                items: members
                    .iter()
                    .map(|a| AlertItem {
                        product_url: a.product_url.clone(),
                        sku: a.sku.clone(),
                        name: a.name.clone(),
                        available: a.available,
                        reorder_point: a.reorder_point,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The alert ids of the group whose id is `group_id` (empty when there is none).
pub fn members(alerts: &[Alert], group_id: i64) -> Vec<i64> {
    let Some(first) = alerts.iter().find(|a| a.id == group_id) else {
        return Vec::new();
    };
    let grouped = group(alerts);
    grouped
        .iter()
        .find(|g| g.id == group_id && g.raised_at == first.raised_at)
        .map(|g| {
            alerts
                .iter()
                .filter(|a| {
                    a.raised_at == g.raised_at
                        && kind(a.level) == g.kind
                        && g.items.iter().any(|i| i.product_url == a.product_url)
                })
                .map(|a| a.id)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn alert(id: i64, sku: &str, level: Level, at: i64) -> Alert {
        let t = DateTime::from_timestamp(1_800_000_000 + at, 0).unwrap();
        Alert {
            id,
            product_url: format!("/p/{sku}"),
            sku: sku.into(),
            name: None,
            level,
            on_hand: 0.0,
            available: 0.0,
            reorder_point: Some(4.0),
            raised_at: t,
            updated_at: t,
            acknowledged_at: None,
            snoozed_until: None,
            escalated: false,
        }
    }

    #[test]
    fn alerts_raised_together_are_one_group_per_kind() {
        let alerts = vec![
            alert(5, "B", Level::Out, 0),
            alert(4, "A", Level::Out, 0),
            alert(6, "C", Level::Low, 0),
            alert(9, "D", Level::Out, 60),
        ];
        let g = group(&alerts);
        let shape: Vec<(i64, AlertKind, Vec<&str>)> = g
            .iter()
            .map(|g| {
                (
                    g.id,
                    g.kind,
                    g.items.iter().map(|i| i.sku.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (9, AlertKind::Stockout, vec!["D"]),
                (4, AlertKind::Stockout, vec!["A", "B"]),
                (6, AlertKind::Reorder, vec!["C"]),
            ]
        );
        assert_eq!(members(&alerts, 4), vec![5, 4]);
        assert_eq!(members(&alerts, 6), vec![6]);
        assert!(
            members(&alerts, 5).is_empty(),
            "5 is a member, not a group id"
        );
        assert!(members(&alerts, 77).is_empty());
    }

    #[test]
    fn a_group_is_acknowledged_when_all_its_alerts_are() {
        let mut a = alert(1, "A", Level::Out, 0);
        let b = alert(2, "B", Level::Out, 0);
        a.acknowledged_at = Some(a.raised_at);
        assert!(!group(&[a.clone(), b.clone()])[0].acknowledged);
        let mut b = b;
        b.acknowledged_at = Some(b.raised_at);
        assert!(group(&[a, b])[0].acknowledged);
    }
}
