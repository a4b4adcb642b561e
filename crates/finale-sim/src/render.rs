//! JSON rendering of the model, the way Finale's REST API shapes it.
//!
//! Two shapes (finale-api.md §6.1–6.2):
//! - **single record**: a plain object of Finale field names;
//! - **collection**: *column-major* — one object whose keys are field names and whose values
//!   are equal-length arrays (index *i* across all arrays is record *i*); nested lists become
//!   arrays of arrays. A column that no row has (e.g. an `actionUrl*` that is valid for none of
//!   the rows) is omitted entirely, and an empty result is `{}`.
//!
//! Every record type implements [`Render`]: a static column list, typed access to its
//! top-level scalar fields ([`Scalar`], also what `filter` compares), and rendering of nested
//! lists. Timestamps are written as `YYYY-MM-DDTHH:MM:SS` without offset in the timestamp
//! zone (`Quirks::timestamp_zone`: UTC by default, the account zone under
//! `Timestamps::Account`); `txStamp` as epoch seconds; whole numbers as JSON integers.
//!
//! Collections are written column by column straight into a byte buffer, so a large read never
//! holds more than one column of `Value`s at a time.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::model::*;

/// Rendering context: timestamp zone and whether the output is a collection.
#[derive(Debug, Clone, Copy)]
pub struct Cx {
    /// Time zone in which offset-less timestamps are written.
    pub tz: chrono_tz::Tz,
    /// Rendering a collection (as opposed to a single record).
    pub collection: bool,
    /// Whether order collections carry `orderItemList`.
    pub order_items_in_collection: bool,
    /// What packed `inventoryitem` quantities count.
    pub packed_quantities: crate::config::PackedQuantities,
    /// The account's time zone: the calendar day of date-only fields (`dueDate`).
    pub account_tz: chrono_tz::Tz,
    /// Products look like the live capture of finale-api.md §15b (`Quirks::live_product_shape`).
    pub live_product_shape: bool,
    /// Single records look like Finale's doc examples (`Quirks::doc_shaped_records`).
    pub doc_shaped_records: bool,
}

impl Cx {
    /// Formats an instant as Finale does: wall-clock time in the timestamp zone, no offset.
    pub fn date(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    }
}

/// The type of a scalar column, used to interpret filter bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Compared lexicographically.
    Str,
    /// Compared numerically.
    Num,
    /// Compared as instants.
    Date,
    /// `false < true`.
    Bool,
}

/// A typed top-level scalar value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// A number.
    Num(f64),
    /// An instant.
    Date(DateTime<Utc>),
    /// A boolean.
    Bool(bool),
    /// Absent value rendered as `null`.
    Null,
}

impl Scalar<'_> {
    fn to_value(&self, cx: &Cx) -> Value {
        match self {
            Scalar::Str(s) => Value::String((*s).to_owned()),
            Scalar::Num(n) => num(*n),
            Scalar::Date(d) => Value::String(cx.date(*d)),
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Null => Value::Null,
        }
    }
}

/// A JSON number; whole numbers become integers (`40`, not `40.0`).
pub fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

fn opt_str(s: &Option<String>) -> Scalar<'_> {
    s.as_deref().map_or(Scalar::Null, Scalar::Str)
}

fn opt_num(n: Option<f64>) -> Scalar<'static> {
    n.map_or(Scalar::Null, Scalar::Num)
}

fn opt_date(d: Option<DateTime<Utc>>) -> Scalar<'static> {
    d.map_or(Scalar::Null, Scalar::Date)
}

/// A record type that can be rendered and filtered.
pub trait Render {
    /// Column names in output order.
    const COLUMNS: &'static [&'static str];
    /// Kind of a *filterable* top-level scalar column; `None` for lists and unknown names.
    fn kind(col: &str) -> Option<Kind>;
    /// The value of a top-level scalar column (`None` if `col` is not one).
    fn scalar(&self, col: &str) -> Option<Scalar<'_>>;
    /// The value of a non-scalar column (nested lists, action URLs); `None` = absent.
    fn extra(&self, col: &str, cx: &Cx) -> Option<Value>;
    /// Columns a `MalformedRecords` fault corrupts, with the corrupt value, cycled per record.
    fn corruptions() -> Vec<(&'static str, Value)>;

    /// The rendered value of any column; `None` = the record has no such field.
    fn field(&self, col: &str, cx: &Cx) -> Option<Value> {
        match self.scalar(col) {
            Some(s) => Some(s.to_value(cx)),
            None => self.extra(col, cx),
        }
    }
}

