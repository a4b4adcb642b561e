//! The column description of every table the stores write and read back, and the
//! store-independent halves of the one generic write path.
//!
//! # The description
//!
//! Each row type of [`crate::rows`] describes its table once, with the [`crate::table!`] macro:
//! the table's name, how many leading columns form its key, and its stored columns as
//! `field: Type` pairs (the field and the column share the name). From that list the macro
//! derives the three things every store needs:
//!
//! - [`Projection::COLUMNS`]: the columns with their [`Kind`] (taken from the field's Rust
//!   type through [`Field`], so a description cannot disagree with the struct: a wrong
//!   type does not compile);
//! - [`Table::values`]: a row's values in column order, borrowed ([`Value`]);
//! - [`Projection::read`]: a row rebuilt from a store's result, column by column
//!   ([`Source`], one implementation per store).
//!
//! A [`Kind`] is what the column *means* (text, a number, a timestamp, a JSON value, ...);
//! each store maps the kinds to its representation once (Postgres: `text[]`, `float8[]`,
//! ... arrays for `unnest`, binary `COPY` types; SQLite: `TEXT`, `REAL`, milliseconds,
//! JSON text). Nothing in a store names a table's columns: its SQL is generated from the
//! description, and identifiers come only from these constant lists, never from input.
//!
//! # The roles a table plays
//!
//! - [`Hashed`]: a mirrored record with a `content_hash`, written only when the hash differs
//!   (facilities, parties, products, orders, stock). Its [`Hashed::Old`] names the stored
//!   values the write report needs of a changed row (a product's old prices, an order's old
//!   type).
//! - [`Child`]: a list owned by a parent record, stored in its own table keyed
//!   `(parent key, seq)` (supplier links, reorder guidelines, order lines). The parent's
//!   hash covers it; when the parent changes its children are diffed with the stored ones by
//!   position ([`diff_list`]).
//! - Derived tables (`daily_sales`, `inventory_items`) are described for reading back only.
//!
//! # What is shared between the stores
//!
//! Besides the description: which rows of a batch count ([`last_wins`]), how a new child list
//! differs from the stored one ([`diff_list`]), and what a write reports ([`Written`],
//! [`report`]). Each store implements the I/O once, generically over these traits
//! (`pg::table`, `sqlite::table`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::rows::{
    DailySalesRow, FacilityRow, GuidelineRow, Hash, ItemRow, LineRow, OrderRow, PartyRow,
    ProductRow, StockRow, SupplierLinkRow,
};
use crate::{Applied, PriceChange, StoreError, Writes};

/// What a column's values are; each store maps a kind to one representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A finite `f64`.
    Float,
    /// A boolean.
    Bool,
    /// An instant (UTC).
    Time,
    /// A calendar date.
    Day,
    /// A JSON value.
    Json,
    /// A list of strings.
    TextList,
    /// A 32-byte content hash.
    Hash,
    /// A child's position in its parent's list.
    Seq,
}

/// One stored column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name, the same in both schemas (and the row field's name).
    pub name: &'static str,
    /// What its values are.
    pub kind: Kind,
}

/// A column value borrowed from a row, on its way into a store (`None`: SQL `NULL`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// [`Kind::Text`].
    Text(Option<&'a str>),
    /// [`Kind::Float`].
    Float(Option<f64>),
    /// [`Kind::Bool`].
    Bool(Option<bool>),
    /// [`Kind::Time`].
    Time(Option<DateTime<Utc>>),
    /// [`Kind::Day`].
    Day(Option<NaiveDate>),
    /// [`Kind::Json`].
    Json(&'a serde_json::Value),
    /// [`Kind::TextList`].
    TextList(&'a [String]),
    /// [`Kind::Hash`].
    Hash(&'a Hash),
    /// [`Kind::Seq`].
    Seq(i32),
}

impl Value<'_> {
    /// The text of a [`Value::Text`] (keys are text), `None` otherwise.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => *t,
            _ => None,
        }
    }
}

