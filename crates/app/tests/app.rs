//! The application core end to end, without a window: a real data directory, a real local
//! cache, the simulator in process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use stockpulse_app::demo::DemoProfile;
use stockpulse_app::notify::{NoticeKey, RecordingNotifier, Urgency};
use stockpulse_app::types::{AlertKind, AppMode, SyncOutcome, SyncStrategy};
use stockpulse_app::{App, AppOptions, CommandError, ErrorCode};
use workstation::query::{SearchPage, SearchQuery};

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
async fn eventually<T, F: Future<Output = Option<T>>>(
    secs: u64,
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fast_demo() -> DemoProfile {
    DemoProfile {
        tick: Duration::from_millis(300),
        sell_out_every: 2,
        ..DemoProfile::default()
    }
}

async fn search(app: &App, text: &str) -> SearchPage {
    app.search(SearchQuery {
        text: Some(text.to_owned()),
        ..SearchQuery::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_moves_and_alerts_once_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("not-yet-there");
    let notifier = RecordingNotifier::default();
    let app = App::start(
        AppOptions {
            data_dir: Some(data_dir.clone()),
            demo: true,
            demo_profile: fast_demo(),
        },
        Arc::new(notifier.clone()),
    )
    .await
    .unwrap();
    let mut feed = app.subscribe();
    assert!(
        data_dir.join("demo.db").exists(),
        "the data dir was created"
    );

    // The initial load fills the cache.
    let page = eventually(120, "the initial load", || async {
        let p = search(&app, "").await;
        (!p.rows.is_empty()).then_some(p)
    })
    .await;
    let first = &page.rows[0];
    let by_sku = search(&app, &first.sku).await;
    assert_eq!(by_sku.rows[0].sku, first.sku, "search finds an item by SKU");
    let detail = app.item(first.sku.clone()).await.unwrap();
    assert_eq!(detail.summary.sku, first.sku);
    let err = CommandError::from(app.item("NO-SUCH-SKU".into()).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::NotFound);

    let options = app.filter_options().await.unwrap();
    assert!(!options.locations.is_empty());
    assert!(!options.suppliers.is_empty());

    let status = app.app_status().await.unwrap();
    assert!(status.demo);
    assert_eq!(status.mode, AppMode::Embedded);
    assert!(!status.offline);
    assert!(status.notifications.available);

    // The demo sells items out: an alert group, and one critical notification per item.
    let groups = eventually(60, "a stockout alert", || async {
        let g = app.alerts().await.unwrap();
        g.iter().any(|g| g.kind == AlertKind::Stockout).then_some(g)
    })
    .await;
    let group = groups
        .iter()
        .find(|g| g.kind == AlertKind::Stockout)
        .unwrap();
    let sku = group.items[0].sku.clone();
    let url = group.items[0].product_url.clone();
    let shown = eventually(10, "the notification", || async {
        let s = notifier.shown();
        s.iter()
            .any(|n| n.key == NoticeKey::Item(url.clone()))
            .then_some(s)
    })
    .await;
    let mine: Vec<_> = shown
        .iter()
        .filter(|n| n.key == NoticeKey::Item(url.clone()))
        .collect();
    assert_eq!(mine.len(), 1, "one notification for the item: {shown:?}");
    assert_eq!(mine[0].urgency, Urgency::Critical);
    assert_eq!(mine[0].open_sku.as_deref(), Some(sku.as_str()));

    // The feed carried the stock changes and the alert.
    let mut kinds = std::collections::BTreeSet::new();
    while let Ok(e) = feed.try_recv() {
        kinds.insert(e.event.kind());
    }
    assert!(kinds.contains("stock_changed"), "{kinds:?}");
    assert!(kinds.contains("alert"), "{kinds:?}");

    // Acknowledge and snooze the group; bad ids and durations are refused.
    app.alert_ack(group.id).await.unwrap();
    app.alert_snooze(group.id, 60).await.unwrap();
    let after = app.alerts().await.unwrap();
    let g = after.iter().find(|g| g.id == group.id).unwrap();
    assert!(g.acknowledged);
    assert!(g.snoozed_until.is_some());
    let e = CommandError::from(app.alert_ack(-5).await.unwrap_err());
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = CommandError::from(app.alert_snooze(group.id, 0).await.unwrap_err());
    assert_eq!(e.code, ErrorCode::InvalidInput);

    // A user-started run: its id at once, progress to the end.
    let mut run = eventually(30, "a free writer role", || async {
        app.sync_start(SyncStrategy::Smart).await.ok()
    })
    .await;
    assert!(run.run_id > 0);
    let mut last = None;
    while let Some(p) = run.next().await {
        assert_eq!(p.run_id, run.run_id);
        last = Some(p);
    }
    let last = last.unwrap();
    assert!(last.finished);
    assert_eq!(last.outcome, SyncOutcome::Succeeded, "{last:?}");
    let overview = app.sync_overview().await.unwrap();
    assert!(overview.runs.iter().any(|r| r.id == last.run_id));
    assert_eq!(overview.schedule.len(), 1, "the demo's pulse");
    let health = app.health(7).await.unwrap();
    assert!(
        health.points.len() >= 2,
        "the full load and the smart run at least"
    );
    assert_eq!(health.budget.limit, 300);

    let settings = app.settings().unwrap();
    assert!(settings.demo);
    assert_eq!(settings.finale, None);
    assert_eq!(settings.data_dir, data_dir.display().to_string());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_finale_the_app_answers_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let notifier = RecordingNotifier::default();
    let app = App::start(
        AppOptions {
            data_dir: Some(dir.path().to_path_buf()),
            ..AppOptions::default()
        },
        Arc::new(notifier),
    )
    .await
    .unwrap();
    let status = app.app_status().await.unwrap();
    assert!(!status.demo);
    assert_eq!(status.mode, AppMode::Embedded);
    assert!(search(&app, "").await.rows.is_empty());
    let e = CommandError::from(app.sync_start(SyncStrategy::Smart).await.unwrap_err());
    assert_eq!(e.code, ErrorCode::Unavailable, "{e:?}");
    let overview = app.sync_overview().await.unwrap();
    assert!(overview.runs.is_empty() && overview.running.is_none());

    // Bad input is refused before anything is saved.
    let e = CommandError::from(
        app.save_database(Some("mysql://nope".into()))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::InvalidInput);
    let e = CommandError::from(
        app.save_finale("acme".into(), String::new(), "x".into())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, ErrorCode::InvalidInput);

    // A saved account: masked key, secrets in memory only (never in the data dir).
    let settings = app
        .save_finale(
            "acme".into(),
            "key-0123456789abcd".into(),
            "the-secret-value".into(),
        )
        .await
        .unwrap();
    let finale = settings.finale.unwrap();
    assert!(finale.configured);
    assert_eq!(finale.api_key_masked.as_deref(), Some("••••abcd"));
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("the-secret-value") && !text.contains("key-0123456789abcd"),
                "a secret reached {}",
                path.display()
            );
        }
    }
    // Settings apply without a restart: the engine exists now (Finale itself is unreachable
    // from here, which a run would report; the schedule already tries).
    assert!(app.sync_overview().await.is_ok());
    let test = app
        .test_database("postgres://nobody@127.0.0.1:1/none".into())
        .await
        .unwrap();
    assert!(!test.ok);
    assert!(!test.message.contains("the-secret-value"));
    app.shutdown().await;
}
