//! Streaming decoder for Finale's column-major collection payloads.
//!
//! # The wire model
//!
//! A `GET` on a collection URL returns ONE JSON object whose keys are field names and whose
//! values are parallel arrays: index `i` across all arrays is record `i`
//! (finale-api.md §6.1). Real payloads are ragged: optional columns (notably `actionUrl*`)
//! may be missing or shorter than the others, a column may be `null`, an empty collection may
//! be `{}`. Nested lists (`supplierList`, `orderItemList`, ...) are arrays of arrays of
//! objects. A single record (`GET {recordUrl}`) is the same field set as a plain object.
//!
//! # How it decodes
//!
//! No intermediate `serde_json::Value` is built. A [`DeserializeSeed`] map visitor resolves
//! each key ONCE to a column id of the target record's *row builder* (see [`Columns`]), then
//! walks that column with `next_element_seed` in a loop specialised for the column's cell
//! kind, appending each cell to that column's own contiguous buffer in the row builder's
//! *table* (`Vec<Option<_>>` per column, index = row). Once one column has been read, the
//! others are sized for the same length up front. Unknown columns are skipped with
//! [`IgnoredAny`]. A column that appears twice overwrites the earlier cells with its
//! non-`null` ones. The row count is the length of the LONGEST column; cells a shorter column
//! does not reach stay `None`.
//!
//! Writing column by column into one buffer per column keeps every write sequential; the
//! table is then turned into rows in a single pass that reads all column buffers in step
//! (one transposition), instead of striding across a vector of wide row builders once per
//! column.
//!
//! Cells are decoded leniently by a [`Cell`] kind:
//! * scalar kinds accept what Finale plausibly sends (a number or a numeric string for a
//!   quantity, a number or a string for an id, `null` for nothing); a wrong type becomes a
//!   [`RecordError`] with the raw text and leaves the field `None` — it never fails the page;
//! * nested-list kinds borrow the cell as a [`RawValue`] (a cheap scan, no allocation) and
//!   then parse each element typed, so one bad nested object is a per-record error that
//!   carries its own raw text.
//! * shared-string kinds ([`SharedText`]) keep per-column state while a column is read and
//!   see the column's previous cell, so a repeated value (a product's URL over its stock rows,
//!   one of a few dozen facility URLs) is a refcount increment on one `Arc<str>` instead of
//!   an allocation and a copy.
//!
//! Once the page is read, the table is walked row by row and each row is turned into its
//! record; a row whose required field (the record URL) is missing or invalid goes to
//! [`Decoded::errors`] instead of [`Decoded::records`], and the rest of the page survives. Only a body that is not a JSON
//! object at all (truncated, HTML, an array, ...) is a [`DecodeError`] for the whole page,
//! which the executor treats as retryable.
//!
//! # Timestamps
//!
//! REST timestamps are `YYYY-MM-DDTHH:MM:SS[.fff]` without an offset; they are read as local
//! time in [`DecodeContext::timestamp_zone`]: UTC by default (finale-api.md §15b: Finale's
//! own build example has `createdDate` equal to its `txStamp` epoch seconds read as UTC), the
//! account's zone when `FINALE_TIMESTAMPS=account` (see [`crate::TimestampZone`]). The
//! account's business day is not decided here. A `Z` or numeric offset is honoured; a date alone means local midnight. In a DST fold the earlier instant wins; a
//! wall time inside a DST gap (which never happened) maps to the earliest valid instant after
//! it, i.e. the end of the gap. `txStamp` values are epoch seconds.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;

use crate::collection::Collection;

/// What the decoder needs to know about the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeContext {
    /// Zone of timestamps that carry no offset (Finale's usual format): UTC, or the account's
    /// zone under `FINALE_TIMESTAMPS=account` ([`crate::FinaleConfig::timestamp_zone`]).
    pub timestamp_zone: Tz,
}

impl Default for DecodeContext {
    fn default() -> Self {
        Self {
            timestamp_zone: Tz::UTC,
        }
    }
}

/// The outcome of decoding one page: the good records and the per-record problems.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// Records that decoded (possibly with some optional fields left `None`, see `errors`).
    pub records: Vec<T>,
    /// Every cell or record that could not be decoded, in page order.
    pub errors: Vec<RecordError>,
    /// The response reached Finale's entity cap ([`crate::FinaleConfig::cap`]: at least
    /// `cap` rows): Finale silently truncates larger collections (finale-api.md §8.2), so the
    /// page may be missing records and is no evidence that anything is absent. Set by the
    /// client on every collection read, filtered or not; the pure decoders leave it `false`.
    pub capped: bool,
}

impl<T> Default for Decoded<T> {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            errors: Vec::new(),
            capped: false,
        }
    }
}

/// One bad cell or record. A record with a bad optional cell is still delivered (with that
/// field `None`); a record whose required field is bad is not delivered at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("record {index}{}: field `{field}`: {reason} (raw: {raw})", key.as_ref().map(|k| format!(" ({k})")).unwrap_or_default())]
pub struct RecordError {
    /// Row index within the page (0 for a single-record read).
    pub index: usize,
    /// Finale's field name (e.g. `quantityOnHand`, `supplierList[2]`).
    pub field: String,
    /// The raw JSON text of the offending value (truncated to a few hundred bytes).
    pub raw: String,
    /// Why it was rejected.
    pub reason: String,
    /// The record's key (its URL) if that much could be read.
    pub key: Option<String>,
}

