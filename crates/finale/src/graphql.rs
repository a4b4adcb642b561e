//! GraphQL order-line queries: pure query building and response parsing (no I/O; the HTTP
//! layer executes the POST to `/{acct}/api/graphql`).
//!
//! # Why GraphQL for order lines
//!
//! REST order collections may come back without `orderItemList` (finale-api.md §6.1, §15.5),
//! leaving one `GET {orderUrl}` per order to learn its lines: each such GET costs a unit of the
//! 120/min GET budget. One GraphQL page of `orderViewConnection` returns the lines of up to
//! `first` orders for one unit of the POST budget. [`choose_line_source`] picks whichever
//! finishes sooner given the budgets' state.
//!
//! # The query (Relay, finale-api.md §9)
//!
//! ```text
//! query($first:Int,$after:String){ orderViewConnection(first:$first, after:$after,
//!   type:["SALES_ORDER"], orderDate:{begin:"2025-03-01", end:"2025-03-31"}) {
//!   pageInfo { hasNextPage endCursor }
//!   edges { node { orderUrl itemList(first:N) { pageInfo { hasNextPage endCursor }
//!     edges { node { itemIndex product { productId productUrl }
//!       quantity(formatter:"none") unitPrice(formatter:"none") } } } } } } }
//! ```
//!
//! The date-range input keys are uncertain (`begin/end` in working code, `start/end` in the
//! docs: §15.7), hence [`GraphqlDateKeys`]. Order types and dates are inlined as escaped string
//! literals (their input types are not known well enough to declare variables); paging goes
//! through variables. An empty `order_types` omits the `type` filter (all types).
//!
//! # Parsing rules
//!
//! * A non-empty `errors` array means the whole query failed ([`GraphqlError::Errors`]), even
//!   if some `data` came back: Finale fails whole queries on one bad field.
//! * The connection's `pageInfo.hasNextPage` and `edges` and each order's `orderUrl` are
//!   required ([`GraphqlError::Malformed`] otherwise); a `hasNextPage: true` without an
//!   `endCursor` is malformed too, since following it would refetch page one forever.
//! * Line values go through [`crate::display`]: `quantity`/`unitPrice` may be JSON numbers or
//!   display strings, `"--"` is `None`, anything unparseable is a [`GraphqlError::Display`].
//! * A missing/`null` `itemList`, or one whose `pageInfo` is missing or says `hasNextPage`,
//!   marks the order [`GqlOrderLines::lines_truncated`]: its lines must be completed some other
//!   way (a `GET {orderUrl}`), never assumed complete.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use crate::display::{self, DisplayError};
use crate::scheduler::BudgetConfig;

/// Which keys the `orderDate` range input uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraphqlDateKeys {
    /// `{begin: ..., end: ...}` (working client code).
    #[default]
    BeginEnd,
    /// `{start: ..., end: ...}` (the filtering doc page).
    StartEnd,
}

/// One page of "orders with their lines" in an order-date range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLinesQuery {
    /// `orderTypeId`s to include (`SALES_ORDER`, ...); empty = all.
    pub order_types: Vec<String>,
    /// First order date (inclusive).
    pub date_from: NaiveDate,
    /// Last order date (inclusive).
    pub date_to: NaiveDate,
    /// Range input key names.
    pub date_keys: GraphqlDateKeys,
    /// Orders per page.
    pub first: u32,
    /// Cursor of the previous page's end, `None` for the first page.
    pub after: Option<String>,
    /// Lines requested per order; orders with more come back truncated.
    pub items_first: u32,
}

impl OrderLinesQuery {
    /// The POST body: `{"query": "...", "variables": {"first": n, "after": cursor|null}}`.
    pub fn to_request(&self) -> Value {
        json!({
            "query": self.query_text(),
            "variables": { "first": self.first, "after": self.after },
        })
    }

    /// The same query for the page after `cursor`.
    pub fn next_page(&self, cursor: impl Into<String>) -> Self {
        Self {
            after: Some(cursor.into()),
            ..self.clone()
        }
    }

