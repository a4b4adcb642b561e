//! Search, filters, sorting and keyset paging.

use std::collections::HashSet;

use workstation::CacheError;
use workstation::query::{Filters, ItemSummary, SearchQuery, SortDir, SortField, search};

use crate::support::{fixture, hand_made, skus};

fn text(t: &str) -> SearchQuery {
    SearchQuery {
        text: Some(t.into()),
        ..SearchQuery::default()
    }
}

fn with(f: Filters) -> SearchQuery {
    SearchQuery {
        filters: f,
        ..SearchQuery::default()
    }
}

#[test]
fn sku_prefix_hits_rank_first_exact_first() {
    let c = hand_made();
    assert_eq!(
        skus(&search(&c, &text("sku-1")).unwrap()),
        ["SKU-100", "SKU-1000"]
    );
    assert_eq!(skus(&search(&c, &text("SKU-1000")).unwrap()), ["SKU-1000"]);
    // "sku" prefixes every SKU-… product; ABC-1 does not start with it.
    assert_eq!(
        skus(&search(&c, &text("SKU")).unwrap()),
        ["SKU-100", "SKU-1000", "SKU-200"]
    );
    assert_eq!(skus(&search(&c, &text("abc-1")).unwrap()), ["ABC-1"]);
}

#[test]
fn name_word_prefix_upc_and_supplier_sku() {
    let c = hand_made();
    assert_eq!(
        skus(&search(&c, &text("widg")).unwrap()),
        ["SKU-100", "SKU-200"]
    );
    assert_eq!(skus(&search(&c, &text("blue widg")).unwrap()), ["SKU-100"]);
    assert_eq!(
        skus(&search(&c, &text("0001112223334")).unwrap()),
        ["SKU-100"]
    );
    assert_eq!(skus(&search(&c, &text("000111")).unwrap()), ["SKU-100"]);
    assert_eq!(skus(&search(&c, &text("BT-9")).unwrap()), ["ABC-1"]);
    assert_eq!(skus(&search(&c, &text("ac-77")).unwrap()), ["SKU-100"]);
    assert!(
        search(&c, &text("nothing-like-it"))
            .unwrap()
            .rows
            .is_empty()
    );
}

#[test]
fn each_filter() {
    let c = hand_made();
    let f = |f: Filters| skus(&search(&c, &with(f)).unwrap());
    assert_eq!(
        f(Filters::default()),
        ["ABC-1", "SKU-100", "SKU-1000", "SKU-200", "XYZ-9"]
    );
    assert_eq!(
        f(Filters {
            out_of_stock: true,
            ..Filters::default()
        }),
        ["SKU-1000"],
        "the inactive SKU-200 is not an alert"
    );
    assert_eq!(
        f(Filters {
            below_reorder: true,
            ..Filters::default()
        }),
        ["ABC-1", "SKU-100"]
    );
    assert_eq!(
        f(Filters {
            critical: true,
            ..Filters::default()
        }),
        ["ABC-1", "SKU-1000"]
    );
    for loc in ["East Depot", "east depot", "EAST"] {
        assert_eq!(
            f(Filters {
                location: Some(loc.into()),
                ..Filters::default()
            }),
            ["SKU-100", "SKU-1000", "XYZ-9"],
            "{loc}"
        );
    }
    assert_eq!(
        f(Filters {
            location: Some("MAIN-B".into()),
            ..Filters::default()
        }),
        ["SKU-100"],
        "a sublocation"
    );
    assert_eq!(
        f(Filters {
            supplier: Some("Bolt Brothers".into()),
            ..Filters::default()
        }),
        ["ABC-1", "SKU-100"]
    );
    assert_eq!(
        f(Filters {
            status: Some("inactive".into()),
            ..Filters::default()
        }),
        ["SKU-200"]
    );
    assert_eq!(
        f(Filters {
            status: Some("PRODUCT_ACTIVE".into()),
            below_reorder: true,
            supplier: Some("ACME".into()),
            ..Filters::default()
        }),
        ["SKU-100"]
    );
    let err = search(
        &c,
        &with(Filters {
            location: Some("Atlantis".into()),
            ..Filters::default()
        }),
    );
    assert!(matches!(err, Err(CacheError::InvalidInput(m)) if m.contains("Atlantis")));
    // Text and filters together.
    let mut q = text("widget");
    q.filters.below_reorder = true;
    assert_eq!(skus(&search(&c, &q).unwrap()), ["SKU-100"]);
}

