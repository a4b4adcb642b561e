//! The simulator's data model: the "truth" that REST and GraphQL render from.
//!
//! Vocabulary (Finale's, see finale-api.md §6):
//! - **Facility**: a *location* (warehouse, `parent_facility_url = None`) or a *sublocation*
//!   (bin/area, parent = a location). Stock always sits in sublocations; one sublocation per
//!   account is a transit area. Orders reference locations.
//! - **Party group**: a supplier, a customer, or the own company (`party_id = "PRIMARY"`).
//! - **Product**: identified by its `product_url`. The SKU (`product_id`) is *not* the URL id
//!   for about 10 % of products, and SKUs with spaces or `/` are percent-encoded in URLs.
//! - **Order**: sales or purchase; lines in `order_item_list`; status history with epoch
//!   `tx_stamp`s; shipments referenced by URL.
//! - **Shipment**: one per completed order; numeric `shipment_id` in the URL, human label
//!   `shipment_id_user` = `"{orderId}-1"`.
//! - **Inventory item**: one stock row per (product, sublocation, lot, packing, order); exactly
//!   one of on-hand / on-order / reserved is non-zero.
//!
//! Records are plain structs with pub fields, typed values (`f64` quantities,
//! `DateTime<Utc>` instants) and no JSON: rendering happens on demand (module `render`), in the
//! account time zone chosen by the quirks. Cross-references are stored as URL strings exactly
//! as they appear on the wire. Strings shared by many rows (product ids/URLs in order lines)
//! are `Arc<str>` to keep the large dataset compact.
//!
//! Each URL-addressed collection lives in a [`Table`], which keeps two indexes in step with the
//! rows: URL → row (single-record GETs) and rows sorted by `(last_updated_date, row)` (the
//! collection's natural order, oldest change first, and `lastUpdatedDate` window queries).
//! Readers (REST, GraphQL, tests) share one `Arc<RwLock<Dataset>>`; writers (live mode) go
//! through [`Table::push`] and [`Table::update`] so the indexes never go stale.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

/// The dataset shared between the HTTP handlers, live mode, GraphQL and tests.
pub type SharedDataset = Arc<RwLock<Dataset>>;

/// A record addressed by URL and versioned by `lastUpdatedDate`.
pub trait Record {
    /// The record's URL path, e.g. `/acme/api/product/100245` (unique within its table).
    fn url(&self) -> &str;
    /// When the record last changed.
    fn last_updated(&self) -> DateTime<Utc>;
}

/// Rows of one collection plus the indexes the server needs.
#[derive(Debug, Clone)]
pub struct Table<T> {
    rows: Vec<T>,
    by_url: HashMap<String, usize>,
    by_updated: Vec<usize>,
}

impl<T: Record> Default for Table<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            by_url: HashMap::new(),
            by_updated: Vec::new(),
        }
    }
}

