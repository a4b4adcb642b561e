//! The request scheduler: ONE per process, it owns every Finale rate budget and decides who may
//! send the next request (finale-api.md §11, ARCHITECTURE "Budget first").
//!
//! # Vocabulary
//!
//! * **Bucket**: one of Finale's budgets. [`Bucket::Get`] (120 GETs per minute), [`Bucket::Post`]
//!   (120 POSTs per minute) and [`Bucket::Collection`] (300 collection reads per hour).
//! * **Request kind** ([`RequestKind`]): method plus "is it a collection read". A kind consumes
//!   one unit of each bucket in [`RequestKind::buckets`]: a GET on a collection URL consumes
//!   `Get` *and* `Collection`, a single-record GET only `Get`, a POST only `Post`. GraphQL is a
//!   POST; whether it also counts as a collection read is configurable
//!   ([`BudgetConfig::graphql_counts_as_collection`], default no). The constant
//!   [`RequestKind::GRAPHQL`] is the default mapping; use [`Scheduler::graphql_kind`] (or
//!   [`RequestKind::graphql`]) to honour the configuration.
//! * **Priority**: [`Priority::Critical`] > [`Priority::Smart`] > [`Priority::Backfill`]. Waiters
//!   are served by priority, FIFO within a priority.
//! * **Grant**: the scheduler hands a [`Permit`] to a waiter after reserving one unit in every
//!   bucket of its kind. Capacity is *time based*: a grant is "spent" the moment it is made, and
//!   dropping the permit returns nothing.
//!
//! # Model of one bucket ([`BucketState`], pure and clock-free)
//!
//! Each bucket combines three independent limits; a grant needs all three:
//!
//! 1. **Sliding-window log** of grant instants: any interval of one window length holds at most
//!    `limit` grants. This is safe against a server that counts in *fixed* windows of any
//!    alignment (every fixed window is one of the sliding intervals), so in normal operation we
//!    never provoke a 429 even though we do not know where the server's windows start.
//! 2. **Server view** re-synced from `X-RateLimit-*` headers: after a response says
//!    `remaining = R` with `reset = T`, at most `R` more grants happen before `T`. This catches
//!    consumption we cannot see (other processes sharing the account, requests before a
//!    restart). Several in-flight responses report the same window in any order; for the same
//!    `T` we keep the *minimum* `R` (the server's count only falls within a window), a later `T`
//!    replaces the view, an earlier one is stale and ignored.
//! 3. **Pause**: a 429 pauses the bucket until its reset (`X-RateLimit-Reset`, or now +
//!    `Retry-After`, the later of the two if both are given, or now + one window if neither);
//!    nobody acquires that bucket before then. Pauses are capped at [`MAX_PAUSE`] so a hostile
//!    or broken header cannot stall the process for years.
//!
//! `try_grant(now)` either records a grant or returns the earliest instant at which it could
//! succeed, so the async layer knows exactly how long to sleep. With budgets disabled
//! ([`BudgetConfig::enabled`] = false, for benchmarks) the sliding window is not enforced, but
//! the server view and pauses still are ("headers and 429 are still honoured").
//!
//! Residual risk: the log records *send* instants, the server counts *arrival* instants, so a
//! request delayed across a server window boundary can land one extra unit in the next server
//! window. The header re-sync (a `remaining = 0` response stops us until the reset) bounds
//! this to the requests already in flight.
//!
//! # Header convention
//!
//! Every response describes the *most constraining* bucket the request consumed. We map the
//! headers to a bucket by matching `X-RateLimit-Limit` against the configured limits of the
//! buckets the request consumed; if none (or several) match, the headers are applied to every
//! matching-or-consumed bucket, which is the conservative choice.
//!
//! # The async layer
//!
//! [`Scheduler::acquire`] puts a waiter into a queue ordered by (priority desc, sequence asc)
//! and runs a *dispatch pass*: walk the queue in order and grant every waiter whose buckets all
//! have room. A waiter that cannot be served **claims** the buckets it is blocked on, so no
//! later (lower-priority or younger) waiter can take units from them; buckets it is *not*
//! blocked on stay usable by others, which avoids head-of-line blocking (a Critical collection
//! read waiting an hour for the collection budget does not stop single-record GETs). The pass
//! also returns the earliest instant at which any blocked waiter could proceed; waiters sleep on
//! the [`Clock`] until then or until notified (a grant made for them by another task's pass, or
//! a header re-sync). A waiter never holds capacity while sleeping, and all state lives behind
//! one mutex that is never held across an `.await`, so 50 concurrent callers cannot
//! over-commit. Cancelling `acquire` (dropping the future) removes the waiter; if it had
//! already been granted, that unit is simply spent.
//!
//! # The ledger: budgets that survive restarts (issue 8 §6)
//!
//! A fresh process knows nothing of what the account spent before it started: a restart loop
//! (a service manager restarting a crashing `serve`, a script calling `sync` in a loop) would
//! spend the hour's collection reads once per process. So every grant is also written to a
//! **ledger** shared by every engine on the account (the store; the engine connects it with
//! [`Scheduler::set_ledger`], this crate knows only the [`BudgetLedger`] trait), and a run
//! starts by **seeding** the buckets from it ([`Scheduler::seed`]).
//!
//! * **Slots.** The ledger counts grants per (bucket, [`LEDGER_SLOT`]-long slot of the
//!   scheduler's clock) ([`Spend`]): at most 60 rows an hour per bucket, whatever the rate.
//! * **When a spend is written.** A grant that consumes the collection bucket is written
//!   before [`Scheduler::acquire`] returns its permit, so before the request is sent: a crash
//!   cannot lose it. Grants of the per-minute buckets alone (single-record GETs, POSTs) are
//!   buffered and written with the next collection grant, when their slot has ended, or on
//!   [`Scheduler::flush`] (the engine flushes at the end of every run): at most one write a
//!   minute for the busy GET bucket. **What a crash can lose**: the GETs and POSTs of the
//!   current minute, whose window ends a minute later anyway (and the server's
//!   `X-RateLimit-*` headers still stop the next process at the limit). Writes are additive
//!   and coalesced: concurrent grants share one write, one flush at a time. A failed write is
//!   logged and its spends are kept for the next flush; the request still goes out (the
//!   process's own window still holds it to the limit).
//! * **Seeding** merges, per slot, the ledger's count into the bucket's log: a slot the log
//!   already holds `n` grants of gets `max(0, ledger − n)` more, placed at the latest instant
//!   of the slot that is not after `now` (so they leave the window no earlier than the real
//!   grants did). Seeding is therefore idempotent (a `serve` process re-seeds at every run and
//!   never counts its own grants twice) and never lowers what the log holds. A slot never
//!   contributes more than the bucket's limit (more could not block any longer).
//! * **Clocks.** Spends carry the granting scheduler's clock. Engines on one machine share
//!   it; engines on different workstations (a shared Postgres store) take the writer role one
//!   at a time, and a workstation whose clock runs `d` ahead of the previous writer's sees that
//!   writer's spends `d` older than they were: they leave its window `d` early, so up to the
//!   spends of `d` can be counted twice over one hour. A clock behind sees them in its future,
//!   which only makes it wait longer. Keep workstation clocks in sync (NTP); the server's
//!   headers remain the backstop.
//! * [`Scheduler::try_acquire`] cannot wait for the ledger: its spends are buffered and written
//!   by the next flush.
//!
//! # Why hand-rolled rather than `governor`
//!
//! `governor` implements GCRA, which is a fine local limiter but cannot be re-synced from the
//! server's `remaining/reset`, has no notion of a pause-until-reset after a 429, no priority
//! queue, and no atomic "one unit from each of several buckets" acquisition. Those four are the
//! whole point of this module, so the arithmetic is a small state machine of our own.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::clock::Clock;

/// Longest pause a single 429 can impose, whatever its headers say.
pub const MAX_PAUSE: Duration = Duration::hours(24);

/// Length of one ledger slot: spends are persisted as counts per (bucket, slot).
pub const LEDGER_SLOT: Duration = Duration::minutes(1);

/// Latency samples kept for the percentiles in [`BudgetReport`] (most recent first to go).
const LATENCY_SAMPLES: usize = 10_000;

/// Resets below this are read as "seconds from now" instead of epoch seconds (no real epoch
/// reset is before 2001); tolerates servers that send a delta.
const EPOCH_HEURISTIC: i64 = 1_000_000_000;

/// How urgent a request is. `Ord`: `Critical > Smart > Backfill`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Priority {
    /// Historical load; runs in whatever budget is left.
    Backfill,
    /// Routine incremental sync.
    Smart,
    /// Items at/below reorder point, new orders: served first.
    Critical,
}

/// One of Finale's rate budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Bucket {
    /// GET requests per minute.
    Get,
    /// POST requests per minute (GraphQL included).
    Post,
    /// Collection reads per hour.
    Collection,
}

impl Bucket {
    /// All buckets, in index order.
    pub const ALL: [Bucket; 3] = [Bucket::Get, Bucket::Post, Bucket::Collection];

    fn index(self) -> usize {
        match self {
            Bucket::Get => 0,
            Bucket::Post => 1,
            Bucket::Collection => 2,
        }
    }

    /// The bucket's name in a ledger: `get`, `post`, `collection`.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Get => "get",
            Bucket::Post => "post",
            Bucket::Collection => "collection",
        }
    }

    /// The bucket named `name` ([`Bucket::name`]), if any.
    pub fn from_name(name: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// `count` grants of `bucket` made during the ledger slot that starts at `slot` (see the
/// module docs, "The ledger").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Spend {
    /// Which budget.
    pub bucket: Bucket,
    /// Start of the slot ([`slot_of`]).
    pub slot: DateTime<Utc>,
    /// Grants in the slot.
    pub count: u32,
}

