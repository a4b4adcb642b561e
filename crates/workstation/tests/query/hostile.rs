//! Hostile input: search text, filters, sort fields, cursors and item keys that try to
//! break the FTS5 syntax or the SQL. Every one either answers or is `InvalidInput` /
//! `NotFound`; none panics, none is a SQL error, and the store is unchanged afterwards.

use workstation::CacheError;
use workstation::query::{Filters, ReorderQuery, SearchQuery, SortField, item, reorder, search};

use crate::support::{contents, fixture, today};

fn nasty() -> Vec<String> {
    let mut v: Vec<String> = [
        "\"",
        "\"\"",
        "'",
        "''",
        "*",
        "**",
        "a*b",
        "*abc",
        "NEAR(",
        "NEAR(a b, 2)",
        "a NEAR b",
        "OR",
        "a OR b",
        "AND",
        "AND NOT",
        "a AND NOT b",
        "NOT",
        ")",
        "(",
        "((a)",
        "a)",
        "^",
        "^widget",
        ":",
        "sku:",
        "sku:SKU-0001",
        "name:widget",
        "{sku name}: widget",
        "-",
        "-widget",
        "+",
        "{}",
        "[",
        "]",
        ";DROP TABLE products;--",
        "'; DELETE FROM products; --",
        "\" OR 1=1 --",
        "%",
        "_",
        "\\",
        "\0",
        "a\0b",
        "\t\n",
        "Ünïcödé wïdgét",
        "日本語",
        "🦀 widget",
        "🦀",
        "\u{202e}reversed",
        "\u{10ffff}",
        "   ",
        "",
        "widget\"",
        "\"widget",
        "w\"i\"d",
        "sku-00001' OR '1'='1",
        "product_search MATCH 'x'",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(10_000));
    v.push("a ".repeat(500));
    v.push("\"".repeat(150));
    v
}

fn acceptable<T>(what: &str, s: &str, r: Result<T, CacheError>) {
    match r {
        Ok(_) | Err(CacheError::InvalidInput(_)) | Err(CacheError::NotFound(_)) => {}
        Err(e) => panic!("{what} {s:?}: {e:?}"),
    }
}

#[test]
fn nasty_text_filters_sorts_cursors_and_keys() {
    let c = fixture(200);
    let before = contents(&c);
    let list = nasty();
    assert!(list.len() >= 30);
    for s in &list {
        let q = SearchQuery {
            text: Some(s.clone()),
            ..SearchQuery::default()
        };
        acceptable("search", s, search(&c, &q));
        let q = SearchQuery {
            text: Some(s.clone()),
            sort: Some(SortField::Available),
            ..SearchQuery::default()
        };
        acceptable("sorted search", s, search(&c, &q));
        for f in [
            Filters {
                location: Some(s.clone()),
                ..Filters::default()
            },
            Filters {
                supplier: Some(s.clone()),
                ..Filters::default()
            },
            Filters {
                status: Some(s.clone()),
                ..Filters::default()
            },
        ] {
            let q = SearchQuery {
                filters: f,
                ..SearchQuery::default()
            };
            acceptable("filter", s, search(&c, &q));
        }
        let q = SearchQuery {
            after: Some(s.clone()),
            ..SearchQuery::default()
        };
        // Not one of them is a cursor this query returned.
        assert!(
            matches!(search(&c, &q), Err(CacheError::InvalidInput(_))),
            "cursor {s:?}"
        );
        acceptable("sort field", s, s.parse::<SortField>());
        acceptable("item", s, item(&c, s, today()));
        acceptable(
            "reorder",
            s,
            reorder(
                &c,
                &ReorderQuery {
                    supplier: Some(s.clone()),
                    ..ReorderQuery::default()
                },
            ),
        );
    }
    assert_eq!(contents(&c), before, "the store is unchanged");
    // The index still answers.
    let q = SearchQuery {
        text: Some("sku-000001".into()),
        ..SearchQuery::default()
    };
    assert_eq!(search(&c, &q).unwrap().rows[0].sku, "SKU-000001");
}

#[test]
fn operators_match_literally() {
    let c = fixture(200);
    // "OR" as a word: a prefix of no token in the fixture (names, SKUs, UPCs, V..-n) → none;
    // as an operator it would have matched everything on both sides.
    let q = |t: &str| SearchQuery {
        text: Some(t.into()),
        limit: Some(1000),
        ..SearchQuery::default()
    };
    let widgets = search(&c, &q("widget")).unwrap().rows.len();
    let bolts = search(&c, &q("bolt")).unwrap().rows.len();
    assert!(widgets > 0 && bolts > 0);
    assert!(search(&c, &q("widget OR bolt")).unwrap().rows.is_empty());
    assert_eq!(search(&c, &q("widget*")).unwrap().rows.len(), widgets);
    assert_eq!(search(&c, &q("(widget")).unwrap().rows.len(), widgets);
    assert!(matches!(
        search(&c, &q("a\0b")),
        Err(CacheError::InvalidInput(m)) if m.contains("control")
    ));
}
