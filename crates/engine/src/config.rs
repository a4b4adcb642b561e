//! The engine's configuration: where Finale is, which store to write, and the sync knobs.
//!
//! # Sources and precedence
//!
//! Each setting is taken from the first source that has it:
//!
//! 1. **Environment variables** (`FINALE_*`, `STOCKPULSE_*`, `DATABASE_URL`; the table below).
//! 2. **The TOML file** (`--config`, else `$STOCKPULSE_CONFIG`, else
//!    `$XDG_CONFIG_HOME/stockpulse/config.toml` or `~/.config/stockpulse/config.toml` when it
//!    exists). Unknown keys are errors, so a typo never silently falls back to a default.
//! 3. **The OS keychain**, for secrets only: service `stockpulse`, entries
//!    `finale-api-secret`, `finale-api-key`, `database-url`, `lock-url` ([`Keychain`]).
//! 4. The defaults (the seed's numbers, `ARCHITECTURE.md`).
//!
//! # Secrets
//!
//! The Finale API secret (or legacy password), the database URL and the lock URL (both may
//! carry a Postgres password) come **only** from the environment or the keychain. A file that
//! contains one of them (`database_url`, `lock_url`, `api_secret`, `password`, or any URL with
//! a password in it) is rejected with a message saying where to put it instead. Secrets are
//! held as [`finale::Secret`] (its `Debug`/`Display` print `***`); no error, log line or
//! [`EngineConfig::describe`] output contains one. Database URL errors go through
//! [`store::pg::connect::plan_connection`], whose messages redact the password.
//!
//! The keychain fails soft: no backend (no D-Bus session on a server or in CI), no entry, or
//! a locked store all count as "absent" (logged at debug level, never the value). Set
//! `STOCKPULSE_KEYCHAIN=off` to skip it entirely.
//!
//! # Finale is optional at load time
//!
//! `status` and `demo` need no Finale account, so a *missing* account or credential does not
//! fail [`EngineConfig::load`]: it is kept and reported by [`EngineConfig::finale`] (for
//! `sync` and `serve`) and by [`EngineConfig::describe`]. A value that is present but wrong
//! (bad base URL, unknown time zone, two kinds of credentials) fails the load.
//!
//! | setting | environment | file key | default |
//! |---|---|---|---|
//! | Finale account | `FINALE_ACCOUNT` | `finale.account` | – |
//! | Finale host | `FINALE_BASE_URL` | `finale.base_url` | `https://app.finaleinventory.com` |
//! | account time zone (business day of a sale) | `FINALE_TIMEZONE` | `finale.timezone` | `UTC` |
//! | zone of Finale's offset-less timestamps | `FINALE_TIMESTAMPS` | `finale.timestamps` | `utc` (or `account`) |
//! | packed quantities count | `FINALE_PACKED_QUANTITIES` | `finale.packed_quantities` | `cases` (or `units`) |
//! | Finale's entity cap | `FINALE_COLLECTION_CAP` | `finale.collection_cap` | 120000 |
//! | API key | `FINALE_API_KEY` | `finale.api_key` | keychain `finale-api-key` |
//! | API secret | `FINALE_API_SECRET` | *never* | keychain `finale-api-secret` |
//! | legacy login | `FINALE_USERNAME` / `FINALE_PASSWORD` | `finale.username` / *never* | – |
//! | Postgres store | `STOCKPULSE_DATABASE_URL`, `DATABASE_URL` | *never* | keychain `database-url`; none = local store |
//! | writer-lock URL | `STOCKPULSE_LOCK_URL` | *never* | keychain `lock-url`; none = the database URL |
//! | local store file | `STOCKPULSE_LOCAL_PATH` | `store.local_path` | `$XDG_DATA_HOME/stockpulse/stockpulse.db` |
//! | full batch | `STOCKPULSE_FULL_BATCH_SIZE` | `sync.full_batch_size` | 500 |
//! | smart batch | `STOCKPULSE_SMART_BATCH_SIZE` | `sync.smart_batch_size` | 100 |
//! | smart concurrency | `STOCKPULSE_SMART_CONCURRENCY` | `sync.smart_concurrency` | 3 |
//! | smart time (UTC) | `STOCKPULSE_SMART_DAILY_AT` | `sync.smart_daily_at` | `"02:00"` |
//! | smart time limit | `STOCKPULSE_SMART_MAX_DURATION_MINUTES` | `sync.smart_max_duration_minutes` | 15 |
//! | critical interval | `STOCKPULSE_CRITICAL_EVERY_MINUTES` | `sync.critical_every_minutes` | 60 |
//! | stock pulse interval (0 = off) | `STOCKPULSE_STOCK_EVERY_MINUTES` | `sync.stock_every_minutes` | 5 |
//! | longest wait before `serve` retries a failed run (backoff from 30 s, doubling) | `STOCKPULSE_RETRY_AFTER_MINUTES` | `sync.retry_after_minutes` | 5 |
//! | cursor overlap | `STOCKPULSE_CURSOR_OVERLAP_SECONDS` | `sync.cursor_overlap_seconds` | 300 |
//! | writer lease (1–300 s) | `STOCKPULSE_WRITER_LEASE_SECONDS` | `sync.writer_lease_seconds` | 120 |
//! | history horizon | `STOCKPULSE_HISTORY_DAYS` | `sync.history_days` | 730 |
//! | critical: stock level | `STOCKPULSE_CRITICAL_STOCK_LEVEL` | `sync.critical.stock_level` | 10 |
//! | critical: velocity × | `STOCKPULSE_CRITICAL_VELOCITY_MULTIPLIER` | `sync.critical.velocity_multiplier` | 2.0 |
//! | critical: price change % | `STOCKPULSE_CRITICAL_PRICE_CHANGE_PCT` | `sync.critical.price_change_pct` | 5.0 |
//!
//! Relative `store.local_path` values in the file are relative to the file's directory;
//! a leading `~/` is the home directory.
//!
//! The schedule (critical interval, stock pulse, the daily smart run) must fit Finale's
//! hourly collection budget in its busiest hour ([`crate::sync::plan::schedule_spend`]); a
//! schedule that would not is refused with a message naming the interval to raise.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{NaiveTime, TimeDelta, Timelike};
use finale::{Credentials, FinaleConfig, Secret};
use serde::Deserialize;

use crate::schedule::Schedule;
use store::pg::connect::plan_connection;