    fn query_text(&self) -> String {
        let mut filters = String::new();
        if !self.order_types.is_empty() {
            let types: Vec<String> = self.order_types.iter().map(|t| literal(t)).collect();
            filters.push_str(&format!(", type:[{}]", types.join(",")));
        }
        let begin = match self.date_keys {
            GraphqlDateKeys::BeginEnd => "begin",
            GraphqlDateKeys::StartEnd => "start",
        };
        filters.push_str(&format!(
            ", orderDate:{{{begin}:{}, end:{}}}",
            literal(&self.date_from.format("%Y-%m-%d").to_string()),
            literal(&self.date_to.format("%Y-%m-%d").to_string()),
        ));
        format!(
            "query($first:Int,$after:String){{ orderViewConnection(first:$first, after:$after{filters}) \
             {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ orderUrl itemList(first:{items}) \
             {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ itemIndex product {{ productId productUrl }} \
             quantity(formatter:\"none\") unitPrice(formatter:\"none\") }} }} }} }} }} }} }}",
            items = self.items_first,
        )
    }
}

/// A GraphQL string literal. JSON string escaping is a subset of GraphQL's, so quotes,
/// backslashes and control characters in hostile input cannot break out of the literal.
fn literal(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// One parsed page.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderLinesPage {
    /// Orders on this page, in response order.
    pub orders: Vec<GqlOrderLines>,
    /// Whether another page follows.
    pub has_next_page: bool,
    /// Cursor to pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// One order and the lines GraphQL returned for it.
#[derive(Clone, Debug, PartialEq)]
pub struct GqlOrderLines {
    /// The order's URL (its stable key).
    pub order_url: String,
    /// Lines, in response order.
    pub lines: Vec<GqlLine>,
    /// The order has lines beyond `items_first` (or the line list was missing): fetch the
    /// order itself to complete them.
    pub lines_truncated: bool,
}

/// One order line; every field is optional because GraphQL may omit or blank any of them.
#[derive(Clone, Debug, PartialEq)]
pub struct GqlLine {
    /// Position of the line within the order.
    pub item_index: Option<u32>,
    /// The product's SKU.
    pub product_id: Option<String>,
    /// The product's URL (its stable key).
    pub product_url: Option<String>,
    /// Quantity ordered.
    pub quantity: Option<f64>,
    /// Unit price.
    pub unit_price: Option<f64>,
}

/// Why a GraphQL response could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GraphqlError {
    /// The `errors` array: the whole query failed (one message per error).
    #[error("GraphQL query failed: {}", .0.join("; "))]
    Errors(Vec<String>),
    /// The body is not the expected shape.
    #[error("malformed GraphQL response: {0}")]
    Malformed(String),
    /// A display value could not be parsed.
    #[error("unparseable GraphQL value in {field}: {raw:?}")]
    Display {
        /// Which field (`quantity`, `unitPrice`, `itemIndex`).
        field: String,
        /// Its raw text.
        raw: String,
        /// The parser's error.
        #[source]
        source: DisplayError,
    },
}

impl GraphqlError {
    fn malformed(msg: impl Into<String>) -> Self {
        GraphqlError::Malformed(msg.into())
    }
}

/// Parse an `orderViewConnection` page produced by [`OrderLinesQuery`].
pub fn parse_order_lines_page(body: &[u8]) -> Result<OrderLinesPage, GraphqlError> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| GraphqlError::malformed(format!("not JSON: {e}")))?;
    let root = root
        .as_object()
        .ok_or_else(|| GraphqlError::malformed("top level is not an object"))?;
    if let Some(errors) = root.get("errors") {
        let messages = error_messages(errors)?;
        if !messages.is_empty() {
            return Err(GraphqlError::Errors(messages));
        }
    }
    let conn = root
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| GraphqlError::malformed("missing data"))?
        .get("orderViewConnection")
        .and_then(Value::as_object)
        .ok_or_else(|| GraphqlError::malformed("missing data.orderViewConnection"))?;
    let page_info = conn
        .get("pageInfo")
        .and_then(Value::as_object)
        .ok_or_else(|| GraphqlError::malformed("missing orderViewConnection.pageInfo"))?;
    let has_next_page = page_info
        .get("hasNextPage")
        .and_then(Value::as_bool)
        .ok_or_else(|| GraphqlError::malformed("missing pageInfo.hasNextPage"))?;
    let end_cursor = opt_string(page_info, "endCursor", "pageInfo.endCursor")?;
    if has_next_page && end_cursor.is_none() {
        return Err(GraphqlError::malformed(
            "pageInfo.hasNextPage is true but endCursor is missing",
        ));
    }
    let edges = conn
        .get("edges")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphqlError::malformed("missing orderViewConnection.edges"))?;
    let orders = edges
        .iter()
        .enumerate()
        .map(|(i, edge)| parse_order(i, edge))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OrderLinesPage {
        orders,
        has_next_page,
        end_cursor,
    })
}