impl<T: Record> Table<T> {
    /// Builds a table from rows. Later duplicates of a URL shadow earlier ones in the URL index
    /// (the generator never produces duplicates; a test asserts it).
    pub fn from_rows(rows: Vec<T>) -> Self {
        let by_url = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.url().to_owned(), i))
            .collect();
        let mut by_updated: Vec<usize> = (0..rows.len()).collect();
        by_updated.sort_by_key(|&i| (rows[i].last_updated(), i));
        Self {
            rows,
            by_url,
            by_updated,
        }
    }

    /// All rows in insertion (creation) order.
    pub fn rows(&self) -> &[T] {
        &self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row by index.
    pub fn get(&self, idx: usize) -> Option<&T> {
        self.rows.get(idx)
    }

    /// Row index of the record with exactly this URL.
    pub fn index_of(&self, url: &str) -> Option<usize> {
        self.by_url.get(url).copied()
    }

    /// The record with exactly this URL.
    pub fn by_url(&self, url: &str) -> Option<&T> {
        self.index_of(url).map(|i| &self.rows[i])
    }

    /// Row indexes in natural order: oldest `lastUpdatedDate` first, ties by row index.
    pub fn natural_order(&self) -> &[usize] {
        &self.by_updated
    }

    /// Row indexes (natural order) whose `lastUpdatedDate` lies in `[lo, hi]` inclusive.
    pub fn updated_between(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> &[usize] {
        if lo > hi {
            return &[];
        }
        let start = self
            .by_updated
            .partition_point(|&i| self.rows[i].last_updated() < lo);
        let end = self
            .by_updated
            .partition_point(|&i| self.rows[i].last_updated() <= hi);
        &self.by_updated[start..end.max(start)]
    }

    /// Appends a record and indexes it. Returns its row index.
    pub fn push(&mut self, row: T) -> usize {
        let idx = self.rows.len();
        let key = (row.last_updated(), idx);
        self.by_url.insert(row.url().to_owned(), idx);
        self.rows.push(row);
        let pos = self
            .by_updated
            .partition_point(|&i| (self.rows[i].last_updated(), i) < key);
        self.by_updated.insert(pos, idx);
        idx
    }

    /// Mutates row `idx` in place and re-indexes it (its URL and timestamp may change).
    /// Returns `None` if there is no such row.
    pub fn update<R>(&mut self, idx: usize, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let old = self.rows.get(idx)?;
        let old_key = (old.last_updated(), idx);
        let old_url = old.url().to_owned();
        let pos = self
            .by_updated
            .partition_point(|&i| (self.rows[i].last_updated(), i) < old_key);
        if self.by_updated.get(pos) == Some(&idx) {
            self.by_updated.remove(pos);
        } else if let Some(p) = self.by_updated.iter().position(|&i| i == idx) {
            self.by_updated.remove(p);
        }
        let out = f(&mut self.rows[idx]);
        let row = &self.rows[idx];
        if row.url() != old_url {
            self.by_url.remove(&old_url);
            self.by_url.insert(row.url().to_owned(), idx);
        }
        let key = (row.last_updated(), idx);
        let pos = self
            .by_updated
            .partition_point(|&i| (self.rows[i].last_updated(), i) < key);
        self.by_updated.insert(pos, idx);
        Some(out)
    }
}

/// Kind of facility in the two-level tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacilityKind {
    /// A warehouse; orders reference locations.
    Location,
    /// A bin/area inside a location; stock sits here.
    Sublocation,
    /// A sublocation for goods in transit.
    Transit,
}

/// A location or sublocation (`/acme/api/facility/10000`).
#[derive(Debug, Clone, PartialEq)]
pub struct Facility {
    /// Numeric id as a string, e.g. `"10000"`.
    pub facility_id: String,
    /// `/{acct}/api/facility/{facility_id}`.
    pub facility_url: String,
    /// Display name, e.g. `"Main Warehouse"` or `"Main Warehouse / A-01"`.
    pub facility_name: String,
    /// `FACILITY_ACTIVE`.
    pub status_id: String,
    /// The parent location's URL for sublocations; `None` for locations.
    pub parent_facility_url: Option<String>,
    /// Location, sublocation or transit sublocation (not a Finale field; helps readers).
    pub kind: FacilityKind,
    /// Whether shipping from here is disabled.
    pub shipping_disabled: bool,
    /// Whether receiving here is disabled.
    pub receiving_disabled: bool,
    /// Creation instant.
    pub created_date: DateTime<Utc>,
    /// Last change instant.
    pub last_updated_date: DateTime<Utc>,
}

impl Record for Facility {
    fn url(&self) -> &str {
        &self.facility_url
    }
    fn last_updated(&self) -> DateTime<Utc> {
        self.last_updated_date
    }
}

