//! The inventory list: search as you type, filters, sort on a whitelisted field, keyset
//! paging (see the module docs of [`crate::query`] for the definitions and the ranking).

use std::str::FromStr;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ItemState, cursor, fts, page_limit, resolve, sql};
use crate::CacheError;

/// A field the list can be sorted on. Each maps to one fixed SQL expression with an index of
/// its own (migration `V20261205040000__search_index.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    /// With search text: SKU-prefix hits first, then the other matches in index order.
    /// Without text it is the same as [`SortField::Sku`].
    Relevance,
    /// SKU.
    Sku,
    /// Product name (unknown names first).
    Name,
    /// On hand over all facilities.
    OnHand,
    /// Available (on hand − reserved).
    Available,
    /// Reorder point (sum of the guidelines; unknown sorts as −1).
    ReorderPoint,
    /// Units sold per day over 30 days.
    Velocity30d,
    /// Units sold per day over 90 days.
    Velocity90d,
    /// Days of stock left (nothing selling sorts as never running out).
    DaysOfStock,
    /// Unit cost (unknown sorts as −1).
    Cost,
    /// List price (unknown sorts as −1).
    Price,
    /// Product status.
    Status,
    /// On hand × cost.
    StockValue,
    /// Units on order over every facility.
    OnOrder,
    /// The item's state, worst first: out of stock, below reorder, ok, inactive.
    State,
}

impl SortField {
    /// Every field, for `--help` and error messages.
    pub const ALL: [SortField; 15] = [
        Self::Relevance,
        Self::Sku,
        Self::Name,
        Self::OnHand,
        Self::Available,
        Self::ReorderPoint,
        Self::Velocity30d,
        Self::Velocity90d,
        Self::DaysOfStock,
        Self::Cost,
        Self::Price,
        Self::Status,
        Self::StockValue,
        Self::OnOrder,
        Self::State,
    ];

    /// The field's name (as JSON, the CLI and cursors spell it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevance => "relevance",
            Self::Sku => "sku",
            Self::Name => "name",
            Self::OnHand => "on_hand",
            Self::Available => "available",
            Self::ReorderPoint => "reorder_point",
            Self::Velocity30d => "velocity_30d",
            Self::Velocity90d => "velocity_90d",
            Self::DaysOfStock => "days_of_stock",
            Self::Cost => "cost",
            Self::Price => "price",
            Self::Status => "status",
            Self::StockValue => "stock_value",
            Self::OnOrder => "on_order",
            Self::State => "state",
        }
    }

    /// The SQL sort expression (exactly the indexed one), `None` for SKU (its own key). The
    /// expressions over `f` are columns of the kept item flags (see [`Self::on_flags`]).
    fn expr(self) -> Option<&'static str> {
        Some(match self {
            Self::Relevance | Self::Sku => return None,
            Self::Name => "coalesce(ii.name, '')",
            Self::OnHand => "ii.stock",
            Self::Available => "ii.available",
            Self::ReorderPoint => "coalesce(ii.reorder_point, -1.0)",
            Self::Velocity30d => "ii.sales_velocity",
            Self::Velocity90d => "ii.sales_velocity_90d",
            Self::DaysOfStock => "coalesce(ii.days_of_stock, 1e308)",
            Self::Cost => "coalesce(ii.cost, -1.0)",
            Self::Price => "coalesce(ii.price, -1.0)",
            Self::Status => "coalesce(ii.status, '')",
            Self::StockValue => "ii.stock * coalesce(ii.cost, 0.0)",
            Self::OnOrder => "f.on_order",
            Self::State => "f.state_rank",
        })
    }

    /// The index of a field kept in `query_item_flags` (which `inventory_items` does not hold),
    /// `None` for the fields of `inventory_items`.
    fn on_flags(self) -> Option<&'static str> {
        match self {
            Self::OnOrder => Some("query_item_flags_on_order"),
            Self::State => Some("query_item_flags_state"),
            _ => None,
        }
    }

    fn is_text(self) -> bool {
        matches!(self, Self::Name | Self::Status)
    }
}

impl FromStr for SortField {
    type Err = CacheError;

