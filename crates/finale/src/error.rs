//! The client's error type and its classification.
//!
//! Every failure is classified once, here, so callers (the sync engine, the CLI) can decide
//! what to do without matching on messages:
//!
//! * **retryable** ([`Error::is_retryable`]): a later identical request may succeed — 5xx,
//!   network errors, timeouts, truncated or non-JSON bodies. The executor retries these with
//!   back-off up to `retry.max_attempts`, then wraps the last one in [`Error::Exhausted`].
//! * **permanent** ([`Error::is_permanent`]): retrying the same request cannot help — bad
//!   credentials, unknown record/account, a request Finale refuses (400), GraphQL `errors`,
//!   invalid configuration or windows. These fail at once.
//! * [`Error::Exhausted`] is neither: this attempt budget is spent, but the job can be
//!   rescheduled later.
//!
//! Messages name the account, URL and server reason; they never contain a secret (the
//! executor never puts credentials into URLs or errors).

use crate::config::ConfigError;
use crate::decode::{DecodeError, RecordError};
use crate::filter::Window;
use crate::graphql::GraphqlError;

/// Anything that can go wrong talking to Finale.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401/403 (or a failed legacy login): the key, secret, user or account is wrong.
    #[error(
        "Finale rejected the credentials for account `{account}` at {base_url} (HTTP {status}): {message}"
    )]
    Auth {
        /// The configured account.
        account: String,
        /// The configured base URL.
        base_url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, if any.
        message: String,
    },
    /// 404: unknown record URL, unknown account, or a path Finale does not have.
    #[error("not found: {url} (HTTP 404){}", fmt_msg(message))]
    NotFound {
        /// The URL requested.
        url: String,
        /// The server's message, if any.
        message: String,
    },
    /// 400: Finale refused the request (e.g. a window over 30 days); `message` is its reason.
    #[error("Finale refused the request {url} (HTTP {status}): {message}")]
    BadRequest {
        /// The URL requested.
        url: String,
        /// The HTTP status (400, or another 4xx).
        status: u16,
        /// The server's reason.
        message: String,
    },
    /// A 2xx response whose body reports a failure (`success:false`, `errorMessage`, `errors`).
    #[error("Finale reported an error in a successful response for {url}: {message}")]
    ErrorBody {
        /// The URL requested.
        url: String,
        /// The server's reason.
        message: String,
    },
    /// 5xx (retryable).
    #[error("Finale server error for {url} (HTTP {status}){}", fmt_msg(message))]
    Server {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, if any.
        message: String,
    },
    /// 429 that could not be absorbed by waiting (normally handled inside the executor).
    #[error("rate limited by Finale for {url}")]
    RateLimited {
        /// The URL requested.
        url: String,
    },
    /// Connection refused/reset, TLS, DNS, or a body cut off mid-stream (retryable).
    #[error("network error for {url}: {source}")]
    Network {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// No complete response within `request_timeout` (retryable).
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The configured timeout.
        timeout: std::time::Duration,
    },
    /// The body could not be decoded as a page (truncated, HTML, wrong shape; retryable).
    #[error("could not decode the response of {url}: {source}")]
    Decode {
        /// The URL requested.
        url: String,
        /// The decoder's error.
        #[source]
        source: DecodeError,
    },
    /// A single-record read returned a record that could not be used (e.g. no URL).
    #[error("the record at {url} could not be decoded: {source}")]
    Record {
        /// The URL requested.
        url: String,
        /// What was wrong.
        #[source]
        source: Box<RecordError>,
    },
    /// The GraphQL response carried `errors` (the whole query failed) or was malformed.
    #[error("{source}")]
    Graphql {
        /// The parsed problem.
        #[source]
        source: GraphqlError,
    },
    /// The window exceeds the configured maximum (refused before sending).
    #[error("window {window} is longer than the maximum of {max_days} days")]
    WindowTooWide {
        /// The rejected window.
        window: Window,
        /// The configured maximum, in whole days.
        max_days: i64,
    },
    /// A window that cannot be split any further still hit the cap or limit: its records
    /// cannot all be read through REST windows.
    #[error(
        "window {window} still returned {count} records (cap {cap}, limit {limit:?}) and cannot be split further"
    )]
    WindowTooDense {
        /// The smallest window that was still full.
        window: Window,
        /// How many records it returned.
        count: usize,
        /// The configured cap.
        cap: usize,
        /// The configured limit.
        limit: Option<u32>,
    },
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A record URL from a payload could not be turned into a request URL.
    #[error("invalid record URL `{url}`: {reason}")]
    InvalidUrl {
        /// The offending URL text.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend).
    #[error("could not build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    /// Retries ran out; `source` is the last failure.
    #[error("giving up on {url} after {attempts} attempts: {source}")]
    Exhausted {
        /// The URL requested.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: Box<Error>,
    },
}

