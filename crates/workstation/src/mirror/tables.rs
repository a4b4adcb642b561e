//! One generic copy path for every mirrored table, driven by the two catalogs.
//!
//! A [`TablePlan`] is built at start from what both schemas say: the SQLite table's stored
//! columns (`PRAGMA table_xinfo`, generated columns left out: SQLite computes them) that the
//! Postgres table also has. Postgres values are cast **in the `SELECT`** to the local
//! representation's wire type ([`Wire`]), so decoding is five cases, not one per table:
//!
//! | Postgres                     | selected as                                | local      |
//! |------------------------------|--------------------------------------------|------------|
//! | `text`, `varchar`            | `text`                                     | `TEXT`     |
//! | `double precision`, `real`   | `float8`                                   | `REAL`     |
//! | `bigint`, `integer`, `smallint` | `int8`                                  | `INTEGER`  |
//! | `boolean`                    | `bool`                                     | `0`/`1`    |
//! | `timestamptz`                | milliseconds since the epoch (`int8`)      | `INTEGER`  |
//! | `date`                       | `YYYY-MM-DD` (`text`)                      | `TEXT`     |
//! | `uuid`, `jsonb`, other       | their text form                            | `TEXT`     |
//! | `text[]`                     | a JSON array (`text`)                      | `TEXT`     |
//! | `bytea`                      | `bytea`                                    | `BLOB`     |
//! | `xid8` (`change_xid`)        | `int8`                                     | `INTEGER`  |
//!
//! Identifiers in the generated SQL come from the catalogs and the fixed table list, never
//! from input, and are quoted.

use rusqlite::types::Value;
use tokio_postgres::types::Type;

use crate::CacheError;

/// How a column travels from Postgres (after the `SELECT`'s cast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Text,
    Int,
    Real,
    Bool,
    Bytes,
}

impl Wire {
    /// The Postgres type the `SELECT` produces for this wire type.
    pub(crate) fn pg_type(self) -> Type {
        match self {
            Wire::Text => Type::TEXT,
            Wire::Int => Type::INT8,
            Wire::Real => Type::FLOAT8,
            Wire::Bool => Type::BOOL,
            Wire::Bytes => Type::BYTEA,
        }
    }
}

/// One column copied by the mirror.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) wire: Wire,
    /// The `SELECT` expression producing the wire type.
    pub(crate) select: String,
}

/// Everything the mirror needs to copy one table.
#[derive(Debug, Clone)]
pub(crate) struct TablePlan {
    pub(crate) name: &'static str,
    pub(crate) keys: &'static [&'static str],
    pub(crate) columns: Vec<Column>,
    /// `SELECT <casts> FROM <table>` (append a `WHERE`).
    pub(crate) select: String,
    /// The local upsert, one `?` per column in order.
    pub(crate) upsert: String,
    /// The local delete by key, one `?` per key column.
    pub(crate) delete: String,
    /// The key as one text value, in Postgres (for checksum buckets).
    pub(crate) pg_key_text: String,
    /// The same key text in SQLite.
    pub(crate) local_key_text: String,
}

pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The cast for one Postgres column, by its type.
fn cast(name: &str, ty: &Type) -> (Wire, String) {
    let q = quote(name);
    if name == "change_xid" {
        return (Wire::Int, format!("{q}::text::int8"));
    }
    match *ty {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => (Wire::Text, q),
        Type::FLOAT8 => (Wire::Real, q),
        Type::FLOAT4 | Type::NUMERIC => (Wire::Real, format!("{q}::float8")),
        Type::INT8 => (Wire::Int, q),
        Type::INT4 | Type::INT2 => (Wire::Int, format!("{q}::int8")),
        Type::BOOL => (Wire::Bool, q),
        Type::TIMESTAMPTZ | Type::TIMESTAMP => (
            Wire::Int,
            format!("floor(extract(epoch FROM {q}) * 1000)::int8"),
        ),
        Type::DATE => (Wire::Text, format!("to_char({q}, 'YYYY-MM-DD')")),
        Type::BYTEA => (Wire::Bytes, q),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => (Wire::Text, format!("array_to_json({q})::text")),
        _ => (Wire::Text, format!("{q}::text")),
    }
}