/// The ledger slot an instant falls in: the instant floored to [`LEDGER_SLOT`] since the
/// epoch.
pub fn slot_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let len = LEDGER_SLOT.num_seconds();
    let secs = t.timestamp().div_euclid(len) * len;
    DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(t)
}

/// Why the ledger could not record spends (its message, for the log).
#[derive(Debug, thiserror::Error)]
#[error("budget ledger: {0}")]
pub struct LedgerError(pub String);

/// Where a [`Scheduler`] writes its spends so that other processes, and this one after a
/// restart, see them (see the module docs). Implemented by the engine over its store.
pub trait BudgetLedger: Send + Sync + fmt::Debug {
    /// Adds `spends` to the ledger: a (bucket, slot) already present grows by `count`. The
    /// scheduler sends each (bucket, slot) at most once per call.
    fn record<'a>(&'a self, spends: &'a [Spend]) -> BoxFuture<'a, Result<(), LedgerError>>;
}

/// HTTP method as far as budgets are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Method {
    /// Reads.
    Get,
    /// Creates, updates, actions and GraphQL.
    Post,
}

/// What a request costs: its method and whether it counts as a collection read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestKind {
    /// GET or POST.
    pub method: Method,
    /// Whether the request also consumes the hourly collection budget.
    pub collection: bool,
}

impl RequestKind {
    /// GET on a collection URL (`/acme/api/product/`): `Get` + `Collection`.
    pub const GET_COLLECTION: RequestKind = RequestKind {
        method: Method::Get,
        collection: true,
    };
    /// GET on one record (`/acme/api/order/SO-1`): `Get` only.
    pub const GET_RECORD: RequestKind = RequestKind {
        method: Method::Get,
        collection: false,
    };
    /// A POST (write or action): `Post` only.
    pub const POST: RequestKind = RequestKind {
        method: Method::Post,
        collection: false,
    };
    /// GraphQL with the DEFAULT configuration (not a collection read), equal to [`Self::POST`].
    /// Prefer [`RequestKind::graphql`] / [`Scheduler::graphql_kind`], which honour
    /// [`BudgetConfig::graphql_counts_as_collection`].
    pub const GRAPHQL: RequestKind = RequestKind {
        method: Method::Post,
        collection: false,
    };

    /// GraphQL's kind under a given configuration.
    pub fn graphql(cfg: &BudgetConfig) -> RequestKind {
        RequestKind {
            method: Method::Post,
            collection: cfg.graphql_counts_as_collection,
        }
    }

    /// The buckets one request of this kind consumes (one unit each).
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut v = Vec::with_capacity(2);
        v.push(match self.method {
            Method::Get => Bucket::Get,
            Method::Post => Bucket::Post,
        });
        if self.collection {
            v.push(Bucket::Collection);
        }
        v
    }
}

/// Budget configuration; defaults are Finale's published-by-clients limits.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetConfig {
    /// `false` = no client-side sliding-window limiting (benchmarks); server headers and 429
    /// pauses are still honoured.
    pub enabled: bool,
    /// GETs per [`Self::minute`] (120).
    pub get_per_minute: u32,
    /// POSTs per [`Self::minute`] (120).
    pub post_per_minute: u32,
    /// Collection reads per [`Self::hour`] (300).
    pub collection_per_hour: u32,
    /// Whether a GraphQL POST also consumes the collection budget (unknown on the real API;
    /// default `false`).
    pub graphql_counts_as_collection: bool,
    /// Window of the per-minute buckets (60 s). Tests compress time with a `ScaledClock`
    /// instead of shrinking this.
    pub minute: Duration,
    /// Window of the collection bucket (3600 s).
    pub hour: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            get_per_minute: 120,
            post_per_minute: 120,
            collection_per_hour: 300,
            graphql_counts_as_collection: false,
            minute: Duration::seconds(60),
            hour: Duration::seconds(3600),
        }
    }
}

impl BudgetConfig {
    /// Configured limit of a bucket.
    pub fn limit(&self, b: Bucket) -> u32 {
        match b {
            Bucket::Get => self.get_per_minute,
            Bucket::Post => self.post_per_minute,
            Bucket::Collection => self.collection_per_hour,
        }
    }

    /// Configured window of a bucket.
    pub fn window(&self, b: Bucket) -> Duration {
        match b {
            Bucket::Get | Bucket::Post => self.minute,
            Bucket::Collection => self.hour,
        }
    }
}

/// The `X-RateLimit-*` and `Retry-After` headers of one response, parsed tolerantly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit`: the limit of the bucket the headers describe.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`: units left in that bucket's current window.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Reset`: when the window ends, as Unix epoch seconds, epoch milliseconds
    /// (a value above 10^12, finale-api.md §15b) or seconds from now (a small value).
    pub reset: Option<i64>,
    /// `Retry-After` in seconds (429 only; HTTP-date form is not supported and yields `None`).
    pub retry_after: Option<u64>,
}

impl RateLimitHeaders {
    /// Parse from a header map. Garbage, negative or missing values become `None`; a value
    /// with parameters (`"120;w=60"`) or a list (`"120, 300"`) yields its first number; a
    /// fractional reset is floored and a fractional `Retry-After` rounded up.
    pub fn from_headers(h: &http::HeaderMap) -> Self {
        let get = |name: &str| -> Option<String> {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| first_token(s).to_owned())
        };
        Self {
            limit: get("x-ratelimit-limit")
                .as_deref()
                .and_then(parse_nonneg)
                .map(|v| v.floor().min(u32::MAX as f64) as u32),
            remaining: get("x-ratelimit-remaining")
                .as_deref()
                .and_then(parse_nonneg)
                .map(|v| v.floor().min(u32::MAX as f64) as u32),
            reset: get("x-ratelimit-reset")
                .as_deref()
                .and_then(parse_nonneg)
                .and_then(|v| {
                    let f = v.floor();
                    (f < i64::MAX as f64).then_some(f as i64)
                }),
            retry_after: get("retry-after")
                .as_deref()
                .and_then(parse_nonneg)
                .map(|v| v.ceil().min(u64::MAX as f64) as u64),
        }
    }
}

fn first_token(s: &str) -> &str {
    s.split([',', ';']).next().unwrap_or("").trim()
}

/// A finite, non-negative plain decimal number (`"120"`, `"1.5"`); anything else is `None`.
fn parse_nonneg(s: &str) -> Option<f64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The server's word on a bucket: `remaining` more grants before `reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ServerView {
    remaining: u32,
    reset: DateTime<Utc>,
}

/// Pure capacity arithmetic of one bucket (see the module docs). No clock, no I/O: every
/// method takes `now`.
#[derive(Clone, Debug)]
pub struct BucketState {
    /// Grants allowed per window (at least 1).
    limit: u32,
    /// Window length (at least 1 ms).
    window: Duration,
    /// Whether the sliding window is enforced (`BudgetConfig::enabled`).
    enforce_window: bool,
    /// Grant instants, non-decreasing, pruned lazily to those inside the last window.
    log: VecDeque<DateTime<Utc>>,
    /// Last re-sync from headers.
    server: Option<ServerView>,
    /// Set by a 429: no grant before this instant.
    paused_until: Option<DateTime<Utc>>,
    /// Grants made since creation.
    used: u64,
}

impl BucketState {
    /// A fresh bucket. A `limit` of 0 is raised to 1 and a non-positive window to 1 ms: a
    /// bucket that can never grant would hang every caller forever.
    pub fn new(limit: u32, window: Duration, enforce_window: bool) -> Self {
        Self {
            limit: limit.max(1),
            window: window.max(Duration::milliseconds(1)),
            enforce_window,
            log: VecDeque::new(),
            server: None,
            paused_until: None,
            used: 0,
        }
    }

