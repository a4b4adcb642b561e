//! Unit tests of configuration loading: sources, precedence, secrets, and every
//! misconfiguration's message.

use std::collections::HashMap;
use std::io::Write as _;

use super::*;

const HOME: &str = "/home/tester";

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut m: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    m.entry("HOME".to_owned())
        .or_insert_with(|| HOME.to_owned());
    move |k| m.get(k).cloned()
}

fn keychain(entries: &[(&str, &str)]) -> HashMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(vars: &[(&str, &str)]) -> Result<EngineConfig, ConfigError> {
    EngineConfig::load_with(None, &env_of(vars), &NoKeychain)
}

fn load_file(text: &str, vars: &[(&str, &str)]) -> Result<EngineConfig, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    EngineConfig::load_with(Some(&path), &env_of(vars), &NoKeychain)
}

/// Display, Debug and every source of an error, for leak checks.
fn full_text(err: &ConfigError) -> String {
    let mut text = format!("{err} | {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!(" | {s} | {s:?}"));
        source = s.source();
    }
    text
}

const FINALE_OK: &[(&str, &str)] = &[
    ("FINALE_ACCOUNT", "acme"),
    ("FINALE_API_KEY", "key-1234"),
    ("FINALE_API_SECRET", "s3cret-api-value"),
];

#[test]
fn defaults_are_the_seeds_numbers() {
    let cfg = load(&[]).expect("loads with nothing configured");
    let s = &cfg.sync;
    assert_eq!(s.full_batch_size, 500);
    assert_eq!(s.smart_batch_size, 100);
    assert_eq!(s.smart_concurrency, 3);
    assert_eq!(
        s.smart_daily_at,
        NaiveTime::from_hms_opt(2, 0, 0).expect("t")
    );
    assert_eq!(s.smart_max_duration, TimeDelta::minutes(15));
    assert_eq!(s.critical_every, TimeDelta::minutes(60));
    assert_eq!(s.retry_after, TimeDelta::minutes(5));
    assert_eq!(s.cursor_overlap, TimeDelta::seconds(300));
    assert_eq!(s.history_horizon, TimeDelta::days(730));
    assert_eq!(s.writer_lease, std::time::Duration::from_secs(120));
    assert_eq!(s.critical, CriticalThresholds::default());
    assert_eq!(s.critical.stock_level, 10.0);
    assert_eq!(s.critical.velocity_multiplier, 2.0);
    assert_eq!(s.critical.price_change_pct, 5.0);
    assert_eq!(cfg.file, None);

    // No database URL: the local store, at the XDG default.
    match cfg.store.target() {
        StoreTarget::Sqlite { path } => {
            if cfg!(target_os = "linux") {
                assert_eq!(
                    path,
                    Path::new("/home/tester/.local/share/stockpulse/stockpulse.db")
                );
            }
        }
        other => panic!("expected the local store, got {other:?}"),
    }

    // Finale is not configured; that is reported, not fatal.
    let err = cfg.finale().expect_err("no account");
    assert!(err.to_string().contains("FINALE_ACCOUNT"), "{err}");
    assert!(
        cfg.describe().contains("Finale: not configured"),
        "{}",
        cfg.describe()
    );

    let sched = cfg.schedule();
    assert_eq!(sched, Schedule::default());
}

#[test]
fn local_path_follows_xdg_and_overrides() {
    if cfg!(target_os = "linux") {
        let cfg = load(&[("XDG_DATA_HOME", "/data")]).expect("load");
        assert_eq!(
            cfg.store.local_path,
            Path::new("/data/stockpulse/stockpulse.db")
        );
        // A relative XDG_DATA_HOME is invalid per the spec and ignored.
        let cfg = load(&[("XDG_DATA_HOME", "rel")]).expect("load");
        assert_eq!(
            cfg.store.local_path,
            Path::new("/home/tester/.local/share/stockpulse/stockpulse.db")
        );
    }
    let cfg = load(&[("STOCKPULSE_LOCAL_PATH", "~/x/y.db")]).expect("load");
    assert_eq!(cfg.store.local_path, Path::new("/home/tester/x/y.db"));

    // No home at all and no explicit path: a clear error.
    let none = |_: &str| None::<String>;
    let err = EngineConfig::load_with(None, &none, &NoKeychain).expect_err("no home");
    assert!(matches!(err, ConfigError::NoDataDir), "{err:?}");
    assert!(err.to_string().contains("STOCKPULSE_LOCAL_PATH"), "{err}");
    let only = |k: &str| (k == "STOCKPULSE_LOCAL_PATH").then(|| "/tmp/s.db".to_owned());
    let cfg = EngineConfig::load_with(None, &only, &NoKeychain).expect("explicit path");
    assert_eq!(cfg.store.local_path, Path::new("/tmp/s.db"));
}

