//! Connecting to the store: database URL → TLS decision → `tokio_postgres::Client`.
//!
//! A database URL is `postgres://user:password@host:port/db?options`. tokio-postgres only
//! knows `sslmode` = `disable | prefer | require`, while Supabase and libpq users write
//! `verify-ca`/`verify-full` and `sslrootcert` too, so this module reads those two options
//! itself, hands the rest of the URL to tokio-postgres, and builds the TLS connector
//! (native-tls) the way libpq would:
//!
//! | `sslmode`      | TLS                   | certificate checked                         |
//! |----------------|-----------------------|---------------------------------------------|
//! | absent, local host (`localhost`, loopback, Unix socket) | none  | –           |
//! | absent, remote host | required (*)     | no (like `require`)                          |
//! | `disable`      | none                  | –                                           |
//! | `allow`/`prefer` | if the server offers it | no                                    |
//! | `require`      | required              | no; with `sslrootcert`: chain (libpq does the same) |
//! | `verify-ca`    | required              | chain against system roots + `sslrootcert`  |
//! | `verify-full`  | required              | chain and host name                         |
//!
//! (*) Deliberate deviation from libpq, whose default `prefer` silently falls back to
//! plaintext: over a network we never send credentials in the clear unless told to.
//! Supabase's certificates chain to Supabase's own CA, which is why plain `require` does
//! not check the chain (exactly libpq's meaning); use `verify-full` with
//! `sslrootcert=<supabase CA file>` for full verification.
//!
//! [`plan_connection`] is the pure part (parse, decide) and is unit-tested without a server;
//! [`ConnectPlan::connect`] does the I/O and classifies failures into [`StoreError`].
//!
//! **TCP keepalive.** Every connection probes an idle peer after [`KEEPALIVE_IDLE`], every
//! [`KEEPALIVE_INTERVAL`], and gives up after [`KEEPALIVE_RETRIES`] unanswered probes (the
//! URL may ask for shorter); the OS default would wait two hours. The writer lock's session
//! also asks the *server* to do the same ([`SERVER_KEEPALIVE_SQL`]), so the session of a
//! holder that vanished from the network (and its advisory lock) ends within about a minute
//! instead of when the server's OS gives up.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Notification};

use crate::StoreError;

/// How long to wait for a TCP connection when the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `application_name` set when the URL has none: it shows in `pg_stat_activity`, which is
/// how "who holds the writer lock" can be answered.
const DEFAULT_APPLICATION_NAME: &str = "stockpulse";

/// Idle time before the first TCP keepalive probe.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// Time between TCP keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Unanswered probes after which the connection is dead (30 s + 3 × 10 s: a minute).
pub const KEEPALIVE_RETRIES: u32 = 3;

/// The same keepalive asked of the server, for a session whose death must be noticed there
/// (the writer lock's). Plain settings (any user may set them); ignored on a Unix socket.
pub const SERVER_KEEPALIVE_SQL: &str =
    "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3";

/// The effective TLS mode of a connection (libpq's `sslmode` vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (or a Unix socket).
    Disable,
    /// TLS when the server offers it, plaintext otherwise; certificate not checked.
    Prefer,
    /// TLS or fail; certificate not checked.
    Require,
    /// TLS or fail; certificate chain checked, host name not.
    VerifyCa,
    /// TLS or fail; certificate chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether a connection without TLS is refused.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// A parsed database URL and the decisions taken from it; [`ConnectPlan::connect`] executes it.
///
/// `Debug` is safe to log: tokio-postgres redacts the password in `Config`'s `Debug`.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// Everything but the TLS options, as tokio-postgres understands it.
    config: Config,
    /// The TLS decision.
    ssl_mode: SslMode,
    /// Extra trusted root certificate (`sslrootcert`, PEM).
    root_cert: Option<PathBuf>,
    /// `user@host:port/db`, for messages; never the password.
    target: String,
}

impl ConnectPlan {
    /// The effective TLS mode.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// `user@host:port/db`, safe for messages and logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The tokio-postgres configuration (TLS options removed; see [`ConnectPlan::ssl_mode`]).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Connects, spawns the connection task on the current Tokio runtime, and returns the
    /// client. The task ends when the client is dropped; an error that ends it early is
    /// logged (the client then fails with "connection closed").
    pub async fn connect(&self) -> Result<Client, StoreError> {
        if self.ssl_mode == SslMode::Disable {
            let (client, connection) = self
                .config
                .connect(NoTls)
                .await
                .map_err(|e| self.classify(e))?;
            spawn_connection(connection, self.target.clone());
            return Ok(client);
        }
        let tls = self.tls_connector()?;
        let (client, connection) = self
            .config
            .connect(tls)
            .await
            .map_err(|e| self.classify(e))?;
        spawn_connection(connection, self.target.clone());
        Ok(client)
    }

