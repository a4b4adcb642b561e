//! Simulator configuration.
//!
//! A [`SimConfig`] fully determines a simulator run: the account it answers for, the
//! credentials it accepts, the generated dataset (`seed`, `size`, `anchor`), the clock, the
//! rate-limit budgets, the entity cap, the bind address and the [`Quirks`]. Quirks are the
//! uncertain facts of `finale-api.md` §15 turned into switches, so that a test can run the
//! client against each plausible reading of the real API.
//!
//! Determinism: the dataset depends only on `(seed, size, anchor)`; two simulators with the same
//! triple serve byte-identical bodies.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::clock::SimClock;

/// How much data the generator produces. See the crate docs for the numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 2 locations, 10 suppliers, 30 customers, 200 products, ~2,000 order lines.
    Small,
    /// 3 locations, 60 suppliers, 800 customers, 5,000 products, ~100,000 order lines.
    Medium,
    /// 5 locations, 300 suppliers, 5,000 customers, 50,000 products, ~1,000,000 order lines.
    Large,
}

/// Error returned by `Size::from_str`.
#[derive(Debug, thiserror::Error)]
#[error("unknown size {0:?} (expected small, medium or large)")]
pub struct ParseSizeError(String);

impl FromStr for Size {
    type Err = ParseSizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(Size::Small),
            "medium" => Ok(Size::Medium),
            "large" => Ok(Size::Large),
            _ => Err(ParseSizeError(s.to_owned())),
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        })
    }
}

/// Rate-limit budgets, enforced in fixed windows of virtual time.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitConfig {
    /// `false` disables enforcement; the `X-RateLimit-*` headers are still sent.
    pub enabled: bool,
    /// GET requests per (virtual) minute window.
    pub get_per_minute: u32,
    /// POST requests per minute window (GraphQL and legacy login are POSTs).
    pub post_per_minute: u32,
    /// Collection reads per hour window (a collection GET consumes this and the GET bucket).
    pub collection_per_hour: u32,
    /// Whether a GraphQL POST also consumes the collection bucket.
    pub graphql_counts_as_collection: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            get_per_minute: 120,
            post_per_minute: 120,
            collection_per_hour: 300,
            graphql_counts_as_collection: false,
        }
    }
}

/// Shape of error bodies (finale-api.md §4: never seen verbatim, clients look in several places).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrorBodyShape {
    /// `{"errorMessage": "..."}` (default).
    #[default]
    ErrorMessage,
    /// The message as a `text/plain` body.
    PlainText,
    /// `{"message": "..."}`.
    MessageKey,
    /// `{"errors": ["..."]}`.
    ErrorsList,
}

/// What the quantities of a case-packed `inventoryitem` row count (finale-api.md §7.1:
/// "presumably in cases", unconfirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PackedQuantities {
    /// Cases: a row `"12 cs 12/1"` with `quantityOnHand: 3` holds 36 units (default).
    #[default]
    Cases,
    /// Units: the same stock is rendered `quantityOnHand: 36`.
    Units,
}

/// The zone in which offset-less REST timestamps are written (finale-api.md §6.5, §15b).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Timestamps {
    /// UTC (default): what Finale's own build example shows (`createdDate` equals its
    /// `txStamp` epoch seconds read as UTC).
    #[default]
    Utc,
    /// Wall-clock time in the account zone ([`Quirks::timezone`]).
    Account,
}

/// Error returned by `Timestamps::from_str`.
#[derive(Debug, thiserror::Error)]
#[error("unknown timestamp zone {0:?} (expected utc or account)")]
pub struct ParseTimestampsError(String);

impl FromStr for Timestamps {
    type Err = ParseTimestampsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utc" => Ok(Timestamps::Utc),
            "account" => Ok(Timestamps::Account),
            _ => Err(ParseTimestampsError(s.to_owned())),
        }
    }
}

