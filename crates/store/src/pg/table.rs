//! The Postgres half of the generic table path ([`crate::table`]): every statement that
//! writes, reads back or copies a mirrored table is generated here from the table's column
//! description, so no table has code of its own.
//!
//! # Kinds on Postgres
//!
//! | [`Kind`]   | column        | in `unnest` arrays | binary `COPY` |
//! |------------|---------------|--------------------|---------------|
//! | `Text`     | `text`        | `text[]`           | `text`        |
//! | `Float`    | `float8`      | `float8[]`         | `float8`      |
//! | `Bool`     | `boolean`     | `bool[]`           | `bool`        |
//! | `Time`     | `timestamptz` | `timestamptz[]`    | `timestamptz` |
//! | `Day`      | `date`        | `date[]`           | `date`        |
//! | `Json`     | `jsonb`       | `jsonb[]`          | `jsonb`       |
//! | `TextList` | `text[]`      | `jsonb[]` (1)      | `text[]`      |
//! | `Hash`     | `bytea`       | `bytea[]`          | `bytea`       |
//! | `Seq`      | `integer`     | `int4[]`           | `int4`        |
//!
//! (1) `unnest` cannot carry an array of arrays: a list travels as one JSON array per row
//! and is turned back into `text[]` (in order) by the `SELECT`.
//!
//! [`Value`] implements `ToSql` for all of these, so a column's values are sent as one
//! `Vec<Value>` array parameter and a row's values are one `COPY` row.
//!
//! # Statements
//!
//! Everything runs through `query_typed`/`execute_typed` (unnamed statements, pooler-safe),
//! except the `COPY` yardstick ([`copy_rows`]), which needs a session. Per table and batch:
//!
//! - [`pre_read`]: the stored hashes (and [`Hashed::Old`] columns) of the batch's keys, one
//!   `SELECT ... WHERE key = ANY($1)` (each key column for a composite key, filtered exactly
//!   in Rust);
//! - [`insert`]: the rows the pre-read did not find, one plain `INSERT ... SELECT ... FROM
//!   unnest(...)` (no conflict handling: cheaper than an upsert by a third, measured). A
//!   concurrent batch that inserted one of the keys meanwhile makes it fail with a unique
//!   violation; the store then retries the whole batch, whose pre-read now sees the key;
//! - [`upsert_changed`]: the rows whose stored hash differs, one `INSERT ... ON CONFLICT DO
//!   UPDATE ... WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash RETURNING key,
//!   (t.xmax = 0)`, which reports exactly what it wrote even when another batch wrote the
//!   row since the pre-read;
//! - [`write_children`]: the owned lists of the written parents. A replaced parent's stored
//!   children are read (its row is locked by our upsert, so nobody changes them before we
//!   commit) and diffed by position in Rust ([`crate::table::diff_list`]); then one plain
//!   `INSERT` of the new positions, one `UPDATE ... FROM unnest(...)` of the differing ones,
//!   one `DELETE ... USING unnest(parent, length)` of the positions beyond the new lists.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::pin::Pin;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, Json, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Row, Transaction};

use crate::StoreError;
use crate::Writes;
use crate::rows::Hash;
use crate::table::{
    Child, Column, Hashed, Kind, ListDiff, Owned, Projection, Source, Table, Value, Written,
    child_columns, diff_list, seq,
};

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Text(v) => v.to_sql(ty, out),
            Value::Float(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Time(v) => v.to_sql(ty, out),
            Value::Day(v) => v.to_sql(ty, out),
            Value::Json(v) => v.to_sql(ty, out),
            Value::TextList(v) if *ty == Type::JSONB => Json(v).to_sql(ty, out),
            Value::TextList(v) => v.to_sql(ty, out),
            Value::Hash(v) => v.as_slice().to_sql(ty, out),
            Value::Seq(v) => v.to_sql(ty, out),
        }
    }

    /// The type is the column's, fixed by the statement this module generated for the
    /// value's own kind.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The `unnest` array type of a kind: its SQL spelling and its parameter type.
