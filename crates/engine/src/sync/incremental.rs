//! `smart` and `critical`: what changed since the last run.
//!
//! - **Cursors** where Finale has `lastUpdatedDate` (facility, partygroup, product, order):
//!   read `[cursor − overlap, now]` (in ≤ 30-day windows), write, then move the cursor in a
//!   transaction of its own *after* every batch of the collection committed. A run killed in
//!   between re-reads the span next time; upserts make that harmless.
//! - **Finale's clock, not ours.** The cursor moves to the newest `lastUpdatedDate` received,
//!   bounded by Finale's clock as its `Date` header shows it
//!   ([`finale::FinaleClient::finale_now`], [`next_cursor`]), never to the local clock: a
//!   workstation whose clock runs ahead of Finale's by more than the overlap would otherwise
//!   skip, for everyone sharing the store, every change Finale stamps in between. The read
//!   itself reaches an hour past both clocks ([`LOOKAHEAD`]), so a Finale ahead of us is read
//!   at once. A stored cursor in the future is clamped ([`read_from`]).
//! - **Hash diff** where it has not: `inventoryitem` is read whole, summed per (product,
//!   facility) and compared with the stored hashes ([`stock_changes`]); only new, changed and
//!   vanished pairs are written. A snapshot that reached Finale's entity cap is discarded and
//!   stock is read through GraphQL product pages instead (module [`super::cap`]), so no pair
//!   is ever deleted because it fell off the end of a truncated response.
//! - **Batches** of `smart_batch` rows, `smart_concurrency` at a time (each batch is one
//!   transaction; the Postgres store has a connection per concurrent batch).
//! - **Critical** runs at critical priority in the request scheduler, ranks items with the
//!   seed's `get_items_needing_sync('critical')` and writes the stock of ranked items first
//!   (most urgent first), skips facilities (reference data for the daily run), then
//!   evaluates the seed's triggers on the refreshed items ([`evaluate`]).
//! - **No lost alerts.** Price changes, new orders and changed suppliers that a collection
//!   step wrote are added to `sync_state` ([`PENDING_KEY`], [`PendingAlerts`]) in the same
//!   transaction that moves the step's cursor, by every smart and critical run. A critical
//!   run reports everything pending (a smart run's writes, a failed critical run's, its own)
//!   and then clears it. (A run killed between a step's last write and its cursor move
//!   re-reads the span but finds nothing to write: that one window can still lose an alert.)

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use finale::{
    Collection, Facility, FinaleRecord, Order, PackedQuantities, PartyGroup, Priority, Product,
    RecordError, UnreadableOrder,
};
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};

use super::convert::{aggregate_stock, raw_json};
use super::full::chunk;
use super::plan::{Cursor, cursor_key};
use super::unreadable::{RETRIES_PER_RUN, UNREADABLE_KEY, Unreadable, to_retry};
use super::{
    CriticalItem, CriticalReport, Engine, LocationAlert, Meter, Progress, ProgressUpdate,
    RunOutput, Severity, SyncError, Thresholds,
};
use store::Strategy;
use store::derive::{ItemInput, item_row};
use store::rows::{FacilityRow, Hash, Invalid, OrderRow, PartyRow, ProductRow, StockKey, StockRow};
use store::{Applied, Batch, PriceChange, Quarantined, Scope};

/// A Finale record the engine mirrors into one table (with owned children).
pub(super) trait Mirror: FinaleRecord + Serialize + Send + Sync + 'static {
    /// The store row.
    type Stored: Send + Sync + 'static;
    /// Converts and validates (`packed`: what packed quantities count; `zone`: the account's
    /// time zone, which decides an order's business day).
    fn to_row(&self, packed: PackedQuantities, zone: Tz) -> Result<Self::Stored, Invalid>;
    /// Puts rows into a batch.
    fn put(batch: &mut Batch, rows: Vec<Self::Stored>);
    /// The row's URL when it is a supplier ("vendor updates" count suppliers only).
    fn supplier_url(_row: &Self::Stored) -> Option<&str> {
        None
    }
}

impl Mirror for Facility {
    type Stored = FacilityRow;
    fn to_row(&self, _packed: PackedQuantities, _zone: Tz) -> Result<FacilityRow, Invalid> {
        super::convert::facility_row(self)
    }
    fn put(batch: &mut Batch, rows: Vec<FacilityRow>) {
        batch.facilities = rows;
    }
}

impl Mirror for PartyGroup {
    type Stored = PartyRow;
    fn to_row(&self, _packed: PackedQuantities, _zone: Tz) -> Result<PartyRow, Invalid> {
        super::convert::party_row(self)
    }
    fn put(batch: &mut Batch, rows: Vec<PartyRow>) {
        batch.parties = rows;
    }
    fn supplier_url(row: &PartyRow) -> Option<&str> {
        row.roles
            .iter()
            .any(|r| r == "SUPPLIER")
            .then_some(row.url.as_str())
    }
}