/// A page that could not be decoded at all.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body ended early (connection dropped mid-body, or empty body).
    #[error("response body is truncated: {source}")]
    Truncated {
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The body is not JSON (an HTML error page, garbage).
    #[error("response body is not valid JSON: {source}")]
    Syntax {
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// Valid JSON, but not an object of columns (an array, a string, a column that is not
    /// an array, ...).
    #[error("response body is not a Finale {expected} object: {source}")]
    Shape {
        /// What was expected ("column-major collection" or "record").
        expected: &'static str,
        /// The JSON parser's error.
        #[source]
        source: serde_json::Error,
    },
}

impl DecodeError {
    fn from_json(source: serde_json::Error, expected: &'static str) -> Self {
        match source.classify() {
            serde_json::error::Category::Eof => DecodeError::Truncated { source },
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                DecodeError::Syntax { source }
            }
            serde_json::error::Category::Data => DecodeError::Shape { expected, source },
        }
    }
}

/// A record type that can be read from a Finale collection.
pub trait FinaleRecord:
    Sized + Send + 'static + serde::Serialize + Clone + std::fmt::Debug
{
    /// The collection the record lives in.
    const COLLECTION: Collection;
    /// The row builder the decoder fills cell by cell (generated by `record_columns!`).
    #[doc(hidden)]
    type Row: Columns;
    /// The stable key: the record URL, borrowed; for inventory items a composite key built on
    /// demand (stock rows are never windowed, so the hot decode path never pays for it).
    fn key(&self) -> std::borrow::Cow<'_, str>;
    /// Finale's `lastUpdatedDate`, if the record has one.
    fn last_updated(&self) -> Option<DateTime<Utc>>;
    /// Turn a filled row into a record, or name the required field that is missing/invalid.
    #[doc(hidden)]
    fn from_row(row: Self::Row) -> Result<Self, Missing>;
}

/// A required field that is missing or invalid in a row.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Finale's field name.
    pub field: &'static str,
    /// Why (e.g. "missing", "not a record URL").
    pub reason: &'static str,
    /// The value that was found, if any.
    pub raw: Option<String>,
    /// The record key, if it had been read before the problem was found.
    pub key: Option<String>,
}

