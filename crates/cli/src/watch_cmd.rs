//! `stockpulse watch [--json]`: the live event feed of the local store, from now on.
//!
//! The same loop serves both modes: it follows the local store at `STOCKPULSE_LOCAL_PATH`
//! (`workstation::events::follow`), deriving events from the change journal when nobody
//! else has (the embedded default: the engine, in this or another process, only writes
//! rows) and tailing the event log that the mirror or another follower wrote. It prints
//! one line per event logged after it started; `--json` prints each event as one JSON
//! object (with its `type`, `seq` and `at`) and flushes every line, so a pipe sees it at
//! once. Runs until SIGINT or SIGTERM, then exits 0.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};
use workstation::events::{self, Bus, Envelope, Event, Level, Received, Since};

use crate::engine_cmd::{Common, load_config};

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    common: Common,
    /// One JSON object per line (`{"seq":…,"at":…,"type":"stocked_out",…}`) instead of text.
    #[arg(long)]
    json: bool,
}

/// `stockpulse watch`.
#[allow(clippy::print_stderr)]
pub async fn run(args: WatchArgs) -> anyhow::Result<u8> {
    let cfg = load_config(&args.common)?;
    let path = cfg.store.local_path.clone();
    // Signals are caught from here on (before "watching" is printed), so a SIGTERM sent as
    // soon as the feed runs ends it cleanly.
    let mut term = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    // "Now" is fixed before the feed is announced: whatever is logged after this line is
    // printed.
    let start = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
            let conn = if path.exists() {
                workstation::local::open_existing(&path)?
            } else {
                workstation::local::open_or_create(&path)?
            };
            Ok(events::last_seq(&conn)?)
        })
        .await
        .context("opening the local store")??
    };
    let bus = Bus::default();
    let mut feed = bus.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut follower = tokio::spawn(events::follow(
        path.clone(),
        bus.clone(),
        Since::After(start),
        async move {
            let _ = stopped.await;
        },
    ));
    eprintln!("watching {} for events (Ctrl-C to stop)", path.display());
    let mut out = std::io::stdout().lock();
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            r = &mut follower => {
                // The loop only ends by itself on an error.
                r.context("the event follower stopped")??;
                return Ok(0);
            }
            r = feed.recv() => match r {
                Some(Received::Event(e)) => print(&mut out, &e, args.json)?,
                Some(Received::Lagged { missed }) => {
                    tracing::warn!("the output fell behind: {missed} events were skipped");
                }
                None => break,
            },
        }
    }
    let _ = stop.send(());
    follower
        .await
        .context("the event follower stopped")?
        .context("following the local store")?;
    // Events the follower published before it stopped.
    while let Some(Received::Event(e)) = feed.try_recv() {
        print(&mut out, &e, args.json)?;
    }
    Ok(0)
}

/// One line for one event, flushed at once (stdout may be a pipe).
fn print(out: &mut impl Write, e: &Envelope, json: bool) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, e).context("writing an event")?;
        out.write_all(b"\n").context("writing an event")?;
    } else {
        writeln!(
            out,
            "{} {:<25} {}",
            e.at.format("%Y-%m-%d %H:%M:%S%.3f"),
            e.event.kind(),
            describe(&e.event)
        )
        .context("writing an event")?;
    }
    out.flush().context("writing an event")
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), num)
}

fn level(l: Level) -> &'static str {
    l.as_str()
}

/// The text form of an event (after its time and type).
fn describe(e: &Event) -> String {
    let place = |url: &Option<String>, name: &Option<String>| match (url, name) {
        (None, _) => "in total".to_owned(),
        (Some(_), Some(n)) => format!("at {n}"),
        (Some(u), None) => format!("at {u}"),
    };
    match e {
        Event::StockChanged(c) => format!(
            "{} {}: on hand {} → {}, available {} → {}",
            c.sku,
            place(&Some(c.location_url.clone()), &c.location_name),
            num(c.before.on_hand),
            num(c.after.on_hand),
            num(c.before.available),
            num(c.after.available)
        ),
        Event::StockedOut(c) | Event::FellBelowReorderPoint(c) | Event::Restocked(c) => format!(
            "{} {}: {} → {}, available {} (on hand {}, reorder point {})",
            c.sku,
            place(&c.location_url, &c.location_name),
            level(c.previous_level),
            level(c.level),
            num(c.available),
            num(c.on_hand),
            opt(c.reorder_point)
        ),
        Event::PriceChanged(p) => format!(
            "{}: cost {} → {}, list price {} → {}",
            p.sku,
            opt(p.cost.before),
            opt(p.cost.after),
            opt(p.list_price.before),
            opt(p.list_price.after)
        ),
        Event::NewSalesOrder(o) => format!(
            "{} ({} lines, total {})",
            o.order_id,
            o.lines.len(),
            opt(o.total)
        ),
        Event::SyncStarted(s) => format!("run {} ({})", s.run_id, s.strategy),
        Event::SyncFinished(s) => format!(
            "run {} ({}) {} in {} ms: {} seen, {} changed, {} failed",
            s.run_id,
            s.strategy,
            if s.success { "succeeded" } else { "failed" },
            s.duration_ms.unwrap_or(0),
            s.items_seen,
            s.items_changed,
            s.items_failed
        ),
        Event::Status(s) => match &s.message {
            Some(m) => format!("{}: {m}", s.state.as_str()),
            None => s.state.as_str().to_owned(),
        },
        Event::Alert(g) => {
            let items: Vec<String> = g
                .alerts
                .iter()
                .take(10)
                .map(|a| format!("{} {}", a.sku, a.level.as_str()))
                .collect();
            let more = g.alerts.len().saturating_sub(items.len());
            format!(
                "{} item(s): {}{}",
                g.alerts.len(),
                items.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            )
        }
    }
}
