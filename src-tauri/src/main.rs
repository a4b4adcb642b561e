//! `stockpulse-app`: the Stockpulse desktop app, the Tauri 2 shell over
//! [`stockpulse_app::App`].
//!
//! - `main` parses `--demo` and `--data-dir DIR`, builds the [`App`] in Tauri's setup (on
//!   Tauri's Tokio runtime, where its components run) and manages it as state.
//! - Commands ([`commands`]) are one-line adapters; live feeds go over `tauri::ipc::Channel`.
//! - Notifications ([`notifier`]): notify-rust, fed by the app's notification plan; their
//!   "Open" action emits the global `open-item` event (`{sku}`) and shows the window.
//! - Rendering ([`rendering`]): GPU compositing only where a GPU can do it
//!   (`STOCKPULSE_GPU=on|off|auto`).
//! - The app lives in the tray: closing the window hides it (the app keeps syncing and
//!   notifying) until "Quit" in the tray menu. Where no tray can be shown (no tray host on
//!   the session bus, as under Xvfb or on GNOME without the AppIndicator extension, or the
//!   icon cannot be made), closing the window quits, so the app can always be ended.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod notifier;
mod rendering;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use stockpulse_app::{App, AppOptions};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, RunEvent, WindowEvent};
use tracing_subscriber::EnvFilter;

use crate::notifier::DesktopNotifier;

/// The label of the one window (the capability is scoped to it).
const MAIN: &str = "main";

const USAGE: &str = "usage: stockpulse-app [--demo] [--data-dir DIR]

  --demo          demo data: a simulated Finale account in process, live
  --data-dir DIR  keep everything in DIR (created if missing); secrets stay in memory";

/// The command line.
#[derive(Debug, Default)]
struct Args {
    demo: bool,
    data_dir: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--demo" => out.demo = true,
            "--data-dir" => {
                let dir = args.next().ok_or("--data-dir needs a folder")?;
                out.data_dir = Some(PathBuf::from(dir));
            }
            "-h" | "--help" => return Ok(None),
            other => match other.strip_prefix("--data-dir=") {
                Some(dir) => out.data_dir = Some(PathBuf::from(dir)),
                None => return Err(format!("unknown argument `{other}`")),
            },
        }
    }
    Ok(Some(out))
}

/// Whether the tray exists (else closing the window quits).
struct Tray(AtomicBool);

fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Whether a tray host (a `StatusNotifierWatcher`) is on the session bus: without one the
/// tray icon is invisible, and a hidden window could not be brought back.
async fn tray_host_present() -> bool {
    let ask = async {
        let conn = zbus::Connection::session().await?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
        let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")?;
        Ok::<bool, zbus::Error>(dbus.name_has_owner(name).await?)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), ask).await {
        Ok(Ok(present)) => present,
        Ok(Err(e)) => {
            tracing::info!(%e, "no session bus: no tray");
            false
        }
        Err(_) => false,
    }
}

fn build_tray(app: &tauri::App) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, "show", "Show Stockpulse", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &quit])?;
    let mut tray = TrayIconBuilder::with_id("stockpulse")
        .tooltip("Stockpulse")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => show_main(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

// The edge of the program: it prints its errors, and `generate_context!` expands to Tauri's
// own `std::process::exit` (allowed in binaries).
#[allow(clippy::print_stderr, clippy::disallowed_methods)]
fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let rendering = match rendering::decide(&rendering::probe()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(?rendering, "web view rendering");

    let options = AppOptions {
        data_dir: args.data_dir,
        demo: args.demo,
        ..AppOptions::default()
    };
    let built = tauri::Builder::default()
        .setup(move |app| {
            if let Some(window) = app.get_webview_window(MAIN)
                && let Err(e) = rendering::apply(&window, rendering)
            {
                tracing::warn!(%e, "could not set the web view's rendering");
            }
            let handle = app.handle().clone();
            let on_open: Arc<notifier::OnOpen> = Arc::new(move |sku: Option<String>| {
                if let Some(sku) = sku
                    && let Err(e) = handle.emit("open-item", serde_json::json!({ "sku": sku }))
                {
                    tracing::warn!(%e, "open-item");
                }
                show_main(&handle);
            });
            let notifier = Arc::new(DesktopNotifier::probe(on_open));
            let (core, host) = tauri::async_runtime::block_on(async {
                (
                    App::start(options, notifier).await,
                    tray_host_present().await,
                )
            });
            app.manage(core?);
            let tray = match build_tray(app) {
                Ok(()) if host => true,
                Ok(()) => {
                    tracing::info!("no tray host: closing the window quits the app");
                    false
                }
                Err(e) => {
                    tracing::warn!(%e, "no tray icon: closing the window quits the app");
                    false
                }
            };
            app.manage(Tray(AtomicBool::new(tray)));
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let tray = window
                    .app_handle()
                    .try_state::<Tray>()
                    .is_some_and(|t| t.0.load(Ordering::Acquire));
                if tray {
                    // Keep running (and notifying) in the tray until Quit.
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::search,
            commands::item,
            commands::reorder,
            commands::dashboard,
            commands::filter_options,
            commands::app_status,
            commands::subscribe_events,
            commands::sync_start,
            commands::sync_cancel,
            commands::sync_overview,
            commands::health,
            commands::alerts,
            commands::alert_ack,
            commands::alert_snooze,
            commands::settings,
            commands::test_finale,
            commands::save_finale,
            commands::test_database,
            commands::save_database,
            commands::use_demo,
        ])
        .build(tauri::generate_context!("../tauri.conf.json"));
    let app = match built {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event
            && let Some(core) = handle.try_state::<App>()
        {
            let core: App = core.inner().clone();
            tauri::async_runtime::block_on(core.shutdown());
        }
    });
    ExitCode::SUCCESS
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Option<Args>, String> {
        parse_args(a.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn arguments() {
        let a = parse(&["--demo", "--data-dir", "/tmp/x"]).unwrap().unwrap();
        assert!(a.demo);
        assert_eq!(a.data_dir, Some(PathBuf::from("/tmp/x")));
        let a = parse(&["--data-dir=/tmp/y"]).unwrap().unwrap();
        assert_eq!(a.data_dir, Some(PathBuf::from("/tmp/y")));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--data-dir"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