impl Mirror for Product {
    type Stored = ProductRow;
    fn to_row(&self, _packed: PackedQuantities, _zone: Tz) -> Result<ProductRow, Invalid> {
        super::convert::product_row(self)
    }
    fn put(batch: &mut Batch, rows: Vec<ProductRow>) {
        batch.products = rows;
    }
}

impl Mirror for Order {
    type Stored = OrderRow;
    fn to_row(&self, packed: PackedQuantities, zone: Tz) -> Result<OrderRow, Invalid> {
        super::convert::order_row(self, packed, zone)
    }
    fn put(batch: &mut Batch, rows: Vec<OrderRow>) {
        batch.orders = rows;
    }
}

impl Engine {
    /// Valid rows, and quarantine records for decode problems and invalid records, converted
    /// with the account's packing rule and time zone. A record with a bad *optional* cell was
    /// delivered by the decoder with that field empty: it is stored and its problem
    /// quarantined as well, so nothing is silently lost.
    pub(super) fn convert<T: Mirror>(
        &self,
        records: &[T],
        errors: &[RecordError],
        run_id: i64,
        at: DateTime<Utc>,
    ) -> (Vec<T::Stored>, Vec<Quarantined>) {
        let (packed, zone) = (self.client.config().packed_quantities, self.account_zone());
        let collection = T::COLLECTION.path();
        let mut q: Vec<Quarantined> = errors
            .iter()
            .map(|e| super::quarantine_decode(run_id, collection, e, at))
            .collect();
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            match r.to_row(packed, zone) {
                Ok(row) => rows.push(row),
                Err(e) => q.push(super::quarantine_invalid(run_id, &e, Some(raw_json(r)), at)),
            }
        }
        (rows, q)
    }

    /// Completes the lines of orders read without them (a no-op for other records). Orders
    /// whose own GET failed for good are taken out of `records` and quarantined with their
    /// header (module [`super::unreadable`]).
    #[allow(clippy::ptr_arg)] // a `Vec<T>` (sized) is what downcasts to `Vec<Order>`
    pub(super) async fn complete_lines<T: Mirror>(
        &self,
        records: &mut Vec<T>,
        prio: Priority,
        run_id: i64,
        at: DateTime<Utc>,
    ) -> Result<Lines, SyncError> {
        let Some(orders) = (records as &mut dyn Any).downcast_mut::<Vec<Order>>() else {
            return Ok(Lines::default());
        };
        let report = self.client.complete_order_lines(orders, prio).await?;
        let mut quarantine = Vec::new();
        if !report.unreadable.is_empty() {
            let bad: HashMap<&str, &UnreadableOrder> = report
                .unreadable
                .iter()
                .map(|u| (u.url.as_str(), u))
                .collect();
            orders.retain(|o| match bad.get(o.url.as_str()) {
                None => true,
                Some(u) => {
                    quarantine.push(Quarantined {
                        run_id: Some(run_id),
                        collection: Collection::Order.path().to_owned(),
                        record_key: Some(o.url.clone()),
                        reason: format!(
                            "its lines could not be read ({}); retried by later runs",
                            u.reason
                        ),
                        raw_payload: Some(raw_json(o)),
                        raw_text: None,
                        at,
                    });
                    false
                }
            });
        }
        Ok(Lines {
            requests: report.requests,
            refused: report
                .graphql_refused
                .is_some()
                .then_some(super::GRAPHQL_REFUSED),
            quarantine,
            unreadable: report.unreadable,
        })
    }

    /// Reads again, one GET each, the records of `T`'s collection that earlier runs could not
    /// read (the longest-waiting first, at most [`RETRIES_PER_RUN`]), adding those that read
    /// to `records` and counting another attempt for the others.
    async fn retry_unreadable<T: Mirror>(
        &self,
        records: &mut Vec<T>,
        list: &mut Unreadable,
        prio: Priority,
        at: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let collection = T::COLLECTION.path();
        let have: HashSet<String> = records.iter().map(|r| r.key().into_owned()).collect();
        for url in list.due(collection, RETRIES_PER_RUN) {
            if have.contains(&url) {
                continue; // read again by this run's window: completed with the others
            }
            match self.client.fetch_one::<T>(&url, prio).await {
                Ok(r) => records.push(r),
                Err(e) if e.concerns_one_record() => {
                    tracing::warn!(%url, error = %e, "still unreadable");
                    list.failed(collection, &url, &e.to_string(), e.status(), at);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The run's list of unreadable records: read from the store once per run.
    pub(super) async fn unreadable_list(
        &self,
        out: &mut RunOutput,
    ) -> Result<Unreadable, SyncError> {
        match out.unreadable.take() {
            Some(l) => Ok(l),
            None => Ok(self.read_state(UNREADABLE_KEY).await?.unwrap_or_default()),
        }
    }
}

/// What completing orders' lines did ([`Engine::complete_lines`]).
#[derive(Debug, Default)]
pub(super) struct Lines {
    /// Requests made.
    pub requests: u32,
    /// The error pattern to record when GraphQL refused and GETs read the lines instead.
    pub refused: Option<&'static str>,
    /// Quarantine records of the orders taken out (unreadable lines).
    pub quarantine: Vec<Quarantined>,
    /// The orders whose own GET failed for good (taken out of the records).
    pub unreadable: Vec<UnreadableOrder>,
}

impl Lines {
    /// Updates `list` after a read of `collection`: the records read (`read`, by URL) are
    /// taken off; the orders whose lines were unreadable, and the records the read met but
    /// did not store whole (`quarantine`, see [`to_retry`]), are added or counted again.
    pub(super) fn update(
        &self,
        list: &mut Unreadable,
        collection: &str,
        read: &[String],
        quarantine: &[Quarantined],
        at: DateTime<Utc>,
    ) {
        for url in read {
            list.remove(collection, url);
        }
        for (url, reason) in to_retry(quarantine) {
            if !self.unreadable.iter().any(|u| u.url == url) {
                list.failed(collection, url, reason, None, at);
            }
        }
        for u in &self.unreadable {
            list.failed(collection, &u.url, &u.reason, u.status, at);
        }
    }
}

/// What to write after diffing a stock snapshot against the store.
#[derive(Debug, Default, PartialEq)]
pub(super) struct StockChanges {
    /// New or changed pairs.
    pub upserts: Vec<StockRow>,
    /// Stored pairs absent from the snapshot.
    pub deletes: Vec<StockKey>,
}

/// One read of the stock snapshot, diffed with the store ([`Engine::read_stock`]).
pub(super) struct StockRead {
    /// What to write.
    pub changes: StockChanges,
    /// Bad rows, for `sync_errors`.
    pub quarantine: Vec<Quarantined>,
    /// Records read (good and bad).
    pub seen: usize,
    /// Requests made (1, or 1 + the GraphQL pages when the snapshot reached the cap).
    pub requests: u32,
    /// `sync_state` to write with the changes (whether the account is past the cap).
    pub state: Vec<(String, serde_json::Value)>,
}

/// Diffs a stock snapshot with the stored hashes. Pairs touched by a record that failed to
/// decode or validate are left alone (their sum would be incomplete), and when a bad record's
/// pair is unknown nothing is deleted: a partial snapshot must not erase stock.
pub(super) fn stock_changes(
    rows: Vec<StockRow>,
    stored: &BTreeMap<StockKey, Hash>,
    decode_errors: &[RecordError],
    invalid: &[Invalid],
) -> StockChanges {
    let mut untouchable: BTreeSet<StockKey> = BTreeSet::new();
    let mut unknown_bad = false;
    for e in decode_errors {
        match e.key.as_deref().and_then(|k| {
            let mut parts = k.split('|');
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        }) {
            Some(pair) if !pair.0.is_empty() && !pair.1.is_empty() => {
                untouchable.insert(pair);
            }
            _ => unknown_bad = true,
        }
    }
    for e in invalid {
        if let Some((p, f)) = e.key.split_once(" @ ") {
            untouchable.insert((p.to_owned(), f.to_owned()));
        }
    }
    let mut seen: BTreeSet<StockKey> = BTreeSet::new();
    let mut upserts = Vec::new();
    for row in rows {
        let key = row.key();
        if untouchable.contains(&key) {
            seen.insert(key);
            continue;
        }
        if stored.get(&key) != Some(&row.content_hash) {
            upserts.push(row);
        }
        seen.insert(key);
    }
    let deletes = if unknown_bad {
        Vec::new()
    } else {
        stored
            .keys()
            .filter(|k| !seen.contains(*k) && !untouchable.contains(*k))
            .cloned()
            .collect()
    };
    StockChanges { upserts, deletes }
}

/// The seed's critical triggers on refreshed items, most severe first (then by SKU).
/// Inactive products are left out (they are expected to run out).
///
/// Every trigger looks at *available* stock (on hand − reserved); the reorder-point trigger
/// compares each location with its own guideline ([`store::derive::LocationLevel`]) and
/// lists the locations at or below it. Each item carries the [`Severity`] of its most severe
/// trigger.
pub fn evaluate(
    inputs: &[ItemInput],
    price_changes: &[PriceChange],
    t: &Thresholds,
) -> Vec<CriticalItem> {
    let repriced: HashMap<&str, &PriceChange> = price_changes
        .iter()
        .map(|p| (p.product_url.as_str(), p))
        .collect();
    let mut items: Vec<CriticalItem> = Vec::new();
    for i in inputs {
        if i.status.as_deref() == Some("PRODUCT_INACTIVE") {
            continue;
        }
        let r = item_row(i);
        let mut reasons = Vec::new();
        let mut severity: Option<Severity> = None;
        let mut hit = |reason: &'static str, s: Severity| {
            reasons.push(reason);
            severity = severity.max(Some(s));
        };
        if r.available <= 0.0 {
            hit("out_of_stock", Severity::OutOfStock);
        }
        let locations: Vec<LocationAlert> = i
            .locations
            .iter()
            .filter(|l| l.at_reorder_point())
            .map(|l| LocationAlert {
                location_url: l.location_url.clone(),
                available: l.available(),
                reorder_point: l.reorder_point.unwrap_or(0.0),
            })
            .collect();
        if !locations.is_empty() {
            hit("at_reorder_point", Severity::AtReorderPoint);
        }
        if r.available <= t.stock_level {
            hit("low_stock", Severity::LowStock);
        }
        if r.sales_velocity_90d > 0.0
            && r.sales_velocity >= t.velocity_multiplier * r.sales_velocity_90d
        {
            hit("velocity_spike", Severity::VelocitySpike);
        }
        if repriced.get(r.finale_id.as_str()).is_some_and(|p| {
            changed_more_than(p.cost, t.price_change_pct)
                || changed_more_than(p.list_price, t.price_change_pct)
        }) {
            hit("price_change", Severity::PriceMove);
        }
        if let Some(severity) = severity {
            items.push(CriticalItem {
                product_url: r.finale_id.clone(),
                sku: r.sku.clone(),
                stock: r.stock,
                available: r.available,
                severity,
                reasons,
                locations,
            });
        }
    }
    items.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.sku.cmp(&b.sku)));
    items
}

