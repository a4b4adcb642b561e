//! A private PgBouncer in transaction mode: the stand-in for Supabase's pooler (Supavisor,
//! port 6543) in front of the test server.
//!
//! - **What runs.** [`Pgbouncer::start`] writes a config into a fresh temporary directory and
//!   starts `/usr/sbin/pgbouncer` (or `pgbouncer` from `PATH`) in the foreground on a free
//!   loopback port. Dropping the [`Pgbouncer`] kills the process and removes the directory.
//! - **How it pools.** `pool_mode = transaction`: a client holds a server session only for
//!   one transaction (or one autocommit statement), so nothing tied to a session survives
//!   from one transaction to the next (named prepared statements, `SET`, session advisory
//!   locks). At most `pool_size` server sessions per database (no reserve pool), so
//!   consecutive transactions of different clients really share and swap sessions.
//! - **Where it points.** A `*` wildcard database entry forwards every database name to the
//!   host and port of [`store::testing::admin_url`] (a [`store::testing::TestDb`]'s fresh
//!   database included). Clients log in with `auth_type = trust`; the user must be listed in
//!   the `auth_file`, which also carries the admin URL's password, if any, for the server
//!   login (the file is private to the process; nothing here prints it).
//! - **TLS, as on Supabase.** The client side requires TLS (`client_tls_sslmode = require`)
//!   with a throwaway self-signed certificate made by `openssl`; the URLs from
//!   [`Pgbouncer::url`] say `sslmode=require`. The server side uses the admin URL's own
//!   `sslmode` (plain on the local loopback server).
//! - **Root.** PgBouncer refuses to run as root; as root it is started with `-u postgres` (or
//!   `-u nobody`) and its files are handed to that user.
//! - **Missing binary.** [`Pgbouncer::start`] panics with "install pgbouncer; `make test`
//!   does" (scripts/ensure-deps.sh installs the Debian package).

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use store::testing::admin_url;

/// How long PgBouncer may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running PgBouncer; see the module docs. Killed on drop.
#[derive(Debug)]
pub struct Pgbouncer {
    child: Child,
    port: u16,
    /// The login user (the admin URL's).
    user: String,
    log: PathBuf,
    /// Holds the config, the auth file, the certificate and the log; removed on drop.
    _dir: tempfile::TempDir,
}

/// The server PgBouncer forwards to, from the admin URL.
struct Upstream {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    tls: bool,
}

impl Pgbouncer {
    /// Starts a transaction-mode PgBouncer with at most `pool_size` server sessions per
    /// database (see the module docs). Panics with a clear message when it cannot.
    pub async fn start(pool_size: u32) -> Pgbouncer {
        let bin = binary().unwrap_or_else(|| {
            panic!(
                "pgbouncer not found (looked for /usr/sbin/pgbouncer and PATH): \
                 install pgbouncer; `make test` does (scripts/ensure-deps.sh)"
            )
        });
        let upstream = upstream();
        let run_as = if running_as_root() {
            Some(unprivileged_user())
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("sp-pgbouncer-")
            .tempdir()
            .expect("a temporary directory for pgbouncer");
        let dir_path = dir.path().to_path_buf();
        make_certificate(&dir_path);
        write_private(
            &dir_path.join("users.txt"),
            &format!(
                "{} {}\n",
                quoted(&upstream.user),
                quoted(upstream.password.as_deref().unwrap_or(""))
            ),
        );
        if let Some(user) = &run_as {
            for name in ["", "users.txt", "key.pem", "cert.pem"] {
                std::os::unix::fs::chown(dir_path.join(name), Some(user.uid), Some(user.gid))
                    .expect("hand pgbouncer's files to its user");
            }
        }

        // A free port may be taken by someone else before PgBouncer binds it: retry.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = dir_path.join("pgbouncer.ini");
            write_private(&config, &config_text(&dir_path, port, pool_size, &upstream));
            let log = dir_path.join(format!("pgbouncer-{port}.log"));
            let log_file = fs::File::create(&log).expect("pgbouncer's log file");
            let mut command = Command::new(&bin);
            if let Some(user) = &run_as {
                std::os::unix::fs::chown(&config, Some(user.uid), Some(user.gid))
                    .expect("hand pgbouncer's config to its user");
                command.arg("-u").arg(&user.name);
            }
            let mut child = command
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log file handle"))
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            match wait_until_up(&mut child, port, &log).await {
                Ok(()) => {
                    return Pgbouncer {
                        child,
                        port,
                        user: upstream.user,
                        log,
                        _dir: dir,
                    };
                }
                Err(text) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if !text.contains("Address already in use") {
                        panic!("pgbouncer did not start: {text}");
                    }
                    last_log = text;
                }
            }
        }
        panic!("pgbouncer found no free port in 5 tries:\n{last_log}");
    }

    /// A URL for `database` through the pooler (TLS required, like Supabase's pooler URL).
    /// Carries no password: clients are trusted.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}?sslmode=require",
            self.user, self.port
        )
    }

    /// The same URL without TLS (which this pooler refuses).
    pub fn plaintext_url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.user, self.port
        )
    }

    /// What PgBouncer logged so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        // Already gone is fine; either way reap it so no zombie is left.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until PgBouncer has logged `process up` and accepts TCP connections; on exit or