/// Switches for every uncertain fact of finale-api.md §15.
#[derive(Clone, Debug, PartialEq)]
pub struct Quirks {
    /// `true` (default): the order collection carries `orderItemList` (arrays of arrays);
    /// `false`: headers only, lines via `GET {orderUrl}`.
    pub order_items_in_collection: bool,
    /// The account's time zone (default UTC): GraphQL's display dates and date filters, and
    /// the zone of REST timestamps under [`Timestamps::Account`].
    pub timezone: chrono_tz::Tz,
    /// The zone offset-less REST timestamps are written in and naive REST filter bounds are
    /// read in (default [`Timestamps::Utc`]); bounds with `Z` or an offset are instants
    /// either way. See [`Quirks::timestamp_zone`].
    pub timestamps: Timestamps,
    /// `false` (default): a null `lastUpdatedDate` upper bound means "now"; `true`: 400.
    pub reject_open_upper_bound: bool,
    /// Shape of error bodies.
    pub error_body: ErrorBodyShape,
    /// Whether responses carry `X-RateLimit-*` headers (default `true`).
    pub rate_limit_headers: bool,
    /// `X-RateLimit-Reset` in epoch milliseconds instead of seconds (default `false`; the
    /// unit is unresolved, finale-api.md §15b).
    pub rate_limit_reset_millis: bool,
    /// A collection path without its trailing slash (`/api/inventoryitem`) is an unknown
    /// path: an HTML 404 (default `true`, seen live, finale-api.md §15b); `false` serves it.
    pub collection_needs_trailing_slash: bool,
    /// Products look like the live capture of finale-api.md §15b (default `false`): every
    /// `priceList` carries a user-defined `##user2` entry without a `price` key, and the
    /// live collection's other nested lists (`productStoreList`, `glAccountList`,
    /// `contentList`, `productAssocList`) come as empty arrays per record.
    pub live_product_shape: bool,
    /// Single-record GETs look like Finale's doc examples (default `false`): no
    /// `orderDate`/`createdDate`/`lastUpdatedDate`, plus an undocumented `invalidations` key.
    pub doc_shaped_records: bool,
    /// How far the simulated Finale's clock runs ahead of the shared clock (negative: behind;
    /// default zero): live-mode writes stamp `lastUpdatedDate` with `now + clock_skew`, and
    /// every response's `Date` header shows `now + clock_skew` (see [`Quirks::date_header`]).
    pub clock_skew: Duration,
    /// What the `Date` header shows: the simulated Finale's clock (default), the shared clock
    /// without the skew (a stand-in whose web server stamps `Date` from the host's clock while
    /// its records are stamped otherwise), or nothing.
    pub date_header: DateHeader,
    /// GraphQL date-range keys accepted: `{begin, end}`, `{start, end}` or both (default).
    pub graphql_date_keys: crate::graphql::DateKeys,
    /// What GraphQL `formatter: "none"` yields for numbers: JSON numbers (default) or strings.
    pub graphql_none_format: crate::graphql::NoneFormat,
    /// `true` (default): `POST /{acct}/api/graphql` is served; `false`: the account answers it
    /// like any unknown path (404), as stand-ins and restricted accounts without GraphQL do.
    pub graphql: bool,
    /// What packed `inventoryitem` quantities count: cases (default) or units. The model
    /// holds cases; GraphQL stock is always in units.
    pub packed_quantities: PackedQuantities,
}

/// What a response's `Date` header shows ([`Quirks::date_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateHeader {
    /// The simulated Finale's clock: the shared clock plus [`Quirks::clock_skew`].
    #[default]
    FinaleClock,
    /// The shared clock, whatever the skew of the records' stamps.
    SharedClock,
    /// No `Date` header.
    Absent,
}

impl Default for Quirks {
    fn default() -> Self {
        Self {
            order_items_in_collection: true,
            timezone: chrono_tz::UTC,
            timestamps: Timestamps::Utc,
            reject_open_upper_bound: false,
            error_body: ErrorBodyShape::ErrorMessage,
            rate_limit_headers: true,
            rate_limit_reset_millis: false,
            collection_needs_trailing_slash: true,
            live_product_shape: false,
            doc_shaped_records: false,
            clock_skew: Duration::zero(),
            date_header: DateHeader::FinaleClock,
            graphql_date_keys: crate::graphql::DateKeys::default(),
            graphql_none_format: crate::graphql::NoneFormat::default(),
            graphql: true,
            packed_quantities: PackedQuantities::default(),
        }
    }
}