/// How far past the later of Finale's clock and ours a cursor read reaches (see
/// [`next_cursor`]: the bound is never where the cursor goes).
pub(super) const LOOKAHEAD: chrono::Duration = chrono::Duration::hours(1);

/// How far behind Finale's clock the cursor of a collection with no recent change may stay:
/// a quiet collection's read stays one window long, and a Finale whose stamps lag its own
/// `Date` header by less than this still loses nothing.
pub(super) const QUIET_LAG: chrono::Duration = chrono::Duration::hours(1);

/// Where a cursor read starts: the overlap before the stored cursor, or before `now` when the
/// stored cursor lies in the future (written by a machine whose clock ran fast, or before
/// cursors followed Finale's clock): such a cursor is clamped, never trusted.
pub(super) fn read_from(
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
    overlap: chrono::Duration,
) -> DateTime<Utc> {
    cursor.min(now) - overlap
}

/// The cursor after a read: never past what Finale has shown (finale-api.md §8.4: the
/// watermark advances to the newest `lastUpdatedDate` seen). That is the newest change
/// received (`newest`), never behind where the cursor was (`previous`, already clamped to
/// Finale's clock: a change the overlap read again does not move it back); with Finale's clock
/// known from its `Date` header (`shown`, when the read ended) the cursor is also at most that,
/// and at least [`QUIET_LAG`] behind it, so a collection nobody changes keeps a short read.
/// A cursor moved to the local clock would skip every change Finale stamps between its own
/// clock and a faster local one.
pub(super) fn next_cursor(
    shown: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
    previous: DateTime<Utc>,
) -> DateTime<Utc> {
    let cursor = newest.map_or(previous, |n| n.max(previous));
    match shown.map(|t| t.trunc_subsecs(0)) {
        Some(d) => cursor.max(d - QUIET_LAG).min(d),
        None => cursor,
    }
}