fn history(list: &[StatusHistoryEntry]) -> Value {
    Value::Array(
        list.iter()
            .map(|h| {
                json!({
                    "statusId": h.status_id,
                    "txStamp": h.tx_stamp.timestamp(),
                    "userLoginUrl": h.user_login_url,
                })
            })
            .collect(),
    )
}

fn user_fields(list: &[UserFieldData]) -> Value {
    Value::Array(
        list.iter()
            .map(|u| json!({"attrName": u.attr_name, "attrValue": u.attr_value}))
            .collect(),
    )
}

fn date_kind(col: &str) -> bool {
    matches!(col, "createdDate" | "lastUpdatedDate")
}

impl Render for Facility {
    const COLUMNS: &'static [&'static str] = &[
        "facilityId",
        "facilityUrl",
        "facilityName",
        "parentFacilityUrl",
        "statusId",
        "shippingDisabled",
        "receivingDisabled",
        "createdDate",
        "lastUpdatedDate",
        "actionUrlDeactivate",
    ];
    fn kind(col: &str) -> Option<Kind> {
        match col {
            "facilityId" | "facilityUrl" | "facilityName" | "parentFacilityUrl" | "statusId" => {
                Some(Kind::Str)
            }
            "shippingDisabled" | "receivingDisabled" => Some(Kind::Bool),
            c if date_kind(c) => Some(Kind::Date),
            _ => None,
        }
    }
    fn scalar(&self, col: &str) -> Option<Scalar<'_>> {
        Some(match col {
            "facilityId" => Scalar::Str(&self.facility_id),
            "facilityUrl" => Scalar::Str(&self.facility_url),
            "facilityName" => Scalar::Str(&self.facility_name),
            "parentFacilityUrl" => opt_str(&self.parent_facility_url),
            "statusId" => Scalar::Str(&self.status_id),
            "shippingDisabled" => Scalar::Bool(self.shipping_disabled),
            "receivingDisabled" => Scalar::Bool(self.receiving_disabled),
            "createdDate" => Scalar::Date(self.created_date),
            "lastUpdatedDate" => Scalar::Date(self.last_updated_date),
            _ => return None,
        })
    }
    fn extra(&self, col: &str, _cx: &Cx) -> Option<Value> {
        match col {
            "actionUrlDeactivate" if self.status_id == "FACILITY_ACTIVE" => {
                Some(Value::String(format!("{}/deactivate", self.facility_url)))
            }
            _ => None,
        }
    }
    fn corruptions() -> Vec<(&'static str, Value)> {
        vec![
            ("lastUpdatedDate", json!("not-a-date")),
            ("facilityUrl", json!(42)),
            ("shippingDisabled", json!("twelve")),
        ]
    }
}

