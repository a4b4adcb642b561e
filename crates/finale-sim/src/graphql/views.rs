//! The GraphQL view of the simulator's [`Dataset`]: one [`Node`] per schema type.
//!
//! Each root connection filters its table **once** into a vector of row indexes (in the
//! table's natural order, oldest change first, the same order as REST collections), and hands
//! it to the executor, which sorts if asked and resolves nodes only for the requested page.
//! Nodes are thin borrowed handles (`&Order`, `&Product`, …), so a page costs only what its
//! selected fields cost.
//!
//! Derived values, computed lazily once per request and only if a selected field needs them
//! ([`Cache`]):
//! * product **stock** sums (`stockOnHand`, `stockReserved`, `stockOnOrder`; available = on
//!   hand − reserved, finale-api.md §7.1) from the dataset's inventory rows, over all
//!   sublocations;
//! * product **sales** (`salesLast30Days`, `salesLast90Days`): units on committed or completed
//!   sales orders whose order date lies in the last 30/90 days before `ctx.now`;
//!   `stockoutDays` = available ÷ (90-day sales per day), `--` without demand.
//!
//! Product **stock rows** (`stockItem`, a nested connection on a product, finale-api.md
//! §7.2): one edge per `inventoryitem` row of the product, in the rows' stored order, with
//! `type` ("On hand", "On order", "Reserved": the row's non-zero quantity; a row with no
//! quantity at all is "On hand" 0), `quantity` (the row's raw quantity, as REST reports it),
//! `lotId`, `packing` (the row's `normalizedPackingString`; the GraphQL name is our
//! inference), and `location`/`sublocation` facility objects. Unlike a REST collection read
//! it is never cut at the entity cap, so it is how a client reads the stock of an account
//! whose `inventoryitem` collection is larger than the cap.
//!
//! The **stock ledger** (`stockHistoryViewConnection`) is derived from shipments: every line
//! of a sales shipment is a `Sale` row (units out, negative quantity) dated at its ship date,
//! every line of a purchase shipment a `Receipt` row (units in) dated at its receive date.
//! `transactionType` ids are the shipment type ids (`SALES_SHIPMENT`, `PURCHASE_SHIPMENT`); the
//! filter accepts ids or labels.
//!
//! Order dates: the model stores an order date as midnight UTC of the day it was placed, so
//! GraphQL treats it as that calendar day (displayed `M/D/YYYY`, compared by day with
//! `orderDate` filters read in the account zone). Shipment dates are instants, shown as the
//! account-local day on orders and as instants in the ledger.
//!
//! Labels for ids (statuses, types, roles) follow finale-api.md §6.4; an unknown id is shown
//! as itself.

use std::cell::OnceCell;
use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::args::{self, Args, DateRange};
use super::exec::{Child, LazySource, Node, VecSource, connection};
use super::format::Scalar;
use super::{GqlContext, GqlError};
use crate::model::{
    Dataset, Facility, FacilityKind, InventoryItem, Order, OrderItem, PartyGroup, Product,
    Shipment, ShipmentItem,
};

/// Per-request lazily computed aggregates.
#[derive(Debug, Default)]
pub(crate) struct Cache<'a> {
    stock: OnceCell<HashMap<&'a str, Stock>>,
    stock_rows: OnceCell<HashMap<&'a str, Vec<usize>>>,
    sales: OnceCell<HashMap<&'a str, Sales>>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stock {
    on_hand: f64,
    on_order: f64,
    reserved: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Sales {
    last30: f64,
    last90: f64,
}

/// Everything a node needs besides its row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    ds: &'a Dataset,
    ctx: &'a GqlContext,
    cache: &'a Cache<'a>,
}

impl<'a> View<'a> {
    /// A view of `ds` for one request.
    pub(crate) fn new(ds: &'a Dataset, ctx: &'a GqlContext, cache: &'a Cache<'a>) -> Self {
        Self { ds, ctx, cache }
    }