#[test]
fn finale_from_env_with_overlap_from_sync() {
    let mut vars = FINALE_OK.to_vec();
    vars.push(("STOCKPULSE_CURSOR_OVERLAP_SECONDS", "120"));
    vars.push(("FINALE_TIMEZONE", "America/Chicago"));
    let cfg = load(&vars).expect("load");
    let f = cfg.finale().expect("configured");
    assert_eq!(f.account, "acme");
    assert_eq!(f.overlap, TimeDelta::seconds(120));
    assert_eq!(f.timezone.to_string(), "America/Chicago");
    assert_eq!(
        f.timestamps,
        finale::TimestampZone::Utc,
        "Finale's timestamps are UTC unless told otherwise (finale-api.md §15b)"
    );
    assert_eq!(f.base_url.as_str(), "https://app.finaleinventory.com/");
    match &f.credentials {
        Credentials::ApiKey { key, secret } => {
            assert_eq!(key, "key-1234");
            assert_eq!(secret.expose(), "s3cret-api-value");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cfg.finale_key_source,
        Some(SecretSource::Env("FINALE_API_KEY"))
    );
    assert_eq!(
        cfg.finale_secret_source,
        Some(SecretSource::Env("FINALE_API_SECRET"))
    );
    let shown = format!("{cfg:?}\n{}", cfg.describe());
    assert!(!shown.contains("s3cret-api-value"), "{shown}");
    assert!(
        !cfg.describe().contains("key-1234"),
        "the key is masked: {}",
        cfg.describe()
    );
    assert!(
        cfg.describe().contains("account acme"),
        "{}",
        cfg.describe()
    );
    assert!(cfg.describe().contains("key-…"), "{}", cfg.describe());
}

#[test]
fn file_values_and_env_overrides() {
    let text = r#"
[finale]
account = "fileacct"
api_key = "filekey"
timezone = "Europe/Paris"
base_url = "http://127.0.0.1:9/"
packed_quantities = "units"
collection_cap = 50000

[store]
local_path = "data/local.db"

[sync]
full_batch_size = 250
smart_batch_size = 50
smart_concurrency = 2
smart_daily_at = "03:30"
smart_max_duration_minutes = 20
critical_every_minutes = 30
retry_after_minutes = 2
cursor_overlap_seconds = 0
history_days = 365
writer_lease_seconds = 45

[sync.critical]
stock_level = 5
velocity_multiplier = 3
price_change_pct = 7.5
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    let env = env_of(&[
        ("FINALE_ACCOUNT", "envacct"),
        ("FINALE_API_SECRET", "file-test-secret"),
        ("STOCKPULSE_SMART_BATCH_SIZE", "70"),
        ("STOCKPULSE_CRITICAL_PRICE_CHANGE_PCT", "2.5"),
        // Blank variables count as unset: the file's value stays.
        ("STOCKPULSE_FULL_BATCH_SIZE", "  "),
    ]);
    let cfg = EngineConfig::load_with(Some(&path), &env, &NoKeychain).expect("load");
    assert_eq!(cfg.file.as_deref(), Some(path.as_path()));
    let s = &cfg.sync;
    assert_eq!(s.full_batch_size, 250);
    assert_eq!(s.smart_batch_size, 70, "env overrides file");
    assert_eq!(s.smart_concurrency, 2);
    assert_eq!(
        s.smart_daily_at,
        NaiveTime::from_hms_opt(3, 30, 0).expect("t")
    );
    assert_eq!(s.smart_max_duration, TimeDelta::minutes(20));
    assert_eq!(s.critical_every, TimeDelta::minutes(30));
    assert_eq!(s.retry_after, TimeDelta::minutes(2));
    assert_eq!(s.cursor_overlap, TimeDelta::zero());
    assert_eq!(s.history_horizon, TimeDelta::days(365));
    assert_eq!(s.writer_lease, std::time::Duration::from_secs(45));
    assert_eq!(
        s.critical,
        CriticalThresholds {
            stock_level: 5.0,
            velocity_multiplier: 3.0,
            price_change_pct: 2.5
        }
    );
    assert_eq!(
        cfg.schedule(),
        Schedule {
            smart_daily_at: NaiveTime::from_hms_opt(3, 30, 0).expect("t"),
            critical_every: TimeDelta::minutes(30),
            stock_every: Some(TimeDelta::minutes(5)),
            retry_after: TimeDelta::minutes(2),
        }
    );
    // Relative to the file's directory.
    assert_eq!(cfg.store.local_path, dir.path().join("data/local.db"));

    let f = cfg.finale().expect("finale");
    assert_eq!(f.account, "envacct", "env overrides file");
    assert_eq!(f.timezone.to_string(), "Europe/Paris");
    assert_eq!(f.packed_quantities, finale::PackedQuantities::Units);
    assert!(cfg.describe().contains("packed quantities count units"));
    assert_eq!(f.base_url.as_str(), "http://127.0.0.1:9/");
    assert_eq!(f.cap, 50_000, "finale.collection_cap");
    assert!(
        cfg.describe().contains("entity cap 50000"),
        "{}",
        cfg.describe()
    );
    assert_eq!(f.overlap, TimeDelta::zero());
    assert!(matches!(&f.credentials, Credentials::ApiKey { key, .. } if key == "filekey"));
    assert_eq!(cfg.finale_key_source, Some(SecretSource::File));
    assert!(cfg.describe().contains(&path.display().to_string()));
}

#[test]
fn the_config_file_is_found_by_env_and_default_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("elsewhere.toml");
    std::fs::write(&path, "[sync]\nsmart_concurrency = 7\n").expect("write");
    let p = path.display().to_string();
    let cfg = load(&[("STOCKPULSE_CONFIG", &p)]).expect("load");
    assert_eq!(cfg.sync.smart_concurrency, 7);
    assert_eq!(cfg.file.as_deref(), Some(path.as_path()));

    if cfg!(target_os = "linux") {
        let xdg = dir.path().join("xdg");
        std::fs::create_dir_all(xdg.join("stockpulse")).expect("mkdir");
        std::fs::write(
            xdg.join("stockpulse/config.toml"),
            "[sync]\nsmart_concurrency = 9\n",
        )
        .expect("write");
        let x = xdg.display().to_string();
        let cfg = load(&[("XDG_CONFIG_HOME", &x)]).expect("load");
        assert_eq!(cfg.sync.smart_concurrency, 9);
        // The default file is optional.
        let empty = dir.path().join("nothing-here").display().to_string();
        let cfg = load(&[("XDG_CONFIG_HOME", &empty)]).expect("load");
        assert_eq!(cfg.file, None);
    }
}