impl Render for PartyGroup {
    const COLUMNS: &'static [&'static str] = &[
        "partyId",
        "partyUrl",
        "groupName",
        "roleTypeIdList",
        "statusId",
        "contactMechList",
        "userFieldDataList",
        "createdDate",
        "lastUpdatedDate",
    ];
    fn kind(col: &str) -> Option<Kind> {
        match col {
            "partyId" | "partyUrl" | "groupName" | "statusId" => Some(Kind::Str),
            c if date_kind(c) => Some(Kind::Date),
            _ => None,
        }
    }
    fn scalar(&self, col: &str) -> Option<Scalar<'_>> {
        Some(match col {
            "partyId" => Scalar::Str(&self.party_id),
            "partyUrl" => Scalar::Str(&self.party_url),
            "groupName" => Scalar::Str(&self.group_name),
            "statusId" => Scalar::Str(&self.status_id),
            "createdDate" => Scalar::Date(self.created_date),
            "lastUpdatedDate" => Scalar::Date(self.last_updated_date),
            _ => return None,
        })
    }
    fn extra(&self, col: &str, _cx: &Cx) -> Option<Value> {
        match col {
            "roleTypeIdList" => Some(json!(self.role_type_id_list)),
            "contactMechList" => Some(Value::Array(
                self.contact_mech_list
                    .iter()
                    .map(|c| {
                        let mut m = Map::new();
                        m.insert("contactMechId".into(), json!(c.contact_mech_id));
                        m.insert("contactMechTypeId".into(), json!(c.contact_mech_type_id));
                        m.insert(
                            "contactMechPurposeTypeId".into(),
                            json!(c.contact_mech_purpose_type_id),
                        );
                        m.insert("infoString".into(), json!(c.info_string));
                        for (k, v) in [
                            ("address1", &c.address1),
                            ("city", &c.city),
                            ("postalCode", &c.postal_code),
                            ("countryGeoId", &c.country_geo_id),
                        ] {
                            if let Some(v) = v {
                                m.insert(k.into(), json!(v));
                            }
                        }
                        Value::Object(m)
                    })
                    .collect(),
            )),
            "userFieldDataList" => Some(user_fields(&self.user_field_data_list)),
            _ => None,
        }
    }
    fn corruptions() -> Vec<(&'static str, Value)> {
        vec![
            ("lastUpdatedDate", json!("not-a-date")),
            ("partyUrl", json!(42)),
        ]
    }
}

impl Render for Product {
    const COLUMNS: &'static [&'static str] = &[
        "productId",
        "productUrl",
        "internalName",
        "statusId",
        "productTypeId",
        "userCategory",
        "universalProductCode",
        "cost",
        "leadTime",
        "normalizedPackingString",
        "supplierList",
        "priceList",
        "reorderGuidelineList",
        "userFieldDataList",
        "productStoreList",
        "glAccountList",
        "contentList",
        "productAssocList",
        "createdDate",
        "lastUpdatedDate",
        "actionUrlActivate",
        "actionUrlDeactivate",
    ];
    fn kind(col: &str) -> Option<Kind> {
        match col {
            "productId"
            | "productUrl"
            | "internalName"
            | "statusId"
            | "productTypeId"
            | "userCategory"
            | "universalProductCode"
            | "normalizedPackingString" => Some(Kind::Str),
            "cost" | "leadTime" => Some(Kind::Num),
            c if date_kind(c) => Some(Kind::Date),
            _ => None,
        }
    }
    fn scalar(&self, col: &str) -> Option<Scalar<'_>> {
        Some(match col {
            "productId" => Scalar::Str(&self.product_id),
            "productUrl" => Scalar::Str(&self.product_url),
            "internalName" => Scalar::Str(&self.internal_name),
            "statusId" => Scalar::Str(&self.status_id),
            "productTypeId" => Scalar::Str(&self.product_type_id),
            "userCategory" => opt_str(&self.user_category),
            "universalProductCode" => opt_str(&self.universal_product_code),
            "cost" => opt_num(self.cost),
            "leadTime" => opt_num(self.lead_time),
            "normalizedPackingString" => opt_str(&self.normalized_packing_string),
            "createdDate" => Scalar::Date(self.created_date),
            "lastUpdatedDate" => Scalar::Date(self.last_updated_date),
            _ => return None,
        })
    }
    fn extra(&self, col: &str, cx: &Cx) -> Option<Value> {
        match col {
            "supplierList" => Some(Value::Array(
                self.supplier_list
                    .iter()
                    .map(|s| {
                        json!({
                            "supplierPartyUrl": s.supplier_party_url,
                            "supplierPrefOrderId": s.supplier_pref_order_id,
                            "supplierProductId": s.supplier_product_id,
                            "price": num(s.price),
                            "currencyUomId": s.currency_uom_id,
                            "leadTime": s.lead_time.map(num),
                        })
                    })
                    .collect(),
            )),
            "priceList" => {
                let mut list: Vec<Value> = self
                    .price_list
                    .iter()
                    .map(|p| {
                        json!({
                            "productPriceTypeId": p.product_price_type_id,
                            "price": num(p.price),
                            "currencyUomId": p.currency_uom_id,
                        })
                    })
                    .collect();
                if cx.live_product_shape {
                    // A user-defined price type nobody priced: its `price` key is absent.
                    list.push(json!({"productPriceTypeId": "##user2", "currencyUomId": "USD"}));
                }
                Some(Value::Array(list))
            }
            "productStoreList" | "glAccountList" | "contentList" | "productAssocList"
                if cx.live_product_shape =>
            {
                Some(Value::Array(Vec::new()))
            }
            "reorderGuidelineList" => Some(Value::Array(
                self.reorder_guideline_list
                    .iter()
                    .map(|r| {
                        json!({
                            "facilityUrl": r.facility_url,
                            "reorderPoint": num(r.reorder_point),
                            "reorderQuantity": num(r.reorder_quantity),
                            "reorderCalculationMethodId": r.reorder_calculation_method_id,
                        })
                    })
                    .collect(),
            )),
            "userFieldDataList" => Some(user_fields(&self.user_field_data_list)),
            "actionUrlActivate" if !self.is_active() => {
                Some(Value::String(format!("{}/activate", self.product_url)))
            }
            "actionUrlDeactivate" if self.is_active() => {
                Some(Value::String(format!("{}/deactivate", self.product_url)))
            }
            _ => None,
        }
    }
    fn corruptions() -> Vec<(&'static str, Value)> {
        vec![
            ("cost", json!("twelve")),
            ("lastUpdatedDate", json!("not-a-date")),
            ("productUrl", json!(42)),
        ]
    }
}

