//! Authentication: API keys, the legacy session login, and failing fast on bad credentials.

use finale::{Credentials, Error, Facility, FinaleClient, Priority, Secret};
use finale_sim::Size;
use stockpulse_tests::{Setup, small};

#[tokio::test]
async fn api_key_reads_a_collection() {
    let p = small().await;
    let facilities = p
        .client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap();
    assert!(!facilities.records.is_empty());
    assert!(facilities.errors.is_empty(), "{:?}", facilities.errors);
}

#[tokio::test]
async fn wrong_secret_fails_at_once_without_retrying_and_without_leaking_it() {
    let p = small().await;
    let mut config = p.config.clone();
    let secret = "hunter2-very-secret";
    config.credentials = Credentials::ApiKey {
        key: "sim-key".into(),
        secret: Secret::from(secret.to_string()),
    };
    let client = FinaleClient::new(config).unwrap();
    let before = p.sim.stats().requests;
    let err = client
        .fetch_all::<Facility>(Priority::Critical)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth { .. }),
        "expected an auth error, got {err:?}"
    );
    assert!(err.is_permanent());
    assert_eq!(
        p.sim.stats().requests - before,
        1,
        "a 401 must not be retried"
    );
    let shown = format!("{err} / {err:?} / {:?}", client.config());
    assert!(!shown.contains(secret), "secret leaked: {shown}");
    assert!(
        shown.contains("acme"),
        "the message should name the account: {shown}"
    );
}

#[tokio::test]
async fn legacy_session_login_works_and_rejects_a_wrong_password() {
    let p = Setup::new(Size::Small)
        .sim(|c| c.legacy_user = Some(("clerk".into(), "s3cret pass".into())))
        .start(|c| {
            c.credentials = Credentials::Session {
                username: "clerk".into(),
                password: Secret::from("s3cret pass".to_string()),
            }
        })
        .await;
    let facilities = p
        .client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap();
    assert!(!facilities.records.is_empty());
    let logins = p
        .sim
        .stats()
        .log
        .iter()
        .filter(|e| e.path.ends_with("/api/auth"))
        .count();
    assert_eq!(logins, 1, "one login serves many requests");
    p.client
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap();
    let logins = p
        .sim
        .stats()
        .log
        .iter()
        .filter(|e| e.path.ends_with("/api/auth"))
        .count();
    assert_eq!(logins, 1, "the session is reused");

    let mut config = p.config.clone();
    config.credentials = Credentials::Session {
        username: "clerk".into(),
        password: Secret::from("nope".to_string()),
    };
    let err = FinaleClient::new(config)
        .unwrap()
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_account_is_a_clear_error() {
    let p = small().await;
    let mut config = p.config.clone();
    config.account = "nosuchaccount".into();
    let err = FinaleClient::new(config)
        .unwrap()
        .fetch_all::<Facility>(Priority::Smart)
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.to_string().contains("nosuchaccount"), "{err}");
}
