//! "The store equals the simulator's truth": the expected store content computed straight
//! from the simulator's data model, and a table-by-table comparison with a store's
//! [`Snapshot`].
//!
//! # Two independent readings
//!
//! [`expected_snapshot`] never goes through the Finale client or the engine's
//! `engine::sync::convert` conversions: it reads [`finale_sim::Dataset`] (the records the
//! simulator renders from) and applies the mapping rules of `crates/engine/src/rows.rs` by
//! hand. An engine sync reads the same data over HTTP, decodes it with the client and converts
//! it with `rows.rs`; the two results must agree exactly. Only the content-hash functions
//! (`FacilityRow::hash`, ..., `derive::item_row`) are shared, since the hash is a definition,
//! not a reading.
//!
//! # What the wire does to the truth
//!
//! The expected rows hold what the client *receives*, not the simulator's in-memory values:
//!
//! - **Timestamps** are rendered `YYYY-MM-DDTHH:MM:SS` without offset in the timestamp zone
//!   ([`Expect::timestamp_zone`], the simulator's `quirks.timestamp_zone()`: UTC unless
//!   `quirks.timestamps` is `Account`) and parsed back in that zone:
//!   fractions of a second are lost, and a local time that occurs twice (the hour after a
//!   DST fall-back) resolves to its earlier instant. Generated and live-mode timestamps are
//!   whole seconds, so both stores (SQLite keeps milliseconds, Postgres microseconds) can
//!   hold them exactly.
//! - **Numbers** go through JSON: whole numbers are written as integers (so `-0.0` arrives as
//!   `0.0`), others as shortest round-trip decimals.
//! - **Order totals** are the simulator's `orderItemListTotal` (line sum rounded to cents).
//!
//! # Mapping (rows.rs)
//!
//! - Optional URL references (`parentFacilityUrl`, `supplierPartyUrl`, a guideline's
//!   `facilityUrl`, an order's facilities, a line's `productUrl`) that are empty strings
//!   become `None`; other strings are kept as sent (`Some("")` stays). A line's
//!   `orderItemUrl` is never stored (GraphQL lines carry none), so it is always `None`.
//! - Fields the simulator does not render are `None`: a facility's `facilityTypeId`, a sales
//!   order's `dueDate`. A purchase order's `dueDate` is date-only (the calendar day of its
//!   order date in the account's zone plus 14 days, written `…T16:00:00`): stored as
//!   midnight UTC of that date.
//! - Product: `category` = `userCategory`, `list_price` = the first `LIST_PRICE` entry of
//!   `priceList`, a supplier link `is_main` when its `supplierPrefOrderId` contains `MAIN`
//!   (case-sensitive, as rows.rs), `user_fields` = `{attrName: attrValue}` (a later duplicate
//!   name wins).
//! - Party: `contacts` = the JSON of the client's `ContactMech` list (snake_case keys `id`,
//!   `mech_type`, `purpose`, `info`, `address1`, `address2`, `city`, `state`, `postal_code`,
//!   `country`, all present, `null` when absent); `user_fields` as for products.
//! - Order: `party_url` is taken from the `CUSTOMER` role (`SUPPLIER` for `PURCHASE_ORDER`).
//!   The simulator's `orderRoleList` carries only `partyId`, never `partyUrl`, so rows.rs
//!   stores `None`; [`OrderParty::ById`] expects the party's URL instead (see [`OrderParty`]).
//! - Stock: `inventoryitem` rows summed per (product, sublocation) over lots, packings and
//!   orders, in units: a packed row's quantities (cases in the model) times its units per
//!   case, read as the wire carries them ([`Expect::packed`]); pairs whose sums rows.rs
//!   would reject (non-finite, negative reserved/on order) are left out.
//! - An order's business day (`order_day`) is the calendar date of its order date (as read
//!   back) in the account's time zone ([`Expect::timezone`], the simulator's
//!   `quirks.timezone`), computed here with chrono-tz directly.
//! - Daily sales (store.rs conventions): lines of `SALES_ORDER`s in `ORDER_LOCKED` or
//!   `ORDER_COMPLETED` (drafts and cancelled orders are no sales) with an order date, per
//!   (product, business day of the order); units = quantity, revenue = quantity × unit price
//!   (a missing price counts 0).
//! - Items (the seed's `inventory_items`): one per product, from an [`ItemInput`] built here
//!   (on hand and reserved summed over the product's stock rows, 0 without any; reorder point
//!   and quantity summed over the guidelines that are not `##doNotReorder`, `None` without
//!   any; units sold in the 30 and 90 business days up to `as_of`'s date in the account's
//!   zone; the product's created date and its first sale, which bound the days a young
//!   product's velocity divides by) and finished by [`engine::derive::item_row`]. Velocities depend on
//!   `as_of`'s date only: pass the `as_of` of the engine's last item refresh.
//!
//! Records the engine quarantines are not stored. The simulator's data is valid by default,
//! so the expected snapshot holds every record; a test that injects malformed records
//! excludes them with [`Expect::exclude`] / [`Expect::exclude_stock`], which also keeps them
//! out of the derived tables (an excluded order's lines do not count as sales, an excluded
//! product has no item row; its stock rows stay, since stock is read from `inventoryitem`).
//!
//! # Comparing
//!
//! [`compare`] keys both sides (URL, stock pair, product and day, `finale_id`), so the stores'
//! own sort orders (collations) do not matter, and lists per table: rows missing from the
//! store, extra rows, and differing fields with both values (children by position, e.g.
//! `lines[3].quantity`), then rows whose `content_hash` differs although every field is equal.
//! Numbers compare bit-exactly (so do the hashes), except in `daily_sales`, which the stores
//! sum in their own order: there a relative difference up to 1e-9 is accepted. Each table
//! shows at most [`LINES_PER_TABLE`] detail lines after a header with the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use engine::derive::{ItemInput, item_row};
use engine::rows::{
    DailySalesRow, FacilityRow, GuidelineRow, Hash, LineRow, OrderRow, PartyRow, ProductRow,
    StockKey, StockRow, SupplierLinkRow,
};
use engine::store::Snapshot;
use finale_sim::render::{Render, Scalar};
use finale_sim::{Dataset, PackedQuantities, SimConfig};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Detail lines shown per table by [`compare`] (after its header line).
pub const LINES_PER_TABLE: usize = 20;

