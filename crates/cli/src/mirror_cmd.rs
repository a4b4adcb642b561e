//! `stockpulse mirror`: the shared store → this workstation's local store, then live.
//!
//! Output: human lines on stderr (progress, state changes); with `--json`, one JSON object
//! per line on stdout for every domain event and every state change (`{"type":"status",
//! "state":"live",...}`), and for `--once` a final `{"type":"summary",...}`, each flushed at
//! once so a pipe sees it immediately.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use workstation::events::{Bus, Envelope, Event, Received};
use workstation::mirror::{Mirror, MirrorConfig, PassSummary};

use crate::engine_cmd::{Common, load_config, shutdown_signal};

#[derive(Debug, Args)]
pub struct MirrorArgs {
    #[command(flatten)]
    common: Common,
    /// Hydrate or catch up once, print a summary and exit.
    #[arg(long)]
    once: bool,
    /// Print each domain event and state change as one JSON object per line on stdout.
    #[arg(long)]
    json: bool,
    /// With --once: also compare checksums with the store and repair any drift.
    #[arg(long)]
    reconcile: bool,
}

/// Prints one JSON line and flushes it.
#[allow(clippy::print_stdout)]
fn emit(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

#[allow(clippy::print_stderr)]
fn describe(envelope: &Envelope) {
    match &envelope.event {
        Event::Status(s) => {
            let msg = s
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            eprintln!("mirror: {}{msg}", s.state.as_str());
        }
        other => eprintln!(
            "{} {}",
            other.kind(),
            serde_json::to_string(other).unwrap_or_default()
        ),
    }
}

fn summary_json(s: &PassSummary) -> serde_json::Value {
    json!({
        "type": "summary",
        "hydrated": s.hydrated,
        "reason": s.reason,
        "rows": s.rows(),
        "deleted": s.deleted,
        "tables": s.tables.iter().map(|(t, n)| json!({"table": t, "rows": n})).collect::<Vec<_>>(),
        "position": s.position.to_string(),
        "events": s.events,
        "elapsed_ms": s.elapsed.as_millis() as u64,
    })
}

/// `stockpulse mirror`.
#[allow(clippy::print_stderr, clippy::print_stdout)]
pub async fn run(args: MirrorArgs) -> anyhow::Result<u8> {
    let cfg = load_config(&args.common)?;
    let engine::config::StoreTarget::Postgres { url, lock_url } = cfg.store.target() else {
        anyhow::bail!(
            "mirror needs a shared store: set STOCKPULSE_DATABASE_URL (or pass --database-url). \
             Without one, the sync engine writes straight into the local store {} (the embedded \
             default) and there is nothing to mirror",
            cfg.store.local_path.display()
        );
    };
    let mirror_cfg = MirrorConfig {
        database_url: url.expose().to_owned(),
        lock_url: lock_url.map(|u| u.expose().to_owned()),
        local_path: cfg.store.local_path.clone(),
    };
    let bus = Bus::default();
    let mut mirror = Mirror::open(mirror_cfg, bus.clone()).context("opening the local store")?;
    let mut events = bus.subscribe();
    let json = args.json;
    let printer = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Some(Received::Event(envelope)) => {
                    if json {
                        emit(&serde_json::to_value(&envelope).unwrap_or_default());
                    } else {
                        describe(&envelope);
                    }
                }
                Some(Received::Lagged { missed }) => {
                    tracing::warn!(missed, "the printer fell behind");
                }
                None => return,
            }
        }
    });
    let result = if args.once {
        once(&mut mirror, args.json, args.reconcile).await
    } else {
        eprintln!(
            "mirroring {} into {} (Ctrl-C to stop)",
            mirror.target(),
            cfg.store.local_path.display()
        );
        mirror
            .run(shutdown_signal())
            .await
            .map(|()| 0)
            .map_err(anyhow::Error::from)
    };
    drop(mirror);
    drop(bus);
    let _ = printer.await;
    result
}

#[allow(clippy::print_stderr)]
async fn once(mirror: &mut Mirror, json: bool, reconcile: bool) -> anyhow::Result<u8> {
    let summary = mirror
        .sync_once()
        .await
        .context("mirroring the shared store")?;
    if json {
        emit(&summary_json(&summary));
    } else {
        let what = if summary.hydrated {
            "hydrated"
        } else {
            "caught up"
        };
        let why = summary
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        eprintln!(
            "{what}{why}: {} rows in {} tables, {} deleted, {} events, position {}, {:.2?}",
            summary.rows(),
            summary.tables.len(),
            summary.deleted,
            summary.events,
            summary.position,
            summary.elapsed
        );
        for (t, n) in &summary.tables {
            eprintln!("  {t:<20} {n:>10}");
        }
    }
    if reconcile {
        let r = mirror
            .reconcile_once()
            .await
            .context("reconciling with the shared store")?;
        if json {
            emit(&json!({"type": "reconciliation", "result": r}));
        } else {
            eprintln!(
                "reconciled {} tables ({} buckets): {} differed, {} rows repaired, {} deleted",
                r.tables, r.buckets, r.mismatched, r.rows_repaired, r.rows_deleted
            );
        }
    }
    Ok(0)
}
