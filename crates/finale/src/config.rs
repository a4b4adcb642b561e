//! Client configuration: where the account lives, how to authenticate, and the knobs of the
//! sync (budgets, retries, windows, time zone).
//!
//! # Resolution
//!
//! [`FinaleConfig::new`] gives Finale's real defaults for an account and credentials; tests
//! and the CLI then adjust fields directly. [`FinaleConfig::from_env`] reads the standard
//! `FINALE_*` variables once and reports each problem with a precise [`ConfigError`].
//!
//! # Secrets
//!
//! The API secret and the legacy password are [`Secret`]s: their `Debug` and `Display` print
//! `***`, so a config, a credential or an error can be logged without leaking them. Only
//! [`Secret::expose`] yields the text, and only the HTTP layer calls it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use chrono_tz::Tz;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::graphql::GraphqlDateKeys;
use crate::retry::RetryPolicy;
use crate::scheduler::BudgetConfig;

/// Finale's production host.
pub const DEFAULT_BASE_URL: &str = "https://app.finaleinventory.com";

/// A secret string whose `Debug`/`Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret text. Call only where it is sent (the auth header or login body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the client authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic with an API key and secret on every request (current, recommended).
    ApiKey {
        /// The API key (user part of Basic auth; not secret on its own).
        key: String,
        /// The API secret.
        secret: Secret,
    },
    /// Legacy: `POST {api_root}auth` with a UI user's name and password, then the
    /// `JSESSIONID` cookie (logged in lazily, re-login once on 401).
    Session {
        /// The UI user name.
        username: String,
        /// The UI password.
        password: Secret,
    },
}

/// A configuration problem, one per cause, naming the variable involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or blank.
    #[error("{var} is not set{hint}")]
    Missing {
        /// The variable name.
        var: &'static str,
        /// Extra guidance (may be empty).
        hint: &'static str,
    },
    /// A variable is set but unusable.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable name.
        var: &'static str,
        /// Why (never contains a secret).
        reason: String,
    },
    /// Both credential kinds were given, or half of one.
    #[error("{0}")]
    Credentials(&'static str),
}

/// The zone in which Finale writes its offset-less REST timestamps (`2019-07-25T19:13:45`).
///
/// Finale does not document it (finale-api.md §6.5). The evidence favours UTC (§15b): in
/// Finale's own build example `createdDate` and `lastUpdatedDate` equal the `txStamp` epoch
/// seconds of the same events read as UTC, to the second, and a second fixture shows the
/// same coincidence. Hence the default [`TimestampZone::Utc`]; [`TimestampZone::Account`]
/// reads them as wall-clock time in [`FinaleConfig::timezone`] for an account that proves
/// otherwise. This is a different fact from the account's time zone, which decides the
/// business day a sale falls on whatever the timestamps' zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestampZone {
    /// Offset-less timestamps are UTC (default; `FINALE_TIMESTAMPS=utc`).
    #[default]
    Utc,
    /// Offset-less timestamps are wall-clock time in the account zone
    /// (`FINALE_TIMESTAMPS=account`).
    Account,
}

impl TimestampZone {
    /// The setting's spelling (`utc`, `account`).
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampZone::Utc => "utc",
            TimestampZone::Account => "account",
        }
    }
}

impl fmt::Display for TimestampZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TimestampZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utc" => Ok(TimestampZone::Utc),
            "account" => Ok(TimestampZone::Account),
            other => Err(format!("`{other}` is neither `utc` nor `account`")),
        }
    }
}