/// A row builder: one `Option` per known column. The decoder does not fill rows directly: it
/// fills the row type's column [`Table`](Columns::Table) (one contiguous buffer per column)
/// and then reads the rows out of it in one sequential pass.
#[doc(hidden)]
pub trait Columns: Sized + Send {
    /// The column id a key resolves to.
    type Col: Copy;
    /// The column buffers: one `Vec<Option<_>>` per known column, index = row.
    type Table: Default + Send;
    /// Resolve a JSON key to a column (None = unknown, skipped).
    fn column(name: &str) -> Option<Self::Col>;
    /// Finale's name of a column (for error reports).
    fn column_name(col: Self::Col) -> &'static str;
    /// Decode cell `i` of `col` into the table. Cells of a column arrive in order
    /// (`i` = 0, 1, 2, ...); a cell of a column that already holds a value at `i` (a repeated
    /// key, or a single record's object) replaces it only if it is not `None`.
    fn decode_cell<'de, D: de::Deserializer<'de>>(
        table: &mut Self::Table,
        col: Self::Col,
        i: usize,
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<(), D::Error>;
    /// Read a whole column array into the table, cell `i` of the array into row `i`
    /// (see [`read_column`]); cell errors go to `errs` with their row index.
    fn read_column<'de, A: SeqAccess<'de>>(
        table: &mut Self::Table,
        col: Self::Col,
        seq: A,
        ctx: &DecodeContext,
        errs: &mut Vec<(usize, &'static str, CellError)>,
    ) -> Result<(), A::Error>;
    /// The length of the longest column.
    fn len(table: &Self::Table) -> usize;
    /// The first `n` rows, in order; cells a shorter column does not reach are `None`.
    fn rows(table: Self::Table, n: usize) -> impl Iterator<Item = Self>;
    /// The record key if it has been read (for error reports).
    fn key_hint(&self) -> Option<String>;
}

/// Store cell `i` of a column buffer (see [`Columns::decode_cell`]).
#[doc(hidden)]
#[inline(always)]
pub fn put_cell<T>(column: &mut Vec<Option<T>>, i: usize, v: Option<T>) {
    if let Some(slot) = column.get_mut(i) {
        if v.is_some() {
            *slot = v;
        }
    } else {
        // Cells arrive in order, so `i == column.len()` here.
        column.resize_with(i, || None);
        column.push(v);
    }
}

/// A problem with one cell (or one element of a nested list cell).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// Suffix appended to the column name, e.g. `[3]` for a nested element.
    pub suffix: String,
    /// Raw JSON text.
    pub raw: String,
    /// Why it was rejected.
    pub reason: String,
}

const RAW_LIMIT: usize = 400;

fn clip(mut s: String) -> String {
    if s.len() > RAW_LIMIT {
        let mut cut = RAW_LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn cell_err(raw: impl Into<String>, reason: impl Into<String>) -> CellError {
    CellError {
        suffix: String::new(),
        raw: clip(raw.into()),
        reason: reason.into(),
    }
}

/// Decode a column-major collection page into typed records.
///
/// Fails only when the body is not a JSON object of columns; bad cells and bad records are
/// reported in [`Decoded::errors`].
pub fn decode_collection<T: FinaleRecord>(
    body: &[u8],
    ctx: &DecodeContext,
) -> Result<Decoded<T>, DecodeError> {
    decode_page(body, ctx).map(|(d, _)| d)
}

/// [`decode_collection`] plus the page's row count (good records + skipped rows), which is
/// what the cap/limit split decision needs.
pub(crate) fn decode_page<T: FinaleRecord>(
    body: &[u8],
    ctx: &DecodeContext,
) -> Result<(Decoded<T>, usize), DecodeError> {
    let mut table = <T::Row as Columns>::Table::default();
    let mut errs: Vec<(usize, &'static str, CellError)> = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = PageSeed::<T::Row> {
        table: &mut table,
        errs: &mut errs,
        ctx,
    };
    seed.deserialize(&mut de)
        .map_err(|e| DecodeError::from_json(e, "column-major collection"))?;
    de.end()
        .map_err(|e| DecodeError::from_json(e, "column-major collection"))?;
    let n = T::Row::len(&table);
    Ok((finish_rows::<T>(table, n, errs), n))
}

/// Decode a single record (`GET {recordUrl}`: a plain object with the same field names).
/// The result holds at most one record; a record with a missing key lands in `errors`.
pub fn decode_record<T: FinaleRecord>(
    body: &[u8],
    ctx: &DecodeContext,
) -> Result<Decoded<T>, DecodeError> {
    let mut table = <T::Row as Columns>::Table::default();
    let mut errs: Vec<(usize, &'static str, CellError)> = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = RecordSeed::<T::Row> {
        table: &mut table,
        errs: &mut errs,
        ctx,
    };
    seed.deserialize(&mut de)
        .map_err(|e| DecodeError::from_json(e, "record"))?;
    de.end().map_err(|e| DecodeError::from_json(e, "record"))?;
    // Always exactly one row, even for `{}` (which reports the missing key).
    Ok(finish_rows::<T>(table, 1, errs))
}

fn finish_rows<T: FinaleRecord>(
    table: <T::Row as Columns>::Table,
    n: usize,
    mut errs: Vec<(usize, &'static str, CellError)>,
) -> Decoded<T> {
    // Cell errors were collected column by column; report them in row order.
    errs.sort_by_key(|(i, _, _)| *i);
    let mut cell_errs = errs.into_iter().peekable();
    let mut out = Decoded {
        records: Vec::with_capacity(n),
        errors: Vec::new(),
        capped: false,
    };
    for (index, row) in T::Row::rows(table, n).enumerate() {
        // The key is cloned only for rows that have something to report.
        let key = match cell_errs.peek() {
            Some((i, _, _)) if *i == index => row.key_hint(),
            _ => None,
        };
        while let Some((_, field, e)) = cell_errs.next_if(|(i, _, _)| *i == index) {
            out.errors.push(RecordError {
                index,
                field: format!("{field}{}", e.suffix),
                raw: e.raw,
                reason: e.reason,
                key: key.clone(),
            });
        }
        match T::from_row(row) {
            Ok(rec) => out.records.push(rec),
            Err(m) => out.errors.push(RecordError {
                index,
                field: m.field.to_owned(),
                raw: m.raw.unwrap_or_else(|| "null".to_owned()),
                reason: format!("required field {}; record skipped", m.reason),
                key: m.key.or(key),
            }),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Seeds and visitors
// ---------------------------------------------------------------------------------------

type ErrSink<'a> = &'a mut Vec<(usize, &'static str, CellError)>;

struct PageSeed<'a, R: Columns> {
    table: &'a mut R::Table,
    errs: ErrSink<'a>,
    ctx: &'a DecodeContext,
}

impl<'de, R: Columns> DeserializeSeed<'de> for PageSeed<'_, R> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: Columns> Visitor<'de> for PageSeed<'_, R> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of parallel column arrays")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(col) = map.next_key_seed(KeySeed::<R>(PhantomData))? {
            match col {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(col) => {
                    map.next_value_seed(ColumnSeed::<R> {
                        table: &mut *self.table,
                        col,
                        errs: &mut *self.errs,
                        ctx: self.ctx,
                    })?;
                }
            }
        }
        Ok(())
    }
}

struct RecordSeed<'a, R: Columns> {
    table: &'a mut R::Table,
    errs: ErrSink<'a>,
    ctx: &'a DecodeContext,
}

impl<'de, R: Columns> DeserializeSeed<'de> for RecordSeed<'_, R> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: Columns> Visitor<'de> for RecordSeed<'_, R> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut cell_errs = Vec::new();
        while let Some(col) = map.next_key_seed(KeySeed::<R>(PhantomData))? {
            match col {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(col) => {
                    map.next_value_seed(CellSeed::<R> {
                        table: &mut *self.table,
                        col,
                        i: 0,
                        errs: &mut cell_errs,
                        ctx: self.ctx,
                    })?;
                    for e in cell_errs.drain(..) {
                        self.errs.push((0, R::column_name(col), e));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Resolves a key to a column without allocating (keys are almost always borrowed).
struct KeySeed<R>(PhantomData<R>);

impl<'de, R: Columns> DeserializeSeed<'de> for KeySeed<R> {
    type Value = Option<R::Col>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, R: Columns> Visitor<'de> for KeySeed<R> {
    type Value = Option<R::Col>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(R::column(v))
    }
}

struct ColumnSeed<'a, R: Columns> {
    table: &'a mut R::Table,
    col: R::Col,
    errs: ErrSink<'a>,
    ctx: &'a DecodeContext,
}

impl<'de, R: Columns> DeserializeSeed<'de> for ColumnSeed<'_, R> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R: Columns> Visitor<'de> for ColumnSeed<'_, R> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array for column `{}`", R::column_name(self.col))
    }
    /// A `null` column is the same as an absent one.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        R::read_column(self.table, self.col, seq, self.ctx, self.errs)
    }
}

/// Read one column array into its buffer (monomorphised per cell kind, so the per-cell loop
/// has no column dispatch). `rows` is the length of the longest column read so far: columns
/// are parallel, so the buffer is sized for that many cells up front.
#[doc(hidden)]
pub fn read_column<'de, C: Cell, A: SeqAccess<'de>>(
    column: &mut Vec<Option<C::Out>>,
    rows: usize,
    name: &'static str,
    mut seq: A,
    ctx: &DecodeContext,
    errs: &mut Vec<(usize, &'static str, CellError)>,
) -> Result<(), A::Error> {
    column.reserve(rows.saturating_sub(column.len()));
    let mut cell_errs = Vec::new();
    let mut state = C::State::default();
    let mut i = 0usize;
    while let Some(v) = seq.next_element_seed(CellKindSeed::<C> {
        state: &mut state,
        prev: i.checked_sub(1).and_then(|p| column.get(p)?.as_ref()),
        errs: &mut cell_errs,
        ctx,
    })? {
        put_cell(column, i, v);
        if !cell_errs.is_empty() {
            for e in cell_errs.drain(..) {
                errs.push((i, name, e));
            }
        }
        i += 1;
    }
    Ok(())
}

/// One cell of a known kind.
struct CellKindSeed<'a, C: Cell> {
    state: &'a mut C::State,
    prev: Option<&'a C::Out>,
    errs: &'a mut Vec<CellError>,
    ctx: &'a DecodeContext,
}

impl<'de, C: Cell> DeserializeSeed<'de> for CellKindSeed<'_, C> {
    type Value = Option<C::Out>;
    #[inline]
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        C::decode_in(self.state, self.prev, d, self.ctx, self.errs)
    }
}

