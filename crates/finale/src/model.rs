//! Typed Finale records and the column tables the decoder reads them with.
//!
//! # Vocabulary
//!
//! * Every record is identified by its **record URL** (`productUrl`, `orderUrl`, ...), a
//!   path such as `/acme/api/product/100245`; references between records are URLs too.
//!   The URL is the stable key ([`FinaleRecord::key`]). Never build a URL from an id: a
//!   product's internal id differs from its SKU (`productId`) on real accounts.
//! * Inventory items have no URL; their key is the composite of the five columns that make
//!   a stock row unique (product, facility, lot, packing, order), see [`InventoryItem`].
//! * Fields keep Finale's enum ids verbatim (`PRODUCT_ACTIVE`, `SALES_ORDER`, ...).
//!
//! # Shapes
//!
//! Record fields are snake_case Rust names (the serde representation is ours, not
//! Finale's); quantities are `f64` (0 when absent), money is `Option<f64>`, timestamps are
//! `Option<DateTime<Utc>>` and URLs are plain `String`s, except in stock rows (see
//! [`InventoryItem`]). Only the record URL (and the record's own id) is required: a row
//! without it is reported and skipped.
//!
//! # Column tables
//!
//! Each record has a row builder declared with `record_columns!`: one line per Finale
//! field, `rust_field: CellKind = "jsonName" | "alias"`. The decoder resolves each JSON key
//! to one of these columns once per page; nested lists use small private *wire* structs
//! (camelCase, lenient) that are converted into the public element types.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::collection::Collection;
use crate::decode::{
    Cell, CellError, Day, DecodeContext, FinaleRecord, Flag, List, Missing, Num, SharedText, Stamp,
    StrCache, StrictList, Text, TextList, lenient_epoch, lenient_f64, lenient_str,
};