/// The keychain service name every Stockpulse entry lives under.
pub const KEYCHAIN_SERVICE: &str = "stockpulse";
/// Keychain entry: the Finale API secret.
pub const ENTRY_FINALE_API_SECRET: &str = "finale-api-secret";
/// Keychain entry: the Finale API key.
pub const ENTRY_FINALE_API_KEY: &str = "finale-api-key";
/// Keychain entry: the Postgres database URL.
pub const ENTRY_DATABASE_URL: &str = "database-url";
/// Keychain entry: the session-mode URL for the writer lock.
pub const ENTRY_LOCK_URL: &str = "lock-url";

/// A configuration problem. Messages name the setting and where it came from, say how to
/// fix it, and never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not TOML, has an unknown key or a value of the wrong type.
    #[error("configuration file {}, line {line}, column {column}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// 1-based column of the problem (0 when unknown).
        column: usize,
        /// The parser's explanation (never the text of the file around it).
        message: String,
    },

    /// The file contains a secret. Secrets live in the environment or the OS keychain.
    #[error(
        "configuration file {} contains the secret `{key}`; secrets are never read from files: \
         remove it and {where_instead}",
        path.display()
    )]
    SecretInFile {
        /// The file.
        path: PathBuf,
        /// The dotted key (`store.database_url`).
        key: String,
        /// Where the secret belongs instead.
        where_instead: String,
    },

    /// A setting has an unusable value.
    #[error("{setting} is invalid: {reason}")]
    Invalid {
        /// The setting and its source (`STOCKPULSE_SMART_DAILY_AT`, `sync.full_batch_size in
        /// /path/config.toml`).
        setting: String,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// A database or lock URL cannot be used. The reason has the password redacted.
    #[error("{setting} is not a usable Postgres URL: {reason}")]
    DatabaseUrl {
        /// The setting and its source (`STOCKPULSE_DATABASE_URL`, `keychain entry database-url`).
        setting: String,
        /// What is wrong (password redacted).
        reason: String,
    },

    /// Finale is not (fully) configured, or a Finale setting is wrong.
    #[error("Finale: {error}{hint}")]
    Finale {
        /// The Finale client's own diagnosis.
        #[source]
        error: finale::ConfigError,
        /// Where else the value may be given (file key, keychain entry).
        hint: String,
    },

    /// No home or data directory is known, so the local store has no default location.
    #[error(
        "cannot tell where the local store lives: neither XDG_DATA_HOME nor HOME is set; \
         set STOCKPULSE_LOCAL_PATH or `store.local_path` in the configuration file"
    )]
    NoDataDir,
}

/// Where a secret (or the API key) was found, for [`EngineConfig::describe`] and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(&'static str),
    /// The configuration file (only the API key and the legacy user name may come from it).
    File,
    /// The OS keychain entry of that name (service [`KEYCHAIN_SERVICE`]).
    Keychain(&'static str),
    /// A command-line flag (`--database-url`).
    Flag(&'static str),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "environment {var}"),
            SecretSource::File => f.write_str("configuration file"),
            SecretSource::Flag(flag) => write!(f, "command line {flag}"),
            SecretSource::Keychain(entry) => {
                write!(f, "keychain {KEYCHAIN_SERVICE}/{entry}")
            }
        }
    }
}

/// Read access to the OS keychain (or a stand-in in tests). `get` is fail-soft: anything but
/// a value is `None`.
pub trait Keychain {
    /// The secret stored under `entry` in service [`KEYCHAIN_SERVICE`], if any.
    fn get(&self, entry: &str) -> Option<Secret>;
}

/// No keychain at all (`STOCKPULSE_KEYCHAIN=off`, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeychain;

impl Keychain for NoKeychain {
    fn get(&self, _entry: &str) -> Option<Secret> {
        None
    }
}

/// A fixed set of entries (tests, or secrets the shell already holds).
impl Keychain for HashMap<String, String> {
    fn get(&self, entry: &str) -> Option<Secret> {
        HashMap::get(self, entry).map(|v| Secret::from(v.as_str()))
    }
}

/// The platform keychain through the `keyring` crate: macOS Keychain, Windows Credential
/// Manager, and on Linux the kernel keyutils cache in front of the desktop's Secret Service.
///
/// On a machine with no D-Bus session (servers, CI) every lookup is absent after one failed
/// connection attempt (microseconds); that is logged at debug level.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeychain;

impl OsKeychain {
    /// Stores `value` under `entry` (for a settings screen or a `secret set` command).
    pub fn set(&self, entry: &str, value: &Secret) -> Result<(), KeychainError> {
        let e = keyring::Entry::new(KEYCHAIN_SERVICE, entry).map_err(|e| KeychainError {
            entry: entry.to_owned(),
            reason: describe_keyring_error(&e),
        })?;
        e.set_password(value.expose()).map_err(|e| KeychainError {
            entry: entry.to_owned(),
            reason: describe_keyring_error(&e),
        })
    }

    /// Removes `entry`; removing an absent entry is not an error.
    pub fn delete(&self, entry: &str) -> Result<(), KeychainError> {
        let e = keyring::Entry::new(KEYCHAIN_SERVICE, entry).map_err(|e| KeychainError {
            entry: entry.to_owned(),
            reason: describe_keyring_error(&e),
        })?;
        match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeychainError {
                entry: entry.to_owned(),
                reason: describe_keyring_error(&e),
            }),
        }
    }
}

impl Keychain for OsKeychain {
    fn get(&self, entry: &str) -> Option<Secret> {
        let found = keyring::Entry::new(KEYCHAIN_SERVICE, entry).and_then(|e| e.get_password());
        match found {
            Ok(value) if !value.is_empty() => Some(Secret::from(value)),
            Ok(_) => {
                tracing::debug!(entry, "keychain entry is empty; treated as absent");
                None
            }
            Err(keyring::Error::NoEntry) => {
                tracing::debug!(entry, "no keychain entry");
                None
            }
            Err(e) => {
                tracing::debug!(
                    entry,
                    reason = %describe_keyring_error(&e),
                    "keychain unavailable; treated as absent"
                );
                None
            }
        }
    }
}

/// Writing to the keychain failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write keychain entry {KEYCHAIN_SERVICE}/{entry}: {reason}")]
pub struct KeychainError {
    /// The entry.
    pub entry: String,
    /// Why (never the secret).
    pub reason: String,
}