#[test]
fn unreadable_files_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.toml");
    let err = EngineConfig::load_with(Some(&missing), &env_of(&[]), &NoKeychain)
        .expect_err("missing file");
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.toml"), "{err}");

    // A directory is not a file.
    let err = EngineConfig::load_with(Some(dir.path()), &env_of(&[]), &NoKeychain)
        .expect_err("directory");
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");

    // Not UTF-8.
    let bin = dir.path().join("bin.toml");
    std::fs::File::create(&bin)
        .and_then(|mut f| f.write_all(&[0xff, 0xfe, 0x00]))
        .expect("write");
    let err = EngineConfig::load_with(Some(&bin), &env_of(&[]), &NoKeychain).expect_err("binary");
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
}

#[test]
fn secrets_in_the_file_are_refused_with_directions() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[store]\ndatabase_url = \"postgres://u:hunter2pw@db.example/x\"\n",
            "store.database_url",
            "STOCKPULSE_DATABASE_URL",
        ),
        (
            "[store]\nlock_url = \"postgres://u:hunter2pw@db.example:5432/x\"\n",
            "store.lock_url",
            "STOCKPULSE_LOCK_URL",
        ),
        (
            "[finale]\naccount = \"acme\"\napi_secret = \"hunter2pw\"\n",
            "finale.api_secret",
            "finale-api-secret",
        ),
        (
            "[finale]\npassword = \"hunter2pw\"\n",
            "finale.password",
            "FINALE_PASSWORD",
        ),
        // At the top level, or in a table we do not know, it is still a secret.
        (
            "database_url = \"postgres://u:hunter2pw@h/x\"\n",
            "database_url",
            "keychain",
        ),
        (
            "[extra.deep]\napi_secret = \"hunter2pw\"\n",
            "extra.deep.api_secret",
            "FINALE_API_SECRET",
        ),
        // A URL with a password under any key.
        (
            "[finale]\nbase_url = \"https://user:hunter2pw@app.example/\"\n",
            "finale.base_url",
            "environment",
        ),
        (
            "[store]\nurls = [\"postgres://u:hunter2pw@h/x\"]\n",
            "store.urls[0]",
            "environment",
        ),
    ];
    for (text, key, direction) in cases {
        let err = load_file(text, &[]).expect_err(key);
        assert!(
            matches!(err, ConfigError::SecretInFile { .. }),
            "{key}: {err:?}"
        );
        let shown = full_text(&err);
        assert!(shown.contains(key), "{key}: {shown}");
        assert!(shown.contains(direction), "{key}: {shown}");
        assert!(!shown.contains("hunter2"), "{key} leaked: {shown}");
    }
}