fn error_messages(errors: &Value) -> Result<Vec<String>, GraphqlError> {
    match errors {
        Value::Null => Ok(Vec::new()),
        Value::Array(list) => Ok(list
            .iter()
            .map(|e| match e.get("message").and_then(Value::as_str) {
                Some(m) => m.to_owned(),
                None => e.to_string(),
            })
            .collect()),
        other => Ok(vec![other.to_string()]),
    }
}

fn node<'a>(edge: &'a Value, what: &str) -> Result<&'a Map<String, Value>, GraphqlError> {
    edge.get("node")
        .and_then(Value::as_object)
        .ok_or_else(|| GraphqlError::malformed(format!("{what}: edge without node")))
}

/// A string field that may be missing or null; any other type is malformed.
fn opt_string(
    obj: &Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<String>, GraphqlError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(GraphqlError::malformed(format!(
            "{what} is not a string: {other}"
        ))),
    }
}

fn parse_order(i: usize, edge: &Value) -> Result<GqlOrderLines, GraphqlError> {
    let what = format!("order edge {i}");
    let n = node(edge, &what)?;
    let order_url = opt_string(n, "orderUrl", &format!("{what}.orderUrl"))?
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| GraphqlError::malformed(format!("{what}: missing orderUrl")))?;
    let Some(item_list) = n.get("itemList").and_then(Value::as_object) else {
        // No line list at all: unknown lines, so do not claim the order is complete.
        return Ok(GqlOrderLines {
            order_url,
            lines: Vec::new(),
            lines_truncated: true,
        });
    };
    let lines_truncated = item_list
        .get("pageInfo")
        .and_then(|p| p.get("hasNextPage"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let lines = match item_list.get("edges") {
        None | Some(Value::Null) => {
            return Ok(GqlOrderLines {
                order_url,
                lines: Vec::new(),
                lines_truncated: true,
            });
        }
        Some(Value::Array(edges)) => edges
            .iter()
            .enumerate()
            .map(|(j, e)| parse_line(&format!("{order_url} line edge {j}"), e))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(GraphqlError::malformed(format!(
                "{what}: itemList.edges is not a list: {other}"
            )));
        }
    };
    Ok(GqlOrderLines {
        order_url,
        lines,
        lines_truncated,
    })
}

fn display_err(field: &str, e: DisplayError) -> GraphqlError {
    GraphqlError::Display {
        field: field.to_owned(),
        raw: e.raw().to_owned(),
        source: e,
    }
}

fn parse_line(what: &str, edge: &Value) -> Result<GqlLine, GraphqlError> {
    let n = node(edge, what)?;
    let null = Value::Null;
    let item_index = match display::number_value(n.get("itemIndex").unwrap_or(&null)) {
        Ok(None) => None,
        Ok(Some(v)) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => {
            Some(v as u32)
        }
        Ok(Some(v)) => {
            return Err(display_err(
                "itemIndex",
                DisplayError::Integer { raw: v.to_string() },
            ));
        }
        Err(e) => return Err(display_err("itemIndex", e)),
    };
    let (product_id, product_url) = match n.get("product") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(p)) => (
            opt_string(p, "productId", &format!("{what}.product.productId"))?,
            opt_string(p, "productUrl", &format!("{what}.product.productUrl"))?,
        ),
        Some(other) => {
            return Err(GraphqlError::malformed(format!(
                "{what}: product is not an object: {other}"
            )));
        }
    };
    let quantity = display::number_value(n.get("quantity").unwrap_or(&null))
        .map_err(|e| display_err("quantity", e))?;
    let unit_price = display::number_value(n.get("unitPrice").unwrap_or(&null))
        .map_err(|e| display_err("unitPrice", e))?;
    Ok(GqlLine {
        item_index,
        product_id,
        product_url,
        quantity,
        unit_price,
    })
}