impl Render for Order {
    const COLUMNS: &'static [&'static str] = &[
        "orderId",
        "orderUrl",
        "orderTypeId",
        "statusId",
        "orderDate",
        "dueDate",
        "originFacilityUrl",
        "destinationFacilityUrl",
        "referenceNumber",
        "orderRoleList",
        "orderItemList",
        "orderItemListTotal",
        "statusIdHistoryList",
        "shipmentUrlList",
        "createdDate",
        "lastUpdatedDate",
        "actionUrlLock",
        "actionUrlComplete",
        "actionUrlCancel",
        "actionUrlEdit",
    ];
    fn kind(col: &str) -> Option<Kind> {
        match col {
            "orderId"
            | "orderUrl"
            | "orderTypeId"
            | "statusId"
            | "originFacilityUrl"
            | "destinationFacilityUrl"
            | "referenceNumber" => Some(Kind::Str),
            "orderItemListTotal" => Some(Kind::Num),
            "orderDate" => Some(Kind::Date),
            c if date_kind(c) => Some(Kind::Date),
            _ => None,
        }
    }
    fn scalar(&self, col: &str) -> Option<Scalar<'_>> {
        Some(match col {
            "orderId" => Scalar::Str(&self.order_id),
            "orderUrl" => Scalar::Str(&self.order_url),
            "orderTypeId" => Scalar::Str(&self.order_type_id),
            "statusId" => Scalar::Str(&self.status_id),
            "orderDate" => Scalar::Date(self.order_date),
            "originFacilityUrl" => opt_str(&self.origin_facility_url),
            "destinationFacilityUrl" => opt_str(&self.destination_facility_url),
            "referenceNumber" => opt_str(&self.reference_number),
            "orderItemListTotal" => Scalar::Num((self.item_total() * 100.0).round() / 100.0),
            "createdDate" => Scalar::Date(self.created_date),
            "lastUpdatedDate" => Scalar::Date(self.last_updated_date),
            _ => return None,
        })
    }
    fn extra(&self, col: &str, cx: &Cx) -> Option<Value> {
        let url = &self.order_url;
        let st = self.status_id.as_str();
        match col {
            // A date-only field, written as Finale does: the date at a fixed clock time.
            "dueDate" => self
                .due_day(cx.account_tz)
                .map(|d| Value::String(format!("{}T16:00:00", d.format("%Y-%m-%d")))),
            "orderRoleList" => Some(Value::Array(
                self.order_role_list
                    .iter()
                    .map(|r| json!({"roleTypeId": r.role_type_id, "partyId": r.party_id}))
                    .collect(),
            )),
            "orderItemList" if !cx.collection || cx.order_items_in_collection => {
                Some(Value::Array(
                    self.order_item_list
                        .iter()
                        .map(|l| {
                            json!({
                                "orderItemUrl": l.order_item_url(url),
                                "productId": &*l.product_id,
                                "productUrl": &*l.product_url,
                                "quantity": num(l.quantity),
                                "unitPrice": num(l.unit_price),
                            })
                        })
                        .collect(),
                ))
            }
            "statusIdHistoryList" => Some(history(&self.status_id_history_list)),
            "shipmentUrlList" => Some(json!(self.shipment_url_list)),
            "actionUrlLock" if st == "ORDER_CREATED" => Some(json!(format!("{url}/lock"))),
            "actionUrlComplete" if st == "ORDER_LOCKED" => Some(json!(format!("{url}/complete"))),
            "actionUrlCancel" if st == "ORDER_CREATED" || st == "ORDER_LOCKED" => {
                Some(json!(format!("{url}/cancel")))
            }
            "actionUrlEdit" if st == "ORDER_LOCKED" || st == "ORDER_COMPLETED" => {
                Some(json!(format!("{url}/edit")))
            }
            _ => None,
        }
    }
    fn corruptions() -> Vec<(&'static str, Value)> {
        vec![
            ("orderItemListTotal", json!("twelve")),
            ("lastUpdatedDate", json!("not-a-date")),
            ("orderUrl", json!(42)),
        ]
    }
}

