//! Stock through GraphQL: product pages with their stock rows (finale-api.md §7.2). Pure query
//! building and response parsing; [`crate::FinaleClient::fetch_stock_graphql`] runs the pages.
//!
//! # Why
//!
//! The REST `inventoryitem` collection has no filter and no paging: one read returns the
//! whole account, and Finale silently cuts every collection response at its entity cap
//! (120,000, finale-api.md §8.2). On an account with more stock rows than that, the snapshot
//! is incomplete ([`crate::Decoded::capped`]) and cannot tell a sold-out pair from one that
//! fell off the end. GraphQL's `productViewConnection` is paged (Relay cursors), and each
//! product node carries a nested `stockItem` connection with one row per stock row: type
//! ("On hand", "On order", "Reserved"), quantity, lot, packing and the sublocation. Paging
//! through every product therefore reads every stock row, per sublocation, however large the
//! account, at one POST per page.
//!
//! # The queries
//!
//! ```text
//! query($first:Int,$after:String){ productViewConnection(first:$first, after:$after,
//!   sort:[{field:"productUrl", mode:"asc"}]) { pageInfo { hasNextPage endCursor }
//!   edges { node { productUrl productId stockItem(first:N) { pageInfo { hasNextPage endCursor }
//!     edges { node { type quantity(formatter:"none") lotId(formatter:"none")
//!       packing(formatter:"none") sublocation { facilityUrl } } } } } } } }
//! ```
//!
//! Products are sorted by URL, a key that never changes: Finale's cursors are offsets
//! (`{"idx":n}`), so in the default order (last change first or last) a product edited while
//! the pages are read would move and shift every later product by one, and one would be
//! skipped. Sorted by URL, a product created meanwhile can at worst shift one product onto
//! the next page twice; [`StockPage`] consumers dedupe by product URL. A product with more
//! than `N` stock rows reports `hasNextPage` on its `stockItem` and is completed by
//! [`ProductStockQuery`] (the same selection for one `productId`, paging the nested
//! connection).
//!
//! `type` is requested as its display label (documented), `quantity`, `lotId` and `packing`
//! raw (`formatter:"none"`; a display string such as `"1,234"` or `"--"` is parsed too).
//! The `packing` field name is an inference (the REST column is `normalizedPackingString`).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::client::FinaleClient;
use crate::decode::{Decoded, RecordError};
use crate::display;
use crate::error::Error;
use crate::graphql::GraphqlError;
use crate::model::InventoryItem;
use crate::scheduler::Priority;

/// Products per page (finale-api.md §9: clients use 100–500; one says product pages "must be
/// paged at 500").
pub const STOCK_PAGE_SIZE: u32 = 500;
/// Stock rows requested per product in a page; more are read by [`ProductStockQuery`]. An
/// upper bound costs nothing for products with fewer rows, and lot-tracked products can have
/// thousands (2,559 on the simulator's `large` account; 27 of its 50,000 products have more
/// than 100), so it is as large as a page may be (1,000 in the simulator).
pub const STOCK_ROWS_PER_PRODUCT: u32 = 1000;
/// Stock rows per page when completing one product's rows ([`ProductStockQuery`]).
pub const STOCK_ROWS_PER_FOLLOW_UP: u32 = 1000;

const ROW_SELECTION: &str = "pageInfo { hasNextPage endCursor } edges { node { type \
     quantity(formatter:\"none\") lotId(formatter:\"none\") packing(formatter:\"none\") \
     sublocation { facilityUrl } } }";

/// One page of products with their stock rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockQuery {
    /// Products per page.
    pub first: u32,
    /// Cursor of the previous page's end (`None` for the first page).
    pub after: Option<String>,
    /// Stock rows per product.
    pub items_first: u32,
}

impl StockQuery {
    /// The first page.
    pub fn new(first: u32, items_first: u32) -> Self {
        Self {
            first: first.max(1),
            after: None,
            items_first: items_first.max(1),
        }
    }

    /// The POST body.
    pub fn to_request(&self) -> Value {
        let query = format!(
            "query($first:Int,$after:String){{ productViewConnection(first:$first, after:$after, \
             sort:[{{field:\"productUrl\", mode:\"asc\"}}]) {{ pageInfo {{ hasNextPage endCursor }} \
             edges {{ node {{ productUrl productId stockItem(first:{n}) {{ {ROW_SELECTION} }} }} }} }} }}",
            n = self.items_first,
        );
        json!({ "query": query, "variables": { "first": self.first, "after": self.after } })
    }

