//! The HTTP server: Finale's REST surface over the shared dataset.
//!
//! Request lifecycle (one fallback handler, so routing sees the *raw*, still percent-encoded
//! path and can match stored URLs exactly):
//!
//! 1. **Classify** the path: collection (`/{acct}/api/{name}/`), single record
//!    (`/{acct}/api/{name}/{id}`), legacy login, GraphQL, or unknown; decide which rate-limit
//!    buckets the request would consume.
//! 2. **Faults**: the first queued [`FaultPlan`] matching the path takes effect. Faults consume
//!    no budget and are logged with their status (0 for `Drop`/`Truncate`).
//! 3. **Account**: an unknown account segment is a 404.
//! 4. **Auth**: HTTP Basic with the API key/secret, or a `JSESSIONID` cookie from legacy login;
//!    otherwise 401 with an error body in the configured shape.
//! 5. **Rate limit** in virtual time ([`crate::ratelimit`]); 429 with `Retry-After` when a bucket
//!    is exhausted.
//! 6. **Serve**: column-major collections with `filter`/`limit`, single records, login.
//!
//! Every response is logged in [`SimStats`] with the virtual time of arrival.
//!
//! Connections are accepted by our own loop (hyper http/1) rather than `axum::serve`, because
//! `Drop` and `Truncate` faults must be able to kill one connection mid-response: each
//! connection gets a cancellation token, visible to the handler as a request extension.
//!
//! GraphQL: `POST /{acct}/api/graphql` is routed, authenticated and budgeted here (a POST; also
//! a collection read if configured); the body comes from [`crate::graphql::execute`].

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rand::Rng;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;

use crate::config::{DateHeader, ErrorBodyShape, SimConfig};
use crate::faults::{Fault, FaultPlan, FaultQueue};
use crate::filter;
use crate::generate::generate;
use crate::live::{self, LiveReport, LiveState};
use crate::model::{Dataset, Record, SharedDataset, Table};
use crate::ratelimit::{Bucket, RateLimiter, Verdict};
use crate::render::{self, Cx, Render};

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot bind {addr}")]
    Bind {
        /// The address from the config.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket has no local address.
    #[error("cannot read the bound address")]
    LocalAddr(#[source] std::io::Error),
}

/// One logged request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogEntry {
    /// Virtual time of arrival.
    pub at: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Raw path (no query).
    pub path: String,
    /// Status sent (0 when the connection was dropped or truncated).
    pub status: u16,
    /// Whether it was a collection read.
    pub collection: bool,
}

/// A snapshot of request statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimStats {
    /// Every request received (faults, 401s and 429s included).
    pub requests: u64,
    /// Admitted requests per consumed bucket: `get`, `post`, `collection`.
    pub by_bucket: BTreeMap<String, u64>,
    /// Responses per status (0 = dropped/truncated).
    pub by_status: BTreeMap<u16, u64>,
    /// Body bytes sent (before compression).
    pub bytes_sent: u64,
    /// Every request, in arrival order.
    pub log: Vec<RequestLogEntry>,
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

struct Inner {
    cfg: SimConfig,
    addr: SocketAddr,
    dataset: SharedDataset,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<FaultQueue>,
    stats: Mutex<SimStats>,
    sessions: Mutex<HashSet<String>>,
    live: Mutex<LiveState>,
    shutdown: CancellationToken,
    server: Mutex<Option<JoinHandle<()>>>,
    live_task: Mutex<Option<JoinHandle<()>>>,
}

/// A running simulator. Cheap to clone; all clones control the same server.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.inner.addr)
            .field("cfg", &self.inner.cfg)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The per-connection kill switch, visible to handlers as a request extension.
#[derive(Clone)]
struct ConnKill(CancellationToken);