    /// Would a grant succeed at `now`? `Err(t)`: not before `t` (it may still fail then, if
    /// others were granted meanwhile).
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let mut blocked: Option<DateTime<Utc>> = None;
        let mut block = |t: DateTime<Utc>| blocked = Some(blocked.map_or(t, |b| b.max(t)));
        if let Some(p) = self.paused_until
            && p > now
        {
            block(p);
        }
        if self.enforce_window {
            let count = self.in_window(now) as usize;
            if count >= self.limit as usize {
                // The grant `limit` places from the end must leave the window first.
                let oldest_needed = self.log[self.log.len() - self.limit as usize];
                block(plus(oldest_needed, self.window));
            }
        }
        if let Some(sv) = self.server
            && now < sv.reset
            && sv.remaining == 0
        {
            block(sv.reset);
        }
        match blocked {
            Some(t) => Err(t),
            None => Ok(()),
        }
    }

    /// Grant one unit at `now` if possible, else return the earliest retry instant.
    pub fn try_grant(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        self.check(now)?;
        self.commit(now);
        Ok(())
    }

    /// Record a grant without checking (used after a multi-bucket check succeeded).
    fn commit(&mut self, now: DateTime<Utc>) {
        self.prune(now);
        // If the clock stepped backwards, record the grant at the latest instant seen: it then
        // leaves the window later, which is the safe direction.
        let at = self.log.back().map_or(now, |last| (*last).max(now));
        self.log.push_back(at);
        if let Some(sv) = self.server.as_mut()
            && now < sv.reset
        {
            sv.remaining = sv.remaining.saturating_sub(1);
        }
        self.used += 1;
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        while let Some(first) = self.log.front() {
            if plus(*first, self.window) <= now {
                self.log.pop_front();
            } else {
                break;
            }
        }
    }

    /// Grants inside the sliding window ending at `now`.
    pub fn in_window(&self, now: DateTime<Utc>) -> u32 {
        let expired = self.log.partition_point(|g| plus(*g, self.window) <= now);
        u32::try_from(self.log.len() - expired).unwrap_or(u32::MAX)
    }

    /// Merges spends recorded in the ledger (slot start, grants in the slot) into the log (see
    /// the module docs, "The ledger"): a slot whose ledger count exceeds the grants the log
    /// already holds in it gets the difference (at most `limit`), placed at the slot's latest
    /// instant not after `now` (never before the slot's start). Slots whose grants have all left
    /// the window are ignored. Idempotent; returns how many grants were added.
    pub fn seed(
        &mut self,
        now: DateTime<Utc>,
        spends: impl IntoIterator<Item = (DateTime<Utc>, u32)>,
    ) -> u32 {
        let mut by_slot: BTreeMap<DateTime<Utc>, u32> = BTreeMap::new();
        for (slot, count) in spends {
            let c = by_slot.entry(slot).or_insert(0);
            *c = c.saturating_add(count);
        }
        let mut added = 0u32;
        let mut extra: Vec<DateTime<Utc>> = Vec::new();
        for (slot, count) in by_slot {
            let last = plus(slot, LEDGER_SLOT) - Duration::milliseconds(1);
            let at = last.min(now).max(slot);
            if plus(at, self.window) <= now {
                continue;
            }
            let end = plus(slot, LEDGER_SLOT);
            let held = self.log.iter().filter(|g| **g >= slot && **g < end).count();
            let held = u32::try_from(held).unwrap_or(u32::MAX);
            let missing = count.min(self.limit).saturating_sub(held);
            extra.extend(std::iter::repeat_n(at, missing as usize));
            added += missing;
        }
        if !extra.is_empty() {
            self.log.extend(extra);
            self.log.make_contiguous().sort();
        }
        added
    }

    /// Re-sync from the headers of a response that describe this bucket. Without `remaining`
    /// there is nothing to learn. A missing reset is taken as "one window from now"; a reset
    /// not in the future describes a window that already ended and is ignored.
    pub fn observe(&mut self, now: DateTime<Utc>, h: &RateLimitHeaders) {
        let Some(remaining) = h.remaining else {
            return;
        };
        let reset = match h.reset {
            Some(r) => reset_instant(now, r),
            None => plus(now, self.window),
        };
        if reset <= now {
            return;
        }
        let reset = reset.min(plus(now, MAX_PAUSE));
        self.server = Some(match self.server {
            Some(sv) if sv.reset > now && sv.reset == reset => ServerView {
                remaining: sv.remaining.min(remaining),
                reset,
            },
            // An older window's report arriving late: stale.
            Some(sv) if sv.reset > now && reset < sv.reset => sv,
            _ => ServerView { remaining, reset },
        });
    }

    /// React to a 429 on this bucket: pause until the reset (see module docs).
    pub fn throttle(&mut self, now: DateTime<Utc>, h: &RateLimitHeaders) {
        let from_reset = h.reset.map(|r| reset_instant(now, r)).filter(|t| *t > now);
        let from_retry = h.retry_after.map(|s| {
            let secs = i64::try_from(s)
                .unwrap_or(i64::MAX)
                .min(MAX_PAUSE.num_seconds());
            plus(now, Duration::seconds(secs))
        });
        let until = match (from_reset, from_retry) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => plus(now, self.window),
        }
        .min(plus(now, MAX_PAUSE));
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        self.server = Some(ServerView {
            remaining: 0,
            reset: until,
        });
    }

    /// Units that could be granted at `now` (`u32::MAX` if nothing limits the bucket).
    pub fn available(&self, now: DateTime<Utc>) -> u32 {
        if self.paused_until.is_some_and(|p| p > now) {
            return 0;
        }
        let window = if self.enforce_window {
            self.limit.saturating_sub(self.in_window(now))
        } else {
            u32::MAX
        };
        let server = match self.server {
            Some(sv) if now < sv.reset => sv.remaining,
            _ => u32::MAX,
        };
        window.min(server)
    }

    /// The pause in force at `now`, if any.
    pub fn paused_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.paused_until.filter(|p| *p > now)
    }

    /// Total grants made.
    pub fn used(&self) -> u64 {
        self.used
    }
}

/// Resets above this are epoch *milliseconds*: finale-api.md §15b leaves the header's unit
/// open and one careful client reads milliseconds; no epoch-seconds value reaches 10^12
/// before the year 33658.
const EPOCH_MILLIS_HEURISTIC: i64 = 1_000_000_000_000;

