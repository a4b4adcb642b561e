//! The seeded data generator.
//!
//! [`generate`] turns `(account, seed, size, anchor)` into a [`Dataset`]: facilities, party
//! groups, products, two years of orders ending at `anchor`, shipments of completed orders and
//! the stock rows that follow from all of it. One `ChaCha8Rng` seeded from `seed` drives
//! everything in a fixed order, all timestamps are whole seconds, and no hash-map iteration
//! order leaks into the output, so the same inputs give the same dataset (and therefore
//! byte-identical HTTP bodies) on every run and platform.
//!
//! Realism that the client must cope with, all on purpose:
//! - product URL ≠ SKU for ~10 % of products (numeric internal id), SKUs with spaces or `/`
//!   percent-encoded in URLs, unicode names;
//! - orders with odd ids (`PO-20011-DropshipPO`, `SO-100301 B`), seasonality (weekly and yearly
//!   cycle) and a long tail of product popularity (Zipf-like);
//! - status mix: mostly completed, recent ones locked, some cancelled and stale drafts;
//! - stock rows with lots and case packings; ~3 % of products out of stock, some at or below
//!   their reorder point; on-order and reserved rows for committed orders;
//! - reorder rules (one per location, ~5 % "do not reorder") kept for the locations that
//!   hold the product, and ~5 % of the others (a location that ran dry).

use std::f64::consts::TAU;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc, Weekday};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Size;
use crate::model::*;

/// Characters kept verbatim in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one URL path segment (`"Ocean 1"` → `"Ocean%201"`, `"A/B"` → `"A%2FB"`).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Counts that define a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeParams {
    /// Locations (warehouses).
    pub locations: usize,
    /// Ordinary sublocations per location (one extra transit sublocation per account).
    pub sublocations_per_location: usize,
    /// Supplier party groups.
    pub suppliers: usize,
    /// Customer party groups.
    pub customers: usize,
    /// Products.
    pub products: usize,
    /// Target number of order lines over two years.
    pub order_lines: usize,
}

impl SizeParams {
    /// The numbers for a [`Size`].
    pub fn of(size: Size) -> Self {
        match size {
            Size::Small => Self {
                locations: 2,
                sublocations_per_location: 3,
                suppliers: 10,
                customers: 30,
                products: 200,
                order_lines: 2_000,
            },
            Size::Medium => Self {
                locations: 3,
                sublocations_per_location: 6,
                suppliers: 60,
                customers: 800,
                products: 5_000,
                order_lines: 100_000,
            },
            Size::Large => Self {
                locations: 5,
                sublocations_per_location: 10,
                suppliers: 300,
                customers: 5_000,
                products: 50_000,
                order_lines: 1_000_000,
            },
        }
    }
}