    /// Connects a **listener**: a client whose connection task is driven with
    /// `poll_message`, forwarding every `NOTIFY` it receives to the returned channel. The
    /// channel closes when the connection ends (server restart, network loss), which is how
    /// a listener learns it must reconnect and catch up. Use a direct or session-mode URL:
    /// a transaction-mode pooler does not deliver notifications.
    pub async fn connect_listener(
        &self,
    ) -> Result<(Client, tokio::sync::mpsc::UnboundedReceiver<Notification>), StoreError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if self.ssl_mode == SslMode::Disable {
            let (client, connection) = self
                .config
                .connect(NoTls)
                .await
                .map_err(|e| self.classify(e))?;
            spawn_listener(connection, tx, self.target.clone());
            return Ok((client, rx));
        }
        let tls = self.tls_connector()?;
        let (client, connection) = self
            .config
            .connect(tls)
            .await
            .map_err(|e| self.classify(e))?;
        spawn_listener(connection, tx, self.target.clone());
        Ok((client, rx))
    }

    fn tls_connector(&self) -> Result<postgres_native_tls::MakeTlsConnector, StoreError> {
        let mut builder = native_tls::TlsConnector::builder();
        match self.ssl_mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                builder.danger_accept_invalid_certs(true);
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::VerifyFull => {}
        }
        if let Some(path) = &self.root_cert {
            // A small local file read once per connection: not worth an async file API.
            let pem = std::fs::read(path).map_err(|e| StoreError::TlsSetup {
                target: self.target.clone(),
                what: format!("cannot read sslrootcert {}", path.display()),
                source: Box::new(e),
            })?;
            let cert =
                native_tls::Certificate::from_pem(&pem).map_err(|e| StoreError::TlsSetup {
                    target: self.target.clone(),
                    what: format!("sslrootcert {} is not a PEM certificate", path.display()),
                    source: Box::new(e),
                })?;
            builder.add_root_certificate(cert);
        }
        let connector = builder.build().map_err(|e| StoreError::TlsSetup {
            target: self.target.clone(),
            what: "cannot build the TLS connector".to_owned(),
            source: Box::new(e),
        })?;
        Ok(postgres_native_tls::MakeTlsConnector::new(connector))
    }

    /// Sorts a connection failure into the variant the user can act on.
    fn classify(&self, source: tokio_postgres::Error) -> StoreError {
        let target = self.target.clone();
        if let Some(code) = source.code() {
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                return StoreError::Auth { target, source };
            }
            if *code == SqlState::INVALID_CATALOG_NAME {
                return StoreError::NoSuchDatabase { target, source };
            }
        }
        // tokio-postgres does not expose its error kind; its Display for a TLS failure
        // (including "server does not support TLS") starts with this fixed text.
        if self.ssl_mode != SslMode::Disable
            && source
                .to_string()
                .starts_with("error performing TLS handshake")
        {
            return StoreError::Tls {
                target,
                sslmode: self.ssl_mode.as_str(),
                source,
            };
        }
        StoreError::Connect { target, source }
    }
}

fn spawn_connection<S, T>(connection: tokio_postgres::Connection<S, T>, target: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%target, %error, "postgres connection ended with an error");
        }
    });
}

fn spawn_listener<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    tx: tokio::sync::mpsc::UnboundedSender<Notification>,
    target: String,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n).is_err() {
                        // Nobody listens any more; dropping the connection closes it.
                        return;
                    }
                }
                Some(Ok(AsyncMessage::Notice(notice))) => {
                    tracing::debug!(%target, notice = %notice.message(), "postgres notice");
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::warn!(%target, %error, "listener connection ended with an error");
                    return;
                }
                None => return,
            }
        }
    });
}

/// Connects to the store at `url` (see the module docs for TLS) and returns the client.
///
/// The connection task is spawned on the current Tokio runtime, so call this inside one.
pub async fn connect(url: &str) -> Result<Client, StoreError> {
    plan_connection(url)?.connect().await
}