    fn from_str(s: &str) -> Result<Self, CacheError> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match s.as_str() {
            "velocity" => "velocity_30d",
            "stock" => "on_hand",
            "value" => "stock_value",
            "status_badge" | "badge" => "state",
            "list_price" => "price",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.as_str()).collect();
                CacheError::InvalidInput(format!(
                    "unknown sort field {s:?}: sort on one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SortDir {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// Which items the list keeps (all of them must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Filters {
    /// Only out-of-stock items.
    pub out_of_stock: bool,
    /// Only items at or below a reorder point somewhere (out-of-stock ones included).
    pub below_reorder: bool,
    /// Only critical items.
    pub critical: bool,
    /// Only items with stock (a stock row, even at zero) or a reorder guideline at this
    /// location or one of its sublocations: a name, Finale id or URL.
    pub location: Option<String>,
    /// Only items this supplier supplies (a supplier link): a name, Finale id or URL.
    pub supplier: Option<String>,
    /// Only items with this product status (`PRODUCT_ACTIVE`, or `active` for short;
    /// case-insensitive).
    pub status: Option<String>,
}

/// One list query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct SearchQuery {
    /// Search text (empty or `None`: every item).
    pub text: Option<String>,
    /// Filters.
    pub filters: Filters,
    /// Sort field; `None`: relevance with text, SKU without.
    pub sort: Option<SortField>,
    /// Sort direction (relevance is always best first).
    pub dir: SortDir,
    /// Page size, 1 ..= [`super::MAX_LIMIT`] (default [`super::DEFAULT_LIMIT`]).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// One row of the inventory list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemSummary {
    /// SKU.
    pub sku: String,
    /// The product's URL (its key; item detail takes it).
    pub product_url: String,
    /// Product name.
    pub name: Option<String>,
    /// Product status (`PRODUCT_ACTIVE`, `PRODUCT_INACTIVE`).
    pub status: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// UPC / barcode.
    pub upc: Option<String>,
    /// On hand over all facilities.
    pub on_hand: f64,
    /// Reserved over all facilities.
    pub reserved: f64,
    /// On hand − reserved.
    pub available: f64,
    /// On order over all facilities.
    pub on_order: f64,
    /// Reorder point (sum of the guidelines), if any.
    pub reorder_point: Option<f64>,
    /// Reorder quantity (sum of the guidelines), if any.
    pub reorder_qty: Option<f64>,
    /// Units sold per day, last 30 days.
    pub velocity_30d: f64,
    /// Units sold per day, last 90 days.
    pub velocity_90d: f64,
    /// Days until available stock runs out at the 30-day rate; `None` when nothing sells.
    pub days_of_stock: Option<f64>,
    /// Unit cost.
    pub cost: Option<f64>,
    /// List price.
    pub price: Option<f64>,
    /// On hand × cost (0 without a cost).
    pub stock_value: f64,
    /// Lead time in days (see the definitions).
    pub lead_time_days: f64,
    /// The item's state.
    pub state: ItemState,
    /// Out of stock.
    pub out_of_stock: bool,
    /// At or below a reorder point somewhere.
    pub at_reorder: bool,
    /// Critical.
    pub critical: bool,
}

/// One page of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchPage {
    /// The rows, in order.
    pub rows: Vec<ItemSummary>,
    /// Pass as `after` to read the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The row's columns, in the order [`summary`] reads them. Fixed text.
fn columns() -> String {
    format!(
        "p.sku, p.url, p.name, coalesce(p.status, ii.status), p.category, p.upc,
         ii.stock, ii.available,
         (SELECT coalesce(sum(s.on_order), 0.0) FROM stock s WHERE s.product_url = p.url),
         ii.reorder_point, ii.reorder_quantity, ii.sales_velocity, ii.sales_velocity_90d,
         ii.days_of_stock, ii.cost, ii.price, {lead}, {active}, {oos}, {at}, {critical}, ii.id, ii.sku",
        lead = sql::LEAD_TIME,
        active = sql::ACTIVE,
        oos = sql::OUT_OF_STOCK,
        at = sql::AT_REORDER,
        critical = sql::critical(),
    )
}

/// Column count of [`columns`].
const NCOLS: usize = 23;

/// The list row from the first 21 columns of a query that selects them as `columns()` does
/// (item detail selects its own expressions in the same order).
pub(super) fn summary_of(row: &Row<'_>) -> rusqlite::Result<ItemSummary> {
    let on_hand: f64 = row.get(6)?;
    let available: f64 = row.get(7)?;
    let cost: Option<f64> = row.get(14)?;
    let active: bool = row.get(17)?;
    let oos: bool = row.get::<_, bool>(18)? && active;
    let at: bool = row.get::<_, bool>(19)? && active;
    Ok(ItemSummary {
        sku: row.get(0)?,
        product_url: row.get(1)?,
        name: row.get(2)?,
        status: row.get(3)?,
        category: row.get(4)?,
        upc: row.get(5)?,
        on_hand,
        reserved: on_hand - available,
        available,
        on_order: row.get(8)?,
        reorder_point: row.get(9)?,
        reorder_qty: row.get(10)?,
        velocity_30d: row.get(11)?,
        velocity_90d: row.get(12)?,
        days_of_stock: row.get(13)?,
        cost,
        price: row.get(15)?,
        stock_value: on_hand * cost.unwrap_or(0.0),
        lead_time_days: row.get(16)?,
        state: ItemState::from_flags(active, oos, at),
        out_of_stock: oos,
        at_reorder: at,
        critical: row.get(20)?,
    })
}

/// The row, and its keyset tie-breakers: `inventory_items.id` and `.sku` (the list sorts on
/// the derived row's SKU; the product's, shown, may be newer until the engine derives again).
fn summary(row: &Row<'_>) -> rusqlite::Result<(ItemSummary, (String, String))> {
    Ok((summary_of(row)?, (row.get(21)?, row.get(22)?)))
}

/// The filters as SQL conditions (fixed text) and their parameters.
struct Where {
    conds: Vec<String>,
    params: Vec<SqlValue>,
    /// The supplier filter's URL: its links may drive a sorted query (see [`sorted`]).
    supplier: Option<String>,
}

impl Where {
    fn push(&mut self, cond: &str, params: impl IntoIterator<Item = SqlValue>) {
        // Parameters are numbered in order: `?` placeholders only.
        self.conds.push(cond.to_owned());
        self.params.extend(params);
    }