#[test]
fn unknown_keys_wrong_types_and_bad_syntax_name_the_place() {
    let cases: &[(&str, &str, usize)] = &[
        ("[sync]\nsmart_batch = 3\n", "smart_batch", 2),
        ("[finale]\naccount = \"a\"\nacount = \"b\"\n", "acount", 3),
        ("[stor]\nlocal_path = \"x\"\n", "stor", 1),
        ("[sync]\nfull_batch_size = \"many\"\n", "full_batch_size", 2),
        ("[sync.critical]\nstock_level = \"low\"\n", "stock_level", 2),
        ("[sync]\n\nsmart_daily_at = 2\n", "smart_daily_at", 3),
    ];
    for (text, needle, line) in cases {
        let err = load_file(text, &[]).expect_err(needle);
        match &err {
            ConfigError::File {
                line: l, message, ..
            } => {
                assert_eq!(l, line, "{needle}: {err}");
                assert!(message.contains(needle), "{needle}: {err}");
                assert!(
                    !message.contains("many") && !message.contains("low"),
                    "{err}"
                );
            }
            other => panic!("{needle}: {other:?}"),
        }
    }

    // A syntax error reports where, without quoting the line (it could hold a secret).
    let err = load_file("[finale]\naccount = \"acme\nkey = 1\n", &[]).expect_err("syntax");
    match &err {
        ConfigError::File { line, column, .. } => {
            assert_eq!(*line, 2, "{err}");
            assert!(*column > 0, "{err}");
        }
        other => panic!("{other:?}"),
    }
    let err = load_file("[store]\nlocal_path = \"hunter2pw\n", &[]).expect_err("syntax");
    assert!(
        !full_text(&err).contains("hunter2pw"),
        "{}",
        full_text(&err)
    );
    // A value of the wrong type is not quoted back.
    let err = load_file("[sync]\nhistory_days = \"hunter2pw\"\n", &[]).expect_err("type");
    let shown = full_text(&err);
    assert!(
        !shown.contains("hunter2pw") && shown.contains("history_days"),
        "{shown}"
    );
}

#[test]
fn bad_schedule_strings_are_rejected() {
    for bad in [
        "25:00",
        "24:00",
        "02:60",
        "2am",
        "",
        "02:00 CET",
        "02",
        "-1:00",
        "23:59:60",
    ] {
        let err = load(&[("STOCKPULSE_SMART_DAILY_AT", bad)]);
        if bad.trim().is_empty() {
            // Blank is unset: the default applies.
            assert!(err.is_ok(), "{bad:?}");
            continue;
        }
        let err = err.expect_err(bad);
        let msg = err.to_string();
        assert!(msg.contains("STOCKPULSE_SMART_DAILY_AT"), "{bad}: {msg}");
        assert!(
            msg.contains("HH:MM") || msg.contains("leap"),
            "{bad}: {msg}"
        );
    }
    let err = load_file("[sync]\nsmart_daily_at = \"25:00\"\n", &[]).expect_err("file");
    let msg = err.to_string();
    assert!(
        msg.contains("sync.smart_daily_at") && msg.contains("25:00"),
        "{msg}"
    );

    for (good, h, m, s) in [
        ("02:00", 2, 0, 0),
        ("2:05", 2, 5, 0),
        ("02:00 UTC", 2, 0, 0),
        ("02:00Z", 2, 0, 0),
        (" 23:59:30 ", 23, 59, 30),
        ("00:00", 0, 0, 0),
    ] {
        assert_eq!(
            parse_daily_time(good),
            Ok(NaiveTime::from_hms_opt(h, m, s).expect("t")),
            "{good}"
        );
    }
}

#[test]
fn the_stock_pulse_defaults_to_five_minutes_and_zero_switches_it_off() {
    let cfg = load(&[]).expect("defaults");
    assert_eq!(cfg.schedule().stock_every, Some(TimeDelta::minutes(5)));
    assert!(
        cfg.describe().contains("Stock pulse: every 5 min")
            && cfg.describe().contains(
                "21 of Finale's 300 collection reads (critical 1 x 4, stock 12 x 1, smart 1 x 5)"
            ),
        "{}",
        cfg.describe()
    );
    let cfg = load(&[("STOCKPULSE_STOCK_EVERY_MINUTES", "0")]).expect("off");
    assert_eq!(cfg.schedule().stock_every, None);
    assert!(
        cfg.describe().contains("Stock pulse: off"),
        "{}",
        cfg.describe()
    );
    let cfg = load_file("[sync]\nstock_every_minutes = 2\n", &[]).expect("file");
    assert_eq!(cfg.schedule().stock_every, Some(TimeDelta::minutes(2)));
}

#[test]
fn a_schedule_over_finales_hourly_budget_is_refused() {
    // Critical every minute (240 reads) with the pulse every minute (60) and smart (5): 305.
    let err = load(&[
        ("STOCKPULSE_CRITICAL_EVERY_MINUTES", "1"),
        ("STOCKPULSE_STOCK_EVERY_MINUTES", "1"),
    ])
    .expect_err("over budget");
    let msg = err.to_string();
    assert!(
        msg.contains("STOCKPULSE_CRITICAL_EVERY_MINUTES") && msg.contains("305 of Finale's 300"),
        "{msg}"
    );
    // The same critical cadence without the pulse fits.
    load(&[
        ("STOCKPULSE_CRITICAL_EVERY_MINUTES", "1"),
        ("STOCKPULSE_STOCK_EVERY_MINUTES", "0"),
    ])
    .expect("245 reads fit");
}