/// A column value read back from a store (`None`: SQL `NULL`).
#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    /// [`Kind::Text`].
    Text(Option<String>),
    /// [`Kind::Float`].
    Float(Option<f64>),
    /// [`Kind::Bool`].
    Bool(Option<bool>),
    /// [`Kind::Time`].
    Time(Option<DateTime<Utc>>),
    /// [`Kind::Day`].
    Day(Option<NaiveDate>),
    /// [`Kind::Json`].
    Json(Option<serde_json::Value>),
    /// [`Kind::TextList`].
    TextList(Option<Vec<String>>),
    /// [`Kind::Hash`].
    Hash(Option<Hash>),
    /// [`Kind::Seq`].
    Seq(Option<i32>),
}

/// Where rows are read back from: one result row of a store, consumed column by column in
/// the order of the description. Each store implements it once.
pub trait Source {
    /// The next column's value, decoded as `column.kind` (a value the kind cannot hold is
    /// [`StoreError::Corrupt`]).
    fn next(&mut self, column: &Column) -> Result<Owned, StoreError>;
}

/// A row field's Rust type: its column [`Kind`], its [`Value`], and how it is rebuilt from an
/// [`Owned`] value (`None` when the value does not fit, e.g. a `NULL` in a `String`).
pub trait Field: Sized {
    /// The kind of the column holding it.
    const KIND: Kind;
    /// The value to store.
    fn value(&self) -> Value<'_>;
    /// The field from a stored value.
    fn from_owned(v: Owned) -> Option<Self>;
}

macro_rules! field {
    ($t:ty, $kind:ident, |$s:ident| $value:expr, |$o:ident| $read:expr) => {
        impl Field for $t {
            const KIND: Kind = Kind::$kind;
            fn value(&self) -> Value<'_> {
                let $s = self;
                Value::$kind($value)
            }
            fn from_owned(v: Owned) -> Option<Self> {
                match v {
                    Owned::$kind($o) => $read,
                    _ => None,
                }
            }
        }
    };
}

field!(String, Text, |s| Some(s.as_str()), |o| o);
field!(Option<String>, Text, |s| s.as_deref(), |o| Some(o));
field!(f64, Float, |s| Some(*s), |o| o);
field!(Option<f64>, Float, |s| *s, |o| Some(o));
field!(bool, Bool, |s| Some(*s), |o| o);
field!(Option<bool>, Bool, |s| *s, |o| Some(o));
field!(Option<DateTime<Utc>>, Time, |s| *s, |o| Some(o));
field!(NaiveDate, Day, |s| Some(*s), |o| o);
field!(Option<NaiveDate>, Day, |s| *s, |o| Some(o));
field!(serde_json::Value, Json, |s| s, |o| o);
field!(Vec<String>, TextList, |s| s.as_slice(), |o| o);
field!(Hash, Hash, |s| s, |o| o);

/// Reads the next field of a row of `table` from `src` (see [`Projection::read`]).
pub fn read_field<F: Field>(
    src: &mut impl Source,
    table: &'static str,
    columns: &mut std::slice::Iter<'_, Column>,
) -> Result<F, StoreError> {
    let column = columns.next().ok_or_else(|| StoreError::Corrupt {
        what: format!("{table}: a row has more fields than described columns"),
    })?;
    let v = src.next(column)?;
    F::from_owned(v).ok_or_else(|| StoreError::Corrupt {
        what: format!("{table}.{}: a NULL or a value of another kind", column.name),
    })
}

/// Stored columns read into a Rust value: a table's row, or the part of a stored row a
/// write report needs ([`Hashed::Old`]).
pub trait Projection: Sized {
    /// The columns, in reading order.
    const COLUMNS: &'static [Column];
    /// Rebuilds the value from one result row holding [`Projection::COLUMNS`] in order.
    /// Lists a row owns ([`Child`]) come back empty.
    fn read(src: &mut impl Source) -> Result<Self, StoreError>;
}