    fn sql(&self) -> String {
        if self.conds.is_empty() {
            "1".into()
        } else {
            self.conds.join(" AND ")
        }
    }
}

fn filters(conn: &Connection, f: &Filters) -> Result<Where, CacheError> {
    let mut w = Where {
        conds: Vec::new(),
        params: Vec::new(),
        supplier: None,
    };
    if f.out_of_stock {
        w.push(&format!("{} AND {}", sql::ACTIVE, sql::OUT_OF_STOCK), []);
    }
    if f.below_reorder {
        w.push(&format!("{} AND {}", sql::ACTIVE, sql::AT_REORDER), []);
    }
    if f.critical {
        w.push(&sql::critical(), []);
    }
    if let Some(loc) = f.location.as_deref() {
        let url = resolve::location(conn, loc)?;
        w.push(
            "(EXISTS (SELECT 1 FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = ii.finale_id
                        AND (s.facility_url = ? OR f.parent_url = ?))
              OR EXISTS (SELECT 1 FROM reorder_guidelines g
                          LEFT JOIN facilities f ON f.url = g.facility_url
                          WHERE g.product_url = ii.finale_id
                            AND (g.facility_url = ? OR f.parent_url = ?)))",
            [
                SqlValue::Text(url.clone()),
                SqlValue::Text(url.clone()),
                SqlValue::Text(url.clone()),
                SqlValue::Text(url),
            ],
        );
    }
    if let Some(sup) = f.supplier.as_deref() {
        let url = resolve::supplier(conn, sup)?;
        w.push(
            // `+`: look the links up by product (the primary key), never scan the
            // supplier's links for every row.
            "EXISTS (SELECT 1 FROM product_suppliers ps
                      WHERE ps.product_url = ii.finale_id AND +ps.supplier_url = ?)",
            [SqlValue::Text(url.clone())],
        );
        w.supplier = Some(url);
    }
    if let Some(status) = f.status.as_deref() {
        let status = status.trim();
        if status.is_empty() || status.chars().any(char::is_control) || status.len() > 100 {
            return Err(CacheError::InvalidInput(
                "give a product status such as PRODUCT_ACTIVE or active".into(),
            ));
        }
        let full = if status.to_ascii_uppercase().starts_with("PRODUCT_") {
            status.to_owned()
        } else {
            format!("PRODUCT_{status}")
        };
        w.push(
            "coalesce(p.status, ii.status) = ? COLLATE NOCASE",
            [SqlValue::Text(full)],
        );
    }
    Ok(w)
}