/// An entry of `contactMechList`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactMech {
    /// Numeric id as a string.
    pub contact_mech_id: String,
    /// `EMAIL_ADDRESS`, `TELECOM_NUMBER` or `POSTAL_ADDRESS`.
    pub contact_mech_type_id: String,
    /// e.g. `WORK_EMAIL`, `PHONE_WORK`, `GENERAL_LOCATION`.
    pub contact_mech_purpose_type_id: String,
    /// The e-mail address or phone number; `None` for postal addresses.
    pub info_string: Option<String>,
    /// Street line for postal addresses.
    pub address1: Option<String>,
    /// City for postal addresses.
    pub city: Option<String>,
    /// Postal code for postal addresses.
    pub postal_code: Option<String>,
    /// Country (`USA`, ...) for postal addresses.
    pub country_geo_id: Option<String>,
}

/// A supplier, customer or the own company (`/acme/api/partygroup/10003`).
#[derive(Debug, Clone, PartialEq)]
pub struct PartyGroup {
    /// Numeric id as a string, or `PRIMARY` for the own company.
    pub party_id: String,
    /// `/{acct}/api/partygroup/{party_id}`.
    pub party_url: String,
    /// Company name.
    pub group_name: String,
    /// e.g. `["SUPPLIER"]`, `["CUSTOMER"]`; empty for the own company.
    pub role_type_id_list: Vec<String>,
    /// `PARTY_ENABLED` or `PARTY_DISABLED`.
    pub status_id: String,
    /// Contact details; always includes one e-mail.
    pub contact_mech_list: Vec<ContactMech>,
    /// Custom fields.
    pub user_field_data_list: Vec<UserFieldData>,
    /// Creation instant.
    pub created_date: DateTime<Utc>,
    /// Last change instant.
    pub last_updated_date: DateTime<Utc>,
}

impl Record for PartyGroup {
    fn url(&self) -> &str {
        &self.party_url
    }
    fn last_updated(&self) -> DateTime<Utc> {
        self.last_updated_date
    }
}

/// An entry of `userFieldDataList`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFieldData {
    /// e.g. `user_10000`.
    pub attr_name: String,
    /// The value (≤255 characters).
    pub attr_value: String,
}

/// An entry of a product's `supplierList`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupplierRow {
    /// The supplier's `partyUrl`.
    pub supplier_party_url: String,
    /// `10_MAIN_SUPPL` for exactly one row per product; `20_ALTERNATE_SUPPL` otherwise.
    pub supplier_pref_order_id: String,
    /// The supplier's own SKU.
    pub supplier_product_id: String,
    /// Purchase price.
    pub price: f64,
    /// `USD`.
    pub currency_uom_id: String,
    /// Lead time in days.
    pub lead_time: Option<f64>,
}

/// An entry of a product's `priceList`.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// `LIST_PRICE` or `LIST_CASE_PRICE`.
    pub product_price_type_id: String,
    /// The price.
    pub price: f64,
    /// `USD`.
    pub currency_uom_id: String,
}

/// An entry of a product's `reorderGuidelineList` (one per location).
#[derive(Debug, Clone, PartialEq)]
pub struct ReorderGuideline {
    /// The location's `facilityUrl`.
    pub facility_url: String,
    /// Reorder when on hand at this location falls to this level.
    pub reorder_point: f64,
    /// How much to reorder.
    pub reorder_quantity: f64,
    /// `None` for a manual rule; `Some("##doNotReorder")` marks "do not reorder".
    pub reorder_calculation_method_id: Option<String>,
}

/// A product (`/acme/api/product/WIDGET-1` or `/acme/api/product/100245`).
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// The SKU.
    pub product_id: Arc<str>,
    /// The URL; its last segment is the percent-encoded SKU or a numeric internal id.
    pub product_url: Arc<str>,
    /// Name; some contain accents, CJK or emoji.
    pub internal_name: String,
    /// `PRODUCT_ACTIVE` or `PRODUCT_INACTIVE`.
    pub status_id: String,
    /// `GOOD`.
    pub product_type_id: String,
    /// Legacy category.
    pub user_category: Option<String>,
    /// Barcode.
    pub universal_product_code: Option<String>,
    /// Unit cost.
    pub cost: Option<f64>,
    /// Lead time in days.
    pub lead_time: Option<f64>,
    /// Case packing, e.g. `"12 cs 12/1"`; `None` for eaches.
    pub normalized_packing_string: Option<String>,
    /// Suppliers, exactly one main.
    pub supplier_list: Vec<SupplierRow>,
    /// Prices.
    pub price_list: Vec<PriceRow>,
    /// Per-location reorder rules.
    pub reorder_guideline_list: Vec<ReorderGuideline>,
    /// Custom fields.
    pub user_field_data_list: Vec<UserFieldData>,
    /// Relative popularity (Zipf-like weight) used by the generator and live mode; not rendered.
    pub popularity: f64,
    /// Creation instant.
    pub created_date: DateTime<Utc>,
    /// Last change instant.
    pub last_updated_date: DateTime<Utc>,
}