    fn stock(&self, product_url: &str) -> Stock {
        let map = self.cache.stock.get_or_init(|| {
            let mut m: HashMap<&'a str, Stock> = HashMap::new();
            for row in &self.ds.inventory_items {
                let s = m.entry(&*row.product_url).or_default();
                // GraphQL stock is in units: packed rows count cases.
                let n = row.units_per_case();
                s.on_hand += row.quantity_on_hand * n;
                s.on_order += row.quantity_on_order * n;
                s.reserved += row.quantity_reserved * n;
            }
            m
        });
        map.get(product_url).copied().unwrap_or_default()
    }

    /// Indexes of the product's `inventoryitem` rows, in stored order.
    fn stock_rows(&self, product_url: &str) -> &'a [usize] {
        let map = self.cache.stock_rows.get_or_init(|| {
            let mut m: HashMap<&'a str, Vec<usize>> = HashMap::new();
            for (i, row) in self.ds.inventory_items.iter().enumerate() {
                m.entry(&*row.product_url).or_default().push(i);
            }
            m
        });
        map.get(product_url).map_or(&[], Vec::as_slice)
    }

    fn sales(&self, product_url: &str) -> Sales {
        let map = self.cache.sales.get_or_init(|| {
            let now = self.ctx.now;
            let (from90, from30) = (now - Duration::days(90), now - Duration::days(30));
            let mut m: HashMap<&'a str, Sales> = HashMap::new();
            // An order's last change is never before its order date, so orders changed
            // since `from90` are a superset of those placed since then.
            let rows = self.ds.orders.rows();
            let candidates = self
                .ds
                .orders
                .updated_between(from90, DateTime::<Utc>::MAX_UTC);
            for o in candidates.iter().map(|&i| &rows[i]) {
                if o.order_date <= from90 || o.order_date > now || !o.is_sales() {
                    continue;
                }
                if !matches!(o.status_id.as_str(), "ORDER_LOCKED" | "ORDER_COMPLETED") {
                    continue;
                }
                for l in &o.order_item_list {
                    let s = m.entry(&*l.product_url).or_default();
                    s.last90 += l.quantity;
                    if o.order_date > from30 {
                        s.last30 += l.quantity;
                    }
                }
            }
            m
        });
        map.get(product_url).copied().unwrap_or_default()
    }

    fn party_by_id(&self, party_id: &str) -> Option<&'a PartyGroup> {
        let url = format!("/{}/api/partygroup/{party_id}", self.ds.account);
        self.ds.party_groups.by_url(&url).or_else(|| {
            self.ds
                .party_groups
                .rows()
                .iter()
                .find(|p| p.party_id == party_id)
        })
    }

    fn party(&self, party: Option<&'a PartyGroup>) -> Option<Child<'a, 'a>> {
        party.map(|p| Box::new(PartyNode { v: *self, p }) as Child<'a, 'a>)
    }

    fn facility(&self, url: Option<&str>) -> Option<Child<'a, 'a>> {
        let f = self.ds.facilities.by_url(url?)?;
        Some(Box::new(FacilityNode { v: *self, f }))
    }

    fn product(&self, url: &str) -> Option<Child<'a, 'a>> {
        let p = self.ds.products.by_url(url)?;
        Some(Box::new(ProductNode { v: *self, p }))
    }

    /// The account-local calendar day of an instant.
    fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.ctx.timezone).date_naive()
    }
}

/// The `Query` object.
pub(crate) struct Root<'a> {
    v: View<'a>,
}

impl<'a> Root<'a> {
    /// The root for one request.
    pub(crate) fn new(v: View<'a>) -> Self {
        Self { v }
    }
}

fn matches(filter: &Option<Vec<String>>, value: &str) -> bool {
    filter
        .as_ref()
        .is_none_or(|list| list.iter().any(|x| x == value))
}