/// Declares a row builder (one `Option` per column) and its [`Columns`] impl.
///
/// [`Columns`]: crate::decode::Columns
macro_rules! record_columns {
    (
        $row:ident, $table:ident, $col:ident, key = $key:ident;
        { $( $field:ident : $kind:ty = $json:literal $(| $alias:literal)* ),* $(,)? }
    ) => {
        #[doc(hidden)]
        #[derive(Default, Debug)]
        pub struct $row {
            $( $field: Option<<$kind as $crate::decode::Cell>::Out>, )*
        }

        #[doc(hidden)]
        #[derive(Default, Debug)]
        pub struct $table {
            $( $field: Vec<Option<<$kind as $crate::decode::Cell>::Out>>, )*
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        pub enum $col { $( $field, )* }

        impl $crate::decode::Columns for $row {
            type Col = $col;
            type Table = $table;
            fn column(name: &str) -> Option<$col> {
                match name {
                    $( $json $(| $alias)* => Some($col::$field), )*
                    _ => None,
                }
            }
            fn column_name(col: $col) -> &'static str {
                match col { $( $col::$field => $json, )* }
            }
            fn decode_cell<'de, D: serde::Deserializer<'de>>(
                table: &mut $table,
                col: $col,
                i: usize,
                d: D,
                ctx: &$crate::decode::DecodeContext,
                errs: &mut Vec<$crate::decode::CellError>,
            ) -> Result<(), D::Error> {
                match col {
                    $( $col::$field => $crate::decode::put_cell(
                        &mut table.$field,
                        i,
                        <$kind as $crate::decode::Cell>::decode(d, ctx, errs)?,
                    ), )*
                }
                Ok(())
            }
            fn read_column<'de, A: serde::de::SeqAccess<'de>>(
                table: &mut $table,
                col: $col,
                seq: A,
                ctx: &$crate::decode::DecodeContext,
                errs: &mut Vec<(usize, &'static str, $crate::decode::CellError)>,
            ) -> Result<(), A::Error> {
                let rows = Self::len(table);
                match col {
                    $( $col::$field => $crate::decode::read_column::<$kind, A>(
                        &mut table.$field, rows, $json, seq, ctx, errs,
                    ), )*
                }
            }
            fn len(table: &$table) -> usize {
                0 $( .max(table.$field.len()) )*
            }
            fn rows(table: $table, n: usize) -> impl Iterator<Item = Self> {
                $( let mut $field = table.$field.into_iter(); )*
                (0..n).map(move |_| Self {
                    $( $field: $field.next().flatten(), )*
                })
            }
            fn key_hint(&self) -> Option<String> {
                self.$key.as_ref().map(|k| AsRef::<str>::as_ref(k).to_owned())
            }
        }
    };
}

/// A required record URL cell: read like [`Text`], and checked with [`is_record_url`] at
/// cell decode, while its bytes are still in cache (rows are finished after the whole page
/// has been read, when they no longer are).
#[doc(hidden)]
#[derive(Debug)]
pub struct RecordUrl;

/// The text of a [`RecordUrl`] (or [`SharedUrl`]) cell and whether it is a valid record URL.
#[doc(hidden)]
#[derive(Debug)]
pub struct CheckedUrl<S = String> {
    text: S,
    valid: bool,
}

impl<S: AsRef<str>> AsRef<str> for CheckedUrl<S> {
    fn as_ref(&self) -> &str {
        self.text.as_ref()
    }
}

impl Cell for RecordUrl {
    type Out = CheckedUrl;
    type State = ();
    #[inline]
    fn decode<'de, D: serde::Deserializer<'de>>(
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<CheckedUrl>, D::Error> {
        Ok(Text::decode(d, ctx, errs)?.map(|text| CheckedUrl {
            valid: is_record_url(&text),
            text,
        }))
    }
}

/// A required record URL cell kept as a shared `Arc<str>` (see [`SharedText`]), checked
/// like [`RecordUrl`]: for columns whose values repeat, e.g. the product and facility URLs
/// of stock rows.
#[doc(hidden)]
#[derive(Debug)]
pub struct SharedUrl<const INTERN: bool>;

impl<const INTERN: bool> Cell for SharedUrl<INTERN> {
    type Out = CheckedUrl<Arc<str>>;
    type State = StrCache<INTERN>;
    fn decode<'de, D: serde::Deserializer<'de>>(
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Self::Out>, D::Error> {
        Self::decode_in(&mut StrCache::default(), None, d, ctx, errs)
    }
    #[inline]
    fn decode_in<'de, D: serde::Deserializer<'de>>(
        state: &mut StrCache<INTERN>,
        prev: Option<&Self::Out>,
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Self::Out>, D::Error> {
        let prev_text = prev.map(|p| &p.text);
        Ok(
            SharedText::decode_in(state, prev_text, d, ctx, errs)?.map(|text| CheckedUrl {
                // A repeat of the previous cell was checked with it.
                valid: match prev {
                    Some(p) if Arc::ptr_eq(&p.text, &text) => p.valid,
                    _ => is_record_url(&text),
                },
                text,
            }),
        )
    }
}

/// A record URL is non-blank and a path (`/...`) or an absolute http(s) URL, without
/// whitespace inside.
fn is_record_url(s: &str) -> bool {
    // Byte-wise on purpose: this runs for every row of every page. Finale's URLs are
    // percent-encoded ASCII; any whitespace (ASCII or not) inside one makes it invalid,
    // and a non-ASCII space can only appear where the ASCII checks below already fail
    // or inside a segment, which Finale never produces unencoded.
    let b = s.as_bytes();
    // Branch-free so that it vectorises: no byte outside `!`..=`~`.
    if b.iter().fold(0u8, |bad, &c| {
        bad | u8::from(c.wrapping_sub(b'!') > b'~' - b'!')
    }) == 0
    {
        // The usual case: visible ASCII only, so nothing to trim and no whitespace.
        return (b.first() == Some(&b'/') || s.starts_with("http://") || s.starts_with("https://"))
            && b.len() > 1;
    }
    let t = s.trim();
    let b = t.as_bytes();
    (b.first() == Some(&b'/') || t.starts_with("http://") || t.starts_with("https://"))
        && b.len() > 1
        && !b.iter().any(u8::is_ascii_whitespace)
        && (t.is_ascii() || !t.chars().any(char::is_whitespace))
}

/// A required record URL: present, non-blank, and a path (`/...`) or absolute http(s) URL
/// (already checked at cell decode, see [`RecordUrl`]).
fn req_url<S: AsRef<str>>(v: Option<CheckedUrl<S>>, field: &'static str) -> Result<S, Missing> {
    match v {
        None => Err(Missing {
            field,
            reason: "is missing",
            raw: None,
            key: None,
        }),
        Some(CheckedUrl { text, valid: true }) => Ok(text),
        Some(CheckedUrl { text, .. }) => Err(Missing {
            field,
            reason: "is not a record URL",
            raw: Some(serde_json::to_string(text.as_ref()).unwrap_or_default()),
            key: None,
        }),
    }
}

/// A required non-blank string (a record's own id).
fn req_str(v: Option<String>, field: &'static str) -> Result<String, Missing> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(s) => Err(Missing {
            field,
            reason: "is blank",
            raw: Some(serde_json::to_string(&s).unwrap_or_default()),
            key: None,
        }),
        None => Err(Missing {
            field,
            reason: "is missing",
            raw: None,
            key: None,
        }),
    }
}

/// Attach the record key to a problem found after the key was read (cloned only on failure).
fn keyed(key: &str) -> impl FnOnce(Missing) -> Missing + '_ {
    move |m| Missing {
        key: Some(key.to_owned()),
        ..m
    }
}

fn conv<W: Into<T>, T>(v: Option<Vec<W>>) -> Vec<T> {
    v.unwrap_or_default().into_iter().map(Into::into).collect()
}

// ---------------------------------------------------------------------------------------
// Nested element types (public) and their wire forms (private)
// ---------------------------------------------------------------------------------------

/// A custom ("user") field on a record (`userFieldDataList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserField {
    /// `attrName`, e.g. `user_10000`.
    pub name: String,
    /// `attrValue` (free text up to 255 chars).
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserFieldWire {
    #[serde(deserialize_with = "lenient_str")]
    attr_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    attr_value: Option<String>,
}