fn fmt_msg(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

impl Error {
    /// A later identical request may succeed (the executor retries these).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Server { .. }
                | Error::RateLimited { .. }
                | Error::Network { .. }
                | Error::Timeout { .. }
                | Error::Decode { .. }
        )
    }

    /// Whether a failed single-record read (`GET {recordUrl}`) is that record's own problem
    /// for good: it is gone, Finale answers an error body or rejects the request, or its body
    /// does not decode. Other records are worth reading on; this one is worth retrying later.
    pub fn concerns_one_record(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. }
                | Error::BadRequest { .. }
                | Error::ErrorBody { .. }
                | Error::Record { .. }
                | Error::Decode { .. }
        )
    }

    /// Whether the error can only be fixed by the person configuring Stockpulse: rejected
    /// credentials or an invalid configuration. A long-running service stops on these (it
    /// would fail the same way forever) and keeps going on every other error.
    pub fn needs_configuration(&self) -> bool {
        matches!(
            self,
            Error::Auth { .. } | Error::Config(_) | Error::InvalidUrl { .. } | Error::Build(_)
        )
    }

    /// Retrying cannot help; fix the configuration or the request.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::Auth { .. }
                | Error::NotFound { .. }
                | Error::BadRequest { .. }
                | Error::ErrorBody { .. }
                | Error::Record { .. }
                | Error::Graphql { .. }
                | Error::WindowTooWide { .. }
                | Error::WindowTooDense { .. }
                | Error::Config(_)
                | Error::InvalidUrl { .. }
                | Error::Build(_)
        )
    }

    /// The HTTP status behind the error, if there was a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Auth { status, .. }
            | Error::BadRequest { status, .. }
            | Error::Server { status, .. } => Some(*status),
            Error::NotFound { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            Error::Exhausted { source, .. } => source.status(),
            _ => None,
        }
    }
}

/// Pull a human message out of an error body, whatever its shape: a JSON object with
/// `errorMessage`, `error`, `message`, `exception`, or lists `errors`, `errorMessageList`,
/// `messages` (of strings or of objects with `message`); otherwise the plain text.
/// The result is trimmed and clipped to 500 characters.
pub fn extract_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let msg = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => message_from_json(&v).unwrap_or_default(),
        Err(_) => strip_html(&text),
    };
    clip(msg.trim())
}

/// The failure message of a 2xx body that reports an error (`success:false`, a non-empty
/// `errorMessage`, or a non-empty `errors` list), if it does.
pub fn error_in_success_body(body: &[u8]) -> Option<String> {
    // Only small-ish bodies with a leading object can be error envelopes; collections are
    // objects too, but their columns are arrays of values, never `success:false`.
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let failed = obj.get("success") == Some(&serde_json::Value::Bool(false))
        || obj
            .get("errorMessage")
            .and_then(|m| m.as_str())
            .is_some_and(|m| !m.trim().is_empty())
        || obj
            .get("errors")
            .and_then(|e| e.as_array())
            .is_some_and(|e| !e.is_empty() && e.iter().any(|x| !x.is_array()));
    failed.then(|| {
        let m = message_from_json(&v).unwrap_or_default();
        if m.trim().is_empty() {
            "the response reports a failure without a message".to_owned()
        } else {
            clip(m.trim())
        }
    })
}

fn message_from_json(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            for k in ["errorMessage", "error", "message", "exception"] {
                match o.get(k) {
                    Some(Value::String(s)) if !s.trim().is_empty() => return Some(s.clone()),
                    Some(inner @ Value::Object(_)) => {
                        if let Some(m) = message_from_json(inner) {
                            return Some(m);
                        }
                    }
                    _ => {}
                }
            }
            for k in ["errors", "errorMessageList", "messages"] {
                if let Some(Value::Array(a)) = o.get(k) {
                    let parts: Vec<String> = a.iter().filter_map(message_from_json).collect();
                    if !parts.is_empty() {
                        return Some(parts.join("; "));
                    }
                }
            }
            None
        }
        _ => None,
    }
}