/// The `sync_state` key of [`PendingAlerts`].
pub const PENDING_KEY: &str = "critical:pending";

/// What runs wrote that no critical run has reported yet (`sync_state` [`PENDING_KEY`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingAlerts {
    /// Price changes, one per product (the first old value and the last new one).
    pub price_changes: Vec<PriceChange>,
    /// Orders inserted.
    pub new_orders: u64,
    /// Suppliers inserted or changed (URLs, sorted, unique).
    pub vendor_updates: Vec<String>,
}

impl PendingAlerts {
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.price_changes.is_empty() && self.new_orders == 0 && self.vendor_updates.is_empty()
    }

    /// Adds a later run's findings: a product repriced twice keeps its first old and its last
    /// new value.
    pub fn merge(&mut self, price_changes: &[PriceChange], new_orders: u64, vendors: &[String]) {
        for p in price_changes {
            match self
                .price_changes
                .iter_mut()
                .find(|q| q.product_url == p.product_url)
            {
                Some(q) => {
                    q.cost.1 = p.cost.1;
                    q.list_price.1 = p.list_price.1;
                }
                None => self.price_changes.push(p.clone()),
            }
        }
        self.price_changes
            .sort_by(|a, b| a.product_url.cmp(&b.product_url));
        self.new_orders += new_orders;
        self.vendor_updates.extend(vendors.iter().cloned());
        self.vendor_updates.sort();
        self.vendor_updates.dedup();
    }
}

/// Whether a price moved by more than `pct` percent (from or to nothing counts as a change
/// only when the other side is non-zero).
fn changed_more_than((old, new): (Option<f64>, Option<f64>), pct: f64) -> bool {
    match (old, new) {
        (Some(o), Some(n)) if o != 0.0 => ((n - o) / o).abs() * 100.0 > pct,
        (Some(o), Some(n)) => n != o,
        (None, Some(x)) | (Some(x), None) => x != 0.0,
        (None, None) => false,
    }
}

