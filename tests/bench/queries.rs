//! Local query latency at 100k SKUs: `cargo bench -p stockpulse-tests --bench queries`.
//!
//! Generates the `workstation::query::fixture` store (100,000 products by default;
//! `QUERY_BENCH_PRODUCTS` overrides) in a temporary file, then runs every query shape many
//! times with varying input and prints p50 / p99 / max per shape, plus the load time with the
//! search index and reorder-level triggers, and a comparison of the unicode61 prefix index
//! with a trigram index. Figures are printed, never asserted (the goal: p99 < 5 ms).
//! `QUERY_BENCH_DB=FILE` keeps (and then reuses) the fixture in FILE; `QUERY_BENCH_ONLY=TEXT`
//! runs the shapes whose name contains TEXT.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use workstation::query::fixture::{FixtureSpec, generate, location_url, supplier_url};
use workstation::query::{
    Filters, ReorderQuery, SearchQuery, SortDir, SortField, dashboard, item, reorder, search,
};

const RUNS: usize = 300;

/// A named query shape, run with a varying input index.
type Shape<'a> = (&'static str, Box<dyn FnMut(usize) + 'a>);

fn main() {
    let n: usize = std::env::var("QUERY_BENCH_PRODUCTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // QUERY_BENCH_DB=FILE keeps the fixture in FILE and reuses it on the next run (for
    // iterating on one query: generating 100k products takes a couple of minutes).
    let dir = tempfile::tempdir().unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    let kept = std::env::var_os("QUERY_BENCH_DB").map(std::path::PathBuf::from);
    let path = kept.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    if kept.is_some() && path.exists() {
        println!("fixture: reused {}", path.display());
    } else {
        let mut conn = store::sqlite::open(&path).unwrap();
        store::sqlite::migrate(&mut conn).unwrap();
        let t = Instant::now();
        let report = generate(
            &mut conn,
            &FixtureSpec {
                products: n,
                seed: 42,
                today,
            },
        )
        .unwrap();
        let load = t.elapsed();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(path.with_extension("db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
        println!(
            "fixture: {} products, {} stock rows, {} daily sales rows in {:.1} s ({:.0} MB, triggers included)",
            report.products,
            report.stock_rows,
            report.sales_rows,
            load.as_secs_f64(),
            size as f64 / 1e6
        );
    }
    // A fresh reader, as the app and the CLI open it.
    let conn = workstation::local::open_existing(&path).unwrap();

    let sku = |i: usize| format!("SKU-{:06}", 1 + (i * 7919) % n);
    let words = [
        "widg",
        "bra",
        "valve",
        "steel",
        "gask",
        "carbon sp",
        "mini cl",
        "oak",
    ];
    let mut shapes: Vec<Shape<'_>> = Vec::new();
    let c = &conn;
    let s = |q: SearchQuery| {
        let p = search(c, &q).unwrap();
        std::hint::black_box(p.rows.len());
    };
    shapes.push((
        "search: SKU prefix (4 chars left)",
        Box::new(move |i| {
            let k = sku(i);
            s(SearchQuery {
                text: Some(k[..8].to_owned()),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "search: exact SKU",
        Box::new(move |i| {
            s(SearchQuery {
                text: Some(sku(i)),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "search: name word prefix",
        Box::new(move |i| {
            s(SearchQuery {
                text: Some(words[i % words.len()].into()),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "search: 2-letter prefix",
        Box::new(move |i| {
            s(SearchQuery {
                text: Some(["bl", "he", "st", "ca"][i % 4].into()),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "search: UPC prefix",
        Box::new(move |i| {
            let upc = format!(
                "{:012}",
                100_000_000_000u64 + (1 + (i * 31) % n) as u64 * 7919
            );
            s(SearchQuery {
                text: Some(upc[..9].to_owned()),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "search: supplier SKU",
        Box::new(move |i| {
            let k = 1 + (i * 131) % n;
            s(SearchQuery {
                text: Some(format!("V{:02}-{}", k % 40, k * 13)),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "search: text + sort available desc",
        Box::new(move |i| {
            s(SearchQuery {
                text: Some(words[i % words.len()].into()),
                sort: Some(SortField::Available),
                dir: SortDir::Desc,
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "list: no filter, by SKU",
        Box::new(move |_| s(SearchQuery::default())),
    ));
    let fields = SortField::ALL;
    shapes.push((
        "list: each sort field, both ways",
        Box::new(move |i| {
            s(SearchQuery {
                sort: Some(fields[i % fields.len()]),
                dir: if i % 2 == 0 {
                    SortDir::Asc
                } else {
                    SortDir::Desc
                },
                ..SearchQuery::default()
            })
        }),
    ));
    let flag = |f: Filters| {
        move |_: usize| {
            s(SearchQuery {
                filters: f.clone(),
                ..SearchQuery::default()
            })
        }
    };
    shapes.push((
        "filter: out of stock",
        Box::new(flag(Filters {
            out_of_stock: true,
            ..Filters::default()
        })),
    ));
    shapes.push((
        "filter: below reorder",
        Box::new(flag(Filters {
            below_reorder: true,
            ..Filters::default()
        })),
    ));
    shapes.push((
        "filter: critical",
        Box::new(flag(Filters {
            critical: true,
            ..Filters::default()
        })),
    ));
    shapes.push((
        "filter: location",
        Box::new(move |i| {
            s(SearchQuery {
                filters: Filters {
                    location: Some(location_url(i % 3)),
                    ..Filters::default()
                },
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "filter: supplier",
        Box::new(move |i| {
            s(SearchQuery {
                filters: Filters {
                    supplier: Some(supplier_url(i % 40)),
                    ..Filters::default()
                },
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "filter: status + below reorder, by velocity",
        Box::new(move |_| {
            s(SearchQuery {
                filters: Filters {
                    status: Some("active".into()),
                    below_reorder: true,
                    ..Filters::default()
                },
                sort: Some(SortField::Velocity30d),
                dir: SortDir::Desc,
                ..SearchQuery::default()
            })
        }),
    ));
    // Deep pages: cursors collected by walking first.
    let mut cursors = Vec::new();
    let mut q = SearchQuery {
        sort: Some(SortField::Available),
        ..SearchQuery::default()
    };
    for _ in 0..200 {
        let p = search(c, &q).unwrap();
        match p.next_cursor {
            Some(n) => {
                cursors.push(n.clone());
                q.after = Some(n);
            }
            None => break,
        }
    }
    shapes.push((
        "page: next page by cursor (sort available)",
        Box::new(move |i| {
            s(SearchQuery {
                sort: Some(SortField::Available),
                after: Some(cursors[i % cursors.len()].clone()),
                ..SearchQuery::default()
            })
        }),
    ));
    shapes.push((
        "item detail (2 years of sales)",
        Box::new(move |i| {
            std::hint::black_box(item(c, &sku(i), today).unwrap());
        }),
    ));
    shapes.push((
        "reorder: first page",
        Box::new(move |_| {
            std::hint::black_box(reorder(c, &ReorderQuery::default()).unwrap());
        }),
    ));
    shapes.push((
        "reorder: grouped by supplier",
        Box::new(move |_| {
            std::hint::black_box(
                reorder(
                    c,
                    &ReorderQuery {
                        group_by_supplier: true,
                        ..ReorderQuery::default()
                    },
                )
                .unwrap(),
            );
        }),
    ));
    shapes.push((
        "reorder: one supplier",
        Box::new(move |i| {
            std::hint::black_box(
                reorder(
                    c,
                    &ReorderQuery {
                        supplier: Some(supplier_url(i % 40)),
                        ..ReorderQuery::default()
                    },
                )
                .unwrap(),
            );
        }),
    ));
    shapes.push((
        "dashboard",
        Box::new(move |_| {
            std::hint::black_box(dashboard(c).unwrap());
        }),
    ));
    let mut cache = workstation::query::DashboardCache::new();
    shapes.push((
        "dashboard, cached per data_version",
        Box::new(move |_| {
            std::hint::black_box(cache.get(c).unwrap());
        }),
    ));

    println!(
        "\n{:<46} {:>9} {:>9} {:>9}   (ms, {RUNS} runs, page size 50)",
        "shape", "p50", "p99", "max"
    );
    // QUERY_BENCH_ONLY=TEXT runs only the shapes whose name contains TEXT.
    let only = std::env::var("QUERY_BENCH_ONLY").unwrap_or_default();
    for (name, f) in shapes
        .iter_mut()
        .filter(|(name, _)| name.contains(only.as_str()))
    {
        for i in 0..20 {
            f(i);
        }
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|i| {
                let t = Instant::now();
                f(i + 1000);
                t.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let p = |q: f64| ms(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]);
        let flag = if p(0.99) < 5.0 { "" } else { "  > 5 ms" };
        println!(
            "{name:<46} {:>9.3} {:>9.3} {:>9.3}{flag}",
            p(0.5),
            p(0.99),
            ms(times[times.len() - 1])
        );
    }

    // unicode61 + prefix indexes (what ships) against a trigram index of the same documents.
    drop(shapes);
    let t = Instant::now();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE temp.tri USING fts5(sku, name, upc, supplier_skus, tokenize = 'trigram');
         INSERT INTO temp.tri (rowid, sku, name, upc, supplier_skus)
              SELECT rowid, sku, name, upc, supplier_skus FROM product_search;",
    )
    .unwrap();
    println!(
        "\ntrigram index built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let time = |sql: &str, arg: &str| {
        let mut st = conn.prepare(sql).unwrap();
        let mut times: Vec<f64> = (0..100)
            .map(|_| {
                let t = Instant::now();
                let n: i64 = st.query_row([arg], |r| r.get(0)).unwrap();
                std::hint::black_box(n);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        (times[50], times[98])
    };
    println!(
        "{:<34} {:>22} {:>22}",
        "first 50 matches of", "unicode61 p50/p99 ms", "trigram p50/p99 ms"
    );
    for (label, uni, tri) in [
        ("word prefix 'widg'", "\"widg\"*", "\"widg\""),
        ("SKU digits '04217'", "\"04217\"*", "\"04217\""),
        ("2 letters 'bl'", "\"bl\"*", "bl"),
        ("mid-word 'dget' (trigram only)", "\"dget\"*", "\"dget\""),
    ] {
        let (a50, a99) = time(
            "SELECT count(*) FROM (SELECT rowid FROM product_search WHERE product_search MATCH ?1 LIMIT 50)",
            uni,
        );
        let (b50, b99) = time(
            "SELECT count(*) FROM (SELECT rowid FROM temp.tri WHERE tri MATCH ?1 LIMIT 50)",
            tri,
        );
        println!(
            "{label:<34} {:>10.3} / {:>9.3} {:>10.3} / {:>9.3}",
            a50, a99, b50, b99
        );
    }
}