/// A keyring error as text, without the payload of `BadEncoding` (which would be the secret).
fn describe_keyring_error(e: &keyring::Error) -> String {
    match e {
        keyring::Error::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            inner.to_string()
        }
        keyring::Error::NoEntry => "no such entry".to_owned(),
        keyring::Error::Ambiguous(_) => "several matching entries".to_owned(),
        other => other.to_string(),
    }
}

/// The critical strategy's triggers (the seed's `realTimeThreshold` and `price_change > 5%`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriticalThresholds {
    /// An item at or below this stock level is critical (10).
    pub stock_level: f64,
    /// An item selling at least this multiple of its normal velocity is critical (2.0).
    pub velocity_multiplier: f64,
    /// A price change of more than this many percent is critical (5.0).
    pub price_change_pct: f64,
}

impl Default for CriticalThresholds {
    fn default() -> Self {
        Self {
            stock_level: 10.0,
            velocity_multiplier: 2.0,
            price_change_pct: 5.0,
        }
    }
}

/// The sync knobs (the seed's numbers by default).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    /// Records per write batch of the full load (500).
    pub full_batch_size: usize,
    /// Records per batch of the smart sync (100).
    pub smart_batch_size: usize,
    /// Smart batches in flight at once (3).
    pub smart_concurrency: usize,
    /// Daily smart sync time, UTC (02:00).
    pub smart_daily_at: NaiveTime,
    /// Time limit of one smart run (15 min).
    pub smart_max_duration: TimeDelta,
    /// Interval of the critical sync (60 min).
    pub critical_every: TimeDelta,
    /// Interval of the stock pulse (5 min); `None` = off.
    pub stock_every: Option<TimeDelta>,
    /// Wait after a failed scheduled run before `serve` tries again (5 min).
    pub retry_after: TimeDelta,
    /// How far incremental cursors re-read behind their watermark (300 s); also set as the
    /// Finale client's `overlap`.
    pub cursor_overlap: TimeDelta,
    /// How far back the full load reaches (730 days).
    pub history_horizon: TimeDelta,
    /// The writer role's lease TTL (120 s, at most 300): a frozen writer is replaced after
    /// this long without renewing it ([`store::lease`]).
    pub writer_lease: std::time::Duration,
    /// The critical strategy's triggers.
    pub critical: CriticalThresholds,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            full_batch_size: 500,
            smart_batch_size: 100,
            smart_concurrency: 3,
            smart_daily_at: NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN),
            smart_max_duration: TimeDelta::minutes(15),
            critical_every: TimeDelta::minutes(60),
            stock_every: Some(TimeDelta::minutes(5)),
            retry_after: TimeDelta::minutes(5),
            cursor_overlap: TimeDelta::seconds(300),
            history_horizon: TimeDelta::days(730),
            writer_lease: store::lease::DEFAULT_TTL,
            critical: CriticalThresholds::default(),
        }
    }
}

impl SyncConfig {
    /// The `serve` schedule these settings describe.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            smart_daily_at: self.smart_daily_at,
            critical_every: self.critical_every,
            stock_every: self.stock_every,
            retry_after: self.retry_after,
        }
    }
}

/// Which store the engine writes.
#[derive(Debug, Clone, Copy)]
pub enum StoreTarget<'a> {
    /// The shared Postgres store.
    Postgres {
        /// The database URL (pass `expose()` to [`store::pg::connect()`] only).
        url: &'a Secret,
        /// A session-mode URL for the writer lock when `url` is a transaction pooler.
        lock_url: Option<&'a Secret>,
    },
    /// The local SQLite store (the embedded default).
    Sqlite {
        /// The database file.
        path: &'a Path,
    },
}

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The Postgres URL; `None` means the local store. Secret: env or keychain only.
    pub database_url: Option<Secret>,
    /// Where `database_url` came from.
    pub database_url_source: Option<SecretSource>,
    /// Session-mode URL for the advisory writer lock (when `database_url` is Supabase's
    /// transaction pooler, which cannot hold session locks). Secret.
    pub lock_url: Option<Secret>,
    /// Where `lock_url` came from.
    pub lock_url_source: Option<SecretSource>,
    /// The local SQLite store file.
    pub local_path: PathBuf,
}

impl StoreConfig {
    /// The store to write: Postgres when a database URL is configured, else the local file.
    pub fn target(&self) -> StoreTarget<'_> {
        match &self.database_url {
            Some(url) => StoreTarget::Postgres {
                url,
                lock_url: self.lock_url.as_ref(),
            },
            None => StoreTarget::Sqlite {
                path: &self.local_path,
            },
        }
    }
}

/// The whole configuration of one engine process.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    finale: Result<FinaleConfig, (finale::ConfigError, String)>,
    /// Where the Finale API key (or legacy user name) came from.
    pub finale_key_source: Option<SecretSource>,
    /// Where the Finale API secret (or legacy password) came from.
    pub finale_secret_source: Option<SecretSource>,
    /// Store settings.
    pub store: StoreConfig,
    /// Sync settings.
    pub sync: SyncConfig,
}

/// The environment variable that disables keychain lookups (`off`, `0`, `false`, `no`).
pub const KEYCHAIN_SWITCH_VAR: &str = "STOCKPULSE_KEYCHAIN";