fn strip_html(s: &str) -> String {
    if !s.trim_start().starts_with('<') {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn clip(s: &str) -> String {
    const MAX: usize = 500;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_every_known_shape() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"errorMessage":"Date range exceeds 30 days"}"#,
                "Date range exceeds 30 days",
            ),
            (r#"{"error":"bad filter"}"#, "bad filter"),
            (r#"{"message":"nope"}"#, "nope"),
            (
                r#"{"exception":"java.lang.IllegalArgumentException"}"#,
                "java.lang.IllegalArgumentException",
            ),
            (r#"{"errors":["a","b"]}"#, "a; b"),
            (r#"{"errors":[{"message":"x"},{"message":"y"}]}"#, "x; y"),
            (r#"{"errorMessageList":["m1"]}"#, "m1"),
            (r#"{"messages":["hello"]}"#, "hello"),
            (r#"{"error":{"message":"nested"}}"#, "nested"),
            (r#""just a json string""#, "just a json string"),
            ("plain text reason\n", "plain text reason"),
            (
                "<html><body><h1>400 Bad Request</h1></body></html>",
                "400 Bad Request",
            ),
            ("", ""),
            (r#"{"unrelated":1}"#, ""),
        ];
        for (body, want) in cases {
            assert_eq!(extract_message(body.as_bytes()), *want, "{body}");
        }
        let long = "x".repeat(2000);
        assert!(extract_message(long.as_bytes()).chars().count() <= 501);
    }

    #[test]
    fn success_bodies_that_report_errors() {
        for body in [
            r#"{"success":false}"#,
            r#"{"success":false,"errorMessage":"locked"}"#,
            r#"{"errorMessage":"Order is locked"}"#,
            r#"{"errors":[{"message":"bad"}]}"#,
            r#"{"errors":["bad"]}"#,
        ] {
            assert!(error_in_success_body(body.as_bytes()).is_some(), "{body}");
        }
        for body in [
            r#"{}"#,
            r#"{"productId":["A"],"productUrl":["/a/api/product/1"]}"#,
            r#"{"success":true}"#,
            r#"{"errorMessage":""}"#,
            r#"{"errors":[]}"#,
            // A collection that happens to have an `errors` column: arrays of arrays/values.
            r#"{"errors":[[],[]]}"#,
            "not json",
        ] {
            assert_eq!(error_in_success_body(body.as_bytes()), None, "{body}");
        }
        assert_eq!(
            error_in_success_body(br#"{"success":false,"errorMessage":"Order is locked"}"#)
                .as_deref(),
            Some("Order is locked")
        );
    }

    #[test]
    fn classification() {
        let url = "/acme/api/order/".to_owned();
        let retryable = [
            Error::Server {
                url: url.clone(),
                status: 503,
                message: String::new(),
            },
            Error::Timeout {
                url: url.clone(),
                timeout: std::time::Duration::from_secs(1),
            },
            Error::RateLimited { url: url.clone() },
        ];
        for e in &retryable {
            assert!(e.is_retryable() && !e.is_permanent(), "{e:?}");
        }
        let permanent = [
            Error::Auth {
                account: "acme".into(),
                base_url: "https://x/".into(),
                status: 401,
                message: String::new(),
            },
            Error::NotFound {
                url: url.clone(),
                message: String::new(),
            },
            Error::BadRequest {
                url: url.clone(),
                status: 400,
                message: "30 days".into(),
            },
            Error::ErrorBody {
                url: url.clone(),
                message: "locked".into(),
            },
        ];
        for e in &permanent {
            assert!(e.is_permanent() && !e.is_retryable(), "{e:?}");
        }
        let ex = Error::Exhausted {
            url: url.clone(),
            attempts: 4,
            source: Box::new(Error::Server {
                url,
                status: 500,
                message: String::new(),
            }),
        };
        assert!(!ex.is_retryable() && !ex.is_permanent());
        assert!(std::error::Error::source(&ex).is_some());
        assert_eq!(ex.status(), Some(500));
        let auth = &permanent[0];
        let shown = auth.to_string();
        assert!(
            shown.contains("acme") && shown.contains("https://x/"),
            "{shown}"
        );
    }
}