/// Field differences shown per row before "(+N more)".
const FIELDS_PER_ROW: usize = 6;

/// Relative tolerance for `daily_sales` numbers (sums taken in another order).
const SALES_TOLERANCE: f64 = 1e-9;

/// Which party URL an order's row is expected to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderParty {
    /// The role's `partyUrl` exactly as sent (`None` when Finale sends only `partyId`).
    AsSent,
    /// The URL of the party group whose `partyId` the role names: what the engine stores
    /// (rows.rs resolves `partyId` under the account's API root).
    #[default]
    ById,
}

/// How to read the truth: the account's time zone, the shape of order data the engine
/// receives, and records to leave out.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The account's time zone (the simulator's `quirks.timezone`): business days.
    pub timezone: Tz,
    /// The zone timestamps are rendered in (the simulator's `quirks.timestamp_zone()`).
    pub timestamp_zone: Tz,
    /// Which party URL orders hold.
    pub order_party: OrderParty,
    /// What packed `inventoryitem` quantities count on the wire (the simulator's
    /// `quirks.packed_quantities`); the store holds units either way.
    pub packed: PackedQuantities,
    /// Record URLs (facilities, parties, products, orders) the store is not expected to hold.
    pub exclude: BTreeSet<String>,
    /// Stock pairs `(product_url, facility_url)` the store is not expected to hold.
    pub exclude_stock: BTreeSet<StockKey>,
}

impl Default for Expect {
    fn default() -> Self {
        Self {
            timezone: chrono_tz::UTC,
            timestamp_zone: chrono_tz::UTC,
            order_party: OrderParty::default(),
            packed: PackedQuantities::default(),
            exclude: BTreeSet::new(),
            exclude_stock: BTreeSet::new(),
        }
    }
}