#[test]
fn states_and_flags_of_rows() {
    let c = hand_made();
    let rows = search(&c, &SearchQuery::default()).unwrap().rows;
    let by = |sku: &str| rows.iter().find(|r| r.sku == sku).unwrap().clone();
    assert_eq!(by("SKU-100").state.as_str(), "below_reorder");
    assert!(!by("SKU-100").critical);
    assert_eq!(by("SKU-100").on_order, 4.0);
    assert_eq!(by("SKU-100").reserved, 1.0);
    assert_eq!(by("SKU-100").lead_time_days, 10.0);
    assert_eq!(by("SKU-1000").state.as_str(), "out_of_stock");
    assert_eq!(by("SKU-1000").lead_time_days, 14.0, "the default");
    assert_eq!(by("SKU-200").state.as_str(), "inactive");
    assert!(!by("SKU-200").out_of_stock);
    assert_eq!(by("ABC-1").state.as_str(), "below_reorder");
    assert!(by("ABC-1").critical);
    assert_eq!(by("XYZ-9").state.as_str(), "ok");
    assert_eq!(by("XYZ-9").stock_value, 36.0);
}

/// Every row by walking pages of `size`; checks no row comes twice.
fn walk(c: &rusqlite::Connection, mut q: SearchQuery, size: u32) -> Vec<ItemSummary> {
    q.limit = Some(size);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let page = search(c, &q).unwrap();
        assert!(page.rows.len() <= size as usize);
        for r in &page.rows {
            assert!(
                seen.insert(r.product_url.clone()),
                "{} twice in {:?} {:?}",
                r.sku,
                q.sort,
                q.dir
            );
        }
        out.extend(page.rows);
        match page.next_cursor {
            Some(next) => q.after = Some(next),
            None => return out,
        }
    }
}

/// The sort key the SQL uses, as a comparable pair (number, text).
fn key(f: SortField, r: &ItemSummary) -> (f64, String) {
    let n = |x: f64| (x, String::new());
    match f {
        SortField::Relevance | SortField::Sku => n(0.0),
        SortField::Name => (0.0, r.name.clone().unwrap_or_default()),
        SortField::OnHand => n(r.on_hand),
        SortField::Available => n(r.available),
        SortField::ReorderPoint => n(r.reorder_point.unwrap_or(-1.0)),
        SortField::Velocity30d => n(r.velocity_30d),
        SortField::Velocity90d => n(r.velocity_90d),
        SortField::DaysOfStock => n(r.days_of_stock.unwrap_or(1e308)),
        SortField::Cost => n(r.cost.unwrap_or(-1.0)),
        SortField::Price => n(r.price.unwrap_or(-1.0)),
        SortField::Status => (0.0, r.status.clone().unwrap_or_default()),
        SortField::StockValue => n(r.stock_value),
        SortField::OnOrder => n(r.on_order),
        SortField::State => n(match r.state.as_str() {
            "out_of_stock" => 0.0,
            "below_reorder" => 1.0,
            "ok" => 2.0,
            _ => 3.0,
        }),
    }
}

#[test]
fn every_sort_both_directions_walks_every_row_once_in_order() {
    let c = fixture(300);
    let all = walk(&c, SearchQuery::default(), 1000);
    assert_eq!(all.len(), 300);
    for f in SortField::ALL {
        for dir in [SortDir::Asc, SortDir::Desc] {
            let q = SearchQuery {
                sort: Some(f),
                dir,
                ..SearchQuery::default()
            };
            let got = walk(&c, q, 7);
            let mut want = all.clone();
            want.sort_by(|a, b| {
                let o = key(f, a)
                    .0
                    .total_cmp(&key(f, b).0)
                    .then_with(|| key(f, a).1.cmp(&key(f, b).1))
                    .then_with(|| a.sku.cmp(&b.sku));
                if dir == SortDir::Desc { o.reverse() } else { o }
            });
            let got: Vec<&str> = got.iter().map(|r| r.sku.as_str()).collect();
            let want: Vec<&str> = want.iter().map(|r| r.sku.as_str()).collect();
            assert_eq!(got, want, "{f:?} {dir:?}");
        }
    }
}