impl EngineConfig {
    /// The sync engine's settings from this configuration's `[sync]` table: batches,
    /// concurrency, horizon, overlap, critical thresholds, the writer lease and the smart
    /// run's time cap; everything else (writer wait, full-load slices) at its default, for the
    /// caller to set.
    pub fn sync_settings(&self) -> crate::sync::SyncSettings {
        let s = &self.sync;
        crate::sync::SyncSettings {
            full_batch: s.full_batch_size,
            smart_batch: s.smart_batch_size,
            smart_concurrency: s.smart_concurrency,
            horizon: s.history_horizon,
            overlap: s.cursor_overlap,
            thresholds: crate::sync::Thresholds {
                stock_level: s.critical.stock_level,
                velocity_multiplier: s.critical.velocity_multiplier,
                price_change_pct: s.critical.price_change_pct,
            },
            writer_lease: s.writer_lease,
            smart_max_duration: s
                .smart_max_duration
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(15 * 60)),
            ..crate::sync::SyncSettings::default()
        }
    }

    /// Loads the configuration: `path` (or the default file, see the module docs), then
    /// `env` over it, then the OS keychain for secrets that are still missing (unless
    /// `STOCKPULSE_KEYCHAIN=off`). `env` is the variable lookup (`|k| std::env::var(k).ok()`
    /// in production; a map in tests).
    pub fn load(
        path: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<EngineConfig, ConfigError> {
        let keychain_off = env(KEYCHAIN_SWITCH_VAR).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        });
        if keychain_off {
            Self::load_with(path, env, &NoKeychain)
        } else {
            Self::load_with(path, env, &OsKeychain)
        }
    }

    /// [`EngineConfig::load`] with an explicit keychain.
    pub fn load_with(
        path: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
        keychain: &dyn Keychain,
    ) -> Result<EngineConfig, ConfigError> {
        // Blank variables count as unset everywhere.
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());

        let file_path = match path {
            Some(p) => Some(p.to_path_buf()),
            None => match env("STOCKPULSE_CONFIG") {
                Some(p) => Some(PathBuf::from(p)),
                None => default_config_path(&env).filter(|p| p.is_file()),
            },
        };
        let file = match &file_path {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };

        let sync = resolve_sync(&file, file_path.as_deref(), &env)?;
        let store = resolve_store(&file, file_path.as_deref(), &env, keychain)?;
        let (finale, finale_key_source, finale_secret_source) =
            resolve_finale(&file, file_path.as_deref(), &env, keychain, &sync)?;

        Ok(EngineConfig {
            file: file_path,
            finale,
            finale_key_source,
            finale_secret_source,
            store,
            sync,
        })
    }

    /// The Finale client configuration, or why there is none (for `sync` and `serve`).
    pub fn finale(&self) -> Result<&FinaleConfig, ConfigError> {
        self.finale
            .as_ref()
            .map_err(|(error, hint)| ConfigError::Finale {
                error: error.clone(),
                hint: hint.clone(),
            })
    }

    /// The `serve` schedule.
    pub fn schedule(&self) -> Schedule {
        self.sync.schedule()
    }

    /// Replaces the database URL (the CLI's `--database-url`), validating it.
    pub fn with_database_url(
        mut self,
        url: Secret,
        source: SecretSource,
    ) -> Result<EngineConfig, ConfigError> {
        check_pg_url(&url, &source_label(source))?;
        self.store.database_url = Some(url);
        self.store.database_url_source = Some(source);
        Ok(self)
    }

    /// A human summary for `stockpulse status`: every setting, where secrets came from, and
    /// no secret.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let file = match &self.file {
            Some(p) => p.display().to_string(),
            None => "none (environment and defaults)".to_owned(),
        };
        out.push_str(&format!("Configuration file: {file}\n"));

        match &self.finale {
            Ok(cfg) => {
                let login = match &cfg.credentials {
                    Credentials::ApiKey { key, .. } => format!(
                        "API key {}{}, secret from {}",
                        mask_key(key),
                        self.finale_key_source
                            .map(|s| format!(" (from {s})"))
                            .unwrap_or_default(),
                        self.finale_secret_source
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "?".to_owned()),
                    ),
                    Credentials::Session { username, .. } => format!(
                        "user {username} (legacy session login), password from {}",
                        self.finale_secret_source
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "?".to_owned()),
                    ),
                };
                out.push_str(&format!(
                    "Finale: account {} at {} (time zone {}, timestamps in {}, packed quantities count {}, entity cap {}); {login}\n",
                    cfg.account, cfg.base_url, cfg.timezone, cfg.timestamps, cfg.packed_quantities, cfg.cap
                ));
            }
            Err((error, hint)) => {
                out.push_str(&format!("Finale: not configured ({error}{hint})\n"));
            }
        }

        match self.store.target() {
            StoreTarget::Postgres { url, lock_url } => {
                let source = self
                    .store
                    .database_url_source
                    .map(|s| format!(", URL from {s}"))
                    .unwrap_or_default();
                out.push_str(&format!("Store: Postgres {}{source}\n", pg_summary(url)));
                if let Some(lock) = lock_url {
                    let source = self
                        .store
                        .lock_url_source
                        .map(|s| format!(", URL from {s}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "Writer lock: Postgres {}{source}\n",
                        pg_summary(lock)
                    ));
                }
            }
            StoreTarget::Sqlite { path } => {
                out.push_str(&format!("Store: local SQLite {}\n", path.display()));
            }
        }

        let s = &self.sync;
        let c = &s.critical;
        out.push_str(&format!(
            "Sync: full batch {}, history {} days; smart daily at {} UTC, batch {} x {} concurrent, \
             at most {} min; critical every {} min (stock <= {}, velocity >= {}x normal, \
             price change > {} %); cursor overlap {} s; failed runs retried after 30 s, backing off to {} min; writer lease {} s\n",
            s.full_batch_size,
            s.history_horizon.num_days(),
            s.smart_daily_at.format("%H:%M"),
            s.smart_batch_size,
            s.smart_concurrency,
            s.smart_max_duration.num_minutes(),
            s.critical_every.num_minutes(),
            c.stock_level,
            c.velocity_multiplier,
            c.price_change_pct,
            s.cursor_overlap.num_seconds(),
            s.retry_after.num_minutes(),
            s.writer_lease.as_secs(),
        ));
        let pulse = s.stock_every.map_or_else(
            || "off".to_owned(),
            |e| format!("every {} min", e.num_minutes()),
        );
        let spend =
            crate::sync::plan::schedule_spend(&s.schedule(), &finale::BudgetConfig::default());
        let gets: u32 = spend.strategies.iter().map(|x| x.gets).sum();
        out.push_str(&format!(
            "Stock pulse: {pulse}. Budget of the schedule's busiest hour: {} of Finale's {} \
             collection reads ({}), {gets} GETs (+1 per changed order when lines are not in the \
             order collection)\n",
            spend.collection_reads,
            spend.collection_budget,
            spend.describe(),
        ));
        out
    }
}

/// The default configuration file: `$XDG_CONFIG_HOME/stockpulse/config.toml`, else
/// `~/.config/stockpulse/config.toml` (`%APPDATA%\stockpulse\config.toml` on Windows).
pub fn default_config_path(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if cfg!(windows) {
        return env("APPDATA").map(|d| Path::new(&d).join("stockpulse").join("config.toml"));
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("stockpulse").join("config.toml"))
}

