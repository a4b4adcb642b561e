//! A generated local store for benchmarks and tests (cargo feature `fixture`): rows written
//! straight into SQLite, no engine, no Finale.
//!
//! [`generate`] fills a freshly migrated local store with `products` products (SKU
//! `SKU-000001` …) and what the queries read: suppliers (parties) and 1–2 supplier links per
//! product (supplier SKU `<supplier code>-<n>`, price, lead time), reorder guidelines for about
//! 70 % of products at one or two locations (a few product-wide, a few do-not-reorder),
//! stock at [`LOCATIONS`] locations with two sublocations each (some stock held directly at
//! a location), two years of daily sales for about [`SELLING_SHARE`] of the products, and
//! the seed's `inventory_items` derived from all that as the engine derives it (available =
//! on hand − reserved, velocities over 30 and 90 days, days of stock). Deterministic for a
//! seed. The search index and reorder levels fill through the migration's triggers, so a
//! load also measures their cost.

use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, params};

use crate::CacheError;

/// Locations generated (each with two sublocations).
pub const LOCATIONS: usize = 3;
/// Share of products that sell.
pub const SELLING_SHARE: f64 = 0.3;
/// Suppliers generated.
pub const SUPPLIERS: usize = 40;

const LOCATION_NAMES: [&str; LOCATIONS] = ["Main Warehouse", "East Depot", "Retail Store"];
const ADJECTIVES: [&str; 12] = [
    "Blue", "Red", "Heavy", "Light", "Compact", "Deluxe", "Steel", "Oak", "Carbon", "Matte",
    "Glossy", "Mini",
];
const NOUNS: [&str; 12] = [
    "Widget", "Gadget", "Bracket", "Hinge", "Valve", "Sprocket", "Gasket", "Fitting", "Clamp",
    "Bolt", "Spring", "Cable",
];
const CATEGORIES: [&str; 6] = [
    "Hardware",
    "Plumbing",
    "Electrical",
    "Garden",
    "Tools",
    "Parts",
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct FixtureSpec {
    /// Number of products.
    pub products: usize,
    /// RNG seed.
    pub seed: u64,
    /// The last day with sales (velocities are computed as of this day).
    pub today: NaiveDate,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixtureReport {
    /// Products.
    pub products: u64,
    /// Stock rows.
    pub stock_rows: u64,
    /// Daily sales rows.
    pub sales_rows: u64,
}

/// The URL of generated product `n` (1-based).
pub fn product_url(n: usize) -> String {
    format!("/demo/api/product/{n:06}")
}

/// The URL of generated location `i` (0-based).
pub fn location_url(i: usize) -> String {
    format!("/demo/api/facility/L{i}")
}

/// The URL of generated supplier `i` (0-based).
pub fn supplier_url(i: usize) -> String {
    format!("/demo/api/partygroup/S{i:02}")
}

fn hash(rng: &mut StdRng) -> Vec<u8> {
    (0..32).map(|_| rng.random::<u8>()).collect()
}

/// Fills `conn` (a freshly migrated, empty local store) with generated rows in one
/// transaction; see the module docs.
pub fn generate(conn: &mut Connection, spec: &FixtureSpec) -> Result<FixtureReport, CacheError> {
    let q = |what: &'static str| CacheError::sqlite(what);
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let tx = conn.transaction().map_err(q("begin the fixture"))?;
    let mut report = FixtureReport::default();
    {
        let mut fac = tx
            .prepare(
                "INSERT INTO facilities (url, facility_id, name, parent_url, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(q("prepare facilities"))?;
        for (i, name) in LOCATION_NAMES.iter().enumerate() {
            fac.execute(params![
                location_url(i),
                format!("L{i}"),
                name,
                None::<String>,
                hash(&mut rng)
            ])
            .map_err(q("insert a location"))?;
            for j in 0..2 {
                fac.execute(params![
                    format!("{}-{j}", location_url(i)),
                    format!("L{i}-{j}"),
                    format!("{name} bin {}", j + 1),
                    location_url(i),
                    hash(&mut rng)
                ])
                .map_err(q("insert a sublocation"))?;
            }
        }
        let mut party = tx
            .prepare(
                "INSERT INTO parties (url, party_id, name, roles, content_hash)
                 VALUES (?1, ?2, ?3, '[\"SUPPLIER\"]', ?4)",
            )
            .map_err(q("prepare parties"))?;
        for i in 0..SUPPLIERS {
            party
                .execute(params![
                    supplier_url(i),
                    format!("S{i:02}"),
                    format!("Supplier {i:02} {}", NOUNS[i % NOUNS.len()]),
                    hash(&mut rng)
                ])
                .map_err(q("insert a supplier"))?;
        }
        let mut prod = tx
            .prepare(
                "INSERT INTO products (url, sku, name, status, category, upc, cost,
                        lead_time_days, list_price, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(q("prepare products"))?;
        let mut sup = tx
            .prepare(
                "INSERT INTO product_suppliers (product_url, seq, supplier_url, supplier_sku,
                        is_main, price, currency, lead_time_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'USD', ?7)",
            )
            .map_err(q("prepare supplier links"))?;
        let mut gl = tx
            .prepare(
                "INSERT INTO reorder_guidelines (product_url, seq, facility_url, reorder_point,
                        reorder_qty, calculation_method)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(q("prepare guidelines"))?;
        let mut st = tx
            .prepare(
                "INSERT INTO stock (product_url, facility_url, on_hand, reserved, on_order,
                        content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(q("prepare stock"))?;
        let mut sale = tx
            .prepare(
                "INSERT INTO daily_sales (product_url, day, units, revenue) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(q("prepare daily sales"))?;
        let mut item = tx
            .prepare(
                "INSERT INTO inventory_items (sku, finale_id, name, stock, available,
                        reorder_point, reorder_quantity, cost, price, sales_velocity,
                        sales_velocity_90d, days_of_stock, status, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .map_err(q("prepare items"))?;
        let days: Vec<String> = (0..730u64)
            .map(|d| {
                spec.today
                    .checked_sub_days(Days::new(729 - d))
                    .unwrap_or(spec.today)
                    .format("%Y-%m-%d")
                    .to_string()
            })
            .collect();
        for n in 1..=spec.products {
            let url = product_url(n);
            let sku = format!("SKU-{n:06}");
            let name = format!(
                "{} {} {}mm",
                ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
                NOUNS[rng.random_range(0..NOUNS.len())],
                rng.random_range(2..200)
            );
            let status = if rng.random_bool(0.05) {
                "PRODUCT_INACTIVE"
            } else {
                "PRODUCT_ACTIVE"
            };
            let cost = f64::from(rng.random_range(50..50_000u32)) / 100.0;
            let price = (cost * 1.6 * 100.0).round() / 100.0;
            let upc = format!("{:012}", 100_000_000_000u64 + n as u64 * 7919);
            let lead = f64::from(rng.random_range(3..45u32));
            prod.execute(params![
                url,
                sku,
                name,
                status,
                CATEGORIES[n % CATEGORIES.len()],
                upc,
                cost,
                lead,
                price,
                hash(&mut rng)
            ])
            .map_err(q("insert a product"))?;
            report.products += 1;
            let links = rng.random_range(1..=2usize);
            for seq in 0..links {
                let s = rng.random_range(0..SUPPLIERS);
                sup.execute(params![
                    url,
                    seq as i64,
                    supplier_url(s),
                    format!("V{s:02}-{}", n * 13 + seq),
                    seq == 0,
                    (cost * 0.9 * 100.0).round() / 100.0,
                    rng.random_bool(0.8)
                        .then(|| f64::from(rng.random_range(5..60u32))),
                ])
                .map_err(q("insert a supplier link"))?;
            }
            // Guidelines.
            let (mut rp_total, mut rq_total): (Option<f64>, Option<f64>) = (None, None);
            let mut guided: Vec<(usize, f64)> = Vec::new();
            if rng.random_bool(0.7) {
                let kind = rng.random_range(0..20);
                let locs: Vec<Option<usize>> = if kind == 0 {
                    vec![None]
                } else if kind < 6 {
                    vec![Some(0), Some(1)]
                } else {
                    vec![Some(rng.random_range(0..LOCATIONS))]
                };
                for (seq, loc) in locs.into_iter().enumerate() {
                    let rp = f64::from(rng.random_range(5..40u32));
                    if let Some(l) = loc {
                        guided.push((l, rp));
                    }
                    let loc = loc.map(location_url);
                    let rq = f64::from(rng.random_range(10..100u32));
                    let dnr = kind == 19;
                    gl.execute(params![
                        url,
                        seq as i64,
                        loc,
                        rp,
                        rq,
                        dnr.then_some("##doNotReorder")
                    ])
                    .map_err(q("insert a guideline"))?;
                    if !dnr {
                        rp_total = Some(rp_total.unwrap_or(0.0) + rp);
                        rq_total = Some(rq_total.unwrap_or(0.0) + rq);
                    }
                }
            }
            // Stock at each location with a guideline (at or below its point about one time
            // in ten), then at 0–3 more facilities.
            let (mut on_hand, mut reserved) = (0.0, 0.0);
            let mut places: Vec<(usize, Option<f64>)> =
                guided.iter().map(|&(l, rp)| (l, Some(rp))).collect();
            for _ in 0..rng.random_range(0..=3usize) {
                places.push((rng.random_range(0..LOCATIONS), None));
            }
            let mut used = Vec::new();
            for (l, rp) in places {
                let f = match rng.random_range(0..5) {
                    0 => location_url(l),
                    k => format!("{}-{}", location_url(l), k % 2),
                };
                if used.contains(&f) {
                    continue;
                }
                let oh = match rp {
                    Some(rp) if rng.random_bool(0.1) => f64::from(rng.random_range(0..=rp as u32)),
                    Some(rp) => rp + f64::from(rng.random_range(25..150u32)),
                    None if rng.random_bool(0.06) => 0.0,
                    None => f64::from(rng.random_range(0..120u32)),
                };
                let rs = if oh > 0.0 && rng.random_bool(0.2) {
                    f64::from(rng.random_range(0..=(oh as u32).min(10)))
                } else {
                    0.0
                };
                let oo = if rng.random_bool(0.15) {
                    f64::from(rng.random_range(1..50u32))
                } else {
                    0.0
                };
                st.execute(params![url, f, oh, rs, oo, hash(&mut rng)])
                    .map_err(q("insert stock"))?;
                used.push(f);
                report.stock_rows += 1;
                on_hand += oh;
                reserved += rs;
            }
            // Two years of sales for the selling share.
            let (mut u30, mut u90) = (0.0, 0.0);
            if rng.random_bool(SELLING_SHARE) {
                let p = rng.random_range(0.02..0.3);
                for (d, day) in days.iter().enumerate() {
                    if rng.random_bool(p) {
                        let units = f64::from(rng.random_range(1..6u32));
                        sale.execute(params![url, day, units, units * price])
                            .map_err(q("insert a daily sale"))?;
                        report.sales_rows += 1;
                        if d >= 730 - 30 {
                            u30 += units;
                        }
                        if d >= 730 - 90 {
                            u90 += units;
                        }
                    }
                }
            }
            let available = on_hand - reserved;
            let v30 = round6(u30 / 30.0);
            let v90 = round6(u90 / 90.0);
            let dos = (v30 > 0.0).then(|| round6(available.max(0.0) / v30));
            item.execute(params![
                sku,
                url,
                name,
                on_hand,
                available,
                rp_total,
                rq_total,
                cost,
                price,
                v30,
                v90,
                dos,
                status,
                hash(&mut rng)
            ])
            .map_err(q("insert an item"))?;
        }
    }
    tx.commit().map_err(q("commit the fixture"))?;
    Ok(report)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
