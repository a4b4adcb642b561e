//! `stockpulse` — the headless binary that drives the same engine as the desktop app.
//!
//! - `sync --strategy full|smart|critical|stock`: one run of the sync engine into the configured
//!   store (Postgres when a database URL is configured, else the local SQLite store), with a
//!   progress bar; exit code 75 when another engine holds the writer role.
//! - `status`: the configuration (no secrets), the full load's progress and ETA, cursors,
//!   recent runs with their metrics and budget use.
//! - `resolve <url>`: stop retrying a record Finale would not give (a sync quarantines it,
//!   stores the rest and retries it on later runs; `status` lists what is waiting).
//! - `serve`: the schedules headless (smart daily at 02:00 UTC, critical hourly, the stock
//!   pulse every 5 minutes), catching up missed runs at start, stopping cleanly on
//!   SIGINT/SIGTERM.
//! - `demo`: the Finale simulator in process → the engine → a fresh local store (or Postgres
//!   with `--database-url`): full, then smart and critical after simulated activity.
//! - `finale fetch <collection>`: a debugging aid that prints decoded Finale records as JSON
//!   lines.
//!
//! Configuration: a TOML file plus environment variables (`engine::config`); secrets only from
//! the environment or the OS keychain. The binary is an edge: it owns `anyhow`, logging set-up
//! and exit codes; everything it does is a call into the `engine`, `finale` and `finale-sim`
//! libraries.

mod demo;
mod engine_cmd;
mod fetch;
mod mirror_cmd;
mod progress;
mod query_cmd;
mod timearg;
mod watch_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "stockpulse",
    version,
    about = "Stockpulse: Finale Inventory, instantly and offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Talk to the Finale API directly (debugging).
    Finale {
        #[command(subcommand)]
        command: FinaleCommand,
    },
    /// Sync Finale into the store once: `--strategy full|smart|critical|stock`.
    Sync(engine_cmd::SyncArgs),
    /// Show the configuration (no secrets), the full load's progress, cursors and recent runs.
    Status(engine_cmd::StatusArgs),
    /// Stop retrying a record Finale would not give (`status` lists them).
    Resolve(engine_cmd::ResolveArgs),
    /// Run the schedules headless (smart daily, critical hourly, stock every 5 minutes),
    /// catching up missed runs.
    Serve(engine_cmd::ServeArgs),
    /// The simulator in process → the engine → the local store (or Postgres), with a summary.
    Demo(demo::DemoArgs),
    /// Mirror the shared store into the local store and follow it live (`--once`: one pass).
    Mirror(mirror_cmd::MirrorArgs),
    /// The live event feed of the local store (stock, alerts, sync progress), one line per
    /// event from now on (`--json`: one JSON object per line), until SIGINT/SIGTERM.
    Watch(watch_cmd::WatchArgs),
    /// Search the local store (offline): text, filters, sort; a table or JSON lines.
    Search(query_cmd::SearchArgs),
    /// One item in full from the local store: stock per location, suppliers, sales.
    Item(query_cmd::ItemArgs),
    /// Cross-location reorder suggestions from the local store.
    Reorder(query_cmd::ReorderArgs),
}

#[derive(Debug, Subcommand)]
enum FinaleCommand {
    /// Print a collection's decoded records as JSON lines on stdout.
    Fetch(fetch::FetchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return report(anyhow::Error::new(err).context("starting the async runtime")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Finale {
                command: FinaleCommand::Fetch(args),
            } => fetch::run(args).await.map(|()| 0),
            Command::Sync(args) => engine_cmd::sync(args).await,
            Command::Status(args) => engine_cmd::status(args).await,
            Command::Serve(args) => engine_cmd::serve(args).await,
            Command::Resolve(args) => engine_cmd::resolve(args).await,
            Command::Demo(args) => demo::run(args).await.map(|()| 0),
            Command::Mirror(args) => mirror_cmd::run(args).await,
            Command::Watch(args) => watch_cmd::run(args).await,
            Command::Search(args) => query_cmd::search(args),
            Command::Item(args) => query_cmd::item(args),
            Command::Reorder(args) => query_cmd::reorder(args),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => report(err),
    }
}

/// Logs go to stderr so that stdout stays clean for JSON lines; `RUST_LOG` tunes them.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[allow(clippy::print_stderr)] // the edge of the program: this is where errors are shown
fn report(err: anyhow::Error) -> ExitCode {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::FAILURE
}