/// Parses a database URL and decides TLS, without any I/O.
pub fn plan_connection(url: &str) -> Result<ConnectPlan, StoreError> {
    let mut parsed = url::Url::parse(url).map_err(|e| StoreError::InvalidUrl {
        reason: format!("not a postgres:// URL ({e})"),
    })?;
    let secrets = Secrets::of(&parsed);
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(StoreError::InvalidUrl {
            reason: secrets.redact(&format!(
                "the scheme must be postgres:// or postgresql://, not {}://",
                parsed.scheme()
            )),
        });
    }

    // Take out the TLS options we implement ourselves; keep every other pair as it was.
    let mut sslmode: Option<String> = None;
    let mut root_cert: Option<PathBuf> = None;
    let mut rest: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => sslmode = Some(value.into_owned()),
            "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
            _ => rest.push((key.into_owned(), value.into_owned())),
        }
    }
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }

    let mut config = Config::from_str(parsed.as_str()).map_err(|e| StoreError::InvalidUrl {
        reason: secrets.redact(&e.to_string()),
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err(StoreError::InvalidUrl {
            reason: "the URL names no host".to_owned(),
        });
    }
    if config.get_user().is_none_or(str::is_empty) {
        return Err(StoreError::InvalidUrl {
            reason: "the URL names no user".to_owned(),
        });
    }
    if config.get_application_name().is_none() {
        config.application_name(DEFAULT_APPLICATION_NAME);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    config.keepalives(true);
    config.keepalives_idle(config.get_keepalives_idle().min(KEEPALIVE_IDLE));
    config.keepalives_interval(
        config
            .get_keepalives_interval()
            .map_or(KEEPALIVE_INTERVAL, |d| d.min(KEEPALIVE_INTERVAL)),
    );
    config.keepalives_retries(
        config
            .get_keepalives_retries()
            .map_or(KEEPALIVE_RETRIES, |n| n.min(KEEPALIVE_RETRIES)),
    );

    let ssl_mode = match sslmode.as_deref() {
        None if is_local(&config) => SslMode::Disable,
        None => SslMode::Require,
        Some("disable") => SslMode::Disable,
        Some("allow" | "prefer") => SslMode::Prefer,
        // libpq: `require` with a root certificate file verifies the chain.
        Some("require") if root_cert.is_some() => SslMode::VerifyCa,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some(other) => {
            return Err(StoreError::InvalidUrl {
                reason: secrets.redact(&format!(
                    "unsupported sslmode `{other}` (use disable, prefer, require, verify-ca or verify-full)"
                )),
            });
        }
    };
    config.ssl_mode(match ssl_mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });

    let target = describe(&config);
    Ok(ConnectPlan {
        config,
        ssl_mode,
        root_cert,
        target,
    })
}

/// Whether every host of the configuration is this machine.
fn is_local(config: &Config) -> bool {
    let hosts_local = config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            let name = name.trim_start_matches('[').trim_end_matches(']');
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    hosts_local && config.get_hostaddrs().iter().all(|ip| ip.is_loopback())
}

/// `user@host:port/db` for messages. Never includes the password.
fn describe(config: &Config) -> String {
    let user = config.get_user().unwrap_or("?");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let hosts = if hosts.is_empty() {
        config
            .get_hostaddrs()
            .iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(",")
    } else {
        hosts.join(",")
    };
    let port = match config.get_ports() {
        [] => "5432".to_owned(),
        ports => ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(","),
    };
    let db = config.get_dbname().unwrap_or(user);
    format!("{user}@{hosts}:{port}/{db}")
}

/// The password of a URL in the spellings that could leak into a message.
struct Secrets {
    forms: Vec<String>,
}

impl Secrets {
    fn of(url: &url::Url) -> Secrets {
        let mut forms = Vec::new();
        if let Some(encoded) = url.password().filter(|p| !p.is_empty()) {
            let decoded = percent_decode(encoded);
            forms.push(encoded.to_owned());
            if decoded != encoded {
                forms.push(decoded);
            }
        }
        // Longest first, so a password containing another form is replaced whole.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        Secrets { forms }
    }

    fn redact(&self, message: &str) -> String {
        self.forms
            .iter()
            .fold(message.to_owned(), |acc, secret| acc.replace(secret, "***"))
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(***)")
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as written); lossy on invalid UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn plan(url: &str) -> ConnectPlan {
        plan_connection(url).expect("plan")
    }

    fn full_text(err: &StoreError) -> String {
        let mut text = format!("{err} | {err:?}");
        let mut source = err.source();
        while let Some(s) = source {
            text.push_str(&format!(" | {s} | {s:?}"));
            source = s.source();
        }
        text
    }

    #[test]
    fn local_hosts_without_sslmode_are_plain() {
        for url in [
            "postgres://u:pw@localhost/db",
            "postgres://u:pw@127.0.0.1:5433/db",
            "postgresql://u@[::1]/db",
            "postgres://u@LOCALHOST/db",
        ] {
            assert_eq!(plan(url).ssl_mode(), SslMode::Disable, "{url}");
        }
    }

    #[test]
    fn remote_hosts_without_sslmode_require_tls() {
        let p = plan("postgres://u:pw@db.example.supabase.co:5432/postgres");
        assert_eq!(p.ssl_mode(), SslMode::Require);
        assert_eq!(p.config().get_ssl_mode(), PgSslMode::Require);
    }