impl From<UserFieldWire> for UserField {
    fn from(w: UserFieldWire) -> Self {
        Self {
            name: w.attr_name.unwrap_or_default(),
            value: w.attr_value,
        }
    }
}

/// One supplier of a product (`supplierList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SupplierRow {
    /// `supplierPartyUrl`: the supplier's party group.
    pub supplier_party_url: Option<String>,
    /// `supplierPrefOrderId`: preference rank; contains `MAIN` for the main supplier.
    pub pref_order_id: Option<String>,
    /// `supplierProductId`: the supplier's own SKU.
    pub supplier_product_id: Option<String>,
    /// `price` from this supplier.
    pub price: Option<f64>,
    /// `currencyUomId`, e.g. `USD`.
    pub currency: Option<String>,
    /// `leadTime` in days, if the row has one.
    pub lead_time: Option<f64>,
}

impl SupplierRow {
    /// Whether this is the main supplier (its `supplierPrefOrderId` contains `MAIN`).
    pub fn is_main(&self) -> bool {
        self.pref_order_id
            .as_deref()
            .is_some_and(|p| p.to_ascii_uppercase().contains("MAIN"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SupplierWire {
    #[serde(default, deserialize_with = "lenient_str")]
    supplier_party_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    supplier_pref_order_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    supplier_product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    price: Option<f64>,
    #[serde(default, deserialize_with = "lenient_str")]
    currency_uom_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    lead_time: Option<f64>,
}

impl From<SupplierWire> for SupplierRow {
    fn from(w: SupplierWire) -> Self {
        Self {
            supplier_party_url: w.supplier_party_url,
            pref_order_id: w.supplier_pref_order_id,
            supplier_product_id: w.supplier_product_id,
            price: w.price,
            currency: w.currency_uom_id,
            lead_time: w.lead_time,
        }
    }
}

/// One price of a product (`priceList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PriceRow {
    /// `productPriceTypeId`, e.g. `LIST_PRICE`, `LIST_CASE_PRICE`.
    pub price_type: Option<String>,
    /// `price`.
    pub price: Option<f64>,
    /// `currencyUomId`.
    pub currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceWire {
    #[serde(default, deserialize_with = "lenient_str")]
    product_price_type_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    price: Option<f64>,
    #[serde(default, deserialize_with = "lenient_str")]
    currency_uom_id: Option<String>,
}

impl From<PriceWire> for PriceRow {
    fn from(w: PriceWire) -> Self {
        Self {
            price_type: w.product_price_type_id,
            price: w.price,
            currency: w.currency_uom_id,
        }
    }
}

/// A per-location reorder rule (`reorderGuidelineList`). Finale's keys inside this list are
/// not confirmed, so several plausible spellings are accepted for each value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReorderGuideline {
    /// The location the rule applies to.
    pub facility_url: Option<String>,
    /// Reorder when stock falls to this level.
    pub reorder_point: Option<f64>,
    /// How much to reorder (or the level to reorder up to).
    pub reorder_quantity: Option<f64>,
    /// `reorderCalculationMethodId`; `##doNotReorder` marks "do not reorder".
    pub calculation_method: Option<String>,
}

impl ReorderGuideline {
    /// Whether the rule says "do not reorder".
    pub fn do_not_reorder(&self) -> bool {
        self.calculation_method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("##doNotReorder"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReorderWire {
    #[serde(
        default,
        alias = "facility",
        alias = "facilityUrlReorder",
        deserialize_with = "lenient_str"
    )]
    facility_url: Option<String>,
    #[serde(
        default,
        alias = "reorderLevel",
        alias = "reorderPointMin",
        alias = "stdReorderLevel",
        alias = "reorderPointLevel",
        deserialize_with = "lenient_f64"
    )]
    reorder_point: Option<f64>,
    #[serde(
        default,
        alias = "reorderQty",
        alias = "stdReorderQuantity",
        alias = "reorderPointMax",
        alias = "reorderLevelMax",
        deserialize_with = "lenient_f64"
    )]
    reorder_quantity: Option<f64>,
    #[serde(
        default,
        alias = "calculationMethod",
        alias = "reorderCalculationMethod",
        deserialize_with = "lenient_str"
    )]
    reorder_calculation_method_id: Option<String>,
}

impl From<ReorderWire> for ReorderGuideline {
    fn from(w: ReorderWire) -> Self {
        Self {
            facility_url: w.facility_url,
            reorder_point: w.reorder_point,
            reorder_quantity: w.reorder_quantity,
            calculation_method: w.reorder_calculation_method_id,
        }
    }
}

/// A party's role on an order (`orderRoleList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderRole {
    /// `roleTypeId`: `CUSTOMER`, `SUPPLIER`, ...
    pub role_type: Option<String>,
    /// `partyId`.
    pub party_id: Option<String>,
    /// `partyUrl` (sometimes given instead of the id).
    pub party_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderRoleWire {
    #[serde(default, deserialize_with = "lenient_str")]
    role_type_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    party_id: Option<String>,
    #[serde(default, alias = "partyGroupUrl", deserialize_with = "lenient_str")]
    party_url: Option<String>,
}