impl Product {
    /// The `LIST_PRICE` row's price, if any.
    pub fn list_price(&self) -> Option<f64> {
        self.price_list
            .iter()
            .find(|p| p.product_price_type_id == "LIST_PRICE")
            .map(|p| p.price)
    }

    /// The main supplier row (the one whose `supplierPrefOrderId` contains `MAIN`).
    pub fn main_supplier(&self) -> Option<&SupplierRow> {
        self.supplier_list
            .iter()
            .find(|s| s.supplier_pref_order_id.contains("MAIN"))
    }

    /// Whether the product is active.
    pub fn is_active(&self) -> bool {
        self.status_id == "PRODUCT_ACTIVE"
    }
}

impl Record for Product {
    fn url(&self) -> &str {
        &self.product_url
    }
    fn last_updated(&self) -> DateTime<Utc> {
        self.last_updated_date
    }
}

/// An order line (`orderItemList` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// 1-based line number; the line URL is `{orderUrl}/orderItem/{seq:08}`.
    pub seq: u32,
    /// The product's SKU.
    pub product_id: Arc<str>,
    /// The product's URL.
    pub product_url: Arc<str>,
    /// Quantity in units.
    pub quantity: f64,
    /// Unit price.
    pub unit_price: f64,
}

impl OrderItem {
    /// This line's `orderItemUrl` given its order's URL.
    pub fn order_item_url(&self, order_url: &str) -> String {
        format!("{order_url}/orderItem/{:08}", self.seq)
    }
}

/// An `orderRoleList` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRole {
    /// `CUSTOMER` or `SUPPLIER`.
    pub role_type_id: String,
    /// The party's `partyId`.
    pub party_id: String,
}

/// A `statusIdHistoryList` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusHistoryEntry {
    /// The status entered (may be `None` in Finale's data).
    pub status_id: Option<String>,
    /// When; rendered as epoch seconds.
    pub tx_stamp: DateTime<Utc>,
    /// Who, e.g. `/acme/api/userlogin/ops`.
    pub user_login_url: String,
}

/// A sales or purchase order (`/acme/api/order/SO-100234`).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// e.g. `SO-100234`, `PO-20011-DropshipPO`, `SO-100301 B`.
    pub order_id: String,
    /// `/{acct}/api/order/{percent-encoded order_id}`.
    pub order_url: String,
    /// `SALES_ORDER` or `PURCHASE_ORDER`.
    pub order_type_id: String,
    /// `ORDER_CREATED`, `ORDER_LOCKED`, `ORDER_COMPLETED` or `ORDER_CANCELLED`.
    pub status_id: String,
    /// When the order was placed (any time of day; its business day is the account-local
    /// date of this instant).
    pub order_date: DateTime<Utc>,
    /// Shipping location for sales orders.
    pub origin_facility_url: Option<String>,
    /// Receiving location for purchase orders.
    pub destination_facility_url: Option<String>,
    /// Customer or supplier.
    pub order_role_list: Vec<OrderRole>,
    /// Lines.
    pub order_item_list: Vec<OrderItem>,
    /// Status transitions, oldest first.
    pub status_id_history_list: Vec<StatusHistoryEntry>,
    /// Shipments of this order.
    pub shipment_url_list: Vec<String>,
    /// Free-text reference (customer PO number).
    pub reference_number: Option<String>,
    /// Creation instant.
    pub created_date: DateTime<Utc>,
    /// Last change instant (≥ created).
    pub last_updated_date: DateTime<Utc>,
}