impl Engine {
    pub(super) async fn incremental(
        &self,
        strategy: Strategy,
        meter: &Meter,
        out: &mut RunOutput,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        let critical = strategy == Strategy::Critical;
        let prio = if critical {
            Priority::Critical
        } else {
            Priority::Smart
        };
        self.require_full_load().await?;
        let now = self.now();
        let total = 6;
        let step = |done: u64, phase: &str| {
            progress.update(&ProgressUpdate {
                phase: phase.to_owned(),
                done,
                total,
                records: meter.seen(),
                eta: None,
            });
        };

        // The seed's ranking decides what is written first.
        let mut ranked: HashMap<String, i32> = HashMap::new();
        if critical {
            step(0, "ranking");
            let candidates = meter
                .db(self.store.items_needing_sync(
                    Strategy::Critical,
                    self.settings.critical_limit,
                    now,
                ))
                .await?;
            if !candidates.is_empty() {
                let by_sku: HashMap<String, i32> = candidates
                    .into_iter()
                    .map(|c| (c.sku, c.priority))
                    .collect();
                for i in meter
                    .db(self.store.item_inputs(&Scope::All, self.today(now)))
                    .await?
                {
                    if let Some(p) = by_sku.get(&i.sku) {
                        ranked.insert(i.product_url, *p);
                    }
                }
            }
        }

        if !critical {
            step(1, "facilities");
            self.changed::<Facility>(meter, out, prio, now).await?;
        }
        step(2, "suppliers and customers");
        self.changed::<PartyGroup>(meter, out, prio, now).await?;
        step(3, "products");
        self.changed::<Product>(meter, out, prio, now).await?;
        step(4, "stock");
        let first = self.stock(meter, out, prio, &ranked, now).await?;
        step(5, "orders");
        let orders_before = out.applied.new_orders;
        self.changed::<Order>(meter, out, prio, now).await?;
        let new_orders = out.applied.new_orders - orders_before;

        let mut sales: Vec<String> = std::mem::take(&mut out.applied.sales_products);
        sales.sort();
        sales.dedup();
        out.applied.sales_products = sales.clone();
        let inputs = self
            .refresh_derived(meter, out, Scope::Products(sales), progress)
            .await?;
        step(6, "done");
        if critical {
            // What earlier runs wrote and nobody reported, this run's own writes included
            // (each collection step kept its findings with its cursor, see `changed`).
            let pending = self
                .read_state::<PendingAlerts>(PENDING_KEY)
                .await?
                .unwrap_or_default();
            debug_assert!(pending.new_orders >= new_orders);
            out.critical = Some(CriticalReport {
                items: evaluate(&inputs, &pending.price_changes, &self.settings.thresholds),
                new_orders: pending.new_orders,
                vendor_updates: pending.vendor_updates.len() as u64,
                critical_rows_first: first,
            });
            self.set_pending(meter, &PendingAlerts::default(), now)
                .await?;
        }
        Ok(())
    }

    async fn set_pending(
        &self,
        meter: &Meter,
        pending: &PendingAlerts,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let batch = Batch {
            state: vec![(
                PENDING_KEY.to_owned(),
                serde_json::to_value(pending).map_err(|e| SyncError::State(e.to_string()))?,
            )],
            ..Batch::default()
        };
        meter.db(self.store.apply(&batch, now)).await?;
        Ok(())
    }

