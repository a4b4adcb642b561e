//! The store's row model: what one Finale record becomes in the store, its content hash, and
//! the checks a row must pass before any store sees it.
//!
//! Conversion is pure (`Finale record → Result<Row, Invalid>`) and shared by both stores, so
//! the Postgres and SQLite stores hold exactly the same values and hashes:
//!
//! - **Content hash.** BLAKE3 over a canonical, length-prefixed encoding of every stored
//!   field (children included), in a fixed order ([`ContentHasher`]). Two records hash equal
//!   exactly when the store would hold the same values, so "hash unchanged" means "nothing to
//!   write". Bookkeeping (`first_seen_at`, `updated_at`) is not hashed.
//! - **Validation.** A row that would violate a store CHECK (non-finite numbers, negative
//!   prices, empty keys) is rejected here as an [`Invalid`], which the engine quarantines with
//!   the record's raw JSON. Rejecting in Rust keeps one bad record from failing the batch it
//!   travels in, and keeps NaN out of SQLite (which would store it as NULL).
//! - **Stock** is Finale's `inventoryitem` rows summed per (product, sublocation) over lots,
//!   packings and orders ([`aggregate_stock`]), in **units**: a case-packed row
//!   (`normalizedPackingString` `"12 cs 12/1"`) counts cases when
//!   [`PackedQuantities::Cases`] (the default, `FINALE_PACKED_QUANTITIES`) and is converted
//!   by its packing; order-line quantities likewise. A packing that cannot be read is
//!   quarantined with the raw row, never guessed, and its stock pair is left as stored.
//! - **Derived rows** ([`ItemRow`], the seed's `inventory_items`; [`DailySalesRow`]) are
//!   computed from stored rows, see [`crate::derive`].
//! - **The business day of an order** ([`OrderRow::order_day`]) is the calendar date of
//!   `order_date` in the account's time zone (`FINALE_TIMEZONE`), computed here in Rust with
//!   chrono-tz ([`business_day`]) and stored as a column, so both stores group sales by the
//!   same value: SQLite has no time-zone database, and Postgres' own could disagree with
//!   chrono-tz's on a recently changed zone. It is derived from `order_date` and a setting,
//!   not from Finale's content, so it is left out of the content hash: when the account's
//!   zone changes the engine re-derives it for every stored order
//!   ([`crate::store::Store::set_order_days`]) instead of rewriting every order.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use finale::{Facility, FinaleRecord, InventoryItem, Order, PackedQuantities, PartyGroup, Product};
use serde::{Deserialize, Serialize};

/// A 32-byte content hash.
pub type Hash = [u8; 32];

/// Why a record cannot be stored. The engine quarantines it (`sync_errors`) and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{collection} record {key}: field `{field}`: {reason}")]
pub struct Invalid {
    /// Finale collection name (`product`, `order`, ...).
    pub collection: &'static str,
    /// The record's key (its URL, or the stock pair).
    pub key: String,
    /// The offending field (Finale's name where there is one).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A location or sublocation (`facilities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacilityRow {
    pub url: String,
    pub facility_id: String,
    pub name: Option<String>,
    pub parent_url: Option<String>,
    pub status: Option<String>,
    pub facility_type: Option<String>,
    pub shipping_disabled: Option<bool>,
    pub receiving_disabled: Option<bool>,
    pub finale_created: Option<DateTime<Utc>>,
    pub finale_last_updated: Option<DateTime<Utc>>,
    pub content_hash: Hash,
}

/// A supplier, customer or carrier (`parties`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyRow {
    pub url: String,
    pub party_id: String,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub status: Option<String>,
    /// A JSON array of contact mechanisms.
    pub contacts: serde_json::Value,
    /// A JSON object `{name: value}`.
    pub user_fields: serde_json::Value,
    pub finale_last_updated: Option<DateTime<Utc>>,
    pub content_hash: Hash,
}

/// A product with its owned supplier links and reorder guidelines (`products`,
/// `product_suppliers`, `reorder_guidelines`; children are keyed by their position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRow {
    pub url: String,
    pub sku: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub product_type: Option<String>,
    pub category: Option<String>,
    pub upc: Option<String>,
    pub cost: Option<f64>,
    pub lead_time_days: Option<f64>,
    pub packing: Option<String>,
    /// The `LIST_PRICE` entry of Finale's `priceList`.
    pub list_price: Option<f64>,
    /// A JSON object `{name: value}`.
    pub user_fields: serde_json::Value,
    pub finale_created: Option<DateTime<Utc>>,
    pub finale_last_updated: Option<DateTime<Utc>>,
    pub suppliers: Vec<SupplierLinkRow>,
    pub guidelines: Vec<GuidelineRow>,
    pub content_hash: Hash,
}