impl Order {
    /// The `dueDate` of a purchase order: 14 days after the calendar day of its order date in
    /// `tz` (the account's zone: a due date is a local date). Sales orders have none.
    pub fn due_day(&self, tz: chrono_tz::Tz) -> Option<chrono::NaiveDate> {
        (self.order_type_id == "PURCHASE_ORDER")
            .then(|| self.order_date.with_timezone(&tz).date_naive() + chrono::Duration::days(14))
    }

    /// Sum of `quantity × unitPrice` over lines.
    pub fn item_total(&self) -> f64 {
        self.order_item_list
            .iter()
            .map(|l| l.quantity * l.unit_price)
            .sum()
    }

    /// Whether this is a sales order.
    pub fn is_sales(&self) -> bool {
        self.order_type_id == "SALES_ORDER"
    }
}

impl Record for Order {
    fn url(&self) -> &str {
        &self.order_url
    }
    fn last_updated(&self) -> DateTime<Utc> {
        self.last_updated_date
    }
}

/// A `shipmentItemList` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentItem {
    /// The product's SKU.
    pub product_id: Arc<str>,
    /// The product's URL.
    pub product_url: Arc<str>,
    /// The sublocation shipped from / received into.
    pub facility_url: String,
    /// Lot, if tracked.
    pub lot_id: Option<String>,
    /// Quantity in units.
    pub quantity: f64,
}

/// A shipment (`/acme/api/shipment/609070`).
#[derive(Debug, Clone, PartialEq)]
pub struct Shipment {
    /// Internal numeric id (string), used in the URL.
    pub shipment_id: String,
    /// Human label `{orderId}-1`.
    pub shipment_id_user: String,
    /// `/{acct}/api/shipment/{shipment_id}`.
    pub shipment_url: String,
    /// `SALES_SHIPMENT` or `PURCHASE_SHIPMENT`.
    pub shipment_type_id: String,
    /// `SHIPMENT_SHIPPED` (sales) or `SHIPMENT_DELIVERED` (received purchase).
    pub status_id: String,
    /// The order shipped/received.
    pub primary_order_url: String,
    /// Origin location (sales).
    pub origin_facility_url: Option<String>,
    /// Destination location (purchase).
    pub destination_facility_url: Option<String>,
    /// When shipped.
    pub ship_date: Option<DateTime<Utc>>,
    /// When received.
    pub receive_date: Option<DateTime<Utc>>,
    /// Lines.
    pub shipment_item_list: Vec<ShipmentItem>,
    /// Status transitions.
    pub status_id_history_list: Vec<StatusHistoryEntry>,
    /// Creation instant.
    pub created_date: DateTime<Utc>,
    /// Last change instant.
    pub last_updated_date: DateTime<Utc>,
}

impl Record for Shipment {
    fn url(&self) -> &str {
        &self.shipment_url
    }
    fn last_updated(&self) -> DateTime<Utc> {
        self.last_updated_date
    }
}

/// A stock row of `inventoryitem` (finale-api.md §7.1). Exactly one quantity is non-zero.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryItem {
    /// The product's SKU.
    pub product_id: Arc<str>,
    /// The product's URL.
    pub product_url: Arc<str>,
    /// A sublocation's URL.
    pub facility_url: String,
    /// Lot for lot-tracked stock.
    pub lot_id: Option<String>,
    /// Packing for case-packed rows (`"12 cs 12/1"`: cases of 12 units); their quantities
    /// count cases.
    pub normalized_packing_string: Option<String>,
    /// The committed order for on-order / reserved rows.
    pub order_url: Option<String>,
    /// On hand (on-hand rows); cases for a packed row.
    pub quantity_on_hand: f64,
    /// On order (rows of committed purchase orders).
    pub quantity_on_order: f64,
    /// Reserved (rows of committed sales orders).
    pub quantity_reserved: f64,
}