    /// Reads one collection's changes since its cursor and writes them; then moves the cursor.
    async fn changed<T: Mirror>(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        prio: Priority,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let c: Collection = T::COLLECTION;
        let key = cursor_key(c);
        let Some(cursor) = self.read_state::<Cursor>(&key).await? else {
            return Err(SyncError::NoFullLoad);
        };
        // Finale's "now" when a response has shown it, else ours (module docs), in whole
        // seconds like Finale's filter bounds. The read reaches `LOOKAHEAD` past the later of
        // the two clocks: a Finale stamping ahead of either is read at once, and the cursor
        // follows only what was received, never the bound.
        let reference = self.client.finale_now().unwrap_or(now).trunc_subsecs(0);
        let upper = (reference.max(now) + LOOKAHEAD).trunc_subsecs(0);
        let previous = cursor.until.min(reference);
        let since = read_from(cursor.until, reference, self.settings.overlap);
        let mut decoded = self
            .client
            .fetch_changed::<T>(since, upper, prio, |w| {
                tracing::debug!(collection = %w.collection, done = w.done, total = w.total, "window read");
            })
            .await?;
        // What Finale has shown: the newest change received, and its clock when the read
        // ended (later requests, such as line completion, must not move the cursor past
        // changes made meanwhile).
        let shown = self.client.finale_now();
        let newest = decoded
            .records
            .iter()
            .filter_map(FinaleRecord::last_updated)
            .max();
        let mut list = self.unreadable_list(out).await?;
        let listed = list.clone();
        self.retry_unreadable(&mut decoded.records, &mut list, prio, now)
            .await?;
        let lines = self
            .complete_lines(&mut decoded.records, prio, meter.run_id(), now)
            .await?;
        if let Some(refused) = lines.refused {
            meter.pattern(refused);
        }
        let read: Vec<String> = decoded
            .records
            .iter()
            .map(|r| r.key().into_owned())
            .collect();
        meter.saw(decoded.records.len() + decoded.errors.len() + lines.unreadable.len());
        let (rows, mut quarantine) =
            self.convert(&decoded.records, &decoded.errors, meter.run_id(), now);
        lines.update(&mut list, c.path(), &read, &quarantine, now);
        quarantine.extend(lines.quarantine);
        meter.quarantined(&quarantine);
        out.suppliers
            .extend(rows.iter().filter_map(T::supplier_url).map(str::to_owned));
        let before = (
            out.applied.price_changes.len(),
            out.applied.new_orders,
            out.applied.changed_parties.len(),
        );
        let batches = chunk(rows, self.settings.smart_batch.max(1), T::put);
        self.write_concurrently(meter, out, batches, now).await?;
        let until = next_cursor(shown, newest, previous);
        if until < cursor.until {
            tracing::warn!(collection = %c, stored = %cursor.until, %until, "the stored cursor was ahead of Finale's clock: moved back");
        }
        let mut state = vec![(
            key,
            serde_json::to_value(Cursor { until }).map_err(|e| SyncError::State(e.to_string()))?,
        )];
        // What the writes found is kept for the next critical run in the cursor's own
        // transaction: a run killed before it re-reads the span, one killed after has it kept.
        let vendors: Vec<String> = out.applied.changed_parties[before.2..]
            .iter()
            .filter(|u| out.suppliers.contains(*u))
            .cloned()
            .collect();
        let prices = &out.applied.price_changes[before.0..];
        let orders = out.applied.new_orders - before.1;
        if !prices.is_empty() || orders > 0 || !vendors.is_empty() {
            let mut pending = self
                .read_state::<PendingAlerts>(PENDING_KEY)
                .await?
                .unwrap_or_default();
            pending.merge(prices, orders, &vendors);
            state.push((
                PENDING_KEY.to_owned(),
                serde_json::to_value(&pending).map_err(|e| SyncError::State(e.to_string()))?,
            ));
        }
        if list != listed {
            state.push((
                UNREADABLE_KEY.to_owned(),
                serde_json::to_value(&list).map_err(|e| SyncError::State(e.to_string()))?,
            ));
        }
        let done = Batch {
            quarantine,
            state,
            ..Batch::default()
        };
        out.applied
            .merge(meter.db(self.store.apply(&done, now)).await?);
        out.unreadable = Some(list);
        Ok(())
    }

    /// Reads the stock snapshot, diffs it and writes the changes, ranked items first.
    /// Returns how many rows were written in the critical-first pass.
    pub(super) async fn stock(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        prio: Priority,
        ranked: &HashMap<String, i32>,
        now: DateTime<Utc>,
    ) -> Result<u64, SyncError> {
        let read = self
            .read_stock(prio, meter.run_id(), now, Some(meter))
            .await?;
        meter.saw(read.seen);
        let (mut changes, quarantine, state) = (read.changes, read.quarantine, read.state);
        meter.quarantined(&quarantine);

        let size = self.settings.smart_batch.max(1);
        // Ranked items first, most urgent first, one batch at a time.
        let (mut first, rest): (Vec<StockRow>, Vec<StockRow>) = changes
            .upserts
            .drain(..)
            .partition(|r| ranked.contains_key(&r.product_url));
        first.sort_by_key(|r| std::cmp::Reverse(ranked.get(&r.product_url).copied().unwrap_or(0)));
        let first_count = first.len() as u64;
        for batch in chunk(first, size, |b, rows| b.stock_upserts = rows) {
            out.applied
                .merge(meter.db(self.store.apply(&batch, now)).await?);
        }
        let mut batches = chunk(rest, size, |b, rows| b.stock_upserts = rows);
        batches.extend(chunk(changes.deletes, size, |b, keys| {
            b.stock_deletes = keys
        }));
        if !quarantine.is_empty() || !state.is_empty() {
            batches.push(Batch {
                quarantine,
                state,
                ..Batch::default()
            });
        }
        self.write_concurrently(meter, out, batches, now).await?;
        Ok(first_count)
    }

    /// Reads Finale's stock snapshot and diffs it with the store: the changes to write and
    /// the quarantine records of bad rows (used by the full load and by smart/critical runs).
    /// `meter`, when there is one, times the store read.
    pub(super) async fn read_stock(
        &self,
        prio: Priority,
        run_id: i64,
        at: DateTime<Utc>,
        meter: Option<&Meter>,
    ) -> Result<StockRead, SyncError> {
        // Never from a capped response (module `cap`).
        let super::cap::StockRecords {
            items: d,
            requests,
            state,
        } = self.stock_records(prio).await?;
        let (rows, rejected) = aggregate_stock(&d.records, self.client.config().packed_quantities);
        let invalid: Vec<Invalid> = rejected.iter().map(|(e, _)| e.clone()).collect();
        let stored = match meter {
            Some(m) => m.db(self.store.stock_hashes()).await?,
            None => self.store.stock_hashes().await?,
        };
        let changes = stock_changes(rows, &stored, &d.errors, &invalid);
        let mut quarantine: Vec<Quarantined> = d
            .errors
            .iter()
            .map(|e| super::quarantine_decode(run_id, "inventoryitem", e, at))
            .collect();
        quarantine.extend(
            rejected
                .into_iter()
                .map(|(e, raw)| super::quarantine_invalid(run_id, &e, raw, at)),
        );
        Ok(StockRead {
            changes,
            quarantine,
            seen: d.records.len() + d.errors.len(),
            requests,
            state,
        })
    }

