//! Connecting: plain and TLS against the real server, a server without TLS, unreachable and
//! missing databases; the password never shows in any error.

use std::error::Error as _;

use store::StoreError;
use store::testing::{TestDb, admin_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "hunter2-Very-Secret";

/// Every piece of text an error can show: Display, Debug and the whole source chain.
fn all_text(err: &StoreError) -> String {
    let mut text = format!("{err} | {err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!(" | {s} | {s:?}"));
        source = s.source();
    }
    text
}

fn assert_no_secret(err: &StoreError) {
    let text = all_text(err);
    assert!(!text.contains(SECRET), "password leaked: {text}");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
}

/// The admin URL with a password and options added.
fn url_with(password: &str, port: Option<u16>, db: Option<&str>, query: &str) -> String {
    let mut url = url::Url::parse(&admin_url()).expect("admin url");
    url.set_password(Some(password)).expect("password");
    if let Some(port) = port {
        url.set_port(Some(port)).expect("port");
    }
    if let Some(db) = db {
        url.set_path(&format!("/{db}"));
    }
    url.set_query(if query.is_empty() { None } else { Some(query) });
    url.into()
}

#[tokio::test]
async fn plain_connection_to_the_local_server_works() {
    let db = TestDb::new().await.expect("test db");
    let client = store::connect(&format!("{}?sslmode=disable", db.url()))
        .await
        .expect("connect");
    let rows = client.simple_query("SELECT 1").await.expect("query");
    assert!(!rows.is_empty());
    let app: String = client
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .expect("application_name")
        .get(0);
    assert_eq!(app, "stockpulse");
}

#[tokio::test]
async fn sslmode_require_against_the_local_server() {
    let admin = store::connect(&admin_url()).await.expect("admin");
    let ssl: String = admin
        .query_one("SHOW ssl", &[])
        .await
        .expect("show ssl")
        .get(0);
    let result = store::connect(&url_with(SECRET, None, None, "sslmode=require")).await;
    if ssl == "on" {
        // `require` encrypts without checking the certificate (libpq's meaning), so the
        // server's self-signed certificate is accepted and the session is encrypted.
        let client = result.expect("TLS with an unverified certificate");
        let encrypted: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_ssl")
            .get(0);
        assert!(encrypted, "sslmode=require produced a plaintext session");
    } else {
        let err = result.expect_err("the server has no TLS");
        assert!(matches!(err, StoreError::Tls { .. }), "{err:?}");
        assert_no_secret(&err);
    }
}

#[tokio::test]
async fn verify_full_fails_with_a_clear_tls_error_on_an_untrusted_certificate() {
    // The local server either has no TLS or a self-signed (snakeoil) certificate that no
    // system root vouches for: both must fail as a TLS error, without the password.
    let err = store::connect(&url_with(SECRET, None, None, "sslmode=verify-full"))
        .await
        .expect_err("untrusted certificate");
    assert!(
        matches!(
            err,
            StoreError::Tls {
                sslmode: "verify-full",
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("TLS"), "{message}");
    assert!(message.contains("sslmode=verify-full"), "{message}");
    assert_no_secret(&err);
}

/// A "Postgres" on loopback that answers every SSLRequest with `N` (no TLS), like a server
/// built without TLS. Serves `connections` connections, then stops.
async fn server_without_tls(connections: usize) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        for _ in 0..connections {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0u8; 8];
            if socket.read_exact(&mut request).await.is_ok() {
                // length 8, code 80877103 = SSLRequest
                assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47]);
                let _ = socket.write_all(b"N").await;
            }
            // keep it open briefly so the client sees the answer, then drop
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                socket.read(&mut [0u8; 64]),
            )
            .await;
        }
    });
    port
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_fails_clearly() {
    let port = server_without_tls(2).await;
    for mode in ["require", "verify-ca"] {
        let url = format!("postgres://postgres:{SECRET}@127.0.0.1:{port}/postgres?sslmode={mode}");
        let err = store::connect(&url).await.expect_err("no TLS on offer");
        assert!(matches!(err, StoreError::Tls { .. }), "{mode}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!("TLS connection to postgres@127.0.0.1:{port}/postgres failed (sslmode={mode})")
        );
        let chain = all_text(&err);
        assert!(chain.contains("TLS"), "{chain}");
        assert!(!err.is_retryable());
        assert_no_secret(&err);
    }
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_connect_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err = store::connect(&url_with(SECRET, Some(port), None, "sslmode=disable"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&format!(":{port}/")), "{err}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_missing_database_is_named_as_such() {
    let err = store::connect(&url_with(
        SECRET,
        None,
        Some("sp_does_not_exist_anywhere"),
        "sslmode=disable",
    ))
    .await
    .expect_err("no such database");
    assert!(matches!(err, StoreError::NoSuchDatabase { .. }), "{err:?}");
    assert!(
        err.to_string().contains("sp_does_not_exist_anywhere"),
        "{err}"
    );
    assert_no_secret(&err);
}

#[tokio::test]
async fn an_unreadable_root_certificate_is_a_setup_error() {
    let err = store::connect(&url_with(
        SECRET,
        None,
        None,
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ))
    .await
    .expect_err("no such file");
    assert!(matches!(err, StoreError::TlsSetup { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn malformed_urls_never_echo_the_password() {
    for url in [
        format!("postgres://u:{SECRET}@127.0.0.1:5432/db?sslmode=maybe"),
        format!("postgres://u:{SECRET}@127.0.0.1:5432/db?bogus_option=1"),
        format!("postgres://u:{SECRET}@127.0.0.1:port/db"),
        format!("http://u:{SECRET}@127.0.0.1/db"),
        format!("postgres://u:{SECRET}@127.0.0.1/db?connect_timeout={SECRET}"),
    ] {
        let err = store::connect(&url).await.expect_err(&url);
        assert!(
            matches!(err, StoreError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
        assert_no_secret(&err);
    }
}
