//! Pull a whole Finale account through the client: the small collections in one read each,
//! orders and shipments as two years of `lastUpdatedDate` windows, then the order lines that
//! the order collection did not carry.
//!
//! This is the read half of a full sync without a store behind it; the sync engine (next
//! issue) replaces it with persisted, resumable jobs. Progress is reported per request-sized
//! step so that a bar moves at the pace of Finale's budget, and every step records what it
//! cost (requests and bytes are deltas of the client's budget report).

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use finale::{
    Collection, Facility, FinaleClient, FinaleRecord, InventoryItem, LineFetchReport, Order,
    PartyGroup, Priority, Product, Shipment, plan_windows,
};
use indicatif::ProgressBar;

/// What one collection cost and yielded.
#[derive(Debug, Clone)]
pub struct CollectionSummary {
    pub collection: Collection,
    /// What to call the row: the collection, or "order lines" for the line completion step.
    pub label: String,
    pub records: usize,
    pub rejected: usize,
    pub requests: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// The result of [`pull_account`].
#[derive(Debug)]
pub struct PullSummary {
    pub collections: Vec<CollectionSummary>,
    pub order_lines: usize,
    pub lines: LineFetchReport,
    pub elapsed: Duration,
}

/// Number of progress steps [`pull_account`] will report for this range.
pub fn steps(client: &FinaleClient, since: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let windows = plan_windows(since, until, client.config().max_window).len() as u64;
    4 + 2 * windows + 1
}

/// Pulls every collection, advancing `bar` once per step.
pub async fn pull_account(
    client: &FinaleClient,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bar: &ProgressBar,
) -> anyhow::Result<PullSummary> {
    let started = Instant::now();
    let mut collections = Vec::new();

    collections.push(whole::<Facility>(client, bar).await?.0);
    collections.push(whole::<PartyGroup>(client, bar).await?.0);
    collections.push(whole::<Product>(client, bar).await?.0);
    collections.push(whole::<InventoryItem>(client, bar).await?.0);

    let (orders_summary, mut orders) = windowed::<Order>(client, since, until, bar).await?;
    collections.push(orders_summary);
    collections.push(windowed::<Shipment>(client, since, until, bar).await?.0);

    bar.set_message("order lines");
    let meter = Meter::start(client);
    let lines = client
        .complete_order_lines(&mut orders, Priority::Backfill)
        .await
        .context("completing order lines")?;
    let order_lines: usize = orders
        .iter()
        .map(|o| o.lines.as_ref().map_or(0, Vec::len))
        .sum();
    if lines.orders_completed > 0 {
        let mut lines_row = meter.finish(client, Collection::Order, order_lines, 0);
        lines_row.label = "order lines".to_string();
        collections.push(lines_row);
    }
    bar.inc(1);

    Ok(PullSummary {
        collections,
        order_lines,
        lines,
        elapsed: started.elapsed(),
    })
}

/// What a step cost: the difference between the client's budget report before and after.
struct Meter {
    requests: u64,
    bytes: u64,
    started: Instant,
}

impl Meter {
    fn start(client: &FinaleClient) -> Self {
        let r = client.budget_report();
        Self {
            requests: r.requests,
            bytes: r.bytes,
            started: Instant::now(),
        }
    }

    fn finish(
        self,
        client: &FinaleClient,
        collection: Collection,
        records: usize,
        rejected: usize,
    ) -> CollectionSummary {
        let r = client.budget_report();
        CollectionSummary {
            collection,
            label: collection.to_string(),
            records,
            rejected,
            requests: r.requests - self.requests,
            bytes: r.bytes - self.bytes,
            elapsed: self.started.elapsed(),
        }
    }
}

async fn whole<T: FinaleRecord>(
    client: &FinaleClient,
    bar: &ProgressBar,
) -> anyhow::Result<(CollectionSummary, Vec<T>)> {
    let what = T::COLLECTION;
    bar.set_message(what.to_string());
    let meter = Meter::start(client);
    let decoded = client
        .fetch_all::<T>(Priority::Backfill)
        .await
        .with_context(|| format!("fetching {what}"))?;
    bar.inc(1);
    let summary = meter.finish(client, what, decoded.records.len(), decoded.errors.len());
    Ok((summary, decoded.records))
}

async fn windowed<T: FinaleRecord>(
    client: &FinaleClient,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bar: &ProgressBar,
) -> anyhow::Result<(CollectionSummary, Vec<T>)> {
    let what = T::COLLECTION;
    bar.set_message(what.to_string());
    let meter = Meter::start(client);
    let decoded = client
        .fetch_changed::<T>(since, until, Priority::Backfill, |p| {
            bar.set_message(format!(
                "{what} {}/{} windows, {} records",
                p.done, p.total, p.records_so_far
            ));
            bar.inc(1);
        })
        .await
        .with_context(|| format!("fetching {what} from {since} to {until}"))?;
    let summary = meter.finish(client, what, decoded.records.len(), decoded.errors.len());
    Ok((summary, decoded.records))
}