impl Quirks {
    /// The zone REST timestamps are rendered in and naive REST filter bounds are read in.
    pub fn timestamp_zone(&self) -> chrono_tz::Tz {
        match self.timestamps {
            Timestamps::Utc => chrono_tz::UTC,
            Timestamps::Account => self.timezone,
        }
    }
}

/// Everything a simulator run needs. Build with [`SimConfig::new`] and adjust fields.
#[derive(Clone)]
pub struct SimConfig {
    /// Account path component (default `acme`).
    pub account: String,
    /// API key accepted as the Basic-auth user (default `sim-key`).
    pub api_key: String,
    /// API secret accepted as the Basic-auth password (default `sim-secret`). Never printed.
    pub api_secret: String,
    /// Enables legacy `POST /{acct}/api/auth` with this `(username, password)`.
    pub legacy_user: Option<(String, String)>,
    /// Seed of the data generator.
    pub seed: u64,
    /// Size of the generated dataset.
    pub size: Size,
    /// Virtual instant at which the generated two-year history ends.
    pub anchor: DateTime<Utc>,
    /// The clock used for rate limits, open filter bounds and live-mode stamps.
    pub clock: SimClock,
    /// Rate-limit budgets.
    pub limits: RateLimitConfig,
    /// Entity cap (Finale: 120,000): every collection read, filtered or not, `inventoryitem`
    /// included, sees at most this many records; a `lastUpdatedDate` window is cut to it
    /// before the other filters apply. Small in tests.
    pub cap: usize,
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub bind: SocketAddr,
    /// Switches for uncertain API behaviour.
    pub quirks: Quirks,
}

impl SimConfig {
    /// All defaults, with `anchor` = now truncated to the hour.
    pub fn new(size: Size, seed: u64) -> Self {
        let now = Utc::now();
        let anchor = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        Self {
            account: "acme".to_owned(),
            api_key: "sim-key".to_owned(),
            api_secret: "sim-secret".to_owned(),
            legacy_user: None,
            seed,
            size,
            anchor,
            clock: SimClock::system(),
            limits: RateLimitConfig::default(),
            cap: 120_000,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            quirks: Quirks::default(),
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("account", &self.account)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .field(
                "legacy_user",
                &self.legacy_user.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("seed", &self.seed)
            .field("size", &self.size)
            .field("anchor", &self.anchor)
            .field("clock", &self.clock)
            .field("limits", &self.limits)
            .field("cap", &self.cap)
            .field("bind", &self.bind)
            .field("quirks", &self.quirks)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_parses_case_insensitively_and_rejects_garbage() {
        assert_eq!("Small".parse::<Size>().unwrap(), Size::Small);
        assert_eq!(" large ".parse::<Size>().unwrap(), Size::Large);
        assert!("huge".parse::<Size>().is_err());
        assert!("".parse::<Size>().is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut cfg = SimConfig::new(Size::Small, 1);
        cfg.api_secret = "hunter2-secret".into();
        cfg.legacy_user = Some(("bob".into(), "pa55word".into()));
        let s = format!("{cfg:?}");
        assert!(!s.contains("hunter2-secret"));
        assert!(!s.contains("pa55word"));
        assert!(s.contains("bob"));
    }

    #[test]
    fn defaults_match_the_brief() {
        let cfg = SimConfig::new(Size::Small, 7);
        assert_eq!(cfg.account, "acme");
        assert_eq!(cfg.cap, 120_000);
        assert_eq!(cfg.limits.get_per_minute, 120);
        assert_eq!(cfg.limits.collection_per_hour, 300);
        assert!(cfg.quirks.order_items_in_collection);
        assert_eq!(cfg.anchor.timestamp() % 3600, 0);
    }
}