impl From<OrderRoleWire> for OrderRole {
    fn from(w: OrderRoleWire) -> Self {
        Self {
            role_type: w.role_type_id,
            party_id: w.party_id,
            party_url: w.party_url,
        }
    }
}

/// One line of an order (`orderItemList`, or GraphQL `itemList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderLine {
    /// `orderItemUrl` (absent for lines read via GraphQL).
    pub order_item_url: Option<String>,
    /// `productId` (SKU).
    pub product_id: Option<String>,
    /// `productUrl`; absent when Finale could not link the line to a product.
    pub product_url: Option<String>,
    /// `quantity` ordered.
    pub quantity: Option<f64>,
    /// `unitPrice`.
    pub unit_price: Option<f64>,
    /// `unitListPrice`.
    pub unit_list_price: Option<f64>,
    /// `normalizedPackingString`; `None` = eaches.
    pub packing: Option<String>,
    /// `itemDescription`.
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderLineWire {
    #[serde(default, deserialize_with = "lenient_str")]
    order_item_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    product_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    quantity: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    unit_price: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    unit_list_price: Option<f64>,
    #[serde(default, deserialize_with = "lenient_str")]
    normalized_packing_string: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    item_description: Option<String>,
}

impl From<OrderLineWire> for OrderLine {
    fn from(w: OrderLineWire) -> Self {
        Self {
            order_item_url: w.order_item_url,
            product_id: w.product_id,
            product_url: w.product_url,
            quantity: w.quantity,
            unit_price: w.unit_price,
            unit_list_price: w.unit_list_price,
            packing: w.normalized_packing_string,
            description: w.item_description,
        }
    }
}

/// One entry of a record's status history (`statusIdHistoryList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusChange {
    /// `statusId` (may be null in Finale's data).
    pub status: Option<String>,
    /// `txStamp` (epoch seconds): the most precise "when" signal Finale has.
    pub at: Option<DateTime<Utc>>,
    /// `userLoginUrl`: who made the change.
    pub user_login_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusChangeWire {
    #[serde(default, deserialize_with = "lenient_str")]
    status_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_epoch")]
    tx_stamp: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_str")]
    user_login_url: Option<String>,
}

impl From<StatusChangeWire> for StatusChange {
    fn from(w: StatusChangeWire) -> Self {
        Self {
            status: w.status_id,
            at: w.tx_stamp,
            user_login_url: w.user_login_url,
        }
    }
}

/// A contact mechanism of a party (`contactMechList`): address, phone or e-mail.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContactMech {
    /// `contactMechId`.
    pub id: Option<String>,
    /// `contactMechTypeId`: `POSTAL_ADDRESS`, `TELECOM_NUMBER`, `EMAIL_ADDRESS`.
    pub mech_type: Option<String>,
    /// `contactMechPurposeTypeId`, e.g. `BILLING_LOCATION`, `WORK_EMAIL`.
    pub purpose: Option<String>,
    /// `infoString`: the phone number or e-mail address.
    pub info: Option<String>,
    /// `address1`.
    pub address1: Option<String>,
    /// `address2`.
    pub address2: Option<String>,
    /// `city`.
    pub city: Option<String>,
    /// `stateProvinceGeoId`.
    pub state: Option<String>,
    /// `postalCode`.
    pub postal_code: Option<String>,
    /// `countryGeoId`.
    pub country: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContactMechWire {
    #[serde(default, deserialize_with = "lenient_str")]
    contact_mech_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    contact_mech_type_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    contact_mech_purpose_type_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    info_string: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    address1: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    address2: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    city: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    state_province_geo_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    postal_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    country_geo_id: Option<String>,
}

impl From<ContactMechWire> for ContactMech {
    fn from(w: ContactMechWire) -> Self {
        Self {
            id: w.contact_mech_id,
            mech_type: w.contact_mech_type_id,
            purpose: w.contact_mech_purpose_type_id,
            info: w.info_string,
            address1: w.address1,
            address2: w.address2,
            city: w.city,
            state: w.state_province_geo_id,
            postal_code: w.postal_code,
            country: w.country_geo_id,
        }
    }
}

/// One line of a shipment (`shipmentItemList`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShipmentItem {
    /// `productId`.
    pub product_id: Option<String>,
    /// `productUrl`.
    pub product_url: Option<String>,
    /// `facilityUrl`: the sublocation packed from / received into.
    pub facility_url: Option<String>,
    /// `lotId`.
    pub lot_id: Option<String>,
    /// `quantity` (0 when absent).
    pub quantity: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShipmentItemWire {
    #[serde(default, deserialize_with = "lenient_str")]
    product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    product_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    facility_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    lot_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    quantity: Option<f64>,
}

