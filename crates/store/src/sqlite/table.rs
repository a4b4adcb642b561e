//! The SQLite half of the generic table path ([`crate::table`]): every statement that
//! writes, reads back or bulk-inserts a mirrored table is generated here from the table's
//! column description, so no table has code of its own.
//!
//! # Kinds on SQLite
//!
//! | [`Kind`]   | stored as                                   |
//! |------------|---------------------------------------------|
//! | `Text`     | `TEXT`                                      |
//! | `Float`    | `REAL` (finite: see [`check_finite`])       |
//! | `Bool`     | `INTEGER` 0/1                               |
//! | `Time`     | `INTEGER` milliseconds since the epoch, UTC |
//! | `Day`      | `TEXT` `YYYY-MM-DD`                         |
//! | `Json`     | `TEXT` (compact JSON)                       |
//! | `TextList` | `TEXT` (a JSON array)                       |
//! | `Hash`     | `BLOB` of 32 bytes                          |
//! | `Seq`      | `INTEGER`                                   |
//!
//! # Statements
//!
//! A batch runs in one `BEGIN IMMEDIATE` transaction, which holds SQLite's write lock from
//! the start: what a pre-read finds stays true until the commit, so each row needs no
//! race to handle. Per hashed row: an `INSERT ... ON CONFLICT (key) DO NOTHING`; when the
//! key exists, a point read of the stored hash (and [`Hashed::Old`]) and, when it differs,
//! an `UPDATE` by key. A fresh load thus costs one statement per row, like a bulk insert. Per
//! written parent and owned list: a new parent's children are inserted; a replaced parent's
//! stored children are read (one indexed range read) and diffed by position
//! ([`crate::table::diff_list`]): new positions inserted, differing ones updated, positions
//! beyond the new list deleted with one `DELETE ... WHERE seq >= ?`. Each statement is
//! prepared once per table and batch (`prepare_cached`), not per row.

use std::collections::BTreeMap;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row, ToSql, params_from_iter};

use super::{from_millis, to_millis};
use crate::rows::Hash;
use crate::table::{
    Child, Column, Hashed, Kind, ListDiff, Owned, Projection, Source, Table, Value, Written,
    child_columns, diff_list, last_wins, seq,
};
use crate::{StoreError, Writes};

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Sql;
        let owned = |v: Option<Sql>| ToSqlOutput::Owned(v.unwrap_or(Sql::Null));
        Ok(match self {
            Value::Text(v) => v.to_sql()?,
            Value::Float(v) => v.to_sql()?,
            Value::Bool(v) => v.to_sql()?,
            Value::Time(v) => owned(v.map(|t| Sql::Integer(to_millis(t)))),
            Value::Day(v) => owned(v.map(|d| Sql::Text(d.format("%Y-%m-%d").to_string()))),
            Value::Json(v) => owned(Some(Sql::Text(v.to_string()))),
            Value::TextList(v) => {
                owned(Some(Sql::Text(serde_json::to_string(v).map_err(|e| {
                    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
                })?)))
            }
            Value::Hash(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v.as_slice())),
            Value::Seq(v) => owned(Some(Sql::Integer(i64::from(*v)))),
        })
    }
}

/// One result row read as a [`Source`], from column `i` on.
pub(crate) struct LiteSource<'r, 's> {
    row: &'r Row<'s>,
    i: usize,
}

impl<'r, 's> LiteSource<'r, 's> {
    /// Reads `row` from column `first`.
    pub(crate) fn new(row: &'r Row<'s>, first: usize) -> Self {
        LiteSource { row, i: first }
    }
}

fn q(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    StoreError::sqlite(what)
}

const READ: &str = "read stored rows";

