//! The Finale client: the HTTP executor and the read operations built on it.
//!
//! # One request, start to finish
//!
//! 1. **Budget**: `scheduler.acquire(kind, priority)` waits until every bucket the request
//!    consumes has room (a collection read consumes GET *and* collection units; a record
//!    read only GET; GraphQL and the legacy login are POSTs). The permit is dropped before
//!    any back-off sleep: nobody sleeps while holding capacity.
//! 2. **Send** with `Accept: application/json` and either HTTP Basic (API key) or the
//!    `JSESSIONID` cookie (legacy session: logged in lazily, once, shared by all requests;
//!    re-login once on a 401). The whole exchange, body included, is bounded by
//!    `request_timeout` (real time, not virtual: it guards the socket, not the budget).
//! 3. **Account**: the body is read fully; `X-RateLimit-*` headers and the status go to
//!    `scheduler.observe`, latency and bytes to `scheduler.record`.
//! 4. **Classify** (see [`crate::error`]): 2xx → parse (a page that does not decode, or a
//!    2xx body that reports `success:false`/`errorMessage`/`errors`, is an error);
//!    401/403 → [`Error::Auth`] at once; 404 → [`Error::NotFound`]; other 4xx →
//!    [`Error::BadRequest`] with the server's message; 429 → the scheduler has paused the
//!    bucket until its reset and the request simply queues again; 5xx, network errors,
//!    timeouts and truncated bodies → back off ([`RetryPolicy`](crate::RetryPolicy), slept on the
//!    [`Clock`](crate::Clock)) and retry up to `retry.max_attempts` tries in all, then
//!    [`Error::Exhausted`] with the last cause as `source`.
//!
//! # Read operations
//!
//! * [`FinaleClient::fetch_all`]: one unfiltered collection read.
//! * [`FinaleClient::fetch_window`]: one `lastUpdatedDate` window; if the page is full
//!   (`>= cap` rows, or exactly `limit`), the window is halved and both halves re-read,
//!   recursively; results are deduped by key.
//! * [`FinaleClient::fetch_changed`]: [`plan_windows`] then each window in order.
//! * [`FinaleClient::fetch_one`]: a record URL taken from a payload (never built from ids),
//!   resolved against the configured host only (a payload cannot send credentials elsewhere).
//! * [`FinaleClient::fetch_stock_graphql`]: every product's stock rows through GraphQL
//!   pages, the way to read stock when `inventoryitem` reaches the entity cap
//!   ([`crate::graphql_stock`]).
//! * [`FinaleClient::complete_order_lines`]: orders whose collection rows had no
//!   `orderItemList` get their lines through GraphQL pages or per-order GETs, whichever the
//!   budgets finish sooner ([`choose_line_source`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, DATE, HeaderMap, HeaderValue, SET_COOKIE};
use tracing::{debug, warn};
use url::Url;

use crate::collection::Collection;
use crate::config::{Credentials, FinaleConfig};
use crate::decode::{
    DecodeContext, Decoded, FinaleRecord, RecordError, decode_page, decode_record,
};
use crate::error::{Error, error_in_success_body, extract_message};
use crate::filter::{Window, dedupe_newest, needs_split, plan_windows};
use crate::graphql::{
    GraphqlError, LineSource, OrderLinesQuery, choose_line_source, parse_order_lines_page,
};
use crate::line_plan;
use crate::model::{Order, OrderLine};
use crate::scheduler::{
    Bucket, BudgetReport, Method, Priority, RateLimitHeaders, RequestKind, Scheduler,
};

/// Lines requested per order in a GraphQL page; orders with more are completed by a GET.
const GRAPHQL_ITEMS_PER_ORDER: u32 = 100;
/// Per-order GETs in flight at once when completing lines (the scheduler still paces them).
const LINE_GET_CONCURRENCY: usize = 4;
/// Consecutive 429s tolerated for one request before giving up (each waits for its reset).
const MAX_THROTTLES: u32 = 20;

/// The records of one window, after splitting and dedupe.
#[derive(Debug, Clone)]
pub struct WindowBatch<T> {
    /// The window requested.
    pub window: Window,
    /// Records, deduped by key (newest `last_updated` kept).
    pub records: Vec<T>,
    /// Per-record problems (indices are relative to the page they came from).
    pub errors: Vec<RecordError>,
    /// HTTP reads made (1 unless the window was split).
    pub requests: u32,
    /// How many times a full window was halved.
    pub splits: u32,
    /// The records come from a response that reached the entity cap (only possible for
    /// `inventoryitem`, whose "window" is the whole account; a full filtered window is split).
    pub capped: bool,
}

/// Progress of [`FinaleClient::fetch_changed`], reported after each window.
#[derive(Debug, Clone)]
pub struct WindowProgress {
    /// The collection being read.
    pub collection: Collection,
    /// Windows completed so far (1-based after the first).
    pub done: usize,
    /// Windows planned.
    pub total: usize,
    /// The window just completed.
    pub window: Window,
    /// Records collected so far (before the final cross-window dedupe).
    pub records_so_far: usize,
}

/// What [`FinaleClient::complete_order_lines`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineFetchReport {
    /// Orders that had no lines and now have them.
    pub orders_completed: usize,
    /// Of those, completed from GraphQL pages.
    pub via_graphql: usize,
    /// Of those, completed by a `GET {orderUrl}`.
    pub via_get: usize,
    /// HTTP requests made (GraphQL pages + GETs).
    pub requests: u32,
    /// Why GraphQL was not used although the budget chose it: the endpoint refused (no
    /// GraphQL, an `errors` answer, an unreadable body), in this call or an earlier one, and
    /// the lines came from per-order GETs instead. `None` when GraphQL served or was not
    /// chosen.
    pub graphql_refused: Option<String>,
    /// Orders whose own `GET {orderUrl}` failed for good (404, an error body, a record that
    /// does not decode): they are left without lines, so the caller can quarantine them and
    /// store the rest. A transient failure that outlived the retries fails the whole call.
    pub unreadable: Vec<UnreadableOrder>,
}

/// An order whose lines could not be read ([`LineFetchReport::unreadable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOrder {
    /// The order's URL.
    pub url: String,
    /// Why (the client error, without credentials).
    pub reason: String,
    /// The HTTP status of the failed read, when there was a response.
    pub status: Option<u16>,
}

/// A Finale API client. Cheap to clone (shared inside); build ONE per process so that one
/// scheduler owns the account's budgets.
#[derive(Clone)]
pub struct FinaleClient {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: FinaleConfig,
    api_root: Url,
    http: reqwest::Client,
    scheduler: Scheduler,
    ctx: DecodeContext,
    /// Legacy session cookie value (`JSESSIONID`), once logged in.
    session: tokio::sync::Mutex<Option<String>>,
    /// When and why GraphQL last refused an order-lines query for good (no endpoint, an
    /// `errors` answer). For [`GRAPHQL_RETRY_AFTER`] after that, line completions go straight to
    /// per-order GETs instead of spending a POST on an endpoint that does not answer.
    graphql_refused: std::sync::Mutex<Option<(chrono::DateTime<chrono::Utc>, String)>>,
    /// Finale's clock minus ours, from the `Date` header of the latest response (see
    /// [`FinaleClient::finale_now`]).
    finale_offset: std::sync::Mutex<Option<chrono::TimeDelta>>,
}

impl fmt::Debug for FinaleClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinaleClient")
            .field("api_root", &self.inner.api_root.as_str())
            .field("scheduler", &self.inner.scheduler)
            .finish_non_exhaustive()
    }
}