#[test]
fn walks_with_text_and_filters_cover_the_same_rows() {
    let c = fixture(400);
    for t in ["widget", "sku-0001", "blue", "00", "v1"] {
        let rel = walk(&c, text(t), 5);
        assert!(!rel.is_empty(), "{t}");
        let mut by_av = text(t);
        by_av.sort = Some(SortField::Available);
        by_av.dir = SortDir::Desc;
        let av = walk(&c, by_av, 6);
        let a: HashSet<_> = rel.iter().map(|r| r.product_url.clone()).collect();
        let b: HashSet<_> = av.iter().map(|r| r.product_url.clone()).collect();
        assert_eq!(a, b, "{t}");
        assert_eq!(a.len(), rel.len());
        // The sorts kept in the item flags, with a text (a driven set joined to the flags).
        for f in [SortField::State, SortField::OnOrder] {
            let mut q = text(t);
            q.sort = Some(f);
            let got: HashSet<_> = walk(&c, q, 6).into_iter().map(|r| r.product_url).collect();
            assert_eq!(got, a, "{t} by {f:?}");
        }
    }
    // SKU-prefix hits come first in relevance order.
    let rel = walk(&c, text("sku-0001"), 4);
    let first_other = rel
        .iter()
        .position(|r| !r.sku.to_lowercase().starts_with("sku-0001"))
        .unwrap_or(rel.len());
    assert!(
        rel[first_other..]
            .iter()
            .all(|r| !r.sku.to_lowercase().starts_with("sku-0001"))
    );
    assert_eq!(rel[0].sku, "SKU-000100");
    let mut f = SearchQuery::default();
    f.filters.below_reorder = true;
    let below = walk(&c, f, 9);
    assert!(!below.is_empty());
    assert!(below.iter().all(|r| r.at_reorder));
}

#[test]
fn cursors_are_checked() {
    let c = fixture(50);
    let q = SearchQuery {
        limit: Some(10),
        sort: Some(SortField::Available),
        ..SearchQuery::default()
    };
    let next = search(&c, &q).unwrap().next_cursor.unwrap();
    for bad in ["", "garbage", "eyJxIjoiMCIsImsiOltdfQ", "%%%", "\0"] {
        let err = search(
            &c,
            &SearchQuery {
                after: Some(bad.into()),
                ..q.clone()
            },
        );
        assert!(matches!(err, Err(CacheError::InvalidInput(_))), "{bad:?}");
    }
    let other = SearchQuery {
        sort: Some(SortField::Cost),
        after: Some(next.clone()),
        ..q.clone()
    };
    assert!(
        matches!(search(&c, &other), Err(CacheError::InvalidInput(m)) if m.contains("another query"))
    );
    let ok = SearchQuery {
        after: Some(next),
        limit: Some(3),
        ..q
    };
    assert_eq!(
        search(&c, &ok).unwrap().rows.len(),
        3,
        "the page size may change"
    );
    assert!(matches!(
        search(
            &c,
            &SearchQuery {
                limit: Some(0),
                ..SearchQuery::default()
            }
        ),
        Err(CacheError::InvalidInput(_))
    ));
    assert!(matches!(
        "nope".parse::<SortField>(),
        Err(CacheError::InvalidInput(_))
    ));
}

#[test]
fn many_candidates_walk_the_sort_index_with_the_same_result() {
    // 3,000 SKUs all start with "00": more candidates than a sorted query reads and sorts
    // itself, so it walks the sort index and checks each row instead.
    let c = fixture(3000);
    let mut base = text("00");
    base.sort = Some(SortField::Sku);
    let all = walk(&c, base, 1000);
    assert_eq!(all.len(), 3000);
    for (t, sup) in [
        ("00", None),
        ("00", Some("S01")),
        ("sku", Some("S07")),
        ("", Some("S03")),
    ] {
        let mut q = text(t);
        q.filters.supplier = sup.map(str::to_owned);
        q.sort = Some(SortField::Cost);
        q.dir = SortDir::Desc;
        let got = walk(&c, q.clone(), 37);
        let mut rel = q.clone();
        rel.sort = Some(SortField::Sku);
        rel.dir = SortDir::Asc;
        let mut want = walk(&c, rel, 1000);
        want.sort_by(|a, b| {
            b.cost
                .unwrap_or(-1.0)
                .total_cmp(&a.cost.unwrap_or(-1.0))
                .then_with(|| b.sku.cmp(&a.sku))
        });
        let got: Vec<&str> = got.iter().map(|r| r.sku.as_str()).collect();
        let want: Vec<&str> = want.iter().map(|r| r.sku.as_str()).collect();
        assert!(!got.is_empty());
        assert_eq!(got, want, "{t} {sup:?}");
    }
}