/// Where a SKU-prefix range starts and ends (case-insensitive through `COLLATE NOCASE`).
fn sku_range(text: &str) -> (String, String) {
    (text.to_owned(), format!("{text}\u{10FFFF}"))
}

const SKU_PREFIX: &str = "(p.sku >= ? COLLATE NOCASE AND p.sku < ? COLLATE NOCASE)";

/// Reads one page of the inventory list; see [`crate::query`] for the model.
pub fn search(conn: &Connection, q: &SearchQuery) -> Result<SearchPage, CacheError> {
    let limit = page_limit(q.limit)?;
    let text = match q.text.as_deref() {
        Some(t) => fts::check_text(t)?,
        None => "",
    };
    let fts = if text.is_empty() {
        None
    } else {
        fts::fts_query(text)?
    };
    let sort = match q.sort {
        Some(SortField::Relevance) | None if !text.is_empty() => SortField::Relevance,
        Some(SortField::Relevance) | None => SortField::Sku,
        Some(f) => f,
    };
    let dir = if sort == SortField::Relevance {
        SortDir::Asc
    } else {
        q.dir
    };
    let f = &q.filters;
    let flags = format!(
        "{}{}{}",
        u8::from(f.out_of_stock),
        u8::from(f.below_reorder),
        u8::from(f.critical)
    );
    let fp = cursor::fingerprint(&[
        "search",
        text,
        &flags,
        f.location.as_deref().unwrap_or("\u{0}"),
        f.supplier.as_deref().unwrap_or("\u{0}"),
        f.status.as_deref().unwrap_or("\u{0}"),
        sort.as_str(),
        if dir == SortDir::Asc { "asc" } else { "desc" },
    ]);
    let w = filters(conn, f)?;
    if sort == SortField::Relevance {
        relevance(
            conn,
            text,
            fts.as_deref(),
            &w,
            limit,
            q.after.as_deref(),
            &fp,
        )
    } else {
        sorted(
            conn,
            text,
            fts.as_deref(),
            &w,
            sort,
            dir,
            limit,
            q.after.as_deref(),
            &fp,
        )
    }
}

/// Up to this many candidates (text matches, a supplier's products), a sorted query reads
/// the candidates and sorts them; beyond, it walks the sort column's index and checks each
/// row against the candidates, which then finds a page after about `page × N / candidates`
/// rows. Both cost about this many row lookups at the threshold (√(50 × 100k) ≈ 2,200).
const DRIVE_MAX: i64 = 2000;