impl<'a> Node<'a> for Root<'a> {
    fn object(&self, field: &str, a: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        let v = self.v;
        let ds = v.ds;
        let conn = match field {
            "orderViewConnection" => {
                let types = args::list_filter(a, "type")?;
                let statuses = args::list_filter(a, "status")?;
                let products = args::list_filter(a, "product")?;
                let dates = date_filter(a, "orderDate", v.ctx)?;
                let rows = ds.orders.rows();
                let keep = move |i: usize, out: &mut Vec<usize>| {
                    let o = &rows[i];
                    let hit = matches(&types, &o.order_type_id)
                        && matches(&statuses, &o.status_id)
                        && dates.is_none_or(|r| {
                            r.contains_day(v.local_day(o.order_date), v.ctx.timezone)
                        })
                        && products.as_ref().is_none_or(|ps| {
                            o.order_item_list
                                .iter()
                                .any(|l| ps.iter().any(|p| *p == *l.product_url))
                        });
                    if hit {
                        out.push(i);
                    }
                };
                let make = move |&i: &usize| -> Box<dyn Node<'a> + 'a> {
                    Box::new(OrderNode { v, o: &rows[i] })
                };
                let base = ds.orders.natural_order();
                connection(Box::new(LazySource::new(base, keep, make)), a, "order")?
            }
            "productViewConnection" => {
                let statuses = args::list_filter(a, "status")?;
                let product_id = args::string_filter(a, "productId")?;
                let rows = ds.products.rows();
                let pred = move |i: usize| -> bool {
                    let p = &rows[i];
                    matches(&statuses, &p.status_id)
                        && product_id.as_deref().is_none_or(|id| *p.product_id == *id)
                };
                let keep = move |i: usize, out: &mut Vec<usize>| {
                    if pred(i) {
                        out.push(i);
                    }
                };
                let make = move |&i: &usize| -> Box<dyn Node<'a> + 'a> {
                    Box::new(ProductNode { v, p: &rows[i] })
                };
                let base = ds.products.natural_order();
                connection(Box::new(LazySource::new(base, keep, make)), a, "product")?
            }
            "partyViewConnection" => {
                let roles = args::list_filter(a, "role")?;
                let statuses = args::list_filter(a, "status")?;
                let rows = ds.party_groups.rows();
                let pred = move |i: usize| -> bool {
                    let p = &rows[i];
                    matches(&statuses, &p.status_id)
                        && roles
                            .as_ref()
                            .is_none_or(|rs| p.role_type_id_list.iter().any(|r| rs.contains(r)))
                };
                let keep = move |i: usize, out: &mut Vec<usize>| {
                    if pred(i) {
                        out.push(i);
                    }
                };
                let make = move |&i: &usize| -> Box<dyn Node<'a> + 'a> {
                    Box::new(PartyNode { v, p: &rows[i] })
                };
                let base = ds.party_groups.natural_order();
                connection(Box::new(LazySource::new(base, keep, make)), a, "party")?
            }
            "facilityViewConnection" => {
                let types = args::list_filter(a, "type")?;
                let statuses = args::list_filter(a, "status")?;
                let rows = ds.facilities.rows();
                let pred = move |i: usize| -> bool {
                    let f = &rows[i];
                    matches(&types, facility_kind(f.kind).0) && matches(&statuses, &f.status_id)
                };
                let keep = move |i: usize, out: &mut Vec<usize>| {
                    if pred(i) {
                        out.push(i);
                    }
                };
                let make = move |&i: &usize| -> Box<dyn Node<'a> + 'a> {
                    Box::new(FacilityNode { v, f: &rows[i] })
                };
                let base = ds.facilities.natural_order();
                connection(Box::new(LazySource::new(base, keep, make)), a, "facility")?
            }
            "stockHistoryViewConnection" => {
                let kinds = args::list_filter(a, "transactionType")?;
                let dates = date_filter(a, "recordDate", v.ctx)?;
                let rows = ds.shipments.rows();
                let keep = move |si: usize, out: &mut Vec<(u32, u32)>| {
                    let s = &rows[si];
                    let (id, label) = transaction_type(&s.shipment_type_id);
                    if kinds
                        .as_ref()
                        .is_some_and(|k| !k.iter().any(|x| x == id || x == label))
                    {
                        return;
                    }
                    if dates.is_some_and(|r| !r.contains(record_date(s))) {
                        return;
                    }
                    for li in 0..s.shipment_item_list.len() {
                        out.push((si as u32, li as u32));
                    }
                };
                let make = move |&(si, li): &(u32, u32)| -> Box<dyn Node<'a> + 'a> {
                    let s = &rows[si as usize];
                    Box::new(StockHistoryNode {
                        v,
                        s,
                        item: &s.shipment_item_list[li as usize],
                    })
                };
                let base = ds.shipments.natural_order();
                connection(
                    Box::new(LazySource::new(base, keep, make)),
                    a,
                    "stockHistory",
                )?
            }
            _ => {
                return Err(GqlError::new(format!(
                    "Internal error: no root field {field}"
                )));
            }
        };
        Ok(Some(conn))
    }
}