/// Epoch seconds (below [`EPOCH_HEURISTIC`]: seconds from `now`; above
/// [`EPOCH_MILLIS_HEURISTIC`]: epoch milliseconds) to an instant.
fn reset_instant(now: DateTime<Utc>, r: i64) -> DateTime<Utc> {
    if r < EPOCH_HEURISTIC {
        plus(now, Duration::seconds(r))
    } else if r > EPOCH_MILLIS_HEURISTIC {
        DateTime::<Utc>::from_timestamp_millis(r).unwrap_or(DateTime::<Utc>::MAX_UTC)
    } else {
        DateTime::<Utc>::from_timestamp(r, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// One queued `acquire` call.
#[derive(Debug)]
struct Waiter {
    needs: Vec<Bucket>,
    /// Set by a dispatch pass; the waiter picks it up and leaves the queue.
    granted: Option<DateTime<Utc>>,
    notify: Arc<Notify>,
}

/// Queue order: higher priority first, then arrival.
type Key = (Reverse<Priority>, u64);

/// One dispatch pass (pure; see module docs): grant, in queue order, every waiter whose
/// buckets all have room and that is not behind a waiter blocked on one of its buckets.
/// Returns the waiters newly granted (to notify) and the earliest instant at which a blocked
/// waiter could proceed.
fn dispatch<'a>(
    buckets: &mut [BucketState; 3],
    waiters: impl Iterator<Item = &'a mut Waiter>,
    now: DateTime<Utc>,
) -> (Vec<Arc<Notify>>, Option<DateTime<Utc>>) {
    let mut claimed = [false; 3];
    let mut granted = Vec::new();
    let mut wake: Option<DateTime<Utc>> = None;
    for w in waiters.filter(|w| w.granted.is_none()) {
        if w.needs.iter().any(|b| claimed[b.index()]) {
            continue;
        }
        let mut retry: Option<DateTime<Utc>> = None;
        for b in &w.needs {
            if let Err(t) = buckets[b.index()].check(now) {
                claimed[b.index()] = true;
                retry = Some(retry.map_or(t, |r| r.max(t)));
            }
        }
        match retry {
            None => {
                for b in &w.needs {
                    buckets[b.index()].commit(now);
                }
                w.granted = Some(now);
                granted.push(Arc::clone(&w.notify));
            }
            Some(t) => wake = Some(wake.map_or(t, |x| x.min(t))),
        }
    }
    (granted, wake)
}

/// Accounting for [`BudgetReport`].
#[derive(Debug, Default)]
struct Stats {
    requests: u64,
    bytes: u64,
    latencies_ms: VecDeque<f64>,
    status_counts: BTreeMap<u16, u64>,
    throttled: u64,
    waited_ms: f64,
}

#[derive(Debug)]
struct State {
    buckets: [BucketState; 3],
    queue: BTreeMap<Key, Waiter>,
    next_seq: u64,
    stats: Stats,
    /// Grants not yet written to the ledger, per (bucket, slot); only kept while a ledger is
    /// set.
    pending: BTreeMap<(Bucket, DateTime<Utc>), u32>,
    /// Whether a ledger is set (grants are then added to `pending`).
    ledger_on: bool,
}

impl State {
    /// Notes a grant of `kind` at `at` for the ledger.
    fn note_spend(&mut self, kind: RequestKind, at: DateTime<Utc>) {
        if !self.ledger_on {
            return;
        }
        for b in kind.buckets() {
            let n = self.pending.entry((b, slot_of(at))).or_insert(0);
            *n = n.saturating_add(1);
        }
    }

    /// Whether a grant of `kind` at `now` must be followed by a flush before its request is
    /// sent: it consumed the collection bucket, or a buffered slot has ended.
    fn must_flush(&self, kind: RequestKind, now: DateTime<Utc>) -> bool {
        self.ledger_on
            && !self.pending.is_empty()
            && (kind.collection
                || self
                    .pending
                    .keys()
                    .any(|(_, slot)| plus(*slot, LEDGER_SLOT) <= now))
    }
}

struct Inner {
    cfg: BudgetConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Where spends are written (see the module docs, "The ledger").
    ledger: Mutex<Option<Arc<dyn BudgetLedger>>>,
    /// One flush at a time: a grant's flush returns only after every spend buffered before it
    /// was written (by it or by the flush it waited for).
    flushing: tokio::sync::Mutex<()>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the arithmetic half-updated in a way
        // that breaks safety (worst case: one grant recorded without a permit), so go on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The process-wide budget owner. Cheap to clone (an `Arc` inside); every clone shares the
/// same budgets and queue.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("cfg", &self.inner.cfg)
            .field("clock", &self.inner.clock)
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Proof that budget was reserved for one request. Hold it while the request runs; dropping it
/// returns nothing (capacity is time based).
#[must_use = "acquire reserves budget for a request you are about to send"]
#[derive(Debug)]
pub struct Permit {
    kind: RequestKind,
    priority: Priority,
    granted_at: DateTime<Utc>,
    waited: Duration,
}

impl Permit {
    /// The kind the permit was granted for.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }
    /// The priority it was requested with.
    pub fn priority(&self) -> Priority {
        self.priority
    }
    /// Virtual instant of the grant (the instant recorded in the buckets' logs).
    pub fn granted_at(&self) -> DateTime<Utc> {
        self.granted_at
    }
    /// Virtual time spent waiting for budget.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

/// Snapshot of budgets and request accounting, for the run report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BudgetReport {
    /// One entry per bucket, in [`Bucket::ALL`] order.
    pub buckets: Vec<BucketReport>,
    /// Requests recorded with [`Scheduler::record`].
    pub requests: u64,
    /// Response bytes recorded.
    pub bytes: u64,
    /// Median latency over the most recent samples (0 when none).
    pub latency_p50_ms: f64,
    /// 95th percentile latency over the most recent samples (0 when none).
    pub latency_p95_ms: f64,
    /// Responses per HTTP status.
    pub status_counts: BTreeMap<u16, u64>,
    /// 429 responses observed.
    pub throttled: u64,
    /// Total virtual time callers spent waiting for budget, in ms.
    pub waited_ms: f64,
}

/// One bucket in a [`BudgetReport`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct BucketReport {
    /// Which bucket.
    pub bucket: Bucket,
    /// Configured limit per window.
    pub limit: u32,
    /// Window length in seconds.
    pub window_secs: i64,
    /// Total grants.
    pub used: u64,
    /// Grants in the sliding window ending now.
    pub in_window: u32,
    /// Pause in force, if any.
    pub paused_until: Option<DateTime<Utc>>,
}

impl Scheduler {
    /// A scheduler with fresh budgets.
    pub fn new(cfg: BudgetConfig, clock: Arc<dyn Clock>) -> Self {
        let buckets =
            Bucket::ALL.map(|b| BucketState::new(cfg.limit(b), cfg.window(b), cfg.enabled));
        Self {
            inner: Arc::new(Inner {
                cfg,
                clock,
                state: Mutex::new(State {
                    buckets,
                    queue: BTreeMap::new(),
                    next_seq: 0,
                    stats: Stats::default(),
                    pending: BTreeMap::new(),
                    ledger_on: false,
                }),
                ledger: Mutex::new(None),
                flushing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BudgetConfig {
        &self.inner.cfg
    }

    /// The clock the scheduler runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// GraphQL's request kind under this scheduler's configuration.
    pub fn graphql_kind(&self) -> RequestKind {
        RequestKind::graphql(&self.inner.cfg)
    }

    /// Waiters currently queued and not yet granted.
    pub fn waiting(&self) -> usize {
        self.inner
            .lock()
            .queue
            .values()
            .filter(|w| w.granted.is_none())
            .count()
    }

    /// Waits until every bucket of `kind` has room, then reserves one unit in each and returns
    /// a [`Permit`]. Higher priority is served first; FIFO within a priority. Cancel-safe.
    pub async fn acquire(&self, kind: RequestKind, prio: Priority) -> Permit {
        let notify = Arc::new(Notify::new());
        let (key, started) = {
            let mut st = self.inner.lock();
            let seq = st.next_seq;
            st.next_seq += 1;
            let key = (Reverse(prio), seq);
            st.queue.insert(
                key,
                Waiter {
                    needs: kind.buckets(),
                    granted: None,
                    notify: Arc::clone(&notify),
                },
            );
            (key, self.inner.clock.now())
        };
        let mut guard = QueueGuard {
            inner: &self.inner,
            key,
            armed: true,
        };
        loop {
            let (granted, wake, others, flush) = {
                let mut st = self.inner.lock();
                let now = self.inner.clock.now();
                let State { buckets, queue, .. } = &mut *st;
                let (newly, wake) = dispatch(buckets, queue.values_mut(), now);
                let mine = queue.get(&key).and_then(|w| w.granted);
                let mut flush = false;
                if let Some(at) = mine {
                    queue.remove(&key);
                    let waited = (at - started).max(Duration::zero());
                    st.stats.waited_ms +=
                        waited.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3;
                    st.note_spend(kind, at);
                    flush = st.must_flush(kind, now);
                }
                (mine, wake, newly, flush)
            };
            for n in others.iter().filter(|n| !Arc::ptr_eq(n, &notify)) {
                n.notify_one();
            }
            if let Some(at) = granted {
                guard.armed = false;
                if flush && let Err(e) = self.flush().await {
                    tracing::warn!(error = %e, "budget spends not recorded yet; kept for the next flush");
                }
                return Permit {
                    kind,
                    priority: prio,
                    granted_at: at,
                    waited: (at - started).max(Duration::zero()),
                };
            }
            let sleep = match wake {
                Some(t) => self.inner.clock.sleep_until(t),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                _ = notify.notified() => {}
                _ = sleep => {}
            }
        }
    }

    /// Connects the ledger spends are written to from now on (see the module docs, "The
    /// ledger"); replaces any earlier one.
    pub fn set_ledger(&self, ledger: Arc<dyn BudgetLedger>) {
        *self
            .inner
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(ledger);
        self.inner.lock().ledger_on = true;
    }

    /// Writes every buffered spend to the ledger (nothing to do without one). On failure the
    /// spends stay buffered for the next flush. Cancel-safe: spends of a flush dropped
    /// mid-write are buffered again (written twice at worst, which only over-counts).
    pub async fn flush(&self) -> Result<(), LedgerError> {
        let _one = self.inner.flushing.lock().await;
        let ledger = self
            .inner
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(ledger) = ledger else {
            return Ok(());
        };
        let spends: Vec<Spend> = std::mem::take(&mut self.inner.lock().pending)
            .into_iter()
            .map(|((bucket, slot), count)| Spend {
                bucket,
                slot,
                count,
            })
            .collect();
        if spends.is_empty() {
            return Ok(());
        }
        let mut unwritten = Unwritten {
            inner: &self.inner,
            spends,
        };
        ledger.record(&unwritten.spends).await?;
        unwritten.spends.clear();
        Ok(())
    }

    /// Spends granted but not yet written to the ledger.
    pub fn unflushed(&self) -> Vec<Spend> {
        self.inner
            .lock()
            .pending
            .iter()
            .map(|(&(bucket, slot), &count)| Spend {
                bucket,
                slot,
                count,
            })
            .collect()
    }

    /// Merges spends read from the ledger into the buckets (see the module docs, "The ledger":
    /// idempotent, never lowers what a bucket holds). Returns the grants added per bucket, in
    /// [`Bucket::ALL`] order.
    pub fn seed(&self, spends: &[Spend]) -> [u32; 3] {
        let (added, waiters) = {
            let mut st = self.inner.lock();
            let now = self.inner.clock.now();
            let added = Bucket::ALL.map(|b| {
                st.buckets[b.index()].seed(
                    now,
                    spends
                        .iter()
                        .filter(|s| s.bucket == b)
                        .map(|s| (s.slot, s.count)),
                )
            });
            let waiters: Vec<Arc<Notify>> =
                st.queue.values().map(|w| Arc::clone(&w.notify)).collect();
            (added, waiters)
        };
        for n in waiters {
            n.notify_one();
        }
        added
    }

    /// Like [`Scheduler::acquire`] but gives up at the virtual instant `deadline` and returns
    /// `None` (the waiter leaves the queue). For callers that must not sleep through an hour-long
    /// collection pause: fail the job and reschedule instead (finale-api.md §11).
    pub async fn acquire_until(
        &self,
        kind: RequestKind,
        prio: Priority,
        deadline: DateTime<Utc>,
    ) -> Option<Permit> {
        let give_up = self.inner.clock.sleep_until(deadline);
        tokio::select! {
            biased;
            p = self.acquire(kind, prio) => Some(p),
            _ = give_up => None,
        }
    }

    /// Grant at once if the queue order and the buckets allow it; otherwise `Err` with the
    /// earliest instant at which a grant might be possible (never waits, never queues).
    pub fn try_acquire(&self, kind: RequestKind, prio: Priority) -> Result<Permit, DateTime<Utc>> {
        let (result, others) = {
            let mut st = self.inner.lock();
            let now = self.inner.clock.now();
            let seq = st.next_seq;
            st.next_seq += 1;
            let key = (Reverse(prio), seq);
            st.queue.insert(
                key,
                Waiter {
                    needs: kind.buckets(),
                    granted: None,
                    notify: Arc::new(Notify::new()),
                },
            );
            let State { buckets, queue, .. } = &mut *st;
            let (newly, wake) = dispatch(buckets, queue.values_mut(), now);
            let mine = queue.remove(&key).and_then(|w| w.granted);
            if let Some(at) = mine {
                st.note_spend(kind, at);
            }
            let result = match mine {
                Some(at) => Ok(Permit {
                    kind,
                    priority: prio,
                    granted_at: at,
                    waited: Duration::zero(),
                }),
                // `wake` is always set when someone (us included) is blocked.
                None => Err(wake.unwrap_or(now)),
            };
            (result, newly)
        };
        for n in others {
            n.notify_one();
        }
        result
    }

    /// After a response: re-sync from its headers (see the header convention in the module
    /// docs), and on a 429 pause the bucket(s) the headers name until the reset.
    pub fn observe(&self, kind: RequestKind, headers: &RateLimitHeaders, status: u16) {
        let consumed = kind.buckets();
        let matching: Vec<Bucket> = consumed
            .iter()
            .copied()
            .filter(|b| headers.limit == Some(self.inner.cfg.limit(*b)))
            .collect();
        let targets = if matching.is_empty() {
            consumed
        } else {
            matching
        };
        let to_wake: Vec<Arc<Notify>> = {
            let mut st = self.inner.lock();
            let now = self.inner.clock.now();
            for b in &targets {
                let bucket = &mut st.buckets[b.index()];
                bucket.observe(now, headers);
                if status == 429 {
                    bucket.throttle(now, headers);
                }
            }
            if status == 429 {
                st.stats.throttled += 1;
            }
            st.queue.values().map(|w| Arc::clone(&w.notify)).collect()
        };
        // Capacity may have moved either way: let every waiter recompute its wake-up.
        for n in to_wake {
            n.notify_one();
        }
    }

    /// Latency/bytes/status accounting for the report.
    pub fn record(&self, kind: RequestKind, latency: std::time::Duration, bytes: u64, status: u16) {
        let _ = kind;
        let mut st = self.inner.lock();
        let s = &mut st.stats;
        s.requests += 1;
        s.bytes = s.bytes.saturating_add(bytes);
        if s.latencies_ms.len() == LATENCY_SAMPLES {
            s.latencies_ms.pop_front();
        }
        s.latencies_ms.push_back(latency.as_secs_f64() * 1e3);
        *s.status_counts.entry(status).or_insert(0) += 1;
    }

    /// A snapshot of budgets and accounting.
    pub fn report(&self) -> BudgetReport {
        let st = self.inner.lock();
        let now = self.inner.clock.now();
        let buckets = Bucket::ALL
            .iter()
            .map(|b| {
                let s = &st.buckets[b.index()];
                BucketReport {
                    bucket: *b,
                    limit: self.inner.cfg.limit(*b),
                    window_secs: self.inner.cfg.window(*b).num_seconds(),
                    used: s.used(),
                    in_window: s.in_window(now),
                    paused_until: s.paused_until(now),
                }
            })
            .collect();
        let mut lat: Vec<f64> = st.stats.latencies_ms.iter().copied().collect();
        lat.sort_by(f64::total_cmp);
        BudgetReport {
            buckets,
            requests: st.stats.requests,
            bytes: st.stats.bytes,
            latency_p50_ms: percentile(&lat, 0.50),
            latency_p95_ms: percentile(&lat, 0.95),
            status_counts: st.stats.status_counts.clone(),
            throttled: st.stats.throttled,
            waited_ms: st.stats.waited_ms,
        }
    }

    /// The pause in force on a bucket, if any.
    pub fn paused_until(&self, bucket: Bucket) -> Option<DateTime<Utc>> {
        let st = self.inner.lock();
        st.buckets[bucket.index()].paused_until(self.inner.clock.now())
    }

    /// How many units the bucket could grant right now (ignoring queued waiters;
    /// `u32::MAX` when budgets are disabled and the server has not limited the bucket).
    pub fn available(&self, bucket: Bucket) -> u32 {
        let st = self.inner.lock();
        st.buckets[bucket.index()].available(self.inner.clock.now())
    }
}

/// Nearest-rank percentile of sorted samples (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Removes a cancelled waiter from the queue.
struct QueueGuard<'a> {
    inner: &'a Inner,
    key: Key,
    /// False once the waiter left the queue normally (granted).
    armed: bool,
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let others: Vec<Arc<Notify>> = {
            let mut st = self.inner.lock();
            st.queue.remove(&self.key);
            st.queue.values().map(|w| Arc::clone(&w.notify)).collect()
        };
        // Buckets this waiter claimed are free for others again.
        for n in others {
            n.notify_one();
        }
    }
}

/// Spends taken out of the buffer by a flush; put back unless the write succeeded (a failed
/// or cancelled flush loses nothing).
struct Unwritten<'a> {
    inner: &'a Inner,
    spends: Vec<Spend>,
}

impl Drop for Unwritten<'_> {
    fn drop(&mut self) {
        if self.spends.is_empty() {
            return;
        }
        let mut st = self.inner.lock();
        for s in self.spends.drain(..) {
            let n = st.pending.entry((s.bucket, s.slot)).or_insert(0);
            *n = n.saturating_add(s.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration as StdDuration, SystemTime};

    use chrono::TimeZone;

    use super::*;
    use crate::clock::{ManualClock, ScaledClock};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }
    fn s(n: i64) -> Duration {
        Duration::seconds(n)
    }
    fn hdr(limit: Option<u32>, remaining: Option<u32>, reset: Option<i64>) -> RateLimitHeaders {
        RateLimitHeaders {
            limit,
            remaining,
            reset,
            retry_after: None,
        }
    }

    // ---------- pure bucket arithmetic ----------

    #[test]
    fn window_limit_is_exact() {
        let mut b = BucketState::new(3, s(60), true);
        for _ in 0..3 {
            b.try_grant(t0()).unwrap();
        }
        assert_eq!(b.try_grant(t0()), Err(t0() + s(60)));
        assert_eq!(
            b.try_grant(t0() + s(60) - Duration::milliseconds(1)),
            Err(t0() + s(60))
        );
        assert_eq!(b.available(t0() + s(59)), 0);
        b.try_grant(t0() + s(60)).unwrap();
        assert_eq!(b.used(), 4);
    }

    #[test]
    fn window_slides_rather_than_resetting() {
        let mut b = BucketState::new(3, s(60), true);
        b.try_grant(t0()).unwrap();
        b.try_grant(t0() + s(30)).unwrap();
        b.try_grant(t0() + s(45)).unwrap();
        // A fixed-window limiter would allow this at t0+61 already; the sliding log knows
        // only one grant has left the window by then.
        assert_eq!(b.try_grant(t0() + s(50)), Err(t0() + s(60)));
        b.try_grant(t0() + s(60)).unwrap();
        assert_eq!(b.try_grant(t0() + s(61)), Err(t0() + s(90)));
        assert_eq!(b.in_window(t0() + s(61)), 3);
        assert_eq!(b.in_window(t0() + s(200)), 0);
    }

    #[test]
    fn zero_limit_and_window_are_clamped_not_hung() {
        let mut b = BucketState::new(0, Duration::zero(), true);
        b.try_grant(t0()).unwrap();
        assert_eq!(b.try_grant(t0()), Err(t0() + Duration::milliseconds(1)));
    }

    #[test]
    fn header_resync_lowers_capacity_until_reset() {
        let mut b = BucketState::new(100, s(60), true);
        let reset = t0() + s(30);
        b.observe(t0(), &hdr(Some(100), Some(2), Some(reset.timestamp())));
        assert_eq!(b.available(t0()), 2);
        b.try_grant(t0()).unwrap();
        b.try_grant(t0()).unwrap();
        assert_eq!(b.try_grant(t0() + s(1)), Err(reset));
        // After the reset the server view expires; the sliding window still has room.
        b.try_grant(reset).unwrap();
    }

    #[test]
    fn resync_keeps_minimum_for_same_window_and_ignores_stale_windows() {
        let mut b = BucketState::new(100, s(60), true);
        let reset = (t0() + s(30)).timestamp();
        b.observe(t0(), &hdr(None, Some(5), Some(reset)));
        // A response generated earlier arrives later with a higher count: keep 5.
        b.observe(t0(), &hdr(None, Some(8), Some(reset)));
        assert_eq!(b.available(t0()), 5);
        // A report about an earlier window is stale.
        b.observe(t0(), &hdr(None, Some(50), Some(reset - 10)));
        assert_eq!(b.available(t0()), 5);
        // A new window replaces the view.
        b.observe(t0() + s(31), &hdr(None, Some(90), Some(reset + 60)));
        assert_eq!(b.available(t0() + s(31)), 90);
        // Without `remaining` there is nothing to learn.
        b.observe(t0() + s(31), &hdr(Some(100), None, Some(reset + 60)));
        assert_eq!(b.available(t0() + s(31)), 90);
        // A reset already in the past describes a finished window.
        b.observe(t0() + s(31), &hdr(None, Some(0), Some(t0().timestamp())));
        assert_eq!(b.available(t0() + s(31)), 90);
    }

    #[test]
    fn resync_without_reset_assumes_one_window_and_small_reset_is_relative() {
        let mut b = BucketState::new(100, s(60), true);
        b.observe(t0(), &hdr(None, Some(0), None));
        assert_eq!(b.try_grant(t0()), Err(t0() + s(60)));
        let mut b = BucketState::new(100, s(60), true);
        b.observe(t0(), &hdr(None, Some(0), Some(15)));
        assert_eq!(b.try_grant(t0()), Err(t0() + s(15)));
    }

    #[test]
    fn a_reset_in_epoch_milliseconds_is_read_as_milliseconds() {
        let reset = t0() + s(42);
        let mut b = BucketState::new(100, s(60), true);
        b.throttle(
            t0(),
            &hdr(Some(100), Some(0), Some(reset.timestamp_millis())),
        );
        assert_eq!(
            b.paused_until(t0()),
            Some(reset),
            "ms, not a pause for ever"
        );
        let mut b = BucketState::new(100, s(60), true);
        b.throttle(t0(), &hdr(Some(100), Some(0), Some(reset.timestamp())));
        assert_eq!(b.paused_until(t0()), Some(reset), "seconds still work");
    }

    #[test]
    fn throttle_pauses_until_reset() {
        let mut b = BucketState::new(100, s(60), true);
        let reset = t0() + s(42);
        b.throttle(t0(), &hdr(Some(100), Some(0), Some(reset.timestamp())));
        assert_eq!(b.paused_until(t0()), Some(reset));
        assert_eq!(b.available(t0()), 0);
        assert_eq!(b.try_grant(reset - s(1)), Err(reset));
        b.try_grant(reset).unwrap();
        assert_eq!(b.paused_until(reset), None);
    }

    #[test]
    fn throttle_fallbacks_retry_after_then_window() {
        let mut b = BucketState::new(10, s(60), true);
        let h = RateLimitHeaders {
            retry_after: Some(7),
            ..Default::default()
        };
        b.throttle(t0(), &h);
        assert_eq!(b.paused_until(t0()), Some(t0() + s(7)));

        let mut b = BucketState::new(10, s(60), true);
        b.throttle(t0(), &RateLimitHeaders::default());
        assert_eq!(b.paused_until(t0()), Some(t0() + s(60)));

        // Both given: the later wins. A past reset falls back to Retry-After.
        let mut b = BucketState::new(10, s(60), true);
        let h = RateLimitHeaders {
            reset: Some((t0() + s(5)).timestamp()),
            retry_after: Some(20),
            ..Default::default()
        };
        b.throttle(t0(), &h);
        assert_eq!(b.paused_until(t0()), Some(t0() + s(20)));
        let mut b = BucketState::new(10, s(60), true);
        let h = RateLimitHeaders {
            reset: Some((t0() - s(5)).timestamp()),
            retry_after: Some(3),
            ..Default::default()
        };
        b.throttle(t0(), &h);
        assert_eq!(b.paused_until(t0()), Some(t0() + s(3)));
    }

    #[test]
    fn hostile_pause_values_are_capped() {
        let mut b = BucketState::new(10, s(60), true);
        let h = RateLimitHeaders {
            limit: Some(10),
            remaining: Some(0),
            reset: Some(i64::MAX - 1),
            retry_after: Some(u64::MAX),
        };
        b.observe(t0(), &h);
        b.throttle(t0(), &h);
        assert_eq!(b.paused_until(t0()), Some(t0() + MAX_PAUSE));
        b.try_grant(t0() + MAX_PAUSE).unwrap();
    }

    #[test]
    fn a_later_429_never_shortens_a_pause() {
        let mut b = BucketState::new(10, s(60), true);
        b.throttle(t0(), &hdr(None, None, Some((t0() + s(50)).timestamp())));
        b.throttle(t0(), &hdr(None, None, Some((t0() + s(10)).timestamp())));
        assert_eq!(b.paused_until(t0()), Some(t0() + s(50)));
    }

    #[test]
    fn disabled_window_still_honours_server_and_pause() {
        let mut b = BucketState::new(2, s(60), false);
        for _ in 0..1000 {
            b.try_grant(t0()).unwrap();
        }
        assert_eq!(b.available(t0()), u32::MAX);
        b.observe(t0(), &hdr(None, Some(1), Some((t0() + s(9)).timestamp())));
        b.try_grant(t0()).unwrap();
        assert_eq!(b.try_grant(t0()), Err(t0() + s(9)));
        b.throttle(
            t0() + s(10),
            &hdr(None, None, Some((t0() + s(20)).timestamp())),
        );
        assert_eq!(b.try_grant(t0() + s(19)), Err(t0() + s(20)));
    }

    #[test]
    fn clock_stepping_backwards_stays_conservative() {
        let mut b = BucketState::new(2, s(60), true);
        b.try_grant(t0() + s(30)).unwrap();
        b.try_grant(t0()).unwrap(); // clock went back 30 s
        // Both grants count as made at t0+30: nothing frees before t0+90.
        assert_eq!(b.try_grant(t0() + s(80)), Err(t0() + s(90)));
        b.try_grant(t0() + s(90)).unwrap();
    }

    // ---------- the ledger: seeding (pure) ----------

    fn m(n: i64) -> Duration {
        Duration::minutes(n)
    }

    #[test]
    fn slots_are_whole_minutes() {
        assert_eq!(slot_of(t0() + s(59)), t0());
        assert_eq!(slot_of(t0() + s(60)), t0() + s(60));
        assert_eq!(slot_of(t0() - Duration::milliseconds(1)), t0() - s(60));
        assert_eq!(Bucket::from_name("collection"), Some(Bucket::Collection));
        assert!(
            Bucket::ALL
                .iter()
                .all(|b| Bucket::from_name(b.name()) == Some(*b))
        );
        assert_eq!(Bucket::from_name("Get"), None);
    }

    #[test]
    fn seeded_spends_fill_the_window_of_a_fresh_bucket() {
        let mut b = BucketState::new(5, s(3600), true);
        let added = b.seed(t0(), [(t0() - m(50), 3), (t0() - m(10), 2)]);
        assert_eq!(added, 5);
        assert_eq!(b.available(t0()), 0);
        assert_eq!(b.in_window(t0()), 5);
        assert_eq!(b.used(), 0, "seeded grants are not this process's");
        // The oldest slot's grants count as made at its last instant: they free the window
        // 11 minutes (less a millisecond) from now, never earlier than the real grants did.
        let frees = t0() + m(11) - Duration::milliseconds(1);
        assert_eq!(b.try_grant(t0()), Err(frees));
        b.try_grant(frees).unwrap();
    }

    #[test]
    fn seeding_is_idempotent_and_does_not_count_own_grants_twice() {
        let mut b = BucketState::new(10, s(3600), true);
        b.try_grant(t0() + s(5)).unwrap();
        b.try_grant(t0() + s(20)).unwrap();
        // The ledger holds our two grants of this slot: nothing to add.
        assert_eq!(b.seed(t0() + s(30), [(t0(), 2)]), 0);
        // Another process spent one more in the same slot, and two in an earlier one.
        assert_eq!(b.seed(t0() + s(30), [(t0(), 3), (t0() - m(5), 2)]), 3);
        assert_eq!(b.in_window(t0() + s(30)), 5);
        // Seeding the same picture again adds nothing; neither does a smaller one.
        assert_eq!(b.seed(t0() + s(30), [(t0(), 3), (t0() - m(5), 2)]), 0);
        assert_eq!(b.seed(t0() + s(40), [(t0(), 1)]), 0);
        assert_eq!(b.in_window(t0() + s(40)), 5);
        // Rows of one slot given twice add up.
        assert_eq!(
            b.seed(t0() + s(40), [(t0() - m(7), 1), (t0() - m(7), 1)]),
            2
        );
    }

    #[test]
    fn seeding_ignores_slots_out_of_the_window_and_caps_a_slot_at_the_limit() {
        let mut b = BucketState::new(4, s(3600), true);
        assert_eq!(b.seed(t0(), [(t0() - m(61), 3)]), 0, "left the window");
        assert_eq!(
            b.seed(t0(), [(t0() - m(60), 3)]),
            3,
            "its last instant is inside"
        );
        let mut b = BucketState::new(4, s(3600), true);
        assert_eq!(b.seed(t0(), [(t0() - m(1), 10_000)]), 4);
        assert_eq!(
            b.try_grant(t0()),
            Err(t0() + m(60) - Duration::milliseconds(1))
        );
    }

    #[test]
    fn a_slot_in_the_future_counts_from_its_start() {
        // Another workstation's clock ran 10 minutes ahead: its spends are in our future.
        let mut b = BucketState::new(2, s(3600), true);
        assert_eq!(b.seed(t0(), [(t0() + m(10), 2)]), 2);
        assert_eq!(b.try_grant(t0()), Err(t0() + m(70)));
        assert_eq!(
            b.seed(t0() + m(1), [(t0() + m(10), 2)]),
            0,
            "still idempotent"
        );
    }

    #[test]
    fn seeded_grants_keep_the_log_ordered() {
        let mut b = BucketState::new(3, s(60), true);
        b.try_grant(t0() + s(50)).unwrap();
        b.seed(t0() + s(50), [(t0() - s(60), 2)]);
        // Sorted: the seeded grants (at their slot's last instant, t0 - 1 ms) come first and
        // leave first.
        assert_eq!(b.in_window(t0() + s(50)), 3);
        let frees = t0() + s(60) - Duration::milliseconds(1);
        assert_eq!(b.try_grant(t0() + s(50)), Err(frees));
        assert_eq!(b.in_window(frees), 1);
        b.try_grant(frees).unwrap();
    }

    // ---------- headers ----------

    fn map(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn headers_parse_normal_values_case_insensitively() {
        let h = RateLimitHeaders::from_headers(&map(&[
            ("X-RateLimit-Limit", "120"),
            ("x-ratelimit-remaining", " 17 "),
            ("X-RATELIMIT-RESET", "1740830400"),
            ("Retry-After", "12"),
        ]));
        assert_eq!(
            h,
            RateLimitHeaders {
                limit: Some(120),
                remaining: Some(17),
                reset: Some(1_740_830_400),
                retry_after: Some(12),
            }
        );
    }

    #[test]
    fn headers_tolerate_garbage() {
        let h = RateLimitHeaders::from_headers(&map(&[
            ("X-RateLimit-Limit", "lots"),
            ("X-RateLimit-Remaining", "-3"),
            ("X-RateLimit-Reset", "Tue, 01 Mar 2025 12:00:00 GMT"),
            ("Retry-After", "NaN"),
        ]));
        assert_eq!(h, RateLimitHeaders::default());
        assert_eq!(
            RateLimitHeaders::from_headers(&http::HeaderMap::new()),
            RateLimitHeaders::default()
        );
        let h = RateLimitHeaders::from_headers(&map(&[
            ("X-RateLimit-Limit", "120;w=60"),
            ("X-RateLimit-Remaining", "5, 250"),
            ("X-RateLimit-Reset", "1740830400.9"),
            ("Retry-After", "1.2"),
        ]));
        assert_eq!(h.limit, Some(120));
        assert_eq!(h.remaining, Some(5));
        assert_eq!(h.reset, Some(1_740_830_400));
        assert_eq!(h.retry_after, Some(2));
        let h = RateLimitHeaders::from_headers(&map(&[
            ("X-RateLimit-Limit", "99999999999999999999"),
            ("X-RateLimit-Remaining", "1e3"),
            ("X-RateLimit-Reset", ""),
            ("Retry-After", "+5"),
        ]));
        assert_eq!(h.limit, Some(u32::MAX));
        assert_eq!(h.remaining, None);
        assert_eq!(h.reset, None);
        assert_eq!(h.retry_after, None);
    }

    #[test]
    fn request_kinds_map_to_buckets() {
        assert_eq!(
            RequestKind::GET_COLLECTION.buckets(),
            vec![Bucket::Get, Bucket::Collection]
        );
        assert_eq!(RequestKind::GET_RECORD.buckets(), vec![Bucket::Get]);
        assert_eq!(RequestKind::POST.buckets(), vec![Bucket::Post]);
        assert_eq!(RequestKind::GRAPHQL.buckets(), vec![Bucket::Post]);
        let cfg = BudgetConfig {
            graphql_counts_as_collection: true,
            ..Default::default()
        };
        assert_eq!(
            RequestKind::graphql(&cfg).buckets(),
            vec![Bucket::Post, Bucket::Collection]
        );
        assert!(Priority::Critical > Priority::Smart && Priority::Smart > Priority::Backfill);
    }

    // ---------- dispatch (pure) ----------

    fn waiter(needs: &[Bucket]) -> Waiter {
        Waiter {
            needs: needs.to_vec(),
            granted: None,
            notify: Arc::new(Notify::new()),
        }
    }

    #[test]
    fn blocked_head_claims_only_the_bucket_it_waits_for() {
        let mut buckets = Bucket::ALL.map(|_| BucketState::new(1, s(60), true));
        buckets[Bucket::Collection.index()].try_grant(t0()).unwrap();
        let mut ws = [
            waiter(&[Bucket::Get, Bucket::Collection]), // blocked on Collection
            waiter(&[Bucket::Collection]),              // behind a claim on Collection
            waiter(&[Bucket::Get]),                     // Get is not claimed: goes
            waiter(&[Bucket::Get]),                     // Get now exhausted: waits
        ];
        let (granted, wake) = dispatch(&mut buckets, ws.iter_mut(), t0());
        assert_eq!(granted.len(), 1);
        assert_eq!(
            ws.iter().map(|w| w.granted.is_some()).collect::<Vec<_>>(),
            [false, false, true, false]
        );
        assert_eq!(wake, Some(t0() + s(60)));
        // A minute later the head gets both its buckets before the younger waiters.
        let (granted, _) = dispatch(&mut buckets, ws.iter_mut(), t0() + s(60));
        assert_eq!(granted.len(), 1);
        assert!(ws[0].granted.is_some());
        assert!(ws[1].granted.is_none() && ws[3].granted.is_none());
    }

    // ---------- async layer ----------

    fn manual(cfg: BudgetConfig) -> (ManualClock, Scheduler) {
        let clock = ManualClock::new(t0());
        let sched = Scheduler::new(cfg, Arc::new(clock.clone()));
        (clock, sched)
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    async fn wait_for_waiters(sched: &Scheduler, n: usize) {
        for _ in 0..10_000 {
            if sched.waiting() == n {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("expected {n} waiters, have {}", sched.waiting());
    }

    #[tokio::test]
    async fn critical_waiter_jumps_the_backfill_queue() {
        let cfg = BudgetConfig {
            get_per_minute: 1,
            ..Default::default()
        };
        let (clock, sched) = manual(cfg);
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Backfill)
            .await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (s2, order) = (sched.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = s2
                    .acquire(RequestKind::GET_RECORD, Priority::Backfill)
                    .await;
                order
                    .lock()
                    .unwrap()
                    .push((format!("backfill-{i}"), p.granted_at()));
            }));
            wait_for_waiters(&sched, i + 1).await;
        }
        {
            let (sched, order) = (sched.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = sched
                    .acquire(RequestKind::GET_RECORD, Priority::Critical)
                    .await;
                order
                    .lock()
                    .unwrap()
                    .push(("critical".to_owned(), p.granted_at()));
            }));
        }
        wait_for_waiters(&sched, 6).await;
        for step in 1..=6 {
            clock.advance(StdDuration::from_secs(60));
            wait_for_waiters(&sched, 6 - step).await;
            settle().await;
            assert_eq!(order.lock().unwrap().len(), step, "one grant per minute");
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "critical",
                "backfill-0",
                "backfill-1",
                "backfill-2",
                "backfill-3",
                "backfill-4"
            ]
        );
    }

    #[tokio::test]
    async fn a_429_pauses_the_bucket_until_reset() {
        let (clock, sched) = manual(BudgetConfig::default());
        let reset = t0() + s(30);
        let h = RateLimitHeaders {
            limit: Some(300),
            remaining: Some(0),
            reset: Some(reset.timestamp()),
            retry_after: Some(30),
        };
        sched.observe(RequestKind::GET_COLLECTION, &h, 429);
        // Limit 300 names the collection bucket only.
        assert_eq!(sched.paused_until(Bucket::Collection), Some(reset));
        assert_eq!(sched.paused_until(Bucket::Get), None);
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;

        let task = tokio::spawn({
            let sched = sched.clone();
            async move {
                sched
                    .acquire(RequestKind::GET_COLLECTION, Priority::Critical)
                    .await
            }
        });
        wait_for_waiters(&sched, 1).await;
        clock.advance(StdDuration::from_secs(29));
        settle().await;
        assert!(!task.is_finished(), "granted during the pause");
        assert_eq!(sched.waiting(), 1);
        clock.advance(StdDuration::from_secs(1));
        let permit = task.await.unwrap();
        assert!(permit.granted_at() >= reset);
        assert_eq!(permit.waited(), s(30));
        let r = sched.report();
        assert_eq!(r.throttled, 1);
        assert_eq!(r.buckets[Bucket::Collection.index()].used, 1);
        assert_eq!(r.buckets[Bucket::Get.index()].used, 2);
        assert!(r.waited_ms >= 30_000.0);
    }

    #[tokio::test]
    async fn unknown_limit_applies_headers_to_all_consumed_buckets() {
        let (_clock, sched) = manual(BudgetConfig::default());
        let h = hdr(Some(7), Some(0), Some((t0() + s(10)).timestamp()));
        sched.observe(RequestKind::GET_COLLECTION, &h, 429);
        assert!(sched.paused_until(Bucket::Get).is_some());
        assert!(sched.paused_until(Bucket::Collection).is_some());
        assert!(sched.paused_until(Bucket::Post).is_none());
        assert_eq!(sched.available(Bucket::Get), 0);
        assert_eq!(sched.available(Bucket::Post), 120);
    }

    #[tokio::test]
    async fn header_resync_lowers_scheduler_capacity() {
        let (clock, sched) = manual(BudgetConfig::default());
        let h = hdr(Some(120), Some(2), Some((t0() + s(20)).timestamp()));
        sched.observe(RequestKind::GET_RECORD, &h, 200);
        assert_eq!(sched.available(Bucket::Get), 2);
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;
        let task = tokio::spawn({
            let sched = sched.clone();
            async move {
                sched
                    .acquire(RequestKind::GET_RECORD, Priority::Smart)
                    .await
            }
        });
        wait_for_waiters(&sched, 1).await;
        clock.advance(StdDuration::from_secs(19));
        settle().await;
        assert!(!task.is_finished());
        clock.advance(StdDuration::from_secs(1));
        assert_eq!(task.await.unwrap().granted_at(), t0() + s(20));
    }

    #[tokio::test]
    async fn disabled_budgets_grant_immediately() {
        let cfg = BudgetConfig {
            enabled: false,
            get_per_minute: 1,
            collection_per_hour: 1,
            ..Default::default()
        };
        let (_clock, sched) = manual(cfg);
        for _ in 0..500 {
            let p = sched
                .acquire(RequestKind::GET_COLLECTION, Priority::Backfill)
                .await;
            assert_eq!(p.granted_at(), t0());
        }
        assert_eq!(sched.report().buckets[Bucket::Collection.index()].used, 500);
    }

    #[tokio::test]
    async fn cancelled_waiter_leaves_the_queue_and_frees_its_claim() {
        let cfg = BudgetConfig {
            collection_per_hour: 1,
            get_per_minute: 1,
            ..Default::default()
        };
        let (clock, sched) = manual(cfg);
        let _ = sched
            .acquire(RequestKind::GET_COLLECTION, Priority::Critical)
            .await;
        let blocked = tokio::spawn({
            let sched = sched.clone();
            async move {
                sched
                    .acquire(RequestKind::GET_COLLECTION, Priority::Critical)
                    .await
            }
        });
        wait_for_waiters(&sched, 1).await;
        let behind = tokio::spawn({
            let sched = sched.clone();
            async move {
                sched
                    .acquire(RequestKind::GET_RECORD, Priority::Backfill)
                    .await
            }
        });
        wait_for_waiters(&sched, 2).await;
        blocked.abort();
        let _ = blocked.await;
        wait_for_waiters(&sched, 1).await;
        // Get frees after a minute; the collection waiter is gone so nobody claims Get.
        clock.advance(StdDuration::from_secs(60));
        let p = behind.await.unwrap();
        assert_eq!(p.granted_at(), t0() + s(60));
        assert_eq!(sched.report().buckets[Bucket::Collection.index()].used, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_tasks_never_exceed_the_window_limit() {
        // 60 virtual seconds = 20 ms real, an hour = 1.2 s.
        let clock = ScaledClock::new(SystemTime::now(), t0(), 3000.0);
        let cfg = BudgetConfig {
            get_per_minute: 10,
            collection_per_hour: 25,
            ..Default::default()
        };
        let sched = Scheduler::new(cfg, Arc::new(clock));
        let mut tasks = Vec::new();
        for i in 0..50u32 {
            let sched = sched.clone();
            tasks.push(tokio::spawn(async move {
                let mut grants = Vec::new();
                for j in 0..3u32 {
                    let kind = if (i + j) % 5 == 0 {
                        RequestKind::GET_COLLECTION
                    } else {
                        RequestKind::GET_RECORD
                    };
                    let prio =
                        [Priority::Backfill, Priority::Smart, Priority::Critical][(i % 3) as usize];
                    let p = sched.acquire(kind, prio).await;
                    grants.push((p.kind(), p.granted_at()));
                }
                grants
            }));
        }
        let mut get = Vec::new();
        let mut coll = Vec::new();
        for t in tasks {
            for (kind, at) in t.await.unwrap() {
                get.push(at);
                if kind.collection {
                    coll.push(at);
                }
            }
        }
        assert_eq!(get.len(), 150);
        assert_eq!(coll.len(), 30);
        assert_sliding(&mut get, 10, s(60));
        assert_sliding(&mut coll, 25, s(3600));
        let r = sched.report();
        assert_eq!(r.buckets[Bucket::Get.index()].used, 150);
        assert_eq!(r.buckets[Bucket::Collection.index()].used, 30);
    }

    /// Any half-open interval of length `window` holds at most `limit` grants.
    fn assert_sliding(times: &mut [DateTime<Utc>], limit: usize, window: Duration) {
        times.sort();
        for i in 0..times.len().saturating_sub(limit) {
            assert!(
                times[i + limit] - times[i] >= window,
                "{} grants within {window}: {} .. {}",
                limit + 1,
                times[i],
                times[i + limit]
            );
        }
    }

    #[tokio::test]
    async fn try_acquire_and_acquire_until_do_not_wait_past_their_limits() {
        let cfg = BudgetConfig {
            collection_per_hour: 1,
            ..Default::default()
        };
        let (clock, sched) = manual(cfg);
        let p = sched
            .try_acquire(RequestKind::GET_COLLECTION, Priority::Smart)
            .unwrap();
        assert_eq!(p.granted_at(), t0());
        assert_eq!(
            sched
                .try_acquire(RequestKind::GET_COLLECTION, Priority::Critical)
                .unwrap_err(),
            t0() + s(3600)
        );
        assert_eq!(sched.waiting(), 0, "try_acquire must not stay queued");
        // A single-record GET is not held up by the collection bucket.
        assert!(
            sched
                .try_acquire(RequestKind::GET_RECORD, Priority::Backfill)
                .is_ok()
        );

        let task = tokio::spawn({
            let sched = sched.clone();
            async move {
                sched
                    .acquire_until(
                        RequestKind::GET_COLLECTION,
                        Priority::Critical,
                        t0() + s(60),
                    )
                    .await
            }
        });
        wait_for_waiters(&sched, 1).await;
        clock.advance(StdDuration::from_secs(60));
        assert!(task.await.unwrap().is_none());
        assert_eq!(sched.waiting(), 0);
        assert_eq!(sched.report().buckets[Bucket::Collection.index()].used, 1);
    }

    // ---------- the ledger: writing and seeding (async) ----------

    /// A ledger in memory that can be told to fail.
    #[derive(Debug, Default)]
    struct MemLedger {
        writes: Mutex<Vec<Vec<Spend>>>,
        fail: std::sync::atomic::AtomicBool,
    }

    impl MemLedger {
        fn writes(&self) -> Vec<Vec<Spend>> {
            self.writes.lock().unwrap().clone()
        }
    }

    impl BudgetLedger for MemLedger {
        fn record<'a>(&'a self, spends: &'a [Spend]) -> BoxFuture<'a, Result<(), LedgerError>> {
            Box::pin(async move {
                if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(LedgerError("the store is down".into()));
                }
                self.writes.lock().unwrap().push(spends.to_vec());
                Ok(())
            })
        }
    }

    fn spend(bucket: Bucket, slot: DateTime<Utc>, count: u32) -> Spend {
        Spend {
            bucket,
            slot,
            count,
        }
    }

    #[tokio::test]
    async fn a_collection_grant_is_recorded_before_its_permit_returns() {
        let (_clock, sched) = manual(BudgetConfig::default());
        let ledger = Arc::new(MemLedger::default());
        // Grants before a ledger is set are not buffered (nothing would ever write them).
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;
        sched.set_ledger(ledger.clone());
        assert!(sched.unflushed().is_empty());
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;
        assert!(ledger.writes().is_empty(), "record GETs are buffered");
        assert_eq!(sched.unflushed(), [spend(Bucket::Get, t0(), 1)]);
        let _ = sched
            .acquire(RequestKind::GET_COLLECTION, Priority::Smart)
            .await;
        assert_eq!(
            ledger.writes(),
            [vec![
                spend(Bucket::Get, t0(), 2),
                spend(Bucket::Collection, t0(), 1)
            ]]
        );
        assert!(sched.unflushed().is_empty());
    }

    #[tokio::test]
    async fn per_minute_spends_are_written_once_their_slot_has_ended() {
        let (clock, sched) = manual(BudgetConfig::default());
        let ledger = Arc::new(MemLedger::default());
        sched.set_ledger(ledger.clone());
        for _ in 0..3 {
            let _ = sched.acquire(RequestKind::POST, Priority::Smart).await;
        }
        clock.advance(StdDuration::from_secs(59));
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;
        assert!(ledger.writes().is_empty());
        clock.advance(StdDuration::from_secs(1));
        let _ = sched
            .acquire(RequestKind::GET_RECORD, Priority::Smart)
            .await;
        assert_eq!(
            ledger.writes(),
            [vec![
                spend(Bucket::Get, t0(), 1),
                spend(Bucket::Get, t0() + s(60), 1),
                spend(Bucket::Post, t0(), 3),
            ]]
        );
        // `flush` writes what is left; a second flush has nothing to write.
        let _ = sched.acquire(RequestKind::POST, Priority::Smart).await;
        sched.flush().await.unwrap();
        sched.flush().await.unwrap();
        assert_eq!(ledger.writes().len(), 2);
        assert_eq!(ledger.writes()[1], [spend(Bucket::Post, t0() + s(60), 1)]);
    }

    #[tokio::test]
    async fn a_failed_ledger_write_keeps_the_spends_for_the_next_flush() {
        let (_clock, sched) = manual(BudgetConfig::default());
        let ledger = Arc::new(MemLedger::default());
        sched.set_ledger(ledger.clone());
        ledger.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        // The request still goes out: the process's own window holds it to the limit.
        let _ = sched
            .acquire(RequestKind::GET_COLLECTION, Priority::Smart)
            .await;
        let _ = sched
            .acquire(RequestKind::GET_COLLECTION, Priority::Smart)
            .await;
        assert!(sched.flush().await.is_err());
        assert_eq!(
            sched.unflushed(),
            [
                spend(Bucket::Get, t0(), 2),
                spend(Bucket::Collection, t0(), 2)
            ]
        );
        ledger
            .fail
            .store(false, std::sync::atomic::Ordering::SeqCst);
        sched.flush().await.unwrap();
        assert_eq!(
            ledger.writes(),
            [vec![
                spend(Bucket::Get, t0(), 2),
                spend(Bucket::Collection, t0(), 2)
            ]]
        );
        assert!(sched.unflushed().is_empty());
    }

    #[tokio::test]
    async fn a_seeded_scheduler_waits_for_other_processes_spends_to_leave_the_window() {
        let cfg = BudgetConfig {
            collection_per_hour: 3,
            ..Default::default()
        };
        let (clock, sched) = manual(cfg);
        // The previous process spent the hour's three reads 30 and 20 minutes ago.
        let added = sched.seed(&[
            spend(Bucket::Collection, t0() - m(30), 2),
            spend(Bucket::Collection, t0() - m(20), 1),
            spend(Bucket::Get, t0() - m(30), 2),
        ]);
        assert_eq!(added, [0, 0, 3], "GETs older than a minute no longer count");
        assert_eq!(sched.available(Bucket::Collection), 0);
        assert_eq!(
            sched.report().buckets[Bucket::Collection.index()].in_window,
            3
        );
        let frees = t0() + m(31) - Duration::milliseconds(1);
        assert_eq!(
            sched
                .try_acquire(RequestKind::GET_COLLECTION, Priority::Critical)
                .unwrap_err(),
            frees
        );
        let task = tokio::spawn({
            let sched = sched.clone();
            async move {
                sched
                    .acquire(RequestKind::GET_COLLECTION, Priority::Critical)
                    .await
            }
        });
        wait_for_waiters(&sched, 1).await;
        clock.advance(StdDuration::from_secs(31 * 60 - 1));
        settle().await;
        assert!(!task.is_finished(), "granted while the window was full");
        clock.advance(StdDuration::from_secs(1));
        assert!(task.await.unwrap().granted_at() >= frees);
    }

    #[test]
    fn report_percentiles_and_counts() {
        let (_clock, sched) = manual(BudgetConfig::default());
        assert_eq!(sched.report().latency_p50_ms, 0.0);
        for ms in 1..=100u64 {
            let status = if ms % 10 == 0 { 500 } else { 200 };
            sched.record(
                RequestKind::GET_RECORD,
                StdDuration::from_millis(ms),
                10,
                status,
            );
        }
        let r = sched.report();
        assert_eq!(r.requests, 100);
        assert_eq!(r.bytes, 1000);
        assert_eq!(r.latency_p50_ms, 50.0);
        assert_eq!(r.latency_p95_ms, 95.0);
        assert_eq!(r.status_counts[&200], 90);
        assert_eq!(r.status_counts[&500], 10);
        assert!(
            serde_json::to_string(&r)
                .unwrap()
                .contains("\"Collection\"")
        );
    }
}
