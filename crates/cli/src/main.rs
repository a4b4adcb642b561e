//! `stockpulse` — the headless binary that drives the same code as the desktop app.
//!
//! Subcommands today:
//! - `finale fetch <collection>`: a debugging aid that prints decoded Finale records as JSON
//!   lines, with credentials from the environment (`FINALE_ACCOUNT`, `FINALE_API_KEY`,
//!   `FINALE_API_SECRET`, `FINALE_BASE_URL`, `FINALE_TIMEZONE`).
//! - `demo`: starts the Finale simulator in process and pulls every collection through the
//!   real client, with a progress bar and a summary of counts, budget use, bytes and time.
//!
//! The binary is an edge: it owns `anyhow`, logging set-up and exit codes; everything it does
//! is a call into the `finale` and `finale-sim` libraries.

mod demo;
mod fetch;
mod pull;
mod timearg;

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
    /// Run the simulator in process and pull a whole account through the client.
    Demo(demo::DemoArgs),
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
            } => fetch::run(args).await,
            Command::Demo(args) => demo::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