/// What one attempt produced, before classification.
enum Attempt<R> {
    Done(R),
    Retry(Error),
    Throttled,
    Relogin,
}

impl FinaleClient {
    /// Build a client (validates the configuration; no request is made).
    pub fn new(cfg: FinaleConfig) -> Result<Self, Error> {
        cfg.validate()?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(cfg.request_timeout)
            .gzip(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Build)?;
        let scheduler = Scheduler::new(cfg.budgets.clone(), Arc::clone(&cfg.clock));
        Ok(Self {
            inner: Arc::new(Inner {
                api_root: cfg.api_root(),
                ctx: DecodeContext {
                    timestamp_zone: cfg.timestamp_zone(),
                },
                cfg,
                http,
                scheduler,
                session: tokio::sync::Mutex::new(None),
                graphql_refused: std::sync::Mutex::new(None),
                finale_offset: std::sync::Mutex::new(None),
            }),
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &FinaleConfig {
        &self.inner.cfg
    }

    /// Budget use, latency percentiles, bytes and statuses so far.
    pub fn budget_report(&self) -> BudgetReport {
        self.inner.scheduler.report()
    }

    /// The request scheduler owning this client's budgets: to connect a
    /// [`BudgetLedger`](crate::BudgetLedger), seed it from the ledger and flush it.
    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }

    /// The collection URL `{api_root}{path}/`.
    fn collection_url(&self, c: Collection) -> Url {
        let mut u = self.inner.api_root.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push(c.path()).push("");
        }
        u
    }

    /// One unfiltered collection read. [`Decoded::capped`] says whether it reached the
    /// entity cap (and so may be missing records).
    pub async fn fetch_all<T: FinaleRecord>(&self, prio: Priority) -> Result<Decoded<T>, Error> {
        let url = self.collection_url(T::COLLECTION);
        let (decoded, _) = self.read_page::<T>(url, prio).await?;
        Ok(decoded)
    }

    /// GET a collection page and decode it (inside the retry loop, so a truncated page is
    /// re-read). Sets [`Decoded::capped`] when the page has `cap` rows or more.
    async fn read_page<T: FinaleRecord>(
        &self,
        url: Url,
        prio: Priority,
    ) -> Result<(Decoded<T>, usize), Error> {
        let cap = self.inner.cfg.cap;
        let (mut decoded, rows) = self.read_page_uncapped::<T>(url, prio).await?;
        decoded.capped = rows >= cap;
        if decoded.capped {
            warn!(
                collection = %T::COLLECTION,
                rows,
                cap,
                "the response reached Finale's entity cap: it may be truncated"
            );
        }
        Ok((decoded, rows))
    }

    async fn read_page_uncapped<T: FinaleRecord>(
        &self,
        url: Url,
        prio: Priority,
    ) -> Result<(Decoded<T>, usize), Error> {
        let ctx = self.inner.ctx;
        self.execute(
            Method::Get,
            url,
            None,
            RequestKind::GET_COLLECTION,
            prio,
            |u, body| match decode_page::<T>(body, &ctx) {
                Ok((d, rows)) if rows > 0 => Ok((d, rows)),
                Ok((d, rows)) => match error_in_success_body(body) {
                    Some(message) => Err(Error::ErrorBody {
                        url: u.to_owned(),
                        message,
                    }),
                    None => Ok((d, rows)),
                },
                Err(source) => match error_in_success_body(body) {
                    Some(message) => Err(Error::ErrorBody {
                        url: u.to_owned(),
                        message,
                    }),
                    None => Err(Error::Decode {
                        url: u.to_owned(),
                        source,
                    }),
                },
            },
        )
        .await
    }

    /// One `lastUpdatedDate` window (both bounds sent; at most `max_window` wide). A full
    /// page (`>= cap` rows, or exactly `limit`) is halved and both halves re-read,
    /// recursively; records are deduped by key.
    pub async fn fetch_window<T: FinaleRecord>(
        &self,
        window: Window,
        prio: Priority,
    ) -> Result<WindowBatch<T>, Error> {
        let cfg = &self.inner.cfg;
        if window.duration() > cfg.max_window {
            return Err(Error::WindowTooWide {
                window,
                max_days: cfg.max_window.num_days(),
            });
        }
        if !T::COLLECTION.supports_filter() {
            // `inventoryitem` ignores filters: the "window" is the whole account.
            let (d, _) = self
                .read_page::<T>(self.collection_url(T::COLLECTION), prio)
                .await?;
            return Ok(WindowBatch {
                window,
                capped: d.capped,
                records: d.records,
                errors: d.errors,
                requests: 1,
                splits: 0,
            });
        }
        let mut stack = vec![window];
        let mut records = Vec::new();
        let mut errors = Vec::new();
        let (mut requests, mut splits) = (0u32, 0u32);
        while let Some(w) = stack.pop() {
            let mut url = self.collection_url(T::COLLECTION);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("filter", &w.filter().encode());
                if let Some(limit) = cfg.limit {
                    q.append_pair("limit", &limit.to_string());
                }
            }
            let (page, rows) = self.read_page::<T>(url, prio).await?;
            requests += 1;
            if needs_split(rows, cfg.cap, cfg.limit) {
                match w.halves() {
                    Some((a, b)) => {
                        debug!(window = %w, rows, "window full; splitting");
                        splits += 1;
                        stack.push(b);
                        stack.push(a);
                        continue;
                    }
                    None => {
                        return Err(Error::WindowTooDense {
                            window: w,
                            count: rows,
                            cap: cfg.cap,
                            limit: cfg.limit,
                        });
                    }
                }
            }
            records.extend(page.records);
            errors.extend(page.errors);
        }
        Ok(WindowBatch {
            window,
            capped: false,
            records: dedupe_newest(records),
            errors,
            requests,
            splits,
        })
    }