/// Builds the plan of every mirrored table from the two catalogs.
pub(crate) async fn plan_tables(
    pg: &impl tokio_postgres::GenericClient,
    local_path: &std::path::Path,
) -> Result<Vec<TablePlan>, CacheError> {
    // The local catalog first, on a connection of its own that is closed before any await
    // (a rusqlite connection is not `Sync`, and the writer's connection stays free).
    let local_columns = {
        let local = rusqlite::Connection::open(local_path)
            .map_err(CacheError::sqlite("open the local store for its catalog"))?;
        let mut all = Vec::new();
        for (name, _) in store::pg::feed::MIRRORED_TABLES {
            let mut stmt = local
                .prepare("SELECT name, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")
                .map_err(CacheError::sqlite("read the local columns"))?;
            let cols: Vec<(String, i64)> = stmt
                .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(CacheError::sqlite("read the local columns"))?
                .collect::<Result<_, _>>()
                .map_err(CacheError::sqlite("read the local columns"))?;
            all.push(cols);
        }
        all
    };
    let mut plans = Vec::new();
    for ((name, keys), local_cols) in store::pg::feed::MIRRORED_TABLES
        .into_iter()
        .zip(local_columns)
    {
        let pg_cols = pg
            .query(
                "SELECT attname::text, atttypid FROM pg_attribute
                  WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped
                    AND attgenerated = '' ORDER BY attnum",
                &[&name],
            )
            .await
            .map_err(CacheError::postgres("read the store's columns"))?;
        let pg_cols: Vec<(String, Type)> = pg_cols
            .iter()
            .map(|r| {
                let oid: u32 = r.get(1);
                (r.get(0), Type::from_oid(oid).unwrap_or(Type::TEXT))
            })
            .collect();
        let columns: Vec<Column> = local_cols
            .iter()
            .filter(|(_, hidden)| *hidden == 0)
            .filter_map(|(col, _)| {
                let (_, ty) = pg_cols.iter().find(|(p, _)| p == col)?;
                let (wire, select) = cast(col, ty);
                Some(Column {
                    name: col.clone(),
                    wire,
                    select,
                })
            })
            .collect();
        keys.iter()
            .map(|k| columns.iter().position(|c| c.name == *k))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                CacheError::Mirror(format!(
                    "table {name}: a key column is missing from the store or the cache"
                ))
            })?;
        if !columns.iter().any(|c| c.name == "change_xid") {
            return Err(CacheError::Mirror(format!(
                "table {name} has no change position: the shared store predates the change feed \
                 (run `stockpulse sync` once with a current binary to migrate it)"
            )));
        }
        let select = format!(
            "SELECT {} FROM {}",
            columns
                .iter()
                .map(|c| c.select.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            quote(name)
        );
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !keys.contains(&c.name.as_str()))
            .map(|c| format!("{0} = excluded.{0}", quote(&c.name)))
            .collect();
        let upsert = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            quote(name),
            names.join(", "),
            vec!["?"; names.len()].join(", "),
            keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", "),
            updates.join(", ")
        );
        let delete = format!(
            "DELETE FROM {} WHERE {}",
            quote(name),
            keys.iter()
                .map(|k| format!("{} = ?", quote(k)))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        let pg_key_text = keys
            .iter()
            .map(|k| {
                let c = &columns[columns.iter().position(|c| c.name == *k).unwrap_or(0)];
                format!("({})::text", c.select)
            })
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let local_key_text = keys
            .iter()
            .map(|k| format!("CAST({} AS TEXT)", quote(k)))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        plans.push(TablePlan {
            name,
            keys,
            columns,
            select,
            upsert,
            delete,
            pg_key_text,
            local_key_text,
        });
    }
    Ok(plans)
}

/// Decodes one selected row into local values, by wire type.
pub(crate) fn decode_row(
    plan: &TablePlan,
    get: impl Fn(usize, Wire) -> Result<Value, tokio_postgres::Error>,
) -> Result<Vec<Value>, CacheError> {
    plan.columns
        .iter()
        .enumerate()
        .map(|(i, c)| get(i, c.wire).map_err(CacheError::postgres("decode a row of the store")))
        .collect()
}

/// Reads column `i` of a Postgres row (a query row or a binary `COPY` row) as a local value.
macro_rules! read_value {
    ($row:expr, $i:expr, $wire:expr) => {{
        let row = $row;
        let i = $i;
        match $wire {
            $crate::mirror::tables::Wire::Text => {
                let v: Result<Option<String>, _> = row.try_get(i);
                v.map(|v| v.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Text))
            }
            $crate::mirror::tables::Wire::Int => {
                let v: Result<Option<i64>, _> = row.try_get(i);
                v.map(|v| {
                    v.map_or(
                        rusqlite::types::Value::Null,
                        rusqlite::types::Value::Integer,
                    )
                })
            }
            $crate::mirror::tables::Wire::Real => {
                let v: Result<Option<f64>, _> = row.try_get(i);
                v.map(|v| v.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Real))
            }
            $crate::mirror::tables::Wire::Bool => {
                let v: Result<Option<bool>, _> = row.try_get(i);
                v.map(|v| {
                    v.map_or(rusqlite::types::Value::Null, |b| {
                        rusqlite::types::Value::Integer(i64::from(b))
                    })
                })
            }
            $crate::mirror::tables::Wire::Bytes => {
                let v: Result<Option<Vec<u8>>, _> = row.try_get(i);
                v.map(|v| v.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Blob))
            }
        }
    }};
}
pub(crate) use read_value;