/// One `product_suppliers` row (its `seq` is its index in [`ProductRow::suppliers`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupplierLinkRow {
    pub supplier_url: Option<String>,
    pub supplier_sku: Option<String>,
    pub pref_order_id: Option<String>,
    pub is_main: bool,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub lead_time_days: Option<f64>,
}

/// One `reorder_guidelines` row (its `seq` is its index in [`ProductRow::guidelines`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuidelineRow {
    pub facility_url: Option<String>,
    pub reorder_point: Option<f64>,
    pub reorder_qty: Option<f64>,
    pub calculation_method: Option<String>,
}

/// Stock of one product in one sublocation (`stock`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockRow {
    pub product_url: String,
    pub facility_url: String,
    pub on_hand: f64,
    pub reserved: f64,
    pub on_order: f64,
    pub content_hash: Hash,
}

/// The key of a [`StockRow`]: `(product_url, facility_url)`.
pub type StockKey = (String, String);

impl StockRow {
    /// Its key.
    pub fn key(&self) -> StockKey {
        (self.product_url.clone(), self.facility_url.clone())
    }
}

/// An order with its owned lines (`orders`, `order_lines`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRow {
    pub url: String,
    pub order_id: String,
    pub order_type: String,
    pub status: Option<String>,
    pub order_date: Option<DateTime<Utc>>,
    /// The account's business day of `order_date` ([`business_day`]); not hashed.
    pub order_day: Option<NaiveDate>,
    pub due_date: Option<DateTime<Utc>>,
    pub origin_facility_url: Option<String>,
    pub destination_facility_url: Option<String>,
    /// The customer of a sales order, the supplier of a purchase order.
    pub party_url: Option<String>,
    pub total: Option<f64>,
    pub reference_number: Option<String>,
    pub finale_created: Option<DateTime<Utc>>,
    pub finale_last_updated: Option<DateTime<Utc>>,
    pub lines: Vec<LineRow>,
    pub content_hash: Hash,
}

/// One `order_lines` row (its `seq` is its index in [`OrderRow::lines`]).
///
/// A line's content must not depend on how it was read: lines completed through GraphQL
/// carry no `orderItemUrl` while REST lines do, so [`OrderRow::from_finale`] never stores it
/// (`order_item_url` is always `None`; the column stays for the schema's sake). Otherwise the
/// same order would hash differently by source and a run that switches sources would rewrite
/// every unchanged order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineRow {
    pub order_item_url: Option<String>,
    pub product_url: Option<String>,
    pub product_id: Option<String>,
    pub quantity: f64,
    pub unit_price: Option<f64>,
}

/// The seed's `inventory_items` row for one product, derived by [`crate::derive::item_row`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRow {
    /// The product URL (`finale_id`): the row's natural key.
    pub finale_id: String,
    pub sku: String,
    pub name: Option<String>,
    /// On hand, summed over every facility (the seed's column).
    pub stock: f64,
    /// On hand − reserved over every facility: what can still be sold. Days of stock and
    /// the critical triggers use it.
    pub available: f64,
    pub reorder_point: Option<f64>,
    pub reorder_quantity: Option<f64>,
    pub cost: Option<f64>,
    pub price: Option<f64>,
    /// Units sold per day over the last 30 days (the seed's `sales_velocity`).
    pub sales_velocity: f64,
    /// Units sold per day over the last 90 days: the item's "normal" velocity.
    pub sales_velocity_90d: f64,
    /// Days until available stock runs out at the 30-day velocity; `None` when nothing sells.
    pub days_of_stock: Option<f64>,
    pub status: Option<String>,
    pub content_hash: Hash,
}

/// Units and revenue of one product on one business day (the account's zone), from
/// sales-order lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailySalesRow {
    pub product_url: String,
    pub day: NaiveDate,
    pub units: f64,
    pub revenue: f64,
}

