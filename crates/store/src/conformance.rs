//! The store conformance suite (feature `testing`): what every [`Store`] must do, checked
//! through the trait only, so the Postgres and SQLite stores pass the very same checks.
//!
//! Each check is a `pub async fn(&dyn Store)` that takes a **fresh, empty, migrated** store
//! and panics with a message naming the store and the broken promise. [`CHECKS`] lists them
//! all; `store::conformance_tests!` turns the list into one
//! `#[tokio::test]` per check for a store factory:
//!
//! ```ignore
//! // tests/sqlite/main.rs
//! mod memory {
//!     store::conformance_tests!(async || {
//!         engine::sqlite::SqliteStore::open_in_memory().expect("in-memory store")
//!     });
//! }
//! // A factory may return `(guard, store)`: the guard (a temp dir, a `TestDb`) lives as long
//! // as the test.
//! mod file {
//!     store::conformance_tests!(async || {
//!         let dir = tempfile::tempdir().expect("temp dir");
//!         let store = engine::sqlite::SqliteStore::open(dir.path().join("store.sqlite"))
//!             .expect("file store");
//!         (dir, store)
//!     });
//! }
//! ```
//!
//! # Conventions the checks pin down (beyond `store.rs`)
//!
//! - [`Applied::by_table`] may omit tables without writes; the checks read a missing table as
//!   zero. Owned children of a changed parent are compared with the stored ones by position
//!   (`seq`): an equal row is not written, a differing one counts as updated, a position
//!   beyond the new list as deleted, a new position as inserted.
//! - List fields of [`Applied`] are compared as sets (order and duplicates are free).
//! - A key appearing twice in one batch is written once, with its last occurrence.
//! - `job_done` naming a job that does not exist fails the batch (nothing is written).
//! - [`Store::write_marks`] has (at least) one entry per mirror and derived table, named
//!   after it; writing one table changes its mark and no other table's.
//! - [`StoreError::WriterBusy`]'s holder is `"<runner> (<purpose>)"`.
//! - Fixtures use millisecond timestamps (SQLite keeps ms, Postgres µs) and numbers that are
//!   exact in binary, so sums are exact whatever order a store adds in.
//! - Time-based ranking ([`Store::items_needing_sync`]) is checked against the real clock:
//!   Postgres' `get_items_needing_sync` reads `NOW()` by definition.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::json;

use crate::derive::{ItemInput, item_hash};
use crate::rows::{
    DailySalesRow, FacilityRow, GuidelineRow, ItemRow, LineRow, OrderRow, PartyRow, ProductRow,
    StockRow, SupplierLinkRow, business_day,
};
use crate::{
    Applied, Batch, BudgetSpend, JobDone, JobKind, JobStatus, PlannedJob, Quarantined, RunMetrics,
    Scope, Store, StoreError, Strategy, WriterInfo, Writes,
};

// ---------------------------------------------------------------------------------------------
// The list and the test generator

/// A check's future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One conformance check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// The check's function name.
    pub name: &'static str,
    /// Runs it against a fresh, empty, migrated store.
    pub run: for<'a> fn(&'a dyn Store) -> CheckFuture<'a>,
}

/// Something that owns a store for the length of a test: a store, a boxed one, or a
/// `(guard, store)` pair whose guard (a temporary directory, a test database) must outlive it.
pub trait StoreHandle: Send + Sync {
    /// The store.
    fn store(&self) -> &dyn Store;
}

impl<S: Store> StoreHandle for S {
    fn store(&self) -> &dyn Store {
        self
    }
}

impl StoreHandle for Box<dyn Store> {
    fn store(&self) -> &dyn Store {
        self.as_ref()
    }
}

impl StoreHandle for Arc<dyn Store> {
    fn store(&self) -> &dyn Store {
        self.as_ref()
    }
}

impl<G: Send + Sync, S: Store> StoreHandle for (G, S) {
    fn store(&self) -> &dyn Store {
        &self.1
    }
}

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        /// Every check, in a stable order.
        pub const CHECKS: &[Check] = &[$(Check {
            name: stringify!($name),
            run: {
                fn run(store: &dyn Store) -> CheckFuture<'_> {
                    Box::pin($name(store))
                }
                run
            },
        }),*];

        /// Generates one `#[tokio::test]` per conformance check (see the module docs), plus
        /// one test that the generated list is [`CHECKS`](crate::conformance::CHECKS).
        /// `$factory` is an async closure returning a fresh, empty, migrated
        /// [`StoreHandle`](crate::conformance::StoreHandle).
        #[macro_export]
        macro_rules! conformance_tests {
            ($factory:expr) => {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let handle = ($factory)().await;
                        $crate::conformance::$name(
                            $crate::conformance::StoreHandle::store(&handle),
                        )
                        .await;
                    }
                )*

                #[test]
                fn conformance_covers_every_check() {
                    let generated: &[&str] = &[$(stringify!($name)),*];
                    let listed: ::std::vec::Vec<&str> =
                        $crate::conformance::CHECKS.iter().map(|c| c.name).collect();
                    assert_eq!(generated, listed.as_slice());
                }
            };
        }
    };
}

checks!(
    apply_inserts_and_reports,
    identical_reapply_writes_nothing,
    duplicate_keys_in_a_batch_write_the_last,
    changed_product_writes_changed_children,
    unchanged_children_are_not_written,
    price_changes_only_for_existing_products,
    order_change_reports_sales_products,
    non_sales_orders_do_not_affect_daily_sales,
    stock_upserts_deletes_and_hashes,
    refresh_daily_sales_sums_per_utc_day,
    refresh_daily_sales_writes_only_changes,
    refresh_daily_sales_groups_by_business_day,
    set_order_days_follows_the_account_zone,
    item_inputs_sum_stock_guidelines_and_sales,
    upsert_items_writes_content_and_confirms,
    job_done_is_atomic_with_its_batch,
    plan_backfill_is_idempotent,
    backfill_job_lifecycle,
    reset_interrupted_jobs_only_touches_running,
    runs_begin_finish_recent_and_close,
    last_successes_see_past_many_pulses,
    quarantine_round_trips,
    state_is_set_by_batches,
    budget_ledger_adds_reads_and_prunes,
    writer_lease_is_exclusive,
    writer_lease_wait,
    writer_lease_is_renewed_and_shown,
    an_expired_writer_lease_is_taken_over,
    snapshot_round_trips_every_field,
    items_needing_sync_ranks,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

const ACME: &str = "/acme/api";

/// A UTC timestamp from RFC 3339 text (fixtures: millisecond precision at most).
fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("fixture timestamp")
        .with_timezone(&Utc)
}

/// The base instant of the checks' clocks.
fn t0() -> DateTime<Utc> {
    t("2026-03-10T08:00:00.000Z")
}

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

fn url(kind: &str, id: &str) -> String {
    format!("{ACME}/{kind}/{id}")
}

fn p(id: u32) -> String {
    url("product", &id.to_string())
}

fn fac(id: u32) -> String {
    url("facility", &id.to_string())
}

fn facility(id: u32, parent: Option<u32>) -> FacilityRow {
    let mut f = FacilityRow {
        url: fac(id),
        facility_id: id.to_string(),
        name: Some(format!("Facility {id}")),
        parent_url: parent.map(fac),
        status: Some("FACILITY_ACTIVE".into()),
        facility_type: Some(
            if parent.is_some() {
                "SHELF"
            } else {
                "WAREHOUSE"
            }
            .into(),
        ),
        shipping_disabled: Some(false),
        receiving_disabled: None,
        finale_created: Some(t("2020-01-02T03:04:05.006Z")),
        finale_last_updated: Some(t("2025-11-01T10:00:00.250Z")),
        content_hash: [0; 32],
    };
    f.content_hash = f.hash();
    f
}