struct CellSeed<'a, R: Columns> {
    table: &'a mut R::Table,
    col: R::Col,
    i: usize,
    errs: &'a mut Vec<CellError>,
    ctx: &'a DecodeContext,
}

impl<'de, R: Columns> DeserializeSeed<'de> for CellSeed<'_, R> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        R::decode_cell(self.table, self.col, self.i, d, self.ctx, self.errs)
    }
}

// ---------------------------------------------------------------------------------------
// Cell kinds
// ---------------------------------------------------------------------------------------

/// How one cell is decoded: what it accepts and what it yields.
#[doc(hidden)]
pub trait Cell {
    /// The decoded value.
    type Out;
    /// What the kind remembers from one cell to the next while a column is read (e.g. the
    /// strings it can share, see [`SharedText`]); `()` for most kinds.
    type State: Default;
    /// Decode a cell; `Ok(None)` for null/absent or a rejected value (reported in `errs`).
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Self::Out>, D::Error>;
    /// Decode the next cell of a column, with the column's state and its previous cell (if
    /// any); the result must equal [`Cell::decode`]'s.
    #[inline]
    fn decode_in<'de, D: de::Deserializer<'de>>(
        _state: &mut Self::State,
        _prev: Option<&Self::Out>,
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Self::Out>, D::Error> {
        Self::decode(d, ctx, errs)
    }
}

/// Any JSON scalar, borrowed where possible; compound values keep their raw text.
enum Scalar<'de> {
    Null,
    Str(std::borrow::Cow<'de, str>),
    U(u64),
    I(i64),
    F(f64),
    Bool(bool),
    Compound(String),
}

impl Scalar<'_> {
    fn raw(&self) -> String {
        match self {
            Scalar::Null => "null".to_owned(),
            Scalar::Str(s) => serde_json::to_string(s.as_ref()).unwrap_or_default(),
            Scalar::U(v) => v.to_string(),
            Scalar::I(v) => v.to_string(),
            Scalar::F(v) => v.to_string(),
            Scalar::Bool(v) => v.to_string(),
            Scalar::Compound(s) => s.clone(),
        }
    }
}

/// Compound values in a scalar cell are an error, but a rare one: keep their text.
fn compound_map<'de, A: MapAccess<'de>>(map: A) -> Result<Scalar<'de>, A::Error> {
    let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
    Ok(Scalar::Compound(v.to_string()))
}

/// See [`compound_map`].
fn compound_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Scalar<'de>, A::Error> {
    let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
    Ok(Scalar::Compound(v.to_string()))
}

/// Any JSON scalar, for the general rules: a [`FastCell`] whose fast paths never fire, so
/// the one visitor below serves both the fast and the general path.
struct AnyScalar;

impl FastCell for AnyScalar {
    type Out = std::convert::Infallible;
}

fn scalar<'de, D: de::Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
    Ok(
        match d.deserialize_any(FastVisitor::<AnyScalar>(PhantomData))? {
            Fast::Slow(s) => s,
            Fast::Val(None) => Scalar::Null,
            Fast::Val(Some(never)) => match never {},
        },
    )
}

/// The outcome of a [`FastCell`] visitor: the usual cases are decided inside the visitor, so
/// the value goes straight from the parser into the cell; anything else comes back as a
/// [`Scalar`] for the kind's general (lenient, error-reporting) rules.
enum Fast<'de, T> {
    Val(Option<T>),
    Slow(Scalar<'de>),
}

/// A scalar cell kind with fast paths; every default defers to the general rules.
trait FastCell {
    type Out;
    fn from_u64<'de>(v: u64) -> Fast<'de, Self::Out> {
        Fast::Slow(Scalar::U(v))
    }
    fn from_i64<'de>(v: i64) -> Fast<'de, Self::Out> {
        Fast::Slow(Scalar::I(v))
    }
    fn from_f64<'de>(v: f64) -> Fast<'de, Self::Out> {
        Fast::Slow(Scalar::F(v))
    }
    fn from_str(v: std::borrow::Cow<'_, str>) -> Fast<'_, Self::Out> {
        Fast::Slow(Scalar::Str(v))
    }
}

struct FastVisitor<K>(PhantomData<K>);

impl<'de, K: FastCell> Visitor<'de> for FastVisitor<K> {
    type Value = Fast<'de, K::Out>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fast::Val(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fast::Val(None))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Fast::Slow(Scalar::Bool(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(K::from_u64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(K::from_i64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(K::from_f64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(K::from_str(std::borrow::Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(K::from_str(std::borrow::Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(K::from_str(std::borrow::Cow::Owned(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        compound_map(map).map(Fast::Slow)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        compound_seq(seq).map(Fast::Slow)
    }
}