#[test]
fn numbers_must_make_sense() {
    let cases: &[(&str, &str, &str)] = &[
        ("STOCKPULSE_FULL_BATCH_SIZE", "0", "positive"),
        ("STOCKPULSE_SMART_BATCH_SIZE", "-5", "positive"),
        ("STOCKPULSE_SMART_CONCURRENCY", "three", "whole number"),
        ("STOCKPULSE_SMART_BATCH_SIZE", "1.5", "whole number"),
        ("STOCKPULSE_CRITICAL_EVERY_MINUTES", "0", "positive"),
        (
            "STOCKPULSE_CRITICAL_EVERY_MINUTES",
            "999999999999",
            "century",
        ),
        ("STOCKPULSE_SMART_MAX_DURATION_MINUTES", "-1", "positive"),
        ("STOCKPULSE_RETRY_AFTER_MINUTES", "0", "positive"),
        ("STOCKPULSE_STOCK_EVERY_MINUTES", "-5", "negative"),
        ("STOCKPULSE_STOCK_EVERY_MINUTES", "often", "whole number"),
        ("STOCKPULSE_STOCK_EVERY_MINUTES", "2000", "more than a day"),
        ("STOCKPULSE_HISTORY_DAYS", "0", "positive"),
        ("STOCKPULSE_HISTORY_DAYS", "100000", "century"),
        ("STOCKPULSE_CURSOR_OVERLAP_SECONDS", "-1", "negative"),
        ("STOCKPULSE_CURSOR_OVERLAP_SECONDS", "9999999", "week"),
        ("STOCKPULSE_WRITER_LEASE_SECONDS", "0", "positive"),
        ("STOCKPULSE_WRITER_LEASE_SECONDS", "301", "more than 300 s"),
        ("STOCKPULSE_WRITER_LEASE_SECONDS", "2m", "whole number"),
        ("STOCKPULSE_CRITICAL_STOCK_LEVEL", "-1", "at least 0"),
        (
            "STOCKPULSE_CRITICAL_VELOCITY_MULTIPLIER",
            "0",
            "greater than 0",
        ),
        (
            "STOCKPULSE_CRITICAL_VELOCITY_MULTIPLIER",
            "NaN",
            "greater than 0",
        ),
        ("STOCKPULSE_CRITICAL_PRICE_CHANGE_PCT", "inf", "at least 0"),
        (
            "STOCKPULSE_CRITICAL_PRICE_CHANGE_PCT",
            "five",
            "not a number",
        ),
    ];
    for (var, value, needle) in cases {
        let err = load(&[(var, value)]).expect_err(var);
        let msg = err.to_string();
        assert!(msg.contains(var), "{var}={value}: {msg}");
        assert!(msg.contains(needle), "{var}={value}: {msg}");
    }
    // The file's spelling is named when the value comes from the file.
    let err = load_file("[sync]\nfull_batch_size = 0\n", &[]).expect_err("zero");
    let msg = err.to_string();
    assert!(
        msg.contains("sync.full_batch_size") && msg.contains("config.toml"),
        "{msg}"
    );
    let err = load_file("[sync]\nsmart_concurrency = -2\n", &[]).expect_err("negative");
    assert!(err.to_string().contains("sync.smart_concurrency"), "{err}");
    let err = load_file("[store]\nlocal_path = \" \"\n", &[]).expect_err("blank path");
    assert!(err.to_string().contains("store.local_path"), "{err}");
}

