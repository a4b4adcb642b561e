//! `smart` and `critical`: what changed since the last run.
//!
//! - **Cursors** where Finale has `lastUpdatedDate` (facility, partygroup, product, order):
//!   read `[cursor − overlap, now]` (in ≤ 30-day windows), write, then move the cursor to
//!   `now` in a transaction of its own *after* every batch of the collection committed. A run
//!   killed in between re-reads the span next time; upserts make that harmless.
//! - **Hash diff** where it has not: `inventoryitem` is read whole, summed per (product,
//!   facility) and compared with the stored hashes ([`stock_changes`]); only new, changed and
//!   vanished pairs are written.
//! - **Batches** of `smart_batch` rows, `smart_concurrency` at a time (each batch is one
//!   transaction; the Postgres store has a connection per concurrent batch).
//! - **Critical** runs at critical priority in the request scheduler, ranks items with the
//!   seed's `get_items_needing_sync('critical')` and writes the stock of ranked items first
//!   (most urgent first), skips facilities (reference data for the daily run), then
//!   evaluates the seed's triggers on the refreshed items ([`evaluate`]).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use finale::{
    Collection, Facility, FinaleRecord, InventoryItem, Order, PartyGroup, Priority, Product,
    RecordError,
};
use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use super::full::chunk;
use super::plan::{Cursor, cursor_key};
use super::{
    CriticalItem, CriticalReport, Engine, Meter, Progress, ProgressUpdate, RunOutput, SyncError,
    Thresholds,
};
use crate::pg::Strategy;
use crate::rows::{
    FacilityRow, Hash, Invalid, ItemRow, OrderRow, PartyRow, ProductRow, StockKey, StockRow,
    aggregate_stock, raw_json,
};
use crate::store::{Applied, Batch, PriceChange, Quarantined, Scope};

/// A Finale record the engine mirrors into one table (with owned children).
pub(super) trait Mirror: FinaleRecord + Serialize + Send + Sync + 'static {
    /// The store row.
    type Stored: Send + Sync + 'static;
    /// Converts and validates; `zone` is the account's time zone (an order's business day).
    fn to_row(&self, zone: Tz) -> Result<Self::Stored, Invalid>;
    /// Puts rows into a batch.
    fn put(batch: &mut Batch, rows: Vec<Self::Stored>);
}

impl Mirror for Facility {
    type Stored = FacilityRow;
    fn to_row(&self, _zone: Tz) -> Result<FacilityRow, Invalid> {
        FacilityRow::from_finale(self)
    }
    fn put(batch: &mut Batch, rows: Vec<FacilityRow>) {
        batch.facilities = rows;
    }
}

impl Mirror for PartyGroup {
    type Stored = PartyRow;
    fn to_row(&self, _zone: Tz) -> Result<PartyRow, Invalid> {
        PartyRow::from_finale(self)
    }
    fn put(batch: &mut Batch, rows: Vec<PartyRow>) {
        batch.parties = rows;
    }
}

impl Mirror for Product {
    type Stored = ProductRow;
    fn to_row(&self, _zone: Tz) -> Result<ProductRow, Invalid> {
        ProductRow::from_finale(self)
    }
    fn put(batch: &mut Batch, rows: Vec<ProductRow>) {
        batch.products = rows;
    }
}

impl Mirror for Order {
    type Stored = OrderRow;
    fn to_row(&self, zone: Tz) -> Result<OrderRow, Invalid> {
        OrderRow::from_finale(self, zone)
    }
    fn put(batch: &mut Batch, rows: Vec<OrderRow>) {
        batch.orders = rows;
    }
}

/// Valid rows, and quarantine records for decode problems and invalid records. A record with
/// a bad *optional* cell was delivered by the decoder with that field empty: it is stored and
/// its problem quarantined as well, so nothing is silently lost.
pub(super) fn convert<T: Mirror>(
    records: &[T],
    errors: &[RecordError],
    run_id: i64,
    at: DateTime<Utc>,
    zone: Tz,
) -> (Vec<T::Stored>, Vec<Quarantined>) {
    let collection = T::COLLECTION.path();
    let mut q: Vec<Quarantined> = errors
        .iter()
        .map(|e| super::quarantine_decode(run_id, collection, e, at))
        .collect();
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        match r.to_row(zone) {
            Ok(row) => rows.push(row),
            Err(e) => q.push(super::quarantine_invalid(run_id, &e, Some(raw_json(r)), at)),
        }
    }
    (rows, q)
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