fn date_filter(a: &Args, name: &str, ctx: &GqlContext) -> Result<Option<DateRange>, GqlError> {
    args::date_range(a, name, ctx.date_keys, ctx.timezone)
}

fn label(id: &str) -> &str {
    match id {
        "ORDER_CREATED" => "Draft",
        "ORDER_LOCKED" => "Committed",
        "ORDER_COMPLETED" => "Completed",
        "ORDER_CANCELLED" => "Canceled",
        "ORDER_APPROVED" => "Approved",
        "SALES_ORDER" => "Sale",
        "PURCHASE_ORDER" => "Purchase",
        "TRANSFER_ORDER" => "Transfer",
        "RETURN_ORDER" => "Return",
        "PRODUCT_ACTIVE" | "PARTY_ENABLED" | "FACILITY_ACTIVE" => "Active",
        "PRODUCT_INACTIVE" | "PARTY_DISABLED" | "FACILITY_INACTIVE" => "Inactive",
        "SHIPMENT_INPUT" => "Editable",
        "SHIPMENT_PACKED" => "Packed",
        "SHIPMENT_SHIPPED" => "Shipped",
        "SHIPMENT_DELIVERED" => "Received",
        "SHIPMENT_CANCELLED" => "Canceled",
        "SUPPLIER" => "Supplier",
        "CUSTOMER" => "Customer",
        "CARRIER" => "Carrier",
        other => other,
    }
}

fn enumerated(id: &str) -> Scalar {
    Scalar::enumerated(id, label(id))
}

fn facility_kind(kind: FacilityKind) -> (&'static str, &'static str) {
    match kind {
        FacilityKind::Location => ("LOCATION", "Location"),
        FacilityKind::Sublocation => ("SUBLOCATION", "Sublocation"),
        FacilityKind::Transit => ("TRANSIT", "Transit"),
    }
}

fn transaction_type(shipment_type_id: &str) -> (&str, &str) {
    match shipment_type_id {
        "SALES_SHIPMENT" => ("SALES_SHIPMENT", "Sale"),
        "PURCHASE_SHIPMENT" => ("PURCHASE_SHIPMENT", "Receipt"),
        other => (other, other),
    }
}

fn is_sale(s: &Shipment) -> bool {
    s.shipment_type_id == "SALES_SHIPMENT"
}

/// When a shipment moved stock: ship date for sales, receive date for receipts.
fn record_date(s: &Shipment) -> DateTime<Utc> {
    let t = if is_sale(s) {
        s.ship_date
    } else {
        s.receive_date
    };
    t.or(s.ship_date)
        .or(s.receive_date)
        .unwrap_or(s.created_date)
}

fn money_or_null(x: Option<f64>) -> Scalar {
    x.map_or(Scalar::Null, Scalar::Money)
}

struct OrderNode<'a> {
    v: View<'a>,
    o: &'a Order,
}

impl<'a> OrderNode<'a> {
    fn shipments(&self) -> impl Iterator<Item = &'a Shipment> + '_ {
        self.o
            .shipment_url_list
            .iter()
            .filter_map(|u| self.v.ds.shipments.by_url(u))
    }

    fn role(&self, role: &str) -> Option<&'a PartyGroup> {
        let r = self
            .o
            .order_role_list
            .iter()
            .find(|r| r.role_type_id == role)?;
        self.v.party_by_id(&r.party_id)
    }
}