/// The default local store file: `$XDG_DATA_HOME/stockpulse/stockpulse.db`, else
/// `~/.local/share/stockpulse/stockpulse.db` (`%LOCALAPPDATA%\stockpulse\stockpulse.db` on
/// Windows, `~/Library/Application Support/stockpulse/stockpulse.db` on macOS).
pub fn default_local_path(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = if cfg!(windows) {
        env("LOCALAPPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| Path::new(&h).join("Library").join("Application Support"))
    } else {
        env("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".local").join("share")))
    }?;
    Some(dir.join("stockpulse").join("stockpulse.db"))
}

// ---------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    finale: FileFinale,
    #[serde(default)]
    store: FileStore,
    #[serde(default)]
    sync: FileSync,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFinale {
    account: Option<String>,
    base_url: Option<String>,
    timezone: Option<String>,
    packed_quantities: Option<String>,
    /// Read as `i64` so that a zero or negative value gets the client's message.
    collection_cap: Option<i64>,
    timestamps: Option<String>,
    api_key: Option<String>,
    username: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStore {
    local_path: Option<String>,
}

/// Integers are read as `i64` so that a negative or zero value gets our message, not serde's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSync {
    full_batch_size: Option<i64>,
    smart_batch_size: Option<i64>,
    smart_concurrency: Option<i64>,
    smart_daily_at: Option<String>,
    smart_max_duration_minutes: Option<i64>,
    critical_every_minutes: Option<i64>,
    stock_every_minutes: Option<i64>,
    retry_after_minutes: Option<i64>,
    cursor_overlap_seconds: Option<i64>,
    history_days: Option<i64>,
    writer_lease_seconds: Option<i64>,
    #[serde(default)]
    critical: FileCritical,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCritical {
    stock_level: Option<f64>,
    velocity_multiplier: Option<f64>,
    price_change_pct: Option<f64>,
}

/// Keys that hold secrets, and where each belongs instead.
fn secret_home(key: &str) -> Option<&'static str> {
    Some(match key {
        "database_url" => {
            "set STOCKPULSE_DATABASE_URL (or DATABASE_URL) in the environment, or store it in the \
             OS keychain (service `stockpulse`, entry `database-url`)"
        }
        "lock_url" => {
            "set STOCKPULSE_LOCK_URL in the environment, or store it in the OS keychain \
             (service `stockpulse`, entry `lock-url`)"
        }
        "api_secret" => {
            "set FINALE_API_SECRET in the environment, or store it in the OS keychain \
             (service `stockpulse`, entry `finale-api-secret`)"
        }
        "password" => "set FINALE_PASSWORD in the environment",
        _ => return None,
    })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let position = |span: Option<std::ops::Range<usize>>| match span {
        Some(span) => line_column(&text, span.start),
        None => (0, 0),
    };
    // First pass: syntax, and secrets anywhere (before any message could quote a value).
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = position(e.span());
        ConfigError::File {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })?;
    find_secrets(path, "", &toml::Value::Table(table))?;
    // Second pass: the typed schema (unknown keys, types), with positions. Serde quotes the
    // offending value ("invalid type: string \"...\""); that is cut, and the key named instead.
    toml::from_str::<FileConfig>(&text).map_err(|e| {
        let (line, column) = position(e.span());
        let mut message = without_quoted_values(e.message());
        if let Some(key) = e.span().and_then(|s| key_of_value_at(&text, s.start))
            && !message.contains(&format!("`{key}`"))
        {
            message = format!("`{key}`: {message}");
        }
        ConfigError::File {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })
}

/// Drops double-quoted segments (values quoted by serde) from a message.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('"') {
        let Some(len) = rest[start + 1..].find('"') else {
            break;
        };
        out.push_str(rest[..start].trim_end_matches(' '));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The key of a `key = value` line when `offset` points into the value.
fn key_of_value_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let eq = line.find('=')?;
    if line_start + eq >= offset {
        return None;
    }
    let key = line[..eq].trim().trim_matches('"');
    (!key.is_empty()).then(|| key.to_owned())
}

/// Rejects secret keys at any depth, and any string that is a URL with a password.
fn find_secrets(path: &Path, prefix: &str, value: &toml::Value) -> Result<(), ConfigError> {
    let reject = |key: String, where_instead: &str| ConfigError::SecretInFile {
        path: path.to_path_buf(),
        key,
        where_instead: where_instead.to_owned(),
    };
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let dotted = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if let Some(home) = secret_home(k) {
                    return Err(reject(dotted, home));
                }
                find_secrets(path, &dotted, v)?;
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_secrets(path, &format!("{prefix}[{i}]"), v)?;
            }
        }
        toml::Value::String(s)
            if url::Url::parse(s).is_ok_and(|u| u.password().is_some_and(|p| !p.is_empty())) =>
        {
            return Err(reject(
                prefix.to_owned(),
                "keep URLs with passwords in the environment or the OS keychain \
                 (for the store: STOCKPULSE_DATABASE_URL, keychain entry `database-url`)",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------

/// Names one setting in its two spellings, for messages.
struct Key {
    env: &'static str,
    file: &'static str,
}

fn from_file_label(key: &str, file: Option<&Path>) -> String {
    match file {
        Some(p) => format!("`{key}` in {}", p.display()),
        None => format!("`{key}`"),
    }
}

/// The raw value of a setting: the environment's text, or the file's value.
enum Raw<'a, T> {
    Env(String),
    File(&'a T),
    Unset,
}

fn raw<'a, T>(
    key: &Key,
    file_value: &'a Option<T>,
    env: &impl Fn(&str) -> Option<String>,
) -> Raw<'a, T> {
    match env(key.env) {
        Some(v) => Raw::Env(v.trim().to_owned()),
        None => match file_value {
            Some(v) => Raw::File(v),
            None => Raw::Unset,
        },
    }
}

/// A positive integer setting (batch sizes, minutes, days).
fn positive(
    key: &Key,
    file_value: &Option<i64>,
    file: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
    default: i64,
) -> Result<i64, ConfigError> {
    let (value, setting) = match raw(key, file_value, env) {
        Raw::Env(text) => {
            let v = text.parse::<i64>().map_err(|_| ConfigError::Invalid {
                setting: key.env.to_owned(),
                reason: format!("`{text}` is not a whole number"),
            })?;
            (v, key.env.to_owned())
        }
        Raw::File(v) => (*v, from_file_label(key.file, file)),
        Raw::Unset => return Ok(default),
    };
    if value <= 0 {
        return Err(ConfigError::Invalid {
            setting,
            reason: format!("must be a positive whole number, not {value}"),
        });
    }
    Ok(value)
}

/// A non-negative integer setting (the cursor overlap may be zero).
fn non_negative(
    key: &Key,
    file_value: &Option<i64>,
    file: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
    default: i64,
) -> Result<i64, ConfigError> {
    let (value, setting) = match raw(key, file_value, env) {
        Raw::Env(text) => {
            let v = text.parse::<i64>().map_err(|_| ConfigError::Invalid {
                setting: key.env.to_owned(),
                reason: format!("`{text}` is not a whole number"),
            })?;
            (v, key.env.to_owned())
        }
        Raw::File(v) => (*v, from_file_label(key.file, file)),
        Raw::Unset => return Ok(default),
    };
    if value < 0 {
        return Err(ConfigError::Invalid {
            setting,
            reason: format!("must not be negative (got {value})"),
        });
    }
    Ok(value)
}

/// A finite number setting with a lower bound (`strict`: value must exceed `min`).
fn number(
    key: &Key,
    file_value: &Option<f64>,
    file: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
    default: f64,
    min: f64,
    strict: bool,
) -> Result<f64, ConfigError> {
    let (value, setting) = match raw(key, file_value, env) {
        Raw::Env(text) => {
            let v = text.parse::<f64>().map_err(|_| ConfigError::Invalid {
                setting: key.env.to_owned(),
                reason: format!("`{text}` is not a number"),
            })?;
            (v, key.env.to_owned())
        }
        Raw::File(v) => (*v, from_file_label(key.file, file)),
        Raw::Unset => return Ok(default),
    };
    let ok = value.is_finite() && if strict { value > min } else { value >= min };
    if !ok {
        return Err(ConfigError::Invalid {
            setting,
            reason: if strict {
                format!("must be a number greater than {min}, not {value}")
            } else {
                format!("must be a number of at least {min}, not {value}")
            },
        });
    }
    Ok(value)
}

/// Parses a daily UTC time: `HH:MM` or `HH:MM:SS`, optionally followed by ` UTC` or `Z`.
pub fn parse_daily_time(text: &str) -> Result<NaiveTime, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("UTC")
        .or_else(|| t.strip_suffix('Z'))
        .unwrap_or(t)
        .trim_end();
    let parsed = NaiveTime::parse_from_str(t, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .map_err(|_| {
            format!(
                "`{text}` is not a time of day; write 24-hour UTC `HH:MM` (e.g. `02:00`), \
                 hours 00-23 and minutes 00-59"
            )
        })?;
    if parsed.nanosecond() >= 1_000_000_000 {
        return Err(format!("`{text}` is a leap second; pick another time"));
    }
    Ok(parsed)
}

fn resolve_sync(
    file: &FileConfig,
    path: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SyncConfig, ConfigError> {
    let f = &file.sync;
    let d = SyncConfig::default();
    let count = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);

    let full_batch_size = count(positive(
        &Key {
            env: "STOCKPULSE_FULL_BATCH_SIZE",
            file: "sync.full_batch_size",
        },
        &f.full_batch_size,
        path,
        env,
        d.full_batch_size as i64,
    )?);
    let smart_batch_size = count(positive(
        &Key {
            env: "STOCKPULSE_SMART_BATCH_SIZE",
            file: "sync.smart_batch_size",
        },
        &f.smart_batch_size,
        path,
        env,
        d.smart_batch_size as i64,
    )?);
    let smart_concurrency = count(positive(
        &Key {
            env: "STOCKPULSE_SMART_CONCURRENCY",
            file: "sync.smart_concurrency",
        },
        &f.smart_concurrency,
        path,
        env,
        d.smart_concurrency as i64,
    )?);

    let at_key = Key {
        env: "STOCKPULSE_SMART_DAILY_AT",
        file: "sync.smart_daily_at",
    };
    let smart_daily_at = match raw(&at_key, &f.smart_daily_at, env) {
        Raw::Env(text) => parse_daily_time(&text).map_err(|reason| ConfigError::Invalid {
            setting: at_key.env.to_owned(),
            reason,
        })?,
        Raw::File(text) => parse_daily_time(text).map_err(|reason| ConfigError::Invalid {
            setting: from_file_label(at_key.file, path),
            reason,
        })?,
        Raw::Unset => d.smart_daily_at,
    };

    // Upper bounds keep TimeDelta arithmetic far from overflow (a century is plenty).
    let minutes = |key: Key, value: &Option<i64>, default: TimeDelta| {
        positive(&key, value, path, env, default.num_minutes()).and_then(|m| {
            if m > 60 * 24 * 36_500 {
                return Err(ConfigError::Invalid {
                    setting: key.env.to_owned(),
                    reason: format!("{m} minutes is more than a century"),
                });
            }
            Ok(TimeDelta::minutes(m))
        })
    };
    let smart_max_duration = minutes(
        Key {
            env: "STOCKPULSE_SMART_MAX_DURATION_MINUTES",
            file: "sync.smart_max_duration_minutes",
        },
        &f.smart_max_duration_minutes,
        d.smart_max_duration,
    )?;
    let critical_every = minutes(
        Key {
            env: "STOCKPULSE_CRITICAL_EVERY_MINUTES",
            file: "sync.critical_every_minutes",
        },
        &f.critical_every_minutes,
        d.critical_every,
    )?;
    let stock_key = Key {
        env: "STOCKPULSE_STOCK_EVERY_MINUTES",
        file: "sync.stock_every_minutes",
    };
    let stock_minutes = non_negative(
        &stock_key,
        &f.stock_every_minutes,
        path,
        env,
        d.stock_every.map_or(0, |e| e.num_minutes()),
    )?;
    if stock_minutes > 60 * 24 {
        return Err(ConfigError::Invalid {
            setting: stock_key.env.to_owned(),
            reason: format!(
                "{stock_minutes} minutes is more than a day; the pulse keeps stock fresh between \
                 critical runs (default 5; 0 switches it off)"
            ),
        });
    }
    let stock_every = (stock_minutes > 0).then(|| TimeDelta::minutes(stock_minutes));
    let retry_after = minutes(
        Key {
            env: "STOCKPULSE_RETRY_AFTER_MINUTES",
            file: "sync.retry_after_minutes",
        },
        &f.retry_after_minutes,
        d.retry_after,
    )?;
    let overlap_key = Key {
        env: "STOCKPULSE_CURSOR_OVERLAP_SECONDS",
        file: "sync.cursor_overlap_seconds",
    };
    let overlap = non_negative(
        &overlap_key,
        &f.cursor_overlap_seconds,
        path,
        env,
        d.cursor_overlap.num_seconds(),
    )?;
    if overlap > 7 * 24 * 3600 {
        return Err(ConfigError::Invalid {
            setting: overlap_key.env.to_owned(),
            reason: format!(
                "{overlap} s is more than a week; the overlap covers late commits and clock skew (default 300)"
            ),
        });
    }
    let days_key = Key {
        env: "STOCKPULSE_HISTORY_DAYS",
        file: "sync.history_days",
    };
    let days = positive(
        &days_key,
        &f.history_days,
        path,
        env,
        d.history_horizon.num_days(),
    )?;
    if days > 36_500 {
        return Err(ConfigError::Invalid {
            setting: days_key.env.to_owned(),
            reason: format!("{days} days is more than a century"),
        });
    }

    let lease_key = Key {
        env: "STOCKPULSE_WRITER_LEASE_SECONDS",
        file: "sync.writer_lease_seconds",
    };
    let lease_secs = positive(
        &lease_key,
        &f.writer_lease_seconds,
        path,
        env,
        d.writer_lease.as_secs() as i64,
    )?;
    let max_lease = store::lease::MAX_TTL.as_secs();
    if lease_secs as u64 > max_lease {
        return Err(ConfigError::Invalid {
            setting: lease_key.env.to_owned(),
            reason: format!(
                "{lease_secs} s is more than {max_lease} s; a frozen writer keeps the role this long \
                 before another engine takes it over (default 120)"
            ),
        });
    }

    let fc = &f.critical;
    let dc = d.critical;
    let critical = CriticalThresholds {
        stock_level: number(
            &Key {
                env: "STOCKPULSE_CRITICAL_STOCK_LEVEL",
                file: "sync.critical.stock_level",
            },
            &fc.stock_level,
            path,
            env,
            dc.stock_level,
            0.0,
            false,
        )?,
        velocity_multiplier: number(
            &Key {
                env: "STOCKPULSE_CRITICAL_VELOCITY_MULTIPLIER",
                file: "sync.critical.velocity_multiplier",
            },
            &fc.velocity_multiplier,
            path,
            env,
            dc.velocity_multiplier,
            0.0,
            true,
        )?,
        price_change_pct: number(
            &Key {
                env: "STOCKPULSE_CRITICAL_PRICE_CHANGE_PCT",
                file: "sync.critical.price_change_pct",
            },
            &fc.price_change_pct,
            path,
            env,
            dc.price_change_pct,
            0.0,
            false,
        )?,
    };

    let sync = SyncConfig {
        full_batch_size,
        smart_batch_size,
        smart_concurrency,
        smart_daily_at,
        smart_max_duration,
        critical_every,
        stock_every,
        retry_after,
        cursor_overlap: TimeDelta::seconds(overlap),
        history_horizon: TimeDelta::days(days),
        writer_lease: std::time::Duration::from_secs(lease_secs as u64),
        critical,
    };
    // The schedule must fit Finale's hourly collection budget.
    let schedule = sync.schedule();
    crate::sync::plan::schedule_spend(&schedule, &finale::BudgetConfig::default())
        .check(&schedule)
        .map_err(|e| ConfigError::Invalid {
            setting: e.setting.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(sync)
}

fn source_label(source: SecretSource) -> String {
    match source {
        SecretSource::Env(var) => var.to_owned(),
        SecretSource::File => "the configuration file".to_owned(),
        SecretSource::Flag(flag) => flag.to_owned(),
        SecretSource::Keychain(entry) => format!("keychain entry {KEYCHAIN_SERVICE}/{entry}"),
    }
}

fn check_pg_url(url: &Secret, setting: &str) -> Result<(), ConfigError> {
    match plan_connection(url.expose()) {
        Ok(_) => Ok(()),
        Err(store::StoreError::InvalidUrl { reason }) => Err(ConfigError::DatabaseUrl {
            setting: setting.to_owned(),
            reason,
        }),
        // plan_connection only fails with InvalidUrl; anything else is described without text
        // that could come from the URL.
        Err(_) => Err(ConfigError::DatabaseUrl {
            setting: setting.to_owned(),
            reason: "cannot be parsed".to_owned(),
        }),
    }
}

/// `user@host:port/db (sslmode ...)` of a valid URL, never the password.
fn pg_summary(url: &Secret) -> String {
    match plan_connection(url.expose()) {
        Ok(plan) => format!("{} (sslmode {})", plan.target(), plan.ssl_mode().as_str()),
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// A secret from the first environment variable that has it, else the keychain.
fn secret_from(
    vars: &[&'static str],
    entry: &'static str,
    env: &impl Fn(&str) -> Option<String>,
    keychain: &dyn Keychain,
) -> Option<(Secret, SecretSource)> {
    for var in vars {
        if let Some(v) = env(var) {
            return Some((Secret::from(v.trim()), SecretSource::Env(var)));
        }
    }
    keychain
        .get(entry)
        .filter(|s| !s.expose().trim().is_empty())
        .map(|s| {
            (
                Secret::from(s.expose().trim()),
                SecretSource::Keychain(entry),
            )
        })
}

fn resolve_store(
    file: &FileConfig,
    path: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
    keychain: &dyn Keychain,
) -> Result<StoreConfig, ConfigError> {
    let db = secret_from(
        &["STOCKPULSE_DATABASE_URL", "DATABASE_URL"],
        ENTRY_DATABASE_URL,
        env,
        keychain,
    );
    if let Some((url, source)) = &db {
        check_pg_url(url, &source_label(*source))?;
    }
    let lock = secret_from(&["STOCKPULSE_LOCK_URL"], ENTRY_LOCK_URL, env, keychain);
    if let Some((url, source)) = &lock {
        if db.is_none() {
            return Err(ConfigError::Invalid {
                setting: source_label(*source),
                reason: "a writer-lock URL is set but no database URL: the lock URL only \
                         serves the Postgres store (set STOCKPULSE_DATABASE_URL too, or \
                         remove the lock URL)"
                    .to_owned(),
            });
        }
        check_pg_url(url, &source_label(*source))?;
    }

    let home = env("HOME");
    let expand = |p: &str| -> PathBuf {
        match (p.strip_prefix("~/"), &home) {
            (Some(rest), Some(h)) => Path::new(h).join(rest),
            _ => PathBuf::from(p),
        }
    };
    let local_path = match env("STOCKPULSE_LOCAL_PATH") {
        Some(p) => expand(p.trim()),
        None => match &file.store.local_path {
            Some(p) if p.trim().is_empty() => {
                return Err(ConfigError::Invalid {
                    setting: from_file_label("store.local_path", path),
                    reason: "is empty; give a file path or remove the key for the default"
                        .to_owned(),
                });
            }
            Some(p) => {
                let p = expand(p.trim());
                match path.and_then(Path::parent) {
                    Some(dir) if p.is_relative() => dir.join(p),
                    _ => p,
                }
            }
            None => default_local_path(env).ok_or(ConfigError::NoDataDir)?,
        },
    };

    let (database_url, database_url_source) = db.map_or((None, None), |(u, s)| (Some(u), Some(s)));
    let (lock_url, lock_url_source) = lock.map_or((None, None), |(u, s)| (Some(u), Some(s)));
    Ok(StoreConfig {
        database_url,
        database_url_source,
        lock_url,
        lock_url_source,
        local_path,
    })
}

type FinaleResolution = (
    Result<FinaleConfig, (finale::ConfigError, String)>,
    Option<SecretSource>,
    Option<SecretSource>,
);

fn resolve_finale(
    file: &FileConfig,
    path: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
    keychain: &dyn Keychain,
    sync: &SyncConfig,
) -> Result<FinaleResolution, ConfigError> {
    let f = &file.finale;
    let mut vars: HashMap<&'static str, String> = HashMap::new();
    let mut from_file: Vec<(&'static str, &'static str)> = Vec::new();
    let mut key_source = None;
    let mut secret_source = None;

    // Plain settings: environment, then file.
    let plain: [(&'static str, &'static str, &Option<String>); 7] = [
        ("FINALE_ACCOUNT", "finale.account", &f.account),
        ("FINALE_BASE_URL", "finale.base_url", &f.base_url),
        ("FINALE_TIMEZONE", "finale.timezone", &f.timezone),
        (
            "FINALE_PACKED_QUANTITIES",
            "finale.packed_quantities",
            &f.packed_quantities,
        ),
        ("FINALE_TIMESTAMPS", "finale.timestamps", &f.timestamps),
        ("FINALE_API_KEY", "finale.api_key", &f.api_key),
        ("FINALE_USERNAME", "finale.username", &f.username),
    ];
    for (var, file_key, file_value) in plain {
        if let Some(v) = env(var) {
            vars.insert(var, v);
        } else if let Some(v) = file_value.as_ref().filter(|v| !v.trim().is_empty()) {
            vars.insert(var, v.clone());
            from_file.push((var, file_key));
        }
    }
    // The entity cap: an integer in the file, validated by the client like the variable.
    if let Some(v) = env("FINALE_COLLECTION_CAP") {
        vars.insert("FINALE_COLLECTION_CAP", v);
    } else if let Some(n) = f.collection_cap {
        vars.insert("FINALE_COLLECTION_CAP", n.to_string());
        from_file.push(("FINALE_COLLECTION_CAP", "finale.collection_cap"));
    }
    // Secrets: environment only (the file was checked for them already).
    for var in ["FINALE_API_SECRET", "FINALE_PASSWORD"] {
        // Passwords and secrets are not trimmed (the Finale client does not trim them).
        if let Some(v) = env(var) {
            vars.insert(var, v);
        }
    }

    let legacy = vars.contains_key("FINALE_USERNAME") || vars.contains_key("FINALE_PASSWORD");
    if legacy {
        if vars.contains_key("FINALE_USERNAME") {
            key_source = Some(if from_file.iter().any(|(v, _)| *v == "FINALE_USERNAME") {
                SecretSource::File
            } else {
                SecretSource::Env("FINALE_USERNAME")
            });
        }
        if vars.contains_key("FINALE_PASSWORD") {
            secret_source = Some(SecretSource::Env("FINALE_PASSWORD"));
        }
    } else {
        // API key: environment, file, keychain. Secret: environment, keychain.
        if vars.contains_key("FINALE_API_KEY") {
            key_source = Some(if from_file.iter().any(|(v, _)| *v == "FINALE_API_KEY") {
                SecretSource::File
            } else {
                SecretSource::Env("FINALE_API_KEY")
            });
        } else if let Some(k) = keychain.get(ENTRY_FINALE_API_KEY) {
            vars.insert("FINALE_API_KEY", k.expose().to_owned());
            key_source = Some(SecretSource::Keychain(ENTRY_FINALE_API_KEY));
        }
        if vars.contains_key("FINALE_API_SECRET") {
            secret_source = Some(SecretSource::Env("FINALE_API_SECRET"));
        } else if let Some(s) = keychain.get(ENTRY_FINALE_API_SECRET) {
            vars.insert("FINALE_API_SECRET", s.expose().to_owned());
            secret_source = Some(SecretSource::Keychain(ENTRY_FINALE_API_SECRET));
        }
    }

    let result = FinaleConfig::from_lookup(|name| vars.get(name).cloned());
    let hint_for = |var: &str| -> String {
        if let Some((_, key)) = from_file.iter().find(|(v, _)| *v == var) {
            return format!(" (the value comes from {})", from_file_label(key, path));
        }
        match var {
            "FINALE_ACCOUNT" => " — or set `finale.account` in the configuration file".to_owned(),
            "FINALE_API_KEY" => format!(
                " — the key may also be `finale.api_key` in the configuration file or the \
                 keychain entry {KEYCHAIN_SERVICE}/{ENTRY_FINALE_API_KEY}"
            ),
            "FINALE_API_SECRET" => format!(
                " — or store it in the OS keychain (service `{KEYCHAIN_SERVICE}`, entry \
                 `{ENTRY_FINALE_API_SECRET}`)"
            ),
            _ => String::new(),
        }
    };
    let finale = match result {
        Ok(mut cfg) => {
            cfg.overlap = sync.cursor_overlap;
            Ok(cfg)
        }
        // Absent settings are fine until a command needs Finale.
        Err(error @ finale::ConfigError::Missing { var, .. }) => {
            let hint = hint_for(var);
            Err((error, hint))
        }
        Err(error @ finale::ConfigError::Invalid { var, .. }) => {
            let hint = hint_for(var);
            return Err(ConfigError::Finale { error, hint });
        }
        Err(error) => {
            return Err(ConfigError::Finale {
                error,
                hint: String::new(),
            });
        }
    };
    Ok((finale, key_source, secret_source))
}

/// An API key shown as its first four characters (it is not secret alone, but still private).
fn mask_key(key: &str) -> String {
    let shown: String = key.chars().take(4).collect();
    if shown.chars().count() < key.chars().count() {
        format!("{shown}…")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests;