/// A string cell; numbers are accepted and kept as their decimal text (numeric ids).
#[doc(hidden)]
#[derive(Debug)]
pub struct Text;

impl FastCell for Text {
    type Out = String;
    fn from_u64<'de>(v: u64) -> Fast<'de, String> {
        Fast::Val(Some(v.to_string()))
    }
    fn from_i64<'de>(v: i64) -> Fast<'de, String> {
        Fast::Val(Some(v.to_string()))
    }
    fn from_str(v: std::borrow::Cow<'_, str>) -> Fast<'_, String> {
        Fast::Val(Some(v.into_owned()))
    }
}

impl Cell for Text {
    type Out = String;
    type State = ();
    #[inline]
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<String>, D::Error> {
        let s = match d.deserialize_any(FastVisitor::<Text>(PhantomData))? {
            Fast::Val(v) => return Ok(v),
            Fast::Slow(s) => s,
        };
        Ok(text_of(s, errs).map(Cow::into_owned))
    }
}

/// The [`Text`] rules for a scalar: a string as is, a finite number as its decimal text,
/// `null` as `None`; anything else is reported.
fn text_of<'de>(s: Scalar<'de>, errs: &mut Vec<CellError>) -> Option<Cow<'de, str>> {
    match s {
        Scalar::Null => None,
        Scalar::Str(v) => Some(v),
        Scalar::U(v) => Some(Cow::Owned(v.to_string())),
        Scalar::I(v) => Some(Cow::Owned(v.to_string())),
        Scalar::F(v) if v.is_finite() => Some(Cow::Owned(v.to_string())),
        other => {
            errs.push(cell_err(other.raw(), "expected a string"));
            None
        }
    }
}

/// A [`Text`] cell kept as a shared `Arc<str>`: a cell equal to the previous one of its
/// column reuses that string (a refcount increment instead of an allocation and a copy);
/// with `INTERN`, so does a cell equal to any earlier one of the column (for columns with few
/// distinct values in any order, such as facility URLs). Sharing is per column of one page.
#[doc(hidden)]
#[derive(Debug)]
pub struct SharedText<const INTERN: bool>;

/// The slots of an interning column's table (a power of two); at most three quarters are
/// filled, so a column of unique values never builds a large table: past that, new values
/// are still shared with the previous cell, just not interned.
const INTERN_SLOTS: usize = 256;

/// The distinct strings a [`SharedText`] column with `INTERN` has handed out: an
/// open-addressing table, built on first use (never for a column without `INTERN`).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct StrCache<const INTERN: bool> {
    seen: Vec<Option<Arc<str>>>,
    filled: usize,
}

/// String equality that looks at the last byte first: values of one column mostly share a
/// prefix (`/acme/api/product/...`) and differ at the end.
#[inline(always)]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.last() == b.last() && a == b
}

impl<const INTERN: bool> StrCache<INTERN> {
    /// `s` as a shared string: `prev` (the column's previous cell) if equal, else an equal
    /// string handed out before (with `INTERN`), else a new one.
    #[inline]
    pub(crate) fn share(&mut self, prev: Option<&Arc<str>>, s: &str) -> Arc<str> {
        match prev {
            Some(p) if same(p, s) => Arc::clone(p),
            _ if INTERN => self.intern(s),
            _ => Arc::from(s),
        }
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if self.seen.is_empty() {
            self.seen.resize(INTERN_SLOTS, None);
        }
        // Values of one column usually differ in their last bytes (ids at the end of URLs).
        let b = s.as_bytes();
        let mut tail = [0u8; 8];
        let k = b.len().min(8);
        tail[..k].copy_from_slice(&b[b.len() - k..]);
        let h = (u64::from_le_bytes(tail) ^ b.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = (h >> 56) as usize;
        loop {
            match &self.seen[i % INTERN_SLOTS] {
                Some(v) if same(v, s) => return Arc::clone(v),
                Some(_) => i += 1,
                None => break,
            }
        }
        let v: Arc<str> = Arc::from(s);
        if self.filled < INTERN_SLOTS / 4 * 3 {
            self.seen[i % INTERN_SLOTS] = Some(Arc::clone(&v));
            self.filled += 1;
        }
        v
    }
}

/// Decides the usual cells of a [`SharedText`] column inside the visitor (see [`Fast`]), so
/// a borrowed string is compared with the shared ones without being copied first.
struct ShareVisitor<'a, const INTERN: bool>(&'a mut StrCache<INTERN>, Option<&'a Arc<str>>);

impl<'de, const INTERN: bool> Visitor<'de> for ShareVisitor<'_, INTERN> {
    type Value = Fast<'de, Arc<str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fast::Val(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fast::Val(None))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Fast::Slow(Scalar::Bool(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Fast::Slow(Scalar::U(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Fast::Slow(Scalar::I(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Fast::Slow(Scalar::F(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Fast::Val(Some(self.0.share(self.1, v))))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        compound_map(map).map(Fast::Slow)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        compound_seq(seq).map(Fast::Slow)
    }
}

impl<const INTERN: bool> Cell for SharedText<INTERN> {
    type Out = Arc<str>;
    type State = StrCache<INTERN>;
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Arc<str>>, D::Error> {
        Self::decode_in(&mut StrCache::default(), None, d, ctx, errs)
    }
    #[inline]
    fn decode_in<'de, D: de::Deserializer<'de>>(
        state: &mut StrCache<INTERN>,
        prev: Option<&Arc<str>>,
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Arc<str>>, D::Error> {
        Ok(match d.deserialize_any(ShareVisitor(&mut *state, prev))? {
            Fast::Val(v) => v,
            Fast::Slow(s) => text_of(s, errs).map(|t| state.share(prev, &t)),
        })
    }
}

/// A number cell (quantity, money); numeric strings such as `"12.5"` are accepted, an
/// empty string is `None`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Num;

/// Parse a plain numeric string (no thousands separators: REST sends raw numbers).
fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim();
    let v: f64 = t.parse().ok()?;
    v.is_finite().then_some(v)
}