impl<'a> Node<'a> for OrderNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let o = self.o;
        Ok(match field {
            "orderId" => Scalar::text(o.order_id.as_str()),
            "orderUrl" => Scalar::text(o.order_url.as_str()),
            "type" => enumerated(&o.order_type_id),
            "status" => enumerated(&o.status_id),
            "orderDate" => Scalar::Date(self.v.local_day(o.order_date)),
            "receiveDate" => self
                .shipments()
                .filter_map(|s| s.receive_date)
                .max()
                .map_or(Scalar::Null, |t| Scalar::Date(self.v.local_day(t))),
            "shipDate" => self
                .shipments()
                .filter_map(|s| s.ship_date)
                .max()
                .map_or(Scalar::Null, |t| Scalar::Date(self.v.local_day(t))),
            "subtotal" | "total" => Scalar::Money(o.item_total()),
            "totalUnits" => Scalar::Qty(o.order_item_list.iter().map(|l| l.quantity).sum()),
            "numberItems" => Scalar::Int(o.order_item_list.len() as i64),
            "customerPo" => Scalar::opt_text(o.reference_number.as_deref()),
            "recordLastUpdated" => Scalar::DateTime(o.last_updated_date),
            _ => return Err(GqlError::new(format!("Internal error: order.{field}"))),
        })
    }

    fn object(&self, field: &str, a: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        let v = self.v;
        Ok(match field {
            "supplier" => v.party(self.role("SUPPLIER")),
            "customer" => v.party(self.role("CUSTOMER")),
            "origin" => v.facility(self.o.origin_facility_url.as_deref()),
            "destination" => v.facility(self.o.destination_facility_url.as_deref()),
            "itemList" => {
                let items: Vec<&'a OrderItem> = self.o.order_item_list.iter().collect();
                let make = move |item: &&'a OrderItem| -> Box<dyn Node<'a> + 'a> {
                    Box::new(OrderItemNode { v, item })
                };
                Some(connection(
                    Box::new(VecSource::new(items, make)),
                    a,
                    "orderItem",
                )?)
            }
            _ => return Err(GqlError::new(format!("Internal error: order.{field}"))),
        })
    }

    fn list(&self, field: &str) -> Result<Vec<Child<'a, '_>>, GqlError> {
        match field {
            "shipmentList" => Ok(self
                .shipments()
                .map(|s| Box::new(ShipmentNode { v: self.v, s }) as Child<'a, '_>)
                .collect()),
            _ => Err(GqlError::new(format!("Internal error: order.{field}"))),
        }
    }
}

struct OrderItemNode<'a> {
    v: View<'a>,
    item: &'a OrderItem,
}

impl<'a> Node<'a> for OrderItemNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let l = self.item;
        Ok(match field {
            "itemIndex" => Scalar::Int(i64::from(l.seq)),
            "quantity" | "productUnitsOrdered" => Scalar::Qty(l.quantity),
            "unitPrice" => Scalar::Money(l.unit_price),
            "subtotal" => Scalar::Money(l.quantity * l.unit_price),
            _ => return Err(GqlError::new(format!("Internal error: orderItem.{field}"))),
        })
    }

    fn object(&self, field: &str, _: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        match field {
            "product" => Ok(self.v.product(&self.item.product_url)),
            _ => Err(GqlError::new(format!("Internal error: orderItem.{field}"))),
        }
    }
}

struct ShipmentNode<'a> {
    v: View<'a>,
    s: &'a Shipment,
}

impl<'a> Node<'a> for ShipmentNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let s = self.s;
        let day = |t: Option<DateTime<Utc>>| {
            t.map_or(Scalar::Null, |t| Scalar::Date(self.v.local_day(t)))
        };
        Ok(match field {
            // GraphQL's shipmentId is the human label (finale-api.md §6.3).
            "shipmentId" => Scalar::text(s.shipment_id_user.as_str()),
            "shipmentUrl" => Scalar::text(s.shipment_url.as_str()),
            "status" => enumerated(&s.status_id),
            "shipDate" => day(s.ship_date),
            "receiveDate" => day(s.receive_date),
            _ => return Err(GqlError::new(format!("Internal error: shipment.{field}"))),
        })
    }
}

struct ProductNode<'a> {
    v: View<'a>,
    p: &'a Product,
}

