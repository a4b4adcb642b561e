//! `finale-sim`: run the Finale simulator as a standalone server (for demos and manual poking).
//!
//! Prints the base URL and serves until Ctrl-C. Logging via `RUST_LOG` (tracing-subscriber).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::SystemTime;

use anyhow::Context as _;
use chrono::Utc;
use clap::Parser;
use finale_sim::{SimClock, SimConfig, Simulator, Size};

/// Serve a simulated Finale Inventory account.
#[derive(Debug, Parser)]
#[command(name = "finale-sim", version, about)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8089)]
    port: u16,
    /// Listen on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    public: bool,
    /// Account path component.
    #[arg(long, default_value = "acme")]
    account: String,
    /// API key (Basic-auth user).
    #[arg(long, default_value = "sim-key", env = "FINALE_SIM_API_KEY")]
    api_key: String,
    /// API secret (Basic-auth password).
    #[arg(
        long,
        default_value = "sim-secret",
        env = "FINALE_SIM_API_SECRET",
        hide_env_values = true
    )]
    api_secret: String,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Data size: small, medium or large.
    #[arg(long, default_value = "small")]
    size: Size,
    /// Virtual seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Order collections carry headers only (lines via GET {orderUrl}).
    #[arg(long)]
    headers_only: bool,
    /// Account time zone (IANA name), e.g. America/Chicago.
    #[arg(long, default_value = "UTC")]
    timezone: chrono_tz::Tz,
    /// Packed stock rows count units instead of cases (match it with the client's
    /// FINALE_PACKED_QUANTITIES=units).
    #[arg(long)]
    packed_units: bool,
    /// Zone of offset-less REST timestamps: utc (default) or account.
    #[arg(long, default_value = "utc")]
    timestamps: finale_sim::config::Timestamps,
    /// Disable rate-limit enforcement (headers are still sent).
    #[arg(long)]
    no_limits: bool,
    /// Apply live changes every this many virtual seconds.
    #[arg(long)]
    live_tick_secs: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut cfg = SimConfig::new(args.size, args.seed);
    cfg.account = args.account;
    cfg.api_key = args.api_key;
    cfg.api_secret = args.api_secret;
    let ip = if args.public {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    };
    cfg.bind = SocketAddr::from((ip, args.port));
    cfg.clock = SimClock::scaled(SystemTime::now(), Utc::now(), args.time_scale);
    cfg.quirks.order_items_in_collection = !args.headers_only;
    cfg.quirks.timezone = args.timezone;
    if args.packed_units {
        cfg.quirks.packed_quantities = finale_sim::PackedQuantities::Units;
    }
    cfg.quirks.timestamps = args.timestamps;
    cfg.limits.enabled = !args.no_limits;
    let sim = Simulator::start(cfg)
        .await
        .context("starting the simulator")?;
    if let Some(secs) = args.live_tick_secs.filter(|s| *s > 0) {
        sim.start_live(chrono::Duration::seconds(secs as i64));
    }
    let url = format!("{}/{}", sim.base_url(), sim.account());
    tracing::info!(%url, "serving; Ctrl-C to stop");
    #[allow(clippy::print_stdout)]
    {
        println!("{url}");
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}