// ---------------------------------------------------------------------------------------------
// Hashing

/// Canonical encoding of a row into BLAKE3: every value is tagged and length-prefixed, so
/// `("ab", "c")` and `("a", "bc")`, or `None` and `Some("")`, never collide.
#[derive(Debug, Clone)]
pub struct ContentHasher(blake3::Hasher);

impl Default for ContentHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentHasher {
    /// A hasher for one row.
    pub fn new() -> Self {
        Self(blake3::Hasher::new())
    }
    /// A string field.
    pub fn str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            None => self.0.update(&[0]),
            Some(s) => {
                self.0.update(&[1]);
                self.0.update(&(s.len() as u64).to_le_bytes());
                self.0.update(s.as_bytes())
            }
        };
        self
    }
    /// A number field (bit-exact: `-0.0` and `0.0` differ, as they do in the JSON).
    pub fn num(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            None => self.0.update(&[0]),
            Some(x) => {
                self.0.update(&[1]);
                self.0.update(&x.to_bits().to_le_bytes())
            }
        };
        self
    }
    /// A boolean field.
    pub fn flag(&mut self, v: Option<bool>) -> &mut Self {
        self.0.update(&[match v {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        }]);
        self
    }
    /// A timestamp field (microsecond precision, what Postgres keeps).
    pub fn time(&mut self, v: Option<DateTime<Utc>>) -> &mut Self {
        self.num(v.map(|t| t.timestamp_micros() as f64))
    }
    /// A JSON value (its compact text; `serde_json` keeps object keys sorted).
    pub fn json(&mut self, v: &serde_json::Value) -> &mut Self {
        self.str(Some(&v.to_string()))
    }
    /// A list length (before the list's items).
    pub fn len(&mut self, n: usize) -> &mut Self {
        self.0.update(&(n as u64).to_le_bytes());
        self
    }
    /// The hash.
    pub fn finish(&self) -> Hash {
        *self.0.finalize().as_bytes()
    }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

struct Check<'a> {
    collection: &'static str,
    key: &'a str,
}