impl<'a> Node<'a> for ProductNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let p = self.p;
        let url: &str = &p.product_url;
        let guidelines = &p.reorder_guideline_list;
        Ok(match field {
            "productId" => Scalar::text(&*p.product_id),
            "productUrl" => Scalar::text(url),
            "description" => Scalar::text(p.internal_name.as_str()),
            "status" => enumerated(&p.status_id),
            "category" => Scalar::opt_text(p.user_category.as_deref()),
            "reorderPoint" if guidelines.is_empty() => Scalar::Null,
            "reorderPoint" => Scalar::Qty(guidelines.iter().map(|g| g.reorder_point).sum()),
            "reorderQuantity" if guidelines.is_empty() => Scalar::Null,
            "reorderQuantity" => Scalar::Qty(guidelines.iter().map(|g| g.reorder_quantity).sum()),
            "stockOnHand" | "unitsInStock" => Scalar::Qty(self.v.stock(url).on_hand),
            "stockAvailable" => {
                let s = self.v.stock(url);
                Scalar::Qty(s.on_hand - s.reserved)
            }
            "stockOnOrder" => Scalar::Qty(self.v.stock(url).on_order),
            "stockReserved" => Scalar::Qty(self.v.stock(url).reserved),
            "salesLast30Days" => Scalar::Qty(self.v.sales(url).last30),
            "salesLast90Days" => Scalar::Qty(self.v.sales(url).last90),
            "stockoutDays" => {
                let per_day = self.v.sales(url).last90 / 90.0;
                let s = self.v.stock(url);
                let available = (s.on_hand - s.reserved).max(0.0);
                if per_day > 0.0 {
                    Scalar::Days(Some((available / per_day).floor() as i64))
                } else {
                    Scalar::Days(None)
                }
            }
            "averageCost" => money_or_null(p.cost),
            "itemPrice" => money_or_null(p.list_price()),
            "leadTime" => Scalar::Days(p.lead_time.map(|d| d.round() as i64)),
            "recordLastUpdated" => Scalar::DateTime(p.last_updated_date),
            _ => return Err(GqlError::new(format!("Internal error: product.{field}"))),
        })
    }

    fn object(&self, field: &str, a: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        match field {
            "stockItem" => {
                let v = self.v;
                let rows: Vec<&'a InventoryItem> = v
                    .stock_rows(&self.p.product_url)
                    .iter()
                    .map(|&i| &v.ds.inventory_items[i])
                    .collect();
                let make = move |row: &&'a InventoryItem| -> Box<dyn Node<'a> + 'a> {
                    Box::new(StockItemNode { v, row })
                };
                Ok(Some(connection(
                    Box::new(VecSource::new(rows, make)),
                    a,
                    "stockItem",
                )?))
            }
            "supplier1" => {
                let party = self
                    .p
                    .main_supplier()
                    .and_then(|s| self.v.ds.party_groups.by_url(&s.supplier_party_url));
                Ok(self.v.party(party))
            }
            _ => Err(GqlError::new(format!("Internal error: product.{field}"))),
        }
    }
}

struct StockItemNode<'a> {
    v: View<'a>,
    row: &'a InventoryItem,
}

impl<'a> Node<'a> for StockItemNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let r = self.row;
        let (kind, quantity) = if r.quantity_on_order != 0.0 {
            (("ON_ORDER", "On order"), r.quantity_on_order)
        } else if r.quantity_reserved != 0.0 {
            (("RESERVED", "Reserved"), r.quantity_reserved)
        } else {
            (("ON_HAND", "On hand"), r.quantity_on_hand)
        };
        // The row's own quantity, counted like the REST row it mirrors: cases as the model
        // holds them, or units under the `packed_quantities = Units` quirk.
        let quantity = match self.v.ctx.packed_quantities {
            crate::config::PackedQuantities::Cases => quantity,
            crate::config::PackedQuantities::Units => quantity * r.units_per_case(),
        };
        Ok(match field {
            "type" => Scalar::enumerated(kind.0, kind.1),
            "quantity" => Scalar::Qty(quantity),
            "lotId" => Scalar::Lot(r.lot_id.clone()),
            "packing" => Scalar::opt_text(r.normalized_packing_string.as_deref()),
            _ => return Err(GqlError::new(format!("Internal error: stockItem.{field}"))),
        })
    }

    fn object(&self, field: &str, _: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        let v = self.v;
        match field {
            "sublocation" => Ok(v.facility(Some(&self.row.facility_url))),
            "location" => {
                let parent =
                    v.ds.facilities
                        .by_url(&self.row.facility_url)
                        .and_then(|f| f.parent_facility_url.as_deref());
                Ok(v.facility(parent))
            }
            _ => Err(GqlError::new(format!("Internal error: stockItem.{field}"))),
        }
    }
}