impl Render for Shipment {
    const COLUMNS: &'static [&'static str] = &[
        "shipmentId",
        "shipmentIdUser",
        "shipmentUrl",
        "shipmentTypeId",
        "statusId",
        "primaryOrderUrl",
        "originFacilityUrl",
        "destinationFacilityUrl",
        "shipDate",
        "receiveDate",
        "shipmentItemList",
        "statusIdHistoryList",
        "createdDate",
        "lastUpdatedDate",
    ];
    fn kind(col: &str) -> Option<Kind> {
        match col {
            "shipmentId"
            | "shipmentIdUser"
            | "shipmentUrl"
            | "shipmentTypeId"
            | "statusId"
            | "primaryOrderUrl"
            | "originFacilityUrl"
            | "destinationFacilityUrl" => Some(Kind::Str),
            "shipDate" | "receiveDate" => Some(Kind::Date),
            c if date_kind(c) => Some(Kind::Date),
            _ => None,
        }
    }
    fn scalar(&self, col: &str) -> Option<Scalar<'_>> {
        Some(match col {
            "shipmentId" => Scalar::Str(&self.shipment_id),
            "shipmentIdUser" => Scalar::Str(&self.shipment_id_user),
            "shipmentUrl" => Scalar::Str(&self.shipment_url),
            "shipmentTypeId" => Scalar::Str(&self.shipment_type_id),
            "statusId" => Scalar::Str(&self.status_id),
            "primaryOrderUrl" => Scalar::Str(&self.primary_order_url),
            "originFacilityUrl" => opt_str(&self.origin_facility_url),
            "destinationFacilityUrl" => opt_str(&self.destination_facility_url),
            "shipDate" => opt_date(self.ship_date),
            "receiveDate" => opt_date(self.receive_date),
            "createdDate" => Scalar::Date(self.created_date),
            "lastUpdatedDate" => Scalar::Date(self.last_updated_date),
            _ => return None,
        })
    }
    fn extra(&self, col: &str, _cx: &Cx) -> Option<Value> {
        match col {
            "shipmentItemList" => Some(Value::Array(
                self.shipment_item_list
                    .iter()
                    .map(|i| {
                        json!({
                            "productId": &*i.product_id,
                            "productUrl": &*i.product_url,
                            "facilityUrl": i.facility_url,
                            "lotId": i.lot_id,
                            "quantity": num(i.quantity),
                        })
                    })
                    .collect(),
            )),
            "statusIdHistoryList" => Some(history(&self.status_id_history_list)),
            _ => None,
        }
    }
    fn corruptions() -> Vec<(&'static str, Value)> {
        vec![
            ("lastUpdatedDate", json!("not-a-date")),
            ("shipmentUrl", json!(42)),
        ]
    }
}