#[test]
fn database_urls_come_from_env_or_keychain_and_never_leak() {
    // STOCKPULSE_DATABASE_URL wins over DATABASE_URL, which wins over the keychain.
    let kc = keychain(&[("database-url", "postgres://kc:kcpass@kc.example/db")]);
    let env = env_of(&[
        (
            "STOCKPULSE_DATABASE_URL",
            "postgres://sp:hunter2pw@db.example:6543/postgres",
        ),
        ("DATABASE_URL", "postgres://plain:otherpw@other.example/db"),
    ]);
    let cfg = EngineConfig::load_with(None, &env, &kc).expect("load");
    assert_eq!(
        cfg.store.database_url_source,
        Some(SecretSource::Env("STOCKPULSE_DATABASE_URL"))
    );
    match cfg.store.target() {
        StoreTarget::Postgres { url, lock_url } => {
            assert!(url.expose().contains("sp:hunter2pw"));
            assert!(lock_url.is_none());
        }
        other => panic!("{other:?}"),
    }
    let shown = format!("{cfg:?}\n{}", cfg.describe());
    assert!(!shown.contains("hunter2pw"), "{shown}");
    assert!(
        cfg.describe().contains("sp@db.example:6543/postgres"),
        "{}",
        cfg.describe()
    );
    assert!(
        cfg.describe().contains("sslmode require"),
        "{}",
        cfg.describe()
    );

    let env = env_of(&[("DATABASE_URL", "postgres://plain:otherpw@other.example/db")]);
    let cfg = EngineConfig::load_with(None, &env, &kc).expect("load");
    assert_eq!(
        cfg.store.database_url_source,
        Some(SecretSource::Env("DATABASE_URL"))
    );

    let cfg = EngineConfig::load_with(None, &env_of(&[]), &kc).expect("load");
    assert_eq!(
        cfg.store.database_url_source,
        Some(SecretSource::Keychain("database-url"))
    );
    assert!(cfg.describe().contains("keychain stockpulse/database-url"));
    assert!(!cfg.describe().contains("kcpass"));

    // Bad URLs: the setting is named, the password is not shown.
    for bad in [
        "mysql://u:hunter2pw@localhost/db",
        "postgres://u:hunter2pw@localhost/db?sslmode=hunter2pw",
        "postgres://:hunter2pw@localhost/db",
        "not a url hunter2pw",
    ] {
        let err = load(&[("STOCKPULSE_DATABASE_URL", bad)]).expect_err(bad);
        assert!(
            matches!(err, ConfigError::DatabaseUrl { .. }),
            "{bad}: {err:?}"
        );
        let shown = full_text(&err);
        assert!(shown.contains("STOCKPULSE_DATABASE_URL"), "{shown}");
        if bad.contains("://") {
            assert!(!shown.contains("hunter2pw"), "{bad} leaked: {shown}");
        }
    }
    let kc_bad = keychain(&[("database-url", "mysql://u:hunter2pw@h/db")]);
    let err = EngineConfig::load_with(None, &env_of(&[]), &kc_bad).expect_err("bad keychain");
    let shown = full_text(&err);
    assert!(
        shown.contains("keychain entry stockpulse/database-url"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2pw"), "{shown}");

    // The CLI's --database-url goes through the same check.
    let cfg = load(&[]).expect("load");
    let err = cfg
        .clone()
        .with_database_url(
            Secret::from("mysql://u:hunter2pw@h/db"),
            SecretSource::Env("--database-url"),
        )
        .expect_err("bad");
    assert!(!full_text(&err).contains("hunter2pw"));
    let cfg = cfg
        .with_database_url(
            Secret::from("postgres://postgres@127.0.0.1:5432/x"),
            SecretSource::Env("--database-url"),
        )
        .expect("good");
    assert!(matches!(cfg.store.target(), StoreTarget::Postgres { .. }));
    assert!(
        cfg.describe().contains("sslmode disable"),
        "{}",
        cfg.describe()
    );
}

#[test]
fn the_lock_url_needs_a_database_url() {
    let err = load(&[("STOCKPULSE_LOCK_URL", "postgres://u:hunter2pw@h:5432/db")])
        .expect_err("lock without db");
    let shown = full_text(&err);
    assert!(
        shown.contains("STOCKPULSE_LOCK_URL") && shown.contains("no database URL"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2pw"));

    let kc = keychain(&[("lock-url", "postgres://u:lockpw@db.example:5432/postgres")]);
    let env = env_of(&[(
        "STOCKPULSE_DATABASE_URL",
        "postgres://u:hunter2pw@pooler.example:6543/postgres",
    )]);
    let cfg = EngineConfig::load_with(None, &env, &kc).expect("load");
    match cfg.store.target() {
        StoreTarget::Postgres {
            lock_url: Some(lock),
            ..
        } => assert!(lock.expose().contains("db.example:5432")),
        other => panic!("{other:?}"),
    }
    let d = cfg.describe();
    assert!(
        d.contains("Writer lock: Postgres u@db.example:5432/postgres"),
        "{d}"
    );
    assert!(!d.contains("lockpw") && !d.contains("hunter2pw"), "{d}");

    let err = load(&[
        ("STOCKPULSE_DATABASE_URL", "postgres://u@localhost/db"),
        ("STOCKPULSE_LOCK_URL", "http://u:hunter2pw@h/db"),
    ])
    .expect_err("bad lock url");
    assert!(matches!(err, ConfigError::DatabaseUrl { .. }), "{err:?}");
    assert!(!full_text(&err).contains("hunter2pw"));
}

#[test]
fn finale_credentials_from_the_keychain() {
    let kc = keychain(&[
        ("finale-api-key", "kc-key-9"),
        ("finale-api-secret", "kc-secret-value"),
    ]);
    let env = env_of(&[("FINALE_ACCOUNT", "acme")]);
    let cfg = EngineConfig::load_with(None, &env, &kc).expect("load");
    let f = cfg.finale().expect("configured");
    assert!(matches!(&f.credentials, Credentials::ApiKey { key, secret }
        if key == "kc-key-9" && secret.expose() == "kc-secret-value"));
    assert_eq!(
        cfg.finale_key_source,
        Some(SecretSource::Keychain("finale-api-key"))
    );
    assert_eq!(
        cfg.finale_secret_source,
        Some(SecretSource::Keychain("finale-api-secret"))
    );
    let shown = format!("{cfg:?}\n{}", cfg.describe());
    assert!(!shown.contains("kc-secret-value"), "{shown}");
    assert!(
        shown.contains("keychain stockpulse/finale-api-secret"),
        "{shown}"
    );

    // The environment wins over the keychain.
    let env = env_of(&[
        ("FINALE_ACCOUNT", "acme"),
        ("FINALE_API_KEY", "env-key"),
        ("FINALE_API_SECRET", "env-secret"),
    ]);
    let cfg = EngineConfig::load_with(None, &env, &kc).expect("load");
    assert!(
        matches!(&cfg.finale().expect("ok").credentials, Credentials::ApiKey { key, secret }
        if key == "env-key" && secret.expose() == "env-secret")
    );

    // A legacy login in the environment does not pick up keychain API credentials.
    let env = env_of(&[
        ("FINALE_ACCOUNT", "acme"),
        ("FINALE_USERNAME", "clerk"),
        ("FINALE_PASSWORD", "legacy-pw-value"),
    ]);
    let cfg = EngineConfig::load_with(None, &env, &kc).expect("load");
    assert!(matches!(
        &cfg.finale().expect("ok").credentials,
        Credentials::Session { username, .. } if username == "clerk"
    ));
    let d = cfg.describe();
    assert!(
        d.contains("user clerk") && d.contains("FINALE_PASSWORD"),
        "{d}"
    );
    assert!(!format!("{cfg:?}{d}").contains("legacy-pw-value"));
}

#[test]
fn finale_misconfigurations() {
    // Key without secret: loads (status works), but `finale()` says what is missing and
    // where it may go.
    let cfg = load(&[("FINALE_ACCOUNT", "acme"), ("FINALE_API_KEY", "k")]).expect("load");
    let err = cfg.finale().expect_err("no secret");
    let msg = err.to_string();
    assert!(
        msg.contains("FINALE_API_SECRET") && msg.contains("finale-api-secret"),
        "{msg}"
    );
    assert!(
        cfg.describe().contains("FINALE_API_SECRET"),
        "{}",
        cfg.describe()
    );

    // Secret without key.
    let err = load(&[
        ("FINALE_ACCOUNT", "acme"),
        ("FINALE_API_SECRET", "topsecretval"),
    ])
    .expect("load")
    .finale()
    .expect_err("no key")
    .to_string();
    assert!(err.contains("FINALE_API_KEY"), "{err}");
    assert!(!err.contains("topsecretval"));

    // Missing account with credentials.
    let err = load(&[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")])
        .expect("load")
        .finale()
        .expect_err("no account")
        .to_string();
    assert!(
        err.contains("FINALE_ACCOUNT") && err.contains("finale.account"),
        "{err}"
    );

    // Wrong values fail the load at once.
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("FINALE_ACCOUNT", "acme"),
                ("FINALE_API_KEY", "k"),
                ("FINALE_API_SECRET", "topsecretval"),
                ("FINALE_USERNAME", "u"),
                ("FINALE_PASSWORD", "p"),
            ],
            "choose one",
        ),
        (
            &[
                ("FINALE_ACCOUNT", "acme"),
                ("FINALE_API_KEY", "k"),
                ("FINALE_API_SECRET", "topsecretval"),
                ("FINALE_TIMEZONE", "Mars/Olympus"),
            ],
            "FINALE_TIMEZONE",
        ),
        (
            &[
                ("FINALE_ACCOUNT", "https://app.finaleinventory.com/acme"),
                ("FINALE_API_KEY", "k"),
                ("FINALE_API_SECRET", "topsecretval"),
            ],
            "FINALE_ACCOUNT",
        ),
        (
            &[
                ("FINALE_ACCOUNT", "acme"),
                ("FINALE_API_KEY", "k"),
                ("FINALE_API_SECRET", "topsecretval"),
                ("FINALE_BASE_URL", "ftp://x"),
            ],
            "FINALE_BASE_URL",
        ),
    ];
    for (vars, needle) in cases {
        let err = load(vars).expect_err(needle);
        assert!(matches!(err, ConfigError::Finale { .. }), "{err:?}");
        let shown = full_text(&err);
        assert!(shown.contains(needle), "{shown}");
        assert!(!shown.contains("topsecretval"), "{shown}");
    }

    // The entity cap: the variable overrides the file; bad values are typed errors.
    let cfg = load_file(
        "[finale]\naccount = \"acme\"\ncollection_cap = 1000\n",
        &[
            ("FINALE_API_KEY", "k"),
            ("FINALE_API_SECRET", "s"),
            ("FINALE_COLLECTION_CAP", "2000"),
        ],
    )
    .expect("load");
    assert_eq!(cfg.finale().expect("finale").cap, 2_000);
    let cfg = load(FINALE_OK).expect("load");
    assert_eq!(cfg.finale().expect("finale").cap, 120_000, "the default");
    for bad in ["0", "-1", "lots"] {
        let mut vars = FINALE_OK.to_vec();
        vars.push(("FINALE_COLLECTION_CAP", bad));
        let err = load(&vars).expect_err(bad);
        assert!(
            matches!(
                &err,
                ConfigError::Finale {
                    error: finale::ConfigError::Invalid {
                        var: "FINALE_COLLECTION_CAP",
                        ..
                    },
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    let err = load_file(
        "[finale]\naccount = \"acme\"\ncollection_cap = 0\n",
        &[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")],
    )
    .expect_err("zero cap");
    let msg = err.to_string();
    assert!(
        msg.contains("finale.collection_cap") && msg.contains("FINALE_COLLECTION_CAP"),
        "{msg}"
    );
    let err = load_file(
        "[finale]\naccount = \"acme\"\ncollection_cap = \"many\"\n",
        &[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")],
    )
    .expect_err("not a number");
    assert!(matches!(err, ConfigError::File { .. }), "{err:?}");
    // The timestamps' zone comes from the file too, and a wrong one names its key.
    let cfg = load_file(
        "[finale]\naccount = \"acme\"\ntimezone = \"Australia/Sydney\"\ntimestamps = \"account\"\n",
        &[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")],
    )
    .expect("timestamps from the file");
    let f = cfg.finale().expect("configured");
    assert_eq!(f.timestamps, finale::TimestampZone::Account);
    assert_eq!(f.timestamp_zone(), chrono_tz::Australia::Sydney);
    assert!(
        cfg.describe().contains("timestamps in account"),
        "{}",
        cfg.describe()
    );
    let err = load_file(
        "[finale]\naccount = \"acme\"\ntimestamps = \"local\"\n",
        &[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")],
    )
    .expect_err("bad timestamps");
    let msg = err.to_string();
    assert!(
        msg.contains("finale.timestamps") && msg.contains("local"),
        "{msg}"
    );

    // A wrong value from the file says it came from the file.
    let err = load_file(
        "[finale]\naccount = \"acme\"\ntimezone = \"Mars/Olympus\"\n",
        &[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")],
    )
    .expect_err("bad tz");
    let msg = err.to_string();
    assert!(
        msg.contains("finale.timezone") && msg.contains("Mars/Olympus"),
        "{msg}"
    );
    let err = load_file(
        "[finale]\naccount = \"acme\"\npacked_quantities = \"boxes\"\n",
        &[("FINALE_API_KEY", "k"), ("FINALE_API_SECRET", "s")],
    )
    .expect_err("bad packed quantities");
    let msg = err.to_string();
    assert!(
        msg.contains("finale.packed_quantities") && msg.contains("boxes"),
        "{msg}"
    );
}

#[test]
fn keychain_switch_and_the_real_keychain_fail_soft() {
    // On this machine (and CI) there is usually no Secret Service: the real keychain must
    // answer "absent" quickly, not fail the load.
    let absent = OsKeychain.get("stockpulse-test-entry-that-does-not-exist");
    assert!(absent.is_none());
    let cfg = EngineConfig::load(None, &env_of(FINALE_OK)).expect("load");
    assert!(cfg.finale().is_ok());
    let mut off = FINALE_OK.to_vec();
    off.push(("STOCKPULSE_KEYCHAIN", "off"));
    let cfg = EngineConfig::load(None, &env_of(&off)).expect("load");
    assert!(cfg.finale().is_ok());
    assert!(cfg.store.database_url.is_none());
}

#[test]
fn helpers() {
    assert_eq!(
        without_quoted_values("invalid type: string \"abc\", expected i64"),
        "invalid type: string, expected i64"
    );
    assert_eq!(without_quoted_values("a \"b\" c \"d"), "a c \"d");
    let text = "[sync]\nfull_batch_size = \"x\"\n";
    assert_eq!(
        key_of_value_at(text, 25),
        Some("full_batch_size".to_owned())
    );
    assert_eq!(key_of_value_at(text, 8), None);
    assert_eq!(line_column("ab\ncd\nef", 0), (1, 1));
    assert_eq!(line_column("ab\ncd\nef", 4), (2, 2));
    assert_eq!(line_column("ab\ncd\nef", 100), (3, 3));
    assert_eq!(mask_key("abcdefgh"), "abcd…");
    assert_eq!(mask_key("abc"), "abc");
    assert_eq!(
        SecretSource::Keychain(ENTRY_LOCK_URL).to_string(),
        "keychain stockpulse/lock-url"
    );
}