/// Everything the client needs. Cheap to clone (the clock is shared).
#[derive(Clone, Debug)]
pub struct FinaleConfig {
    /// Host (and optional path prefix); default `https://app.finaleinventory.com`.
    /// The API root is `{base_url}/{account}/api/`.
    pub base_url: Url,
    /// The account path component (`acme` in `https://app.finaleinventory.com/acme/`).
    pub account: String,
    /// API key or legacy session.
    pub credentials: Credentials,
    /// The account's time zone (`FINALE_TIMEZONE`, default UTC): the business day a sale
    /// falls on, GraphQL's display dates, and the zone of offset-less timestamps when
    /// [`FinaleConfig::timestamps`] is [`TimestampZone::Account`].
    pub timezone: Tz,
    /// The zone Finale writes offset-less timestamps in (`FINALE_TIMESTAMPS`, default
    /// [`TimestampZone::Utc`]); see [`FinaleConfig::timestamp_zone`].
    pub timestamps: TimestampZone,
    /// Rate budgets shared by every request of the client.
    pub budgets: BudgetConfig,
    /// Retries for 5xx, network errors, timeouts and truncated bodies.
    pub retry: RetryPolicy,
    /// Per-request timeout (30 s), covering the whole body.
    pub request_timeout: StdDuration,
    /// Source of time (virtual in tests). Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// Widest `lastUpdatedDate` window sent (Finale's rule: 30 days).
    pub max_window: Duration,
    /// How far incremental cursors re-read behind their watermark (late commits, skew): 5 min.
    /// Applied by callers via [`FinaleConfig::resume_from`]; `fetch_changed` reads exactly
    /// the range it is given.
    pub overlap: Duration,
    /// Finale's entity cap (120,000; `FINALE_COLLECTION_CAP`): collections larger than this
    /// are silently truncated (finale-api.md §8.2). A window returning `>= cap` records is
    /// split; any collection response of `>= cap` records is flagged [`crate::Decoded::capped`].
    pub cap: usize,
    /// Optional `limit` query parameter; a window returning exactly `limit` is split too.
    pub limit: Option<u32>,
    /// GraphQL date-range input keys (`begin/end` vs `start/end`; unconfirmed upstream).
    pub graphql_date_keys: GraphqlDateKeys,
    /// GraphQL page size for order-line completion (200).
    pub graphql_page_size: u32,
    /// What the quantities of case-packed stock rows and order lines count (unconfirmed
    /// upstream, finale-api.md §7.1): cases (default) or units. `FINALE_PACKED_QUANTITIES`.
    pub packed_quantities: crate::packing::PackedQuantities,
}