fn array_type(kind: Kind) -> (&'static str, Type) {
    match kind {
        Kind::Text => ("text[]", Type::TEXT_ARRAY),
        Kind::Float => ("float8[]", Type::FLOAT8_ARRAY),
        Kind::Bool => ("bool[]", Type::BOOL_ARRAY),
        Kind::Time => ("timestamptz[]", Type::TIMESTAMPTZ_ARRAY),
        Kind::Day => ("date[]", Type::DATE_ARRAY),
        Kind::Json | Kind::TextList => ("jsonb[]", Type::JSONB_ARRAY),
        Kind::Hash => ("bytea[]", Type::BYTEA_ARRAY),
        Kind::Seq => ("int4[]", Type::INT4_ARRAY),
    }
}

/// The binary `COPY` type of a kind.
fn copy_type(kind: Kind) -> Type {
    match kind {
        Kind::Text => Type::TEXT,
        Kind::Float => Type::FLOAT8,
        Kind::Bool => Type::BOOL,
        Kind::Time => Type::TIMESTAMPTZ,
        Kind::Day => Type::DATE,
        Kind::Json => Type::JSONB,
        Kind::TextList => Type::TEXT_ARRAY,
        Kind::Hash => Type::BYTEA,
        Kind::Seq => Type::INT4,
    }
}

/// A row's [`Table::KEY`] columns.
fn key_columns<T: Table>() -> &'static [Column] {
    &T::COLUMNS[..T::KEY]
}

fn names(cols: &[Column], prefix: &str) -> String {
    cols.iter()
        .map(|c| format!("{prefix}{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `<left>a = <right>a<sep><left>b = <right>b ...` over `cols`.
fn equal(cols: &[Column], left: &str, right: &str, sep: &str) -> String {
    cols.iter()
        .map(|c| format!("{left}{0} = {right}{0}", c.name))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `unnest($first::text[], ...) AS u(a, b, ...)` and the `SELECT` list reading it back in
/// the columns' types.
fn unnest(cols: &[Column], first: usize) -> (String, String) {
    let arrays = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", first + i, array_type(c.kind).0))
        .collect::<Vec<_>>()
        .join(", ");
    let select = cols
        .iter()
        .map(|c| match c.kind {
            Kind::TextList => format!(
                "ARRAY(SELECT e.v FROM jsonb_array_elements_text(u.{0}) WITH ORDINALITY \
                 AS e(v, i) ORDER BY e.i)",
                c.name
            ),
            _ => format!("u.{}", c.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!("unnest({arrays}) AS u({})", names(cols, "")),
        select,
    )
}

/// Column-major arrays of the given rows' values (`rows[r][c]` → `arrays[c][r]`).
fn transpose<'a>(rows: Vec<Vec<Value<'a>>>, width: usize) -> Vec<Vec<Value<'a>>> {
    let mut arrays: Vec<Vec<Value<'a>>> =
        (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        for (a, v) in arrays.iter_mut().zip(row) {
            a.push(v);
        }
    }
    arrays
}

/// Typed parameters for `arrays` (of `cols`), then `extra`.
fn params<'p>(
    cols: &[Column],
    arrays: &'p [Vec<Value<'_>>],
    extra: &'p [(&'p (dyn ToSql + Sync), Type)],
) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
    cols.iter()
        .zip(arrays)
        .map(|(c, a)| (a as &(dyn ToSql + Sync), array_type(c.kind).1))
        .chain(extra.iter().cloned())
        .collect()
}

/// One result row read as a [`Source`], from column `i` on.
pub(crate) struct PgSource<'r> {
    row: &'r Row,
    i: usize,
}

impl<'r> PgSource<'r> {
    /// Reads `row` from column `first`.
    pub(crate) fn new(row: &'r Row, first: usize) -> Self {
        PgSource { row, i: first }
    }
}

const READ: &str = "read stored rows";