/// Nothing read: the [`Hashed::Old`] of tables whose report needs no stored value.
impl Projection for () {
    const COLUMNS: &'static [Column] = &[];
    fn read(_: &mut impl Source) -> Result<Self, StoreError> {
        Ok(())
    }
}

/// A table described column by column (see the module docs). Key columns come first.
pub trait Table: Projection {
    /// The table's name, the same in both schemas.
    const NAME: &'static str;
    /// How many leading columns of [`Projection::COLUMNS`] form the table's own key
    /// (0 for a [`Child`], whose key is its parent's key and its position).
    const KEY: usize;
    /// Appends the row's values, one per column, in column order.
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>);
}

/// A mirrored record with a content hash, written only when the hash differs. Its key
/// columns are text.
pub trait Hashed: Table {
    /// What the write report needs of the stored row it replaces.
    type Old: Projection;
    /// The row's content hash.
    fn content_hash(&self) -> &Hash;
    /// The row's key (the [`Table::KEY`] leading columns), e.g. `[url]`.
    fn key(&self) -> Vec<&str>;
}

/// A list owned by a parent `P`, stored as rows keyed `(P's key, seq)` where `seq` is the
/// position in the list. `P` has a one-column text key.
pub trait Child<P>: Table + PartialEq {
    /// The child table's column holding the parent's key.
    const PARENT: &'static str;
    /// The parent's list.
    fn list(parent: &P) -> &[Self];
    /// The parent's list, to attach children read back.
    fn list_mut(parent: &mut P) -> &mut Vec<Self>;
}

/// The columns of `C`'s table as stored: the parent's key, the position (`seq`), then the
/// child's own columns.
pub fn child_columns<P, C: Child<P>>() -> Vec<Column> {
    let mut cols = vec![
        Column {
            name: C::PARENT,
            kind: Kind::Text,
        },
        Column {
            name: "seq",
            kind: Kind::Seq,
        },
    ];
    cols.extend_from_slice(C::COLUMNS);
    cols
}

/// Describes a row type's table; see the module docs.
///
/// `table!(Row, "name", key N, { field: Type, ... } [, empty { list, ... }])`: the stored
/// columns in order (key first), then the fields that are not columns (owned lists), which
/// come back empty from [`Projection::read`].
#[macro_export]
macro_rules! table {
    ($row:ty, $name:literal, key $key:literal, { $($field:ident : $ty:ty),* $(,)? }
     $(, empty { $($list:ident),* $(,)? })?) => {
        impl $crate::table::Projection for $row {
            const COLUMNS: &'static [$crate::table::Column] = &[$(
                $crate::table::Column {
                    name: stringify!($field),
                    kind: <$ty as $crate::table::Field>::KIND,
                }
            ),*];
            fn read(
                src: &mut impl $crate::table::Source,
            ) -> Result<Self, $crate::StoreError> {
                let mut columns =
                    <Self as $crate::table::Projection>::COLUMNS.iter();
                Ok(Self {
                    $($field: $crate::table::read_field::<$ty>(src, $name, &mut columns)?,)*
                    $($($list: Vec::new(),)*)?
                })
            }
        }
        impl $crate::table::Table for $row {
            const NAME: &'static str = $name;
            const KEY: usize = $key;
            fn values<'a>(&'a self, out: &mut Vec<$crate::table::Value<'a>>) {
                $(out.push(<$ty as $crate::table::Field>::value(&self.$field));)*
            }
        }
    };
}