impl From<ShipmentItemWire> for ShipmentItem {
    fn from(w: ShipmentItemWire) -> Self {
        Self {
            product_id: w.product_id,
            product_url: w.product_url,
            facility_url: w.facility_url,
            lot_id: w.lot_id,
            quantity: w.quantity.unwrap_or(0.0),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Product
// ---------------------------------------------------------------------------------------

/// A product (SKU). REST products carry no stock quantities (see [`InventoryItem`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Product {
    /// `productUrl` (the key). Its last segment is an internal id, NOT necessarily the SKU.
    pub url: String,
    /// `productId`: the SKU.
    pub product_id: String,
    /// `internalName`: the product's name/description.
    pub name: Option<String>,
    /// `statusId`: `PRODUCT_ACTIVE` / `PRODUCT_INACTIVE`.
    pub status: Option<String>,
    /// `productTypeId`, e.g. `GOOD`.
    pub product_type: Option<String>,
    /// `universalProductCode` (barcode).
    pub upc: Option<String>,
    /// `cost`.
    pub cost: Option<f64>,
    /// `leadTime` in days.
    pub lead_time: Option<f64>,
    /// `normalizedPackingString`, e.g. `"12 cs 12/1"`.
    pub packing: Option<String>,
    /// `category` (modern) or `userCategory` (legacy).
    pub category: Option<String>,
    /// `supplierList`.
    pub suppliers: Vec<SupplierRow>,
    /// `priceList`.
    pub prices: Vec<PriceRow>,
    /// `reorderGuidelineList`.
    pub reorder_guidelines: Vec<ReorderGuideline>,
    /// `userFieldDataList`.
    pub user_fields: Vec<UserField>,
    /// `createdDate`.
    pub created: Option<DateTime<Utc>>,
    /// `lastUpdatedDate`.
    pub last_updated: Option<DateTime<Utc>>,
}

impl Product {
    /// The main supplier: the first row whose `supplierPrefOrderId` contains `MAIN`.
    pub fn main_supplier(&self) -> Option<&SupplierRow> {
        self.suppliers.iter().find(|s| s.is_main())
    }

    /// The `LIST_PRICE` row's price.
    pub fn list_price(&self) -> Option<f64> {
        self.prices
            .iter()
            .find(|p| p.price_type.as_deref() == Some("LIST_PRICE"))
            .and_then(|p| p.price)
    }
}

record_columns! {
    ProductRow, ProductTable, ProductCol, key = url;
    {
        url: RecordUrl = "productUrl",
        product_id: Text = "productId",
        name: Text = "internalName",
        status: Text = "statusId",
        product_type: Text = "productTypeId",
        upc: Text = "universalProductCode",
        cost: Num = "cost",
        lead_time: Num = "leadTime",
        packing: Text = "normalizedPackingString",
        category: Text = "category",
        user_category: Text = "userCategory",
        suppliers: List<SupplierWire> = "supplierList",
        prices: List<PriceWire> = "priceList",
        reorder_guidelines: List<ReorderWire> = "reorderGuidelineList",
        user_fields: List<UserFieldWire> = "userFieldDataList",
        created: Stamp = "createdDate",
        last_updated: Stamp = "lastUpdatedDate",
    }
}

impl FinaleRecord for Product {
    const COLLECTION: Collection = Collection::Product;
    type Row = ProductRow;
    fn key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.url)
    }
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.last_updated
    }
    #[inline]
    fn from_row(r: ProductRow) -> Result<Self, Missing> {
        let url = req_url(r.url, "productUrl")?;
        let product_id = req_str(r.product_id, "productId").map_err(keyed(&url))?;
        Ok(Self {
            url,
            product_id,
            name: r.name,
            status: r.status,
            product_type: r.product_type,
            upc: r.upc,
            cost: r.cost,
            lead_time: r.lead_time,
            packing: r.packing,
            category: r.category.or(r.user_category),
            suppliers: conv(r.suppliers),
            prices: conv(r.prices),
            reorder_guidelines: conv(r.reorder_guidelines),
            user_fields: conv(r.user_fields),
            created: r.created,
            last_updated: r.last_updated,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Facility
// ---------------------------------------------------------------------------------------

/// A location (warehouse) or a sublocation (bin/area, has a parent). Stock sits in
/// sublocations; order origins/destinations are locations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Facility {
    /// `facilityUrl` (the key).
    pub url: String,
    /// `facilityId`.
    pub facility_id: String,
    /// `facilityName`.
    pub name: Option<String>,
    /// `parentFacilityUrl`: set for sublocations.
    pub parent_url: Option<String>,
    /// `statusId`, e.g. `FACILITY_ACTIVE`.
    pub status: Option<String>,
    /// `facilityTypeId`, if present.
    pub facility_type: Option<String>,
    /// `shippingDisabled`.
    pub shipping_disabled: Option<bool>,
    /// `receivingDisabled`.
    pub receiving_disabled: Option<bool>,
    /// `createdDate`.
    pub created: Option<DateTime<Utc>>,
    /// `lastUpdatedDate`.
    pub last_updated: Option<DateTime<Utc>>,
}

impl Facility {
    /// Whether this is a sublocation (it has a parent location).
    pub fn is_sublocation(&self) -> bool {
        self.parent_url.as_deref().is_some_and(|p| !p.is_empty())
    }
}

record_columns! {
    FacilityRow, FacilityTable, FacilityCol, key = url;
    {
        url: RecordUrl = "facilityUrl",
        facility_id: Text = "facilityId",
        name: Text = "facilityName",
        parent_url: Text = "parentFacilityUrl",
        status: Text = "statusId",
        facility_type: Text = "facilityTypeId",
        shipping_disabled: Flag = "shippingDisabled",
        receiving_disabled: Flag = "receivingDisabled",
        created: Stamp = "createdDate",
        last_updated: Stamp = "lastUpdatedDate",
    }
}

impl FinaleRecord for Facility {
    const COLLECTION: Collection = Collection::Facility;
    type Row = FacilityRow;
    fn key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.url)
    }
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.last_updated
    }
    #[inline]
    fn from_row(r: FacilityRow) -> Result<Self, Missing> {
        let url = req_url(r.url, "facilityUrl")?;
        let facility_id = req_str(r.facility_id, "facilityId").map_err(keyed(&url))?;
        Ok(Self {
            url,
            facility_id,
            name: r.name,
            parent_url: r.parent_url,
            status: r.status,
            facility_type: r.facility_type,
            shipping_disabled: r.shipping_disabled,
            receiving_disabled: r.receiving_disabled,
            created: r.created,
            last_updated: r.last_updated,
        })
    }
}