    /// The same query for the page after `cursor`.
    pub fn next_page(&self, cursor: impl Into<String>) -> Self {
        Self {
            after: Some(cursor.into()),
            ..self.clone()
        }
    }
}

/// The remaining stock rows of one product (its `stockItem` connection after `after`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductStockQuery {
    /// The product's SKU (the `productId` filter).
    pub product_id: String,
    /// Cursor of the last row already read.
    pub after: Option<String>,
    /// Rows per page.
    pub items_first: u32,
}

impl ProductStockQuery {
    /// The POST body. The SKU is inlined as an escaped string literal.
    pub fn to_request(&self) -> Value {
        let id = Value::String(self.product_id.clone()).to_string();
        let query = format!(
            "query($after:String){{ productViewConnection(first:5, productId:{id}) {{ \
             pageInfo {{ hasNextPage endCursor }} edges {{ node {{ productUrl productId \
             stockItem(first:{n}, after:$after) {{ {ROW_SELECTION} }} }} }} }} }}",
            n = self.items_first.max(1),
        );
        json!({ "query": query, "variables": { "after": self.after } })
    }
}

/// One parsed page.
#[derive(Clone, Debug, PartialEq)]
pub struct StockPage {
    /// Products on the page, in response order.
    pub products: Vec<GqlProductStock>,
    /// Whether another page follows.
    pub has_next_page: bool,
    /// Cursor for the next page.
    pub end_cursor: Option<String>,
}

/// One product and the stock rows of this page.
#[derive(Clone, Debug, PartialEq)]
pub struct GqlProductStock {
    /// The product's URL (its key).
    pub product_url: String,
    /// Its SKU, when given.
    pub product_id: Option<String>,
    /// Rows, in response order.
    pub rows: Vec<GqlStockRow>,
    /// `Some(cursor)` when the product has more rows after this page's last one.
    pub more_after: Option<String>,
    /// The stock list was missing or said "more" without a cursor: the product's rows are
    /// unknown and must not be taken as complete.
    pub incomplete: bool,
}

/// Which quantity a stock row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockKind {
    /// Stock on hand in the sublocation.
    OnHand,
    /// On a committed purchase order, to arrive in the sublocation.
    OnOrder,
    /// Reserved by a committed sales order.
    Reserved,
}

impl StockKind {
    /// Reads a display label ("On hand") or an id-like form (`ON_HAND`), case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        match norm.as_str() {
            "onhand" | "instock" => Some(StockKind::OnHand),
            "onorder" => Some(StockKind::OnOrder),
            "reserved" => Some(StockKind::Reserved),
            _ => None,
        }
    }
}

/// One stock row. Problems are kept per row (`problem`), never fail the page: the caller
/// protects the row's pair from being written or deleted on incomplete evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct GqlStockRow {
    /// The sublocation's URL.
    pub sublocation_url: Option<String>,
    /// Which quantity.
    pub kind: Option<StockKind>,
    /// The quantity (`"--"`/null = 0).
    pub quantity: f64,
    /// Lot, if any.
    pub lot_id: Option<String>,
    /// Packing (`None` = eaches).
    pub packing: Option<String>,
    /// `(field, raw, reason)` of the first problem with this row.
    pub problem: Option<(String, String, String)>,
}

/// Parses a page of [`StockQuery`] or [`ProductStockQuery`].
pub fn parse_stock_page(body: &[u8]) -> Result<StockPage, GraphqlError> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| GraphqlError::Malformed(format!("not JSON: {e}")))?;
    let root = root
        .as_object()
        .ok_or_else(|| malformed("top level is not an object"))?;
    if let Some(errors) = root.get("errors") {
        let messages: Vec<String> = match errors {
            Value::Null => Vec::new(),
            Value::Array(list) => list
                .iter()
                .map(|e| match e.get("message").and_then(Value::as_str) {
                    Some(m) => m.to_owned(),
                    None => e.to_string(),
                })
                .collect(),
            other => vec![other.to_string()],
        };
        if !messages.is_empty() {
            return Err(GraphqlError::Errors(messages));
        }
    }
    let conn = root
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("missing data"))?
        .get("productViewConnection")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("missing data.productViewConnection"))?;
    let (has_next_page, end_cursor) = page_info(conn, "productViewConnection")?;
    let edges = conn
        .get("edges")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("missing productViewConnection.edges"))?;
    let products = edges
        .iter()
        .enumerate()
        .map(|(i, e)| parse_product(i, e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StockPage {
        products,
        has_next_page,
        end_cursor,
    })
}

fn malformed(msg: impl Into<String>) -> GraphqlError {
    GraphqlError::Malformed(msg.into())
}