    /// Applies batches, `smart_concurrency` at a time.
    async fn write_concurrently(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        batches: Vec<Batch>,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let results: Vec<Applied> = stream::iter(batches)
            .map(|b| async move { meter.db(self.store.apply(&b, now)).await })
            .buffer_unordered(self.settings.smart_concurrency.max(1))
            .try_collect()
            .await?;
        for a in results {
            out.applied.merge(a);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::derive::LocationLevel;

    fn row(p: &str, f: &str, on_hand: f64) -> StockRow {
        StockRow::new(p.into(), f.into(), on_hand, 0.0, 0.0)
    }

    fn stored(rows: &[StockRow]) -> BTreeMap<StockKey, Hash> {
        rows.iter().map(|r| (r.key(), r.content_hash)).collect()
    }

    #[test]
    fn stock_diff_writes_only_changes_and_deletes_vanished_pairs() {
        let old = [
            row("/p/1", "/f/1", 5.0),
            row("/p/2", "/f/1", 1.0),
            row("/p/3", "/f/1", 2.0),
        ];
        let new = vec![
            row("/p/1", "/f/1", 5.0),
            row("/p/2", "/f/1", 0.0),
            row("/p/4", "/f/1", 9.0),
        ];
        let c = stock_changes(new, &stored(&old), &[], &[]);
        let up: Vec<_> = c.upserts.iter().map(|r| r.product_url.as_str()).collect();
        assert_eq!(up, ["/p/2", "/p/4"]);
        assert_eq!(c.deletes, vec![("/p/3".to_owned(), "/f/1".to_owned())]);
    }

    #[test]
    fn a_bad_stock_record_protects_its_pair_and_an_unknown_one_blocks_deletes() {
        let old = [row("/p/1", "/f/1", 5.0), row("/p/3", "/f/1", 2.0)];
        let bad = RecordError {
            index: 3,
            field: "quantityOnHand".into(),
            raw: "\"x\"".into(),
            reason: "not a number".into(),
            key: Some("/p/1|/f/1|||".into()),
        };
        // /p/1's only row failed: its pair is neither updated nor deleted.
        let c = stock_changes(vec![], &stored(&old), std::slice::from_ref(&bad), &[]);
        assert_eq!(c.deletes, vec![("/p/3".to_owned(), "/f/1".to_owned())]);
        let unknown = RecordError { key: None, ..bad };
        let c = stock_changes(vec![], &stored(&old), &[unknown], &[]);
        assert!(
            c.deletes.is_empty(),
            "a partial snapshot must not erase stock"
        );
    }

    /// An item with `stock` on hand at one location whose reorder point is `rp`, selling
    /// `u30` units in 30 days and `u90` in 90 (an old product: whole windows).
    fn item(sku: &str, stock: f64, rp: Option<f64>, u30: f64, u90: f64) -> ItemInput {
        ItemInput {
            product_url: format!("/p/{sku}"),
            sku: sku.into(),
            name: None,
            status: Some("PRODUCT_ACTIVE".into()),
            cost: None,
            list_price: None,
            on_hand: stock,
            reserved: 0.0,
            reorder_point: rp,
            reorder_qty: None,
            locations: vec![LocationLevel {
                location_url: Some("/f/main".into()),
                on_hand: stock,
                reserved: 0.0,
                reorder_point: rp,
            }],
            units_30d: u30,
            units_90d: u90,
            created: Some("2020-01-01T00:00:00Z".parse().unwrap()),
            first_sale: None,
            as_of: "2026-06-01".parse().unwrap(),
        }
    }

    fn price(sku: &str, old: f64, new: f64) -> PriceChange {
        PriceChange {
            product_url: format!("/p/{sku}"),
            cost: (Some(old), Some(new)),
            list_price: (None, None),
        }
    }

    #[test]
    fn triggers_follow_the_seed_and_lead_with_severity() {
        let t = Thresholds::default();
        let rows = vec![
            item("A", 0.0, None, 0.0, 0.0),
            item("B", 20.0, Some(25.0), 0.0, 0.0),
            item("C", 8.0, None, 0.0, 0.0),
            item("D", 100.0, None, 120.0, 180.0),
            item("E", 100.0, None, 117.0, 180.0),
            item("F", 100.0, None, 0.0, 0.0),
            item("G", 100.0, None, 0.0, 0.0),
        ];
        let mut prices = vec![price("F", 10.0, 10.6)];
        prices.push(PriceChange {
            list_price: (Some(20.0), Some(20.0)),
            ..price("G", 10.0, 10.5)
        });
        let got = evaluate(&rows, &prices, &t);
        let skus: Vec<(&str, Severity, Vec<&str>)> = got
            .iter()
            .map(|i| (i.sku.as_str(), i.severity, i.reasons.clone()))
            .collect();
        assert_eq!(
            skus,
            vec![
                ("A", Severity::OutOfStock, vec!["out_of_stock", "low_stock"]),
                ("B", Severity::AtReorderPoint, vec!["at_reorder_point"]),
                ("D", Severity::VelocitySpike, vec!["velocity_spike"]),
                ("C", Severity::LowStock, vec!["low_stock"]),
                ("F", Severity::PriceMove, vec!["price_change"]),
            ],
            "E is below 2x, G moved exactly 5 % (not more); a spike outranks low stock"
        );
        assert_eq!(got[1].locations.len(), 1);
        assert_eq!(got[1].locations[0].location_url.as_deref(), Some("/f/main"));
    }

    #[test]
    fn a_location_out_of_stock_is_flagged_while_another_holds_stock() {
        // 0 in the main warehouse (point 20), 150 at the depot (point 20): the totals
        // (150 > 40) hid it.
        let mut i = item("H", 150.0, Some(40.0), 0.0, 0.0);
        i.locations = vec![
            LocationLevel {
                location_url: Some("/f/depot".into()),
                on_hand: 150.0,
                reserved: 0.0,
                reorder_point: Some(20.0),
            },
            LocationLevel {
                location_url: Some("/f/main".into()),
                on_hand: 0.0,
                reserved: 0.0,
                reorder_point: Some(20.0),
            },
        ];
        let got = evaluate(&[i], &[], &Thresholds::default());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].reasons, vec!["at_reorder_point"]);
        let at: Vec<_> = got[0]
            .locations
            .iter()
            .map(|l| (l.location_url.as_deref(), l.available, l.reorder_point))
            .collect();
        assert_eq!(at, vec![(Some("/f/main"), 0.0, 20.0)]);
    }

