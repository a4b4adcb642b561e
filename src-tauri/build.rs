//! Tauri's build step, with the configuration at the repository root and an app manifest
//! that lists every command (so the capability grants exactly these and nothing else).
//!
//! A fresh clone has no built UI yet (`ui/build` comes from `npm run build`); then a
//! one-page placeholder is written there so that the shell still builds and tests run.

use std::path::Path;

/// The commands of `src/commands.rs`; `capabilities/main.json` allows each of them.
const COMMANDS: &[&str] = &[
    "search",
    "item",
    "reorder",
    "dashboard",
    "filter_options",
    "app_status",
    "subscribe_events",
    "sync_start",
    "sync_cancel",
    "sync_overview",
    "health",
    "alerts",
    "alert_ack",
    "alert_snooze",
    "settings",
    "test_finale",
    "save_finale",
    "test_database",
    "save_database",
    "use_demo",
];

const PLACEHOLDER: &str = "<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Stockpulse</title></head>
<body>
<main>
<h1>Stockpulse</h1>
<p id=\"placeholder\">The user interface has not been built yet: run <code>make app</code>.</p>
</main>
</body>
</html>
";

fn main() {
    let dist = Path::new("../ui/build");
    if !dist.join("index.html").exists()
        && let Err(e) = std::fs::create_dir_all(dist)
            .and_then(|()| std::fs::write(dist.join("index.html"), PLACEHOLDER))
    {
        panic!("cannot write the placeholder UI into ui/build: {e}");
    }
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build step: {e:#}");
    }
}