impl Render for InventoryItem {
    const COLUMNS: &'static [&'static str] = &[
        "productId",
        "productUrl",
        "facilityUrl",
        "lotId",
        "normalizedPackingString",
        "orderUrl",
        "quantityOnHand",
        "quantityOnOrder",
        "quantityReserved",
    ];
    fn kind(_col: &str) -> Option<Kind> {
        None
    }
    fn scalar(&self, col: &str) -> Option<Scalar<'_>> {
        Some(match col {
            "productId" => Scalar::Str(&self.product_id),
            "productUrl" => Scalar::Str(&self.product_url),
            "facilityUrl" => Scalar::Str(&self.facility_url),
            "lotId" => opt_str(&self.lot_id),
            "normalizedPackingString" => opt_str(&self.normalized_packing_string),
            "orderUrl" => opt_str(&self.order_url),
            _ => return None,
        })
    }
    /// Quantities depend on [`Cx::packed_quantities`]: the model holds cases for packed rows.
    fn extra(&self, col: &str, cx: &Cx) -> Option<Value> {
        let q = match col {
            "quantityOnHand" => self.quantity_on_hand,
            "quantityOnOrder" => self.quantity_on_order,
            "quantityReserved" => self.quantity_reserved,
            _ => return None,
        };
        Some(num(match cx.packed_quantities {
            crate::config::PackedQuantities::Cases => q,
            crate::config::PackedQuantities::Units => q * self.units_per_case(),
        }))
    }
    fn corruptions() -> Vec<(&'static str, Value)> {
        vec![
            ("quantityOnHand", json!("twelve")),
            ("productUrl", json!(42)),
        ]
    }
}

/// Renders one record as a plain object (all present fields, nested lists included).
///
/// With [`Cx::doc_shaped_records`] a record looks like Finale's own doc examples
/// (finale-api.md §15b): no `orderDate`, `createdDate` or `lastUpdatedDate`, and an
/// undocumented `invalidations` key.
pub fn single<T: Render>(row: &T, cx: &Cx) -> Vec<u8> {
    let mut m = Map::new();
    for col in T::COLUMNS {
        if cx.doc_shaped_records && matches!(*col, "orderDate" | "createdDate" | "lastUpdatedDate")
        {
            continue;
        }
        if let Some(v) = row.field(col, cx) {
            m.insert((*col).to_owned(), v);
        }
    }
    if cx.doc_shaped_records {
        m.insert("invalidations".to_owned(), json!({}));
    }
    serde_json::to_vec(&Value::Object(m)).unwrap_or_else(|_| b"{}".to_vec())
}