/// Describes a projection of stored columns (a [`Hashed::Old`]): `projection!(Type, { field:
/// Type, ... })`.
macro_rules! projection {
    ($row:ty, $name:literal, { $($field:ident : $ty:ty),* $(,)? }) => {
        impl Projection for $row {
            const COLUMNS: &'static [Column] = &[$(
                Column { name: stringify!($field), kind: <$ty as Field>::KIND }
            ),*];
            fn read(src: &mut impl Source) -> Result<Self, StoreError> {
                let mut columns = <Self as Projection>::COLUMNS.iter();
                Ok(Self { $($field: read_field::<$ty>(src, $name, &mut columns)?,)* })
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The tables

table!(FacilityRow, "facilities", key 1, {
    url: String, facility_id: String, name: Option<String>, parent_url: Option<String>,
    status: Option<String>, facility_type: Option<String>, shipping_disabled: Option<bool>,
    receiving_disabled: Option<bool>, finale_created: Option<DateTime<Utc>>,
    finale_last_updated: Option<DateTime<Utc>>, content_hash: Hash,
});

table!(PartyRow, "parties", key 1, {
    url: String, party_id: String, name: Option<String>, roles: Vec<String>,
    status: Option<String>, contacts: serde_json::Value, user_fields: serde_json::Value,
    finale_last_updated: Option<DateTime<Utc>>, content_hash: Hash,
});

table!(ProductRow, "products", key 1, {
    url: String, sku: String, name: Option<String>, status: Option<String>,
    product_type: Option<String>, category: Option<String>, upc: Option<String>,
    cost: Option<f64>, lead_time_days: Option<f64>, packing: Option<String>,
    list_price: Option<f64>, user_fields: serde_json::Value,
    finale_created: Option<DateTime<Utc>>, finale_last_updated: Option<DateTime<Utc>>,
    content_hash: Hash,
}, empty { suppliers, guidelines });

table!(SupplierLinkRow, "product_suppliers", key 0, {
    supplier_url: Option<String>, supplier_sku: Option<String>, pref_order_id: Option<String>,
    is_main: bool, price: Option<f64>, currency: Option<String>, lead_time_days: Option<f64>,
});

table!(GuidelineRow, "reorder_guidelines", key 0, {
    facility_url: Option<String>, reorder_point: Option<f64>, reorder_qty: Option<f64>,
    calculation_method: Option<String>,
});

table!(StockRow, "stock", key 2, {
    product_url: String, facility_url: String, on_hand: f64, reserved: f64, on_order: f64,
    content_hash: Hash,
});

table!(OrderRow, "orders", key 1, {
    url: String, order_id: String, order_type: String, status: Option<String>,
    order_date: Option<DateTime<Utc>>, order_day: Option<NaiveDate>,
    due_date: Option<DateTime<Utc>>, origin_facility_url: Option<String>,
    destination_facility_url: Option<String>, party_url: Option<String>, total: Option<f64>,
    reference_number: Option<String>, finale_created: Option<DateTime<Utc>>,
    finale_last_updated: Option<DateTime<Utc>>, content_hash: Hash,
}, empty { lines });

table!(LineRow, "order_lines", key 0, {
    order_item_url: Option<String>, product_url: Option<String>, product_id: Option<String>,
    quantity: f64, unit_price: Option<f64>,
});

table!(DailySalesRow, "daily_sales", key 2, {
    product_url: String, day: NaiveDate, units: f64, revenue: f64,
});

// Item rows without a `finale_id` were not created by the engine and are not part of the
// mirror: reading back keeps rows whose key is set (see the stores' `read_all`).
table!(ItemRow, "inventory_items", key 1, {
    finale_id: String, sku: String, name: Option<String>, stock: f64, available: f64,
    reorder_point: Option<f64>, reorder_quantity: Option<f64>, cost: Option<f64>,
    price: Option<f64>, sales_velocity: f64, sales_velocity_90d: f64,
    days_of_stock: Option<f64>, status: Option<String>, content_hash: Hash,
});

/// A stored product's prices, for [`Applied::price_changes`].
#[derive(Debug, Clone, PartialEq)]
pub struct OldPrices {
    /// Cost before the write.
    pub cost: Option<f64>,
    /// List price before the write.
    pub list_price: Option<f64>,
}
projection!(OldPrices, "products", { cost: Option<f64>, list_price: Option<f64> });

/// A stored order's type: a changed sales order's old lines need new daily sales.
#[derive(Debug, Clone, PartialEq)]
pub struct OldOrderType {
    /// `order_type` before the write.
    pub order_type: String,
}
projection!(OldOrderType, "orders", { order_type: String });

macro_rules! hashed {
    ($row:ty, $old:ty, |$r:ident| $key:expr) => {
        impl Hashed for $row {
            type Old = $old;
            fn content_hash(&self) -> &Hash {
                &self.content_hash
            }
            fn key(&self) -> Vec<&str> {
                let $r = self;
                $key
            }
        }
    };
}

hashed!(FacilityRow, (), |r| vec![r.url.as_str()]);
hashed!(PartyRow, (), |r| vec![r.url.as_str()]);
hashed!(ProductRow, OldPrices, |r| vec![r.url.as_str()]);
hashed!(OrderRow, OldOrderType, |r| vec![r.url.as_str()]);
hashed!(StockRow, (), |r| vec![
    r.product_url.as_str(),
    r.facility_url.as_str()
]);

macro_rules! child {
    ($child:ty, $parent:ty, $column:literal, $list:ident) => {
        impl Child<$parent> for $child {
            const PARENT: &'static str = $column;
            fn list(parent: &$parent) -> &[Self] {
                &parent.$list
            }
            fn list_mut(parent: &mut $parent) -> &mut Vec<Self> {
                &mut parent.$list
            }
        }
    };
}

child!(SupplierLinkRow, ProductRow, "product_url", suppliers);
child!(GuidelineRow, ProductRow, "product_url", guidelines);
child!(LineRow, OrderRow, "order_url", lines);

// ---------------------------------------------------------------------------------------------
// Shared logic

/// The rows with distinct keys, sorted by key; a key given twice counts once, with its last
/// value (one statement cannot touch a row twice). The order makes concurrent Postgres
/// batches (the smart strategy writes three at once) lock shared rows in the same order, so
/// they wait for each other instead of deadlocking.
pub fn last_wins<T: Hashed>(rows: &[T]) -> Vec<&T> {
    let by_key: BTreeMap<Vec<&str>, &T> = rows.iter().map(|r| (r.key(), r)).collect();
    by_key.into_values().collect()
}

/// A position as stored (`int4`).
pub fn seq(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// How a parent's new child list differs from the stored one, by position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListDiff {
    /// Positions with no stored row.
    pub insert: Vec<usize>,
    /// Positions whose stored row differs.
    pub update: Vec<usize>,
    /// Whether stored positions beyond the new list's length exist (to delete).
    pub shrink: bool,
}

/// Compares a new list with the stored rows by position: equal rows are left alone.
pub fn diff_list<C: PartialEq>(new: &[C], stored: &BTreeMap<i32, C>) -> ListDiff {
    let mut d = ListDiff::default();
    for (i, row) in new.iter().enumerate() {
        match stored.get(&seq(i)) {
            Some(old) if old == row => {}
            Some(_) => d.update.push(i),
            None => d.insert.push(i),
        }
    }
    d.shrink = stored.range(seq(new.len())..).next().is_some();
    d
}

/// A parent row a batch wrote, with the stored values it replaced (`None`: inserted).
#[derive(Debug)]
pub struct Written<'a, T: Hashed> {
    /// The row as written.
    pub row: &'a T,
    /// What the report needs of the stored row it replaced, if any.
    pub old: Option<T::Old>,
}

impl<T: Hashed> Written<'_, T> {
    /// Whether the row was new.
    pub fn inserted(&self) -> bool {
        self.old.is_none()
    }
}

