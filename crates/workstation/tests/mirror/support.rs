//! Shared set-up: a fresh store with a small synthetic account, a mirror into a temp file,
//! and an independent table-by-table comparison of store and cache.

use std::path::PathBuf;

use store::testing::TestDb;
use workstation::events::Bus;
use workstation::mirror::{Mirror, MirrorConfig};

pub struct Setup {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub async fn new(products: i32) -> Setup {
        let db = TestDb::migrated().await.expect("test database");
        seed(db.client(), products).await;
        Setup {
            db,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn cache_path(&self) -> PathBuf {
        self.dir.path().join("cache.db")
    }

    pub fn mirror(&self) -> Mirror {
        mirror_of(self.db.url(), &self.cache_path())
    }

    pub async fn sql(&self, sql: &str) {
        self.db
            .client()
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn local(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.cache_path()).expect("open the cache")
    }

    /// Asserts the cache equals the store, table by table, on every visible column.
    pub async fn assert_converged(&self) {
        let diffs = workstation::testing::differences(self.db.client(), &self.local()).await;
        assert!(
            diffs.is_empty(),
            "the cache differs from the store:\n{}",
            diffs.join("\n")
        );
    }
}

/// A mirror of the store at `url` into the cache file at `path`.
pub fn mirror_of(url: &str, path: &std::path::Path) -> Mirror {
    Mirror::open(
        MirrorConfig {
            database_url: url.to_owned(),
            lock_url: None,
            local_path: path.to_path_buf(),
        },
        Bus::default(),
    )
    .expect("open the mirror")
}

/// A small account written with plain SQL (any writer reaches the mirrors, not only the
/// engine).
pub async fn seed(client: &tokio_postgres::Client, n: i32) {
    let sql = format!(
        "
INSERT INTO facilities (url, facility_id, name, parent_url, content_hash)
SELECT '/acme/api/facility/' || g, g::text, 'Location ' || g,
       CASE WHEN g > 2 THEN '/acme/api/facility/' || (g % 2 + 1) END, sha256(g::text::bytea)
  FROM generate_series(1, 6) g;
INSERT INTO parties (url, party_id, name, roles, user_fields, content_hash)
SELECT '/acme/api/partygroup/' || g, g::text, 'Supplier ' || g, ARRAY['SUPPLIER'],
       jsonb_build_object('rating', g), sha256(('p' || g)::bytea)
  FROM generate_series(1, 5) g;
INSERT INTO products (url, sku, name, upc, cost, list_price, lead_time_days, user_fields,
                      finale_last_updated, content_hash)
SELECT '/acme/api/product/' || g, 'SKU-' || g, 'Product ' || g, lpad(g::text, 12, '0'),
       g * 1.25, g * 2.5, 7, '{{}}', now() - make_interval(hours => g), sha256(('x' || g)::bytea)
  FROM generate_series(1, {n}) g;
INSERT INTO product_suppliers (product_url, seq, supplier_url, supplier_sku, price, lead_time_days)
SELECT '/acme/api/product/' || g, s, '/acme/api/partygroup/' || (g % 5 + 1), 'SUP-' || g || '-' || s,
       g * 1.1, 10 + s
  FROM generate_series(1, {n}) g, generate_series(0, 1) s;
INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point, reorder_qty)
SELECT '/acme/api/product/' || g, 0, '/acme/api/facility/1', 10, 50
  FROM generate_series(1, {n}) g;
INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order, content_hash)
SELECT '/acme/api/product/' || g, '/acme/api/facility/' || f, (g * f) % 40, 1, 0,
       sha256((g || '-' || f)::bytea)
  FROM generate_series(1, {n}) g, generate_series(3, 6) f;
INSERT INTO inventory_items (sku, finale_id, name, stock, reorder_point, cost, price,
                             finale_last_sync, content_hash)
SELECT 'SKU-' || g, '/acme/api/product/' || g, 'Product ' || g, g % 40, 10, g * 1.25, g * 2.5,
       now(), sha256(('i' || g)::bytea)
  FROM generate_series(1, {n}) g;
INSERT INTO orders (url, order_id, order_type, status, order_date, order_day, party_url, total,
                    content_hash)
SELECT '/acme/api/order/' || g, 'SO-' || g, 'SALES_ORDER', 'ORDER_COMPLETED',
       now() - make_interval(days => g % 700), (now() - make_interval(days => g % 700))::date,
       '/acme/api/partygroup/1', g, sha256(('o' || g)::bytea)
  FROM generate_series(1, {n} * 2) g;
INSERT INTO order_lines (order_url, seq, product_url, quantity, unit_price)
SELECT '/acme/api/order/' || g, s, '/acme/api/product/' || ((g + s) % {n} + 1), 1 + s, 9.5
  FROM generate_series(1, {n} * 2) g, generate_series(0, 2) s;
INSERT INTO daily_sales (product_url, day, units, revenue)
SELECT '/acme/api/product/' || g, current_date - d, g % 7, (g % 7) * 9.5
  FROM generate_series(1, {n}) g, generate_series(0, 9) d;
INSERT INTO sync_runs (strategy, started_at, finished_at, duration_ms, success, error_patterns, requests)
VALUES ('full', now() - interval '1 hour', now(), 3600000, true, '[]', '{{\"get\": 3}}');
INSERT INTO sync_errors (run_id, collection, record_key, reason, raw_payload, at)
SELECT id, 'product', '/acme/api/product/x', 'bad number', '{{\"x\": 1}}', now() FROM sync_runs;
"
    );
    client.batch_execute(&sql).await.expect("seed the store");
}

/// The cache's applied position.
pub fn position(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT position FROM mirror_state", [], |r| r.get(0))
        .expect("a position")
}

/// A private Postgres cluster of this test's own (initdb + pg_ctl on a free port), so a test
/// can restart the server under a live mirror without disturbing anyone else's.
pub struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
}

fn as_postgres(cmd: &std::path::Path, args: &[&str]) -> std::process::Output {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let out = if root {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(cmd)
            .args(args)
            .output()
    } else {
        std::process::Command::new(cmd).args(args).output()
    };
    let out = out.unwrap_or_else(|e| panic!("run {}: {e}", cmd.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        cmd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PrivateCluster {
    pub fn start() -> PrivateCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect(
                "PostgreSQL server binaries under /usr/lib/postgresql (make test installs them)",
            )
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("port")
            .port();
        let data = PathBuf::from(format!("/var/tmp/stockpulse-test-pg-{port}"));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("data dir");
        let _ = std::process::Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&data)
            .status();
        let d = data.to_string_lossy().to_string();
        as_postgres(
            &bin.join("initdb"),
            &["-D", &d, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        let c = PrivateCluster { bin, data, port };
        c.pg_ctl("start");
        c
    }

    fn pg_ctl(&self, what: &str) {
        let d = self.data.to_string_lossy().to_string();
        let log = format!("{d}/server.log");
        let opts = format!("-p {} -k /tmp -c listen_addresses=127.0.0.1", self.port);
        as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &d, "-l", &log, "-w", "-m", "fast", "-o", &opts, what],
        );
    }

    /// Stops and starts the server (every connection is lost).
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let d = self.data.to_string_lossy().to_string();
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &d, "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