// ---------------------------------------------------------------------------------------
// InventoryItem
// ---------------------------------------------------------------------------------------

/// One stock row. Unique per (product, facility, lot, packing, order); exactly one of the
/// three quantities is normally non-zero: on hand (no order), on order (a committed PO) or
/// reserved (a committed SO). Totals require summing rows.
///
/// Stock snapshots are hugely repetitive: a product's URL and SKU repeat over its
/// consecutive rows, and a page holds only a few dozen distinct facility URLs. These fields
/// are therefore shared `Arc<str>`s: within one decoded page, equal values point to one
/// string, which saves both memory and an allocation per row (a repeat costs a refcount
/// increment). They serialize as plain strings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InventoryItem {
    /// `productUrl`.
    pub product_url: Arc<str>,
    /// `productId` (SKU).
    pub product_id: Option<Arc<str>>,
    /// `facilityUrl`: the sublocation.
    pub facility_url: Arc<str>,
    /// `lotId`.
    pub lot_id: Option<String>,
    /// `normalizedPackingString`; `None` = eaches.
    pub packing: Option<String>,
    /// `orderUrl`: the PO (on order) or SO (reserved) this row belongs to.
    pub order_url: Option<String>,
    /// `quantityOnHand` (0 when absent).
    pub quantity_on_hand: f64,
    /// `quantityOnOrder` (0 when absent).
    pub quantity_on_order: f64,
    /// `quantityReserved` (0 when absent).
    pub quantity_reserved: f64,
}

impl InventoryItem {
    /// Build the composite key of a stock row.
    pub fn composite_key(
        product_url: &str,
        facility_url: &str,
        lot_id: Option<&str>,
        packing: Option<&str>,
        order_url: Option<&str>,
    ) -> String {
        let parts = [
            product_url,
            facility_url,
            lot_id.unwrap_or(""),
            packing.unwrap_or(""),
            order_url.unwrap_or(""),
        ];
        let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                key.push('|');
            }
            key.push_str(p);
        }
        key
    }
}

record_columns! {
    InventoryItemRow, InventoryItemTable, InventoryItemCol, key = product_url;
    {
        product_url: SharedUrl<false> = "productUrl",
        product_id: SharedText<false> = "productId",
        facility_url: SharedUrl<true> = "facilityUrl",
        lot_id: Text = "lotId",
        packing: Text = "normalizedPackingString",
        order_url: Text = "orderUrl",
        quantity_on_hand: Num = "quantityOnHand",
        quantity_on_order: Num = "quantityOnOrder",
        quantity_reserved: Num = "quantityReserved",
    }
}