/// Inserted/updated counts of written parents.
pub fn count<T: Hashed>(written: &[Written<'_, T>]) -> Writes {
    let inserted = written.iter().filter(|w| w.inserted()).count() as u64;
    Writes {
        inserted,
        updated: written.len() as u64 - inserted,
        deleted: 0,
    }
}

/// What a batch's writes add to [`Applied`], per table; both stores call these with what
/// they wrote, so the report means the same on both.
pub mod report {
    use super::*;

    /// Adds writes to a table's count (tables without writes stay absent).
    pub fn tally(out: &mut Applied, table: &'static str, w: Writes) {
        if w.total() > 0 {
            out.by_table.entry(table).or_default().add(w);
        }
    }

    /// Facilities written.
    pub fn facilities(out: &mut Applied, w: &[Written<'_, FacilityRow>]) {
        tally(out, FacilityRow::NAME, count(w));
    }

    /// Parties written: counted and listed.
    pub fn parties(out: &mut Applied, w: &[Written<'_, PartyRow>]) {
        tally(out, PartyRow::NAME, count(w));
        out.changed_parties
            .extend(w.iter().map(|w| w.row.url.clone()));
    }

    /// Products written with their children's writes: counted, listed, price changes.
    pub fn products(
        out: &mut Applied,
        w: &[Written<'_, ProductRow>],
        suppliers: Writes,
        guidelines: Writes,
    ) {
        tally(out, ProductRow::NAME, count(w));
        tally(out, SupplierLinkRow::NAME, suppliers);
        tally(out, GuidelineRow::NAME, guidelines);
        for p in w {
            if let Some(old) = &p.old
                && (old.cost != p.row.cost || old.list_price != p.row.list_price)
            {
                out.price_changes.push(PriceChange {
                    product_url: p.row.url.clone(),
                    cost: (old.cost, p.row.cost),
                    list_price: (old.list_price, p.row.list_price),
                });
            }
            out.changed_products.push(p.row.url.clone());
        }
    }

    /// Stock rows written.
    pub fn stock(out: &mut Applied, w: &[Written<'_, StockRow>]) {
        tally(out, StockRow::NAME, count(w));
        out.stock_products
            .extend(w.iter().map(|w| w.row.product_url.clone()));
    }

    /// Stock rows deleted (their products).
    pub fn stock_deleted(out: &mut Applied, products: Vec<String>) {
        tally(
            out,
            StockRow::NAME,
            Writes {
                deleted: products.len() as u64,
                ..Writes::default()
            },
        );
        out.stock_products.extend(products);
    }

    /// Orders written with their lines' writes and the stored lines of the replaced ones
    /// (index in `w` → lines): counted, new orders, and the products whose daily sales need
    /// recomputing (old and new lines of sales orders).
    pub fn orders(
        out: &mut Applied,
        w: &[Written<'_, OrderRow>],
        lines: Writes,
        old_lines: &BTreeMap<usize, Vec<LineRow>>,
    ) {
        let c = count(w);
        out.new_orders += c.inserted;
        tally(out, OrderRow::NAME, c);
        tally(out, LineRow::NAME, lines);
        for (i, o) in w.iter().enumerate() {
            if o.old
                .as_ref()
                .is_some_and(|old| old.order_type == SALES_ORDER)
            {
                let old = old_lines.get(&i).map(Vec::as_slice).unwrap_or_default();
                out.sales_products
                    .extend(old.iter().filter_map(|l| l.product_url.clone()));
            }
            if o.row.order_type == SALES_ORDER {
                out.sales_products
                    .extend(o.row.lines.iter().filter_map(|l| l.product_url.clone()));
            }
        }
    }

    /// Sorts and dedups the report's lists (a key may have been written by two tables).
    pub fn finish(out: &mut Applied) {
        for list in [
            &mut out.changed_products,
            &mut out.changed_parties,
            &mut out.stock_products,
            &mut out.sales_products,
        ] {
            list.sort_unstable();
            list.dedup();
        }
        out.price_changes
            .sort_by(|a, b| a.product_url.cmp(&b.product_url));
    }

    const SALES_ORDER: &str = "SALES_ORDER";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds<T: Table>(row: &T) -> Vec<Kind> {
        let mut v = Vec::new();
        row.values(&mut v);
        v.iter()
            .map(|v| match v {
                Value::Text(_) => Kind::Text,
                Value::Float(_) => Kind::Float,
                Value::Bool(_) => Kind::Bool,
                Value::Time(_) => Kind::Time,
                Value::Day(_) => Kind::Day,
                Value::Json(_) => Kind::Json,
                Value::TextList(_) => Kind::TextList,
                Value::Hash(_) => Kind::Hash,
                Value::Seq(_) => Kind::Seq,
            })
            .collect()
    }

    fn described<T: Table>() -> Vec<Kind> {
        T::COLUMNS.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn values_follow_the_described_columns() {
        let stock = StockRow::new("p".into(), "f".into(), 1.0, 0.0, 0.0);
        assert_eq!(kinds(&stock), described::<StockRow>());
        assert_eq!(StockRow::KEY, 2);
        assert_eq!(Hashed::key(&stock), vec!["p", "f"]);
        let line = LineRow {
            order_item_url: None,
            product_url: Some("p".into()),
            product_id: None,
            quantity: 2.0,
            unit_price: None,
        };
        assert_eq!(kinds(&line), described::<LineRow>());
        assert_eq!(
            <LineRow as Child<OrderRow>>::PARENT,
            "order_url",
            "lines hang off orders"
        );
    }

    /// A source that yields values from a list, to read rows without a store.
    struct Listed(std::vec::IntoIter<Owned>);
    impl Source for Listed {
        fn next(&mut self, _: &Column) -> Result<Owned, StoreError> {
            self.0.next().ok_or_else(|| StoreError::Corrupt {
                what: "no more values".into(),
            })
        }
    }

    #[test]
    fn rows_are_read_back_column_by_column_and_nulls_in_required_fields_are_corrupt() {
        let stock = StockRow::new("p".into(), "f".into(), 1.5, 0.5, 0.0);
        let owned = vec![
            Owned::Text(Some("p".into())),
            Owned::Text(Some("f".into())),
            Owned::Float(Some(1.5)),
            Owned::Float(Some(0.5)),
            Owned::Float(Some(0.0)),
            Owned::Hash(Some(stock.content_hash)),
        ];
        let back = StockRow::read(&mut Listed(owned.clone().into_iter())).unwrap();
        assert_eq!(back, stock);

        let mut bad = owned.clone();
        bad[2] = Owned::Float(None);
        let err = StockRow::read(&mut Listed(bad.into_iter())).unwrap_err();
        assert!(err.to_string().contains("stock.on_hand"), "{err}");

        let mut wrong = owned;
        wrong[0] = Owned::Float(Some(1.0));
        assert!(StockRow::read(&mut Listed(wrong.into_iter())).is_err());
    }

    #[test]
    fn lists_are_diffed_by_position() {
        let stored: BTreeMap<i32, u8> = [(0, 1), (1, 2), (2, 3)].into_iter().collect();
        assert_eq!(
            diff_list(&[1, 9], &stored),
            ListDiff {
                insert: vec![],
                update: vec![1],
                shrink: true,
            }
        );
        assert_eq!(
            diff_list(&[1, 2, 3, 4], &stored),
            ListDiff {
                insert: vec![3],
                update: vec![],
                shrink: false,
            }
        );
        assert_eq!(diff_list::<u8>(&[], &BTreeMap::new()), ListDiff::default());
    }

    #[test]
    fn the_last_value_of_a_key_wins_and_rows_come_sorted() {
        let a1 = StockRow::new("b".into(), "f".into(), 1.0, 0.0, 0.0);
        let b = StockRow::new("a".into(), "f".into(), 1.0, 0.0, 0.0);
        let a2 = StockRow::new("b".into(), "f".into(), 2.0, 0.0, 0.0);
        let rows = [a1, b.clone(), a2.clone()];
        let kept: Vec<&StockRow> = last_wins(&rows);
        assert_eq!(kept, vec![&b, &a2]);
    }
}