/// timeout, the log is the error.
async fn wait_until_up(child: &mut Child, port: u16, log: &Path) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if let Some(status) = child.try_wait().expect("poll pgbouncer") {
            return Err(format!("exited with {status}:\n{text}"));
        }
        if text.contains("process up")
            && tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("not up after {START_TIMEOUT:?}:\n{text}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config_text(dir: &Path, port: u16, pool_size: u32, up: &Upstream) -> String {
    let mut text = String::new();
    let server_tls = if up.tls { "require" } else { "disable" };
    // `writeln!` into a String cannot fail.
    let _ = writeln!(
        text,
        "[databases]\n\
         * = host={host} port={up_port}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         logfile =\n\
         pidfile =\n\
         auth_type = trust\n\
         auth_file = {auth}\n\
         pool_mode = transaction\n\
         default_pool_size = {pool_size}\n\
         min_pool_size = 0\n\
         reserve_pool_size = 0\n\
         max_client_conn = 200\n\
         client_tls_sslmode = require\n\
         client_tls_key_file = {key}\n\
         client_tls_cert_file = {cert}\n\
         server_tls_sslmode = {server_tls}",
        host = up.host,
        up_port = up.port,
        auth = dir.join("users.txt").display(),
        key = dir.join("key.pem").display(),
        cert = dir.join("cert.pem").display(),
    );
    text
}

/// The pgbouncer binary: Debian's, or the first on `PATH`.
fn binary() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/pgbouncer");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file())
    })
}

fn upstream() -> Upstream {
    let admin = url::Url::parse(&admin_url()).expect("TEST_DATABASE_URL is a postgres:// URL");
    let host = admin.host_str().unwrap_or("127.0.0.1");
    let host = percent_encoding::percent_decode_str(host)
        .decode_utf8_lossy()
        .into_owned();
    let user = match admin.username() {
        "" => "postgres".to_owned(),
        u => percent_encoding::percent_decode_str(u)
            .decode_utf8_lossy()
            .into_owned(),
    };
    let password = admin.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let tls = admin.query_pairs().any(|(k, v)| {
        k == "sslmode" && matches!(v.as_ref(), "require" | "verify-ca" | "verify-full")
    });
    Upstream {
        host,
        port: admin.port().unwrap_or(5432),
        user,
        password,
        tls,
    }
}

/// An auth-file field: `"..."` with `"` doubled.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Writes a file only its owner can read (the auth file may hold a password).
fn write_private(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A self-signed certificate and its key (`cert.pem`, `key.pem`) in `dir`.
fn make_certificate(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "2",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl for the pooler's certificate ({e}): install openssl")
        });
    assert!(
        status.success(),
        "openssl could not make a certificate: {status}"
    );
    fs::set_permissions(dir.join("key.pem"), fs::Permissions::from_mode(0o600))
        .expect("chmod key.pem");
}

/// A loopback port nobody listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Whether this process runs as root (`/proc/self` belongs to the effective user).
fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The user PgBouncer switches to when started by root.
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

fn unprivileged_user() -> RunAs {
    let passwd = fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    ["postgres", "nobody"]
        .iter()
        .find_map(|wanted| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                if name != *wanted {
                    return None;
                }
                let uid = fields.nth(1)?.parse().ok()?;
                let gid = fields.next()?.parse().ok()?;
                Some(RunAs {
                    name: name.to_owned(),
                    uid,
                    gid,
                })
            })
        })
        .expect("pgbouncer refuses to run as root, and there is no postgres or nobody user")
}