/// Renders rows column-major. `corrupt` lists row positions whose records get one corrupted
/// field each (cycling through [`Render::corruptions`]).
pub fn column_major<T: Render>(rows: &[&T], cx: &Cx, corrupt: &[usize]) -> Vec<u8> {
    let targets = T::corruptions();
    let mut out = Vec::with_capacity(64 + rows.len() * 64);
    out.push(b'{');
    let mut first_col = true;
    for col in T::COLUMNS {
        let values: Vec<Option<Value>> = rows.iter().map(|r| r.field(col, cx)).collect();
        let hit: Vec<(usize, Value)> = corrupt
            .iter()
            .enumerate()
            .filter_map(|(k, &pos)| {
                let (c, v) = &targets[k % targets.len().max(1)];
                (c == col && pos < rows.len()).then(|| (pos, v.clone()))
            })
            .collect();
        if values.iter().all(Option::is_none) && hit.is_empty() {
            continue;
        }
        if !first_col {
            out.push(b',');
        }
        first_col = false;
        // Keys are static ASCII identifiers; serialising them is infallible.
        out.extend_from_slice(serde_json::to_string(col).unwrap_or_default().as_bytes());
        out.extend_from_slice(b":[");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let v = hit
                .iter()
                .find(|(p, _)| *p == i)
                .map(|(_, v)| v.clone())
                .or(v);
            let v = v.unwrap_or(Value::Null);
            if serde_json::to_writer(&mut out, &v).is_err() {
                out.extend_from_slice(b"null");
            }
        }
        out.push(b']');
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::Size;
    use crate::generate::generate;

    fn cx() -> Cx {
        Cx {
            tz: chrono_tz::UTC,
            collection: true,
            order_items_in_collection: true,
            packed_quantities: crate::config::PackedQuantities::Cases,
            account_tz: chrono_tz::UTC,
            live_product_shape: false,
            doc_shaped_records: false,
        }
    }

    fn data() -> Dataset {
        generate(
            "acme",
            1,
            Size::Small,
            Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
        )
    }

    #[test]
    fn collections_are_column_major_with_equal_lengths() {
        let d = data();
        let rows: Vec<&Product> = d.products.rows().iter().collect();
        let body: Value = serde_json::from_slice(&column_major(&rows, &cx(), &[])).unwrap();
        let obj = body.as_object().unwrap();
        assert!(obj.len() > 10);
        for (k, v) in obj {
            assert_eq!(v.as_array().unwrap().len(), rows.len(), "column {k}");
        }
        assert!(
            obj["supplierList"][0].is_array(),
            "nested lists are arrays of arrays"
        );
    }

    #[test]
    fn empty_collections_are_empty_objects_and_absent_columns_are_omitted() {
        let none: Vec<&Order> = Vec::new();
        assert_eq!(column_major(&none, &cx(), &[]), b"{}");
        let d = data();
        let completed: Vec<&Order> = d
            .orders
            .rows()
            .iter()
            .filter(|o| o.status_id == "ORDER_COMPLETED")
            .take(5)
            .collect();
        let body: Value = serde_json::from_slice(&column_major(&completed, &cx(), &[])).unwrap();
        assert!(body.get("actionUrlComplete").is_none());
        assert!(body.get("actionUrlEdit").is_some());
        let mut headers_only = cx();
        headers_only.order_items_in_collection = false;
        let body: Value =
            serde_json::from_slice(&column_major(&completed, &headers_only, &[])).unwrap();
        assert!(body.get("orderItemList").is_none());
        let one_cx = Cx {
            collection: false,
            ..headers_only
        };
        let one: Value = serde_json::from_slice(&single(completed[0], &one_cx)).unwrap();
        assert!(
            one["orderItemList"].is_array(),
            "single records always carry lines"
        );
    }

    #[test]
    fn packed_stock_renders_cases_or_units_as_the_quirk_says() {
        let d = data();
        let packed: Vec<&InventoryItem> = d
            .inventory_items
            .iter()
            .filter(|r| r.normalized_packing_string.is_some() && r.quantity_on_hand > 0.0)
            .collect();
        assert!(packed.len() >= 3, "the generator packs some stock");
        let row = packed[0];
        let n = row.units_per_case();
        assert!(n > 1.0, "{row:?}");
        assert_eq!(
            row.field("quantityOnHand", &cx()),
            Some(num(row.quantity_on_hand))
        );
        let units = Cx {
            packed_quantities: crate::config::PackedQuantities::Units,
            ..cx()
        };
        assert_eq!(
            row.field("quantityOnHand", &units),
            Some(num(row.quantity_on_hand * n))
        );
        assert_eq!(row.on_hand_units(), row.quantity_on_hand * n);
        // Eaches rows are the same either way.
        let each = d
            .inventory_items
            .iter()
            .find(|r| r.normalized_packing_string.is_none() && r.quantity_on_hand > 0.0)
            .unwrap();
        assert_eq!(
            each.field("quantityOnHand", &units),
            each.field("quantityOnHand", &cx())
        );
    }

    #[test]
    fn timestamps_are_offsetless_in_the_account_zone() {
        let t = Utc.with_ymd_and_hms(2025, 1, 15, 18, 30, 5).unwrap();
        let utc = cx();
        assert_eq!(utc.date(t), "2025-01-15T18:30:05");
        let chicago = Cx {
            tz: chrono_tz::America::Chicago,
            ..utc
        };
        assert_eq!(chicago.date(t), "2025-01-15T12:30:05");
        assert_eq!(num(40.0), json!(40));
        assert_eq!(num(4.25), json!(4.25));
    }

    #[test]
    fn corruption_hits_exactly_the_requested_records() {
        let d = data();
        let rows: Vec<&Product> = d.products.rows().iter().take(10).collect();
        let body: Value = serde_json::from_slice(&column_major(&rows, &cx(), &[0, 4, 8])).unwrap();
        assert_eq!(body["cost"][0], json!("twelve"));
        assert_eq!(body["lastUpdatedDate"][4], json!("not-a-date"));
        assert_eq!(body["productUrl"][8], json!(42));
        assert!(body["cost"][1].is_number());
        assert!(body["productUrl"][0].is_string());
    }
}