    #[test]
    fn reserved_stock_is_not_available() {
        // 50 on hand, 50 reserved: nothing to sell.
        let mut i = item("R", 50.0, None, 0.0, 0.0);
        i.reserved = 50.0;
        let got = evaluate(&[i], &[], &Thresholds::default());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].reasons, vec!["out_of_stock", "low_stock"]);
        assert_eq!((got[0].stock, got[0].available), (50.0, 0.0));
    }

    #[test]
    fn young_products_are_no_velocity_spike() {
        // 20 days old, selling 1/day all along: 20 units in both windows.
        let mut i = item("Y", 500.0, None, 20.0, 20.0);
        i.created = Some("2026-05-13T09:00:00Z".parse().unwrap());
        assert!(evaluate(&[i], &[], &Thresholds::default()).is_empty());
    }

    #[test]
    fn a_cursor_never_passes_what_finale_has_shown() {
        let t = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let before = t("2026-06-01T11:00:00Z");
        let newest = Some(t("2026-06-01T11:42:00Z"));
        // The newest change received, whatever our clock says.
        assert_eq!(next_cursor(None, newest, before), t("2026-06-01T11:42:00Z"));
        assert_eq!(
            next_cursor(Some(t("2026-06-01T11:50:00.700Z")), newest, before),
            t("2026-06-01T11:42:00Z")
        );
        // A change the overlap read again does not move it back.
        assert_eq!(
            next_cursor(None, Some(t("2026-06-01T10:58:00Z")), before),
            before
        );
        // Nothing received: it stays, unless Finale's clock is over an hour ahead of it.
        assert_eq!(next_cursor(None, None, before), before);
        assert_eq!(
            next_cursor(Some(t("2026-06-01T11:50:00Z")), None, before),
            before
        );
        assert_eq!(
            next_cursor(Some(t("2026-06-01T15:00:00Z")), None, before),
            t("2026-06-01T14:00:00Z")
        );
        // A change stamped past Finale's own Date: never past the Date.
        assert_eq!(
            next_cursor(
                Some(t("2026-06-01T11:30:00Z")),
                Some(t("2026-06-01T11:40:00Z")),
                before
            ),
            t("2026-06-01T11:30:00Z")
        );
        // A stored cursor in the future is clamped to now before the overlap.
        let overlap = chrono::Duration::minutes(5);
        let now = t("2026-06-01T12:00:00Z");
        assert_eq!(
            read_from(t("2026-06-01T13:00:00Z"), now, overlap),
            t("2026-06-01T11:55:00Z")
        );
        assert_eq!(read_from(before, now, overlap), t("2026-06-01T10:55:00Z"));
    }

    #[test]
    fn pending_alerts_merge_keeps_first_old_and_last_new() {
        let mut p = PendingAlerts::default();
        assert!(p.is_empty());
        p.merge(
            &[price("A", 10.0, 11.0)],
            2,
            &["/s/2".into(), "/s/1".into()],
        );
        p.merge(
            &[price("A", 11.0, 12.0), price("B", 1.0, 2.0)],
            1,
            &["/s/1".into()],
        );
        assert_eq!(p.price_changes.len(), 2);
        assert_eq!(p.price_changes[0].cost, (Some(10.0), Some(12.0)));
        assert_eq!(p.new_orders, 3);
        assert_eq!(p.vendor_updates, vec!["/s/1", "/s/2"]);
    }
}