impl InventoryItem {
    /// Units per case of a packed row (the leading count of the generator's
    /// `"{n} cs {n}/1"`), 1 for eaches. A packing the simulator cannot read (one a test
    /// planted) counts 1.
    pub fn units_per_case(&self) -> f64 {
        self.normalized_packing_string
            .as_deref()
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n > 0.0)
            .unwrap_or(1.0)
    }

    /// On hand in units.
    pub fn on_hand_units(&self) -> f64 {
        self.quantity_on_hand * self.units_per_case()
    }
}

/// Everything the simulator knows about one account.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Account path component, e.g. `acme`.
    pub account: String,
    /// The virtual instant at which the generated history ends.
    pub anchor: DateTime<Utc>,
    /// Locations and sublocations.
    pub facilities: Table<Facility>,
    /// Suppliers, customers and the own company.
    pub party_groups: Table<PartyGroup>,
    /// Products.
    pub products: Table<Product>,
    /// Sales and purchase orders.
    pub orders: Table<Order>,
    /// Shipments of completed orders.
    pub shipments: Table<Shipment>,
    /// Stock rows (not URL-addressed, no timestamps; always served whole).
    pub inventory_items: Vec<InventoryItem>,
}

impl Dataset {
    /// Sum of on-hand units of a product over all sublocations (packed rows converted).
    pub fn on_hand(&self, product_url: &str) -> f64 {
        self.inventory_items
            .iter()
            .filter(|r| &*r.product_url == product_url)
            .map(InventoryItem::on_hand_units)
            .sum()
    }

    /// Total number of order lines.
    pub fn order_line_count(&self) -> usize {
        self.orders
            .rows()
            .iter()
            .map(|o| o.order_item_list.len())
            .sum()
    }

    /// The location URLs (facilities without a parent), in id order.
    pub fn location_urls(&self) -> Vec<&str> {
        self.facilities
            .rows()
            .iter()
            .filter(|f| f.kind == FacilityKind::Location)
            .map(|f| f.facility_url.as_str())
            .collect()
    }

    /// Non-transit sublocations of a location, in id order.
    pub fn sublocations_of(&self, location_url: &str) -> Vec<&str> {
        self.facilities
            .rows()
            .iter()
            .filter(|f| {
                f.kind == FacilityKind::Sublocation
                    && f.parent_facility_url.as_deref() == Some(location_url)
            })
            .map(|f| f.facility_url.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Debug, Clone)]
    struct R(String, DateTime<Utc>);
    impl Record for R {
        fn url(&self) -> &str {
            &self.0
        }
        fn last_updated(&self) -> DateTime<Utc> {
            self.1
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    #[test]
    fn table_keeps_indexes_in_step() {
        let mut tb = Table::from_rows(vec![
            R("/a".into(), t(30)),
            R("/b".into(), t(10)),
            R("/c".into(), t(20)),
            R("/d".into(), t(20)),
        ]);
        assert_eq!(tb.natural_order(), &[1, 2, 3, 0]);
        assert_eq!(tb.updated_between(t(15), t(25)), &[2, 3]);
        assert_eq!(tb.updated_between(t(20), t(20)), &[2, 3]);
        assert!(tb.updated_between(t(25), t(15)).is_empty());
        assert!(tb.updated_between(t(31), t(99)).is_empty());
        tb.update(1, |r| r.1 = t(40));
        assert_eq!(tb.natural_order(), &[2, 3, 0, 1]);
        tb.update(2, |r| r.0 = "/c2".into());
        assert!(tb.by_url("/c").is_none());
        assert_eq!(tb.index_of("/c2"), Some(2));
        let i = tb.push(R("/e".into(), t(5)));
        assert_eq!(i, 4);
        assert_eq!(tb.natural_order()[0], 4);
        assert!(tb.update(99, |_| ()).is_none());
    }
}