    /// Everything changed in `[since, until]`: [`plan_windows`] with `max_window`, then each
    /// window in order; records are deduped across windows (inclusive bounds share the
    /// boundary instants). `on_window` is called after each window.
    pub async fn fetch_changed<T: FinaleRecord>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        prio: Priority,
        mut on_window: impl FnMut(&WindowProgress) + Send,
    ) -> Result<Decoded<T>, Error> {
        let plan = plan_windows(since, until, self.inner.cfg.max_window);
        let total = plan.len();
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for (i, w) in plan.into_iter().enumerate() {
            let batch = self.fetch_window::<T>(w, prio).await?;
            records.extend(batch.records);
            errors.extend(batch.errors);
            on_window(&WindowProgress {
                collection: T::COLLECTION,
                done: i + 1,
                total,
                window: w,
                records_so_far: records.len(),
            });
        }
        // Every window kept is below the cap (a full one was split, or failed as too dense).
        Ok(Decoded {
            records: dedupe_newest(records),
            errors,
            capped: false,
        })
    }

    /// Resolve a record URL found in a payload against the configured host. Only paths and
    /// same-origin absolute URLs are accepted, so a payload cannot redirect credentials.
    fn record_url(&self, record_url: &str) -> Result<Url, Error> {
        let bad = |reason: &str| Error::InvalidUrl {
            url: record_url.to_owned(),
            reason: reason.to_owned(),
        };
        let t = record_url.trim();
        if !(t.starts_with('/') || t.starts_with("http://") || t.starts_with("https://"))
            || t.starts_with("//")
        {
            return Err(bad("not a Finale record path"));
        }
        let url = self
            .inner
            .cfg
            .base_url
            .join(t)
            .map_err(|e| bad(&e.to_string()))?;
        if url.origin() != self.inner.cfg.base_url.origin() {
            return Err(bad("points to another host than the configured base URL"));
        }
        Ok(url)
    }

    /// GET one record by the URL found in a payload (e.g. `/acme/api/order/SO-1`).
    pub async fn fetch_one<T: FinaleRecord>(
        &self,
        record_url: &str,
        prio: Priority,
    ) -> Result<T, Error> {
        let url = self.record_url(record_url)?;
        let ctx = self.inner.ctx;
        self.execute(
            Method::Get,
            url,
            None,
            RequestKind::GET_RECORD,
            prio,
            |u, body| {
                let decoded = match decode_record::<T>(body, &ctx) {
                    Ok(d) => d,
                    Err(source) => {
                        return Err(match error_in_success_body(body) {
                            Some(message) => Error::ErrorBody {
                                url: u.to_owned(),
                                message,
                            },
                            None => Error::Decode {
                                url: u.to_owned(),
                                source,
                            },
                        });
                    }
                };
                let Decoded {
                    records, errors, ..
                } = decoded;
                match records.into_iter().next() {
                    Some(r) => {
                        for e in &errors {
                            warn!(url = u, error = %e, "field of a single record ignored");
                        }
                        Ok(r)
                    }
                    None => Err(match error_in_success_body(body) {
                        Some(message) => Error::ErrorBody {
                            url: u.to_owned(),
                            message,
                        },
                        None => Error::Record {
                            url: u.to_owned(),
                            source: Box::new(errors.into_iter().last().unwrap_or(RecordError {
                                index: 0,
                                field: String::new(),
                                raw: String::new(),
                                reason: "no record in the response".into(),
                                key: None,
                            })),
                        },
                    }),
                }
            },
        )
        .await
    }

    /// Raw GraphQL POST to `{api_root}graphql`; a non-empty `errors` array is
    /// [`Error::Graphql`].
    pub async fn graphql(
        &self,
        request: &serde_json::Value,
        prio: Priority,
    ) -> Result<serde_json::Value, Error> {
        let body = self.graphql_raw(request, prio).await?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Error::Graphql {
            source: GraphqlError::Malformed(format!("not JSON: {e}")),
        })?;
        if let Some(errs) = v.get("errors").and_then(|e| e.as_array())
            && !errs.is_empty()
        {
            let messages = errs
                .iter()
                .map(|e| {
                    e.get("message")
                        .and_then(|m| m.as_str())
                        .map_or_else(|| e.to_string(), str::to_owned)
                })
                .collect();
            return Err(Error::Graphql {
                source: GraphqlError::Errors(messages),
            });
        }
        Ok(v)
    }

    /// POST a GraphQL request and return the body (errors are the caller's to parse).
    pub(crate) async fn graphql_raw(
        &self,
        request: &serde_json::Value,
        prio: Priority,
    ) -> Result<Bytes, Error> {
        let mut url = self.inner.api_root.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push("graphql");
        }
        let kind = self.inner.scheduler.graphql_kind();
        self.execute(Method::Post, url, Some(request), kind, prio, |u, body| {
            // A body cut off mid-stream is retryable like any truncated page.
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => Ok(Bytes::copy_from_slice(body)),
                Err(e) if e.is_eof() => Err(Error::Decode {
                    url: u.to_owned(),
                    source: crate::decode::DecodeError::Truncated { source: e },
                }),
                Err(_) => Ok(Bytes::copy_from_slice(body)),
            }
        })
        .await
    }

    /// Fill in `lines` for orders whose collection rows had none (`lines == None`), through
    /// GraphQL `orderViewConnection` pages or per-order GETs, chosen by budget. Orders that
    /// already have lines cost nothing.
    pub async fn complete_order_lines(
        &self,
        orders: &mut [Order],
        prio: Priority,
    ) -> Result<LineFetchReport, Error> {
        let mut report = LineFetchReport::default();
        let missing: Vec<usize> = (0..orders.len())
            .filter(|&i| orders[i].lines.is_none())
            .collect();
        if missing.is_empty() {
            return Ok(report);
        }
        let cfg = &self.inner.cfg;
        let sched = &self.inner.scheduler;
        // GraphQL's `orderDate` is the account-local calendar day (finale-api.md §6.5), so
        // the days are taken in the account's zone, not in the timestamps' zone.
        let tz = cfg.timezone;
        let days: Vec<Option<chrono::NaiveDate>> = missing
            .iter()
            .map(|&i| {
                orders[i]
                    .order_date
                    .map(|d| d.with_timezone(&tz).date_naive())
            })
            .collect();
        let plan = line_plan::plan_lines(
            &days,
            cfg.graphql_page_size.max(1),
            line_plan::density_hint(&days),
            line_plan::page_weight(&cfg.budgets),
        );
        let source = choose_line_source(
            missing.len(),
            plan.expected_pages(),
            plan.gets.len() as u64,
            &cfg.budgets,
            sched.available(Bucket::Get),
            sched.available(Bucket::Post),
            sched.available(Bucket::Collection),
        );
        let refused_before = self.graphql_refusal();
        let mut remaining: Vec<usize> = missing.clone();
        if source == LineSource::Graphql && refused_before.is_some() {
            report.graphql_refused = refused_before;
        } else if source == LineSource::Graphql {
            match self
                .lines_via_graphql(orders, &missing, &plan, prio, &mut report)
                .await
            {
                Ok(left) => remaining = left,
                Err(e) if graphql_refusal(&e).is_some() => {
                    // Fall back to per-order GETs (the GET budget's scheduler paces them) for
                    // whatever the GraphQL pages had not filled in yet.
                    let why = e.to_string();
                    tracing::warn!(error = %why, "GraphQL refused the order-lines query; reading lines with per-order GETs");
                    if graphql_refusal(&e) == Some(true) {
                        *self
                            .inner
                            .graphql_refused
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some((cfg.clock.now(), why.clone()));
                    }
                    report.graphql_refused = Some(why);
                    remaining.retain(|&i| orders[i].lines.is_none());
                }
                Err(e) => return Err(e),
            }
        }
        self.lines_via_get(orders, remaining, prio, &mut report)
            .await?;
        Ok(report)
    }

    /// Finale's clock minus this client's, as the `Date` header of the latest response showed
    /// it (`None` before the first response, or when Finale sends no `Date`). The header has
    /// whole seconds, so the offset errs by up to a second towards the past: an instant
    /// computed with it is never later than what Finale has shown.
    pub fn finale_offset(&self) -> Option<chrono::TimeDelta> {
        *self
            .inner
            .finale_offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finale's "now" on Finale's own clock, estimated from the latest `Date` header
    /// ([`FinaleClient::finale_offset`]); `None` until a response has shown it. A sync cursor
    /// must never pass it: a change Finale stamps later than a cursor set from a fast local
    /// clock would otherwise never be read.
    pub fn finale_now(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.finale_offset()
            .map(|offset| self.inner.cfg.clock.now() + offset)
    }

    /// Why GraphQL refused an order-lines query of this client for good, if it did so less than
    /// [`GRAPHQL_RETRY_AFTER`] ago (after that, the next completion tries GraphQL again).
    pub fn graphql_refusal(&self) -> Option<String> {
        let now = self.inner.cfg.clock.now();
        self.inner
            .graphql_refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(at, _)| now - *at < GRAPHQL_RETRY_AFTER)
            .map(|(_, why)| why.clone())
    }

    /// GraphQL pass: page each run of `plan` (indices into `missing`) over its order days, up
    /// to its page cap; returns the indices (into `orders`) still missing: the plan's GETs,
    /// orders a run did not return before its pages or its cap ran out, truncated lines.
    async fn lines_via_graphql(
        &self,
        orders: &mut [Order],
        missing: &[usize],
        plan: &line_plan::LinePlan,
        prio: Priority,
        report: &mut LineFetchReport,
    ) -> Result<Vec<usize>, Error> {
        let cfg = &self.inner.cfg;
        let mut left: Vec<usize> = plan.gets.iter().map(|&k| missing[k]).collect();
        // Every run's wanted orders: a page of one run may complete an order of another.
        let mut want: HashMap<String, usize> = plan
            .runs
            .iter()
            .flat_map(|r| r.wanted.iter().map(|&k| missing[k]))
            .map(|i| (orders[i].url.clone(), i))
            .collect();
        for run in &plan.runs {
            let run_urls: Vec<String> = run
                .wanted
                .iter()
                .map(|&k| orders[missing[k]].url.clone())
                .collect();
            let mut types: Vec<String> = run
                .wanted
                .iter()
                .map(|&k| orders[missing[k]].order_type.clone())
                .collect();
            types.sort();
            types.dedup();
            let mut query = OrderLinesQuery {
                order_types: types,
                date_from: run.from,
                date_to: run.to,
                date_keys: cfg.graphql_date_keys,
                first: cfg.graphql_page_size.max(1),
                after: None,
                items_first: GRAPHQL_ITEMS_PER_ORDER,
            };
            let mut seen_cursors = HashSet::new();
            let mut pages = 0u32;
            while pages < run.page_cap && run_urls.iter().any(|u| want.contains_key(u)) {
                let body = self.graphql_raw(&query.to_request(), prio).await?;
                pages += 1;
                report.requests += 1;
                let page =
                    parse_order_lines_page(&body).map_err(|source| Error::Graphql { source })?;
                for o in page.orders {
                    if o.lines_truncated {
                        continue;
                    }
                    if let Some(i) = want.remove(&o.order_url) {
                        orders[i].lines = Some(order_lines(o.lines));
                        report.orders_completed += 1;
                        report.via_graphql += 1;
                    }
                }
                match (page.has_next_page, page.end_cursor) {
                    (true, Some(c)) if seen_cursors.insert(c.clone()) => {
                        query = query.next_page(c);
                    }
                    _ => break,
                }
            }
            if pages >= run.page_cap && run_urls.iter().any(|u| want.contains_key(u)) {
                debug!(
                    from = %run.from,
                    to = %run.to,
                    pages,
                    "order-lines run reached its page cap; the rest by per-order GETs"
                );
            }
        }
        left.extend(want.into_values());
        left.sort_unstable();
        Ok(left)
    }

    /// Per-order GET pass.
    async fn lines_via_get(
        &self,
        orders: &mut [Order],
        missing: Vec<usize>,
        prio: Priority,
        report: &mut LineFetchReport,
    ) -> Result<(), Error> {
        let urls: Vec<(usize, String)> = missing
            .into_iter()
            .map(|i| (i, orders[i].url.clone()))
            .collect();
        let mut results = futures::stream::iter(urls)
            .map(|(i, url)| async move { (i, self.fetch_one::<Order>(&url, prio).await) })
            .buffer_unordered(LINE_GET_CONCURRENCY);
        let mut first_err = None;
        let mut failed = Vec::new();
        while let Some((i, res)) = results.next().await {
            report.requests += 1;
            match res {
                Ok(detail) => {
                    if let Some(lines) = detail.lines {
                        orders[i].lines = Some(lines);
                        report.orders_completed += 1;
                        report.via_get += 1;
                    }
                }
                Err(e) => failed.push((i, e)),
            }
        }
        // An order that fails for good is that order's problem, and so is one that failed
        // for now while others were read: both are left to the caller's quarantine so the
        // rest is stored. When nothing could be read, Finale itself is failing.
        let read_some = report.via_get > 0 || report.via_graphql > 0;
        for (i, e) in failed {
            match per_order_failure(&e) {
                Some(true) => {}
                Some(false) if read_some => {}
                _ => {
                    first_err.get_or_insert(e);
                    continue;
                }
            }
            report.unreadable.push(UnreadableOrder {
                url: orders[i].url.clone(),
                reason: e.to_string(),
                status: e.status(),
            });
        }
        if first_err.is_some() {
            report.unreadable.clear();
        }
        report.unreadable.sort_by(|a, b| a.url.cmp(&b.url));
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    // -----------------------------------------------------------------------------------
    // The executor
    // -----------------------------------------------------------------------------------

    /// Run one logical request through budget, auth, retries and classification; `parse`
    /// turns a 2xx body into the result (its retryable errors are retried too).
    async fn execute<R>(
        &self,
        method: Method,
        url: Url,
        json: Option<&serde_json::Value>,
        kind: RequestKind,
        prio: Priority,
        parse: impl Fn(&str, &[u8]) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let cfg = &self.inner.cfg;
        let shown = display_url(&url);
        let mut failures = 0u32;
        let mut throttles = 0u32;
        let mut relogged = false;
        loop {
            let attempt = self
                .attempt(method, &url, &shown, json, kind, prio, &parse)
                .await;
            let err = match attempt {
                Ok(Attempt::Done(r)) => return Ok(r),
                Ok(Attempt::Throttled) => {
                    throttles += 1;
                    if throttles > MAX_THROTTLES {
                        return Err(Error::RateLimited { url: shown });
                    }
                    // The scheduler paused the bucket until its reset; queue again.
                    continue;
                }
                Ok(Attempt::Relogin) if !relogged => {
                    relogged = true;
                    continue;
                }
                Ok(Attempt::Relogin) => {
                    return Err(self.auth_error(401, "session rejected after re-login".into()));
                }
                Ok(Attempt::Retry(e)) => e,
                Err(e) => return Err(e),
            };
            failures += 1;
            if !cfg.retry.should_retry(failures) {
                return Err(if failures <= 1 {
                    err
                } else {
                    Error::Exhausted {
                        url: shown,
                        attempts: failures,
                        source: Box::new(err),
                    }
                });
            }
            let delay = cfg.retry.delay(failures - 1, &mut rand::rng());
            debug!(url = %shown, attempt = failures, ?delay, error = %err, "retrying");
            cfg.clock.sleep(delay).await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt<R>(
        &self,
        method: Method,
        url: &Url,
        shown: &str,
        json: Option<&serde_json::Value>,
        kind: RequestKind,
        prio: Priority,
        parse: &impl Fn(&str, &[u8]) -> Result<R, Error>,
    ) -> Result<Attempt<R>, Error> {
        let session = match &self.inner.cfg.credentials {
            Credentials::Session { .. } => Some(self.session_cookie(prio).await?),
            Credentials::ApiKey { .. } => None,
        };
        let permit = self.inner.scheduler.acquire(kind, prio).await;
        let mut req = match method {
            Method::Get => self.inner.http.get(url.clone()),
            Method::Post => self.inner.http.post(url.clone()),
        };
        req = match (&self.inner.cfg.credentials, &session) {
            (Credentials::ApiKey { key, secret }, _) => req.basic_auth(key, Some(secret.expose())),
            (Credentials::Session { .. }, Some(cookie)) => {
                req.header(COOKIE, format!("JSESSIONID={cookie}"))
            }
            (Credentials::Session { .. }, None) => req,
        };
        if let Some(body) = json {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let started = Instant::now();
        let sent = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                resp.bytes().await.map(|b| (status, headers, b))
            }
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed();
        drop(permit);
        let (status, headers, body) = match sent {
            Ok(x) => x,
            Err(e) => {
                debug!(method = ?method, path = %shown, ms = elapsed.as_millis() as u64, error = %e, "request failed");
                let err = if e.is_timeout() {
                    Error::Timeout {
                        url: shown.to_owned(),
                        timeout: self.inner.cfg.request_timeout,
                    }
                } else {
                    Error::Network {
                        url: shown.to_owned(),
                        source: e.without_url(),
                    }
                };
                return Ok(Attempt::Retry(err));
            }
        };
        if let Some(date) = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        {
            let offset = date.with_timezone(&chrono::Utc) - self.inner.cfg.clock.now();
            *self
                .inner
                .finale_offset
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(offset);
        }
        let rl = RateLimitHeaders::from_headers(&headers);
        self.inner.scheduler.observe(kind, &rl, status);
        self.inner
            .scheduler
            .record(kind, elapsed, body.len() as u64, status);
        debug!(method = ?method, path = %shown, status, ms = elapsed.as_millis() as u64, bytes = body.len(), "finale request");
        match status {
            200..=299 => match parse(shown, &body) {
                Ok(r) => Ok(Attempt::Done(r)),
                Err(e) if e.is_retryable() => Ok(Attempt::Retry(e)),
                Err(e) => Err(e),
            },
            401 | 403 => {
                if let (Credentials::Session { .. }, Some(used)) =
                    (&self.inner.cfg.credentials, session)
                {
                    let mut s = self.inner.session.lock().await;
                    if s.as_deref() == Some(used.as_str()) {
                        *s = None;
                    }
                    return Ok(Attempt::Relogin);
                }
                Err(self.auth_error(status, extract_message(&body)))
            }
            404 => Err(Error::NotFound {
                url: shown.to_owned(),
                message: extract_message(&body),
            }),
            429 => Ok(Attempt::Throttled),
            500..=599 => Ok(Attempt::Retry(Error::Server {
                url: shown.to_owned(),
                status,
                message: extract_message(&body),
            })),
            _ => Err(Error::BadRequest {
                url: shown.to_owned(),
                status,
                message: extract_message(&body),
            }),
        }
    }

    fn auth_error(&self, status: u16, message: String) -> Error {
        Error::Auth {
            account: self.inner.cfg.account.clone(),
            base_url: self.inner.cfg.base_url.to_string(),
            status,
            message,
        }
    }

    /// The legacy session cookie, logging in first if there is none (one login at a time).
    async fn session_cookie(&self, prio: Priority) -> Result<String, Error> {
        let mut guard = self.inner.session.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let Credentials::Session { username, password } = &self.inner.cfg.credentials else {
            return Err(self.auth_error(0, "no session credentials".into()));
        };
        let mut url = self.inner.api_root.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push("auth");
        }
        let shown = display_url(&url);
        let body = serde_json::json!({ "username": username, "password": password.expose() });
        let mut failures = 0u32;
        loop {
            let permit = self.inner.scheduler.acquire(RequestKind::POST, prio).await;
            let started = Instant::now();
            let sent = self
                .inner
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default())
                .send()
                .await;
            let res = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    resp.bytes().await.map(|b| (status, headers, b))
                }
                Err(e) => Err(e),
            };
            drop(permit);
            let err = match res {
                Ok((status, headers, bytes)) => {
                    self.inner.scheduler.observe(
                        RequestKind::POST,
                        &RateLimitHeaders::from_headers(&headers),
                        status,
                    );
                    self.inner.scheduler.record(
                        RequestKind::POST,
                        started.elapsed(),
                        bytes.len() as u64,
                        status,
                    );
                    debug!(path = %shown, status, "legacy login");
                    match status {
                        200..=299 => {
                            let cookie = headers
                                .get_all(SET_COOKIE)
                                .iter()
                                .filter_map(|v| v.to_str().ok())
                                .find_map(session_from_set_cookie);
                            return match cookie {
                                Some(c) => {
                                    *guard = Some(c.clone());
                                    Ok(c)
                                }
                                None => Err(self.auth_error(
                                    status,
                                    "login answered without a JSESSIONID cookie".into(),
                                )),
                            };
                        }
                        429 => continue,
                        500..=599 => Error::Server {
                            url: shown.clone(),
                            status,
                            message: extract_message(&bytes),
                        },
                        _ => {
                            let msg = extract_message(&bytes);
                            let msg = if msg.is_empty() {
                                "login failed".to_owned()
                            } else {
                                msg
                            };
                            return Err(self.auth_error(status, msg));
                        }
                    }
                }
                Err(e) if e.is_timeout() => Error::Timeout {
                    url: shown.clone(),
                    timeout: self.inner.cfg.request_timeout,
                },
                Err(e) => Error::Network {
                    url: shown.clone(),
                    source: e.without_url(),
                },
            };
            failures += 1;
            if !self.inner.cfg.retry.should_retry(failures) {
                return Err(Error::Exhausted {
                    url: shown,
                    attempts: failures,
                    source: Box::new(err),
                });
            }
            let delay = self.inner.cfg.retry.delay(failures - 1, &mut rand::rng());
            self.inner.cfg.clock.sleep(delay).await;
        }
    }
}