/// The seed's critical triggers on refreshed item rows, most urgent first. Inactive products
/// are left out (they are expected to run out).
pub fn evaluate(
    rows: &[ItemRow],
    price_changes: &[PriceChange],
    t: &Thresholds,
) -> Vec<CriticalItem> {
    let repriced: HashMap<&str, &PriceChange> = price_changes
        .iter()
        .map(|p| (p.product_url.as_str(), p))
        .collect();
    let mut items: Vec<(u8, CriticalItem)> = Vec::new();
    for r in rows {
        if r.status.as_deref() == Some("PRODUCT_INACTIVE") {
            continue;
        }
        let mut reasons = Vec::new();
        let mut urgency = 0u8;
        if r.stock <= 0.0 {
            reasons.push("out_of_stock");
            urgency = urgency.max(100);
        }
        if r.reorder_point.is_some_and(|rp| r.stock <= rp) {
            reasons.push("at_reorder_point");
            urgency = urgency.max(90);
        }
        if r.stock <= t.stock_level {
            reasons.push("low_stock");
            urgency = urgency.max(85);
        }
        if r.sales_velocity_90d > 0.0
            && r.sales_velocity >= t.velocity_multiplier * r.sales_velocity_90d
        {
            reasons.push("velocity_spike");
            urgency = urgency.max(80);
        }
        if repriced.get(r.finale_id.as_str()).is_some_and(|p| {
            changed_more_than(p.cost, t.price_change_pct)
                || changed_more_than(p.list_price, t.price_change_pct)
        }) {
            reasons.push("price_change");
            urgency = urgency.max(70);
        }
        if !reasons.is_empty() {
            items.push((
                urgency,
                CriticalItem {
                    product_url: r.finale_id.clone(),
                    sku: r.sku.clone(),
                    stock: r.stock,
                    reasons,
                },
            ));
        }
    }
    items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.sku.cmp(&b.1.sku)));
    items.into_iter().map(|(_, i)| i).collect()
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
        if self
            .plan_state()
            .await?
            .and_then(|p| p.completed_at)
            .is_none()
        {
            return Err(SyncError::NoFullLoad);
        }
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
        let rows = self
            .refresh_derived(meter, out, Scope::Products(sales), progress)
            .await?;
        step(6, "done");
        if critical {
            let vendor_updates = out.applied.changed_parties.len() as u64;
            out.critical = Some(CriticalReport {
                items: evaluate(&rows, &out.applied.price_changes, &self.settings.thresholds),
                new_orders,
                vendor_updates,
                critical_rows_first: first,
            });
        }
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
        // Finale's filter bounds are whole seconds: the cursor moves to the bound actually sent.
        let now = now.trunc_subsecs(0);
        let since = cursor.until - self.settings.overlap;
        if now <= since {
            return Ok(());
        }
        let mut decoded = self
            .client
            .fetch_changed::<T>(since, now, prio, |w| {
                tracing::debug!(collection = %w.collection, done = w.done, total = w.total, "window read");
            })
            .await?;
        if let Some(orders) = (&mut decoded.records as &mut dyn Any).downcast_mut::<Vec<Order>>() {
            self.client.complete_order_lines(orders, prio).await?;
        }
        meter.saw(decoded.records.len() + decoded.errors.len());
        let (rows, quarantine) = convert(
            &decoded.records,
            &decoded.errors,
            meter.run_id(),
            now,
            self.account_zone(),
        );
        meter.quarantined(&quarantine);
        let batches = chunk(rows, self.settings.smart_batch.max(1), T::put);
        self.write_concurrently(meter, out, batches, now).await?;
        let done = Batch {
            quarantine,
            state: vec![(
                key,
                serde_json::to_value(Cursor { until: now })
                    .map_err(|e| SyncError::State(e.to_string()))?,
            )],
            ..Batch::default()
        };
        out.applied
            .merge(meter.db(self.store.apply(&done, now)).await?);
        Ok(())
    }

    /// Reads the stock snapshot, diffs it and writes the changes, ranked items first.
    /// Returns how many rows were written in the critical-first pass.
    async fn stock(
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
        let (mut changes, quarantine) = (read.changes, read.quarantine);
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
        if !quarantine.is_empty() {
            batches.push(Batch {
                quarantine,
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
        let d = self.client.fetch_all::<InventoryItem>(prio).await?;
        let (rows, invalid) = aggregate_stock(&d.records);
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
            invalid
                .iter()
                .map(|e| super::quarantine_invalid(run_id, e, None, at)),
        );
        Ok(StockRead {
            changes,
            quarantine,
            seen: d.records.len() + d.errors.len(),
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

    fn item(sku: &str, stock: f64, rp: Option<f64>, v30: f64, v90: f64) -> ItemRow {
        let mut r = ItemRow {
            finale_id: format!("/p/{sku}"),
            sku: sku.into(),
            name: None,
            stock,
            reorder_point: rp,
            reorder_quantity: None,
            cost: None,
            price: None,
            sales_velocity: v30,
            sales_velocity_90d: v90,
            days_of_stock: None,
            status: Some("PRODUCT_ACTIVE".into()),
            content_hash: [0; 32],
        };
        r.content_hash = crate::derive::item_hash(&r);
        r
    }

    #[test]
    fn triggers_follow_the_seed() {
        let t = Thresholds::default();
        let rows = vec![
            item("A", 0.0, None, 0.0, 0.0),
            item("B", 20.0, Some(25.0), 0.0, 0.0),
            item("C", 8.0, None, 0.0, 0.0),
            item("D", 100.0, None, 4.0, 2.0),
            item("E", 100.0, None, 3.9, 2.0),
            item("F", 100.0, None, 0.0, 0.0),
            item("G", 100.0, None, 0.0, 0.0),
        ];
        let prices = vec![
            PriceChange {
                product_url: "/p/F".into(),
                cost: (Some(10.0), Some(10.6)),
                list_price: (None, None),
            },
            PriceChange {
                product_url: "/p/G".into(),
                cost: (Some(10.0), Some(10.5)),
                list_price: (Some(20.0), Some(20.0)),
            },
        ];
        let got = evaluate(&rows, &prices, &t);
        let skus: Vec<(&str, Vec<&str>)> = got
            .iter()
            .map(|i| (i.sku.as_str(), i.reasons.clone()))
            .collect();
        assert_eq!(
            skus,
            vec![
                ("A", vec!["out_of_stock", "low_stock"]),
                ("B", vec!["at_reorder_point"]),
                ("C", vec!["low_stock"]),
                ("D", vec!["velocity_spike"]),
                ("F", vec!["price_change"]),
            ],
            "E is below 2x, G moved exactly 5 % (not more)"
        );
    }
}