/// A sorted page (any field but relevance): the text matches (and a supplier's products) are
/// a set of candidates; see [`DRIVE_MAX`] for how it is read.
#[allow(clippy::too_many_arguments)]
fn sorted(
    conn: &Connection,
    text: &str,
    fts: Option<&str>,
    w: &Where,
    sort: SortField,
    dir: SortDir,
    limit: u32,
    after: Option<&str>,
    fp: &str,
) -> Result<SearchPage, CacheError> {
    let (lo, hi) = sku_range(text);
    // How many candidates each set has (counted up to DRIVE_MAX + 1 only).
    let text_count = if text.is_empty() {
        None
    } else {
        let sql = "SELECT (SELECT count(*) FROM (SELECT 1 FROM products
                            WHERE sku >= ?1 COLLATE NOCASE AND sku < ?2 COLLATE NOCASE LIMIT ?3))
                        + coalesce((SELECT count(*) FROM (SELECT 1 FROM product_search
                            WHERE product_search MATCH ?4 LIMIT ?3)), 0)";
        let n: i64 = conn
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(
                    rusqlite::params![lo, hi, DRIVE_MAX + 1, fts.unwrap_or("\"\"")],
                    |r| r.get(0),
                )
            })
            .map_err(map_fts_error)?;
        Some(n)
    };
    let supplier_count = match &w.supplier {
        None => None,
        Some(url) => Some(
            conn.prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM product_suppliers WHERE supplier_url = ?1
                  LIMIT ?2)",
            )
            .and_then(|mut s| {
                s.query_row(rusqlite::params![url, DRIVE_MAX + 1], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map_err(CacheError::sqlite("count a supplier's products"))?,
        ),
    };
    let drive_text =
        text_count.is_some_and(|n| n <= DRIVE_MAX && supplier_count.is_none_or(|s| n <= s));
    let drive_supplier = !drive_text && supplier_count.is_some_and(|n| n <= DRIVE_MAX);

    let mut params: Vec<SqlValue> = Vec::new();
    let from: String = if drive_text {
        match fts {
            Some(m) => {
                params.push(SqlValue::Text(m.to_owned()));
                params.push(SqlValue::Text(lo.clone()));
                params.push(SqlValue::Text(hi.clone()));
                "(SELECT d.product_url AS u FROM product_search fs
                    JOIN search_docs d ON d.id = fs.rowid WHERE product_search MATCH ?
                  UNION SELECT url FROM products
                   WHERE sku >= ? COLLATE NOCASE AND sku < ? COLLATE NOCASE) m
                 CROSS JOIN inventory_items ii ON ii.finale_id = m.u"
                    .into()
            }
            None => {
                params.push(SqlValue::Text(lo.clone()));
                params.push(SqlValue::Text(hi.clone()));
                "(SELECT url AS u FROM products
                   WHERE sku >= ? COLLATE NOCASE AND sku < ? COLLATE NOCASE) m
                 CROSS JOIN inventory_items ii ON ii.finale_id = m.u"
                    .into()
            }
        }
    } else if drive_supplier {
        params.push(SqlValue::Text(w.supplier.clone().unwrap_or_default()));
        "(SELECT DISTINCT product_url AS u FROM product_suppliers WHERE supplier_url = ?) m
         CROSS JOIN inventory_items ii ON ii.finale_id = m.u"
            .into()
    } else if let Some(index) = sort.on_flags() {
        // Walked in the flags' index order.
        format!(
            "query_item_flags f INDEXED BY {index} CROSS JOIN inventory_items ii ON ii.id = f.id"
        )
    } else {
        "inventory_items ii".into()
    };
    // A driven set reaches the flags through the item (an undriven walk reads them first).
    let from = if sort.on_flags().is_some() && (drive_text || drive_supplier) {
        format!("{from} CROSS JOIN query_item_flags f ON f.id = ii.id")
    } else {
        from
    };
    let mut conds = vec![w.sql()];
    params.extend(w.params.iter().cloned());
    if !text.is_empty() && !drive_text {
        match fts {
            Some(m) => {
                // The row's document id against the matching ids: a set of integers read
                // straight from the index, one lookup per row walked.
                conds.push(format!(
                    "((SELECT d.id FROM search_docs d WHERE d.product_url = ii.finale_id)
                        IN (SELECT rowid FROM product_search WHERE product_search MATCH ?)
                      OR {SKU_PREFIX})"
                ));
                params.push(SqlValue::Text(m.to_owned()));
            }
            None => conds.push(SKU_PREFIX.to_owned()),
        }
        params.push(SqlValue::Text(lo));
        params.push(SqlValue::Text(hi));
    }
    let (cmp, ord) = match dir {
        SortDir::Asc => (">", "ASC"),
        SortDir::Desc => ("<", "DESC"),
    };
    let expr = sort.expr();
    // The tie-breakers of the walked index: the flags' copies of SKU and id for the fields
    // kept there (equal to the item's; the planner must see the index's own columns).
    let t = if sort.on_flags().is_some() { "f" } else { "ii" };
    if let Some(c) = after {
        let n = if expr.is_some() { 3 } else { 2 };
        let k = cursor::decode(c, fp, n)?;
        match expr {
            Some(e) => {
                conds.push(format!("({e}, {t}.sku, {t}.id) {cmp} (?, ?, ?)"));
                params.push(if sort.is_text() {
                    SqlValue::Text(cursor::text(&k[0])?)
                } else {
                    SqlValue::Real(cursor::number(&k[0])?)
                });
                params.push(SqlValue::Text(cursor::text(&k[1])?));
                params.push(SqlValue::Text(cursor::text(&k[2])?));
            }
            None => {
                conds.push(format!("(ii.sku, ii.id) {cmp} (?, ?)"));
                params.push(SqlValue::Text(cursor::text(&k[0])?));
                params.push(SqlValue::Text(cursor::text(&k[1])?));
            }
        }
    }
    let order = match expr {
        Some(e) => format!("{e} {ord}, {t}.sku {ord}, {t}.id {ord}"),
        None => format!("ii.sku {ord}, ii.id {ord}"),
    };
    let key_col = expr.unwrap_or("NULL");
    // Two steps: the page's item ids in order (the sorter holds an id and a key per
    // candidate), then the list columns (a dozen lookups each) for those ids only.
    let sql = format!(
        "SELECT {cols}, page.page_key
           FROM (SELECT ii.id AS page_id, {key_col} AS page_key
                   FROM {from} CROSS JOIN products p ON p.url = ii.finale_id
                  WHERE {conds}
                  ORDER BY {order}
                  LIMIT ?) page
           CROSS JOIN inventory_items ii ON ii.id = page.page_id
           CROSS JOIN products p ON p.url = ii.finale_id
          ORDER BY page.page_key {ord}, ii.sku {ord}, ii.id {ord}",
        cols = columns(),
        conds = conds.join(" AND "),
    );
    params.push(SqlValue::Integer(i64::from(limit) + 1));
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(CacheError::sqlite("prepare the item list"))?;
    let mut rows: Vec<(ItemSummary, (String, String), SqlValue)> = stmt
        .query_map(rusqlite::params_from_iter(params), |row| {
            let (s, id) = summary(row)?;
            Ok((s, id, row.get::<_, SqlValue>(NCOLS)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(CacheError::sqlite("read the item list"))?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some((_, (id, sku), key)) if more => {
            let mut k = Vec::with_capacity(3);
            if expr.is_some() {
                k.push(match key {
                    SqlValue::Real(x) => cursor::num(*x),
                    SqlValue::Integer(i) => cursor::num(*i as f64),
                    SqlValue::Text(t) => Value::from(t.clone()),
                    _ => Value::Null,
                });
            }
            k.push(Value::from(sku.clone()));
            k.push(Value::from(id.clone()));
            Some(cursor::encode(fp, k))
        }
        _ => None,
    };
    Ok(SearchPage {
        rows: rows.into_iter().map(|(s, _, _)| s).collect(),
        next_cursor,
    })
}

/// A relevance page: SKU-prefix hits by SKU (bucket 1), then the other text matches in
/// index order (bucket 2). The cursor is `[1, sku_nocase_order_sku, url]` or `[2, doc id]`.
fn relevance(
    conn: &Connection,
    text: &str,
    fts: Option<&str>,
    w: &Where,
    limit: u32,
    after: Option<&str>,
    fp: &str,
) -> Result<SearchPage, CacheError> {
    // Cursor: [bucket, a, b]: bucket 1 → (sku, url), bucket 2 → (doc id, unused).
    let key = match after {
        Some(c) => Some(cursor::decode(c, fp, 3)?),
        None => None,
    };
    let bucket = match &key {
        Some(k) => cursor::integer(&k[0])?,
        None => 1,
    };
    if !(1..=2).contains(&bucket) {
        return Err(CacheError::InvalidInput(
            "malformed page cursor (bad key)".into(),
        ));
    }
    let (lo, hi) = sku_range(text);
    let want = limit as usize + 1;
    // (summary, bucket, key a, key b)
    let mut out: Vec<(ItemSummary, i64, Value, Value)> = Vec::new();
    if bucket == 1 {
        let mut conds = vec![w.sql(), SKU_PREFIX.to_owned()];
        let mut params = w.params.clone();
        params.push(SqlValue::Text(lo.clone()));
        params.push(SqlValue::Text(hi.clone()));
        if let Some(k) = &key {
            conds.push("(p.sku COLLATE NOCASE, p.url) > (?, ?)".into());
            params.push(SqlValue::Text(cursor::text(&k[1])?));
            params.push(SqlValue::Text(cursor::text(&k[2])?));
        }
        params.push(SqlValue::Integer(want as i64));
        let sql = format!(
            "SELECT {cols}, p.sku, p.url
               FROM products p JOIN inventory_items ii ON ii.finale_id = p.url
              WHERE {conds}
              ORDER BY p.sku COLLATE NOCASE, p.url
              LIMIT ?",
            cols = columns(),
            conds = conds.join(" AND "),
        );
        let mut stmt = conn
            .prepare_cached(&sql)
            .map_err(CacheError::sqlite("prepare the SKU matches"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| {
                let (s, _) = summary(row)?;
                let sku: String = row.get(NCOLS)?;
                let url: String = row.get(NCOLS + 1)?;
                Ok((s, 1, Value::from(sku), Value::from(url)))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(CacheError::sqlite("read the SKU matches"))?;
        out.extend(rows);
    }
    if out.len() < want
        && let Some(m) = fts
    {
        let mut conds = vec![
            "product_search MATCH ?".to_owned(),
            w.sql(),
            format!("NOT {SKU_PREFIX}"),
        ];
        let mut params = vec![SqlValue::Text(m.to_owned())];
        params.extend(w.params.iter().cloned());
        params.push(SqlValue::Text(lo));
        params.push(SqlValue::Text(hi));
        if let (Some(k), 2) = (&key, bucket) {
            conds.push("fs.rowid > ?".into());
            params.push(SqlValue::Integer(cursor::integer(&k[1])?));
        }
        params.push(SqlValue::Integer((want - out.len()) as i64));
        let sql = format!(
            "SELECT {cols}, fs.rowid
               FROM product_search fs
               JOIN search_docs d ON d.id = fs.rowid
               JOIN products p ON p.url = d.product_url
               JOIN inventory_items ii ON ii.finale_id = p.url
              WHERE {conds}
              ORDER BY fs.rowid
              LIMIT ?",
            cols = columns(),
            conds = conds.join(" AND "),
        );
        let mut stmt = conn
            .prepare_cached(&sql)
            .map_err(CacheError::sqlite("prepare the text matches"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| {
                let (s, _) = summary(row)?;
                let doc: i64 = row.get(NCOLS)?;
                Ok((s, 2, Value::from(doc), Value::Null))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(map_fts_error)?;
        out.extend(rows);
    }
    let more = out.len() > limit as usize;
    out.truncate(limit as usize);
    let next_cursor = match out.last() {
        Some((_, b, a, c)) if more => Some(cursor::encode(
            fp,
            vec![Value::from(*b), a.clone(), c.clone()],
        )),
        _ => None,
    };
    Ok(SearchPage {
        rows: out.into_iter().map(|(s, ..)| s).collect(),
        next_cursor,
    })
}

/// An FTS5 query error is the caller's text (it should not happen: every word is quoted),
/// anything else is the store's.
fn map_fts_error(e: rusqlite::Error) -> CacheError {
    let msg = e.to_string();
    if msg.contains("fts5") {
        CacheError::InvalidInput(format!("search text not understood: {msg}"))
    } else {
        CacheError::Sqlite {
            what: "read the text matches",
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_fields_parse_and_refuse() {
        for f in SortField::ALL {
            assert_eq!(f.as_str().parse::<SortField>().ok(), Some(f));
        }
        assert_eq!(
            "Velocity".parse::<SortField>().ok(),
            Some(SortField::Velocity30d)
        );
        assert_eq!("on-hand".parse::<SortField>().ok(), Some(SortField::OnHand));
        let err = "sku; DROP TABLE products".parse::<SortField>();
        assert!(matches!(err, Err(CacheError::InvalidInput(_))));
    }
}