impl Source for LiteSource<'_, '_> {
    fn next(&mut self, column: &Column) -> Result<Owned, StoreError> {
        let (r, i) = (self.row, self.i);
        self.i += 1;
        let corrupt = |why: String| StoreError::Corrupt {
            what: format!("{}: {why}", column.name),
        };
        Ok(match column.kind {
            Kind::Text => Owned::Text(r.get(i).map_err(q(READ))?),
            Kind::Float => Owned::Float(r.get(i).map_err(q(READ))?),
            Kind::Bool => Owned::Bool(r.get(i).map_err(q(READ))?),
            Kind::Hash => Owned::Hash(r.get::<_, Option<Hash>>(i).map_err(q(READ))?),
            Kind::Seq => Owned::Seq(
                r.get::<_, Option<i64>>(i)
                    .map_err(q(READ))?
                    .map(|v| i32::try_from(v).map_err(|_| corrupt(format!("position {v}"))))
                    .transpose()?,
            ),
            Kind::Time => Owned::Time(
                r.get::<_, Option<i64>>(i)
                    .map_err(q(READ))?
                    .map(|v| from_millis(v).ok_or_else(|| corrupt(format!("not a timestamp: {v}"))))
                    .transpose()?,
            ),
            Kind::Day => Owned::Day(
                r.get::<_, Option<String>>(i)
                    .map_err(q(READ))?
                    .map(|v| {
                        chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                            .map_err(|_| corrupt(format!("not a date: {v:?}")))
                    })
                    .transpose()?,
            ),
            Kind::Json => Owned::Json(
                r.get::<_, Option<String>>(i)
                    .map_err(q(READ))?
                    .map(|v| {
                        serde_json::from_str(&v).map_err(|e| corrupt(format!("not JSON: {e}")))
                    })
                    .transpose()?,
            ),
            Kind::TextList => Owned::TextList(
                r.get::<_, Option<String>>(i)
                    .map_err(q(READ))?
                    .map(|v| {
                        serde_json::from_str(&v)
                            .map_err(|e| corrupt(format!("not a list of strings: {e}")))
                    })
                    .transpose()?,
            ),
        })
    }
}

fn names(cols: &[Column]) -> String {
    cols.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// `?first, ?first+1, ...` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO table (cols) VALUES (?1, ...)`.
fn insert_sql(table: &str, cols: &[Column]) -> String {
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names(cols),
        placeholders(1, cols.len())
    )
}