fn party(id: u32, role: &str) -> PartyRow {
    let mut row = PartyRow {
        url: url("partygroup", &id.to_string()),
        party_id: id.to_string(),
        name: Some(format!("Party {id}")),
        roles: vec![role.to_owned()],
        status: Some("PARTY_ENABLED".into()),
        contacts: json!([{"contactMechTypeId": "EMAIL_ADDRESS", "infoString": format!("p{id}@example.com")}]),
        user_fields: json!({}),
        finale_last_updated: Some(t("2025-12-24T18:30:00.000Z")),
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    row
}

fn supplier(party: u32, price: f64, main: bool) -> SupplierLinkRow {
    SupplierLinkRow {
        supplier_url: Some(url("partygroup", &party.to_string())),
        supplier_sku: Some(format!("S{party}")),
        pref_order_id: Some(if main { "10_MAIN" } else { "20_ALT" }.into()),
        is_main: main,
        price: Some(price),
        currency: Some("USD".into()),
        lead_time_days: Some(7.0),
    }
}

fn guideline(facility: u32, point: Option<f64>, qty: Option<f64>) -> GuidelineRow {
    GuidelineRow {
        facility_url: Some(fac(facility)),
        reorder_point: point,
        reorder_qty: qty,
        calculation_method: Some("MANUAL".into()),
    }
}

fn product(id: u32, cost: Option<f64>, list_price: Option<f64>) -> ProductRow {
    let mut row = ProductRow {
        url: p(id),
        sku: format!("SKU-{id}"),
        name: Some(format!("Product {id}")),
        status: Some("PRODUCT_ACTIVE".into()),
        product_type: Some("GOOD".into()),
        category: Some("Widgets".into()),
        upc: Some(format!("0000{id}")),
        cost,
        lead_time_days: Some(3.0),
        packing: None,
        list_price,
        user_fields: json!({"Bin": "A-1"}),
        finale_created: Some(t("2021-06-01T00:00:00.000Z")),
        finale_last_updated: Some(t("2026-02-01T12:00:00.500Z")),
        suppliers: vec![supplier(1, 1.25, true)],
        guidelines: vec![guideline(101, Some(5.0), Some(20.0))],
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    row
}

/// A product with every hashed field recomputed after edits.
fn rehash_product(mut row: ProductRow) -> ProductRow {
    row.content_hash = row.hash();
    row
}

fn rehash_order(mut row: OrderRow) -> OrderRow {
    row.content_hash = row.hash();
    row
}

fn line(product: Option<u32>, quantity: f64, unit_price: Option<f64>) -> LineRow {
    LineRow {
        order_item_url: None,
        product_url: product.map(p),
        product_id: product.map(|id| format!("SKU-{id}")),
        quantity,
        unit_price,
    }
}

fn order(
    id: &str,
    order_type: &str,
    status: Option<&str>,
    date: Option<DateTime<Utc>>,
    lines: Vec<LineRow>,
) -> OrderRow {
    let total = lines
        .iter()
        .map(|l| l.quantity * l.unit_price.unwrap_or(0.0))
        .sum::<f64>();
    rehash_order(OrderRow {
        url: url("order", id),
        order_id: id.to_owned(),
        order_type: order_type.to_owned(),
        status: status.map(str::to_owned),
        order_date: date,
        order_day: date.map(|d| business_day(d, chrono_tz::UTC)),
        due_date: None,
        origin_facility_url: Some(fac(101)),
        destination_facility_url: None,
        party_url: Some(url("partygroup", "2")),
        total: Some(total),
        reference_number: None,
        finale_created: date,
        finale_last_updated: date,
        lines,
        content_hash: [0; 32],
    })
}

fn sale(id: &str, date: &str, lines: Vec<LineRow>) -> OrderRow {
    order(
        id,
        "SALES_ORDER",
        Some("ORDER_COMPLETED"),
        Some(t(date)),
        lines,
    )
}

fn stock(product: u32, facility: u32, on_hand: f64) -> StockRow {
    StockRow::new(p(product), fac(facility), on_hand, 0.0, 0.0)
}

fn item(sku: &str, stock: f64, reorder_point: Option<f64>, velocity: f64) -> ItemRow {
    let mut row = ItemRow {
        finale_id: url("product", sku),
        sku: sku.to_owned(),
        name: Some(format!("Item {sku}")),
        stock,
        available: stock - 1.0,
        reorder_point,
        reorder_quantity: reorder_point.map(|r| r * 2.0),
        cost: Some(1.5),
        price: Some(3.0),
        sales_velocity: velocity,
        sales_velocity_90d: velocity / 2.0,
        days_of_stock: (velocity > 0.0).then(|| stock.max(0.0) / velocity),
        status: Some("PRODUCT_ACTIVE".into()),
        content_hash: [0; 32],
    };
    row.content_hash = item_hash(&row);
    row
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("fixture day")
}

fn ds(product: u32, d: &str, units: f64, revenue: f64) -> DailySalesRow {
    DailySalesRow {
        product_url: p(product),
        day: day(d),
        units,
        revenue,
    }
}

fn planned(collection: &str, kind: JobKind, start: &str, end: &str) -> PlannedJob {
    PlannedJob {
        collection: collection.to_owned(),
        kind,
        window_start: t(start),
        window_end: t(end),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

async fn apply(store: &dyn Store, batch: &Batch, now: DateTime<Utc>) -> Applied {
    store
        .apply(batch, now)
        .await
        .unwrap_or_else(|e| panic!("{}: apply failed: {e:?}", store.describe()))
}

async fn snapshot(store: &dyn Store) -> crate::Snapshot {
    store
        .snapshot()
        .await
        .unwrap_or_else(|e| panic!("{}: snapshot failed: {e:?}", store.describe()))
}

async fn marks(store: &dyn Store) -> BTreeMap<String, String> {
    store
        .write_marks()
        .await
        .unwrap_or_else(|e| panic!("{}: write_marks failed: {e:?}", store.describe()))
}

async fn refresh(store: &dyn Store, scope: &Scope, now: DateTime<Utc>) -> Writes {
    store
        .refresh_daily_sales(scope, now)
        .await
        .unwrap_or_else(|e| panic!("{}: refresh_daily_sales failed: {e:?}", store.describe()))
}

async fn jobs(store: &dyn Store) -> Vec<crate::BackfillJob> {
    store
        .backfill_jobs()
        .await
        .unwrap_or_else(|e| panic!("{}: backfill_jobs failed: {e:?}", store.describe()))
}

fn w(inserted: u64, updated: u64, deleted: u64) -> Writes {
    Writes {
        inserted,
        updated,
        deleted,
    }
}

/// `applied.by_table` is exactly `expected` (tables not named: no writes).
fn assert_writes(store: &dyn Store, what: &str, applied: &Applied, expected: &[(&str, Writes)]) {
    let expected: BTreeMap<&str, Writes> = expected.iter().copied().collect();
    let tables: BTreeSet<&str> = applied
        .by_table
        .keys()
        .copied()
        .chain(expected.keys().copied())
        .collect();
    for table in tables {
        let got = applied.by_table.get(table).copied().unwrap_or_default();
        let want = expected.get(table).copied().unwrap_or_default();
        assert_eq!(
            got,
            want,
            "{}: {what}: writes to `{table}` (whole report: {applied:?})",
            store.describe()
        );
    }
}

fn set<S: AsRef<str>>(v: &[S]) -> BTreeSet<String> {
    v.iter().map(|s| s.as_ref().to_owned()).collect()
}

fn urls(ids: &[u32]) -> BTreeSet<String> {
    ids.iter().map(|&i| p(i)).collect()
}

fn assert_nothing_applied(store: &dyn Store, what: &str, a: &Applied) {
    assert_writes(store, what, a, &[]);
    assert!(
        a.changed_products.is_empty()
            && a.price_changes.is_empty()
            && a.changed_parties.is_empty()
            && a.stock_products.is_empty()
            && a.sales_products.is_empty()
            && a.new_orders == 0,
        "{}: {what}: expected an empty report, got {a:?}",
        store.describe()
    );
}

/// The tables whose marks differ between two readings.
fn changed_marks(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> BTreeSet<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn assert_marks_changed(
    store: &dyn Store,
    what: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    tables: &[&str],
) {
    assert_eq!(
        changed_marks(before, after),
        set(tables),
        "{}: {what}: tables whose write marks changed",
        store.describe()
    );
}

/// Every mirror and derived table has a mark.
const MARKED: [&str; 10] = crate::DATA_TABLES;

fn sorted_by<T: Clone, K: Ord>(v: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_by_key(|x| key(x));
    v
}

/// The batch most checks start from: two facilities, two parties, two products, one sales
/// order with three lines (one without a product), two stock rows.
fn base_batch() -> Batch {
    let mut p1 = product(1, Some(2.0), Some(5.0));
    p1.suppliers.push(supplier(3, 1.5, false));
    let p1 = rehash_product(p1);
    let mut p2 = product(2, None, Some(9.5));
    p2.suppliers.clear();
    p2.guidelines.clear();
    let p2 = rehash_product(p2);
    Batch {
        facilities: vec![facility(100, None), facility(101, Some(100))],
        parties: vec![party(1, "SUPPLIER"), party(2, "CUSTOMER")],
        products: vec![p1, p2],
        orders: vec![sale(
            "SO-1",
            "2026-03-01T10:00:00.000Z",
            vec![
                line(Some(1), 2.0, Some(5.0)),
                line(Some(2), 1.0, Some(9.5)),
                line(None, 1.0, Some(4.0)),
            ],
        )],
        stock_upserts: vec![stock(1, 101, 10.0), stock(2, 101, 4.5)],
        ..Batch::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Checks: apply

/// A first apply inserts every row and reports exactly what it wrote.
pub async fn apply_inserts_and_reports(store: &dyn Store) {
    let name = store.describe();
    assert!(!name.is_empty(), "describe() is empty");
    let mut batch = base_batch();
    let at = t("2026-03-10T07:59:00.123Z");
    batch.quarantine = vec![Quarantined {
        run_id: None,
        collection: "product".into(),
        record_key: Some(p(99)),
        reason: "cost: NaN is not a number".into(),
        raw_payload: Some(json!({"productUrl": p(99), "cost": "NaN"})),
        raw_text: None,
        at,
    }];
    batch.state = vec![(
        "cursor:product".into(),
        json!({"at": "2026-03-10T07:00:00Z"}),
    )];
    let a = apply(store, &batch, t0()).await;
    assert_writes(
        store,
        "first apply",
        &a,
        &[
            ("facilities", w(2, 0, 0)),
            ("parties", w(2, 0, 0)),
            ("products", w(2, 0, 0)),
            ("product_suppliers", w(2, 0, 0)),
            ("reorder_guidelines", w(1, 0, 0)),
            ("orders", w(1, 0, 0)),
            ("order_lines", w(3, 0, 0)),
            ("stock", w(2, 0, 0)),
            ("sync_errors", w(1, 0, 0)),
        ],
    );
    assert_eq!(a.rows_written(), 15, "{name}: rows_written");
    assert_eq!(
        set(&a.changed_products),
        urls(&[1, 2]),
        "{name}: changed_products"
    );
    assert!(
        a.price_changes.is_empty(),
        "{name}: new products are no price changes: {a:?}"
    );
    assert_eq!(
        set(&a.changed_parties),
        set(&[url("partygroup", "1"), url("partygroup", "2")]),
        "{name}: changed_parties"
    );
    assert_eq!(
        set(&a.stock_products),
        urls(&[1, 2]),
        "{name}: stock_products"
    );
    assert_eq!(
        set(&a.sales_products),
        urls(&[1, 2]),
        "{name}: sales_products"
    );
    assert_eq!(a.new_orders, 1, "{name}: new_orders");

    let s = snapshot(store).await;
    assert_eq!(s.facilities, batch.facilities, "{name}: facilities");
    assert_eq!(s.parties, batch.parties, "{name}: parties");
    assert_eq!(s.products, batch.products, "{name}: products");
    assert_eq!(s.orders, batch.orders, "{name}: orders");
    assert_eq!(s.stock, batch.stock_upserts, "{name}: stock");
    assert!(
        s.daily_sales.is_empty() && s.items.is_empty(),
        "{name}: derived tables untouched"
    );
    let q = store.quarantined(10).await.expect("quarantined");
    assert_eq!(q.len(), 1, "{name}: quarantine");
    assert_eq!(
        q[0].record, batch.quarantine[0],
        "{name}: quarantined record"
    );
    assert_eq!(
        store.get_state("cursor:product").await.expect("get_state"),
        Some(batch.state[0].1.clone()),
        "{name}: state"
    );
}

/// Applying the same rows again (later) writes nothing, in any table, and a repeated
/// derivation writes nothing either; a real change moves exactly its tables' marks.
pub async fn identical_reapply_writes_nothing(store: &dyn Store) {
    let name = store.describe();
    let batch = base_batch();
    apply(store, &batch, t0()).await;
    refresh(store, &Scope::All, t0()).await;
    let items = vec![item("A", 3.0, Some(1.0), 0.5), item("B", 0.0, None, 0.0)];
    let iw = store
        .upsert_items(&items, t0(), t0() - minutes(60))
        .await
        .expect("upsert_items");
    assert_eq!(iw.writes, w(2, 0, 0), "{name}: items inserted");
    let m1 = marks(store).await;
    for table in MARKED {
        assert!(
            m1.contains_key(table),
            "{name}: write_marks has no `{table}`: {m1:?}"
        );
    }

    let later = t0() + minutes(90);
    let mut again = batch.clone();
    again.facilities.reverse();
    again.products.reverse();
    let a = apply(store, &again, later).await;
    assert_nothing_applied(store, "identical re-apply", &a);
    assert_eq!(
        refresh(store, &Scope::All, later).await,
        Writes::default(),
        "{name}: refresh"
    );
    let iw = store
        .upsert_items(&items, later, t0() - minutes(60))
        .await
        .expect("upsert_items");
    assert_eq!(
        (iw.writes, iw.confirmed),
        (Writes::default(), 0),
        "{name}: items again"
    );
    let m2 = marks(store).await;
    assert_eq!(m1, m2, "{name}: write marks moved although nothing changed");

    // One changed stock row: only `stock` moves.
    let b = Batch {
        stock_upserts: vec![stock(1, 101, 11.0)],
        ..Batch::default()
    };
    let a = apply(store, &b, later + minutes(1)).await;
    assert_writes(store, "one stock change", &a, &[("stock", w(0, 1, 0))]);
    let m3 = marks(store).await;
    assert_marks_changed(store, "one stock change", &m2, &m3, &["stock"]);
}

/// A key twice in one batch is written once, with its last occurrence.
pub async fn duplicate_keys_in_a_batch_write_the_last(store: &dyn Store) {
    let name = store.describe();
    let first = product(1, Some(1.0), Some(2.0));
    let mut last = product(1, Some(1.0), Some(2.0));
    last.name = Some("The last one".into());
    let last = rehash_product(last);
    let batch = Batch {
        products: vec![first, last.clone()],
        stock_upserts: vec![stock(1, 101, 1.0), stock(1, 101, 2.0)],
        ..Batch::default()
    };
    let a = apply(store, &batch, t0()).await;
    assert_writes(
        store,
        "duplicates",
        &a,
        &[
            ("products", w(1, 0, 0)),
            ("product_suppliers", w(1, 0, 0)),
            ("reorder_guidelines", w(1, 0, 0)),
            ("stock", w(1, 0, 0)),
        ],
    );
    let s = snapshot(store).await;
    assert_eq!(
        s.products,
        vec![last],
        "{name}: the last occurrence is stored"
    );
    assert_eq!(
        s.stock,
        vec![stock(1, 101, 2.0)],
        "{name}: the last stock row is stored"
    );
}

/// A changed product's children are written by position (lists shrink and grow): equal rows
/// stay, differing ones are updated, vanished positions deleted, new ones inserted; unchanged
/// products are not touched.
pub async fn changed_product_writes_changed_children(store: &dyn Store) {
    let name = store.describe();
    let mut p1 = product(1, Some(2.0), Some(5.0));
    p1.suppliers = vec![supplier(1, 1.0, true), supplier(3, 1.1, false)];
    p1.guidelines = vec![guideline(101, Some(5.0), Some(10.0))];
    let p1 = rehash_product(p1);
    let p2 = product(2, Some(1.0), Some(2.0));
    let a = apply(
        store,
        &Batch {
            products: vec![p1.clone(), p2.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_writes(
        store,
        "insert",
        &a,
        &[
            ("products", w(2, 0, 0)),
            ("product_suppliers", w(3, 0, 0)),
            ("reorder_guidelines", w(2, 0, 0)),
        ],
    );
    let m1 = marks(store).await;

    // Grow the supplier list (position 0 changes, 1 stays, 2 is new), drop the guidelines.
    let mut grown = p1.clone();
    grown.suppliers.push(supplier(4, 0.75, false));
    grown.suppliers[0].price = Some(0.5);
    grown.guidelines.clear();
    let grown = rehash_product(grown);
    let a = apply(
        store,
        &Batch {
            products: vec![grown.clone(), p2.clone()],
            ..Batch::default()
        },
        t0() + minutes(1),
    )
    .await;
    assert_writes(
        store,
        "grow suppliers, drop guidelines",
        &a,
        &[
            ("products", w(0, 1, 0)),
            ("product_suppliers", w(1, 1, 0)),
            ("reorder_guidelines", w(0, 0, 1)),
        ],
    );
    assert_eq!(
        set(&a.changed_products),
        urls(&[1]),
        "{name}: only the changed product"
    );
    let s = snapshot(store).await;
    assert_eq!(
        s.products,
        vec![grown.clone(), p2.clone()],
        "{name}: after growing"
    );
    let m2 = marks(store).await;
    assert_marks_changed(
        store,
        "grow suppliers, drop guidelines",
        &m1,
        &m2,
        &["products", "product_suppliers", "reorder_guidelines"],
    );

    // Shrink to one supplier, bring two guidelines back.
    let mut shrunk = grown.clone();
    shrunk.suppliers.truncate(1);
    shrunk.guidelines = vec![
        guideline(101, Some(1.0), None),
        guideline(102, None, Some(4.0)),
    ];
    let shrunk = rehash_product(shrunk);
    let a = apply(
        store,
        &Batch {
            products: vec![shrunk.clone()],
            ..Batch::default()
        },
        t0() + minutes(2),
    )
    .await;
    assert_writes(
        store,
        "shrink suppliers, add guidelines",
        &a,
        &[
            ("products", w(0, 1, 0)),
            ("product_suppliers", w(0, 0, 2)),
            ("reorder_guidelines", w(2, 0, 0)),
        ],
    );
    let s = snapshot(store).await;
    assert_eq!(s.products, vec![shrunk, p2], "{name}: after shrinking");
}

/// A changed parent whose children are all equal writes no child row (no row version: the
/// child tables' marks stay); a list that shrinks by one and changes one line writes exactly
/// that, and the product only on the dropped line still counts as a sales product.
pub async fn unchanged_children_are_not_written(store: &dyn Store) {
    let name = store.describe();
    let mut p1 = product(1, Some(2.0), Some(5.0));
    p1.suppliers = vec![supplier(1, 1.0, true), supplier(3, 1.1, false)];
    p1.guidelines = vec![
        guideline(101, Some(5.0), Some(10.0)),
        guideline(102, None, Some(4.0)),
    ];
    let p1 = rehash_product(p1);
    let so = sale(
        "SO-1",
        "2026-03-01T10:00:00.000Z",
        vec![
            line(Some(1), 1.0, Some(2.0)),
            line(Some(2), 2.0, Some(2.0)),
            line(Some(3), 3.0, Some(2.0)),
        ],
    );
    let a = apply(
        store,
        &Batch {
            products: vec![p1.clone()],
            orders: vec![so.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_writes(
        store,
        "insert",
        &a,
        &[
            ("products", w(1, 0, 0)),
            ("product_suppliers", w(2, 0, 0)),
            ("reorder_guidelines", w(2, 0, 0)),
            ("orders", w(1, 0, 0)),
            ("order_lines", w(3, 0, 0)),
        ],
    );
    let m1 = marks(store).await;

    // Only the cost changes: the product is updated, its children are not written.
    let mut cheaper = p1.clone();
    cheaper.cost = Some(1.5);
    let cheaper = rehash_product(cheaper);
    let a = apply(
        store,
        &Batch {
            products: vec![cheaper.clone()],
            ..Batch::default()
        },
        t0() + minutes(1),
    )
    .await;
    assert_writes(store, "cost change", &a, &[("products", w(0, 1, 0))]);
    assert_eq!(
        a.price_changes.len(),
        1,
        "{name}: cost change: the price change is reported: {a:?}"
    );
    assert_eq!(set(&a.changed_products), urls(&[1]), "{name}: cost change");
    let m2 = marks(store).await;
    assert_marks_changed(store, "cost change", &m1, &m2, &["products"]);

    // Only the status changes: the order is updated, its lines are not written.
    let mut locked = so.clone();
    locked.status = Some("ORDER_LOCKED".into());
    let locked = rehash_order(locked);
    let a = apply(
        store,
        &Batch {
            orders: vec![locked.clone()],
            ..Batch::default()
        },
        t0() + minutes(2),
    )
    .await;
    assert_writes(store, "status change", &a, &[("orders", w(0, 1, 0))]);
    assert_eq!(
        set(&a.sales_products),
        urls(&[1, 2, 3]),
        "{name}: status change: the order's products"
    );
    let m3 = marks(store).await;
    assert_marks_changed(store, "status change", &m2, &m3, &["orders"]);

    // One line fewer and one changed: exactly one update and one delete; product 3, only on
    // the dropped line, still needs its sales recomputed.
    let mut shrunk = locked.clone();
    shrunk.lines.truncate(2);
    shrunk.lines[1].quantity = 5.0;
    let shrunk = rehash_order(shrunk);
    let a = apply(
        store,
        &Batch {
            orders: vec![shrunk.clone()],
            ..Batch::default()
        },
        t0() + minutes(3),
    )
    .await;
    assert_writes(
        store,
        "shrink and change a line",
        &a,
        &[("orders", w(0, 1, 0)), ("order_lines", w(0, 1, 1))],
    );
    assert_eq!(
        set(&a.sales_products),
        urls(&[1, 2, 3]),
        "{name}: shrink: old and new line products"
    );
    let m4 = marks(store).await;
    assert_marks_changed(
        store,
        "shrink and change a line",
        &m3,
        &m4,
        &["orders", "order_lines"],
    );
    let s = snapshot(store).await;
    assert_eq!(s.products, vec![cheaper], "{name}: stored product");
    assert_eq!(s.orders, vec![shrunk], "{name}: stored order");
}

/// Price changes are reported for existing products whose cost or list price changed, not
/// for new products or other edits.
pub async fn price_changes_only_for_existing_products(store: &dyn Store) {
    let name = store.describe();
    let p1 = product(1, Some(2.0), Some(5.0));
    let a = apply(
        store,
        &Batch {
            products: vec![p1.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert!(
        a.price_changes.is_empty(),
        "{name}: a new product is no price change"
    );

    let mut renamed = p1.clone();
    renamed.name = Some("Renamed".into());
    let renamed = rehash_product(renamed);
    let a = apply(
        store,
        &Batch {
            products: vec![renamed.clone(), product(2, Some(1.0), Some(1.0))],
            ..Batch::default()
        },
        t0() + minutes(1),
    )
    .await;
    assert_eq!(
        set(&a.changed_products),
        urls(&[1, 2]),
        "{name}: changed_products"
    );
    assert!(
        a.price_changes.is_empty(),
        "{name}: a rename is no price change: {a:?}"
    );

    let mut cost = renamed.clone();
    cost.cost = Some(2.5);
    let cost = rehash_product(cost);
    let a = apply(
        store,
        &Batch {
            products: vec![cost.clone()],
            ..Batch::default()
        },
        t0() + minutes(2),
    )
    .await;
    assert_eq!(a.price_changes.len(), 1, "{name}: one price change: {a:?}");
    let pc = &a.price_changes[0];
    assert_eq!(pc.product_url, p(1));
    assert_eq!(pc.cost, (Some(2.0), Some(2.5)), "{name}: cost before/after");
    assert_eq!(
        pc.list_price,
        (Some(5.0), Some(5.0)),
        "{name}: list price unchanged"
    );

    let mut list = cost.clone();
    list.list_price = None;
    let list = rehash_product(list);
    let a = apply(
        store,
        &Batch {
            products: vec![list],
            ..Batch::default()
        },
        t0() + minutes(3),
    )
    .await;
    assert_eq!(
        a.price_changes.len(),
        1,
        "{name}: list price removed: {a:?}"
    );
    assert_eq!(a.price_changes[0].cost, (Some(2.5), Some(2.5)));
    assert_eq!(a.price_changes[0].list_price, (Some(5.0), None));
}

/// A changed sales order reports the products of its old and new lines; purchase orders
/// report none; only inserted orders count as new.
pub async fn order_change_reports_sales_products(store: &dyn Store) {
    let name = store.describe();
    let so = sale(
        "SO-1",
        "2026-03-01T10:00:00.000Z",
        vec![line(Some(1), 1.0, Some(2.0)), line(Some(2), 1.0, Some(2.0))],
    );
    let po = order(
        "PO-1",
        "PURCHASE_ORDER",
        Some("ORDER_LOCKED"),
        Some(t("2026-03-01T10:00:00.000Z")),
        vec![line(Some(7), 100.0, Some(0.5))],
    );
    let a = apply(
        store,
        &Batch {
            orders: vec![so.clone(), po.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_eq!(a.new_orders, 2, "{name}: new orders");
    assert_eq!(
        set(&a.sales_products),
        urls(&[1, 2]),
        "{name}: PO lines are no sales"
    );

    // Product 1 leaves the order, product 3 joins: all three need their sales recomputed.
    // Both sales lines differ at their positions; the PO gains one line.
    let mut so2 = so.clone();
    so2.lines = vec![line(Some(2), 1.0, Some(2.0)), line(Some(3), 4.0, Some(1.0))];
    let so2 = rehash_order(so2);
    let mut po2 = po.clone();
    po2.lines.push(line(Some(8), 5.0, None));
    let po2 = rehash_order(po2);
    let a = apply(
        store,
        &Batch {
            orders: vec![so2.clone(), po2.clone()],
            ..Batch::default()
        },
        t0() + minutes(1),
    )
    .await;
    assert_eq!(a.new_orders, 0, "{name}: changed orders are not new");
    assert_writes(
        store,
        "changed orders",
        &a,
        &[("orders", w(0, 2, 0)), ("order_lines", w(1, 2, 0))],
    );
    assert_eq!(
        set(&a.sales_products),
        urls(&[1, 2, 3]),
        "{name}: old and new line products"
    );

    // Cancelling: the status alone changes, the products still need recomputing.
    let mut cancelled = so2.clone();
    cancelled.status = Some("ORDER_CANCELLED".into());
    let cancelled = rehash_order(cancelled);
    let a = apply(
        store,
        &Batch {
            orders: vec![cancelled, po2],
            ..Batch::default()
        },
        t0() + minutes(2),
    )
    .await;
    assert_eq!(
        set(&a.sales_products),
        urls(&[2, 3]),
        "{name}: cancelled order"
    );
    assert_writes(store, "cancel", &a, &[("orders", w(0, 1, 0))]);
}

/// Purchase and transfer orders never reach daily sales.
pub async fn non_sales_orders_do_not_affect_daily_sales(store: &dyn Store) {
    let name = store.describe();
    let date = Some(t("2026-03-02T09:00:00.000Z"));
    let orders = vec![
        order(
            "PO-1",
            "PURCHASE_ORDER",
            Some("ORDER_COMPLETED"),
            date,
            vec![line(Some(1), 50.0, Some(1.0))],
        ),
        order(
            "TO-1",
            "TRANSFER_ORDER",
            Some("ORDER_COMPLETED"),
            date,
            vec![line(Some(1), 7.0, None)],
        ),
    ];
    let a = apply(
        store,
        &Batch {
            orders,
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert!(
        a.sales_products.is_empty(),
        "{name}: non-sales orders: {a:?}"
    );
    assert_eq!(
        refresh(store, &Scope::All, t0()).await,
        Writes::default(),
        "{name}: refresh"
    );
    assert_eq!(
        refresh(store, &Scope::Products(vec![p(1)]), t0()).await,
        Writes::default(),
        "{name}: scoped refresh"
    );
    assert!(
        snapshot(store).await.daily_sales.is_empty(),
        "{name}: no daily sales"
    );

    apply(
        store,
        &Batch {
            orders: vec![sale(
                "SO-1",
                "2026-03-02T10:00:00.000Z",
                vec![line(Some(1), 2.0, Some(3.0))],
            )],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_eq!(
        refresh(store, &Scope::All, t0()).await,
        w(1, 0, 0),
        "{name}: one day"
    );
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![ds(1, "2026-03-02", 2.0, 6.0)],
        "{name}: only the sale counts"
    );
}

/// Stock rows are upserted by hash, deleted by key, and their hashes readable.
pub async fn stock_upserts_deletes_and_hashes(store: &dyn Store) {
    let name = store.describe();
    let s1 = stock(1, 101, 10.0);
    let s2 = StockRow::new(p(2), fac(102), -3.5, 1.25, 40.0);
    let a = apply(
        store,
        &Batch {
            stock_upserts: vec![s1.clone(), s2.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_writes(store, "insert stock", &a, &[("stock", w(2, 0, 0))]);
    assert_eq!(set(&a.stock_products), urls(&[1, 2]));
    let hashes = store.stock_hashes().await.expect("stock_hashes");
    let want: BTreeMap<_, _> = [(s1.key(), s1.content_hash), (s2.key(), s2.content_hash)].into();
    assert_eq!(hashes, want, "{name}: stock hashes");

    let m1 = marks(store).await;
    let a = apply(
        store,
        &Batch {
            stock_upserts: vec![s1.clone()],
            stock_deletes: vec![(p(9), fac(101))],
            ..Batch::default()
        },
        t0() + minutes(1),
    )
    .await;
    assert_nothing_applied(store, "same stock, delete of an absent pair", &a);
    assert_eq!(marks(store).await, m1, "{name}: nothing written");

    let s1b = stock(1, 101, 9.0);
    let a = apply(
        store,
        &Batch {
            stock_upserts: vec![s1b.clone()],
            stock_deletes: vec![s2.key()],
            ..Batch::default()
        },
        t0() + minutes(2),
    )
    .await;
    assert_writes(store, "update and delete", &a, &[("stock", w(0, 1, 1))]);
    assert_eq!(
        set(&a.stock_products),
        urls(&[1, 2]),
        "{name}: stock_products"
    );
    assert_eq!(
        snapshot(store).await.stock,
        vec![s1b.clone()],
        "{name}: stock after"
    );
    let hashes = store.stock_hashes().await.expect("stock_hashes");
    assert_eq!(
        hashes,
        [(s1b.key(), s1b.content_hash)].into(),
        "{name}: hashes after"
    );
}

/// Daily sales: per product and UTC day, only committed and completed sales orders (drafts,
/// cancelled, status-less and undated orders and lines without a product left out), a missing price counting 0 revenue, returns netting.
pub async fn refresh_daily_sales_sums_per_utc_day(store: &dyn Store) {
    let name = store.describe();
    let orders = vec![
        sale(
            "SO-1",
            "2026-03-01T23:59:59.999Z",
            vec![
                line(Some(1), 2.0, Some(5.0)),
                line(Some(2), 1.0, None),
                line(None, 9.0, Some(9.0)),
            ],
        ),
        sale(
            "SO-2",
            "2026-03-02T00:00:00.000Z",
            vec![line(Some(1), 3.0, Some(4.0))],
        ),
        // 23:30 in New York is 04:30 UTC the next day.
        sale(
            "SO-3",
            "2026-03-01T23:30:00.000-05:00",
            vec![line(Some(1), 0.5, Some(2.0))],
        ),
        // A return on the same day as SO-1.
        sale(
            "SO-4",
            "2026-03-01T08:00:00.000Z",
            vec![line(Some(1), -1.0, Some(5.0))],
        ),
        order(
            "SO-5",
            "SALES_ORDER",
            Some("ORDER_CANCELLED"),
            Some(t("2026-03-01T12:00:00.000Z")),
            vec![line(Some(1), 100.0, Some(1.0))],
        ),
        // A draft (a quote that may never ship) is no sale.
        order(
            "SO-6",
            "SALES_ORDER",
            Some("ORDER_CREATED"),
            Some(t("2026-03-01T12:00:00.000Z")),
            vec![line(Some(1), 50.0, Some(1.0))],
        ),
        // Committed counts like completed.
        order(
            "SO-8",
            "SALES_ORDER",
            Some("ORDER_LOCKED"),
            Some(t("2026-03-02T09:00:00.000Z")),
            vec![line(Some(2), 2.0, Some(3.0))],
        ),
        // A sales order without a status is not known to be committed: no sale.
        order(
            "SO-7",
            "SALES_ORDER",
            None,
            Some(t("2026-02-28T00:00:00.000Z")),
            vec![line(Some(2), 1.5, Some(2.0)), line(Some(2), 0.5, Some(4.0))],
        ),
    ];
    apply(
        store,
        &Batch {
            orders,
            ..Batch::default()
        },
        t0(),
    )
    .await;
    let wr = refresh(store, &Scope::All, t0()).await;
    assert_eq!(wr, w(4, 0, 0), "{name}: days written");
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![
            ds(1, "2026-03-01", 1.0, 5.0),
            ds(1, "2026-03-02", 3.5, 13.0),
            ds(2, "2026-03-01", 1.0, 0.0),
            ds(2, "2026-03-02", 2.0, 6.0),
        ],
        "{name}: daily sales"
    );
}

/// Daily sales group by the order's stored business day (`order_day`), not by the UTC date
/// of `order_date`: a Sydney evening sale and a Los Angeles evening sale land on their own
/// account's day.
pub async fn refresh_daily_sales_groups_by_business_day(store: &dyn Store) {
    let name = store.describe();
    let in_zone = |id: &str, at: &str, zone: chrono_tz::Tz, qty: f64| {
        let mut o = sale(id, at, vec![line(Some(1), qty, Some(1.0))]);
        o.order_day = o.order_date.map(|d| business_day(d, zone));
        rehash_order(o)
    };
    let orders = vec![
        // 09:30 on 2 March in Sydney (UTC+11) is 22:30 UTC on 1 March.
        in_zone(
            "SO-syd",
            "2026-03-01T22:30:00.000Z",
            chrono_tz::Australia::Sydney,
            2.0,
        ),
        // 20:00 on 1 March in Los Angeles (UTC-8) is 04:00 UTC on 2 March.
        in_zone(
            "SO-la",
            "2026-03-02T04:00:00.000Z",
            chrono_tz::America::Los_Angeles,
            3.0,
        ),
    ];
    assert_eq!(orders[0].order_day, Some(day("2026-03-02")));
    assert_eq!(orders[1].order_day, Some(day("2026-03-01")));
    apply(
        store,
        &Batch {
            orders,
            ..Batch::default()
        },
        t0(),
    )
    .await;
    refresh(store, &Scope::All, t0()).await;
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![ds(1, "2026-03-01", 3.0, 3.0), ds(1, "2026-03-02", 2.0, 2.0)],
        "{name}: each sale on its business day"
    );
}

/// `set_order_days` re-derives every order's business day in a new zone, writes only the
/// orders whose day moved (an undated order stays without a day), and a refresh then moves
/// the sales; a second call writes nothing.
pub async fn set_order_days_follows_the_account_zone(store: &dyn Store) {
    let name = store.describe();
    let orders = vec![
        sale(
            "SO-1",
            "2026-03-01T22:30:00.000Z",
            vec![line(Some(1), 2.0, Some(1.0))],
        ),
        sale(
            "SO-2",
            "2026-03-01T02:00:00.000Z",
            vec![line(Some(1), 1.0, Some(1.0))],
        ),
        order(
            "SO-3",
            "SALES_ORDER",
            Some("ORDER_COMPLETED"),
            None,
            vec![line(Some(1), 7.0, Some(1.0))],
        ),
    ];
    apply(
        store,
        &Batch {
            orders,
            ..Batch::default()
        },
        t0(),
    )
    .await;
    refresh(store, &Scope::All, t0()).await;
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![ds(1, "2026-03-01", 3.0, 3.0)],
        "{name}: UTC days first"
    );
    let marks_before = marks(store).await;
    let moved = store
        .set_order_days(chrono_tz::Australia::Sydney, t0() + minutes(1))
        .await
        .expect("set_order_days");
    assert_eq!(moved, 1, "{name}: only SO-1 changes its day in Sydney");
    let snap = snapshot(store).await;
    let days: Vec<(String, Option<NaiveDate>)> = snap
        .orders
        .iter()
        .map(|o| (o.order_id.clone(), o.order_day))
        .collect();
    assert_eq!(
        days,
        vec![
            ("SO-1".to_owned(), Some(day("2026-03-02"))),
            ("SO-2".to_owned(), Some(day("2026-03-01"))),
            ("SO-3".to_owned(), None),
        ],
        "{name}: days in Sydney"
    );
    assert_ne!(
        marks(store).await.get("orders"),
        marks_before.get("orders"),
        "{name}: the orders' mark moves"
    );
    refresh(store, &Scope::All, t0() + minutes(2)).await;
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![ds(1, "2026-03-01", 1.0, 1.0), ds(1, "2026-03-02", 2.0, 2.0)],
        "{name}: sales follow the days"
    );
    let again = store
        .set_order_days(chrono_tz::Australia::Sydney, t0() + minutes(3))
        .await
        .expect("set_order_days");
    assert_eq!(again, 0, "{name}: nothing left to move");
}

/// A refresh writes only the days that differ, deletes vanished ones, and keeps to its scope.
pub async fn refresh_daily_sales_writes_only_changes(store: &dyn Store) {
    let name = store.describe();
    let so1 = sale(
        "SO-1",
        "2026-03-01T10:00:00.000Z",
        vec![line(Some(1), 2.0, Some(5.0)), line(Some(2), 1.0, Some(1.0))],
    );
    let so2 = sale(
        "SO-2",
        "2026-03-02T10:00:00.000Z",
        vec![line(Some(1), 3.0, Some(4.0))],
    );
    apply(
        store,
        &Batch {
            orders: vec![so1.clone(), so2.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_eq!(
        refresh(store, &Scope::All, t0()).await,
        w(3, 0, 0),
        "{name}: first refresh"
    );
    let m1 = marks(store).await;
    assert_eq!(
        refresh(store, &Scope::All, t0() + minutes(1)).await,
        Writes::default(),
        "{name}: a repeated refresh writes nothing"
    );
    assert_eq!(
        marks(store).await,
        m1,
        "{name}: repeated refresh moved marks"
    );

    // SO-2 grows: one day of product 1 changes. Refreshing product 2 only leaves it stale.
    let mut so2b = so2.clone();
    so2b.lines[0].quantity = 4.0;
    let so2b = rehash_order(so2b);
    let a = apply(
        store,
        &Batch {
            orders: vec![so2b],
            ..Batch::default()
        },
        t0() + minutes(2),
    )
    .await;
    assert_eq!(set(&a.sales_products), urls(&[1]));
    assert_eq!(
        refresh(store, &Scope::Products(vec![p(2)]), t0() + minutes(3)).await,
        Writes::default(),
        "{name}: product 2 has nothing to write"
    );
    assert_eq!(
        snapshot(store).await.daily_sales[1],
        ds(1, "2026-03-02", 3.0, 12.0),
        "{name}: out-of-scope rows are left alone"
    );
    assert_eq!(
        refresh(store, &Scope::Products(vec![p(1), p(1)]), t0() + minutes(3)).await,
        w(0, 1, 0),
        "{name}: one changed day"
    );
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![
            ds(1, "2026-03-01", 2.0, 10.0),
            ds(1, "2026-03-02", 4.0, 16.0),
            ds(2, "2026-03-01", 1.0, 1.0),
        ],
        "{name}: after the change"
    );

    // SO-1 is cancelled: its days vanish for both products.
    let mut c = so1.clone();
    c.status = Some("ORDER_CANCELLED".into());
    let c = rehash_order(c);
    let a = apply(
        store,
        &Batch {
            orders: vec![c],
            ..Batch::default()
        },
        t0() + minutes(4),
    )
    .await;
    let m2 = marks(store).await;
    assert_eq!(
        refresh(
            store,
            &Scope::Products(a.sales_products.clone()),
            t0() + minutes(5)
        )
        .await,
        w(0, 0, 2),
        "{name}: vanished days deleted"
    );
    assert_marks_changed(
        store,
        "delete days",
        &m2,
        &marks(store).await,
        &["daily_sales"],
    );
    assert_eq!(
        snapshot(store).await.daily_sales,
        vec![ds(1, "2026-03-02", 4.0, 16.0)],
        "{name}: after cancelling"
    );
    assert_eq!(
        refresh(store, &Scope::Products(vec![]), t0() + minutes(6)).await,
        Writes::default(),
        "{name}: an empty scope"
    );
}

/// Item inputs: on hand and reserved over facilities, guideline sums without
/// do-not-reorder ones, stock and reorder points per location (sublocations rolled up through
/// `parent_url`), units over the 30/90-day windows `as_of.date − N < day ≤ as_of.date` from
/// committed and completed sales only, the first sale and the product's creation.
pub async fn item_inputs_sum_stock_guidelines_and_sales(store: &dyn Store) {
    let name = store.describe();
    let mut p1 = product(1, Some(2.0), Some(5.0));
    let mut dnr = guideline(102, Some(100.0), Some(7.0));
    dnr.calculation_method = Some(crate::derive::DO_NOT_REORDER.into());
    p1.guidelines = vec![
        guideline(101, Some(5.0), Some(10.0)),
        guideline(102, Some(3.0), None),
        dnr,
    ];
    let p1 = rehash_product(p1);
    let mut p2 = product(2, None, None);
    p2.guidelines.clear();
    p2.name = None;
    p2.finale_created = None;
    let p2 = rehash_product(p2);
    // as_of 2026-04-30 10:00 UTC: 30-day window (03-31, 04-30], 90-day (01-30, 04-30].
    let as_of = t("2026-04-30T10:00:00.000Z");
    let sales = vec![
        sale(
            "S-a",
            "2026-04-30T23:00:00.000Z",
            vec![line(Some(1), 1.0, Some(1.0))],
        ),
        sale(
            "S-b",
            "2026-04-01T00:00:00.000Z",
            vec![line(Some(1), 2.0, Some(1.0))],
        ),
        sale(
            "S-c",
            "2026-03-31T12:00:00.000Z",
            vec![line(Some(1), 4.0, Some(1.0))],
        ),
        sale(
            "S-d",
            "2026-01-31T00:00:00.000Z",
            vec![line(Some(1), 8.0, Some(1.0))],
        ),
        sale(
            "S-e",
            "2026-01-30T12:00:00.000Z",
            vec![line(Some(1), 16.0, Some(1.0))],
        ),
        sale(
            "S-f",
            "2026-05-01T00:00:00.000Z",
            vec![line(Some(1), 32.0, Some(1.0))],
        ),
        sale(
            "S-g",
            "2026-04-15T00:00:00.000Z",
            vec![line(Some(3), 64.0, Some(1.0))],
        ),
        order(
            "S-h",
            "SALES_ORDER",
            Some("ORDER_CREATED"),
            Some(t("2025-12-20T00:00:00.000Z")),
            vec![line(Some(1), 128.0, Some(1.0))],
        ),
        order(
            "S-i",
            "SALES_ORDER",
            Some("ORDER_LOCKED"),
            Some(t("2026-04-10T00:00:00.000Z")),
            vec![line(Some(1), 256.0, Some(1.0))],
        ),
    ];
    apply(
        store,
        &Batch {
            facilities: vec![
                facility(1, None),
                facility(2, None),
                facility(101, Some(1)),
                facility(102, Some(2)),
            ],
            products: vec![p2.clone(), p1.clone()],
            orders: sales,
            stock_upserts: vec![
                StockRow::new(p(1), fac(101), 10.0, 1.0, 0.0),
                stock(1, 102, -2.5),
                stock(3, 101, 1.0),
            ],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    refresh(store, &Scope::All, t0()).await;
    let got = store
        .item_inputs(&Scope::All, as_of.date_naive())
        .await
        .expect("item_inputs");
    let level = |loc: u32, on_hand: f64, reserved: f64, rp: f64| crate::derive::LocationLevel {
        location_url: Some(fac(loc)),
        on_hand,
        reserved,
        reorder_point: Some(rp),
    };
    let want = vec![
        ItemInput {
            product_url: p(1),
            sku: p1.sku.clone(),
            name: p1.name.clone(),
            status: p1.status.clone(),
            cost: Some(2.0),
            list_price: Some(5.0),
            on_hand: 7.5,
            reserved: 1.0,
            reorder_point: Some(8.0),
            reorder_qty: Some(10.0),
            locations: vec![level(1, 10.0, 1.0, 5.0), level(2, -2.5, 0.0, 3.0)],
            units_30d: 259.0,
            units_90d: 271.0,
            created: p1.finale_created,
            first_sale: Some(day("2026-01-30")),
            as_of: day("2026-04-30"),
        },
        ItemInput {
            product_url: p(2),
            sku: p2.sku.clone(),
            name: None,
            status: p2.status.clone(),
            cost: None,
            list_price: None,
            on_hand: 0.0,
            reserved: 0.0,
            reorder_point: None,
            reorder_qty: None,
            locations: Vec::new(),
            units_30d: 0.0,
            units_90d: 0.0,
            created: None,
            first_sale: None,
            as_of: day("2026-04-30"),
        },
    ];
    assert_eq!(
        got, want,
        "{name}: item inputs for every product (product 3 is not stored)"
    );
    let scoped = store
        .item_inputs(&Scope::Products(vec![p(2), p(3), p(2)]), as_of.date_naive())
        .await
        .expect("item_inputs");
    assert_eq!(scoped, want[1..].to_vec(), "{name}: scoped item inputs");
    let none = store
        .item_inputs(&Scope::Products(vec![]), as_of.date_naive())
        .await
        .expect("item_inputs");
    assert!(none.is_empty(), "{name}: empty scope");
}

/// `upsert_items`: content changes are written, unchanged rows confirmed only when their
/// confirmation is older than `confirm_before`.
pub async fn upsert_items_writes_content_and_confirms(store: &dyn Store) {
    let name = store.describe();
    let a = item("A", 5.0, Some(2.0), 1.0);
    let b = item("B", 0.0, None, 0.0);
    let up = |rows: Vec<ItemRow>, now: DateTime<Utc>, before: DateTime<Utc>| async move {
        store
            .upsert_items(&rows, now, before)
            .await
            .unwrap_or_else(|e| panic!("{}: upsert_items failed: {e:?}", store.describe()))
    };
    let r = up(vec![a.clone(), b.clone()], t0(), t0() - minutes(60)).await;
    assert_eq!((r.writes, r.confirmed), (w(2, 0, 0), 0), "{name}: insert");
    let m1 = marks(store).await;

    // Ten minutes later, confirmations younger than an hour: nothing.
    let now = t0() + minutes(10);
    let r = up(vec![a.clone(), b.clone()], now, now - minutes(60)).await;
    assert_eq!(
        (r.writes, r.confirmed),
        (Writes::default(), 0),
        "{name}: fresh"
    );
    assert_eq!(marks(store).await, m1, "{name}: fresh confirmations wrote");

    // Two hours later: both confirmed, content untouched.
    let now = t0() + minutes(120);
    let r = up(vec![a.clone(), b.clone()], now, now - minutes(60)).await;
    assert_eq!(
        (r.writes, r.confirmed),
        (Writes::default(), 2),
        "{name}: confirm"
    );
    let m2 = marks(store).await;
    assert_marks_changed(store, "confirm", &m1, &m2, &["inventory_items"]);
    assert_eq!(
        snapshot(store).await.items,
        vec![a.clone(), b.clone()],
        "{name}: items"
    );

    // A content change is written; the other row, just confirmed, is left alone.
    let mut a2 = a.clone();
    a2.stock = 4.0;
    a2.days_of_stock = Some(4.0);
    a2.content_hash = item_hash(&a2);
    let now = t0() + minutes(130);
    let r = up(vec![a2.clone(), b.clone()], now, now - minutes(60)).await;
    assert_eq!((r.writes, r.confirmed), (w(0, 1, 0), 0), "{name}: change");
    assert_eq!(
        snapshot(store).await.items,
        vec![a2, b],
        "{name}: items after change"
    );
}

/// A batch that fails leaves nothing written and its job not done; `job_done` of an unknown
/// job fails its batch; a good batch marks its job done atomically.
pub async fn job_done_is_atomic_with_its_batch(store: &dyn Store) {
    let name = store.describe();
    let job = planned(
        "order",
        JobKind::Window,
        "2026-01-01T00:00:00Z",
        "2026-01-31T00:00:00Z",
    );
    store
        .plan_backfill(&[job], t0())
        .await
        .expect("plan_backfill");
    let id = jobs(store).await[0].id;
    store.start_job(id, t0()).await.expect("start_job");
    let m0 = marks(store).await;

    let mut bad = product(2, Some(1.0), Some(1.0));
    bad.list_price = Some(-1.0); // violates the store's CHECK; from_finale would refuse it
    let bad = rehash_product(bad);
    let batch = Batch {
        facilities: vec![facility(100, None)],
        products: vec![product(1, Some(1.0), Some(2.0)), bad],
        stock_upserts: vec![stock(1, 101, 1.0)],
        state: vec![("cursor:order".into(), json!("2026-01-31"))],
        job_done: Some(JobDone {
            id,
            records: 3,
            requests: 2,
            at: t0() + minutes(1),
        }),
        ..Batch::default()
    };
    let err = store
        .apply(&batch, t0() + minutes(1))
        .await
        .expect_err("a batch with a negative list price must fail");
    assert!(
        err.is_constraint_violation(),
        "{name}: a CHECK violation should be classified as one: {err:?}"
    );
    assert_eq!(
        snapshot(store).await,
        Default::default(),
        "{name}: nothing stored"
    );
    assert_eq!(marks(store).await, m0, "{name}: failed batch moved marks");
    assert_eq!(
        store.get_state("cursor:order").await.expect("get_state"),
        None
    );
    let j = &jobs(store).await[0];
    assert_eq!(
        (j.status, j.records, j.requests),
        (JobStatus::Running, 0, 0),
        "{name}: job after a failed batch"
    );

    let ghost = Batch {
        facilities: vec![facility(100, None)],
        job_done: Some(JobDone {
            id: id + 1000,
            records: 1,
            requests: 1,
            at: t0(),
        }),
        ..Batch::default()
    };
    assert!(
        store.apply(&ghost, t0() + minutes(2)).await.is_err(),
        "{name}: job_done of an unknown job must fail its batch"
    );
    assert!(
        snapshot(store).await.facilities.is_empty(),
        "{name}: ghost batch stored rows"
    );

    let mut good = batch.clone();
    good.products.truncate(1);
    let a = apply(store, &good, t0() + minutes(3)).await;
    assert_eq!(
        a.by_table.get("products").copied().unwrap_or_default(),
        w(1, 0, 0)
    );
    let j = &jobs(store).await[0];
    assert_eq!(
        (j.status, j.records, j.requests),
        (JobStatus::Done, 3, 2),
        "{name}: job done with its batch"
    );
    assert_eq!(
        store.get_state("cursor:order").await.expect("get_state"),
        Some(json!("2026-01-31"))
    );
}

/// Planning twice adds nothing; only new (collection, window) pairs are added.
pub async fn plan_backfill_is_idempotent(store: &dyn Store) {
    let name = store.describe();
    let plan = vec![
        planned(
            "order",
            JobKind::Window,
            "2026-01-01T00:00:00Z",
            "2026-01-31T00:00:00Z",
        ),
        planned(
            "order",
            JobKind::Window,
            "2026-01-31T00:00:00Z",
            "2026-03-02T00:00:00Z",
        ),
        planned(
            "product",
            JobKind::Snapshot,
            "2024-03-10T00:00:00Z",
            "2026-03-10T00:00:00Z",
        ),
    ];
    assert_eq!(
        store.plan_backfill(&plan, t0()).await.expect("plan"),
        3,
        "{name}: new"
    );
    assert_eq!(
        store.plan_backfill(&plan, t0()).await.expect("plan"),
        0,
        "{name}: again"
    );
    let more = vec![
        plan[1].clone(),
        planned(
            "order",
            JobKind::Window,
            "2026-03-02T00:00:00Z",
            "2026-04-01T00:00:00Z",
        ),
        // Same collection and window, another kind: the same job.
        planned(
            "product",
            JobKind::Window,
            "2024-03-10T00:00:00Z",
            "2026-03-10T00:00:00Z",
        ),
    ];
    assert_eq!(
        store.plan_backfill(&more, t0()).await.expect("plan"),
        1,
        "{name}: one new"
    );
    let all = jobs(store).await;
    assert_eq!(all.len(), 4, "{name}: jobs");
    assert!(
        all.windows(2).all(|p| p[0].id < p[1].id),
        "{name}: ordered by id"
    );
    let stored: Vec<PlannedJob> = all.iter().map(|j| j.job.clone()).collect();
    assert_eq!(
        stored,
        [plan.clone(), vec![more[1].clone()]].concat(),
        "{name}: plan"
    );
    for j in &all {
        assert_eq!(
            (
                j.status,
                j.attempts,
                j.records,
                j.requests,
                j.last_error.clone()
            ),
            (JobStatus::Pending, 0, 0, 0, None),
            "{name}: a fresh job"
        );
    }
}

/// start → fail → start → done (through a batch).
pub async fn backfill_job_lifecycle(store: &dyn Store) {
    let name = store.describe();
    let plan = vec![planned(
        "order",
        JobKind::Window,
        "2026-01-01T00:00:00Z",
        "2026-01-31T00:00:00Z",
    )];
    store.plan_backfill(&plan, t0()).await.expect("plan");
    let id = jobs(store).await[0].id;
    store.start_job(id, t0()).await.expect("start_job");
    let j = jobs(store).await.remove(0);
    assert_eq!(
        (j.status, j.attempts),
        (JobStatus::Running, 1),
        "{name}: started"
    );
    store
        .fail_job(id, "HTTP 503 from Finale after 5 retries")
        .await
        .expect("fail_job");
    let j = jobs(store).await.remove(0);
    assert_eq!(j.status, JobStatus::Failed, "{name}: failed");
    assert_eq!(
        j.last_error.as_deref(),
        Some("HTTP 503 from Finale after 5 retries")
    );
    store
        .start_job(id, t0() + minutes(5))
        .await
        .expect("start_job");
    let j = jobs(store).await.remove(0);
    assert_eq!(
        (j.status, j.attempts),
        (JobStatus::Running, 2),
        "{name}: restarted"
    );
    apply(
        store,
        &Batch {
            job_done: Some(JobDone {
                id,
                records: 1234,
                requests: 7,
                at: t0() + minutes(6),
            }),
            ..Batch::default()
        },
        t0() + minutes(6),
    )
    .await;
    let j = jobs(store).await.remove(0);
    assert_eq!(
        (j.status, j.attempts, j.records, j.requests),
        (JobStatus::Done, 2, 1234, 7),
        "{name}: done"
    );
    assert_eq!(j.job, plan[0], "{name}: the job itself is unchanged");
}

/// Only `running` jobs go back to `pending`.
pub async fn reset_interrupted_jobs_only_touches_running(store: &dyn Store) {
    let name = store.describe();
    let plan: Vec<PlannedJob> = (1..=4)
        .map(|m| {
            planned(
                "order",
                JobKind::Window,
                &format!("2026-0{m}-01T00:00:00Z"),
                &format!("2026-0{}-01T00:00:00Z", m + 1),
            )
        })
        .collect();
    store.plan_backfill(&plan, t0()).await.expect("plan");
    let ids: Vec<i64> = jobs(store).await.iter().map(|j| j.id).collect();
    for &id in &ids[..4] {
        store.start_job(id, t0()).await.expect("start_job");
    }
    store.fail_job(ids[2], "timeout").await.expect("fail_job");
    apply(
        store,
        &Batch {
            job_done: Some(JobDone {
                id: ids[3],
                records: 1,
                requests: 1,
                at: t0(),
            }),
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_eq!(
        store.reset_interrupted_jobs().await.expect("reset"),
        2,
        "{name}: reset"
    );
    let statuses: Vec<JobStatus> = jobs(store).await.iter().map(|j| j.status).collect();
    assert_eq!(
        statuses,
        vec![
            JobStatus::Pending,
            JobStatus::Pending,
            JobStatus::Failed,
            JobStatus::Done
        ],
        "{name}: statuses after reset"
    );
    assert_eq!(
        store.reset_interrupted_jobs().await.expect("reset"),
        0,
        "{name}: again"
    );
}

/// Runs: begin, finish with every metric, newest first, abandoned ones closed once.
pub async fn runs_begin_finish_recent_and_close(store: &dyn Store) {
    let name = store.describe();
    let r1 = store
        .begin_run(Strategy::Smart, "host-a:101", t0())
        .await
        .expect("begin_run");
    let r2 = store
        .begin_run(Strategy::Full, "host-b:202", t0() + minutes(1))
        .await
        .expect("begin_run");
    assert_ne!(r1, r2, "{name}: run ids");
    let metrics = RunMetrics {
        finished_at: Some(t0() + TimeDelta::milliseconds(90_500)),
        duration_ms: 90_500,
        items_seen: 1200,
        items_changed: 37,
        items_failed: 2,
        items_per_sec: 13.25,
        success: true,
        error_patterns: vec![("http_429".into(), 3), ("decode".into(), 1)],
        network_p50_ms: Some(120.5),
        network_p95_ms: Some(800.0),
        db_latency_ms: Some(1.75),
        requests: [("collection".to_owned(), 4), ("get".to_owned(), 30)].into(),
        notes: Some("critical: 2 stockouts".into()),
    };
    store.finish_run(r1, &metrics).await.expect("finish_run");
    let runs = store.recent_runs(10).await.expect("recent_runs");
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r2, r1],
        "{name}: newest first"
    );
    assert_eq!(runs[1].strategy, Strategy::Smart);
    assert_eq!(runs[1].started_at, t0());
    assert_eq!(runs[1].runner.as_deref(), Some("host-a:101"));
    assert_eq!(runs[1].metrics, metrics, "{name}: metrics round trip");
    assert_eq!(runs[0].strategy, Strategy::Full);
    assert_eq!(runs[0].metrics.finished_at, None, "{name}: an open run");
    assert_eq!(
        store.recent_runs(1).await.expect("recent_runs").len(),
        1,
        "{name}: limit"
    );

    let closed_at = t0() + minutes(60);
    assert_eq!(
        store.close_abandoned_runs(closed_at).await.expect("close"),
        1,
        "{name}: close"
    );
    assert_eq!(
        store.close_abandoned_runs(closed_at).await.expect("close"),
        0,
        "{name}: again"
    );
    let runs = store.recent_runs(10).await.expect("recent_runs");
    let open = &runs[0].metrics;
    assert_eq!(open.finished_at, Some(closed_at), "{name}: closed at");
    assert!(!open.success, "{name}: an abandoned run did not succeed");
    assert!(
        open.notes.as_deref().is_some_and(|n| !n.is_empty()),
        "{name}: an abandoned run says so: {open:?}"
    );
    assert_eq!(
        runs[1].metrics, metrics,
        "{name}: finished runs are not touched"
    );
}

/// The newest successful run per strategy: failed and open runs do not count, and a daily run
/// is found behind hundreds of stock pulses (what the schedule relies on).
pub async fn last_successes_see_past_many_pulses(store: &dyn Store) {
    let name = store.describe();
    let finish = |ok: bool, at: DateTime<Utc>| RunMetrics {
        finished_at: Some(at),
        success: ok,
        ..RunMetrics::default()
    };
    assert!(
        store
            .last_successes()
            .await
            .expect("last_successes")
            .is_empty(),
        "{name}: no runs, no successes"
    );
    for (i, ok) in [(0, true), (1, true), (2, false)] {
        let at = t0() + minutes(i);
        let id = store
            .begin_run(Strategy::Smart, "host-a:1", at)
            .await
            .expect("begin_run");
        store.finish_run(id, &finish(ok, at)).await.expect("finish");
    }
    let failed = store
        .begin_run(Strategy::Critical, "host-a:1", t0())
        .await
        .expect("begin_run");
    store
        .finish_run(failed, &finish(false, t0()))
        .await
        .expect("finish");
    // Still open: not a success (yet).
    store
        .begin_run(Strategy::Full, "host-a:1", t0())
        .await
        .expect("begin_run");
    let pulses = 250;
    for i in 0..pulses {
        let at = t0() + minutes(10 + 5 * i);
        let id = store
            .begin_run(Strategy::Stock, "host-b:2", at)
            .await
            .expect("begin_run");
        store
            .finish_run(id, &finish(true, at))
            .await
            .expect("finish");
    }
    assert!(
        store
            .recent_runs(200)
            .await
            .expect("recent_runs")
            .iter()
            .all(|r| r.strategy == Strategy::Stock),
        "{name}: the smart run is behind 200 pulses"
    );
    assert_eq!(
        store.last_successes().await.expect("last_successes"),
        vec![
            (Strategy::Smart, t0() + minutes(1)),
            (Strategy::Stock, t0() + minutes(10 + 5 * (pulses - 1))),
        ],
        "{name}: newest success per strategy"
    );
}

/// Quarantined records come back exactly, newest first.
pub async fn quarantine_round_trips(store: &dyn Store) {
    let name = store.describe();
    let run = store
        .begin_run(Strategy::Full, "host-a:1", t0())
        .await
        .expect("begin_run");
    let older = Quarantined {
        run_id: Some(run),
        collection: "order".into(),
        record_key: Some(url("order", "SO-9")),
        reason: "orderItemList[0].quantity: NaN is not a number".into(),
        raw_payload: Some(json!({"orderUrl": url("order", "SO-9"), "n": [1, 2, {"ü": null}]})),
        raw_text: None,
        at: t0() + TimeDelta::milliseconds(1),
    };
    let newer = Quarantined {
        run_id: None,
        collection: "inventoryitem".into(),
        record_key: None,
        reason: "truncated body".into(),
        raw_payload: None,
        raw_text: Some("{\"productUrl\": \"/acme/api/pro".into()),
        at: t0() + TimeDelta::milliseconds(2),
    };
    let a = apply(
        store,
        &Batch {
            quarantine: vec![older.clone(), newer.clone()],
            ..Batch::default()
        },
        t0(),
    )
    .await;
    assert_writes(store, "quarantine", &a, &[("sync_errors", w(2, 0, 0))]);
    assert_eq!(
        a.rows_written(),
        0,
        "{name}: quarantine is not a mirror write"
    );
    let q = store.quarantined(10).await.expect("quarantined");
    let records: Vec<Quarantined> = q.iter().map(|r| r.record.clone()).collect();
    assert_eq!(records, vec![newer.clone(), older], "{name}: newest first");
    assert_ne!(q[0].id, q[1].id, "{name}: ids");
    let q = store.quarantined(1).await.expect("quarantined");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].record, newer, "{name}: limit keeps the newest");
}

/// `sync_state` values are set by batches (also batches without rows) and read back.
pub async fn state_is_set_by_batches(store: &dyn Store) {
    let name = store.describe();
    assert_eq!(
        store.get_state("cursor:product").await.expect("get_state"),
        None
    );
    let v1 = json!({"lastUpdated": "2026-03-10T07:00:00.000Z", "overlap_s": 300});
    let batch = Batch {
        state: vec![
            ("cursor:product".into(), v1.clone()),
            ("plan:horizon".into(), json!([1, "x"])),
        ],
        ..Batch::default()
    };
    assert!(batch.has_no_rows());
    let a = apply(store, &batch, t0()).await;
    assert_nothing_applied(store, "state only", &a);
    assert_eq!(
        store.get_state("cursor:product").await.expect("get_state"),
        Some(v1)
    );
    assert_eq!(
        store.get_state("plan:horizon").await.expect("get_state"),
        Some(json!([1, "x"]))
    );
    let v2 = json!("2026-03-11");
    apply(
        store,
        &Batch {
            state: vec![("cursor:product".into(), v2.clone())],
            ..Batch::default()
        },
        t0() + minutes(1),
    )
    .await;
    assert_eq!(
        store.get_state("cursor:product").await.expect("get_state"),
        Some(v2),
        "{name}: overwritten"
    );
    assert_eq!(store.get_state("nope").await.expect("get_state"), None);
}

fn writer(runner: &str, purpose: &str) -> WriterInfo {
    WriterInfo {
        runner: runner.to_owned(),
        purpose: purpose.to_owned(),
    }
}

fn expect_busy(
    store: &dyn Store,
    r: Result<Box<dyn crate::WriterLease>, StoreError>,
    holder: &str,
) {
    match r {
        Err(StoreError::WriterBusy { holder: h }) => {
            assert_eq!(
                h,
                holder,
                "{}: WriterBusy names the holder",
                store.describe()
            )
        }
        Err(e) => panic!("{}: expected WriterBusy, got {e:?}", store.describe()),
        Ok(lease) => panic!(
            "{}: a second writer got the role while {holder} holds it: {lease:?}",
            store.describe()
        ),
    }
}

/// The budget ledger: spends add up per (bucket, slot) within a call, across calls and
/// across concurrent writers; reads start at a slot; pruning drops older slots only.
pub async fn budget_ledger_adds_reads_and_prunes(store: &dyn Store) {
    let name = store.describe();
    let sp = |bucket: &str, slot, count| BudgetSpend {
        bucket: bucket.to_owned(),
        slot,
        count,
    };
    let minute = TimeDelta::minutes(1);
    let hour = TimeDelta::hours(1);
    assert!(
        ledger(store, t0() - hour).await.is_empty(),
        "{name}: a fresh ledger"
    );
    store.record_spends(&[]).await.expect("record nothing");
    store
        .record_spends(&[
            sp("collection", t0(), 2),
            sp("get", t0(), 3),
            sp("collection", t0(), 1),
            sp("post", t0() + minute, 0),
            sp("collection", t0() - hour - minute, 5),
        ])
        .await
        .expect("record spends");
    assert_eq!(
        ledger(store, t0() - hour).await,
        [sp("collection", t0(), 3), sp("get", t0(), 3)],
        "{name}: one key's spends add up, a zero count writes nothing, older slots are not read"
    );
    // Two writers at once (the ledger is shared by every engine): nothing is lost.
    let first = [sp("collection", t0(), 4)];
    let second = [
        sp("collection", t0(), 1),
        sp("collection", t0() + minute, 1),
    ];
    let (a, b) = tokio::join!(store.record_spends(&first), store.record_spends(&second));
    a.expect("first writer");
    b.expect("second writer");
    assert_eq!(
        ledger(store, t0()).await,
        [
            sp("collection", t0(), 8),
            sp("collection", t0() + minute, 1),
            sp("get", t0(), 3)
        ],
        "{name}: spends add to the stored counts"
    );
    assert_eq!(
        ledger(store, t0() + minute).await,
        [sp("collection", t0() + minute, 1)],
        "{name}: reading starts at the given slot"
    );
    assert_eq!(
        ledger(store, t0() - hour * 2).await.len(),
        4,
        "{name}: every row"
    );
    let pruned = store.prune_budget_spends(t0() - hour).await.expect("prune");
    assert_eq!(pruned, 1, "{name}: only the slot before the cut is pruned");
    assert_eq!(ledger(store, t0() - hour * 2).await.len(), 3);
    assert_eq!(
        store.prune_budget_spends(t0() - hour).await.expect("prune"),
        0
    );
}

async fn ledger(store: &dyn Store, since: DateTime<Utc>) -> Vec<BudgetSpend> {
    store
        .budget_spends(since)
        .await
        .unwrap_or_else(|e| panic!("{}: budget_spends: {e:?}", store.describe()))
}

/// One writer at a time; the busy error names the holder; dropping the lease releases it.
pub async fn writer_lease_is_exclusive(store: &dyn Store) {
    let name = store.describe();
    let a = writer("host-a:101", "smart");
    let b = writer("host-b:202", "full");
    let lease = store
        .acquire_writer(&a, None)
        .await
        .expect("acquire_writer");
    assert_eq!(lease.holder(), &a, "{name}: lease holder");
    expect_busy(
        store,
        store.acquire_writer(&b, None).await,
        "host-a:101 (smart)",
    );
    expect_busy(
        store,
        store.acquire_writer(&a, None).await,
        "host-a:101 (smart)",
    );
    let started = tokio::time::Instant::now();
    expect_busy(
        store,
        store
            .acquire_writer(&b, Some(Duration::from_millis(600)))
            .await,
        "host-a:101 (smart)",
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{name}: waiting gave up early ({:?})",
        started.elapsed()
    );
    drop(lease);
    // Dropping releases eventually (a server notices the closed session a moment later).
    let lease = store
        .acquire_writer(&b, Some(Duration::from_secs(5)))
        .await
        .expect("the role is free after the lease is dropped");
    assert_eq!(lease.holder(), &b);
    drop(lease);
}

/// A waiting writer gets the role once the holder (another task) releases it.
pub async fn writer_lease_wait(store: &dyn Store) {
    let name = store.describe();
    let a = writer("host-a:101", "critical");
    let b = writer("host-b:202", "serve");
    let lease = store
        .acquire_writer(&a, None)
        .await
        .expect("acquire_writer");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        drop(lease);
    });
    let started = tokio::time::Instant::now();
    let lease = store
        .acquire_writer(&b, Some(Duration::from_secs(10)))
        .await
        .unwrap_or_else(|e| panic!("{name}: waiting for the writer role failed: {e:?}"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{name}: got the role before it was released"
    );
    assert_eq!(lease.holder(), &b);
    release.await.expect("release task");
    expect_busy(
        store,
        store.acquire_writer(&a, None).await,
        "host-b:202 (serve)",
    );
}

/// Polls `f` every 100 ms until it is true or `limit` has passed; whether it became true.
async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The lease row names the holder, is renewed while the lease lives (it outlives its TTL
/// several times over), and is gone once released.
pub async fn writer_lease_is_renewed_and_shown(store: &dyn Store) {
    let name = store.describe();
    assert_eq!(
        store.writer_lease().await.expect("writer_lease"),
        None,
        "{name}: nobody holds a fresh store's role"
    );
    let a = writer("host-a:101", "smart");
    let ttl = Duration::from_millis(800);
    let lease = store
        .acquire_writer_for(&a, None, ttl)
        .await
        .expect("acquire_writer_for");
    let first = store
        .writer_lease()
        .await
        .expect("writer_lease")
        .unwrap_or_else(|| panic!("{name}: the holder's lease is stored"));
    assert_eq!(first.holder(), "host-a:101 (smart)", "{name}");
    assert!(first.locked, "{name}: the first holder holds the lock too");
    assert!(!first.expired(), "{name}: a fresh lease is live");
    assert!(first.expires_at > first.heartbeat_at, "{name}");
    // Three TTLs later it is still live, renewed, and still exclusive.
    tokio::time::sleep(ttl * 3).await;
    let later = store
        .writer_lease()
        .await
        .expect("writer_lease")
        .expect("still held");
    assert!(
        !later.expired(),
        "{name}: the lease was not renewed: {later:?}"
    );
    assert!(later.heartbeat_at > first.heartbeat_at, "{name}: {later:?}");
    assert_eq!(later.acquired_at, first.acquired_at, "{name}");
    expect_busy(
        store,
        store
            .acquire_writer_for(&writer("host-b:202", "full"), None, ttl)
            .await,
        "host-a:101 (smart)",
    );
    assert_eq!(lease.lost_to(), None, "{name}");
    lease.release().await;
    assert_eq!(
        store.writer_lease().await.expect("writer_lease"),
        None,
        "{name}: a released lease leaves no holder"
    );
}

/// A holder that stops renewing (frozen) loses the role once its lease expires: the next
/// contender takes it over although the frozen holder still has the lock, and dropping the
/// frozen holder's lease later leaves the new holder's alone (which then gets the lock too).
pub async fn an_expired_writer_lease_is_taken_over(store: &dyn Store) {
    let name = store.describe();
    let a = writer("host-a:101", "full");
    let b = writer("host-b:202", "serve");
    let ttl = Duration::from_millis(800);
    let frozen = store
        .acquire_writer_for(&a, None, ttl)
        .await
        .expect("acquire_writer_for");
    frozen.stop_renewing();
    // Live: busy, naming the holder.
    expect_busy(
        store,
        store.acquire_writer_for(&b, None, ttl).await,
        "host-a:101 (full)",
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            store
                .writer_lease()
                .await
                .expect("writer_lease")
                .is_some_and(|l| l.expired())
        })
        .await,
        "{name}: an unrenewed lease never expired"
    );
    // Expired: taken over, within one attempt.
    let lease = store
        .acquire_writer_for(&b, None, ttl)
        .await
        .unwrap_or_else(|e| panic!("{name}: the expired lease was not taken over: {e:?}"));
    assert_eq!(lease.holder(), &b);
    let now = store
        .writer_lease()
        .await
        .expect("writer_lease")
        .expect("held");
    assert_eq!(now.holder(), "host-b:202 (serve)", "{name}");
    assert!(!now.expired(), "{name}");
    expect_busy(
        store,
        store.acquire_writer_for(&a, None, ttl).await,
        "host-b:202 (serve)",
    );
    // The frozen holder goes away; the new holder's lease is untouched and gets the lock.
    drop(frozen);
    assert!(
        eventually(Duration::from_secs(10), || async {
            store
                .writer_lease()
                .await
                .expect("writer_lease")
                .is_some_and(|l| l.holder() == "host-b:202 (serve)" && l.locked && !l.expired())
        })
        .await,
        "{name}: the new holder never got the lock: {:?}",
        store.writer_lease().await
    );
    // Writes of the new holder go through its fence.
    store
        .apply(
            &Batch {
                state: vec![("cursor:lease".to_owned(), json!("ok"))],
                ..Batch::default()
            },
            t0(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: the new holder cannot write: {e:?}"));
    lease.release().await;
    assert_eq!(store.writer_lease().await.expect("writer_lease"), None);
}

/// Every field of every row type survives a round trip through the store exactly: `None`
/// vs `Some("")`, unicode, negative and fractional numbers, ms timestamps (also before 1970),
/// JSON, child order; the snapshot is sorted by key whatever the insertion order.
pub async fn snapshot_round_trips_every_field(store: &dyn Store) {
    let name = store.describe();
    let full_fac = FacilityRow {
        url: url("facility", "200"),
        facility_id: "WH-Ü".into(),
        name: Some("Main 倉庫 🏭".into()),
        parent_url: None,
        status: Some(String::new()),
        facility_type: Some("WAREHOUSE".into()),
        shipping_disabled: Some(true),
        receiving_disabled: Some(false),
        finale_created: Some(t("1969-12-31T23:59:59.999Z")),
        finale_last_updated: Some(t("2026-03-09T23:59:59.001Z")),
        content_hash: [0; 32],
    };
    let bare_fac = FacilityRow {
        url: url("facility", "201"),
        facility_id: "201".into(),
        name: None,
        parent_url: Some(url("facility", "200")),
        status: None,
        facility_type: None,
        shipping_disabled: None,
        receiving_disabled: None,
        finale_created: None,
        finale_last_updated: None,
        content_hash: [0; 32],
    };
    let facilities: Vec<FacilityRow> = [bare_fac, full_fac]
        .into_iter()
        .map(|mut f| {
            f.content_hash = f.hash();
            f
        })
        .collect();
    let parties: Vec<PartyRow> = [
        PartyRow {
            url: url("partygroup", "b"),
            party_id: "b".into(),
            name: Some(String::new()),
            roles: vec!["SUPPLIER".into(), "CUSTOMER".into(), "Ünïcode".into()],
            status: None,
            contacts: json!([{"infoString": "a@b.c", "n": 3}, {"x": [true, null]}]),
            user_fields: json!({"Tier": "Gold ★", "Empty": "", "Gone": null}),
            finale_last_updated: Some(t("2001-02-03T04:05:06.789Z")),
            content_hash: [0; 32],
        },
        PartyRow {
            url: url("partygroup", "a"),
            party_id: "a".into(),
            name: None,
            roles: vec![],
            status: Some("PARTY_DISABLED".into()),
            contacts: json!([]),
            user_fields: json!({}),
            finale_last_updated: None,
            content_hash: [0; 32],
        },
    ]
    .into_iter()
    .map(|mut p| {
        p.content_hash = p.hash();
        p
    })
    .collect();
    let full_product = rehash_product(ProductRow {
        url: url("product", "zz-último"),
        sku: "SKU «Ω»".into(),
        name: Some("Widget, 12\" — blue".into()),
        status: Some("PRODUCT_ACTIVE".into()),
        product_type: Some(String::new()),
        category: Some("Cat/Sub".into()),
        upc: Some("0123456789012".into()),
        cost: Some(0.0),
        lead_time_days: Some(2.5),
        packing: Some("12 cs 12/1".into()),
        list_price: Some(-0.0),
        user_fields: json!({"Farbe": "Grün", "n": "1"}),
        finale_created: Some(t("2010-10-10T10:10:10.010Z")),
        finale_last_updated: Some(t("2026-03-10T07:59:59.999Z")),
        suppliers: vec![
            SupplierLinkRow {
                supplier_url: None,
                supplier_sku: Some(String::new()),
                pref_order_id: None,
                is_main: false,
                price: None,
                currency: None,
                lead_time_days: None,
            },
            supplier(1, 1e-3, true),
        ],
        guidelines: vec![
            guideline(200, None, None),
            GuidelineRow {
                facility_url: None,
                reorder_point: Some(0.5),
                reorder_qty: Some(1e15),
                calculation_method: None,
            },
        ],
        content_hash: [0; 32],
    });
    let bare_product = rehash_product(ProductRow {
        url: url("product", "10"),
        sku: "10".into(),
        name: None,
        status: None,
        product_type: None,
        category: None,
        upc: None,
        cost: None,
        lead_time_days: None,
        packing: None,
        list_price: None,
        user_fields: json!({}),
        finale_created: None,
        finale_last_updated: None,
        suppliers: vec![],
        guidelines: vec![],
        content_hash: [0; 32],
    });
    let stock_rows = vec![
        StockRow::new(
            url("product", "10"),
            url("facility", "201"),
            -3.25,
            0.5,
            1e9,
        ),
        StockRow::new(url("product", "10"), url("facility", "200"), 0.0, 0.0, 0.0),
    ];
    let full_order = rehash_order(OrderRow {
        url: url("order", "SO-ü"),
        order_id: "SO-ü".into(),
        order_type: "SALES_ORDER".into(),
        status: Some("ORDER_COMPLETED".into()),
        order_date: Some(t("2026-03-05T13:14:15.016Z")),
        // Not the UTC date: the store keeps the business day it is given.
        order_day: Some(day("2026-03-06")),
        due_date: Some(t("2026-03-12T00:00:00.000Z")),
        origin_facility_url: Some(url("facility", "200")),
        destination_facility_url: Some(String::new()),
        party_url: Some(url("partygroup", "b")),
        total: Some(-12.5),
        reference_number: Some("Ref #1 — ✓".into()),
        finale_created: Some(t("2026-03-05T13:14:15.016Z")),
        finale_last_updated: Some(t("2026-03-06T00:00:00.001Z")),
        lines: vec![
            LineRow {
                order_item_url: Some(url("orderitem", "1")),
                product_url: Some(url("product", "10")),
                product_id: Some("10".into()),
                quantity: 3.0,
                unit_price: Some(2.5),
            },
            LineRow {
                order_item_url: None,
                product_url: Some(url("product", "10")),
                product_id: None,
                quantity: -1.5,
                unit_price: None,
            },
            LineRow {
                order_item_url: None,
                product_url: None,
                product_id: Some(String::new()),
                quantity: 0.0,
                unit_price: Some(0.0),
            },
        ],
        content_hash: [0; 32],
    });
    let bare_order = rehash_order(OrderRow {
        url: url("order", "PO-1"),
        order_id: "PO-1".into(),
        order_type: "PURCHASE_ORDER".into(),
        status: None,
        order_date: None,
        order_day: None,
        due_date: None,
        origin_facility_url: None,
        destination_facility_url: None,
        party_url: None,
        total: None,
        reference_number: None,
        finale_created: None,
        finale_last_updated: None,
        lines: vec![],
        content_hash: [0; 32],
    });
    let batch = Batch {
        facilities: facilities.clone(),
        parties: parties.clone(),
        products: vec![full_product.clone(), bare_product.clone()],
        orders: vec![full_order.clone(), bare_order.clone()],
        stock_upserts: stock_rows.clone(),
        ..Batch::default()
    };
    apply(store, &batch, t0()).await;
    refresh(store, &Scope::All, t0()).await;
    let mut full_item = ItemRow {
        finale_id: url("product", "zz-último"),
        sku: "SKU «Ω»".into(),
        name: Some(String::new()),
        stock: -2.5,
        available: -7.25,
        reorder_point: Some(0.5),
        reorder_quantity: Some(1e15),
        cost: Some(0.0),
        price: Some(123456.789),
        sales_velocity: 0.033333,
        sales_velocity_90d: 0.011111,
        days_of_stock: Some(0.0),
        status: Some("PRODUCT_ACTIVE".into()),
        content_hash: [0; 32],
    };
    full_item.content_hash = item_hash(&full_item);
    let mut bare_item = ItemRow {
        finale_id: url("product", "10"),
        sku: "10".into(),
        name: None,
        stock: 0.0,
        available: 0.0,
        reorder_point: None,
        reorder_quantity: None,
        cost: None,
        price: None,
        sales_velocity: 0.0,
        sales_velocity_90d: 0.0,
        days_of_stock: None,
        status: None,
        content_hash: [0; 32],
    };
    bare_item.content_hash = item_hash(&bare_item);
    store
        .upsert_items(&[full_item.clone(), bare_item.clone()], t0(), t0())
        .await
        .expect("upsert_items");

    let s = snapshot(store).await;
    assert_eq!(
        s.facilities,
        sorted_by(&facilities, |f| f.url.clone()),
        "{name}: facilities"
    );
    assert_eq!(
        s.parties,
        sorted_by(&parties, |p| p.url.clone()),
        "{name}: parties"
    );
    assert_eq!(
        s.products,
        vec![bare_product, full_product],
        "{name}: products"
    );
    assert_eq!(
        s.stock,
        sorted_by(&stock_rows, StockRow::key),
        "{name}: stock"
    );
    assert_eq!(s.orders, vec![bare_order, full_order], "{name}: orders");
    assert_eq!(
        s.daily_sales,
        vec![DailySalesRow {
            product_url: url("product", "10"),
            // The order's business day, not the UTC date of its order_date.
            day: day("2026-03-06"),
            units: 1.5,
            revenue: 7.5,
        }],
        "{name}: daily sales"
    );
    assert_eq!(s.items, vec![bare_item, full_item], "{name}: items");
    // Every stored hash is still the hash of the values read back.
    for f in &s.facilities {
        assert_eq!(f.content_hash, f.hash(), "{name}: facility {} hash", f.url);
    }
    for p in &s.parties {
        assert_eq!(p.content_hash, p.hash(), "{name}: party {} hash", p.url);
    }
    for o in &s.orders {
        assert_eq!(o.content_hash, o.hash(), "{name}: order {} hash", o.url);
    }
    for st in &s.stock {
        assert_eq!(st.content_hash, st.hash(), "{name}: stock hash");
    }
    for i in &s.items {
        assert_eq!(
            i.content_hash,
            item_hash(i),
            "{name}: item {} hash",
            i.finale_id
        );
    }
    // Products: `-0.0 == 0.0`, and a store may keep either sign of zero (SQLite stores an
    // integral REAL as an integer); the stored hash is the one written.
    for pr in &s.products {
        let mut q = pr.clone();
        if q.list_price == Some(0.0) {
            q.list_price = Some(-0.0);
        }
        assert!(
            pr.content_hash == pr.hash() || pr.content_hash == q.hash(),
            "{name}: product {} hash",
            pr.url
        );
    }
    // Re-applying the snapshot's own rows writes nothing.
    let again = Batch {
        facilities: s.facilities.clone(),
        parties: s.parties.clone(),
        products: s.products.clone(),
        orders: s.orders.clone(),
        stock_upserts: s.stock.clone(),
        ..Batch::default()
    };
    let a = apply(store, &again, t0() + minutes(1)).await;
    assert_nothing_applied(store, "re-apply of the snapshot", &a);
}

/// The seed's ranking through the store (time-based branches against the real clock).
pub async fn items_needing_sync_ranks(store: &dyn Store) {
    let name = store.describe();
    let now = Utc::now();
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let hours = TimeDelta::hours;
    let a = item("RANK-A", 0.0, Some(5.0), 0.1); // out of stock: 100
    let b = item("RANK-B", 3.0, Some(5.0), 0.1); // at/below reorder point: 90
    let c = item("RANK-C", 50.0, Some(5.0), 2.0); // selling fast: 80
    let d = item("RANK-D", 50.0, Some(5.0), 0.5); // fine, just synced
    let e = item("RANK-E", 50.0, None, 0.0); // fine, synced 5 h ago: 50
    for (rows, at) in [
        (vec![a, b], now - hours(30)),
        (vec![e], now - hours(5)),
        (vec![c], now - hours(2)),
        (vec![d], now),
    ] {
        store
            .upsert_items(&rows, at, at)
            .await
            .expect("upsert_items");
    }
    let rank = |strategy, limit| async move {
        store
            .items_needing_sync(strategy, limit, now)
            .await
            .unwrap_or_else(|e| panic!("{}: items_needing_sync failed: {e:?}", store.describe()))
            .into_iter()
            .map(|c| (c.sku, c.priority))
            .collect::<Vec<_>>()
    };
    let pair = |s: &str, p: i32| (s.to_owned(), p);
    assert_eq!(
        rank(Strategy::Critical, 10).await,
        vec![
            pair("RANK-A", 100),
            pair("RANK-B", 90),
            pair("RANK-C", 80),
            pair("RANK-E", 50)
        ],
        "{name}: critical"
    );
    let smart: BTreeSet<(String, i32)> = rank(Strategy::Smart, 10).await.into_iter().collect();
    assert_eq!(
        smart,
        [pair("RANK-A", 50), pair("RANK-B", 50)].into(),
        "{name}: smart takes day-old syncs"
    );
    assert_eq!(
        rank(Strategy::Full, 10).await,
        ["RANK-A", "RANK-B", "RANK-C", "RANK-D", "RANK-E"]
            .map(|s| pair(s, 10))
            .to_vec(),
        "{name}: full takes everything by SKU"
    );
    assert_eq!(
        rank(Strategy::Full, 2).await,
        vec![pair("RANK-A", 10), pair("RANK-B", 10)],
        "{name}: limit"
    );
}