/// `JSESSIONID=value; Path=/...` → `value`.
fn session_from_set_cookie(h: &str) -> Option<String> {
    let first = h.split(';').next()?.trim();
    let (name, value) = first.split_once('=')?;
    (name.trim().eq_ignore_ascii_case("JSESSIONID") && !value.trim().is_empty())
        .then(|| value.trim().to_owned())
}

/// The URL as shown in logs and errors: path and query only (no credentials are ever in
/// URLs, but the host is in the config anyway).
fn display_url(u: &Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

/// An order's lines as GraphQL returned them, in item order when every line has an index.
fn order_lines(mut lines: Vec<crate::graphql::GqlLine>) -> Vec<OrderLine> {
    if lines.iter().all(|l| l.item_index.is_some()) {
        lines.sort_by_key(|l| l.item_index);
    }
    lines
        .into_iter()
        .map(|l| OrderLine {
            order_item_url: None,
            product_id: l.product_id,
            product_url: l.product_url,
            quantity: l.quantity,
            unit_price: l.unit_price,
            unit_list_price: None,
            packing: None,
            description: None,
        })
        .collect()
}

/// How long a definitive GraphQL refusal sends line completion straight to per-order GETs
/// before GraphQL is tried again (virtual time).
pub const GRAPHQL_RETRY_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Whether a failed GraphQL line query is a reason to read the lines with per-order GETs
/// instead: `Some(true)` when GraphQL refused for good (no such endpoint, an `errors` answer, a
/// request it rejects, an unreadable body), `Some(false)` when it failed for now (server
/// errors after every retry), `None` when GETs would fail just the same (bad credentials,
/// invalid configuration, a cancelled run).
fn graphql_refusal(e: &Error) -> Option<bool> {
    match e {
        Error::Graphql { .. }
        | Error::NotFound { .. }
        | Error::BadRequest { .. }
        | Error::ErrorBody { .. }
        | Error::Decode { .. } => Some(true),
        Error::Server { .. } | Error::Exhausted { .. } | Error::RateLimited { .. } => Some(false),
        _ => None,
    }
}

/// Whether a failed `GET {orderUrl}` is that one order's problem: `Some(true)` when it fails
/// for good (the order is gone, Finale answers an error body, the record does not decode),
/// `Some(false)` when it failed for now (server errors after every retry: the order's alone
/// only if other orders were read meanwhile), `None` when every request would fail the same
/// way (credentials, configuration, a cancelled run).
fn per_order_failure(e: &Error) -> Option<bool> {
    match e {
        e if e.concerns_one_record() => Some(true),
        Error::Server { .. } | Error::Exhausted { .. } => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration as StdDuration;

    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;
    use base64::Engine as _;

    use crate::config::Secret;
    use crate::filter::Filter;
    use crate::model::Facility;

    /// What the fake server saw.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        query: Option<String>,
        headers: http::HeaderMap,
        body: String,
    }

    type Responder =
        dyn Fn(usize, &Seen) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

    #[derive(Clone)]
    struct Fake {
        log: Arc<Mutex<Vec<Seen>>>,
        respond: Arc<Responder>,
    }

    async fn handle(State(f): State<Fake>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        let n = {
            let mut log = f.log.lock().expect("log");
            log.push(seen.clone());
            log.len() - 1
        };
        let (status, headers, body) = (f.respond)(n, &seen);
        let mut resp = Response::builder().status(status);
        for (k, v) in headers {
            resp = resp.header(k, v);
        }
        resp.body(Body::from(body)).expect("response")
    }

    async fn serve(
        respond: impl Fn(usize, &Seen) -> (u16, Vec<(&'static str, String)>, String)
        + Send
        + Sync
        + 'static,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let fake = Fake {
            log: Arc::default(),
            respond: Arc::new(respond),
        };
        let log = Arc::clone(&fake.log);
        let app = axum::Router::new().fallback(handle).with_state(fake);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), log)
    }

    const SECRET: &str = "very-secret-value-42";

    fn config(base: &str) -> FinaleConfig {
        let mut c = FinaleConfig::new(
            "acme",
            Credentials::ApiKey {
                key: "key-1".into(),
                secret: Secret::from(SECRET),
            },
        );
        c.base_url = base.parse().expect("url");
        c.retry.base = StdDuration::from_millis(1);
        c.retry.max = StdDuration::from_millis(5);
        c.retry.max_attempts = 3;
        c.request_timeout = StdDuration::from_secs(5);
        c
    }

    fn facilities(n: usize, updated: &str) -> String {
        let urls: Vec<String> = (0..n)
            .map(|i| format!("\"/acme/api/facility/{i}\""))
            .collect();
        let ids: Vec<String> = (0..n).map(|i| format!("\"{i}\"")).collect();
        let upd: Vec<String> = (0..n).map(|_| format!("\"{updated}\"")).collect();
        format!(
            "{{\"facilityUrl\":[{}],\"facilityId\":[{}],\"lastUpdatedDate\":[{}]}}",
            urls.join(","),
            ids.join(","),
            upd.join(",")
        )
    }

    fn ok(body: String) -> (u16, Vec<(&'static str, String)>, String) {
        (200, vec![("content-type", "application/json".into())], body)
    }

    #[tokio::test]
    async fn sends_accept_and_basic_auth_and_decodes() {
        let (base, log) = serve(|_, _| ok(facilities(3, "2025-01-01T00:00:00"))).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let got = client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect("reads");
        assert_eq!(got.records.len(), 3);
        let log = log.lock().expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].method, "GET");
        assert_eq!(log[0].path, "/acme/api/facility/");
        assert_eq!(log[0].query, None, "no filter on a plain collection read");
        assert_eq!(log[0].headers["accept"], "application/json");
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("key-1:{SECRET}"))
        );
        assert_eq!(log[0].headers["authorization"], want.as_str());
        assert_eq!(client.budget_report().requests, 1);
    }

    #[tokio::test]
    async fn unauthorized_fails_at_once_without_the_secret() {
        let (base, log) = serve(|_, _| (401, vec![], r#"{"errorMessage":"bad key"}"#.into())).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let err = client
            .fetch_all::<Facility>(Priority::Critical)
            .await
            .expect_err("401");
        assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
        assert!(err.is_permanent());
        assert_eq!(log.lock().expect("log").len(), 1, "not retried");
        let shown = format!("{err} {err:?} {client:?} {:?}", client.config());
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("acme") && shown.contains(&base), "{shown}");
        assert!(shown.contains("bad key"), "{shown}");
    }

    #[tokio::test]
    async fn a_200_with_an_error_body_is_an_error() {
        let (base, log) =
            serve(|_, _| ok(r#"{"success":false,"errorMessage":"Account suspended"}"#.into()))
                .await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let err = client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect_err("error body");
        assert!(matches!(err, Error::ErrorBody { .. }), "{err:?}");
        assert!(err.to_string().contains("Account suspended"));
        assert_eq!(log.lock().expect("log").len(), 1);
        // An honest empty collection is not an error.
        let (base, _) = serve(|_, _| ok("{}".into())).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let got = client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect("empty");
        assert!(got.records.is_empty());
    }

    #[tokio::test]
    async fn server_errors_and_truncated_bodies_are_retried_then_exhausted() {
        let (base, log) = serve(|n, _| match n {
            0 => (503, vec![], "busy".into()),
            1 => ok("{\"facilityUrl\": [\"/acme/api/fac".into()),
            _ => ok(facilities(1, "2025-01-01T00:00:00")),
        })
        .await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let got = client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect("third try");
        assert_eq!(got.records.len(), 1);
        assert_eq!(log.lock().expect("log").len(), 3);

        let (base, log) = serve(|_, _| (500, vec![], "<html>oops</html>".into())).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let err = client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect_err("500s");
        assert!(
            matches!(err, Error::Exhausted { attempts: 3, .. }),
            "{err:?}"
        );
        let cause = std::error::Error::source(&err)
            .expect("cause kept")
            .to_string();
        assert!(cause.contains("500") && cause.contains("oops"), "{cause}");
        assert_eq!(
            log.lock().expect("log").len(),
            3,
            "max_attempts = 3 tries in all"
        );
    }

    #[tokio::test]
    async fn bad_requests_carry_the_server_message_and_are_not_retried() {
        let (base, log) = serve(|_, _| {
            (
                400,
                vec![],
                r#"{"errorMessage":"lastUpdatedDate range exceeds 30 days"}"#.into(),
            )
        })
        .await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let w = Window::new(
            "2025-01-01T00:00:00Z".parse().expect("t"),
            "2025-01-20T00:00:00Z".parse().expect("t"),
        )
        .expect("window");
        let err = client
            .fetch_window::<Facility>(w, Priority::Smart)
            .await
            .expect_err("400");
        assert!(
            matches!(err, Error::BadRequest { status: 400, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("30 days"));
        assert_eq!(log.lock().expect("log").len(), 1);
        // Too wide for the configured maximum: refused before sending.
        let wide = Window::new(w.start, w.start + chrono::Duration::days(31)).expect("window");
        let err = client
            .fetch_window::<Facility>(wide, Priority::Smart)
            .await
            .expect_err("wide");
        assert!(matches!(err, Error::WindowTooWide { .. }), "{err:?}");
        assert_eq!(log.lock().expect("log").len(), 1);
    }

    /// finale-api.md §15b: an unknown path answers an HTML 404 page; it is a permanent
    /// not-found error with its status and the page's text, not a decode error or a retry.
    #[tokio::test]
    async fn an_html_404_page_is_not_found_with_its_status() {
        let page = "<!DOCTYPE html><html><head><title>404 Not Found</title></head>\
                    <body><h1>Not Found</h1></body></html>";
        let (base, log) =
            serve(move |_, _| (404, vec![("content-type", "text/html".into())], page.into())).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let err = client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect_err("404");
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert_eq!(err.status(), Some(404));
        assert!(err.is_permanent());
        let shown = err.to_string();
        assert!(
            shown.contains("Not Found") && !shown.contains('<'),
            "{shown}"
        );
        assert_eq!(log.lock().expect("log").len(), 1, "not retried");
    }

    #[tokio::test]
    async fn not_found_names_the_url() {
        let (base, _) = serve(|_, _| (404, vec![], "no such thing".into())).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let err = client
            .fetch_one::<Facility>("/acme/api/facility/NOPE", Priority::Smart)
            .await
            .expect_err("404");
        assert!(
            matches!(err, Error::NotFound { .. }) && err.is_permanent(),
            "{err:?}"
        );
        assert!(err.to_string().contains("/acme/api/facility/NOPE"));
    }

    #[tokio::test]
    async fn record_urls_never_leave_the_configured_host() {
        let (base, log) = serve(|_, _| ok("{}".into())).await;
        let client = FinaleClient::new(config(&base)).expect("client");
        for evil in [
            "https://evil.example/acme/api/facility/1",
            "//evil.example/acme/api/facility/1",
            "facility/1",
            "javascript:alert(1)",
        ] {
            let err = client
                .fetch_one::<Facility>(evil, Priority::Smart)
                .await
                .expect_err(evil);
            assert!(matches!(err, Error::InvalidUrl { .. }), "{evil}: {err:?}");
        }
        assert!(log.lock().expect("log").is_empty(), "nothing was sent");
    }

    #[tokio::test]
    async fn every_collection_read_reports_whether_it_reached_the_cap() {
        // The server answers 2 facilities, or 3 stock rows.
        let (base, _) = serve(|_, seen| {
            let n = if seen.path.contains("inventoryitem") {
                3
            } else {
                2
            };
            let urls: Vec<String> = (0..n)
                .map(|i| format!("\"/acme/api/facility/{i}\""))
                .collect();
            ok(format!(
                "{{\"facilityUrl\":[{0}],\"productUrl\":[{0}],\"facilityId\":[{0}]}}",
                urls.join(",")
            ))
        })
        .await;
        for (cap, facility_capped, stock_capped) in
            [(2, true, true), (3, false, true), (4, false, false)]
        {
            let mut cfg = config(&base);
            cfg.cap = cap;
            let client = FinaleClient::new(cfg).expect("client");
            let f = client
                .fetch_all::<Facility>(Priority::Smart)
                .await
                .expect("facilities");
            assert_eq!(f.records.len(), 2);
            assert_eq!(f.capped, facility_capped, "cap {cap}: facility");
            let s = client
                .fetch_all::<crate::model::InventoryItem>(Priority::Smart)
                .await
                .expect("stock");
            assert_eq!(s.records.len(), 3);
            assert_eq!(s.capped, stock_capped, "cap {cap}: inventoryitem");
            let w = Window::new(
                "2025-01-01T00:00:00Z".parse().expect("t"),
                "2025-01-02T00:00:00Z".parse().expect("t"),
            )
            .expect("window");
            let b = client
                .fetch_window::<crate::model::InventoryItem>(w, Priority::Smart)
                .await
                .expect("stock window");
            assert_eq!(b.capped, stock_capped, "inventoryitem ignores windows");
        }
        // The pure decoder knows no cap.
        let d = crate::decode_collection::<Facility>(
            br#"{"facilityUrl":["/acme/api/facility/1"]}"#,
            &DecodeContext::default(),
        )
        .expect("decodes");
        assert!(!d.capped);
    }

    #[tokio::test]
    async fn windows_send_both_bounds_and_full_pages_are_split_and_deduped() {
        // cap = 4: the server returns 4 rows for any window wider than 8 days, else 2 rows
        // with one key shared by every response (boundary duplicates).
        let (base, log) = serve(|_, seen| {
            let q = seen.query.clone().unwrap_or_default();
            let enc = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("filter="))
                .unwrap_or_default();
            let enc = percent_encoding::percent_decode_str(enc).decode_utf8_lossy();
            let f = Filter::decode(&enc).expect("valid filter");
            let (lo, hi) = f.get("lastUpdatedDate").expect("date range");
            let lo: DateTime<Utc> = lo.as_str().expect("lo").parse().expect("lo");
            let hi: DateTime<Utc> = hi.as_str().expect("hi").parse().expect("hi");
            let n = if hi - lo > chrono::Duration::days(8) {
                4
            } else {
                2
            };
            let tag = lo.timestamp();
            let urls: Vec<String> = (0..n)
                .map(|i| {
                    if i == 0 {
                        "\"/acme/api/facility/shared\"".to_owned()
                    } else {
                        format!("\"/acme/api/facility/{tag}-{i}\"")
                    }
                })
                .collect();
            let ids: Vec<String> = (0..n).map(|i| format!("\"{i}\"")).collect();
            ok(format!(
                "{{\"facilityUrl\":[{}],\"facilityId\":[{}],\"lastUpdatedDate\":[\"{}\"]}}",
                urls.join(","),
                ids.join(","),
                hi.format("%Y-%m-%dT%H:%M:%S")
            ))
        })
        .await;
        let mut cfg = config(&base);
        cfg.cap = 4;
        let client = FinaleClient::new(cfg).expect("client");
        let w = Window::new(
            "2025-01-01T00:00:00Z".parse().expect("t"),
            "2025-01-21T00:00:00Z".parse().expect("t"),
        )
        .expect("window");
        let batch = client
            .fetch_window::<Facility>(w, Priority::Smart)
            .await
            .expect("reads");
        // 20 days -> 10 + 10 -> 5,5,5,5 (<= 8 days: 2 rows each).
        assert_eq!(batch.splits, 3);
        assert_eq!(batch.requests, 7);
        assert_eq!(batch.records.len(), 5, "4 distinct + the shared key once");
        let shared: Vec<&Facility> = batch
            .records
            .iter()
            .filter(|f| f.url.ends_with("/shared"))
            .collect();
        assert_eq!(shared.len(), 1);
        assert_eq!(
            shared[0].last_updated,
            Some("2025-01-21T00:00:00Z".parse().expect("t")),
            "newest copy kept"
        );
        for s in log.lock().expect("log").iter() {
            let q = s.query.as_deref().unwrap_or_default();
            assert!(q.starts_with("filter="), "{q}");
        }
    }

    #[tokio::test]
    async fn a_window_that_cannot_be_split_is_reported() {
        let (base, _) = serve(|_, _| ok(facilities(3, "2025-01-01T00:00:00"))).await;
        let mut cfg = config(&base);
        cfg.cap = 3;
        let client = FinaleClient::new(cfg).expect("client");
        let t: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().expect("t");
        let w = Window::new(t, t + chrono::Duration::seconds(4)).expect("window");
        let err = client
            .fetch_window::<Facility>(w, Priority::Smart)
            .await
            .expect_err("dense");
        assert!(
            matches!(err, Error::WindowTooDense { count: 3, .. }),
            "{err:?}"
        );
        assert!(err.is_permanent());
    }

    #[tokio::test]
    async fn legacy_session_logs_in_once_and_relogs_on_401() {
        let (base, log) = serve(|n, seen| {
            if seen.path.ends_with("/api/auth") {
                let ok_login = seen.body.contains("\"password\":\"pw\"");
                return if ok_login {
                    (
                        200,
                        vec![("set-cookie", format!("JSESSIONID=s{n}; Path=/; HttpOnly"))],
                        "{\"name\":\"clerk\"}".into(),
                    )
                } else {
                    (401, vec![], "{\"errorMessage\":\"bad login\"}".into())
                };
            }
            let cookie = seen
                .headers
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            // The first session expires after its first use.
            if cookie == "JSESSIONID=s0" && n > 1 {
                return (401, vec![], String::new());
            }
            if cookie.starts_with("JSESSIONID=s") {
                ok(facilities(1, "2025-01-01T00:00:00"))
            } else {
                (401, vec![], String::new())
            }
        })
        .await;
        let mut cfg = config(&base);
        cfg.credentials = Credentials::Session {
            username: "clerk".into(),
            password: Secret::from("pw"),
        };
        let client = FinaleClient::new(cfg.clone()).expect("client");
        client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect("first");
        client
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect("after re-login");
        let paths: Vec<String> = log
            .lock()
            .expect("log")
            .iter()
            .map(|s| s.path.clone())
            .collect();
        assert_eq!(
            paths,
            [
                "/acme/api/auth",
                "/acme/api/facility/",
                "/acme/api/facility/",
                "/acme/api/auth",
                "/acme/api/facility/"
            ]
        );
        assert!(
            log.lock()
                .expect("log")
                .iter()
                .all(|s| s.headers.get("authorization").is_none())
        );

        cfg.credentials = Credentials::Session {
            username: "clerk".into(),
            password: Secret::from("wrong-pw"),
        };
        let err = FinaleClient::new(cfg)
            .expect("client")
            .fetch_all::<Facility>(Priority::Smart)
            .await
            .expect_err("bad login");
        assert!(matches!(err, Error::Auth { .. }), "{err:?}");
        assert!(!format!("{err:?}").contains("wrong-pw"));
    }

    fn header_order(id: &str, date: Option<&str>) -> Order {
        Order {
            url: format!("/acme/api/order/{id}"),
            order_id: id.into(),
            order_type: "SALES_ORDER".into(),
            status: Some("ORDER_LOCKED".into()),
            order_date: date.map(|d| d.parse().expect("date")),
            due_date: None,
            created: None,
            last_updated: None,
            origin_facility_url: None,
            destination_facility_url: None,
            roles: vec![],
            lines: None,
            status_history: vec![],
            shipment_urls: vec![],
            invoice_urls: vec![],
            reference_number: None,
            total: None,
            user_fields: vec![],
        }
    }

    fn gql_order(id: &str, truncated: bool) -> String {
        format!(
            r#"{{"node":{{"orderUrl":"/acme/api/order/{id}","itemList":{{"pageInfo":{{"hasNextPage":{truncated}}},"edges":[
              {{"node":{{"itemIndex":2,"product":{{"productId":"B","productUrl":"/acme/api/product/2"}},"quantity":"1,000","unitPrice":2}}}},
              {{"node":{{"itemIndex":1,"product":{{"productId":"A","productUrl":"/acme/api/product/1"}},"quantity":3,"unitPrice":"1.50"}}}}]}}}}}}"#
        )
    }

    #[tokio::test]
    async fn order_lines_come_from_graphql_pages_then_gets_for_the_rest() {
        let (base, log) = serve(|_, seen| {
            if seen.path.ends_with("/graphql") {
                assert_eq!(seen.method, "POST");
                assert_eq!(seen.headers["content-type"], "application/json");
                let req: serde_json::Value = serde_json::from_str(&seen.body).expect("json");
                let after = req["variables"]["after"].as_str().map(str::to_owned);
                // Page 1: SO-1, an order we do not need, SO-2 (truncated lines).
                // Page 2: SO-3, SO-4.
                return match after.as_deref() {
                    None => ok(format!(
                        r#"{{"data":{{"orderViewConnection":{{"pageInfo":{{"hasNextPage":true,"endCursor":"c1"}},"edges":[{},{},{}]}}}}}}"#,
                        gql_order("SO-1", false),
                        gql_order("OTHER", false),
                        gql_order("SO-2", true)
                    )),
                    Some("c1") => ok(format!(
                        r#"{{"data":{{"orderViewConnection":{{"pageInfo":{{"hasNextPage":false,"endCursor":null}},"edges":[{},{}]}}}}}}"#,
                        gql_order("SO-3", false),
                        gql_order("SO-4", false)
                    )),
                    Some(other) => panic!("unexpected cursor {other}"),
                };
            }
            let id = seen.path.rsplit('/').next().unwrap_or_default().to_owned();
            ok(format!(
                r#"{{"orderUrl":"/acme/api/order/{id}","orderId":"{id}","orderTypeId":"SALES_ORDER",
                    "orderItemList":[{{"productUrl":"/acme/api/product/9","quantity":7}}]}}"#
            ))
        })
        .await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let mut orders = vec![
            header_order("SO-1", Some("2025-03-01T10:00:00Z")),
            header_order("SO-2", Some("2025-03-02T10:00:00Z")),
            header_order("SO-3", Some("2025-03-03T10:00:00Z")),
            header_order("SO-4", Some("2025-03-04T10:00:00Z")),
            header_order("SO-5", None),
        ];
        orders.push({
            let mut done = header_order("SO-6", Some("2025-03-04T10:00:00Z"));
            done.lines = Some(vec![]);
            done
        });
        let report = client
            .complete_order_lines(&mut orders, Priority::Smart)
            .await
            .expect("completes");
        assert_eq!(
            report,
            LineFetchReport {
                orders_completed: 5,
                via_graphql: 3,
                via_get: 2,
                requests: 4,
                graphql_refused: None,
                unreadable: vec![],
            }
        );
        let so1 = orders[0].lines.as_ref().expect("lines");
        assert_eq!(so1.len(), 2);
        assert_eq!(
            so1[0].product_id.as_deref(),
            Some("A"),
            "sorted by itemIndex"
        );
        assert_eq!(so1[0].quantity, Some(3.0));
        assert_eq!(so1[0].unit_price, Some(1.5));
        assert_eq!(so1[1].quantity, Some(1000.0), "display strings parsed");
        for i in [1, 4] {
            let l = orders[i].lines.as_ref().expect("lines via GET");
            assert_eq!(l[0].product_url.as_deref(), Some("/acme/api/product/9"));
        }
        assert_eq!(orders[5].lines, Some(vec![]), "untouched");
        let gets: Vec<String> = log
            .lock()
            .expect("log")
            .iter()
            .filter(|s| s.method == "GET")
            .map(|s| s.path.clone())
            .collect();
        assert_eq!(gets.len(), 2);
        assert!(gets.contains(&"/acme/api/order/SO-2".to_owned()));
        assert!(gets.contains(&"/acme/api/order/SO-5".to_owned()));
        // A couple of orders: exact GETs, no GraphQL.
        let mut two = vec![
            header_order("SO-7", Some("2025-03-01T10:00:00Z")),
            header_order("SO-8", Some("2025-03-01T10:00:00Z")),
        ];
        let r = client
            .complete_order_lines(&mut two, Priority::Smart)
            .await
            .expect("ok");
        assert_eq!((r.via_get, r.via_graphql), (2, 0));
    }

    #[tokio::test]
    async fn graphql_errors_fail_the_query() {
        let (base, _) = serve(|_, _| {
            ok(
                r#"{"data":null,"errors":[{"message":"Unknown field orderIncrementQuantity"}]}"#
                    .into(),
            )
        })
        .await;
        let client = FinaleClient::new(config(&base)).expect("client");
        let err = client
            .graphql(&serde_json::json!({"query": "{ x }"}), Priority::Smart)
            .await
            .expect_err("errors");
        assert!(
            matches!(err, Error::Graphql { .. }) && err.is_permanent(),
            "{err:?}"
        );
        assert!(err.to_string().contains("orderIncrementQuantity"), "{err}");
    }

    #[test]
    fn set_cookie_parsing() {
        assert_eq!(
            session_from_set_cookie("JSESSIONID=abc123; Path=/; HttpOnly").as_deref(),
            Some("abc123")
        );
        assert_eq!(session_from_set_cookie("other=1; Path=/"), None);
        assert_eq!(session_from_set_cookie("JSESSIONID=; Path=/"), None);
        assert_eq!(session_from_set_cookie("garbage"), None);
    }
}