impl FastCell for Num {
    type Out = f64;
    fn from_u64<'de>(v: u64) -> Fast<'de, f64> {
        Fast::Val(Some(v as f64))
    }
    fn from_i64<'de>(v: i64) -> Fast<'de, f64> {
        Fast::Val(Some(v as f64))
    }
    fn from_f64<'de>(v: f64) -> Fast<'de, f64> {
        Fast::Val(Some(v))
    }
}

impl Cell for Num {
    type Out = f64;
    type State = ();
    #[inline]
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<f64>, D::Error> {
        let s = match d.deserialize_any(FastVisitor::<Num>(PhantomData))? {
            Fast::Val(v) => return Ok(v),
            Fast::Slow(s) => s,
        };
        Ok(match s {
            Scalar::Null => None,
            Scalar::U(v) => Some(v as f64),
            Scalar::I(v) => Some(v as f64),
            Scalar::F(v) => Some(v),
            Scalar::Str(ref v) if v.trim().is_empty() => None,
            Scalar::Str(ref v) => match parse_num(v) {
                Some(n) => Some(n),
                None => {
                    errs.push(cell_err(s.raw(), "expected a number"));
                    None
                }
            },
            other => {
                errs.push(cell_err(other.raw(), "expected a number"));
                None
            }
        })
    }
}

/// A timestamp cell: see the module docs for the accepted forms; an integer is epoch seconds.
#[doc(hidden)]
#[derive(Debug)]
pub struct Stamp;

impl Cell for Stamp {
    type Out = DateTime<Utc>;
    type State = ();
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = scalar(d)?;
        let res = match &s {
            Scalar::Null => return Ok(None),
            Scalar::Str(v) if v.trim().is_empty() => return Ok(None),
            Scalar::Str(v) => parse_timestamp(v, ctx.timestamp_zone),
            Scalar::U(v) => i64::try_from(*v)
                .ok()
                .and_then(|v| DateTime::from_timestamp(v, 0))
                .ok_or("epoch seconds out of range"),
            Scalar::I(v) => DateTime::from_timestamp(*v, 0).ok_or("epoch seconds out of range"),
            _ => Err("expected a timestamp string"),
        };
        Ok(match res {
            Ok(t) => Some(t),
            Err(reason) => {
                errs.push(cell_err(s.raw(), reason));
                None
            }
        })
    }
}

/// A date-only cell (`dueDate`): Finale writes a local date as a timestamp with a fixed clock
/// time (`2019-07-30T16:00:00`, finale-api.md §15b), so the date part IS the date, whatever
/// the zones. It is kept as midnight UTC of that date (its UTC date is the date); a value
/// that does not start with `YYYY-MM-DD` is a cell error.
#[doc(hidden)]
#[derive(Debug)]
pub struct Day;

impl Cell for Day {
    type Out = DateTime<Utc>;
    type State = ();
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = scalar(d)?;
        let res = match &s {
            Scalar::Null => return Ok(None),
            Scalar::Str(v) if v.trim().is_empty() => return Ok(None),
            Scalar::Str(v) => v
                .trim()
                .get(..10)
                .and_then(|head| NaiveDate::parse_from_str(head, "%Y-%m-%d").ok())
                .map(|date| date.and_time(NaiveTime::MIN).and_utc())
                .ok_or("expected a date (YYYY-MM-DD...)"),
            _ => Err("expected a date string"),
        };
        Ok(match res {
            Ok(t) => Some(t),
            Err(reason) => {
                errs.push(cell_err(s.raw(), reason));
                None
            }
        })
    }
}

/// A boolean cell; `"true"`/`"false"` strings and 0/1 are accepted.
#[doc(hidden)]
#[derive(Debug)]
pub struct Flag;

impl Cell for Flag {
    type Out = bool;
    type State = ();
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<bool>, D::Error> {
        let s = scalar(d)?;
        Ok(match &s {
            Scalar::Null => None,
            Scalar::Bool(b) => Some(*b),
            Scalar::U(0) | Scalar::I(0) => Some(false),
            Scalar::U(1) | Scalar::I(1) => Some(true),
            Scalar::Str(v) if v.eq_ignore_ascii_case("true") => Some(true),
            Scalar::Str(v) if v.eq_ignore_ascii_case("false") => Some(false),
            _ => {
                errs.push(cell_err(s.raw(), "expected a boolean"));
                None
            }
        })
    }
}

/// A nested list cell of `W` elements, each parsed on its own: a bad element is dropped
/// and reported with its raw text; the good ones are kept.
#[doc(hidden)]
#[derive(Debug)]
pub struct List<W>(PhantomData<W>);

/// Like [`List`], but any bad element makes the whole cell `None` (used where a partial
/// list would be silently wrong, e.g. order lines: `None` makes the client re-fetch them).
#[doc(hidden)]
#[derive(Debug)]
pub struct StrictList<W>(PhantomData<W>);