fn page_info(
    conn: &Map<String, Value>,
    what: &str,
) -> Result<(bool, Option<String>), GraphqlError> {
    let info = conn
        .get("pageInfo")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed(format!("missing {what}.pageInfo")))?;
    let has_next = info
        .get("hasNextPage")
        .and_then(Value::as_bool)
        .ok_or_else(|| malformed(format!("missing {what}.pageInfo.hasNextPage")))?;
    let cursor = match info.get("endCursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "{what}.pageInfo.endCursor is not a string: {other}"
            )));
        }
    };
    if has_next && cursor.is_none() && what == "productViewConnection" {
        return Err(malformed(
            "pageInfo.hasNextPage is true but endCursor is missing",
        ));
    }
    Ok((has_next, cursor))
}

fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "--")
        .map(str::to_owned)
}

fn parse_product(i: usize, edge: &Value) -> Result<GqlProductStock, GraphqlError> {
    let node = edge
        .get("node")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed(format!("product edge {i}: edge without node")))?;
    let product_url = text(node, "productUrl")
        .ok_or_else(|| malformed(format!("product edge {i}: missing productUrl")))?;
    let product_id = text(node, "productId");
    let mut out = GqlProductStock {
        product_url,
        product_id,
        rows: Vec::new(),
        more_after: None,
        incomplete: false,
    };
    let Some(items) = node.get("stockItem").and_then(Value::as_object) else {
        out.incomplete = true;
        return Ok(out);
    };
    let Ok((has_next, cursor)) = page_info(items, "stockItem") else {
        out.incomplete = true;
        return Ok(out);
    };
    let Some(edges) = items.get("edges").and_then(Value::as_array) else {
        out.incomplete = true;
        return Ok(out);
    };
    out.rows = edges.iter().map(parse_row).collect();
    match (has_next, cursor) {
        (false, _) => {}
        (true, Some(c)) => out.more_after = Some(c),
        (true, None) => out.incomplete = true,
    }
    Ok(out)
}

fn parse_row(edge: &Value) -> GqlStockRow {
    let mut row = GqlStockRow {
        sublocation_url: None,
        kind: None,
        quantity: 0.0,
        lot_id: None,
        packing: None,
        problem: None,
    };
    let Some(n) = edge.get("node").and_then(Value::as_object) else {
        row.problem = Some(("node".into(), edge.to_string(), "edge without node".into()));
        return row;
    };
    let problem = |field: &str, raw: &Value, reason: &str| {
        Some((field.to_owned(), raw.to_string(), reason.to_owned()))
    };
    row.sublocation_url = n
        .get("sublocation")
        .and_then(Value::as_object)
        .and_then(|s| text(s, "facilityUrl"));
    row.lot_id = text(n, "lotId");
    row.packing = text(n, "packing");
    let raw_type = n.get("type").unwrap_or(&Value::Null);
    row.kind = raw_type.as_str().and_then(StockKind::parse);
    match display::number_value(n.get("quantity").unwrap_or(&Value::Null)) {
        Ok(q) => row.quantity = q.unwrap_or(0.0),
        Err(e) => {
            row.problem = problem(
                "quantity",
                &Value::String(e.raw().to_owned()),
                "not a number",
            );
        }
    }
    if row.kind.is_none() {
        row.problem = row
            .problem
            .or_else(|| problem("type", raw_type, "unknown stock type"));
    }
    if row.sublocation_url.is_none() {
        row.problem = row.problem.or_else(|| {
            problem(
                "sublocation",
                n.get("sublocation").unwrap_or(&Value::Null),
                "no sublocation URL",
            )
        });
    }
    row
}

/// All stock rows of the account, read through GraphQL ([`FinaleClient::fetch_stock_graphql`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphqlStock {
    /// The rows as `inventoryitem` records (`order_url` is not read and stays `None`) and the
    /// rows that could not be used. An error's `key` is `product|sublocation|lot|packing|`
    /// when the pair is known, `product|` when it is not (a product whose rows could not all
    /// be read): a consumer must then treat the snapshot as incomplete.
    pub items: Decoded<InventoryItem>,
    /// Products read.
    pub products: usize,
    /// GraphQL requests made.
    pub requests: u32,
}