impl Check<'_> {
    fn fail(&self, field: &str, reason: impl Into<String>) -> Invalid {
        Invalid {
            collection: self.collection,
            key: self.key.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
    fn finite(&self, field: &str, v: Option<f64>) -> Result<Option<f64>, Invalid> {
        match v {
            Some(x) if !x.is_finite() => Err(self.fail(field, format!("{x} is not a number"))),
            v => Ok(v),
        }
    }
    fn non_negative(&self, field: &str, v: Option<f64>) -> Result<Option<f64>, Invalid> {
        match self.finite(field, v)? {
            Some(x) if x < 0.0 => Err(self.fail(field, format!("{x} is negative"))),
            v => Ok(v),
        }
    }
    fn required(&self, field: &str, v: &str) -> Result<String, Invalid> {
        if v.trim().is_empty() {
            Err(self.fail(field, "is empty"))
        } else {
            Ok(v.to_owned())
        }
    }
    /// An optional reference: `Some("")` is treated as absent (Finale sends empty strings).
    fn reference(v: &Option<String>) -> Option<String> {
        v.as_ref().filter(|s| !s.is_empty()).cloned()
    }
}

fn user_fields_json(fields: &[finale::UserField]) -> serde_json::Value {
    let map: BTreeMap<&str, Option<&str>> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_deref()))
        .collect();
    serde_json::to_value(map).unwrap_or(serde_json::Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Conversions

impl FacilityRow {
    /// Converts and validates a Finale facility.
    pub fn from_finale(f: &Facility) -> Result<Self, Invalid> {
        let c = Check {
            collection: "facility",
            key: &f.url,
        };
        let url = c.required("facilityUrl", &f.url)?;
        let parent_url = Check::reference(&f.parent_url);
        if parent_url.as_deref() == Some(url.as_str()) {
            return Err(c.fail("parentFacilityUrl", "a facility cannot be its own parent"));
        }
        let mut row = FacilityRow {
            facility_id: c.required("facilityId", &f.facility_id)?,
            url,
            name: f.name.clone(),
            parent_url,
            status: f.status.clone(),
            facility_type: f.facility_type.clone(),
            shipping_disabled: f.shipping_disabled,
            receiving_disabled: f.receiving_disabled,
            finale_created: f.created,
            finale_last_updated: f.last_updated,
            content_hash: [0; 32],
        };
        row.content_hash = row.hash();
        Ok(row)
    }

    /// The content hash of the row's values.
    pub fn hash(&self) -> Hash {
        ContentHasher::new()
            .str(Some(&self.url))
            .str(Some(&self.facility_id))
            .str(self.name.as_deref())
            .str(self.parent_url.as_deref())
            .str(self.status.as_deref())
            .str(self.facility_type.as_deref())
            .flag(self.shipping_disabled)
            .flag(self.receiving_disabled)
            .time(self.finale_created)
            .time(self.finale_last_updated)
            .finish()
    }
}

impl PartyRow {
    /// Converts and validates a Finale party group.
    pub fn from_finale(p: &PartyGroup) -> Result<Self, Invalid> {
        let c = Check {
            collection: "partygroup",
            key: &p.url,
        };
        let contacts = serde_json::to_value(&p.contacts)
            .map_err(|e| c.fail("contactMechList", e.to_string()))?;
        let mut row = PartyRow {
            url: c.required("partyUrl", &p.url)?,
            party_id: c.required("partyId", &p.party_id)?,
            name: p.name.clone(),
            roles: p.roles.clone(),
            status: p.status.clone(),
            contacts,
            user_fields: user_fields_json(&p.user_fields),
            finale_last_updated: p.last_updated,
            content_hash: [0; 32],
        };
        row.content_hash = row.hash();
        Ok(row)
    }

    /// The content hash of the row's values.
    pub fn hash(&self) -> Hash {
        let mut h = ContentHasher::new();
        h.str(Some(&self.url))
            .str(Some(&self.party_id))
            .str(self.name.as_deref())
            .len(self.roles.len());
        for r in &self.roles {
            h.str(Some(r));
        }
        h.str(self.status.as_deref())
            .json(&self.contacts)
            .json(&self.user_fields)
            .time(self.finale_last_updated)
            .finish()
    }
}

impl ProductRow {
    /// Converts and validates a Finale product (with its supplier links and guidelines).
    pub fn from_finale(p: &Product) -> Result<Self, Invalid> {
        let c = Check {
            collection: "product",
            key: &p.url,
        };
        let mut suppliers = Vec::with_capacity(p.suppliers.len());
        for (i, s) in p.suppliers.iter().enumerate() {
            let pref = s.pref_order_id.clone();
            suppliers.push(SupplierLinkRow {
                supplier_url: Check::reference(&s.supplier_party_url),
                supplier_sku: s.supplier_product_id.clone(),
                is_main: pref
                    .as_deref()
                    .is_some_and(|p| p.to_ascii_uppercase().contains("MAIN")),
                pref_order_id: pref,
                price: c.non_negative(&format!("supplierList[{i}].price"), s.price)?,
                currency: s.currency.clone(),
                lead_time_days: c
                    .non_negative(&format!("supplierList[{i}].leadTime"), s.lead_time)?,
            });
        }
        let mut guidelines = Vec::with_capacity(p.reorder_guidelines.len());
        for (i, g) in p.reorder_guidelines.iter().enumerate() {
            guidelines.push(GuidelineRow {
                facility_url: Check::reference(&g.facility_url),
                reorder_point: c.non_negative(
                    &format!("reorderGuidelineList[{i}].reorderPoint"),
                    g.reorder_point,
                )?,
                reorder_qty: c.non_negative(
                    &format!("reorderGuidelineList[{i}].reorderQuantity"),
                    g.reorder_quantity,
                )?,
                calculation_method: g.calculation_method.clone(),
            });
        }
        let list_price = p
            .prices
            .iter()
            .find(|r| r.price_type.as_deref() == Some("LIST_PRICE"))
            .and_then(|r| r.price);
        let mut row = ProductRow {
            url: c.required("productUrl", &p.url)?,
            sku: c.required("productId", &p.product_id)?,
            name: p.name.clone(),
            status: p.status.clone(),
            product_type: p.product_type.clone(),
            category: p.category.clone(),
            upc: p.upc.clone(),
            cost: c.non_negative("cost", p.cost)?,
            lead_time_days: c.non_negative("leadTime", p.lead_time)?,
            packing: p.packing.clone(),
            list_price: c.non_negative("priceList[LIST_PRICE].price", list_price)?,
            user_fields: user_fields_json(&p.user_fields),
            finale_created: p.created,
            finale_last_updated: p.last_updated,
            suppliers,
            guidelines,
            content_hash: [0; 32],
        };
        row.content_hash = row.hash();
        Ok(row)
    }

    /// The content hash of the row's values, children included.
    pub fn hash(&self) -> Hash {
        let mut h = ContentHasher::new();
        h.str(Some(&self.url))
            .str(Some(&self.sku))
            .str(self.name.as_deref())
            .str(self.status.as_deref())
            .str(self.product_type.as_deref())
            .str(self.category.as_deref())
            .str(self.upc.as_deref())
            .num(self.cost)
            .num(self.lead_time_days)
            .str(self.packing.as_deref())
            .num(self.list_price)
            .json(&self.user_fields)
            .time(self.finale_created)
            .time(self.finale_last_updated)
            .len(self.suppliers.len());
        for s in &self.suppliers {
            h.str(s.supplier_url.as_deref())
                .str(s.supplier_sku.as_deref())
                .str(s.pref_order_id.as_deref())
                .flag(Some(s.is_main))
                .num(s.price)
                .str(s.currency.as_deref())
                .num(s.lead_time_days);
        }
        h.len(self.guidelines.len());
        for g in &self.guidelines {
            h.str(g.facility_url.as_deref())
                .num(g.reorder_point)
                .num(g.reorder_qty)
                .str(g.calculation_method.as_deref());
        }
        h.finish()
    }
}

impl OrderRow {
    /// Converts and validates a Finale order. Its lines must have been completed
    /// (`lines == Some(..)`); an order whose lines are unknown is rejected rather than
    /// stored as an order without lines. Line quantities are stored in units: a packed line
    /// is converted as `packed` says, and an unreadable packing rejects the order. `zone` is
    /// the account's time zone, which decides [`OrderRow::order_day`].
    pub fn from_finale(o: &Order, packed: PackedQuantities, zone: Tz) -> Result<Self, Invalid> {
        let c = Check {
            collection: "order",
            key: &o.url,
        };
        let Some(src_lines) = &o.lines else {
            return Err(c.fail("orderItemList", "the order's lines could not be read"));
        };
        let mut lines = Vec::with_capacity(src_lines.len());
        for (i, l) in src_lines.iter().enumerate() {
            let quantity = c
                .finite(&format!("orderItemList[{i}].quantity"), l.quantity)?
                .unwrap_or(0.0);
            let quantity = packed
                .to_units(quantity, l.packing.as_deref())
                .map_err(|e| {
                    c.fail(
                        &format!("orderItemList[{i}].normalizedPackingString"),
                        e.to_string(),
                    )
                })?;
            let quantity = c
                .finite(&format!("orderItemList[{i}].quantity"), Some(quantity))?
                .unwrap_or(0.0);
            lines.push(LineRow {
                // Not stored: GraphQL lines have none (see [`LineRow`]).
                order_item_url: None,
                product_url: Check::reference(&l.product_url),
                product_id: l.product_id.clone(),
                quantity,
                unit_price: c.finite(&format!("orderItemList[{i}].unitPrice"), l.unit_price)?,
            });
        }
        let wanted_role = match o.order_type.as_str() {
            "PURCHASE_ORDER" => "SUPPLIER",
            _ => "CUSTOMER",
        };
        let party_url = o
            .roles
            .iter()
            .find(|r| r.role_type.as_deref() == Some(wanted_role))
            .and_then(|r| {
                Check::reference(&r.party_url).or_else(|| {
                    r.party_id
                        .as_deref()
                        .filter(|id| !id.is_empty())
                        .and_then(|id| party_url_from_id(&o.url, id))
                })
            });
        let mut row = OrderRow {
            url: c.required("orderUrl", &o.url)?,
            order_id: c.required("orderId", &o.order_id)?,
            order_type: c.required("orderTypeId", &o.order_type)?,
            status: o.status.clone(),
            order_date: o.order_date,
            order_day: o.order_date.map(|t| business_day(t, zone)),
            due_date: o.due_date,
            origin_facility_url: Check::reference(&o.origin_facility_url),
            destination_facility_url: Check::reference(&o.destination_facility_url),
            party_url,
            total: c.finite("orderTotal", o.total)?,
            reference_number: o.reference_number.clone(),
            finale_created: o.created,
            finale_last_updated: o.last_updated,
            lines,
            content_hash: [0; 32],
        };
        row.content_hash = row.hash();
        Ok(row)
    }

    /// The content hash of the row's values, lines included.
    pub fn hash(&self) -> Hash {
        let mut h = ContentHasher::new();
        h.str(Some(&self.url))
            .str(Some(&self.order_id))
            .str(Some(&self.order_type))
            .str(self.status.as_deref())
            .time(self.order_date)
            .time(self.due_date)
            .str(self.origin_facility_url.as_deref())
            .str(self.destination_facility_url.as_deref())
            .str(self.party_url.as_deref())
            .num(self.total)
            .str(self.reference_number.as_deref())
            .time(self.finale_created)
            .time(self.finale_last_updated)
            .len(self.lines.len());
        for l in &self.lines {
            h.str(l.order_item_url.as_deref())
                .str(l.product_url.as_deref())
                .str(l.product_id.as_deref())
                .num(Some(l.quantity))
                .num(l.unit_price);
        }
        h.finish()
    }

    /// Whether the order counts as a sale for sales history: a sales order that is committed
    /// (`ORDER_LOCKED`) or completed (`ORDER_COMPLETED`) and has a date ([`SALE_STATUSES`]).
    /// Drafts (`ORDER_CREATED`, quotes that may never ship), cancelled orders and orders
    /// without a status do not count.
    pub fn counts_as_sale(&self) -> bool {
        self.order_type == "SALES_ORDER"
            && self
                .status
                .as_deref()
                .is_some_and(|s| SALE_STATUSES.contains(&s))
            && self.order_date.is_some()
    }
}

/// The order statuses whose sales orders count as sales (daily sales, velocity, days of
/// stock): committed and completed. Both stores' daily-sales SQL spells the same list.
pub const SALE_STATUSES: [&str; 2] = ["ORDER_LOCKED", "ORDER_COMPLETED"];
/// The account's business day of an instant: its calendar date in `zone`.
pub fn business_day(t: DateTime<Utc>, zone: Tz) -> NaiveDate {
    t.with_timezone(&zone).date_naive()
}

/// Characters kept verbatim in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A party's URL from its `partyId`, for an `orderRoleList` entry that carries only the id
/// (Finale's usual shape, finale-api.md §6): the order's API root + `partygroup/` + the
/// percent-encoded id. `None` when the order URL has no `/api/` root.
pub fn party_url_from_id(order_url: &str, party_id: &str) -> Option<String> {
    let root = order_url
        .find("/api/")
        .map(|i| &order_url[..i + "/api/".len()])?;
    Some(format!(
        "{root}partygroup/{}",
        percent_encoding::utf8_percent_encode(party_id, SEGMENT)
    ))
}

impl StockRow {
    /// A stock row with its hash.
    pub fn new(
        product_url: String,
        facility_url: String,
        on_hand: f64,
        reserved: f64,
        on_order: f64,
    ) -> Self {
        let mut row = StockRow {
            product_url,
            facility_url,
            on_hand,
            reserved,
            on_order,
            content_hash: [0; 32],
        };
        row.content_hash = row.hash();
        row
    }

    /// The content hash of the row's values.
    pub fn hash(&self) -> Hash {
        ContentHasher::new()
            .str(Some(&self.product_url))
            .str(Some(&self.facility_url))
            .num(Some(self.on_hand))
            .num(Some(self.reserved))
            .num(Some(self.on_order))
            .finish()
    }
}

/// A rejected stock pair or row, with the raw row when one row is to blame.
pub type StockReject = (Invalid, Option<serde_json::Value>);

/// Finale's `inventoryitem` snapshot summed per (product, sublocation), in units: one
/// [`StockRow`] per pair, sorted by key. Packed rows are converted as `packed` says; a row
/// whose packing cannot be read is rejected with its raw JSON and its pair gets no row (its
/// sum would be incomplete). A pair whose sum is not finite, or whose reserved or on-order
/// sum is negative, is rejected too. Every rejection is keyed `"{product} @ {facility}"`.
pub fn aggregate_stock(
    items: &[InventoryItem],
    packed: PackedQuantities,
) -> (Vec<StockRow>, Vec<StockReject>) {
    let mut sums: BTreeMap<(&str, &str), [f64; 3]> = BTreeMap::new();
    let mut unreadable: std::collections::BTreeSet<(&str, &str)> = Default::default();
    let mut bad = Vec::new();
    for it in items {
        if it.product_url.is_empty() || it.facility_url.is_empty() {
            continue;
        }
        let pair = (&*it.product_url, &*it.facility_url);
        let per_unit = match packed.to_units(1.0, it.packing.as_deref()) {
            Ok(f) => f,
            Err(e) => {
                bad.push((
                    Invalid {
                        collection: "inventoryitem",
                        key: format!("{} @ {}", pair.0, pair.1),
                        field: "normalizedPackingString".into(),
                        reason: e.to_string(),
                    },
                    Some(raw_json(it)),
                ));
                unreadable.insert(pair);
                continue;
            }
        };
        let s = sums.entry(pair).or_insert([0.0; 3]);
        s[0] += it.quantity_on_hand * per_unit;
        s[1] += it.quantity_reserved * per_unit;
        s[2] += it.quantity_on_order * per_unit;
    }
    let mut rows = Vec::with_capacity(sums.len());
    for ((p, f), [on_hand, reserved, on_order]) in sums {
        if unreadable.contains(&(p, f)) {
            continue;
        }
        let key = format!("{p} @ {f}");
        let c = Check {
            collection: "inventoryitem",
            key: &key,
        };
        let checked = c
            .finite("quantityOnHand", Some(on_hand))
            .and(c.non_negative("quantityReserved", Some(reserved)))
            .and(c.non_negative("quantityOnOrder", Some(on_order)));
        match checked {
            Ok(_) => rows.push(StockRow::new(
                p.to_owned(),
                f.to_owned(),
                on_hand,
                reserved,
                on_order,
            )),
            Err(e) => bad.push((e, None)),
        }
    }
    (rows, bad)
}

/// The raw JSON of a Finale record, for quarantine.
pub fn raw_json<T: FinaleRecord + Serialize>(record: &T) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_length_prefixed_and_null_aware() {
        let a = ContentHasher::new().str(Some("ab")).str(Some("c")).finish();
        let b = ContentHasher::new().str(Some("a")).str(Some("bc")).finish();
        assert_ne!(a, b);
        let n = ContentHasher::new().str(None).finish();
        let e = ContentHasher::new().str(Some("")).finish();
        assert_ne!(n, e);
        assert_ne!(
            ContentHasher::new().num(Some(0.0)).finish(),
            ContentHasher::new().num(None).finish()
        );
    }

    #[test]
    fn party_urls_come_from_ids_under_the_orders_api_root() {
        assert_eq!(
            party_url_from_id("/acme/api/order/100", "10077").as_deref(),
            Some("/acme/api/partygroup/10077")
        );
        assert_eq!(
            party_url_from_id("/acme/api/order/1", "A B/C").as_deref(),
            Some("/acme/api/partygroup/A%20B%2FC")
        );
        assert_eq!(party_url_from_id("not-a-url", "1"), None);
    }

    #[test]
    fn stock_sums_lots_and_rejects_negative_reserved() {
        let item = |p: &str, f: &str, oh: f64, res: f64| InventoryItem {
            product_url: p.into(),
            product_id: None,
            facility_url: f.into(),
            lot_id: None,
            packing: None,
            order_url: None,
            quantity_on_hand: oh,
            quantity_on_order: 0.0,
            quantity_reserved: res,
        };
        let (rows, bad) = aggregate_stock(
            &[
                item("/p/1", "/f/1", 3.0, 0.0),
                item("/p/1", "/f/1", 4.0, 1.0),
                item("/p/2", "/f/1", 1.0, -5.0),
                item("/p/3", "/f/2", f64::NAN, 0.0),
            ],
            PackedQuantities::Cases,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].on_hand, rows[0].reserved), (7.0, 1.0));
        assert_eq!(bad.len(), 2);
        assert!(bad.iter().any(|(e, _)| e.field == "quantityReserved"));
        assert!(bad.iter().any(|(e, _)| e.field == "quantityOnHand"));
    }

    fn packed(p: &str, f: &str, packing: Option<&str>, oh: f64, res: f64) -> InventoryItem {
        InventoryItem {
            product_url: p.into(),
            product_id: None,
            facility_url: f.into(),
            lot_id: None,
            packing: packing.map(str::to_owned),
            order_url: None,
            quantity_on_hand: oh,
            quantity_on_order: 0.0,
            quantity_reserved: res,
        }
    }

    #[test]
    fn packed_stock_is_summed_in_units_as_the_switch_says() {
        let rows = [
            packed("/p/1", "/f/1", None, 5.0, 0.0),
            packed("/p/1", "/f/1", Some("12 cs 12/1"), 3.0, 0.0),
            packed("/p/1", "/f/1", Some("12 cs 12/1"), 0.0, 1.0),
        ];
        let (cases, bad) = aggregate_stock(&rows, PackedQuantities::Cases);
        assert!(bad.is_empty());
        assert_eq!((cases[0].on_hand, cases[0].reserved), (41.0, 12.0));
        let (units, _) = aggregate_stock(&rows, PackedQuantities::Units);
        assert_eq!((units[0].on_hand, units[0].reserved), (8.0, 1.0));
    }

    #[test]
    fn an_unreadable_packing_is_rejected_with_its_row_and_its_pair_gets_no_row() {
        let rows = [
            packed("/p/1", "/f/1", None, 5.0, 0.0),
            packed("/p/1", "/f/1", Some("a dozen-ish"), 3.0, 0.0),
            packed("/p/2", "/f/1", Some("6 cs 6/1"), 2.0, 0.0),
        ];
        let (ok, bad) = aggregate_stock(&rows, PackedQuantities::Cases);
        assert_eq!(ok.len(), 1);
        assert_eq!((ok[0].product_url.as_str(), ok[0].on_hand), ("/p/2", 12.0));
        assert_eq!(bad.len(), 1);
        let (e, raw) = &bad[0];
        assert_eq!(e.key, "/p/1 @ /f/1");
        assert_eq!(e.field, "normalizedPackingString");
        assert!(e.reason.contains("a dozen-ish"), "{}", e.reason);
        let raw = raw.as_ref().expect("the raw row");
        assert_eq!(raw["packing"], "a dozen-ish");
        assert_eq!(raw["quantity_on_hand"], 3.0);
        // Quantities in units need no packing at all.
        let (ok, bad) = aggregate_stock(&rows, PackedQuantities::Units);
        assert_eq!((ok.len(), bad.len()), (2, 0));
    }

    #[test]
    fn packed_order_lines_are_stored_in_units_and_no_line_keeps_its_url() {
        let line = |packing: Option<&str>, q: f64| finale::OrderLine {
            order_item_url: Some("/acme/api/order/SO-1/orderItem/00000001".into()),
            product_id: Some("W".into()),
            product_url: Some("/acme/api/product/W".into()),
            quantity: Some(q),
            unit_price: Some(2.0),
            unit_list_price: None,
            packing: packing.map(str::to_owned),
            description: None,
        };
        let order = |lines| Order {
            url: "/acme/api/order/SO-1".into(),
            order_id: "SO-1".into(),
            order_type: "SALES_ORDER".into(),
            status: Some("ORDER_LOCKED".into()),
            order_date: None,
            due_date: None,
            created: None,
            last_updated: None,
            origin_facility_url: None,
            destination_facility_url: None,
            roles: Vec::new(),
            lines: Some(lines),
            status_history: Vec::new(),
            shipment_urls: Vec::new(),
            invoice_urls: Vec::new(),
            reference_number: None,
            total: None,
            user_fields: Vec::new(),
        };
        let o = order(vec![line(Some("36 cs 36/1"), 12.0), line(None, 5.0)]);
        let r = OrderRow::from_finale(&o, PackedQuantities::Cases, Tz::UTC).expect("valid");
        assert_eq!(r.lines[0].quantity, 432.0);
        assert_eq!(r.lines[1].quantity, 5.0);
        assert!(r.lines.iter().all(|l| l.order_item_url.is_none()));
        let u = OrderRow::from_finale(&o, PackedQuantities::Units, Tz::UTC).expect("valid");
        assert_eq!(u.lines[0].quantity, 12.0);
        let bad = order(vec![line(Some("box"), 1.0)]);
        let e =
            OrderRow::from_finale(&bad, PackedQuantities::Cases, Tz::UTC).expect_err("unreadable");
        assert_eq!(e.field, "orderItemList[0].normalizedPackingString");
    }
}