fn decode_list<'de, D: de::Deserializer<'de>, W: DeserializeOwned>(
    d: D,
    errs: &mut Vec<CellError>,
) -> Result<Option<(Vec<W>, usize)>, D::Error> {
    let raw: Option<&'de RawValue> = Option::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    let elems: Vec<&RawValue> = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(e) => {
            errs.push(cell_err(raw.get(), format!("expected a list: {e}")));
            return Ok(None);
        }
    };
    let mut out = Vec::with_capacity(elems.len());
    let mut bad = 0;
    for (j, el) in elems.into_iter().enumerate() {
        match serde_json::from_str::<W>(el.get()) {
            Ok(w) => out.push(w),
            Err(e) => {
                bad += 1;
                let mut ce = cell_err(el.get(), e.to_string());
                ce.suffix = format!("[{j}]");
                errs.push(ce);
            }
        }
    }
    Ok(Some((out, bad)))
}

impl<W: DeserializeOwned> Cell for List<W> {
    type Out = Vec<W>;
    type State = ();
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Vec<W>>, D::Error> {
        Ok(decode_list(d, errs)?.map(|(v, _)| v))
    }
}

impl<W: DeserializeOwned> Cell for StrictList<W> {
    type Out = Vec<W>;
    type State = ();
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Vec<W>>, D::Error> {
        Ok(decode_list(d, errs)?.and_then(|(v, bad)| (bad == 0).then_some(v)))
    }
}

// ---------------------------------------------------------------------------------------
// Lenient field helpers for nested wire structs (`#[serde(deserialize_with = ...)]`)
// ---------------------------------------------------------------------------------------

/// Optional string that also accepts numbers (ids such as `partyId` may be numeric).
pub(crate) fn lenient_str<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Str(v) => Ok(Some(v.into_owned())),
        Scalar::U(v) => Ok(Some(v.to_string())),
        Scalar::I(v) => Ok(Some(v.to_string())),
        Scalar::F(v) if v.is_finite() => Ok(Some(v.to_string())),
        other => Err(de::Error::custom(format!(
            "expected a string, found {}",
            clip(other.raw())
        ))),
    }
}

/// Optional number that also accepts numeric strings; `""` is `None`.
pub(crate) fn lenient_f64<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::U(v) => Ok(Some(v as f64)),
        Scalar::I(v) => Ok(Some(v as f64)),
        Scalar::F(v) => Ok(Some(v)),
        Scalar::Str(v) if v.trim().is_empty() => Ok(None),
        Scalar::Str(v) => parse_num(&v)
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a number, found {v:?}"))),
        other => Err(de::Error::custom(format!(
            "expected a number, found {}",
            clip(other.raw())
        ))),
    }
}

/// Optional epoch-seconds timestamp (`txStamp`); numeric strings accepted.
pub(crate) fn lenient_epoch<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let secs = match scalar(d)? {
        Scalar::Null => return Ok(None),
        Scalar::U(v) => i64::try_from(v).ok(),
        Scalar::I(v) => Some(v),
        Scalar::F(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => Some(v as i64),
        Scalar::Str(v) => v.trim().parse::<i64>().ok(),
        _ => None,
    };
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
        .map(Some)
        .ok_or_else(|| de::Error::custom("expected epoch seconds"))
}

/// List of strings (`roleTypeIdList`, `shipmentUrlList`); numbers are kept as text.
pub(crate) fn lenient_str_list<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct S(#[serde(deserialize_with = "lenient_str")] Option<String>);
    let v: Option<Vec<S>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.0)
        .collect())
}

/// A list-of-strings cell (e.g. `roleTypeIdList`).
#[doc(hidden)]
#[derive(Debug)]
pub struct TextList;

impl Cell for TextList {
    type Out = Vec<String>;
    type State = ();
    fn decode<'de, D: de::Deserializer<'de>>(
        d: D,
        _ctx: &DecodeContext,
        errs: &mut Vec<CellError>,
    ) -> Result<Option<Vec<String>>, D::Error> {
        let raw: Option<&'de RawValue> = Option::deserialize(d)?;
        let Some(raw) = raw else { return Ok(None) };
        let mut de = serde_json::Deserializer::from_str(raw.get());
        match lenient_str_list(&mut de) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                errs.push(cell_err(
                    raw.get(),
                    format!("expected a list of strings: {e}"),
                ));
                Ok(None)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    if b.is_empty() {
        return None;
    }
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parse a Finale timestamp. Offset-less values are local time in `tz`; see the module docs.
pub fn parse_timestamp(s: &str, tz: Tz) -> Result<DateTime<Utc>, &'static str> {
    const BAD: &str = "not a timestamp (expected YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM])";
    let b = s.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(BAD);
    }
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4]).ok_or(BAD)? as i32,
        digits(&b[5..7]).ok_or(BAD)?,
        digits(&b[8..10]).ok_or(BAD)?,
    )
    .ok_or("invalid calendar date")?;
    let mut rest = &b[10..];
    let mut time = NaiveTime::MIN;
    if let Some((&sep, tail)) = rest.split_first()
        && (sep == b'T' || sep == b't' || sep == b' ')
    {
        if tail.len() < 5 || tail[2] != b':' {
            return Err(BAD);
        }
        let h = digits(&tail[0..2]).ok_or(BAD)?;
        let m = digits(&tail[3..5]).ok_or(BAD)?;
        let mut sec = 0;
        let mut nanos = 0;
        rest = &tail[5..];
        if rest.first() == Some(&b':') {
            if rest.len() < 3 {
                return Err(BAD);
            }
            sec = digits(&rest[1..3]).ok_or(BAD)?;
            rest = &rest[3..];
            if rest.first() == Some(&b'.') {
                let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if n == 0 {
                    return Err(BAD);
                }
                let frac = &rest[1..1 + n];
                let mut v = 0u32;
                for i in 0..9 {
                    v = v * 10 + frac.get(i).map_or(0, |c| u32::from(c - b'0'));
                }
                nanos = v;
                rest = &rest[1 + n..];
            }
        }
        time = NaiveTime::from_hms_nano_opt(h, m, sec, nanos).ok_or("invalid time of day")?;
    }
    let naive = NaiveDateTime::new(date, time);
    match rest {
        [] => local_to_utc(naive, tz).ok_or("local time cannot be resolved in the time zone"),
        [b'Z' | b'z'] => Ok(naive.and_utc()),
        [sign @ (b'+' | b'-'), off @ ..] => {
            let (oh, om) = match off {
                [h1, h2] => (digits(&[*h1, *h2]), Some(0)),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2]), digits(&[*m1, *m2]))
                }
                _ => return Err(BAD),
            };
            let (oh, om) = (oh.ok_or(BAD)?, om.ok_or(BAD)?);
            if oh > 23 || om > 59 {
                return Err("offset out of range");
            }
            let secs = i64::from(oh * 3600 + om * 60);
            let secs = if *sign == b'-' { -secs } else { secs };
            Ok((naive - Duration::seconds(secs)).and_utc())
        }
        _ => Err(BAD),
    }
}

