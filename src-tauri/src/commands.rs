//! The Tauri commands: one-line adapters over [`stockpulse_app::App`] (no logic here).
//! Errors reach the web view as `{code, message}`; live feeds go over channels.

use stockpulse_app::types::{
    AlertListGroup, AppStatus, ConnectionTest, DatabaseTest, FilterOptions, HealthSeries, Settings,
    SyncOverview, SyncProgress, SyncStrategy,
};
use stockpulse_app::{App, CommandError};
use tauri::State;
use tauri::ipc::Channel;
use workstation::events::Envelope;
use workstation::query::{
    Dashboard, ItemDetail, ReorderPage, ReorderQuery, SearchPage, SearchQuery,
};

type Res<T> = Result<T, CommandError>;

#[tauri::command]
pub async fn search(app: State<'_, App>, query: SearchQuery) -> Res<SearchPage> {
    app.search(query).await.map_err(Into::into)
}

#[tauri::command]
pub async fn item(app: State<'_, App>, sku: String) -> Res<ItemDetail> {
    app.item(sku).await.map_err(Into::into)
}

#[tauri::command]
pub async fn reorder(app: State<'_, App>, query: ReorderQuery) -> Res<ReorderPage> {
    app.reorder(query).await.map_err(Into::into)
}

#[tauri::command]
pub async fn dashboard(app: State<'_, App>) -> Res<Dashboard> {
    app.dashboard().await.map_err(Into::into)
}

#[tauri::command]
pub async fn filter_options(app: State<'_, App>) -> Res<FilterOptions> {
    app.filter_options().await.map_err(Into::into)
}

#[tauri::command]
pub async fn app_status(app: State<'_, App>) -> Res<AppStatus> {
    app.app_status().await.map_err(Into::into)
}

#[tauri::command]
pub async fn subscribe_events(app: State<'_, App>, on_event: Channel<Envelope>) -> Res<()> {
    app.subscribe_events(move |e| on_event.send(e).is_ok());
    Ok(())
}

#[tauri::command]
pub async fn sync_start(
    app: State<'_, App>,
    strategy: SyncStrategy,
    on_progress: Channel<SyncProgress>,
) -> Res<i64> {
    let run = app.sync_start(strategy).await?;
    let id = run.run_id;
    run.forward(move |p| on_progress.send(p).is_ok());
    Ok(id)
}

#[tauri::command]
pub async fn sync_cancel(app: State<'_, App>) -> Res<()> {
    app.sync_cancel();
    Ok(())
}

#[tauri::command]
pub async fn sync_overview(app: State<'_, App>) -> Res<SyncOverview> {
    app.sync_overview().await.map_err(Into::into)
}

#[tauri::command]
pub async fn health(app: State<'_, App>, days: u32) -> Res<HealthSeries> {
    app.health(days).await.map_err(Into::into)
}

#[tauri::command]
pub async fn alerts(app: State<'_, App>) -> Res<Vec<AlertListGroup>> {
    app.alerts().await.map_err(Into::into)
}

#[tauri::command]
pub async fn alert_ack(app: State<'_, App>, id: i64) -> Res<()> {
    app.alert_ack(id).await.map_err(Into::into)
}

#[tauri::command]
pub async fn alert_snooze(app: State<'_, App>, id: i64, minutes: u32) -> Res<()> {
    app.alert_snooze(id, minutes).await.map_err(Into::into)
}

#[tauri::command]
pub async fn settings(app: State<'_, App>) -> Res<Settings> {
    app.settings().map_err(Into::into)
}

#[tauri::command]
pub async fn test_finale(
    app: State<'_, App>,
    account: String,
    api_key: String,
    api_secret: String,
) -> Res<ConnectionTest> {
    app.test_finale(account, api_key, api_secret)
        .await
        .map_err(Into::into)
}

#[tauri::command]
pub async fn save_finale(
    app: State<'_, App>,
    account: String,
    api_key: String,
    api_secret: String,
) -> Res<Settings> {
    app.save_finale(account, api_key, api_secret)
        .await
        .map_err(Into::into)
}

#[tauri::command]
pub async fn test_database(app: State<'_, App>, url: String) -> Res<DatabaseTest> {
    app.test_database(url).await.map_err(Into::into)
}

#[tauri::command]
pub async fn save_database(app: State<'_, App>, url: Option<String>) -> Res<Settings> {
    app.save_database(url).await.map_err(Into::into)
}

#[tauri::command]
pub async fn use_demo(app: State<'_, App>) -> Res<Settings> {
    app.use_demo().await.map_err(Into::into)
}