/// `a = ?first<sep>b = ?first+1 ...` over `cols`.
fn pairs(cols: &[Column], first: usize, sep: &str) -> String {
    cols.iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", c.name, first + i))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `a = ?first AND b = ?first+1 ...` over `cols`.
fn matching(cols: &[Column], first: usize) -> String {
    pairs(cols, first, " AND ")
}

/// `a = ?first, b = ?first+1 ...` over `cols`.
fn assignments(cols: &[Column], first: usize) -> String {
    pairs(cols, first, ", ")
}

/// Refuses a non-finite number before it reaches SQLite (which would store NaN as NULL,
/// silently, in a nullable column). The row model already rejects them; this is the cheap
/// second guard.
pub(crate) fn check_finite<T: Table>(
    rows: &[T],
    key: impl Fn(&T) -> String,
) -> Result<(), StoreError> {
    let mut vals = Vec::new();
    for row in rows {
        vals.clear();
        row.values(&mut vals);
        for (v, c) in vals.iter().zip(T::COLUMNS) {
            if let Value::Float(Some(x)) = v
                && !x.is_finite()
            {
                return Err(StoreError::Corrupt {
                    what: format!(
                        "refusing to store {x} in {}.{} of {}",
                        T::NAME,
                        c.name,
                        key(row)
                    ),
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writes

/// Writes the new and changed rows of a hashed table: one per key (the last), in key order;
/// `now` (milliseconds) becomes `updated_at`, and `first_seen_at` of new rows. A row is first
/// inserted (`ON CONFLICT (key) DO NOTHING`): a new one, the whole of a fresh load, costs that
/// one statement. Only when its key exists is the stored hash read and, if it differs, the
/// row updated.
pub(crate) fn write_hashed<'a, T: Hashed>(
    conn: &Connection,
    rows: &'a [T],
    now: i64,
) -> Result<Vec<Written<'a, T>>, StoreError> {
    let rows = last_wins(rows);
    let mut written = Vec::new();
    if rows.is_empty() {
        return Ok(written);
    }
    let cols = T::COLUMNS;
    let keys = &cols[..T::KEY];
    let n = cols.len();
    let mut read = conn
        .prepare_cached(&format!(
            "SELECT content_hash{}{} FROM {} WHERE {}",
            if <T::Old as Projection>::COLUMNS.is_empty() {
                ""
            } else {
                ", "
            },
            names(<T::Old as Projection>::COLUMNS),
            T::NAME,
            matching(keys, 1)
        ))
        .map_err(q("prepare reading stored hashes"))?;
    // A key that exists is skipped by the insert (and only that key's conflict: any other
    // constraint still fails the batch), then compared and updated.
    let mut insert = conn
        .prepare_cached(&format!(
            "INSERT INTO {} ({}, first_seen_at, updated_at) VALUES ({}, ?{at}, ?{at}) \
             ON CONFLICT ({}) DO NOTHING",
            T::NAME,
            names(cols),
            placeholders(1, n),
            names(keys),
            at = n + 1
        ))
        .map_err(q("prepare inserting rows"))?;
    let mut update = conn
        .prepare_cached(&format!(
            "UPDATE {} SET {}, updated_at = ?{} WHERE {}",
            T::NAME,
            assignments(&cols[T::KEY..], T::KEY + 1),
            n + 1,
            matching(keys, 1)
        ))
        .map_err(q("prepare updating rows"))?;
    let mut vals: Vec<Value<'a>> = Vec::with_capacity(n);
    for row in rows {
        vals.clear();
        row.values(&mut vals);
        let params = || {
            params_from_iter(
                vals.iter()
                    .map(|v| v as &dyn ToSql)
                    .chain(std::iter::once(&now as &dyn ToSql)),
            )
        };
        if insert.execute(params()).map_err(q("insert a row"))? == 1 {
            written.push(Written { row, old: None });
            continue;
        }
        let old = {
            let mut found = read
                .query(params_from_iter(&vals[..T::KEY]))
                .map_err(q("read a stored hash"))?;
            let stored = found
                .next()
                .map_err(q("read a stored hash"))?
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("{}: a key conflicted but cannot be read", T::NAME),
                })?;
            let hash: Hash = stored.get(0).map_err(q("read a stored hash"))?;
            if &hash == row.content_hash() {
                continue;
            }
            T::Old::read(&mut LiteSource::new(stored, 1))?
        };
        update.execute(params()).map_err(q("update a row"))?;
        let old = Some(old);
        written.push(Written { row, old });
    }
    Ok(written)
}

/// Writes the children in `C`'s table of the written parents (see the module docs); returns
/// the writes and the stored lists of the replaced parents (by index in `written`).
pub(crate) fn write_children<'a, P: Hashed, C: Child<P> + 'a>(
    conn: &Connection,
    written: &[Written<'a, P>],
) -> Result<(Writes, BTreeMap<usize, Vec<C>>), StoreError> {
    const WHAT: &str = "write owned children";
    let mut out = Writes::default();
    let mut old_lists = BTreeMap::new();
    if written.is_empty() {
        return Ok((out, old_lists));
    }
    let cols = child_columns::<P, C>();
    let mut insert = conn
        .prepare_cached(&insert_sql(C::NAME, &cols))
        .map_err(q(WHAT))?;
    let mut vals: Vec<Value<'a>> = Vec::with_capacity(cols.len());
    for (index, w) in written.iter().enumerate() {
        let row: &'a P = w.row;
        let parent = row.key()[0];
        let list = C::list(row);
        let diff = if w.inserted() {
            ListDiff {
                insert: (0..list.len()).collect(),
                ..ListDiff::default()
            }
        } else {
            let stored = stored_children::<P, C>(conn, parent)?;
            let d = diff_list(list, &stored);
            old_lists.insert(index, stored.into_values().collect());
            d
        };
        for &i in &diff.insert {
            child_values(&mut vals, parent, i, &list[i]);
            insert
                .execute(params_from_iter(vals.iter()))
                .map_err(q(WHAT))?;
            out.inserted += 1;
        }
        if !diff.update.is_empty() {
            let mut update = conn
                .prepare_cached(&format!(
                    "UPDATE {} SET {} WHERE {} = ?1 AND seq = ?2",
                    C::NAME,
                    assignments(C::COLUMNS, 3),
                    C::PARENT
                ))
                .map_err(q(WHAT))?;
            for &i in &diff.update {
                child_values(&mut vals, parent, i, &list[i]);
                update
                    .execute(params_from_iter(vals.iter()))
                    .map_err(q(WHAT))?;
                out.updated += 1;
            }
        }
        if diff.shrink {
            let n = conn
                .prepare_cached(&format!(
                    "DELETE FROM {} WHERE {} = ?1 AND seq >= ?2",
                    C::NAME,
                    C::PARENT
                ))
                .and_then(|mut s| s.execute(rusqlite::params![parent, seq(list.len())]))
                .map_err(q(WHAT))?;
            out.deleted += n as u64;
        }
    }
    Ok((out, old_lists))
}

/// A child's stored values into `vals`: its parent's key, its position, its own values.
fn child_values<'a, C: Table>(vals: &mut Vec<Value<'a>>, parent: &'a str, i: usize, c: &'a C) {
    vals.clear();
    vals.push(Value::Text(Some(parent)));
    vals.push(Value::Seq(seq(i)));
    c.values(vals);
}

/// A parent's stored children by position.
fn stored_children<P, C: Child<P>>(
    conn: &Connection,
    parent: &str,
) -> Result<BTreeMap<i32, C>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT seq, {} FROM {} WHERE {} = ?1",
            names(C::COLUMNS),
            C::NAME,
            C::PARENT
        ))
        .map_err(q("read stored children"))?;
    let mut rows = s.query([parent]).map_err(q("read stored children"))?;
    let mut out = BTreeMap::new();
    while let Some(row) = rows.next().map_err(q("read stored children"))? {
        let pos: i32 = row.get(0).map_err(q("read stored children"))?;
        out.insert(pos, C::read(&mut LiteSource::new(row, 1))?);
    }
    Ok(out)
}