impl FinaleClient {
    /// Every product's stock rows through GraphQL product pages ([`StockQuery`], then
    /// [`ProductStockQuery`] for products with more rows than a page holds). Costs one POST
    /// per page of [`STOCK_PAGE_SIZE`] products, plus one per [`STOCK_ROWS_PER_FOLLOW_UP`]
    /// further rows of a product with more than [`STOCK_ROWS_PER_PRODUCT`]; no
    /// collection read unless GraphQL counts as one. Never capped.
    pub async fn fetch_stock_graphql(&self, prio: Priority) -> Result<GraphqlStock, Error> {
        self.fetch_stock_graphql_paged(
            prio,
            STOCK_PAGE_SIZE,
            STOCK_ROWS_PER_PRODUCT,
            STOCK_ROWS_PER_FOLLOW_UP,
        )
        .await
    }

    /// [`FinaleClient::fetch_stock_graphql`] with explicit page sizes: `products` per page,
    /// `rows` per product in a page, `follow_up` rows per page of one product's remaining rows.
    pub async fn fetch_stock_graphql_paged(
        &self,
        prio: Priority,
        products: u32,
        rows: u32,
        follow_up: u32,
    ) -> Result<GraphqlStock, Error> {
        let mut out = GraphqlStock::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursors: HashSet<String> = HashSet::new();
        let mut query = StockQuery::new(products, rows);
        loop {
            let body = self.graphql_raw(&query.to_request(), prio).await?;
            out.requests += 1;
            let page = parse_stock_page(&body).map_err(|source| Error::Graphql { source })?;
            for mut p in page.products {
                // A product shifted onto the next page by an insert is read once only.
                if !seen.insert(p.product_url.clone()) {
                    continue;
                }
                out.products += 1;
                let mut after = p.more_after.take();
                let mut row_cursors: HashSet<String> = HashSet::new();
                while let Some(cursor) = after.take() {
                    let Some(id) = p.product_id.clone() else {
                        p.incomplete = true;
                        break;
                    };
                    if !row_cursors.insert(cursor.clone()) {
                        p.incomplete = true;
                        break;
                    }
                    let q = ProductStockQuery {
                        product_id: id,
                        after: Some(cursor),
                        items_first: follow_up,
                    };
                    let body = self.graphql_raw(&q.to_request(), prio).await?;
                    out.requests += 1;
                    let more =
                        parse_stock_page(&body).map_err(|source| Error::Graphql { source })?;
                    match more
                        .products
                        .into_iter()
                        .find(|m| m.product_url == p.product_url)
                    {
                        Some(m) if !m.incomplete => {
                            p.rows.extend(m.rows);
                            after = m.more_after;
                        }
                        _ => p.incomplete = true,
                    }
                }
                push_product(&mut out.items, p);
            }
            match (page.has_next_page, page.end_cursor) {
                (true, Some(c)) if cursors.insert(c.clone()) => query = query.next_page(c),
                (true, _) => {
                    return Err(Error::Graphql {
                        source: GraphqlError::Malformed(
                            "productViewConnection repeated a cursor".into(),
                        ),
                    });
                }
                _ => break,
            }
        }
        Ok(out)
    }
}