/// Who "did" generated status changes.
fn user_login_url(account: &str) -> String {
    format!("/{account}/api/userlogin/ops")
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

const LOCATION_NAMES: &[&str] = &[
    "Main Warehouse",
    "East Depot",
    "West Depot",
    "North Store",
    "South Hub",
    "Dock Annex",
];
const COMPANY_A: &[&str] = &[
    "Northwind",
    "Contoso",
    "Globex",
    "Initech",
    "Umbrella",
    "Blue Ridge",
    "Pacific",
    "Summit",
    "Redwood",
    "Harbor",
    "Granite",
    "Evergreen",
    "Café Lumière",
    "Müller & Söhne",
    "Østfold",
    "Sakura 桜",
];
const COMPANY_B: &[&str] = &[
    "Supply",
    "Trading",
    "Industries",
    "Wholesale",
    "Imports",
    "Goods",
    "Outfitters",
    "Co.",
];
const CATEGORIES: &[(&str, &str)] = &[
    ("WID", "Widgets"),
    ("GAD", "Gadgets"),
    ("BLT", "Fasteners"),
    ("CBL", "Cables"),
    ("LMP", "Lighting"),
    ("MUG", "Kitchen"),
    ("TEE", "Apparel"),
    ("TOY", "Toys"),
];
const ADJECTIVES: &[&str] = &[
    "Compact",
    "Deluxe",
    "Heavy-duty",
    "Classic",
    "Mini",
    "Pro",
    "Eco",
    "Rugged",
    "Slim",
];
const NOUNS: &[&str] = &[
    "widget", "gadget", "bolt set", "cable", "lamp", "mug", "t-shirt", "puzzle", "bracket",
];
const COLORS: &[&str] = &["blue", "red", "black", "white", "green", "steel", "oak"];
const UNICODE_NAMES: &[&str] = &[
    "Café crème mug",
    "抹茶 tea tin",
    "Rocket 🚀 sticker pack",
    "Ñandú plush toy",
    "Smørrebrød board",
    "Crème brûlée torch",
    "東京 city map",
    "Größe XL work gloves",
];

/// Generates the dataset for `(seed, size, anchor)` under account `account`.
pub fn generate(account: &str, seed: u64, size: Size, anchor: DateTime<Utc>) -> Dataset {
    let p = SizeParams::of(size);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let anchor = ts(anchor.timestamp());
    let a = anchor.timestamp();
    let day = 86_400i64;
    let api = format!("/{account}/api");
    let login = user_login_url(account);

    // ---------------------------------------------------------------- facilities
    let mut facilities = Vec::new();
    let mut next_fac = 10_000u32;
    let fac_created = a - 3 * 365 * day;
    let mut locations: Vec<String> = Vec::new();
    let mut subs_of: Vec<Vec<String>> = Vec::new();
    for li in 0..p.locations {
        let id = next_fac;
        next_fac += 1;
        let url = format!("{api}/facility/{id}");
        let created = fac_created + rng.random_range(0..30 * day);
        facilities.push(Facility {
            facility_id: id.to_string(),
            facility_url: url.clone(),
            facility_name: LOCATION_NAMES[li % LOCATION_NAMES.len()].to_owned(),
            status_id: "FACILITY_ACTIVE".into(),
            parent_facility_url: None,
            kind: FacilityKind::Location,
            shipping_disabled: false,
            receiving_disabled: false,
            created_date: ts(created),
            last_updated_date: ts(created + rng.random_range(0..400 * day)),
        });
        locations.push(url);
        subs_of.push(Vec::new());
    }
    for (li, loc) in locations.iter().enumerate() {
        for si in 0..p.sublocations_per_location {
            let id = next_fac;
            next_fac += 1;
            let url = format!("{api}/facility/{id}");
            let created = fac_created + rng.random_range(30 * day..60 * day);
            let aisle = (b'A' + (si / 4) as u8) as char;
            facilities.push(Facility {
                facility_id: id.to_string(),
                facility_url: url.clone(),
                facility_name: format!("{aisle}-{:02}", si % 4 + 1),
                status_id: "FACILITY_ACTIVE".into(),
                parent_facility_url: Some(loc.clone()),
                kind: FacilityKind::Sublocation,
                shipping_disabled: false,
                receiving_disabled: false,
                created_date: ts(created),
                last_updated_date: ts(created + rng.random_range(0..500 * day)),
            });
            subs_of[li].push(url);
        }
    }
    let transit_url = {
        let id = next_fac;
        let url = format!("{api}/facility/{id}");
        let created = fac_created + 60 * day;
        facilities.push(Facility {
            facility_id: id.to_string(),
            facility_url: url.clone(),
            facility_name: "In transit".into(),
            status_id: "FACILITY_ACTIVE".into(),
            parent_facility_url: Some(locations[0].clone()),
            kind: FacilityKind::Transit,
            shipping_disabled: true,
            receiving_disabled: true,
            created_date: ts(created),
            last_updated_date: ts(created),
        });
        url
    };
    let all_subs: Vec<String> = subs_of.iter().flatten().cloned().collect();

    // ---------------------------------------------------------------- party groups
    let mut parties = Vec::new();
    let mut contact_id = 50_000u32;
    let mut mk_party =
        |rng: &mut ChaCha8Rng, party_id: String, name: String, roles: Vec<String>, created: i64| {
            let slug: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            let slug = if slug.is_empty() {
                format!("p{party_id}")
            } else {
                slug
            };
            let mut cm = vec![ContactMech {
                contact_mech_id: contact_id.to_string(),
                contact_mech_type_id: "EMAIL_ADDRESS".into(),
                contact_mech_purpose_type_id: "WORK_EMAIL".into(),
                info_string: Some(format!("orders+{party_id}@{slug}.example")),
                address1: None,
                city: None,
                postal_code: None,
                country_geo_id: None,
            }];
            contact_id += 1;
            if rng.random_bool(0.5) {
                cm.push(ContactMech {
                    contact_mech_id: contact_id.to_string(),
                    contact_mech_type_id: "TELECOM_NUMBER".into(),
                    contact_mech_purpose_type_id: "PHONE_WORK".into(),
                    info_string: Some(format!("+1 555 {:04}", rng.random_range(0..10_000))),
                    address1: None,
                    city: None,
                    postal_code: None,
                    country_geo_id: None,
                });
                contact_id += 1;
            }
            let disabled = party_id != "PRIMARY" && rng.random_bool(0.03);
            PartyGroup {
                party_url: format!("{api}/partygroup/{party_id}"),
                party_id,
                group_name: name,
                role_type_id_list: roles,
                status_id: if disabled {
                    "PARTY_DISABLED"
                } else {
                    "PARTY_ENABLED"
                }
                .into(),
                contact_mech_list: cm,
                user_field_data_list: Vec::new(),
                created_date: ts(created),
                last_updated_date: ts(created + rng.random_range(0..(a - created).max(1))),
            }
        };
    parties.push(mk_party(
        &mut rng,
        "PRIMARY".into(),
        "Acme Trading Co.".into(),
        Vec::new(),
        fac_created,
    ));
    let mut next_party = 10_000u32;
    let mut supplier_urls = Vec::new();
    let mut supplier_ids = Vec::new();
    for i in 0..p.suppliers {
        let name = format!(
            "{} {}{}",
            COMPANY_A[i % COMPANY_A.len()],
            COMPANY_B[(i / COMPANY_A.len()) % COMPANY_B.len()],
            if i >= COMPANY_A.len() * COMPANY_B.len() {
                format!(" {i}")
            } else {
                String::new()
            }
        );
        let created = fac_created + rng.random_range(0..365 * day);
        let pg = mk_party(
            &mut rng,
            next_party.to_string(),
            name,
            vec!["SUPPLIER".into()],
            created,
        );
        supplier_urls.push(pg.party_url.clone());
        supplier_ids.push(pg.party_id.clone());
        parties.push(pg);
        next_party += 1;
    }
    let mut customer_ids = Vec::new();
    for i in 0..p.customers {
        let name = format!(
            "{} Customer {}",
            COMPANY_A[(i * 7) % COMPANY_A.len()],
            i + 1
        );
        let created = fac_created + rng.random_range(0..(3 * 365 - 10) * day);
        let pg = mk_party(
            &mut rng,
            next_party.to_string(),
            name,
            vec!["CUSTOMER".into()],
            created,
        );
        customer_ids.push(pg.party_id.clone());
        parties.push(pg);
        next_party += 1;
    }

    // ---------------------------------------------------------------- products
    let mut ranks: Vec<usize> = (0..p.products).collect();
    ranks.shuffle(&mut rng);
    let mut products = Vec::with_capacity(p.products);
    for (i, &rank) in ranks.iter().enumerate() {
        let (pfx, category) = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
        let roll: f64 = rng.random();
        let sku = if roll < 0.02 {
            format!("{pfx} {}", 1000 + i)
        } else if roll < 0.04 {
            format!("{pfx}/{}", 1000 + i)
        } else {
            format!("{pfx}-{:05}", 1000 + i)
        };
        let url = if rng.random_bool(0.10) {
            format!("{api}/product/{}", 100_000 + i)
        } else {
            format!("{api}/product/{}", encode_segment(&sku))
        };
        let name = if rng.random_bool(0.05) {
            UNICODE_NAMES[rng.random_range(0..UNICODE_NAMES.len())].to_owned()
        } else {
            format!(
                "{} {}, {}",
                ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
                NOUNS[rng.random_range(0..NOUNS.len())],
                COLORS[rng.random_range(0..COLORS.len())]
            )
        };
        let inactive = rng.random_bool(0.05);
        let cost = round2((rng.random_range(0.0f64..6.0)).exp().max(0.5));
        let list = round2(cost * rng.random_range(1.3..2.5));
        let case_units = if rng.random_bool(0.15) {
            Some([6u32, 12, 24, 36][rng.random_range(0..4)])
        } else {
            None
        };
        let mut price_list = vec![PriceRow {
            product_price_type_id: "LIST_PRICE".into(),
            price: list,
            currency_uom_id: "USD".into(),
        }];
        if let Some(n) = case_units {
            price_list.push(PriceRow {
                product_price_type_id: "LIST_CASE_PRICE".into(),
                price: round2(list * f64::from(n) * 0.95),
                currency_uom_id: "USD".into(),
            });
        }
        let n_sup = rng.random_range(1..=3usize.min(p.suppliers.max(1)));
        let mut supplier_list: Vec<SupplierRow> = Vec::with_capacity(n_sup);
        while supplier_list.len() < n_sup {
            let s = rng.random_range(0..p.suppliers);
            if supplier_list
                .iter()
                .any(|r| r.supplier_party_url == supplier_urls[s])
            {
                continue;
            }
            let main = supplier_list.is_empty();
            supplier_list.push(SupplierRow {
                supplier_party_url: supplier_urls[s].clone(),
                supplier_pref_order_id: if main {
                    "10_MAIN_SUPPL"
                } else {
                    "20_ALTERNATE_SUPPL"
                }
                .into(),
                supplier_product_id: format!("S{}-{}", s, rng.random_range(1000..99_999)),
                price: round2(cost * rng.random_range(0.9..1.1)),
                currency_uom_id: "USD".into(),
                lead_time: Some(f64::from(rng.random_range(2u32..45))),
            });
        }
        let popularity = 1.0 / ((rank + 1) as f64).powf(1.07);
        let reorder_guideline_list = locations
            .iter()
            .map(|loc| {
                let dnr = rng.random_bool(0.05);
                let rp = (2.0 + popularity * 400.0 + rng.random_range(0.0..10.0)).round();
                ReorderGuideline {
                    facility_url: loc.clone(),
                    reorder_point: rp,
                    reorder_quantity: (rp * rng.random_range(1.5..4.0)).round(),
                    reorder_calculation_method_id: dnr.then(|| "##doNotReorder".to_owned()),
                }
            })
            .collect();
        let user_field_data_list = if rng.random_bool(0.3) {
            vec![UserFieldData {
                attr_name: "user_10000".into(),
                attr_value: format!("aisle {}", rng.random_range(1..20)),
            }]
        } else {
            Vec::new()
        };
        let created = if rng.random_bool(0.9) {
            a - rng.random_range(2 * 365 * day..3 * 365 * day)
        } else {
            a - rng.random_range(7 * day..2 * 365 * day)
        };
        let updated = created + rng.random_range(0..(a - created).max(1));
        products.push(Product {
            product_id: Arc::from(sku.as_str()),
            product_url: Arc::from(url.as_str()),
            internal_name: name,
            status_id: if inactive {
                "PRODUCT_INACTIVE"
            } else {
                "PRODUCT_ACTIVE"
            }
            .into(),
            product_type_id: "GOOD".into(),
            user_category: Some(category.to_owned()),
            universal_product_code: rng.random_bool(0.9).then(|| {
                format!(
                    "{:012}",
                    rng.random_range(10_000_000_000u64..999_999_999_999)
                )
            }),
            cost: Some(cost),
            lead_time: supplier_list.first().and_then(|s| s.lead_time),
            normalized_packing_string: case_units.map(|n| format!("{n} cs {n}/1")),
            supplier_list,
            price_list,
            reorder_guideline_list,
            user_field_data_list,
            popularity,
            created_date: ts(created),
            last_updated_date: ts(updated),
        });
    }
    // Cumulative popularity for weighted sampling.
    let mut cumulative = Vec::with_capacity(products.len());
    let mut acc = 0.0;
    for pr in &products {
        acc += pr.popularity;
        cumulative.push(acc);
    }
    let pick_product = |rng: &mut ChaCha8Rng| -> usize {
        let x = rng.random_range(0.0..acc);
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len() - 1)
    };

    // ---------------------------------------------------------------- orders + shipments
    const LINES_PER_ORDER: &[usize] = &[1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8];
    let avg_lines = LINES_PER_ORDER.iter().sum::<usize>() as f64 / LINES_PER_ORDER.len() as f64;
    let n_orders = ((p.order_lines as f64) / avg_lines).round() as usize;
    let start = a - 730 * day;
    let mut times: Vec<i64> = Vec::with_capacity(n_orders);
    while times.len() < n_orders {
        let t = rng.random_range(start..a);
        let dt = ts(t);
        let yearly = 1.0 + 0.35 * (TAU * f64::from(dt.ordinal()) / 365.25).cos();
        let weekly = match dt.weekday() {
            Weekday::Sat | Weekday::Sun => 0.45,
            Weekday::Mon => 1.2,
            _ => 1.0,
        };
        let growth = 0.8 + 0.4 * ((t - start) as f64 / (a - start) as f64);
        let w = yearly * weekly * growth / (1.35 * 1.2 * 1.2);
        if rng.random::<f64>() < w {
            times.push(t);
        }
    }
    times.sort_unstable();

    let mut orders = Vec::with_capacity(n_orders);
    let mut shipments = Vec::new();
    let mut next_so = 100_000u32;
    let mut next_po = 20_000u32;
    let mut next_ship = 600_000u32;
    for &t in &times {
        let sales = rng.random_bool(0.88);
        let order_id = if sales {
            next_so += 1;
            if rng.random_bool(0.005) {
                format!("SO-{next_so} B")
            } else {
                format!("SO-{next_so}")
            }
        } else {
            next_po += 1;
            if rng.random_bool(0.01) {
                format!("PO-{next_po}-DropshipPO")
            } else {
                format!("PO-{next_po}")
            }
        };
        let order_url = format!("{api}/order/{}", encode_segment(&order_id));
        let loc_idx = if rng.random_bool(0.6) {
            0
        } else {
            rng.random_range(0..locations.len())
        };
        let n_lines = LINES_PER_ORDER[rng.random_range(0..LINES_PER_ORDER.len())];
        let mut items: Vec<OrderItem> = Vec::with_capacity(n_lines);
        let mut used: Vec<usize> = Vec::with_capacity(n_lines);
        for _ in 0..n_lines {
            let pi = pick_product(&mut rng);
            if used.contains(&pi) {
                continue;
            }
            used.push(pi);
            let pr = &products[pi];
            let (quantity, unit_price) = if sales {
                let q = if rng.random_bool(0.1) {
                    rng.random_range(10..60)
                } else {
                    rng.random_range(1..6)
                };
                let price = pr.list_price().unwrap_or(1.0);
                let disc = if rng.random_bool(0.2) { 0.9 } else { 1.0 };
                (f64::from(q), round2(price * disc))
            } else {
                let q = rng.random_range(2..50) * 10;
                let price = pr.main_supplier().map(|s| s.price).unwrap_or(1.0);
                (f64::from(q), price)
            };
            items.push(OrderItem {
                seq: items.len() as u32 + 1,
                product_id: pr.product_id.clone(),
                product_url: pr.product_url.clone(),
                quantity,
                unit_price,
            });
        }
        let age = a - t;
        let roll: f64 = rng.random();
        let recent = if sales { 10 * day } else { 30 * day };
        let mut status = if age < recent {
            if roll < 0.65 {
                "ORDER_LOCKED"
            } else if roll < 0.8 {
                "ORDER_CREATED"
            } else if roll < 0.95 {
                "ORDER_COMPLETED"
            } else {
                "ORDER_CANCELLED"
            }
        } else if roll < 0.94 {
            "ORDER_COMPLETED"
        } else if roll < 0.98 {
            "ORDER_CANCELLED"
        } else if roll < 0.99 {
            "ORDER_CREATED"
        } else {
            "ORDER_LOCKED"
        };
        let locked_at = t + rng.random_range(300..7200);
        let done_at = if sales {
            locked_at + rng.random_range(day / 2..5 * day)
        } else {
            locked_at + rng.random_range(3 * day..30 * day)
        };
        if status == "ORDER_COMPLETED" && done_at > a {
            status = "ORDER_LOCKED";
        }
        let mut hist = vec![StatusHistoryEntry {
            status_id: Some("ORDER_CREATED".into()),
            tx_stamp: ts(t),
            user_login_url: login.clone(),
        }];
        let mut last = t;
        match status {
            "ORDER_LOCKED" | "ORDER_COMPLETED" if locked_at <= a => {
                hist.push(StatusHistoryEntry {
                    status_id: Some("ORDER_LOCKED".into()),
                    tx_stamp: ts(locked_at),
                    user_login_url: login.clone(),
                });
                last = locked_at;
            }
            "ORDER_CANCELLED" => {
                let c = (t + rng.random_range(600..2 * day)).min(a);
                hist.push(StatusHistoryEntry {
                    status_id: Some("ORDER_CANCELLED".into()),
                    tx_stamp: ts(c),
                    user_login_url: login.clone(),
                });
                last = c;
            }
            _ => {}
        }
        let mut shipment_url_list = Vec::new();
        if status == "ORDER_COMPLETED" {
            hist.push(StatusHistoryEntry {
                status_id: Some("ORDER_COMPLETED".into()),
                tx_stamp: ts(done_at),
                user_login_url: login.clone(),
            });
            last = done_at;
            next_ship += 1;
            let ship_url = format!("{api}/shipment/{next_ship}");
            let subs = &subs_of[loc_idx];
            let ship_created = locked_at + rng.random_range(60..3600).min(done_at - locked_at);
            let final_status = if sales {
                "SHIPMENT_SHIPPED"
            } else {
                "SHIPMENT_DELIVERED"
            };
            shipments.push(Shipment {
                shipment_id: next_ship.to_string(),
                shipment_id_user: format!("{order_id}-1"),
                shipment_url: ship_url.clone(),
                shipment_type_id: if sales {
                    "SALES_SHIPMENT"
                } else {
                    "PURCHASE_SHIPMENT"
                }
                .into(),
                status_id: final_status.into(),
                primary_order_url: order_url.clone(),
                origin_facility_url: sales.then(|| locations[loc_idx].clone()),
                destination_facility_url: (!sales).then(|| locations[loc_idx].clone()),
                ship_date: sales.then(|| ts(done_at)),
                receive_date: (!sales).then(|| ts(done_at)),
                shipment_item_list: items
                    .iter()
                    .map(|l| ShipmentItem {
                        product_id: l.product_id.clone(),
                        product_url: l.product_url.clone(),
                        facility_url: subs[l.seq as usize % subs.len()].clone(),
                        lot_id: None,
                        quantity: l.quantity,
                    })
                    .collect(),
                status_id_history_list: vec![
                    StatusHistoryEntry {
                        status_id: Some("SHIPMENT_INPUT".into()),
                        tx_stamp: ts(ship_created),
                        user_login_url: login.clone(),
                    },
                    StatusHistoryEntry {
                        status_id: Some(final_status.into()),
                        tx_stamp: ts(done_at),
                        user_login_url: login.clone(),
                    },
                ],
                created_date: ts(ship_created),
                last_updated_date: ts((done_at + rng.random_range(0..120)).min(a)),
            });
            shipment_url_list.push(ship_url);
        }
        let last_updated = (last + rng.random_range(0..600)).min(a);
        let party = if sales {
            OrderRole {
                role_type_id: "CUSTOMER".into(),
                party_id: customer_ids[(rng.random::<f64>().powi(2) * customer_ids.len() as f64)
                    as usize
                    % customer_ids.len()]
                .clone(),
            }
        } else {
            OrderRole {
                role_type_id: "SUPPLIER".into(),
                party_id: supplier_ids[rng.random_range(0..supplier_ids.len())].clone(),
            }
        };
        orders.push(Order {
            order_id,
            order_url,
            order_type_id: if sales {
                "SALES_ORDER"
            } else {
                "PURCHASE_ORDER"
            }
            .into(),
            status_id: status.into(),
            // The instant the order was placed, at any time of day (not midnight), so a
            // sale's business day depends on the account's zone.
            order_date: ts(t),
            origin_facility_url: sales.then(|| locations[loc_idx].clone()),
            destination_facility_url: (!sales).then(|| locations[loc_idx].clone()),
            order_role_list: vec![party],
            order_item_list: items,
            status_id_history_list: hist,
            shipment_url_list,
            reference_number: (sales && rng.random_bool(0.3))
                .then(|| format!("CUST-PO-{}", rng.random_range(1000..99_999))),
            created_date: ts(t),
            last_updated_date: ts(last_updated),
        });
    }

    // ---------------------------------------------------------------- stock
    let mut stock = Vec::new();
    let loc_of_sub = |sub: &str| -> usize {
        subs_of
            .iter()
            .position(|s| s.iter().any(|u| u == sub))
            .unwrap_or(0)
    };
    for (pi, pr) in products.iter().enumerate() {
        if rng.random_bool(0.03) {
            continue; // out of stock everywhere
        }
        let low = rng.random_bool(0.10);
        let lots = rng.random_bool(0.10);
        let n_sub = if low {
            1
        } else {
            rng.random_range(1..=3usize.min(all_subs.len()))
        };
        let first = rng.random_range(0..all_subs.len());
        for k in 0..n_sub {
            let sub = &all_subs[(first + k * 3) % all_subs.len()];
            let rp = pr.reorder_guideline_list[loc_of_sub(sub)]
                .reorder_point
                .max(1.0);
            let qty = if low {
                rng.random_range(1.0..=rp).round()
            } else {
                (rp + rng.random_range(1.0..(10.0 + 3000.0 * pr.popularity))).round()
            };
            let packed = pr.normalized_packing_string.is_some() && rng.random_bool(0.5);
            let (qty, packing) = match (&pr.normalized_packing_string, packed) {
                (Some(s), true) => ((qty / 12.0).ceil().max(1.0), Some(s.clone())),
                _ => (qty, None),
            };
            if lots && qty >= 2.0 {
                let half = (qty / 2.0).floor();
                for (li, q) in [half, qty - half].into_iter().enumerate() {
                    stock.push(InventoryItem {
                        product_id: pr.product_id.clone(),
                        product_url: pr.product_url.clone(),
                        facility_url: sub.clone(),
                        lot_id: Some(format!("L-{}-{:02}", 2024 + li, (pi % 12) + 1)),
                        normalized_packing_string: packing.clone(),
                        order_url: None,
                        quantity_on_hand: q,
                        quantity_on_order: 0.0,
                        quantity_reserved: 0.0,
                    });
                }
            } else {
                stock.push(InventoryItem {
                    product_id: pr.product_id.clone(),
                    product_url: pr.product_url.clone(),
                    facility_url: sub.clone(),
                    lot_id: None,
                    normalized_packing_string: packing,
                    order_url: None,
                    quantity_on_hand: qty,
                    quantity_on_order: 0.0,
                    quantity_reserved: 0.0,
                });
            }
        }
        if !low && rng.random_bool(0.01) {
            stock.push(InventoryItem {
                product_id: pr.product_id.clone(),
                product_url: pr.product_url.clone(),
                facility_url: transit_url.clone(),
                lot_id: None,
                normalized_packing_string: None,
                order_url: None,
                quantity_on_hand: f64::from(rng.random_range(1u32..20)),
                quantity_on_order: 0.0,
                quantity_reserved: 0.0,
            });
        }
    }
    for o in &orders {
        if o.status_id != "ORDER_LOCKED" {
            continue;
        }
        let loc = o
            .origin_facility_url
            .as_ref()
            .or(o.destination_facility_url.as_ref());
        let li = loc
            .and_then(|l| locations.iter().position(|x| x == l))
            .unwrap_or(0);
        let sub = &subs_of[li][0];
        for l in &o.order_item_list {
            stock.push(InventoryItem {
                product_id: l.product_id.clone(),
                product_url: l.product_url.clone(),
                facility_url: sub.clone(),
                lot_id: None,
                normalized_packing_string: None,
                order_url: Some(o.order_url.clone()),
                quantity_on_hand: 0.0,
                quantity_on_order: if o.is_sales() { 0.0 } else { l.quantity },
                quantity_reserved: if o.is_sales() { l.quantity } else { 0.0 },
            });
        }
    }

    // ---------------------------------------------------------------- reorder rules
    // A real account keeps reorder rules for the locations that carry an item. A product in
    // stock somewhere keeps the rules of the locations holding it, and ~5 % of its other
    // rules (a location that ran dry); a product out of stock everywhere keeps them all.
    // Drawn last, so everything generated before is unchanged.
    let mut stocked: std::collections::HashSet<(&str, usize)> = std::collections::HashSet::new();
    for r in &stock {
        if r.order_url.is_none() && r.quantity_on_hand > 0.0 {
            stocked.insert((&r.product_url, loc_of_sub(&r.facility_url)));
        }
    }
    for pr in &mut products {
        let url: &str = &pr.product_url;
        if !(0..locations.len()).any(|li| stocked.contains(&(url, li))) {
            continue;
        }
        let mut kept = Vec::with_capacity(pr.reorder_guideline_list.len());
        for g in std::mem::take(&mut pr.reorder_guideline_list) {
            let li = locations
                .iter()
                .position(|l| *l == g.facility_url)
                .unwrap_or(0);
            if stocked.contains(&(url, li)) || rng.random_bool(0.05) {
                kept.push(g);
            }
        }
        pr.reorder_guideline_list = kept;
    }

    Dataset {
        account: account.to_owned(),
        anchor,
        facilities: Table::from_rows(facilities),
        party_groups: Table::from_rows(parties),
        products: Table::from_rows(products),
        orders: Table::from_rows(orders),
        shipments: Table::from_rows(shipments),
        inventory_items: stock,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone;

    use super::*;

    fn anchor() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn small_dataset_has_the_promised_shape() {
        let d = generate("acme", 42, Size::Small, anchor());
        assert_eq!(d.location_urls().len(), 2);
        assert_eq!(d.facilities.len(), 2 + 2 * 3 + 1);
        assert_eq!(d.party_groups.len(), 1 + 10 + 30);
        assert!(
            d.party_groups
                .by_url("/acme/api/partygroup/PRIMARY")
                .is_some()
        );
        assert_eq!(d.products.len(), 200);
        let lines = d.order_line_count();
        assert!((1_500..=2_500).contains(&lines), "{lines} lines");
        assert!(!d.shipments.is_empty());
        assert!(!d.inventory_items.is_empty());
    }

    #[test]
    fn products_have_one_main_supplier_and_some_urls_differ_from_skus() {
        let d = generate("acme", 7, Size::Small, anchor());
        let mut differ = 0;
        for p in d.products.rows() {
            let mains = p
                .supplier_list
                .iter()
                .filter(|s| s.supplier_pref_order_id.contains("MAIN"));
            assert_eq!(mains.count(), 1, "{}", p.product_id);
            let last = p.product_url.rsplit('/').next().unwrap();
            if last != encode_segment(&p.product_id) {
                differ += 1;
            }
        }
        assert!(differ >= 5, "only {differ} products with URL != SKU");
    }

    #[test]
    fn urls_are_unique_and_encoded() {
        let d = generate("acme", 3, Size::Small, anchor());
        let mut seen = HashSet::new();
        for u in d.products.rows().iter().map(|p| p.product_url.to_string()) {
            assert!(!u.contains(' '));
            assert!(seen.insert(u));
        }
        for o in d.orders.rows() {
            assert!(!o.order_url.contains(' '));
            assert!(seen.insert(o.order_url.clone()));
            assert!(o.last_updated_date >= o.created_date);
            assert!(o.last_updated_date <= d.anchor);
        }
        for s in d.shipments.rows() {
            assert!(seen.insert(s.shipment_url.clone()));
            assert!(s.shipment_id.parse::<u64>().is_ok());
            assert!(s.shipment_id_user.ends_with("-1"));
        }
        assert_eq!(d.orders.natural_order().len(), d.orders.len());
    }

    #[test]
    fn stock_rows_have_exactly_one_nonzero_quantity() {
        let d = generate("acme", 11, Size::Small, anchor());
        for r in &d.inventory_items {
            let nz = [r.quantity_on_hand, r.quantity_on_order, r.quantity_reserved]
                .iter()
                .filter(|q| **q != 0.0)
                .count();
            assert_eq!(nz, 1, "{r:?}");
        }
        let out_of_stock = d
            .products
            .rows()
            .iter()
            .filter(|p| d.on_hand(&p.product_url) == 0.0)
            .count();
        assert!(out_of_stock >= 1);
        assert!(d.inventory_items.iter().any(|r| r.lot_id.is_some()));
        assert!(d.inventory_items.iter().any(|r| r.quantity_on_order > 0.0));
        assert!(d.inventory_items.iter().any(|r| r.quantity_reserved > 0.0));
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a = generate("acme", 5, Size::Small, anchor());
        let b = generate("acme", 5, Size::Small, anchor());
        let c = generate("acme", 6, Size::Small, anchor());
        assert_eq!(a.products.rows(), b.products.rows());
        assert_eq!(a.orders.rows(), b.orders.rows());
        assert_eq!(a.inventory_items, b.inventory_items);
        assert_ne!(a.products.rows(), c.products.rows());
    }

    #[test]
    fn encode_segment_handles_hostile_ids() {
        assert_eq!(encode_segment("Ocean 1"), "Ocean%201");
        assert_eq!(encode_segment("A/B"), "A%2FB");
        assert_eq!(encode_segment("PO-1-DropshipPO"), "PO-1-DropshipPO");
        assert_eq!(encode_segment("é?#%"), "%C3%A9%3F%23%25");
    }
}