/// Deletes the rows with these keys (each once); returns the keys of the rows deleted.
pub(crate) fn delete_keys<'k, T: Hashed>(
    conn: &Connection,
    keys: &[Vec<&'k str>],
) -> Result<Vec<Vec<&'k str>>, StoreError> {
    let mut deleted = Vec::new();
    if keys.is_empty() {
        return Ok(deleted);
    }
    let mut s = conn
        .prepare_cached(&format!(
            "DELETE FROM {} WHERE {}",
            T::NAME,
            matching(&T::COLUMNS[..T::KEY], 1)
        ))
        .map_err(q("prepare deleting rows"))?;
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        if s.execute(params_from_iter(key.iter()))
            .map_err(q("delete a row"))?
            > 0
        {
            deleted.push(key);
        }
    }
    Ok(deleted)
}

// ---------------------------------------------------------------------------------------------
// Reading back

/// Every row of `T`'s table whose key is set, sorted by key (SQLite compares text byte-wise,
/// which is Rust's `String` order); owned lists come back empty.
pub(crate) fn read_all<T: Table>(conn: &Connection) -> Result<Vec<T>, StoreError> {
    let keys = &T::COLUMNS[..T::KEY];
    let set = keys
        .iter()
        .map(|c| format!("{} IS NOT NULL", c.name))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM {} WHERE {set} ORDER BY {}",
            names(T::COLUMNS),
            T::NAME,
            names(keys)
        ))
        .map_err(q("read a table back"))?;
    let mut rows = s.query([]).map_err(q("read a table back"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(q("read a table back"))? {
        out.push(T::read(&mut LiteSource::new(row, 0))?);
    }
    Ok(out)
}

/// Attaches every stored child of `C`'s table to its parent among `parents`, by position.
pub(crate) fn read_children<P: Hashed, C: Child<P>>(
    conn: &Connection,
    parents: &mut [P],
) -> Result<(), StoreError> {
    let index: std::collections::HashMap<String, usize> = parents
        .iter()
        .enumerate()
        .map(|(i, p)| (p.key()[0].to_owned(), i))
        .collect();
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {}, {} FROM {} ORDER BY {}, seq",
            C::PARENT,
            names(C::COLUMNS),
            C::NAME,
            C::PARENT
        ))
        .map_err(q("read children back"))?;
    let mut rows = s.query([]).map_err(q("read children back"))?;
    while let Some(row) = rows.next().map_err(q("read children back"))? {
        let parent: String = row.get(0).map_err(q("read children back"))?;
        let child = C::read(&mut LiteSource::new(row, 1))?;
        // The foreign key guarantees the parent.
        if let Some(&i) = index.get(&parent) {
            C::list_mut(&mut parents[i]).push(child);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The bulk-insert yardstick

/// Inserts `rows` into `T`'s table with one prepared plain `INSERT` (no hash check, no
/// bookkeeping columns: their defaults); returns the rows inserted.
pub(crate) fn bulk_table<T: Table>(conn: &Connection, rows: &[T]) -> Result<u64, StoreError> {
    let mut s = conn
        .prepare(&insert_sql(T::NAME, T::COLUMNS))
        .map_err(q("prepare a bulk insert"))?;
    let mut vals = Vec::with_capacity(T::COLUMNS.len());
    for row in rows {
        vals.clear();
        row.values(&mut vals);
        s.execute(params_from_iter(vals.iter()))
            .map_err(q("bulk insert a row"))?;
    }
    Ok(rows.len() as u64)
}

/// Inserts the `C` children of `parents` into their table, like [`bulk_table`].
pub(crate) fn bulk_children<P: Hashed, C: Child<P>>(
    conn: &Connection,
    parents: &[P],
) -> Result<u64, StoreError> {
    let cols = child_columns::<P, C>();
    let mut s = conn
        .prepare(&insert_sql(C::NAME, &cols))
        .map_err(q("prepare a bulk insert"))?;
    let mut vals = Vec::with_capacity(cols.len());
    let mut n = 0;
    for p in parents {
        let parent = p.key()[0];
        for (i, c) in C::list(p).iter().enumerate() {
            child_values(&mut vals, parent, i, c);
            s.execute(params_from_iter(vals.iter()))
                .map_err(q("bulk insert a row"))?;
            n += 1;
        }
    }
    Ok(n)
}