impl Expect {
    /// UTC, parties as sent, REST order lines, nothing excluded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The defaults with the simulator's account time zone and timestamp zone.
    pub fn for_sim(cfg: &SimConfig) -> Self {
        Self {
            timezone: cfg.quirks.timezone,
            packed: cfg.quirks.packed_quantities,
            timestamp_zone: cfg.quirks.timestamp_zone(),
            ..Self::default()
        }
    }

    /// Sets the account's time zone (business days).
    pub fn timezone(mut self, tz: Tz) -> Self {
        self.timezone = tz;
        self
    }

    /// Sets the zone timestamps are rendered in.
    pub fn timestamp_zone(mut self, tz: Tz) -> Self {
        self.timestamp_zone = tz;
        self
    }

    /// Sets which party URL orders hold.
    pub fn order_party(mut self, p: OrderParty) -> Self {
        self.order_party = p;
        self
    }

    /// Sets what packed quantities count on the wire.
    pub fn packed(mut self, packed: PackedQuantities) -> Self {
        self.packed = packed;
        self
    }

    /// Leaves the record with this URL out (e.g. one the engine quarantines).
    pub fn exclude(mut self, url: impl Into<String>) -> Self {
        self.exclude.insert(url.into());
        self
    }

    /// Leaves these record URLs out.
    pub fn exclude_all<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude.extend(urls.into_iter().map(Into::into));
        self
    }

    /// Leaves the stock pair out.
    pub fn exclude_stock(
        mut self,
        product_url: impl Into<String>,
        facility_url: impl Into<String>,
    ) -> Self {
        self.exclude_stock
            .insert((product_url.into(), facility_url.into()));
        self
    }
}

/// What a perfectly synced store holds for `ds` (UTC account, see [`Expect::default`]),
/// with velocities as of `as_of`.
pub fn expected_snapshot(ds: &Dataset, as_of: DateTime<Utc>) -> Snapshot {
    expected_snapshot_with(ds, as_of, &Expect::default())
}

/// What a perfectly synced store holds for `ds`, read as `expect` says.
pub fn expected_snapshot_with(ds: &Dataset, as_of: DateTime<Utc>, expect: &Expect) -> Snapshot {
    let w = Wire {
        tz: expect.timestamp_zone,
    };
    let keep = |url: &str| !expect.exclude.contains(url);

    let mut facilities: Vec<FacilityRow> = ds
        .facilities
        .rows()
        .iter()
        .filter(|f| keep(&f.facility_url))
        .map(|f| facility(f, &w))
        .collect();
    facilities.sort_by(|a, b| a.url.cmp(&b.url));

    let mut parties: Vec<PartyRow> = ds
        .party_groups
        .rows()
        .iter()
        .filter(|p| keep(&p.party_url))
        .map(|p| party(p, &w))
        .collect();
    parties.sort_by(|a, b| a.url.cmp(&b.url));

    let mut products: Vec<ProductRow> = ds
        .products
        .rows()
        .iter()
        .filter(|p| keep(&p.product_url))
        .map(|p| product(p, &w))
        .collect();
    products.sort_by(|a, b| a.url.cmp(&b.url));

    let party_urls: BTreeMap<&str, &str> = ds
        .party_groups
        .rows()
        .iter()
        .map(|p| (p.party_id.as_str(), p.party_url.as_str()))
        .collect();
    let mut orders: Vec<OrderRow> = ds
        .orders
        .rows()
        .iter()
        .filter(|o| keep(&o.order_url))
        .map(|o| order(o, &w, expect, &party_urls))
        .collect();
    orders.sort_by(|a, b| a.url.cmp(&b.url));

    let stock = stock(ds, expect.packed, &expect.exclude_stock);
    let daily_sales = daily_sales(&orders);
    let items = items(
        &products,
        &stock,
        &daily_sales,
        as_of.with_timezone(&expect.timezone).date_naive(),
    );

    Snapshot {
        facilities,
        parties,
        products,
        stock,
        orders,
        daily_sales,
        items,
    }
}

// ---------------------------------------------------------------------------------------------
// The wire