/// Resolve a wall-clock time in `tz`: earliest instant in a fold; in a gap, the first valid
/// instant after it (the end of the gap).
fn local_to_utc(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    if tz == Tz::UTC {
        return Some(naive.and_utc());
    }
    if let Some(t) = tz.from_local_datetime(&naive).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // In a gap: step forward minute by minute (gaps are at most a few hours) to the first
    // existing wall time, then back off to the exact transition instant.
    let mut probe = naive;
    for _ in 0..(24 * 60) {
        probe += Duration::minutes(1);
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            let mut utc = t.with_timezone(&Utc);
            // The transition may lie between minute probes; walk back second by second.
            for _ in 0..60 {
                let prev = utc - Duration::seconds(1);
                let local = prev.with_timezone(&tz).naive_local();
                if local >= naive {
                    utc = prev;
                } else {
                    break;
                }
            }
            return Some(utc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid")
    }

    #[test]
    fn timestamp_forms() {
        let ny: Tz = "America/New_York".parse().expect("tz");
        assert_eq!(
            parse_timestamp("2019-07-25T19:13:45", Tz::UTC),
            Ok(utc(2019, 7, 25, 19, 13, 45))
        );
        assert_eq!(
            parse_timestamp("2019-07-25T19:13:45", ny),
            Ok(utc(2019, 7, 25, 23, 13, 45))
        );
        assert_eq!(
            parse_timestamp("2018-04-30T19:00:00.250", Tz::UTC),
            Ok(utc(2018, 4, 30, 19, 0, 0) + Duration::milliseconds(250))
        );
        assert_eq!(
            parse_timestamp("2015-11-19T20:09:57Z", ny),
            Ok(utc(2015, 11, 19, 20, 9, 57))
        );
        assert_eq!(
            parse_timestamp("2015-11-19T20:09:57+02:00", Tz::UTC),
            Ok(utc(2015, 11, 19, 18, 9, 57))
        );
        assert_eq!(
            parse_timestamp("2015-11-19T20:09:57-0530", Tz::UTC),
            Ok(utc(2015, 11, 20, 1, 39, 57))
        );
        assert_eq!(
            parse_timestamp("2022-01-01", ny),
            Ok(utc(2022, 1, 1, 5, 0, 0))
        );
        assert_eq!(
            parse_timestamp("2022-01-01 10:30", Tz::UTC),
            Ok(utc(2022, 1, 1, 10, 30, 0))
        );
    }

    #[test]
    fn timestamp_dst_fold_and_gap() {
        let ny: Tz = "America/New_York".parse().expect("tz");
        // Fold: 2024-11-03 01:30 happens twice (EDT then EST); the earlier is EDT (UTC-4).
        assert_eq!(
            parse_timestamp("2024-11-03T01:30:00", ny),
            Ok(utc(2024, 11, 3, 5, 30, 0))
        );
        // Gap: 2024-03-10 02:30 never happened; the gap ends at 03:00 EDT = 07:00Z.
        assert_eq!(
            parse_timestamp("2024-03-10T02:30:00", ny),
            Ok(utc(2024, 3, 10, 7, 0, 0))
        );
    }

    #[test]
    fn timestamp_garbage() {
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-02-30T00:00:00",
            "2025-01-01T25:00:00",
            "2025-01-01T10",
            "2025-01-01T10:00:00.",
            "2025-01-01T10:00:00+5",
            "2025-01-01T10:00:00+99:00",
            "2025-01-01T10:00:00 junk",
            "2025/01/01",
            "٢٠٢٥-01-01",
            "3/1/2025",
        ] {
            assert!(parse_timestamp(bad, Tz::UTC).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn decode_error_classes() {
        use crate::model::Facility;
        let ctx = DecodeContext::default();
        type Check = fn(&DecodeError) -> bool;
        let cases: [(&[u8], Check); 6] = [
            (b"", |e| matches!(e, DecodeError::Truncated { .. })),
            (b"{\"facilityUrl\": [\"/a/api/facility/1\"", |e| {
                matches!(e, DecodeError::Truncated { .. })
            }),
            (b"<html>502 Bad Gateway</html>", |e| {
                matches!(e, DecodeError::Syntax { .. })
            }),
            (b"[{\"facilityUrl\":\"/a\"}]", |e| {
                matches!(e, DecodeError::Shape { .. })
            }),
            (b"{\"facilityUrl\": \"/a/api/facility/1\"}", |e| {
                matches!(e, DecodeError::Shape { .. })
            }),
            (b"{} trailing", |e| matches!(e, DecodeError::Syntax { .. })),
        ];
        for (body, check) in cases {
            let err = decode_collection::<Facility>(body, &ctx)
                .expect_err(&String::from_utf8_lossy(body));
            assert!(
                check(&err),
                "{:?} gave {err:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