impl Source for PgSource<'_> {
    fn next(&mut self, column: &Column) -> Result<Owned, StoreError> {
        let (r, i) = (self.row, self.i);
        self.i += 1;
        let q = StoreError::query(READ);
        Ok(match column.kind {
            Kind::Text => Owned::Text(r.try_get(i).map_err(q)?),
            Kind::Float => Owned::Float(r.try_get(i).map_err(q)?),
            Kind::Bool => Owned::Bool(r.try_get(i).map_err(q)?),
            Kind::Time => Owned::Time(r.try_get(i).map_err(q)?),
            Kind::Day => Owned::Day(r.try_get(i).map_err(q)?),
            Kind::Json => Owned::Json(r.try_get(i).map_err(q)?),
            Kind::TextList => Owned::TextList(r.try_get(i).map_err(q)?),
            Kind::Seq => Owned::Seq(r.try_get(i).map_err(q)?),
            Kind::Hash => {
                let bytes: Option<&[u8]> = r.try_get(i).map_err(q)?;
                Owned::Hash(
                    bytes
                        .map(|b| {
                            Hash::try_from(b).map_err(|_| StoreError::Corrupt {
                                what: format!(
                                    "{}: a hash of {} bytes, not 32",
                                    column.name,
                                    b.len()
                                ),
                            })
                        })
                        .transpose()?,
                )
            }
        })
    }
}

fn text(row: &Row, i: usize) -> Result<String, StoreError> {
    row.try_get(i).map_err(StoreError::query(READ))
}

/// Column-major arrays of `n`-column text keys.
fn key_arrays<'k>(keys: &[Vec<&'k str>], n: usize) -> Vec<Vec<&'k str>> {
    (0..n)
        .map(|k| keys.iter().map(|key| key[k]).collect())
        .collect()
}

/// `text[]` parameters.
fn text_params<'p>(arrays: &'p [Vec<&str>]) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
    arrays
        .iter()
        .map(|a| (a as &(dyn ToSql + Sync), Type::TEXT_ARRAY))
        .collect()
}

/// The position of each key of a batch, to match the keys a statement returns.
struct KeyIndex<'k>(HashMap<&'k [&'k str], usize>);

impl<'k> KeyIndex<'k> {
    fn new(keys: &'k [Vec<&'k str>]) -> Self {
        KeyIndex(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.as_slice(), i))
                .collect(),
        )
    }

    /// The position of the key held by the first `n` (text) columns of `row`.
    fn find(&self, row: &Row, n: usize) -> Result<Option<usize>, StoreError> {
        let key = (0..n)
            .map(|k| text(row, k))
            .collect::<Result<Vec<String>, _>>()?;
        let key: Vec<&str> = key.iter().map(String::as_str).collect();
        Ok(self.0.get(key.as_slice()).copied())
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

/// What the pre-read found of a row of the batch.
pub(crate) enum Stored<O> {
    /// No stored row: insert.
    Absent,
    /// The stored row has the same hash: nothing to write.
    Same,
    /// The stored row differs: update, reporting `O` of it.
    Differs(O),
}

/// The stored state of each of `rows` (same order), see the module docs.
pub(crate) async fn pre_read<T: Hashed>(
    tx: &Transaction<'_>,
    rows: &[&T],
) -> Result<Vec<Stored<T::Old>>, StoreError> {
    let keys = key_columns::<T>();
    let mut old_cols = vec![Column {
        name: "content_hash",
        kind: Kind::Hash,
    }];
    old_cols.extend_from_slice(<T::Old as Projection>::COLUMNS);
    let filter = keys
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ANY(${})", c.name, i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "SELECT {}, {} FROM {} WHERE {filter}",
        names(keys, ""),
        names(&old_cols, ""),
        T::NAME
    );
    let key_values: Vec<Vec<&str>> = rows.iter().map(|r| r.key()).collect();
    let arrays = key_arrays(&key_values, keys.len());
    let found = tx
        .query_typed(&sql, &text_params(&arrays))
        .await
        .map_err(StoreError::query("read stored hashes"))?;
    let index = KeyIndex::new(&key_values);
    let mut out: Vec<Stored<T::Old>> = rows.iter().map(|_| Stored::Absent).collect();
    for row in &found {
        // A composite key's `ANY` per column finds a superset: keep exact matches.
        let Some(i) = index.find(row, keys.len())? else {
            continue;
        };
        let mut src = PgSource::new(row, keys.len());
        let hash = match src.next(&old_cols[0])? {
            Owned::Hash(Some(h)) => h,
            _ => {
                return Err(StoreError::Corrupt {
                    what: format!("{}: a row without a content hash", T::NAME),
                });
            }
        };
        out[i] = if &hash == rows[i].content_hash() {
            Stored::Same
        } else {
            Stored::Differs(T::Old::read(&mut src)?)
        };
    }
    Ok(out)
}