impl FinaleConfig {
    /// Finale's defaults for `account` with `credentials`.
    pub fn new(account: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default base URL is valid"),
            account: account.into(),
            credentials,
            timezone: Tz::UTC,
            timestamps: TimestampZone::Utc,
            budgets: BudgetConfig::default(),
            retry: RetryPolicy::default(),
            request_timeout: StdDuration::from_secs(30),
            clock: Arc::new(SystemClock),
            max_window: Duration::days(30),
            overlap: Duration::minutes(5),
            cap: DEFAULT_COLLECTION_CAP,
            limit: None,
            graphql_date_keys: GraphqlDateKeys::default(),
            graphql_page_size: 200,
            packed_quantities: crate::packing::PackedQuantities::default(),
        }
    }

    /// Reads `FINALE_ACCOUNT`, `FINALE_API_KEY` + `FINALE_API_SECRET` (or the legacy
    /// `FINALE_USERNAME` + `FINALE_PASSWORD`), and optionally `FINALE_BASE_URL`,
    /// `FINALE_TIMEZONE` (IANA name), `FINALE_TIMESTAMPS` (`utc`/`account`),
    /// `FINALE_PACKED_QUANTITIES` (`cases` | `units`) and `FINALE_COLLECTION_CAP` (entities,
    /// default 120000) from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`FinaleConfig::from_env`] over any variable source (tests, config files).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let account = var("FINALE_ACCOUNT").ok_or(ConfigError::Missing {
            var: "FINALE_ACCOUNT",
            hint: " (the first path segment of your Finale URL, e.g. `acme` in app.finaleinventory.com/acme/)",
        })?;
        let account = account.trim().to_owned();
        validate_account(&account)?;

        let key = var("FINALE_API_KEY");
        let secret = get("FINALE_API_SECRET").filter(|v| !v.is_empty());
        let user = var("FINALE_USERNAME");
        let pass = get("FINALE_PASSWORD").filter(|v| !v.is_empty());
        let credentials = match (key, secret, user, pass) {
            (Some(_), _, Some(_), _) => {
                return Err(ConfigError::Credentials(
                    "both FINALE_API_KEY and FINALE_USERNAME are set: choose one way to log in",
                ));
            }
            (Some(key), Some(secret), None, _) => Credentials::ApiKey {
                key: key.trim().to_owned(),
                secret: Secret(secret),
            },
            (Some(_), None, None, _) => {
                return Err(ConfigError::Missing {
                    var: "FINALE_API_SECRET",
                    hint: " (FINALE_API_KEY is set; the secret is shown once when the key is created)",
                });
            }
            (None, Some(_), None, None) => {
                return Err(ConfigError::Missing {
                    var: "FINALE_API_KEY",
                    hint: " (FINALE_API_SECRET is set without its key)",
                });
            }
            (None, _, Some(username), Some(password)) => Credentials::Session {
                username: username.trim().to_owned(),
                password: Secret(password),
            },
            (None, _, Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "FINALE_PASSWORD",
                    hint: " (FINALE_USERNAME is set)",
                });
            }
            (None, _, None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: "FINALE_USERNAME",
                    hint: " (FINALE_PASSWORD is set)",
                });
            }
            (None, None, None, None) => {
                return Err(ConfigError::Missing {
                    var: "FINALE_API_KEY",
                    hint: " (set FINALE_API_KEY and FINALE_API_SECRET, or FINALE_USERNAME and FINALE_PASSWORD)",
                });
            }
        };

        let mut cfg = Self::new(account, credentials);
        if let Some(base) = var("FINALE_BASE_URL") {
            cfg.base_url = parse_base_url(base.trim()).map_err(|reason| ConfigError::Invalid {
                var: "FINALE_BASE_URL",
                reason,
            })?;
        }
        if let Some(cap) = var("FINALE_COLLECTION_CAP") {
            cfg.cap = parse_cap(&cap).map_err(|reason| ConfigError::Invalid {
                var: "FINALE_COLLECTION_CAP",
                reason,
            })?;
        }
        if let Some(tz) = var("FINALE_TIMEZONE") {
            cfg.timezone = tz.trim().parse::<Tz>().map_err(|_| ConfigError::Invalid {
                var: "FINALE_TIMEZONE",
                reason: format!(
                    "`{}` is not an IANA time zone (e.g. America/Chicago)",
                    tz.trim()
                ),
            })?;
        }
        if let Some(p) = var("FINALE_PACKED_QUANTITIES") {
            cfg.packed_quantities =
                p.parse()
                    .map_err(|e: crate::packing::ParsePackedQuantitiesError| {
                        ConfigError::Invalid {
                            var: "FINALE_PACKED_QUANTITIES",
                            reason: format!("{e} (what packed stock quantities count)"),
                        }
                    })?;
        }
        if let Some(zone) = var("FINALE_TIMESTAMPS") {
            cfg.timestamps =
                zone.parse::<TimestampZone>()
                    .map_err(|reason| ConfigError::Invalid {
                        var: "FINALE_TIMESTAMPS",
                        reason,
                    })?;
        }
        Ok(cfg)
    }

    /// The zone offset-less REST timestamps are read in: UTC, or the account zone with
    /// [`TimestampZone::Account`].
    pub fn timestamp_zone(&self) -> Tz {
        match self.timestamps {
            TimestampZone::Utc => Tz::UTC,
            TimestampZone::Account => self.timezone,
        }
    }

    /// The REST root: `{base_url}/{account}/api/` (the account is one percent-encoded
    /// path segment).
    pub fn api_root(&self) -> Url {
        let mut u = self.base_url.clone();
        u.set_query(None);
        u.set_fragment(None);
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push(&self.account).push("api").push("");
        }
        u
    }

    /// Where an incremental read should start given a `watermark` (newest `lastUpdatedDate`
    /// already stored): `watermark - overlap`.
    pub fn resume_from(
        &self,
        watermark: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        watermark
            .checked_sub_signed(self.overlap)
            .unwrap_or(watermark)
    }

    /// Check the fields a client cannot work without.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_account(&self.account)?;
        if self.base_url.cannot_be_a_base() || !matches!(self.base_url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid {
                var: "base_url",
                reason: format!("`{}` is not an http(s) URL", self.base_url),
            });
        }
        if self.cap == 0 {
            return Err(ConfigError::Invalid {
                var: "FINALE_COLLECTION_CAP",
                reason: "must be at least 1 (Finale's cap is 120000)".into(),
            });
        }
        if self.max_window <= Duration::zero() {
            return Err(ConfigError::Invalid {
                var: "max_window",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }
}

fn validate_account(account: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::Invalid {
        var: "FINALE_ACCOUNT",
        reason: format!("`{account}` {reason}"),
    };
    if account.is_empty() {
        return Err(ConfigError::Missing {
            var: "FINALE_ACCOUNT",
            hint: "",
        });
    }
    if account.contains('/') || account.contains("://") {
        return Err(bad(
            "must be the account path component only (e.g. `acme`), not a URL or path",
        ));
    }
    if account.chars().any(|c| c.is_whitespace() || c.is_control())
        || account == "."
        || account == ".."
    {
        return Err(bad("contains whitespace or is not a path segment"));
    }
    Ok(())
}

/// The default of [`FinaleConfig::cap`]: Finale's documented 120,000 entities.
pub const DEFAULT_COLLECTION_CAP: usize = 120_000;

/// Parses `FINALE_COLLECTION_CAP`: a whole number of entities, at least 1 (`_` and `,`
/// separators allowed, e.g. `120_000`).
pub fn parse_cap(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits: String = t.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    match digits.parse::<usize>() {
        Ok(0) => Err(format!(
            "`{t}`: must be at least 1 (Finale's cap is 120000)"
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "`{t}` is not a whole number of records (Finale's cap is 120000)"
        )),
    }
}

fn parse_base_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s).map_err(|e| format!("`{s}`: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.cannot_be_a_base() {
        return Err(format!("`{s}` is not an http(s) URL"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not embed credentials; use FINALE_API_KEY/FINALE_API_SECRET".into());
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn packed_quantities_from_the_environment() {
        let cfg = FinaleConfig::from_lookup(lookup(&[
            ("FINALE_ACCOUNT", "acme"),
            ("FINALE_API_KEY", "k1"),
            ("FINALE_API_SECRET", "s"),
            ("FINALE_PACKED_QUANTITIES", "Units"),
        ]))
        .expect("valid");
        assert_eq!(cfg.packed_quantities, crate::PackedQuantities::Units);
    }

    #[test]
    fn env_with_api_key() {
        let cfg = FinaleConfig::from_lookup(lookup(&[
            ("FINALE_ACCOUNT", "acme"),
            ("FINALE_API_KEY", "k1"),
            ("FINALE_API_SECRET", "s3cr3t-value"),
            ("FINALE_TIMEZONE", "America/Chicago"),
        ]))
        .expect("valid");
        assert_eq!(cfg.account, "acme");
        assert_eq!(
            cfg.credentials,
            Credentials::ApiKey {
                key: "k1".into(),
                secret: Secret::from("s3cr3t-value")
            }
        );
        assert_eq!(cfg.timezone, chrono_tz::America::Chicago);
        assert_eq!(cfg.timestamps, TimestampZone::Utc, "UTC by default (§15b)");
        assert_eq!(
            cfg.timestamp_zone(),
            Tz::UTC,
            "the account zone is not the stamps' zone"
        );
        assert_eq!(
            cfg.api_root().as_str(),
            "https://app.finaleinventory.com/acme/api/"
        );
        assert_eq!(cfg.max_window, Duration::days(30));
        assert_eq!(cfg.cap, 120_000);
        assert_eq!(cfg.graphql_page_size, 200);
        assert_eq!(cfg.packed_quantities, crate::PackedQuantities::Cases);
        let shown = format!("{cfg:?} {}", Secret::from("s3cr3t-value"));
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn env_with_session_and_base_url() {
        let cfg = FinaleConfig::from_lookup(lookup(&[
            ("FINALE_ACCOUNT", " demo "),
            ("FINALE_USERNAME", "clerk"),
            ("FINALE_PASSWORD", " pass with spaces "),
            ("FINALE_BASE_URL", "http://127.0.0.1:8123/prefix"),
        ]))
        .expect("valid");
        assert_eq!(
            cfg.credentials,
            Credentials::Session {
                username: "clerk".into(),
                password: Secret::from(" pass with spaces ")
            },
            "passwords are not trimmed"
        );
        assert_eq!(
            cfg.api_root().as_str(),
            "http://127.0.0.1:8123/prefix/demo/api/"
        );
        assert!(!format!("{cfg:?}").contains("pass with spaces"));
    }

    #[test]
    fn env_problems_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "FINALE_ACCOUNT"),
            (&[("FINALE_ACCOUNT", "acme")], "FINALE_API_KEY"),
            (
                &[("FINALE_ACCOUNT", "acme"), ("FINALE_API_KEY", "k")],
                "FINALE_API_SECRET",
            ),
            (
                &[("FINALE_ACCOUNT", "acme"), ("FINALE_API_SECRET", "s")],
                "FINALE_API_KEY",
            ),
            (
                &[("FINALE_ACCOUNT", "acme"), ("FINALE_USERNAME", "u")],
                "FINALE_PASSWORD",
            ),
            (
                &[("FINALE_ACCOUNT", "acme"), ("FINALE_PASSWORD", "p")],
                "FINALE_USERNAME",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "s"),
                    ("FINALE_USERNAME", "u"),
                    ("FINALE_PASSWORD", "p"),
                ],
                "choose one",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "https://app.finaleinventory.com/acme/"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "s"),
                ],
                "FINALE_ACCOUNT",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "ac me"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "s"),
                ],
                "FINALE_ACCOUNT",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "topsecret"),
                    ("FINALE_TIMEZONE", "Mars/Olympus"),
                ],
                "FINALE_TIMEZONE",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "topsecret"),
                    ("FINALE_PACKED_QUANTITIES", "boxes"),
                ],
                "FINALE_PACKED_QUANTITIES",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "topsecret"),
                    ("FINALE_TIMESTAMPS", "local"),
                ],
                "FINALE_TIMESTAMPS",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "topsecret"),
                    ("FINALE_BASE_URL", "ftp://x"),
                ],
                "FINALE_BASE_URL",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "topsecret"),
                    ("FINALE_BASE_URL", "not a url"),
                ],
                "FINALE_BASE_URL",
            ),
            (
                &[
                    ("FINALE_ACCOUNT", "acme"),
                    ("FINALE_API_KEY", "k"),
                    ("FINALE_API_SECRET", "topsecret"),
                    ("FINALE_BASE_URL", "https://u:pw@host/"),
                ],
                "FINALE_BASE_URL",
            ),
        ];
        for (vars, needle) in cases {
            let err = FinaleConfig::from_lookup(lookup(vars)).expect_err(needle);
            let msg = err.to_string();
            assert!(msg.contains(needle), "{vars:?}: {msg}");
            assert!(!msg.contains("topsecret"), "{msg}");
        }
    }

    #[test]
    fn collection_cap_is_configurable_and_validated() {
        let base = [
            ("FINALE_ACCOUNT", "acme"),
            ("FINALE_API_KEY", "k"),
            ("FINALE_API_SECRET", "topsecret"),
        ];
        let with = |cap: &str| {
            let mut v = base.to_vec();
            v.push(("FINALE_COLLECTION_CAP", cap));
            FinaleConfig::from_lookup(lookup(&v))
        };
        assert_eq!(
            FinaleConfig::from_lookup(lookup(&base)).expect("valid").cap,
            DEFAULT_COLLECTION_CAP
        );
        assert_eq!(with("500").expect("valid").cap, 500);
        assert_eq!(with(" 120_000 ").expect("valid").cap, 120_000);
        assert_eq!(with("1,000").expect("valid").cap, 1_000);
        for bad in ["0", "-5", "lots", "1.5", "99999999999999999999999"] {
            let err = with(bad).expect_err(bad);
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        var: "FINALE_COLLECTION_CAP",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains("FINALE_COLLECTION_CAP"), "{msg}");
            assert!(!msg.contains("topsecret"), "{msg}");
        }
        let mut cfg = FinaleConfig::new(
            "acme",
            Credentials::ApiKey {
                key: "k".into(),
                secret: "s".into(),
            },
        );
        cfg.cap = 0;
        assert!(cfg.validate().is_err(), "a zero cap would flag every page");
    }

    #[test]
    fn timestamps_switch_reads_utc_or_account() {
        let base = [
            ("FINALE_ACCOUNT", "acme"),
            ("FINALE_API_KEY", "k"),
            ("FINALE_API_SECRET", "s"),
            ("FINALE_TIMEZONE", "Australia/Sydney"),
        ];
        for (value, want, zone) in [
            ("utc", TimestampZone::Utc, Tz::UTC),
            (
                " Account ",
                TimestampZone::Account,
                chrono_tz::Australia::Sydney,
            ),
        ] {
            let mut vars = base.to_vec();
            vars.push(("FINALE_TIMESTAMPS", value));
            let cfg = FinaleConfig::from_lookup(lookup(&vars)).expect("valid");
            assert_eq!(cfg.timestamps, want);
            assert_eq!(cfg.timestamp_zone(), zone);
            assert_eq!(cfg.timezone, chrono_tz::Australia::Sydney);
        }
    }

    #[test]
    fn account_is_one_encoded_segment() {
        let mut cfg = FinaleConfig::new(
            "a?b#c",
            Credentials::ApiKey {
                key: "k".into(),
                secret: "s".into(),
            },
        );
        assert_eq!(
            cfg.api_root().as_str(),
            "https://app.finaleinventory.com/a%3Fb%23c/api/"
        );
        cfg.base_url = Url::parse("http://localhost:9/x/?q=1#f").expect("url");
        assert_eq!(
            cfg.api_root().as_str(),
            "http://localhost:9/x/a%3Fb%23c/api/"
        );
    }

    #[test]
    fn resume_from_applies_the_overlap() {
        let cfg = FinaleConfig::new(
            "acme",
            Credentials::ApiKey {
                key: "k".into(),
                secret: "s".into(),
            },
        );
        let t: chrono::DateTime<chrono::Utc> = "2025-01-01T00:05:00Z".parse().expect("t");
        assert_eq!(
            cfg.resume_from(t),
            "2025-01-01T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .expect("t")
        );
    }
}
