//! The store's row model: the rows a store holds and their content hashes. What a Finale
//! record becomes, and the checks it passes first, is the engine's business
//! (the engine's `sync::convert`): the rows here name no Finale type, so the store stays free of
//! the vendor.
//!
//! - **Content hash.** BLAKE3 over a canonical, length-prefixed encoding of every stored
//!   field (children included), in a fixed order ([`ContentHasher`]). Two records hash equal
//!   exactly when the store would hold the same values, so "hash unchanged" means "nothing to
//!   write". Bookkeeping (`first_seen_at`, `updated_at`) is not hashed.
//! - **Invalid records** ([`Invalid`]): a row that would violate a store CHECK is rejected
//!   before any store sees it, and the engine quarantines it with the record's raw JSON.
//! - **Stock** rows ([`StockRow`]) are per (product, sublocation), in units.
//! - **Derived rows** ([`ItemRow`], the seed's `inventory_items`; [`DailySalesRow`]) are
//!   computed from stored rows, see [`crate::derive`].
//! - **The business day of an order** ([`OrderRow::order_day`]) is the calendar date of
//!   `order_date` in the account's time zone (`FINALE_TIMEZONE`), computed here in Rust with
//!   chrono-tz ([`business_day`]) and stored as a column, so both stores group sales by the
//!   same value: SQLite has no time-zone database, and Postgres' own could disagree with
//!   chrono-tz's on a recently changed zone. It is derived from `order_date` and a setting,
//!   not from Finale's content, so it is left out of the content hash: when the account's
//!   zone changes the engine re-derives it for every stored order
//!   ([`crate::Store::set_order_days`]) instead of rewriting every order.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
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
/// carry no `orderItemUrl` while REST lines do, so the engine's `sync::convert::order_row` never stores it
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
// Conversions

impl FacilityRow {
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
}