impl FinaleRecord for InventoryItem {
    const COLLECTION: Collection = Collection::InventoryItem;
    type Row = InventoryItemRow;
    fn key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Owned(InventoryItem::composite_key(
            &self.product_url,
            &self.facility_url,
            self.lot_id.as_deref(),
            self.packing.as_deref(),
            self.order_url.as_deref(),
        ))
    }
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        None
    }
    #[inline]
    fn from_row(r: InventoryItemRow) -> Result<Self, Missing> {
        let product_url = req_url(r.product_url, "productUrl")?;
        let facility_url = req_url(r.facility_url, "facilityUrl").map_err(keyed(&product_url))?;
        Ok(Self {
            product_url,
            product_id: r.product_id,
            facility_url,
            lot_id: r.lot_id,
            packing: r.packing,
            order_url: r.order_url,
            quantity_on_hand: r.quantity_on_hand.unwrap_or(0.0),
            quantity_on_order: r.quantity_on_order.unwrap_or(0.0),
            quantity_reserved: r.quantity_reserved.unwrap_or(0.0),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Order
// ---------------------------------------------------------------------------------------

/// An order (sales, purchase, transfer, return).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// `orderUrl` (the key).
    pub url: String,
    /// `orderId` (caller-chosen; may contain any characters).
    pub order_id: String,
    /// `orderTypeId`: `SALES_ORDER`, `PURCHASE_ORDER`, `TRANSFER_ORDER`, `RETURN_ORDER`.
    pub order_type: String,
    /// `statusId`: `ORDER_CREATED`, `ORDER_LOCKED`, `ORDER_COMPLETED`, `ORDER_CANCELLED`.
    pub status: Option<String>,
    /// `orderDate`.
    pub order_date: Option<DateTime<Utc>>,
    /// `dueDate`, a date-only field: midnight UTC of the date Finale wrote (the date part of
    /// its `…T16:00:00`-style value, finale-api.md §15b), whatever the zones.
    pub due_date: Option<DateTime<Utc>>,
    /// `createdDate`.
    pub created: Option<DateTime<Utc>>,
    /// `lastUpdatedDate`.
    pub last_updated: Option<DateTime<Utc>>,
    /// `originFacilityUrl` (a location).
    pub origin_facility_url: Option<String>,
    /// `destinationFacilityUrl` (a location).
    pub destination_facility_url: Option<String>,
    /// `orderRoleList`: customer/supplier.
    pub roles: Vec<OrderRole>,
    /// `orderItemList`. `None` = not present in the payload (collection reads may omit it;
    /// see `FinaleClient::complete_order_lines`), or a line could not be decoded.
    pub lines: Option<Vec<OrderLine>>,
    /// `statusIdHistoryList`.
    pub status_history: Vec<StatusChange>,
    /// `shipmentUrlList`: follow these, never build shipment URLs from labels.
    pub shipment_urls: Vec<String>,
    /// `invoiceUrlList`.
    pub invoice_urls: Vec<String>,
    /// `referenceNumber` (e.g. the customer's PO number).
    pub reference_number: Option<String>,
    /// `orderItemListTotal`.
    pub total: Option<f64>,
    /// `userFieldDataList`.
    pub user_fields: Vec<UserField>,
}

impl Order {
    /// The party id of the first role of the given type (`CUSTOMER`, `SUPPLIER`).
    pub fn party_for_role(&self, role: &str) -> Option<&OrderRole> {
        self.roles
            .iter()
            .find(|r| r.role_type.as_deref() == Some(role))
    }
}

record_columns! {
    OrderRow, OrderTable, OrderCol, key = url;
    {
        url: RecordUrl = "orderUrl",
        order_id: Text = "orderId",
        order_type: Text = "orderTypeId",
        status: Text = "statusId",
        order_date: Stamp = "orderDate",
        due_date: Day = "dueDate",
        created: Stamp = "createdDate",
        last_updated: Stamp = "lastUpdatedDate",
        origin_facility_url: Text = "originFacilityUrl",
        destination_facility_url: Text = "destinationFacilityUrl",
        roles: List<OrderRoleWire> = "orderRoleList",
        lines: StrictList<OrderLineWire> = "orderItemList",
        status_history: List<StatusChangeWire> = "statusIdHistoryList",
        shipment_urls: TextList = "shipmentUrlList",
        invoice_urls: TextList = "invoiceUrlList",
        reference_number: Text = "referenceNumber",
        total: Num = "orderItemListTotal",
        user_fields: List<UserFieldWire> = "userFieldDataList",
    }
}

impl FinaleRecord for Order {
    const COLLECTION: Collection = Collection::Order;
    type Row = OrderRow;
    fn key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.url)
    }
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.last_updated
    }
    #[inline]
    fn from_row(r: OrderRow) -> Result<Self, Missing> {
        let url = req_url(r.url, "orderUrl")?;
        let order_id = req_str(r.order_id, "orderId").map_err(keyed(&url))?;
        let order_type = req_str(r.order_type, "orderTypeId").map_err(keyed(&url))?;
        Ok(Self {
            url,
            order_id,
            order_type,
            status: r.status,
            order_date: r.order_date,
            due_date: r.due_date,
            created: r.created,
            last_updated: r.last_updated,
            origin_facility_url: r.origin_facility_url,
            destination_facility_url: r.destination_facility_url,
            roles: conv(r.roles),
            lines: r.lines.map(|v| v.into_iter().map(Into::into).collect()),
            status_history: conv(r.status_history),
            shipment_urls: r.shipment_urls.unwrap_or_default(),
            invoice_urls: r.invoice_urls.unwrap_or_default(),
            reference_number: r.reference_number,
            total: r.total,
            user_fields: conv(r.user_fields),
        })
    }
}

// ---------------------------------------------------------------------------------------
// PartyGroup
// ---------------------------------------------------------------------------------------

/// A customer, supplier or carrier (`partygroup`). `party_id == "PRIMARY"` is the account's
/// own company.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartyGroup {
    /// `partyUrl` (the key).
    pub url: String,
    /// `partyId`.
    pub party_id: String,
    /// `groupName` (also accepted: `name`).
    pub name: Option<String>,
    /// `roleTypeIdList`: `SUPPLIER`, `CUSTOMER`, `CARRIER`.
    pub roles: Vec<String>,
    /// `statusId`.
    pub status: Option<String>,
    /// `contactMechList`.
    pub contacts: Vec<ContactMech>,
    /// `userFieldDataList`.
    pub user_fields: Vec<UserField>,
    /// `lastUpdatedDate`.
    pub last_updated: Option<DateTime<Utc>>,
}