    #[test]
    fn sslmode_values_map_like_libpq() {
        let cases = [
            ("disable", SslMode::Disable, PgSslMode::Disable),
            ("allow", SslMode::Prefer, PgSslMode::Prefer),
            ("prefer", SslMode::Prefer, PgSslMode::Prefer),
            ("require", SslMode::Require, PgSslMode::Require),
            ("verify-ca", SslMode::VerifyCa, PgSslMode::Require),
            ("verify-full", SslMode::VerifyFull, PgSslMode::Require),
        ];
        for (value, ours, theirs) in cases {
            let p = plan(&format!("postgres://u:pw@localhost/db?sslmode={value}"));
            assert_eq!(p.ssl_mode(), ours, "{value}");
            assert_eq!(p.config().get_ssl_mode(), theirs, "{value}");
        }
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain() {
        let p = plan("postgres://u@h.example/db?sslmode=require&sslrootcert=/tmp/ca.pem");
        assert_eq!(p.ssl_mode(), SslMode::VerifyCa);
    }

    #[test]
    fn other_options_survive_and_defaults_are_added() {
        let p = plan(
            "postgres://u:pw@localhost:6543/app?sslmode=disable&application_name=mine&connect_timeout=3",
        );
        assert_eq!(p.config().get_application_name(), Some("mine"));
        assert_eq!(
            p.config().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(p.config().get_ports(), &[6543]);
        assert_eq!(p.config().get_dbname(), Some("app"));
        assert_eq!(p.target(), "u@localhost:6543/app");

        let p = plan("postgres://u@localhost/app");
        assert_eq!(p.config().get_application_name(), Some("stockpulse"));
        assert_eq!(
            p.config().get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn percent_encoded_password_is_decoded_for_the_driver() {
        let p = plan("postgres://u:p%40ss%2Fw@localhost/db");
        assert_eq!(p.config().get_password(), Some(&b"p@ss/w"[..]));
    }

    #[test]
    fn garbage_urls_are_rejected_without_the_password() {
        let cases = [
            "not a url",
            "",
            "mysql://u:hunter2secret@localhost/db",
            "postgres://u:hunter2secret@localhost/db?sslmode=sometimes",
            "postgres://u:hunter2secret@localhost/db?no_such_option=1",
            "postgres://u:hunter2secret@localhost:99999/db",
            "postgres://u:hunter2secret@/db",
            "postgres://:hunter2secret@localhost/db",
            "postgres://u:hunter2secret@localhost/db?sslmode=hunter2secret",
            "postgres://u:hunter2%73ecret@localhost/db?sslmode=hunter2secret",
        ];
        for url in cases {
            let err = plan_connection(url).expect_err(url);
            assert!(
                matches!(err, StoreError::InvalidUrl { .. }),
                "{url}: {err:?}"
            );
            let text = full_text(&err);
            assert!(!text.contains("hunter2"), "{url} leaked: {text}");
        }
    }

    #[test]
    fn plan_debug_does_not_show_the_password() {
        let p = plan("postgres://u:hunter2secret@localhost/db");
        let debug = format!("{p:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("localhost"));
    }

    #[test]
    fn percent_decoding_handles_edges() {
        assert_eq!(percent_decode("a%41b"), "aAb");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("x%41"), "xA");
    }

    #[test]
    fn secrets_redact_both_spellings() {
        let url = url::Url::parse("postgres://u:a%2Fb@h/db").expect("url");
        let s = Secrets::of(&url);
        assert_eq!(s.redact("a/b and a%2Fb"), "*** and ***");
    }

    #[test]
    fn every_connection_keeps_alive_within_a_minute() {
        let p = plan("postgres://u:pw@db.example.com/db");
        let c = p.config();
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(c.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(c.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        // The URL may ask for shorter, never longer.
        let p = plan("postgres://u@h/db?keepalives_idle=5&keepalives_interval=60");
        assert_eq!(p.config().get_keepalives_idle(), Duration::from_secs(5));
        assert_eq!(
            p.config().get_keepalives_interval(),
            Some(KEEPALIVE_INTERVAL)
        );
        // The server-side settings say the same.
        let server = format!(
            "SET tcp_keepalives_idle = {}; SET tcp_keepalives_interval = {}; SET tcp_keepalives_count = {}",
            KEEPALIVE_IDLE.as_secs(),
            KEEPALIVE_INTERVAL.as_secs(),
            KEEPALIVE_RETRIES
        );
        assert_eq!(SERVER_KEEPALIVE_SQL, server);
    }
}