impl Simulator {
    /// Generates the dataset (deterministic for `(seed, size, anchor)`), binds `cfg.bind`, and
    /// serves in a tokio task.
    pub async fn start(cfg: SimConfig) -> Result<SimHandle, SimError> {
        let dataset = generate(&cfg.account, cfg.seed, cfg.size, cfg.anchor);
        let listener = tokio::net::TcpListener::bind(cfg.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(SimError::LocalAddr)?;
        let inner = Arc::new(Inner {
            limiter: Mutex::new(RateLimiter::new(cfg.limits.clone())),
            faults: Mutex::new(FaultQueue::default()),
            stats: Mutex::new(SimStats::default()),
            sessions: Mutex::new(HashSet::new()),
            live: Mutex::new(LiveState::new(cfg.seed, cfg.size)),
            dataset: Arc::new(RwLock::new(dataset)),
            shutdown: CancellationToken::new(),
            server: Mutex::new(None),
            live_task: Mutex::new(None),
            addr,
            cfg,
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(inner.clone())
            .layer(CompressionLayer::new());
        let shutdown = inner.shutdown.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    a = listener.accept() => a,
                };
                let Ok((stream, _)) = accepted else { continue };
                let router = router.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let kill = CancellationToken::new();
                    let tower = TowerToHyperService::new(router);
                    let k = kill.clone();
                    let svc =
                        hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                            req.extensions_mut().insert(ConnKill(k.clone()));
                            tower.call(req)
                        });
                    // The `Date` header is the simulated Finale's (see `handle`), not the
                    // host's that hyper would add.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .auto_date_header(false)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = kill.cancelled() => {}
                        _ = shutdown.cancelled() => {}
                    }
                });
            }
        });
        *lock(&inner.server) = Some(task);
        tracing::info!(addr = %addr, account = %inner.cfg.account, "finale simulator listening");
        Ok(SimHandle { inner })
    }
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT` (no account segment).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The account path component.
    pub fn account(&self) -> &str {
        &self.inner.cfg.account
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.inner.cfg
    }

    /// The truth, shared with the server (read-lock it to compare).
    pub fn dataset(&self) -> SharedDataset {
        self.inner.dataset.clone()
    }

    /// A snapshot of the request statistics.
    pub fn stats(&self) -> SimStats {
        lock(&self.inner.stats).clone()
    }

    /// Queues a fault.
    pub fn inject(&self, plan: FaultPlan) {
        lock(&self.inner.faults).push(plan);
    }

    /// Removes all queued faults.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Applies `virtual_elapsed` worth of live changes, stamped with the clock's now (+ skew).
    pub fn step_live(&self, virtual_elapsed: chrono::Duration) -> LiveReport {
        let stamp = self.inner.cfg.clock.now() + self.inner.cfg.quirks.clock_skew;
        let mut st = lock(&self.inner.live);
        let mut ds = self
            .inner
            .dataset
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        live::step(&mut ds, &mut st, virtual_elapsed, stamp)
    }

    /// Starts a background task that calls `step_live(tick)` every virtual `tick`.
    pub fn start_live(&self, tick: chrono::Duration) {
        let me = self.clone();
        let token = self.inner.shutdown.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = me.inner.cfg.clock.sleep(tick) => {}
                }
                let rep = me.step_live(tick);
                tracing::debug!(?rep, "live step");
            }
        });
        if let Some(old) = lock(&self.inner.live_task).replace(task) {
            old.abort();
        }
    }

    /// Stops serving and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.inner.shutdown.cancel();
        if let Some(t) = lock(&self.inner.live_task).take() {
            t.abort();
        }
        let task = lock(&self.inner.server).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

/// The GraphQL seam: runs the evaluator of [`crate::graphql`] on the request body.
/// A body that is not a GraphQL request is a 400; GraphQL errors are a 200 with `errors`.
fn graphql_response(inner: &Inner, ds: &Dataset, body: &[u8], now: DateTime<Utc>) -> Out {
    let ctx = crate::graphql::GqlContext {
        account: inner.cfg.account.clone(),
        timezone: inner.cfg.quirks.timezone,
        now,
        date_keys: inner.cfg.quirks.graphql_date_keys,
        none_formatter_numbers: inner.cfg.quirks.graphql_none_format,
        packed_quantities: inner.cfg.quirks.packed_quantities,
    };
    match crate::graphql::execute(ds, &ctx, body) {
        Ok(v) => Out::json(StatusCode::OK, serde_json::to_vec(&v).unwrap_or_default()),
        Err(e) => error_out(
            inner.cfg.quirks.error_body,
            StatusCode::BAD_REQUEST,
            &e.to_string(),
        ),
    }
}

/// Which collection a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coll {
    Product,
    Facility,
    InventoryItem,
    Order,
    PartyGroup,
    Shipment,
}

impl Coll {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "product" => Coll::Product,
            "facility" => Coll::Facility,
            "inventoryitem" => Coll::InventoryItem,
            "order" => Coll::Order,
            "partygroup" => Coll::PartyGroup,
            "shipment" => Coll::Shipment,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    WrongAccount,
    Collection(Coll),
    Record(Coll),
    Auth,
    Graphql,
    Unknown,
}

fn classify(path: &str, account: &str) -> Route {
    let mut segs = path.trim_start_matches('/').splitn(3, '/');
    let (Some(acct), Some(api)) = (segs.next(), segs.next()) else {
        return Route::WrongAccount;
    };
    if acct != account {
        return Route::WrongAccount;
    }
    if api != "api" {
        return Route::Unknown;
    }
    let rest = segs.next().unwrap_or("");
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["auth"] => Route::Auth,
        ["graphql"] => Route::Graphql,
        [c] | [c, ""] => Coll::parse(c).map_or(Route::Unknown, Route::Collection),
        [c, id] if !id.is_empty() => match Coll::parse(c) {
            Some(Coll::InventoryItem) | None => Route::Unknown,
            Some(c) => Route::Record(c),
        },
        _ => Route::Unknown,
    }
}

fn query_params(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// A response before it is turned into HTTP.
struct Out {
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    extra_headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Out {
    fn json(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            content_type: "application/json",
            extra_headers: Vec::new(),
        }
    }
}

fn error_out(shape: ErrorBodyShape, status: StatusCode, msg: &str) -> Out {
    let json_body = |v: Value| serde_json::to_vec(&v).unwrap_or_default();
    match shape {
        ErrorBodyShape::ErrorMessage => Out::json(status, json_body(json!({"errorMessage": msg}))),
        ErrorBodyShape::MessageKey => Out::json(status, json_body(json!({"message": msg}))),
        ErrorBodyShape::ErrorsList => Out::json(status, json_body(json!({"errors": [msg]}))),
        ErrorBodyShape::PlainText => Out {
            status,
            body: msg.as_bytes().to_vec(),
            content_type: "text/plain; charset=utf-8",
            extra_headers: Vec::new(),
        },
    }
}

fn authenticated(inner: &Inner, headers: &HeaderMap) -> bool {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(b64) = v
            .strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
        && let Ok(raw) = STANDARD.decode(b64.trim())
        && let Ok(s) = String::from_utf8(raw)
        && let Some((k, secret)) = s.split_once(':')
    {
        return k == inner.cfg.api_key && secret == inner.cfg.api_secret;
    }
    let sessions = lock(&inner.sessions);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("JSESSIONID="))
        .any(|id| sessions.contains(id))
}

fn corrupt_positions(n: usize, len: usize) -> Vec<usize> {
    let n = n.min(len);
    (0..n).map(|k| k * len / n.max(1)).collect()
}

fn serve_collection<T: Render + Record>(
    table: &Table<T>,
    params: &[(String, String)],
    inner: &Inner,
    now: DateTime<Utc>,
    cx: &Cx,
    corrupt: usize,
) -> Result<Vec<u8>, filter::FilterError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let q = filter::parse::<T>(
        get("filter"),
        get("limit"),
        inner.cfg.quirks.timestamp_zone(),
        now,
        inner.cfg.quirks.reject_open_upper_bound,
    )?;
    let idx = filter::run(table, &q, inner.cfg.cap);
    let rows: Vec<&T> = idx.iter().filter_map(|&i| table.get(i)).collect();
    Ok(render::column_major(
        &rows,
        cx,
        &corrupt_positions(corrupt, rows.len()),
    ))
}

fn serve_record<T: Render + Record>(table: &Table<T>, path: &str, cx: &Cx) -> Option<Vec<u8>> {
    table.by_url(path).map(|r| render::single(r, cx))
}

fn resource_map(account: &str, name: &str) -> Value {
    let r = |s: &str| format!("/{account}/api/{s}/");
    json!({
        "name": name,
        "resourceProduct": r("product"),
        "resourceFacilityUrl": r("facility"),
        "resourceFacility": r("facility"),
        "resourceInventoryItem": r("inventoryitem"),
        "resourceInventoryTransfer": r("inventorytransfer"),
        "resourceInventoryVariance": r("inventoryvariance"),
        "resourceInventoryVarianceSummary": r("inventoryvariancesummary"),
        "resourceOrder": r("order"),
        "resourceOrderSummary": r("ordersummary"),
        "resourcePartyGroup": r("partygroup"),
        "resourceShipment": r("shipment"),
        "resourceHazardousMaterial": r("hazardousmaterial"),
    })
}

fn legacy_login(inner: &Inner, body: &[u8]) -> Out {
    let shape = inner.cfg.quirks.error_body;
    let creds: Option<(String, String)> =
        serde_json::from_slice::<Value>(body).ok().and_then(|v| {
            Some((
                v.get("username")?.as_str()?.to_owned(),
                v.get("password")?.as_str()?.to_owned(),
            ))
        });
    match (&inner.cfg.legacy_user, creds) {
        (Some((u, p)), Some((cu, cp))) if *u == cu && *p == cp => {
            let id: String = {
                let mut rng = rand::rng();
                (0..32)
                    .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                    .collect()
            };
            lock(&inner.sessions).insert(id.clone());
            let body =
                serde_json::to_vec(&resource_map(&inner.cfg.account, &cu)).unwrap_or_default();
            let mut out = Out::json(StatusCode::OK, body);
            let cookie = format!("JSESSIONID={id}; Path=/{}", inner.cfg.account);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                out.extra_headers.push((header::SET_COOKIE, v));
            }
            out
        }
        _ => error_out(
            shape,
            StatusCode::UNAUTHORIZED,
            "invalid username or password",
        ),
    }
}

/// Serves an admitted (authenticated, budgeted) request.
#[allow(clippy::too_many_arguments)] // one call site; the arguments are the parsed request
fn route(
    inner: &Inner,
    route: &Route,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    corrupt: usize,
) -> Out {
    let shape = inner.cfg.quirks.error_body;
    let ds = inner.dataset.read().unwrap_or_else(PoisonError::into_inner);
    let cx = Cx {
        tz: inner.cfg.quirks.timestamp_zone(),
        collection: matches!(route, Route::Collection(_)),
        order_items_in_collection: inner.cfg.quirks.order_items_in_collection,
        packed_quantities: inner.cfg.quirks.packed_quantities,
        account_tz: inner.cfg.quirks.timezone,
        live_product_shape: inner.cfg.quirks.live_product_shape,
        doc_shaped_records: inner.cfg.quirks.doc_shaped_records,
    };
    match (route, method) {
        (Route::Auth, &Method::POST) => legacy_login(inner, body),
        (Route::Graphql, &Method::POST) => graphql_response(inner, &ds, body, now),
        (Route::Collection(_), &Method::GET)
            if inner.cfg.quirks.collection_needs_trailing_slash && !path.ends_with('/') =>
        {
            html_not_found()
        }
        (Route::Collection(c), &Method::GET) => {
            let params = query_params(query);
            let res = match c {
                Coll::InventoryItem => {
                    let rows: Vec<_> = filter::truncate_at_cap(&ds.inventory_items, inner.cfg.cap)
                        .iter()
                        .collect();
                    Ok(render::column_major(
                        &rows,
                        &cx,
                        &corrupt_positions(corrupt, rows.len()),
                    ))
                }
                Coll::Product => serve_collection(&ds.products, &params, inner, now, &cx, corrupt),
                Coll::Facility => {
                    serve_collection(&ds.facilities, &params, inner, now, &cx, corrupt)
                }
                Coll::Order => serve_collection(&ds.orders, &params, inner, now, &cx, corrupt),
                Coll::PartyGroup => {
                    serve_collection(&ds.party_groups, &params, inner, now, &cx, corrupt)
                }
                Coll::Shipment => {
                    serve_collection(&ds.shipments, &params, inner, now, &cx, corrupt)
                }
            };
            match res {
                Ok(b) => Out::json(StatusCode::OK, b),
                Err(e) => error_out(shape, StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        (Route::Record(c), &Method::GET) => {
            let found = match c {
                Coll::Product => serve_record(&ds.products, path, &cx),
                Coll::Facility => serve_record(&ds.facilities, path, &cx),
                Coll::Order => serve_record(&ds.orders, path, &cx),
                Coll::PartyGroup => serve_record(&ds.party_groups, path, &cx),
                Coll::Shipment => serve_record(&ds.shipments, path, &cx),
                Coll::InventoryItem => None,
            };
            match found {
                Some(b) => Out::json(StatusCode::OK, b),
                None => error_out(shape, StatusCode::NOT_FOUND, "record not found"),
            }
        }
        (Route::Collection(_) | Route::Record(_) | Route::Auth | Route::Graphql, _) => error_out(
            shape,
            StatusCode::METHOD_NOT_ALLOWED,
            "writes are not supported by the simulator",
        ),
        _ => html_not_found(),
    }
}

/// What Finale answers for a path it does not have: an HTML page, not JSON
/// (finale-api.md §15b, seen live for `/api/inventoryitem?limit=5` without the slash).
fn html_not_found() -> Out {
    Out {
        status: StatusCode::NOT_FOUND,
        body: b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>\
<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>"
            .to_vec(),
        content_type: "text/html; charset=utf-8",
        extra_headers: Vec::new(),
    }
}

/// The `X-RateLimit-*` headers of a verdict; with `reset_millis` the reset is written in
/// epoch milliseconds (the unresolved unit of finale-api.md §15b).
fn rate_headers(out: &mut Vec<(header::HeaderName, HeaderValue)>, v: &Verdict, reset_millis: bool) {
    out.push((
        header::HeaderName::from_static("x-ratelimit-limit"),
        HeaderValue::from(v.limit),
    ));
    out.push((
        header::HeaderName::from_static("x-ratelimit-remaining"),
        HeaderValue::from(v.remaining),
    ));
    out.push((
        header::HeaderName::from_static("x-ratelimit-reset"),
        HeaderValue::from(if reset_millis {
            v.reset.saturating_mul(1000)
        } else {
            v.reset
        }),
    ));
    if let Some(r) = v.retry_after {
        out.push((header::RETRY_AFTER, HeaderValue::from(r)));
    }
}

fn record(inner: &Inner, entry: RequestLogEntry, consumed: &[Bucket], bytes: usize) {
    let mut st = lock(&inner.stats);
    st.requests += 1;
    for b in consumed {
        *st.by_bucket.entry(b.name().to_owned()).or_default() += 1;
    }
    *st.by_status.entry(entry.status).or_default() += 1;
    st.bytes_sent += bytes as u64;
    st.log.push(entry);
}

/// Logs a request whose handler was dropped (the client gave up) before it answered.
struct AbandonGuard<'a> {
    inner: &'a Inner,
    entry: Option<RequestLogEntry>,
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            record(self.inner, entry, &[], 0);
        }
    }
}

fn into_response(out: Out) -> Response {
    let mut resp = Response::new(Body::from(out.body));
    *resp.status_mut() = out.status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(out.content_type),
    );
    for (k, v) in out.extra_headers {
        resp.headers_mut().append(k, v);
    }
    resp
}

/// Every response carries a `Date` header on the simulated Finale's clock (the virtual clock
/// plus [`crate::Quirks::clock_skew`]), like any HTTP server's on its own clock: clients learn
/// Finale's time from it.
async fn handle(state: State<Arc<Inner>>, req: Request) -> Response {
    let inner = state.0.clone();
    let mut resp = answer(state, req).await;
    let shown = match inner.cfg.quirks.date_header {
        DateHeader::FinaleClock => Some(inner.cfg.clock.now() + inner.cfg.quirks.clock_skew),
        DateHeader::SharedClock => Some(inner.cfg.clock.now()),
        DateHeader::Absent => None,
    };
    let value = shown.map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

async fn answer(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let now = inner.cfg.clock.now();
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let route_kind = match classify(&path, &inner.cfg.account) {
        Route::Graphql if !inner.cfg.quirks.graphql => Route::Unknown,
        r => r,
    };
    let is_collection = method == Method::GET && matches!(route_kind, Route::Collection(_));
    let buckets: Vec<Bucket> = match (&method, &route_kind) {
        (&Method::GET, Route::Collection(_)) => vec![Bucket::Get, Bucket::Collection],
        (&Method::POST, Route::Graphql) if inner.cfg.limits.graphql_counts_as_collection => {
            vec![Bucket::Post, Bucket::Collection]
        }
        (&Method::POST, _) => vec![Bucket::Post],
        _ => vec![Bucket::Get],
    };
    let mut entry = RequestLogEntry {
        at: now,
        method: method.to_string(),
        path: path.clone(),
        status: 0,
        collection: is_collection,
    };
    let shape = inner.cfg.quirks.error_body;
    let headers_on = inner.cfg.quirks.rate_limit_headers;

    // 2. faults
    let plan = lock(&inner.faults).take(&path, is_collection);
    let mut corrupt = 0;
    let mut truncate = false;
    if let Some(plan) = plan {
        match plan.fault {
            Fault::Slow(d) => {
                // A client that times out drops this future mid-sleep; the guard still logs
                // the request (status 0, like Drop) so tests can count what arrived.
                let mut guard = AbandonGuard {
                    inner: &inner,
                    entry: Some(entry),
                };
                tokio::time::sleep(d).await;
                entry = guard.entry.take().expect("entry is only taken here");
            }
            Fault::MalformedRecords(n) => corrupt = n,
            Fault::Truncate => truncate = true,
            Fault::Drop => {
                record(&inner, entry, &[], 0);
                if let Some(k) = kill {
                    k.0.cancel();
                }
                return std::future::pending().await;
            }
            Fault::Status(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut out = error_out(shape, status, &format!("injected fault: status {code}"));
                if headers_on {
                    let v = lock(&inner.limiter).peek(now, &buckets);
                    rate_headers(
                        &mut out.extra_headers,
                        &v,
                        inner.cfg.quirks.rate_limit_reset_millis,
                    );
                }
                entry.status = status.as_u16();
                record(&inner, entry, &[], out.body.len());
                return into_response(out);
            }
            Fault::RateLimitStorm => {
                let after = plan
                    .reset_after
                    .unwrap_or_else(|| chrono::Duration::seconds(60));
                let reset = (now + after).timestamp();
                let peek = lock(&inner.limiter).peek(now, &buckets);
                let v = Verdict {
                    allowed: false,
                    remaining: 0,
                    reset,
                    retry_after: Some((reset - now.timestamp()).max(1)),
                    ..peek
                };
                let mut out =
                    error_out(shape, StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
                rate_headers(
                    &mut out.extra_headers,
                    &v,
                    inner.cfg.quirks.rate_limit_reset_millis,
                );
                entry.status = 429;
                record(&inner, entry, &[], out.body.len());
                return into_response(out);
            }
            Fault::ErrorBody200 => {
                let out = Out::json(
                    StatusCode::OK,
                    serde_json::to_vec(
                        &json!({"errorMessage": "injected failure reported with status 200"}),
                    )
                    .unwrap_or_default(),
                );
                entry.status = 200;
                record(&inner, entry, &[], out.body.len());
                return into_response(out);
            }
        }
    }

    // 3.-6.
    let body_bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut consumed: Vec<Bucket> = Vec::new();
    let mut out = if route_kind == Route::WrongAccount {
        error_out(shape, StatusCode::NOT_FOUND, "unknown account")
    } else if route_kind != Route::Auth && !authenticated(&inner, &parts.headers) {
        let mut out = error_out(shape, StatusCode::UNAUTHORIZED, "authentication required");
        if headers_on {
            let v = lock(&inner.limiter).peek(now, &buckets);
            rate_headers(
                &mut out.extra_headers,
                &v,
                inner.cfg.quirks.rate_limit_reset_millis,
            );
        }
        out
    } else {
        let verdict = if truncate {
            lock(&inner.limiter).peek(now, &buckets)
        } else {
            lock(&inner.limiter).check(now, &buckets)
        };
        if verdict.allowed {
            if !truncate {
                consumed = buckets.clone();
            }
            let mut out = route(
                &inner,
                &route_kind,
                &method,
                &path,
                query.as_deref(),
                &body_bytes,
                now,
                corrupt,
            );
            if headers_on {
                rate_headers(
                    &mut out.extra_headers,
                    &verdict,
                    inner.cfg.quirks.rate_limit_reset_millis,
                );
            }
            out
        } else {
            let mut out = error_out(shape, StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            // A 429 always carries the headers: they are the only way to know when to retry.
            rate_headers(
                &mut out.extra_headers,
                &verdict,
                inner.cfg.quirks.rate_limit_reset_millis,
            );
            out
        }
    };

    if truncate {
        entry.status = 0;
        let full = std::mem::take(&mut out.body);
        let half = Bytes::copy_from_slice(&full[..full.len() / 2]);
        record(&inner, entry, &[], half.len());
        let kill = kill.map(|k| k.0);
        let rest = futures::stream::once(async move {
            // Give hyper a moment to flush the first half, then cut the connection.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if let Some(k) = kill {
                k.cancel();
            }
            std::future::pending::<Result<Bytes, Infallible>>().await
        });
        let stream = futures::StreamExt::chain(
            futures::stream::once(async move { Ok::<_, Infallible>(half) }),
            rest,
        );
        let mut resp = into_response(out);
        *resp.body_mut() = Body::from_stream(stream);
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
        // Keep the compression layer away so the client sees exactly the truncated bytes.
        resp.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        return resp;
    }

    entry.status = out.status.as_u16();
    record(&inner, entry, &consumed, out.body.len());
    into_response(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified_exactly() {
        let c = |p| classify(p, "acme");
        assert_eq!(c("/acme/api/product/"), Route::Collection(Coll::Product));
        assert_eq!(c("/acme/api/product"), Route::Collection(Coll::Product));
        assert_eq!(c("/acme/api/order/SO-1%20B"), Route::Record(Coll::Order));
        assert_eq!(
            c("/acme/api/inventoryitem/"),
            Route::Collection(Coll::InventoryItem)
        );
        assert_eq!(c("/acme/api/inventoryitem/1"), Route::Unknown);
        assert_eq!(c("/acme/api/auth"), Route::Auth);
        assert_eq!(c("/acme/api/graphql"), Route::Graphql);
        assert_eq!(c("/other/api/product/"), Route::WrongAccount);
        assert_eq!(c("/acme/api/productStock/"), Route::Unknown);
        assert_eq!(c("/acme/api/order/SO-1/history/"), Route::Unknown);
        assert_eq!(c("/acme/doc/report"), Route::Unknown);
        assert_eq!(c("/"), Route::WrongAccount);
    }

    #[test]
    fn query_params_decode_plus_and_percent() {
        let q = query_params(Some("filter=ab%2Bc%3D&limit=5&x&orderTypeId=SALES+ORDER"));
        assert_eq!(q[0], ("filter".into(), "ab+c=".into()));
        assert_eq!(q[1], ("limit".into(), "5".into()));
        assert_eq!(q[2], ("x".into(), "".into()));
        assert_eq!(q[3], ("orderTypeId".into(), "SALES ORDER".into()));
    }

    #[test]
    fn corrupt_positions_spread_and_clamp() {
        assert_eq!(corrupt_positions(3, 9), vec![0, 3, 6]);
        assert_eq!(corrupt_positions(5, 2), vec![0, 1]);
        assert!(corrupt_positions(0, 10).is_empty());
        assert!(corrupt_positions(3, 0).is_empty());
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod http_tests;