/// Every row's values, row-major.
fn row_values<'a, T: Table>(rows: &[&'a T]) -> Vec<Vec<Value<'a>>> {
    rows.iter()
        .map(|r| {
            let mut v = Vec::with_capacity(T::COLUMNS.len());
            r.values(&mut v);
            v
        })
        .collect()
}

/// Inserts `rows` (new keys) with `first_seen_at = updated_at = now`.
pub(crate) async fn insert<T: Table>(
    tx: &Transaction<'_>,
    rows: &[&T],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let cols = T::COLUMNS;
    let (from, select) = unnest(cols, 1);
    let at = cols.len() + 1;
    let sql = format!(
        "INSERT INTO {} ({}, first_seen_at, updated_at) SELECT {select}, ${at}, ${at} FROM {from}",
        T::NAME,
        names(cols, ""),
    );
    let arrays = transpose(row_values(rows), cols.len());
    tx.execute_typed(&sql, &params(cols, &arrays, &[(&now, Type::TIMESTAMPTZ)]))
        .await
        .map_err(StoreError::query("insert new rows"))
}

/// Upserts `rows` (stored with another hash at the pre-read) where the stored hash still
/// differs; returns, per row written, its index in `rows` and whether it was inserted.
pub(crate) async fn upsert_changed<T: Hashed>(
    tx: &Transaction<'_>,
    rows: &[&T],
    now: DateTime<Utc>,
) -> Result<Vec<(usize, bool)>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let cols = T::COLUMNS;
    let keys = key_columns::<T>();
    let (from, select) = unnest(cols, 1);
    let at = cols.len() + 1;
    let set = equal(&cols[T::KEY..], "", "EXCLUDED.", ", ");
    let sql = format!(
        "INSERT INTO {t} AS t ({cols}, first_seen_at, updated_at) \
         SELECT {select}, ${at}, ${at} FROM {from} \
         ON CONFLICT ({keys}) DO UPDATE SET {set}, updated_at = EXCLUDED.updated_at \
         WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash \
         RETURNING {ret}, (t.xmax = 0)",
        t = T::NAME,
        cols = names(cols, ""),
        keys = names(keys, ""),
        ret = names(keys, "t."),
    );
    let arrays = transpose(row_values(rows), cols.len());
    let written = tx
        .query_typed(&sql, &params(cols, &arrays, &[(&now, Type::TIMESTAMPTZ)]))
        .await
        .map_err(StoreError::query("upsert changed rows"))?;
    let key_values: Vec<Vec<&str>> = rows.iter().map(|r| r.key()).collect();
    let index = KeyIndex::new(&key_values);
    written
        .iter()
        .map(|row| {
            let i = index
                .find(row, keys.len())?
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("{}: an upsert returned a key it was not given", T::NAME),
                })?;
            let inserted: bool = row
                .try_get(keys.len())
                .map_err(StoreError::query("upsert changed rows"))?;
            Ok((i, inserted))
        })
        .collect()
}