/// What rendering in the account zone and JSON do to values.
struct Wire {
    tz: Tz,
}

impl Wire {
    /// An instant as the client reads it back: whole seconds, local time in the account zone,
    /// an ambiguous local time resolved to its earlier instant.
    fn time(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let local = t.with_timezone(&self.tz).naive_local();
        let local = local.with_nanosecond(0).unwrap_or(local);
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .map_or(t, |l| l.with_timezone(&Utc))
    }

    fn time_opt(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(self.time(t))
    }
}

/// A number as the client reads it back from the simulator's JSON.
fn num(x: f64) -> f64 {
    let text = finale_sim::render::num(x).to_string();
    serde_json::from_str::<f64>(&text).unwrap_or(x)
}

fn num_opt(x: Option<f64>) -> Option<f64> {
    x.map(num)
}

/// rows.rs: an empty reference is no reference.
fn reference(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

fn user_fields(list: &[finale_sim::UserFieldData]) -> Value {
    let mut m = Map::new();
    for u in list {
        m.insert(u.attr_name.clone(), Value::String(u.attr_value.clone()));
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Mirror rows

fn facility(f: &finale_sim::Facility, w: &Wire) -> FacilityRow {
    let mut row = FacilityRow {
        url: f.facility_url.clone(),
        facility_id: f.facility_id.clone(),
        name: Some(f.facility_name.clone()),
        parent_url: reference(f.parent_facility_url.as_deref()),
        status: Some(f.status_id.clone()),
        // Not rendered by the simulator.
        facility_type: None,
        shipping_disabled: Some(f.shipping_disabled),
        receiving_disabled: Some(f.receiving_disabled),
        finale_created: w.time_opt(f.created_date),
        finale_last_updated: w.time_opt(f.last_updated_date),
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    row
}

/// One contact mechanism as the client's `ContactMech` serializes.
fn contact(c: &finale_sim::ContactMech) -> Value {
    json!({
        "id": c.contact_mech_id,
        "mech_type": c.contact_mech_type_id,
        "purpose": c.contact_mech_purpose_type_id,
        "info": c.info_string,
        "address1": c.address1,
        "address2": Value::Null,
        "city": c.city,
        "state": Value::Null,
        "postal_code": c.postal_code,
        "country": c.country_geo_id,
    })
}

fn party(p: &finale_sim::PartyGroup, w: &Wire) -> PartyRow {
    let mut row = PartyRow {
        url: p.party_url.clone(),
        party_id: p.party_id.clone(),
        name: Some(p.group_name.clone()),
        roles: p.role_type_id_list.clone(),
        status: Some(p.status_id.clone()),
        contacts: Value::Array(p.contact_mech_list.iter().map(contact).collect()),
        user_fields: user_fields(&p.user_field_data_list),
        finale_last_updated: w.time_opt(p.last_updated_date),
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    row
}

fn product(p: &finale_sim::Product, w: &Wire) -> ProductRow {
    let suppliers = p
        .supplier_list
        .iter()
        .map(|s| SupplierLinkRow {
            supplier_url: reference(Some(&s.supplier_party_url)),
            supplier_sku: Some(s.supplier_product_id.clone()),
            pref_order_id: Some(s.supplier_pref_order_id.clone()),
            is_main: s
                .supplier_pref_order_id
                .to_ascii_uppercase()
                .contains("MAIN"),
            price: Some(num(s.price)),
            currency: Some(s.currency_uom_id.clone()),
            lead_time_days: num_opt(s.lead_time),
        })
        .collect();
    let guidelines = p
        .reorder_guideline_list
        .iter()
        .map(|g| GuidelineRow {
            facility_url: reference(Some(&g.facility_url)),
            reorder_point: Some(num(g.reorder_point)),
            reorder_qty: Some(num(g.reorder_quantity)),
            calculation_method: g.reorder_calculation_method_id.clone(),
        })
        .collect();
    let list_price = p
        .price_list
        .iter()
        .find(|r| r.product_price_type_id == "LIST_PRICE")
        .map(|r| num(r.price));
    let mut row = ProductRow {
        url: p.product_url.to_string(),
        sku: p.product_id.to_string(),
        name: Some(p.internal_name.clone()),
        status: Some(p.status_id.clone()),
        product_type: Some(p.product_type_id.clone()),
        category: p.user_category.clone(),
        upc: p.universal_product_code.clone(),
        cost: num_opt(p.cost),
        lead_time_days: num_opt(p.lead_time),
        packing: p.normalized_packing_string.clone(),
        list_price,
        user_fields: user_fields(&p.user_field_data_list),
        finale_created: w.time_opt(p.created_date),
        finale_last_updated: w.time_opt(p.last_updated_date),
        suppliers,
        guidelines,
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    row
}

fn order(
    o: &finale_sim::Order,
    w: &Wire,
    expect: &Expect,
    party_urls: &BTreeMap<&str, &str>,
) -> OrderRow {
    let lines = o
        .order_item_list
        .iter()
        .map(|l| LineRow {
            // Never stored: GraphQL lines have none (rows.rs `LineRow`).
            order_item_url: None,
            product_url: reference(Some(&l.product_url)),
            product_id: Some(l.product_id.to_string()),
            quantity: num(l.quantity),
            unit_price: Some(num(l.unit_price)),
        })
        .collect();
    let wanted = if o.order_type_id == "PURCHASE_ORDER" {
        "SUPPLIER"
    } else {
        "CUSTOMER"
    };
    let role = o.order_role_list.iter().find(|r| r.role_type_id == wanted);
    let party_url = match expect.order_party {
        OrderParty::AsSent => None,
        OrderParty::ById => role
            .and_then(|r| party_urls.get(r.party_id.as_str()))
            .and_then(|u| reference(Some(u))),
    };
    let total = match o.scalar("orderItemListTotal") {
        Some(Scalar::Num(x)) => Some(num(x)),
        _ => None,
    };
    let mut row = OrderRow {
        url: o.order_url.clone(),
        order_id: o.order_id.clone(),
        order_type: o.order_type_id.clone(),
        status: Some(o.status_id.clone()),
        order_date: w.time_opt(o.order_date),
        order_day: Some(
            w.time(o.order_date)
                .with_timezone(&expect.timezone)
                .date_naive(),
        ),
        // A purchase order's date-only due date: `<account-local order day + 14>T16:00:00`;
        // the client keeps its date part at midnight UTC.
        due_date: (o.order_type_id == "PURCHASE_ORDER").then(|| {
            (o.order_date.with_timezone(&expect.timezone).date_naive() + Duration::days(14))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
        }),
        origin_facility_url: reference(o.origin_facility_url.as_deref()),
        destination_facility_url: reference(o.destination_facility_url.as_deref()),
        party_url,
        total,
        reference_number: o.reference_number.clone(),
        finale_created: w.time_opt(o.created_date),
        finale_last_updated: w.time_opt(o.last_updated_date),
        lines,
        content_hash: [0; 32],
    };
    row.content_hash = row.hash();
    row
}

fn stock(ds: &Dataset, packed: PackedQuantities, exclude: &BTreeSet<StockKey>) -> Vec<StockRow> {
    let mut sums: BTreeMap<(&str, &str), [f64; 3]> = BTreeMap::new();
    for it in &ds.inventory_items {
        if it.product_url.is_empty() || it.facility_url.is_empty() {
            continue;
        }
        // The model holds cases for packed rows. Rendered as cases, the engine multiplies
        // what it reads by the units per case; rendered as units, it reads units.
        let n = it.units_per_case();
        let units = |q: f64| match packed {
            PackedQuantities::Cases => num(q) * n,
            PackedQuantities::Units => num(q * n),
        };
        let s = sums
            .entry((&it.product_url, &it.facility_url))
            .or_insert([0.0; 3]);
        s[0] += units(it.quantity_on_hand);
        s[1] += units(it.quantity_reserved);
        s[2] += units(it.quantity_on_order);
    }
    sums.into_iter()
        .filter(|(_, [h, r, o])| h.is_finite() && r.is_finite() && o.is_finite())
        .filter(|(_, [_, r, o])| *r >= 0.0 && *o >= 0.0)
        .map(|((p, f), [h, r, o])| (p.to_owned(), f.to_owned(), h, r, o))
        .filter(|(p, f, ..)| !exclude.contains(&(p.clone(), f.clone())))
        .map(|(p, f, h, r, o)| StockRow::new(p, f, h, r, o))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Derived rows

fn daily_sales(orders: &[OrderRow]) -> Vec<DailySalesRow> {
    let mut days: BTreeMap<(&str, NaiveDate), (f64, f64)> = BTreeMap::new();
    for o in orders {
        let Some(day) = o.order_day else { continue };
        let committed = matches!(
            o.status.as_deref(),
            Some("ORDER_LOCKED" | "ORDER_COMPLETED")
        );
        if o.order_type != "SALES_ORDER" || !committed {
            continue;
        }
        for l in &o.lines {
            let Some(p) = l.product_url.as_deref() else {
                continue;
            };
            let d = days.entry((p, day)).or_insert((0.0, 0.0));
            d.0 += l.quantity;
            d.1 += l.quantity * l.unit_price.unwrap_or(0.0);
        }
    }
    days.into_iter()
        .map(|((p, day), (units, revenue))| DailySalesRow {
            product_url: p.to_owned(),
            day,
            units,
            revenue,
        })
        .collect()
}

/// SQL `SUM`: `None` when no value is present.
fn sum_present(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    xs.flatten()
        .fold(None, |acc, x| Some(acc.unwrap_or(0.0) + x))
}

fn items(
    products: &[ProductRow],
    stock: &[StockRow],
    sales: &[DailySalesRow],
    today: NaiveDate,
) -> Vec<engine::rows::ItemRow> {
    let mut on_hand: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for s in stock {
        let e = on_hand.entry(&s.product_url).or_insert((0.0, 0.0));
        e.0 += s.on_hand;
        e.1 += s.reserved;
    }
    let (from30, from90) = (today - Duration::days(30), today - Duration::days(90));
    let mut units: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut first_sale: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for d in sales {
        let first = first_sale.entry(&d.product_url).or_insert(d.day);
        *first = (*first).min(d.day);
    }
    for d in sales.iter().filter(|d| d.day <= today) {
        let u = units.entry(&d.product_url).or_insert((0.0, 0.0));
        if d.day > from30 {
            u.0 += d.units;
        }
        if d.day > from90 {
            u.1 += d.units;
        }
    }
    let mut rows: Vec<_> = products
        .iter()
        .map(|p| {
            let (units_30d, units_90d) = units.get(p.url.as_str()).copied().unwrap_or_default();
            let (on_hand, reserved) = on_hand.get(p.url.as_str()).copied().unwrap_or_default();
            // Do-not-reorder guidelines are no reorder point.
            let reorder = || {
                p.guidelines
                    .iter()
                    .filter(|g| g.calculation_method.as_deref() != Some("##doNotReorder"))
            };
            item_row(&ItemInput {
                product_url: p.url.clone(),
                sku: p.sku.clone(),
                name: p.name.clone(),
                status: p.status.clone(),
                cost: p.cost,
                list_price: p.list_price,
                on_hand,
                reserved,
                reorder_point: sum_present(reorder().map(|g| g.reorder_point)),
                reorder_qty: sum_present(reorder().map(|g| g.reorder_qty)),
                // Per-location levels feed the critical triggers, not the item row.
                locations: Vec::new(),
                units_30d,
                units_90d,
                created: p.finale_created,
                first_sale: first_sale.get(p.url.as_str()).copied(),
                as_of: today,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.finale_id.cmp(&b.finale_id));
    rows
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// The differences between the expected and the actual store content, table by table; empty
/// when they are equal. See the module docs for the format.
pub fn compare(expected: &Snapshot, actual: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    table(
        "facilities",
        &expected.facilities,
        &actual.facilities,
        |r| r.url.clone(),
        |r| Some(r.content_hash),
        0.0,
        &mut out,
    );
    table(
        "parties",
        &expected.parties,
        &actual.parties,
        |r| r.url.clone(),
        |r| Some(r.content_hash),
        0.0,
        &mut out,
    );
    table(
        "products",
        &expected.products,
        &actual.products,
        |r| r.url.clone(),
        |r| Some(r.content_hash),
        0.0,
        &mut out,
    );
    table(
        "stock",
        &expected.stock,
        &actual.stock,
        |r| format!("{} @ {}", r.product_url, r.facility_url),
        |r| Some(r.content_hash),
        0.0,
        &mut out,
    );
    table(
        "orders",
        &expected.orders,
        &actual.orders,
        |r| r.url.clone(),
        |r| Some(r.content_hash),
        0.0,
        &mut out,
    );
    table(
        "daily_sales",
        &expected.daily_sales,
        &actual.daily_sales,
        |r| format!("{} @ {}", r.product_url, r.day),
        |_| None,
        SALES_TOLERANCE,
        &mut out,
    );
    table(
        "items",
        &expected.items,
        &actual.items,
        |r| r.finale_id.clone(),
        |r| Some(r.content_hash),
        0.0,
        &mut out,
    );
    out
}

/// Panics with every difference [`compare`] finds.
pub fn assert_matches(expected: &Snapshot, actual: &Snapshot) {
    let diffs = compare(expected, actual);
    if !diffs.is_empty() {
        panic!(
            "the store differs from the simulator's truth (expected {}; actual {}):\n{}",
            counts(expected),
            counts(actual),
            diffs.join("\n")
        );
    }
}

/// Row counts per table, e.g. `facilities 9, parties 41, ...`.
pub fn counts(s: &Snapshot) -> String {
    format!(
        "facilities {}, parties {}, products {}, stock {}, orders {} ({} lines), daily_sales {}, items {}",
        s.facilities.len(),
        s.parties.len(),
        s.products.len(),
        s.stock.len(),
        s.orders.len(),
        s.orders.iter().map(|o| o.lines.len()).sum::<usize>(),
        s.daily_sales.len(),
        s.items.len()
    )
}

/// Rows by key, and the keys that occur more than once.
fn keyed<'a, T>(
    rows: &'a [T],
    key: &impl Fn(&T) -> String,
) -> (BTreeMap<String, &'a T>, Vec<String>) {
    let mut map = BTreeMap::new();
    let mut dups = Vec::new();
    for r in rows {
        let k = key(r);
        if map.insert(k.clone(), r).is_some() {
            dups.push(k);
        }
    }
    (map, dups)
}

/// A row's fields as JSON, without `content_hash`.
fn fields<T: Serialize>(r: &T) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("content_hash");
    }
    v
}

fn table<T: Serialize + PartialEq>(
    name: &str,
    expected: &[T],
    actual: &[T],
    key: impl Fn(&T) -> String,
    hash: impl Fn(&T) -> Option<Hash>,
    tolerance: f64,
    out: &mut Vec<String>,
) {
    let (exp, exp_dups) = keyed(expected, &key);
    let (act, act_dups) = keyed(actual, &key);
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    let mut differing = Vec::new();
    let mut hash_only = Vec::new();
    let mut n_differing = 0usize;
    for (k, &e) in &exp {
        let Some(&a) = act.get(k) else {
            missing.push(format!("  missing {k}"));
            continue;
        };
        // Equal rows (hash included) need no field-by-field look.
        if e == a {
            continue;
        }
        let mut diffs = Vec::new();
        diff_value("", &fields(e), &fields(a), tolerance, &mut diffs);
        if !diffs.is_empty() {
            n_differing += 1;
            let more = diffs.len().saturating_sub(FIELDS_PER_ROW);
            diffs.truncate(FIELDS_PER_ROW);
            if more > 0 {
                diffs.push(format!("(+{more} more fields)"));
            }
            differing.extend(diffs.into_iter().map(|f| format!("  {k}: {f}")));
        } else if hash(e) != hash(a) {
            hash_only.push(format!(
                "  {k}: content_hash {} ≠ {} though every field is equal",
                hex(hash(e)),
                hex(hash(a))
            ));
        }
    }
    for k in act.keys().filter(|k| !exp.contains_key(*k)) {
        extra.push(format!("  extra {k}"));
    }
    let dups: Vec<String> = exp_dups
        .iter()
        .map(|k| format!("  duplicate key {k} in the expected rows"))
        .chain(
            act_dups
                .iter()
                .map(|k| format!("  duplicate key {k} in the store")),
        )
        .collect();
    if missing.is_empty()
        && extra.is_empty()
        && differing.is_empty()
        && hash_only.is_empty()
        && dups.is_empty()
    {
        return;
    }
    let mut header = format!("{name}: ");
    let mut parts = Vec::new();
    for (n, what) in [
        (missing.len(), "missing"),
        (extra.len(), "extra"),
        (n_differing, "with differing fields"),
        (hash_only.len(), "with only a differing content_hash"),
        (dups.len(), "duplicate keys"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let _ = write!(
        header,
        "{} (expected {} rows, store {})",
        parts.join(", "),
        expected.len(),
        actual.len()
    );
    out.push(header);
    // Field differences first, then missing and extra rows, then hash-only rows; each group
    // gets a fair share of the lines when all do not fit.
    let groups = [dups, differing, missing, extra, hash_only];
    let shown = fair_share(&groups.iter().map(Vec::len).collect::<Vec<_>>());
    let mut hidden = 0;
    for (g, n) in groups.iter().zip(shown) {
        out.extend(g.iter().take(n).cloned());
        hidden += g.len() - n;
    }
    if hidden > 0 {
        out.push(format!("  ... and {hidden} more lines for {name}"));
    }
}

/// How many lines of each group to show so that at most [`LINES_PER_TABLE`] are shown and no
/// non-empty group is crowded out by an earlier one.
fn fair_share(lens: &[usize]) -> Vec<usize> {
    let mut shown = vec![0; lens.len()];
    let mut budget = LINES_PER_TABLE;
    loop {
        let open: Vec<usize> = (0..lens.len()).filter(|&i| shown[i] < lens[i]).collect();
        if open.is_empty() || budget == 0 {
            return shown;
        }
        let each = (budget / open.len()).max(1);
        for i in open {
            let n = each.min(lens[i] - shown[i]).min(budget);
            shown[i] += n;
            budget -= n;
        }
    }
}

fn hex(h: Option<Hash>) -> String {
    match h {
        None => "none".into(),
        Some(h) => {
            h[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                + "…"
        }
    }
}

/// Field-by-field differences of two JSON values (objects by key, arrays by position).
fn diff_value(path: &str, e: &Value, a: &Value, tol: f64, out: &mut Vec<String>) {
    let at = |p: &str| {
        if p.is_empty() {
            "(row)".to_owned()
        } else {
            p.to_owned()
        }
    };
    match (e, a) {
        (Value::Object(em), Value::Object(am)) => {
            let keys: BTreeSet<&String> = em.keys().chain(am.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_value(
                    &p,
                    em.get(k).unwrap_or(&Value::Null),
                    am.get(k).unwrap_or(&Value::Null),
                    tol,
                    out,
                );
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            if ea.len() != aa.len() {
                out.push(format!(
                    "{}: expected {} entries, store has {}",
                    at(path),
                    ea.len(),
                    aa.len()
                ));
            }
            for (i, (x, y)) in ea.iter().zip(aa).enumerate() {
                diff_value(&format!("{path}[{i}]"), x, y, tol, out);
            }
        }
        (Value::Number(x), Value::Number(y)) if !same_number(x, y, tol) => {
            out.push(format!("{}: expected {e}, store has {a}", at(path)));
        }
        (Value::Number(_), Value::Number(_)) => {}
        _ if e != a => out.push(format!("{}: expected {e}, store has {a}", at(path))),
        _ => {}
    }
}

fn same_number(x: &serde_json::Number, y: &serde_json::Number, tol: f64) -> bool {
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) if x.is_f64() || y.is_f64() => {
            a.to_bits() == b.to_bits()
                || (tol > 0.0 && (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0))
        }
        _ => x == y,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "truth_selftest/mod.rs"]
mod tests;