/// Adds one product's rows to `items`: good rows as records, bad rows (and a product whose
/// rows are incomplete) as errors keyed as described on [`GraphqlStock::items`].
fn push_product(items: &mut Decoded<InventoryItem>, p: GqlProductStock) {
    let index = items.records.len() + items.errors.len();
    if p.incomplete {
        items.errors.push(RecordError {
            index,
            field: "stockItem".into(),
            raw: String::new(),
            reason: "the product's stock rows could not all be read".into(),
            key: Some(format!("{}|", p.product_url)),
        });
        return;
    }
    let product_url: Arc<str> = Arc::from(p.product_url.as_str());
    let product_id: Option<Arc<str>> = p.product_id.as_deref().map(Arc::from);
    for (i, r) in p.rows.into_iter().enumerate() {
        let sub = r.sublocation_url.clone().unwrap_or_default();
        if let Some((field, raw, reason)) = r.problem {
            let key = if sub.is_empty() {
                format!("{}|", p.product_url)
            } else {
                InventoryItem::composite_key(
                    &p.product_url,
                    &sub,
                    r.lot_id.as_deref(),
                    r.packing.as_deref(),
                    None,
                )
            };
            items.errors.push(RecordError {
                index: index + i,
                field: format!("stockItem.{field}"),
                raw,
                reason: reason.clone(),
                key: Some(key),
            });
            continue;
        }
        let (on_hand, on_order, reserved) = match r.kind {
            Some(StockKind::OnOrder) => (0.0, r.quantity, 0.0),
            Some(StockKind::Reserved) => (0.0, 0.0, r.quantity),
            _ => (r.quantity, 0.0, 0.0),
        };
        items.records.push(InventoryItem {
            product_url: Arc::clone(&product_url),
            product_id: product_id.clone(),
            facility_url: Arc::from(sub.as_str()),
            lot_id: r.lot_id,
            packing: r.packing,
            order_url: None,
            quantity_on_hand: on_hand,
            quantity_on_order: on_order,
            quantity_reserved: reserved,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_page_sorted_products_and_escape_the_sku() {
        let q = StockQuery::new(STOCK_PAGE_SIZE, 100);
        let body = q.to_request();
        let text = body["query"].as_str().unwrap();
        assert!(
            text.contains("sort:[{field:\"productUrl\", mode:\"asc\"}]"),
            "{text}"
        );
        assert!(text.contains("stockItem(first:100)"));
        assert_eq!(body["variables"]["first"], 500);
        assert_eq!(body["variables"]["after"], Value::Null);
        let next = q.next_page("eyJpZHgiOjQ5OX0=");
        assert_eq!(next.to_request()["variables"]["after"], "eyJpZHgiOjQ5OX0=");
        let one = ProductStockQuery {
            product_id: "A\"}) { x }".into(),
            after: Some("c".into()),
            items_first: 50,
        };
        let text = one.to_request()["query"].as_str().unwrap().to_owned();
        assert!(text.contains(r#"productId:"A\"}) { x }""#), "{text}");
        assert!(text.contains("stockItem(first:50, after:$after)"));
    }

    #[test]
    fn rows_parse_display_and_raw_values_and_keep_problems_per_row() {
        let body = json!({"data": {"productViewConnection": {
        "pageInfo": {"hasNextPage": true, "endCursor": "c1"},
        "edges": [
            {"node": {"productUrl": "/a/api/product/1", "productId": "P1", "stockItem": {
                "pageInfo": {"hasNextPage": true, "endCursor": "s1"},
                "edges": [
                    {"node": {"type": "On hand", "quantity": 1234.5, "lotId": null,
                              "packing": "12 cs 12/1", "sublocation": {"facilityUrl": "/a/api/facility/2"}}},
                    {"node": {"type": "Reserved", "quantity": "1,000", "lotId": "L-1",
                              "packing": "--", "sublocation": {"facilityUrl": "/a/api/facility/2"}}},
                    {"node": {"type": "Lost", "quantity": "x", "sublocation": null}}
                ]}}},
            {"node": {"productUrl": "/a/api/product/2", "stockItem": null}}
        ]}}});
        let page = parse_stock_page(body.to_string().as_bytes()).unwrap();
        assert!(page.has_next_page);
        assert_eq!(page.end_cursor.as_deref(), Some("c1"));
        let p = &page.products[0];
        assert_eq!(p.more_after.as_deref(), Some("s1"));
        assert!(!p.incomplete);
        assert_eq!(p.rows[0].kind, Some(StockKind::OnHand));
        assert_eq!(p.rows[0].quantity, 1234.5);
        assert_eq!(p.rows[0].packing.as_deref(), Some("12 cs 12/1"));
        assert_eq!(p.rows[1].kind, Some(StockKind::Reserved));
        assert_eq!(p.rows[1].quantity, 1000.0);
        assert_eq!(p.rows[1].packing, None, "\"--\" is no packing");
        assert_eq!(p.rows[1].lot_id.as_deref(), Some("L-1"));
        assert!(p.rows[0].problem.is_none() && p.rows[1].problem.is_none());
        let bad = p.rows[2].problem.as_ref().expect("a problem");
        assert_eq!(bad.0, "quantity");
        assert!(
            page.products[1].incomplete,
            "a missing list is not an empty one"
        );
    }

    #[test]
    fn errors_and_broken_shapes_fail_the_page() {
        let e = json!({"data": null, "errors": [{"message": "Unknown field \"packing\""}]});
        assert!(matches!(
            parse_stock_page(e.to_string().as_bytes()),
            Err(GraphqlError::Errors(m)) if m[0].contains("packing")
        ));
        for bad in [
            json!({"data": {}}),
            json!({"data": {"productViewConnection": {"edges": []}}}),
            json!({"data": {"productViewConnection": {"pageInfo": {"hasNextPage": true}, "edges": []}}}),
            json!({"data": {"productViewConnection": {"pageInfo": {"hasNextPage": false}, "edges": [{"node": {}}]}}}),
            json!([1]),
        ] {
            assert!(
                matches!(
                    parse_stock_page(bad.to_string().as_bytes()),
                    Err(GraphqlError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(StockKind::parse(" ON_ORDER "), Some(StockKind::OnOrder));
        assert_eq!(StockKind::parse("on hand"), Some(StockKind::OnHand));
        assert_eq!(StockKind::parse("Lost"), None);
    }
}