/// Writes the children in `C`'s table of the written parents (see the module docs); returns
/// the writes and the stored lists of the replaced parents (by index in `written`).
pub(crate) async fn write_children<P: Hashed, C: Child<P>>(
    tx: &Transaction<'_>,
    written: &[Written<'_, P>],
) -> Result<(Writes, BTreeMap<usize, Vec<C>>), StoreError> {
    const WHAT: &str = "write owned children";
    let cols = child_columns::<P, C>();
    // The stored lists of the replaced parents.
    let replaced: Vec<&str> = written
        .iter()
        .filter(|w| !w.inserted())
        .map(|w| w.row.key()[0])
        .collect();
    let mut stored: HashMap<String, BTreeMap<i32, C>> = HashMap::new();
    if !replaced.is_empty() {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ANY($1)",
            names(&cols, ""),
            C::NAME,
            C::PARENT
        );
        for row in tx
            .query_typed(&sql, &[(&replaced, Type::TEXT_ARRAY)])
            .await
            .map_err(StoreError::query("read stored children"))?
        {
            let parent = text(&row, 0)?;
            let pos: i32 = row.try_get(1).map_err(StoreError::query(READ))?;
            let child = C::read(&mut PgSource::new(&row, 2))?;
            stored.entry(parent).or_default().insert(pos, child);
        }
    }

    let mut inserts: Vec<Vec<Value<'_>>> = Vec::new();
    let mut updates: Vec<Vec<Value<'_>>> = Vec::new();
    let mut shrink: (Vec<&str>, Vec<i32>) = (Vec::new(), Vec::new());
    let mut old_lists = BTreeMap::new();
    for (w_index, w) in written.iter().enumerate() {
        let parent = w.row.key()[0];
        let list = C::list(w.row);
        let diff = match stored.remove(parent) {
            Some(old) => {
                let d = diff_list(list, &old);
                old_lists.insert(w_index, old.into_values().collect());
                d
            }
            None if w.inserted() => ListDiff {
                insert: (0..list.len()).collect(),
                ..ListDiff::default()
            },
            None => {
                old_lists.insert(w_index, Vec::new());
                diff_list(list, &BTreeMap::new())
            }
        };
        inserts.extend(
            diff.insert
                .iter()
                .map(|&i| child_row(parent, i, &list[i], cols.len())),
        );
        updates.extend(
            diff.update
                .iter()
                .map(|&i| child_row(parent, i, &list[i], cols.len())),
        );
        if diff.shrink {
            shrink.0.push(parent);
            shrink.1.push(seq(list.len()));
        }
    }

    let mut out = Writes::default();
    if !inserts.is_empty() {
        let (from, select) = unnest(&cols, 1);
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {select} FROM {from}",
            C::NAME,
            names(&cols, "")
        );
        let arrays = transpose(inserts, cols.len());
        out.inserted = tx
            .execute_typed(&sql, &params(&cols, &arrays, &[]))
            .await
            .map_err(StoreError::query(WHAT))?;
    }
    if !updates.is_empty() {
        let (from, _) = unnest(&cols, 1);
        let set = equal(C::COLUMNS, "", "u.", ", ");
        let sql = format!(
            "UPDATE {t} AS t SET {set} FROM {from} WHERE t.{p} = u.{p} AND t.seq = u.seq",
            t = C::NAME,
            p = C::PARENT
        );
        let arrays = transpose(updates, cols.len());
        out.updated = tx
            .execute_typed(&sql, &params(&cols, &arrays, &[]))
            .await
            .map_err(StoreError::query(WHAT))?;
    }
    if !shrink.0.is_empty() {
        let sql = format!(
            "DELETE FROM {t} AS t USING unnest($1::text[], $2::int4[]) AS k(parent, len) \
             WHERE t.{p} = k.parent AND t.seq >= k.len",
            t = C::NAME,
            p = C::PARENT
        );
        out.deleted = tx
            .execute_typed(
                &sql,
                &[(&shrink.0, Type::TEXT_ARRAY), (&shrink.1, Type::INT4_ARRAY)],
            )
            .await
            .map_err(StoreError::query(WHAT))?;
    }
    Ok((out, old_lists))
}

/// A child's stored values: its parent's key, its position, its own values.
fn child_row<'a, C: Table>(parent: &'a str, i: usize, c: &'a C, width: usize) -> Vec<Value<'a>> {
    let mut v = Vec::with_capacity(width);
    v.push(Value::Text(Some(parent)));
    v.push(Value::Seq(seq(i)));
    c.values(&mut v);
    v
}

/// Deletes the rows with these keys; returns the keys of the rows deleted.
pub(crate) async fn delete_keys<T: Hashed>(
    tx: &Transaction<'_>,
    keys: &[Vec<&str>],
) -> Result<Vec<Vec<String>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let cols = key_columns::<T>();
    let arrays = key_arrays(keys, cols.len());
    let ps = text_params(&arrays);
    let (from, _) = unnest(cols, 1);
    let matches = equal(cols, "t.", "u.", " AND ");
    let sql = format!(
        "DELETE FROM {} AS t USING {from} WHERE {matches} RETURNING {}",
        T::NAME,
        names(cols, "t.")
    );
    tx.query_typed(&sql, &ps)
        .await
        .map_err(StoreError::query("delete rows"))?
        .iter()
        .map(|row| (0..cols.len()).map(|k| text(row, k)).collect())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading back