/// How to fetch lines for orders whose REST rows came without them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineSource {
    /// Pages of [`OrderLinesQuery`] (POST budget).
    Graphql,
    /// One `GET {orderUrl}` per order (GET budget).
    PerOrderGets,
}

/// Virtual seconds before `cost` units can all be granted from a bucket that can grant
/// `available` now and refills at `limit` per `window`.
fn wait_secs(cost: u64, available: u32, limit: u32, window: chrono::Duration) -> f64 {
    let deficit = cost.saturating_sub(u64::from(available));
    if deficit == 0 {
        return 0.0;
    }
    if limit == 0 {
        return f64::INFINITY;
    }
    let window_secs = (window.num_milliseconds().max(1) as f64) / 1e3;
    deficit as f64 * window_secs / f64::from(limit)
}

/// Batches this small prefer exact per-order GETs (see [`choose_line_source`]).
pub const SMALL_LINE_BATCH: usize = 3;

/// Choose how to fetch lines for `missing` orders: per-order GETs cost `missing` GET units;
/// the GraphQL plan ([`crate::line_plan`]) costs `planned_pages` POST units (+ as many
/// collection units if GraphQL counts as a collection read) and `planned_gets` GET units for
/// the orders it reads one by one. Prefers the one that finishes sooner given what each
/// bucket can grant now (`available`) and its refill rate; on a tie, the one with fewer
/// requests; on a further tie, per-order GETs (exact and authoritative). A plan without pages
/// is per-order GETs.
///
/// At or below [`SMALL_LINE_BATCH`] orders, per-order GETs win whenever the GET budget can
/// finish them at all: a GraphQL page covers an order-date *range* and so also returns
/// orders nobody asked for, while a handful of GETs is exact.
///
/// When GraphQL counts as a collection read, its collection units are costed against
/// `collection_available` and the hourly refill (the scarcest budget, shared with every
/// collection poll). With budgets disabled only the request counts matter.
pub fn choose_line_source(
    missing: usize,
    planned_pages: u64,
    planned_gets: u64,
    budgets: &BudgetConfig,
    get_available: u32,
    post_available: u32,
    collection_available: u32,
) -> LineSource {
    if missing == 0 || planned_pages == 0 {
        return LineSource::PerOrderGets;
    }
    let get_cost = missing as u64;
    let (get_wait, gql_wait) = if budgets.enabled {
        let get_wait = wait_secs(
            get_cost,
            get_available,
            budgets.get_per_minute,
            budgets.minute,
        );
        let mut gql_wait = wait_secs(
            planned_pages,
            post_available,
            budgets.post_per_minute,
            budgets.minute,
        );
        if budgets.graphql_counts_as_collection {
            gql_wait = gql_wait.max(wait_secs(
                planned_pages,
                collection_available,
                budgets.collection_per_hour,
                budgets.hour,
            ));
        }
        if planned_gets > 0 {
            gql_wait = gql_wait.max(wait_secs(
                planned_gets,
                get_available,
                budgets.get_per_minute,
                budgets.minute,
            ));
        }
        (get_wait, gql_wait)
    } else {
        (0.0, 0.0)
    };
    if missing <= SMALL_LINE_BATCH && get_wait.is_finite() {
        return LineSource::PerOrderGets;
    }
    let by_time = gql_wait.total_cmp(&get_wait);
    match by_time.then((planned_pages + planned_gets).cmp(&get_cost)) {
        std::cmp::Ordering::Less => LineSource::Graphql,
        _ => LineSource::PerOrderGets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> OrderLinesQuery {
        OrderLinesQuery {
            order_types: vec!["SALES_ORDER".into(), "PURCHASE_ORDER".into()],
            date_from: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            date_to: NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
            date_keys: GraphqlDateKeys::BeginEnd,
            first: 200,
            after: None,
            items_first: 50,
        }
    }

    #[test]
    fn request_has_query_and_variables() {
        let req = query().to_request();
        let q = req["query"].as_str().unwrap();
        assert!(q.starts_with("query($first:Int,$after:String){ orderViewConnection(first:$first, after:$after, type:[\"SALES_ORDER\",\"PURCHASE_ORDER\"], orderDate:{begin:\"2025-03-01\", end:\"2025-03-31\"})"), "{q}");
        assert!(q.contains("itemList(first:50)"));
        assert!(q.contains("product { productId productUrl }"));
        assert!(q.contains("quantity(formatter:\"none\") unitPrice(formatter:\"none\")"));
        assert!(q.contains("pageInfo { hasNextPage endCursor }"));
        assert_eq!(q.matches('{').count(), q.matches('}').count());
        assert_eq!(req["variables"]["first"], 200);
        assert!(req["variables"]["after"].is_null());
        let next = query().next_page("eyJpZHgiOjIwMH0=").to_request();
        assert_eq!(next["variables"]["after"], "eyJpZHgiOjIwMH0=");
    }

    #[test]
    fn start_end_keys_and_empty_types() {
        let mut q = query();
        q.date_keys = GraphqlDateKeys::StartEnd;
        q.order_types.clear();
        let text = q.to_request()["query"].as_str().unwrap().to_owned();
        assert!(text.contains("orderDate:{start:\"2025-03-01\", end:\"2025-03-31\"}"));
        assert!(!text.contains("type:"));
    }

    #[test]
    fn hostile_order_types_cannot_break_out_of_the_literal() {
        let mut q = query();
        q.order_types = vec!["X\"]) { __schema { types { name } } } #\n\\".into()];
        let text = q.to_request()["query"].as_str().unwrap().to_owned();
        assert!(
            text.contains(r#"type:["X\"]) { __schema { types { name } } } #\n\\"]"#),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    const PAGE: &str = r#"{"data":{"orderViewConnection":{
        "pageInfo":{"hasNextPage":true,"endCursor":"eyJpZHgiOjJ9"},
        "edges":[
          {"node":{"orderUrl":"/acme/api/order/SO-1042","itemList":{
            "pageInfo":{"hasNextPage":false,"endCursor":"x"},
            "edges":[
              {"node":{"itemIndex":1,"product":{"productId":"WIDGET-1","productUrl":"/acme/api/product/WIDGET-1"},"quantity":6,"unitPrice":4.25}},
              {"node":{"itemIndex":"2","product":{"productId":"GADGET 2","productUrl":"/acme/api/product/100245"},"quantity":"1,234","unitPrice":"$1,234.50"}},
              {"node":{"itemIndex":3,"product":null,"quantity":"--","unitPrice":null}},
              {"node":{}}
            ]}}},
          {"node":{"orderUrl":"/acme/api/order/PO-77","itemList":{
            "pageInfo":{"hasNextPage":true,"endCursor":"y"},
            "edges":[{"node":{"itemIndex":1,"product":{"productId":"A"},"quantity":"(2)","unitPrice":"0"}}]}}},
          {"node":{"orderUrl":"/acme/api/order/SO-9"}}
        ]}}}"#;

    #[test]
    fn parses_display_strings_numbers_and_blanks() {
        let page = parse_order_lines_page(PAGE.as_bytes()).unwrap();
        assert!(page.has_next_page);
        assert_eq!(page.end_cursor.as_deref(), Some("eyJpZHgiOjJ9"));
        assert_eq!(page.orders.len(), 3);
        let so = &page.orders[0];
        assert_eq!(so.order_url, "/acme/api/order/SO-1042");
        assert!(!so.lines_truncated);
        assert_eq!(
            so.lines[0],
            GqlLine {
                item_index: Some(1),
                product_id: Some("WIDGET-1".into()),
                product_url: Some("/acme/api/product/WIDGET-1".into()),
                quantity: Some(6.0),
                unit_price: Some(4.25),
            }
        );
        assert_eq!(so.lines[1].item_index, Some(2));
        assert_eq!(so.lines[1].quantity, Some(1234.0));
        assert_eq!(so.lines[1].unit_price, Some(1234.5));
        assert_eq!(
            so.lines[1].product_url.as_deref(),
            Some("/acme/api/product/100245")
        );
        assert_eq!(
            so.lines[2],
            GqlLine {
                item_index: Some(3),
                product_id: None,
                product_url: None,
                quantity: None,
                unit_price: None,
            }
        );
        assert_eq!(so.lines[3].item_index, None);
        // Truncated itemList.
        let po = &page.orders[1];
        assert!(po.lines_truncated);
        assert_eq!(po.lines[0].quantity, Some(-2.0));
        assert_eq!(po.lines[0].product_url, None);
        // No itemList at all: lines unknown, flagged.
        assert!(page.orders[2].lines.is_empty());
        assert!(page.orders[2].lines_truncated);
    }

    #[test]
    fn errors_array_fails_the_whole_query() {
        let body = br#"{"errors":[{"message":"Cannot query field \"orderIncrementQuantity\""},{"locations":[]}],"data":{"orderViewConnection":null}}"#;
        match parse_order_lines_page(body) {
            Err(GraphqlError::Errors(m)) => {
                assert_eq!(m.len(), 2);
                assert!(m[0].contains("orderIncrementQuantity"));
                assert!(m[1].contains("locations"));
            }
            other => panic!("{other:?}"),
        }
        // An empty errors array is not a failure.
        let ok = br#"{"errors":[],"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[]}}}"#;
        let page = parse_order_lines_page(ok).unwrap();
        assert!(page.orders.is_empty() && !page.has_next_page && page.end_cursor.is_none());
    }

    #[test]
    fn garbage_display_value_is_reported_with_field_and_raw() {
        let body = br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[
            {"node":{"orderUrl":"/a/api/order/1","itemList":{"pageInfo":{"hasNextPage":false},"edges":[
              {"node":{"quantity":"1,2,3"}}]}}}]}}}"#;
        match parse_order_lines_page(body) {
            Err(GraphqlError::Display { field, raw, source }) => {
                assert_eq!(field, "quantity");
                assert_eq!(raw, "1,2,3");
                assert!(matches!(source, DisplayError::Number { .. }));
            }
            other => panic!("{other:?}"),
        }
        let body = br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[
            {"node":{"orderUrl":"/a/api/order/1","itemList":{"pageInfo":{"hasNextPage":false},"edges":[
              {"node":{"itemIndex":1.5}}]}}}]}}}"#;
        assert!(matches!(
            parse_order_lines_page(body),
            Err(GraphqlError::Display { field, .. }) if field == "itemIndex"
        ));
        let body = br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[
            {"node":{"orderUrl":"/a/api/order/1","itemList":{"pageInfo":{"hasNextPage":false},"edges":[
              {"node":{"unitPrice":true}}]}}}]}}}"#;
        assert!(matches!(
            parse_order_lines_page(body),
            Err(GraphqlError::Display { field, .. }) if field == "unitPrice"
        ));
    }

    #[test]
    fn malformed_bodies() {
        let cases: &[&[u8]] = &[
            b"",
            b"not json",
            b"[]",
            b"{}",
            br#"{"data":null}"#,
            br#"{"data":{"orderViewConnection":{"edges":[]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{},"edges":[]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":"yes"},"edges":[]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":true,"endCursor":null},"edges":[]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false}}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false,"endCursor":5},"edges":[]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{}]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{}}]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{"orderUrl":" "}}]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{"orderUrl":7}}]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{"orderUrl":"/o","itemList":{"edges":{}}}}]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{"orderUrl":"/o","itemList":{"edges":[{"node":{"product":"WIDGET"}}]}}}]}}}"#,
            br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[{"node":{"orderUrl":"/o","itemList":{"edges":[{"node":{"product":{"productId":1}}}]}}}]}}}"#,
        ];
        for body in cases {
            let r = parse_order_lines_page(body);
            assert!(
                matches!(r, Err(GraphqlError::Malformed(_))),
                "{}: {r:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn item_list_without_page_info_is_treated_as_truncated() {
        let body = br#"{"data":{"orderViewConnection":{"pageInfo":{"hasNextPage":false},"edges":[
            {"node":{"orderUrl":"/o","itemList":{"edges":[{"node":{"quantity":1}}]}}},
            {"node":{"orderUrl":"/p","itemList":{"pageInfo":{"hasNextPage":false},"edges":null}}}]}}}"#;
        let page = parse_order_lines_page(body).unwrap();
        assert!(page.orders[0].lines_truncated);
        assert_eq!(page.orders[0].lines.len(), 1);
        assert!(page.orders[1].lines_truncated);
    }

    #[test]
    fn line_source_choice() {
        let cfg = BudgetConfig::default();
        // Plenty of both: GraphQL needs far fewer requests.
        assert_eq!(
            choose_line_source(300, 3, 0, &cfg, 120, 120, 300),
            LineSource::Graphql
        );
        // Nothing missing: nothing to do.
        assert_eq!(
            choose_line_source(0, 0, 0, &cfg, 0, 0, 300),
            LineSource::PerOrderGets
        );
        // One order, one request either way: per-order GET.
        assert_eq!(
            choose_line_source(1, 1, 0, &cfg, 120, 120, 300),
            LineSource::PerOrderGets
        );
        // POST budget paused/exhausted, GET budget free: GETs finish now.
        assert_eq!(
            choose_line_source(20, 1, 0, &cfg, 120, 0, 300),
            LineSource::PerOrderGets
        );
        // GET exhausted, POST free: GraphQL.
        assert_eq!(
            choose_line_source(20, 1, 0, &cfg, 0, 120, 300),
            LineSource::Graphql
        );
        // Both exhausted: 1 POST (0.5 s refill) beats 20 GETs (10 s).
        assert_eq!(
            choose_line_source(20, 1, 0, &cfg, 0, 0, 300),
            LineSource::Graphql
        );
        // As many pages as orders: the exact GETs.
        assert_eq!(
            choose_line_source(5, 5, 0, &cfg, 120, 120, 300),
            LineSource::PerOrderGets
        );
        // GraphQL as a collection read with the collection budget spent: each unit is 12 s away.
        let coll = BudgetConfig {
            graphql_counts_as_collection: true,
            ..Default::default()
        };
        assert_eq!(
            choose_line_source(10, 1, 0, &coll, 120, 120, 0),
            LineSource::PerOrderGets
        );
        assert_eq!(
            choose_line_source(5000, 10, 0, &coll, 0, 120, 0),
            LineSource::Graphql
        );
        // ...but with collection budget to spare, one GraphQL page beats ten GETs.
        assert_eq!(
            choose_line_source(10, 1, 0, &coll, 120, 120, 300),
            LineSource::Graphql
        );
        // Disabled budgets: fewer requests wins.
        let off = BudgetConfig {
            enabled: false,
            ..Default::default()
        };
        assert_eq!(
            choose_line_source(50, 1, 0, &off, 0, 0, 300),
            LineSource::Graphql
        );
        // A plan's own GETs count against the GET budget: with it spent, 2 pages and 60 GETs
        // finish no sooner than 60 GETs and take more requests...
        assert_eq!(
            choose_line_source(60, 2, 60, &cfg, 0, 120, 300),
            LineSource::PerOrderGets
        );
        // ...while 2 pages alone win; and a plan without pages is per-order GETs.
        assert_eq!(
            choose_line_source(60, 2, 0, &cfg, 0, 120, 300),
            LineSource::Graphql
        );
        assert_eq!(
            choose_line_source(60, 0, 60, &cfg, 120, 120, 300),
            LineSource::PerOrderGets
        );
        // A small batch takes exact GETs even where one GraphQL page would be fewer requests...
        assert_eq!(
            choose_line_source(3, 1, 0, &cfg, 120, 120, 300),
            LineSource::PerOrderGets
        );
        // ...but not when the GET budget could never finish it.
        // Zero GET limit cannot finish; GraphQL can.
        let no_get = BudgetConfig {
            get_per_minute: 0,
            ..Default::default()
        };
        assert_eq!(
            choose_line_source(3, 3, 0, &no_get, 0, 0, 300),
            LineSource::Graphql
        );
    }
}