struct PartyNode<'a> {
    v: View<'a>,
    p: &'a PartyGroup,
}

impl<'a> Node<'a> for PartyNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let p = self.p;
        let _ = self.v;
        Ok(match field {
            "partyId" => Scalar::text(p.party_id.as_str()),
            "partyUrl" => Scalar::text(p.party_url.as_str()),
            "name" => Scalar::text(p.group_name.as_str()),
            "role" if p.role_type_id_list.is_empty() => Scalar::Null,
            "role" => Scalar::enumerated(
                p.role_type_id_list.join(", "),
                p.role_type_id_list
                    .iter()
                    .map(|r| label(r))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            "status" => enumerated(&p.status_id),
            "primaryEmailAddress" => Scalar::opt_text(
                p.contact_mech_list
                    .iter()
                    .find(|c| c.contact_mech_type_id == "EMAIL_ADDRESS")
                    .and_then(|c| c.info_string.as_deref()),
            ),
            "recordLastUpdated" => Scalar::DateTime(p.last_updated_date),
            _ => return Err(GqlError::new(format!("Internal error: party.{field}"))),
        })
    }
}

struct FacilityNode<'a> {
    v: View<'a>,
    f: &'a Facility,
}

impl<'a> Node<'a> for FacilityNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let f = self.f;
        Ok(match field {
            "facilityUrl" => Scalar::text(f.facility_url.as_str()),
            "facilityId" => Scalar::text(f.facility_id.as_str()),
            "name" => Scalar::text(f.facility_name.as_str()),
            "parentName" => Scalar::opt_text(
                f.parent_facility_url
                    .as_deref()
                    .and_then(|u| self.v.ds.facilities.by_url(u))
                    .map(|parent| parent.facility_name.as_str()),
            ),
            "type" => {
                let (id, label) = facility_kind(f.kind);
                Scalar::enumerated(id, label)
            }
            "status" => enumerated(&f.status_id),
            _ => return Err(GqlError::new(format!("Internal error: facility.{field}"))),
        })
    }
}

struct StockHistoryNode<'a> {
    v: View<'a>,
    s: &'a Shipment,
    item: &'a ShipmentItem,
}

impl<'a> Node<'a> for StockHistoryNode<'a> {
    fn scalar(&self, field: &str) -> Result<Scalar, GqlError> {
        let q = self.item.quantity;
        let sale = is_sale(self.s);
        Ok(match field {
            "transactionType" => {
                let (id, label) = transaction_type(&self.s.shipment_type_id);
                Scalar::enumerated(id, label)
            }
            "quantity" => Scalar::Qty(if sale { -q } else { q }),
            "unitsIn" => Scalar::Qty(if sale { 0.0 } else { q }),
            "unitsOut" => Scalar::Qty(if sale { q } else { 0.0 }),
            "recordDate" => Scalar::DateTime(record_date(self.s)),
            "lotId" => Scalar::Lot(self.item.lot_id.clone()),
            _ => {
                return Err(GqlError::new(format!(
                    "Internal error: stockHistory.{field}"
                )));
            }
        })
    }

    fn object(&self, field: &str, _: &Args) -> Result<Option<Child<'a, '_>>, GqlError> {
        match field {
            "product" => Ok(self.v.product(&self.item.product_url)),
            "facility" => Ok(self.v.facility(Some(&self.item.facility_url))),
            _ => Err(GqlError::new(format!(
                "Internal error: stockHistory.{field}"
            ))),
        }
    }
}