/// Every row of `T`'s table whose key is set, sorted by key (text byte-wise, as Rust sorts
/// strings, whatever the database's collation); owned lists come back empty.
pub(crate) async fn read_all<T: Table>(tx: &Transaction<'_>) -> Result<Vec<T>, StoreError> {
    let keys = key_columns::<T>();
    let set = keys
        .iter()
        .map(|c| format!("{} IS NOT NULL", c.name))
        .collect::<Vec<_>>()
        .join(" AND ");
    let order = keys
        .iter()
        .map(|c| match c.kind {
            Kind::Text => format!("{} COLLATE \"C\"", c.name),
            _ => c.name.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {} FROM {} WHERE {set} ORDER BY {order}",
        names(T::COLUMNS, ""),
        T::NAME
    );
    tx.query_typed(&sql, &[])
        .await
        .map_err(StoreError::query("read a table back"))?
        .iter()
        .map(|row| T::read(&mut PgSource::new(row, 0)))
        .collect()
}

/// Attaches every stored child of `C`'s table to its parent among `parents`, by position.
pub(crate) async fn read_children<P: Hashed, C: Child<P>>(
    tx: &Transaction<'_>,
    parents: &mut [P],
) -> Result<(), StoreError> {
    let index: HashMap<String, usize> = parents
        .iter()
        .enumerate()
        .map(|(i, p)| (p.key()[0].to_owned(), i))
        .collect();
    let sql = format!(
        "SELECT {}, {} FROM {} ORDER BY {}, seq",
        C::PARENT,
        names(C::COLUMNS, ""),
        C::NAME,
        C::PARENT
    );
    for row in tx
        .query_typed(&sql, &[])
        .await
        .map_err(StoreError::query("read children back"))?
    {
        let parent = text(&row, 0)?;
        let child = C::read(&mut PgSource::new(&row, 1))?;
        // The foreign key guarantees the parent.
        if let Some(&i) = index.get(&parent) {
            C::list_mut(&mut parents[i]).push(child);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The COPY yardstick

/// Streams rows into `table`'s `cols` with binary `COPY`; `each` appends one row's values.
/// Returns the rows copied.
pub(crate) async fn copy_rows<'a, I>(
    client: &Client,
    table: &'static str,
    cols: &[Column],
    rows: I,
) -> Result<u64, StoreError>
where
    I: IntoIterator<Item = Vec<Value<'a>>>,
{
    const WHAT: &str = "copy rows";
    let sql = format!(
        "COPY {table} ({}) FROM STDIN (FORMAT binary)",
        names(cols, "")
    );
    let types: Vec<Type> = cols.iter().map(|c| copy_type(c.kind)).collect();
    let sink = client
        .copy_in(&sql)
        .await
        .map_err(StoreError::query(WHAT))?;
    let mut w: Pin<Box<BinaryCopyInWriter>> = Box::pin(BinaryCopyInWriter::new(sink, &types));
    for values in rows {
        w.as_mut()
            .write_raw(values)
            .await
            .map_err(StoreError::query(WHAT))?;
    }
    w.as_mut().finish().await.map_err(StoreError::query(WHAT))
}

/// Copies `rows` into `T`'s table.
pub(crate) async fn copy_table<T: Table>(client: &Client, rows: &[T]) -> Result<u64, StoreError> {
    copy_rows(
        client,
        T::NAME,
        T::COLUMNS,
        rows.iter().map(|r| {
            let mut v = Vec::with_capacity(T::COLUMNS.len());
            r.values(&mut v);
            v
        }),
    )
    .await
}

/// Copies the `C` children of `parents` into their table.
pub(crate) async fn copy_children<P: Hashed, C: Child<P>>(
    client: &Client,
    parents: &[P],
) -> Result<u64, StoreError> {
    let cols = child_columns::<P, C>();
    let width = cols.len();
    copy_rows(
        client,
        C::NAME,
        &cols,
        parents.iter().flat_map(|p| {
            let parent = p.key()[0];
            C::list(p)
                .iter()
                .enumerate()
                .map(move |(i, c)| child_row(parent, i, c, width))
        }),
    )
    .await
}
