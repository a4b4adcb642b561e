//! `stockpulse finale fetch <collection> [--since T] [--until T]`: decoded records as JSON lines.
//!
//! Records go to stdout, one JSON object per line, so the output pipes into `jq`, `head` or a
//! file. Records that failed to decode go to stderr with their index, field and raw value, and
//! a one-line summary (records, errors, requests, bytes) closes the run on stderr.

use std::io::{self, BufWriter, Write};

use anyhow::{Context, bail};
use clap::Args;
use finale::{
    Collection, Decoded, Facility, FinaleClient, FinaleConfig, FinaleRecord, InventoryItem, Order,
    PartyGroup, Priority, Product, Shipment,
};

use crate::timearg;

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// product, facility, inventoryitem, order, partygroup or shipment.
    collection: Collection,
    /// Only records whose lastUpdatedDate is at or after this (e.g. 2025-03-01, 7d, 36h).
    #[arg(long)]
    since: Option<String>,
    /// Upper bound for --since (default: now).
    #[arg(long, requires = "since")]
    until: Option<String>,
    /// For orders without lines in the collection, fetch the lines too.
    #[arg(long)]
    with_lines: bool,
}

pub async fn run(args: FetchArgs) -> anyhow::Result<()> {
    let config = FinaleConfig::from_env().context("reading the Finale configuration")?;
    let now = config.clock.now();
    let since = args
        .since
        .as_deref()
        .map(|s| timearg::parse(s, now))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let until = args
        .until
        .as_deref()
        .map(|s| timearg::parse(s, now))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if since.is_some() && args.collection == Collection::InventoryItem {
        bail!(
            "Finale cannot filter inventoryitem by date: every read is the whole stock table; drop --since"
        );
    }
    let client = FinaleClient::new(config).context("building the Finale client")?;
    let range = since.map(|s| (s, until.unwrap_or(now)));
    if let Some((s, u)) = range
        && s > u
    {
        bail!("--since ({s}) is after --until ({u})");
    }
    match args.collection {
        Collection::Product => emit::<Product>(&client, range).await?,
        Collection::Facility => emit::<Facility>(&client, range).await?,
        Collection::InventoryItem => emit::<InventoryItem>(&client, range).await?,
        Collection::PartyGroup => emit::<PartyGroup>(&client, range).await?,
        Collection::Shipment => emit::<Shipment>(&client, range).await?,
        Collection::Order => {
            let mut decoded = pull::<Order>(&client, range).await?;
            if args.with_lines {
                client
                    .complete_order_lines(&mut decoded.records, Priority::Smart)
                    .await
                    .context("fetching order lines")?;
            }
            write_all(&decoded)?;
        }
    }
    summary(&client);
    Ok(())
}

async fn pull<T: FinaleRecord>(
    client: &FinaleClient,
    range: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
) -> anyhow::Result<Decoded<T>> {
    let what = T::COLLECTION;
    Ok(match range {
        Some((since, until)) => client
            .fetch_changed::<T>(since, until, Priority::Smart, |_| {})
            .await
            .with_context(|| format!("fetching {what} changed between {since} and {until}"))?,
        None => client
            .fetch_all::<T>(Priority::Smart)
            .await
            .with_context(|| format!("fetching {what}"))?,
    })
}

async fn emit<T: FinaleRecord>(
    client: &FinaleClient,
    range: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
) -> anyhow::Result<()> {
    let decoded = pull::<T>(client, range).await?;
    write_all(&decoded)
}

#[allow(clippy::print_stderr)] // stderr is the diagnostics channel of this command
fn write_all<T: FinaleRecord>(decoded: &Decoded<T>) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for record in &decoded.records {
        let written = serde_json::to_writer(&mut out, record)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(err) = written {
            // `stockpulse finale fetch product | head` closes the pipe early: that is success.
            if err.kind() == io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(err).context("writing to stdout");
        }
    }
    match out.flush() {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
            Err(err).context("writing to stdout")?
        }
        _ => {}
    }
    for e in &decoded.errors {
        eprintln!(
            "record {} rejected: field {} = {} ({}){}",
            e.index,
            e.field,
            e.raw,
            e.reason,
            e.key
                .as_deref()
                .map(|k| format!(" [{k}]"))
                .unwrap_or_default()
        );
    }
    eprintln!(
        "{} records, {} rejected",
        decoded.records.len(),
        decoded.errors.len()
    );
    Ok(())
}

#[allow(clippy::print_stderr)]
fn summary(client: &FinaleClient) {
    let r = client.budget_report();
    eprintln!(
        "{} requests, {} bytes, latency p50 {:.0} ms / p95 {:.0} ms, {} throttled (429)",
        r.requests, r.bytes, r.latency_p50_ms, r.latency_p95_ms, r.throttled
    );
}