impl PartyGroup {
    /// Whether the party has the given role (e.g. `SUPPLIER`).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

record_columns! {
    PartyGroupRow, PartyGroupTable, PartyGroupCol, key = url;
    {
        url: RecordUrl = "partyUrl" | "partyGroupUrl",
        party_id: Text = "partyId",
        name: Text = "groupName" | "name",
        roles: TextList = "roleTypeIdList",
        status: Text = "statusId",
        contacts: List<ContactMechWire> = "contactMechList",
        user_fields: List<UserFieldWire> = "userFieldDataList",
        last_updated: Stamp = "lastUpdatedDate",
    }
}

impl FinaleRecord for PartyGroup {
    const COLLECTION: Collection = Collection::PartyGroup;
    type Row = PartyGroupRow;
    fn key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.url)
    }
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.last_updated
    }
    #[inline]
    fn from_row(r: PartyGroupRow) -> Result<Self, Missing> {
        let url = req_url(r.url, "partyUrl")?;
        let party_id = req_str(r.party_id, "partyId").map_err(keyed(&url))?;
        Ok(Self {
            url,
            party_id,
            name: r.name,
            roles: r.roles.unwrap_or_default(),
            status: r.status,
            contacts: conv(r.contacts),
            user_fields: conv(r.user_fields),
            last_updated: r.last_updated,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Shipment
// ---------------------------------------------------------------------------------------

/// A shipment: a sales shipment, a purchase receipt, a transfer or a return.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shipment {
    /// `shipmentUrl` (the key). Built from the internal `shipmentId`, never from the label.
    pub url: String,
    /// `shipmentId`: internal numeric id (kept as text).
    pub shipment_id: String,
    /// `shipmentIdUser`: the human label, e.g. `125127-1`.
    pub shipment_id_user: Option<String>,
    /// `shipmentTypeId`, e.g. `SALES_SHIPMENT`.
    pub shipment_type: Option<String>,
    /// `statusId`: `SHIPMENT_INPUT`, `SHIPMENT_PACKED`, `SHIPMENT_SHIPPED`, `SHIPMENT_DELIVERED`.
    pub status: Option<String>,
    /// `primaryOrderUrl`.
    pub primary_order_url: Option<String>,
    /// `originFacilityUrl`.
    pub origin_facility_url: Option<String>,
    /// `destinationFacilityUrl`.
    pub destination_facility_url: Option<String>,
    /// `shipDate`.
    pub ship_date: Option<DateTime<Utc>>,
    /// `receiveDate`.
    pub receive_date: Option<DateTime<Utc>>,
    /// `shipmentItemList`.
    pub items: Vec<ShipmentItem>,
    /// `statusIdHistoryList` (the `SHIPMENT_DELIVERED` entry is the receipt time).
    pub status_history: Vec<StatusChange>,
    /// `createdDate`.
    pub created: Option<DateTime<Utc>>,
    /// `lastUpdatedDate`.
    pub last_updated: Option<DateTime<Utc>>,
}

record_columns! {
    ShipmentRow, ShipmentTable, ShipmentCol, key = url;
    {
        url: RecordUrl = "shipmentUrl",
        shipment_id: Text = "shipmentId",
        shipment_id_user: Text = "shipmentIdUser",
        shipment_type: Text = "shipmentTypeId",
        status: Text = "statusId",
        primary_order_url: Text = "primaryOrderUrl",
        origin_facility_url: Text = "originFacilityUrl",
        destination_facility_url: Text = "destinationFacilityUrl",
        ship_date: Stamp = "shipDate",
        receive_date: Stamp = "receiveDate",
        items: List<ShipmentItemWire> = "shipmentItemList",
        status_history: List<StatusChangeWire> = "statusIdHistoryList",
        created: Stamp = "createdDate",
        last_updated: Stamp = "lastUpdatedDate",
    }
}

impl FinaleRecord for Shipment {
    const COLLECTION: Collection = Collection::Shipment;
    type Row = ShipmentRow;
    fn key(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.url)
    }
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.last_updated
    }
    #[inline]
    fn from_row(r: ShipmentRow) -> Result<Self, Missing> {
        let url = req_url(r.url, "shipmentUrl")?;
        let shipment_id = req_str(r.shipment_id, "shipmentId").map_err(keyed(&url))?;
        Ok(Self {
            url,
            shipment_id,
            shipment_id_user: r.shipment_id_user,
            shipment_type: r.shipment_type,
            status: r.status,
            primary_order_url: r.primary_order_url,
            origin_facility_url: r.origin_facility_url,
            destination_facility_url: r.destination_facility_url,
            ship_date: r.ship_date,
            receive_date: r.receive_date,
            items: conv(r.items),
            status_history: conv(r.status_history),
            created: r.created,
            last_updated: r.last_updated,
        })
    }
}
