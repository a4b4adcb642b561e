//! The simulator's GraphQL endpoint, `POST /{acct}/api/graphql` (finale-api.md §9, §7.2, §12.7).
//!
//! # Model
//!
//! Finale exposes every collection as a read-only Relay connection named
//! `{collection}ViewConnection`. A request selects one or more of these root fields; each takes
//! paging arguments (`first`, `after`, `last`, `before`), a `sort`, and collection-specific
//! filters, and answers with `edges { node { … } cursor }`, `pageInfo { … }` and
//! `summary { metrics { count } }`. Node fields are scalars (every one takes a `formatter`),
//! nested objects (`supplier { name }`), lists (`shipmentList`) or nested connections
//! (`itemList` on an order).
//!
//! A request goes through four stages:
//!
//! 1. **Decode** the HTTP body (`{"query", "variables", "operationName"}`); a body that is not
//!    JSON or has no `query` is a [`GqlRequestError`] (the server answers 400).
//! 2. **Parse** the document with `graphql-parser` and pick the operation.
//! 3. **Validate** the whole selection against the static `schema`: an unknown
//!    field or argument anywhere — even under a list that turns out empty — fails the whole
//!    query, as Finale does (a removed field broke whole queries for real clients).
//! 4. **Execute**: root resolvers filter the dataset once, sort, slice the requested page, and
//!    only the page's nodes are resolved and formatted (`format`).
//!
//! Any error at stages 2–4 yields HTTP 200 with `{"data": null, "errors": [{"message", …}]}`:
//! the simulator never returns partial data, which is the strictest reading of "a single
//! unknown field fails the whole query".
//!
//! # Layout
//!
//! * `format` — display strings vs raw values;
//! * `cursor` — `{"idx":n}` cursors;
//! * `args` — filters, date ranges, paging and sort arguments;
//! * `exec` — document parsing, validation and the generic executor over `exec::Node`;
//! * `schema` — the static type and field table;
//! * `views` — the nodes bound to the simulator's dataset.

mod args;
mod cursor;
mod exec;
mod format;
mod schema;
mod views;

use chrono::{DateTime, Utc};

use crate::model::Dataset;

/// Which key names a date-range filter accepts (finale-api.md §15.7: the docs show
/// `{start, end}`, working code sends `{begin, end}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DateKeys {
    /// Both `{begin, end}` and `{start, end}` (default).
    #[default]
    Both,
    /// Only `{begin, end}`; `start` is an error naming the accepted form.
    BeginEndOnly,
    /// Only `{start, end}`; `begin` is an error naming the accepted form.
    StartEndOnly,
}

/// What `formatter: "none"` yields for numeric fields (finale-api.md §15.7: unconfirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NoneFormat {
    /// JSON numbers, e.g. `1234.5` (default).
    #[default]
    Numbers,
    /// Plain strings without separators, e.g. `"1234.5"`.
    Strings,
}

/// Per-request settings the server passes to [`execute`].
#[derive(Clone, Debug)]
pub struct GqlContext {
    /// Account path component; URLs in the dataset are already namespaced by it.
    pub account: String,
    /// Account time zone: display date-times are shown in it and filter dates are read in it.
    pub timezone: chrono_tz::Tz,
    /// The current virtual instant (from the simulator's clock), used for "last N days"
    /// figures such as `salesLast30Days`, so that results do not depend on the wall clock.
    pub now: DateTime<Utc>,
    /// Accepted date-range key forms.
    pub date_keys: DateKeys,
    /// Raw number representation under `formatter: "none"`.
    pub none_formatter_numbers: NoneFormat,
    /// What a packed `stockItem` row's `quantity` counts: the same uncertain fact as the REST
    /// `inventoryitem` row it mirrors ([`crate::config::Quirks::packed_quantities`]).
    pub packed_quantities: crate::config::PackedQuantities,
}

/// A request body the endpoint cannot even start on; the server answers HTTP 400.
#[derive(Debug, thiserror::Error)]
pub enum GqlRequestError {
    /// The body is not a JSON object.
    #[error("request body is not a JSON object")]
    NotJson(#[source] Option<serde_json::Error>),
    /// The body has no string `query`.
    #[error("request body has no \"query\" string")]
    NoQuery,
    /// `variables` is present but neither an object nor null.
    #[error("\"variables\" must be a JSON object")]
    BadVariables,
    /// `operationName` is present but neither a string nor null.
    #[error("\"operationName\" must be a string")]
    BadOperationName,
}

/// One GraphQL error, reported in the response's `errors` array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GqlError {
    /// Human-readable message.
    pub message: String,
    /// `(line, column)` in the query document, when known.
    pub location: Option<(usize, usize)>,
}

impl GqlError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            location: None,
        }
    }

    /// Attaches a location unless one is already known.
    pub(crate) fn at(mut self, pos: graphql_parser::Pos) -> Self {
        if self.location.is_none() {
            self.location = Some((pos.line, pos.column));
        }
        self
    }

    fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        obj.insert("message".into(), self.message.clone().into());
        if let Some((line, column)) = self.location {
            obj.insert(
                "locations".into(),
                serde_json::json!([{"line": line, "column": column}]),
            );
        }
        serde_json::Value::Object(obj)
    }
}

/// Executes one GraphQL request body (`{"query": "...", "variables": {...}, "operationName"?}`)
/// against the dataset. Always returns a JSON body for HTTP 200 (GraphQL errors go in `errors`,
/// with `data: null` when the whole query fails), except malformed HTTP bodies (not JSON / no
/// `query`) which return `Err`, and the server answers 400.
pub fn execute(
    dataset: &Dataset,
    ctx: &GqlContext,
    body: &[u8],
) -> Result<serde_json::Value, GqlRequestError> {
    let request = exec::Request::decode(body)?;
    let cache = views::Cache::default();
    let root = views::Root::new(views::View::new(dataset, ctx, &cache));
    Ok(match exec::run(&request, &root, ctx) {
        Ok(data) => serde_json::json!({ "data": data }),
        Err(errors) => serde_json::json!({
            "data": null,
            "errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>(),
        }),
    })
}

#[cfg(test)]
mod tests;
