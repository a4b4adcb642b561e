//! `stockpulse search`, `item` and `reorder`: thin adapters over `workstation::query`.
//!
//! They read only the local store (`STOCKPULSE_LOCAL_PATH`, else `store.local_path` in the
//! configuration file, else the default data directory), so they answer with the network
//! unplugged: no Postgres connection even when a database URL is configured, no keychain
//! lookup, and never a new store file (a missing one is a clear error).
//!
//! Output: an aligned table for people; with `--json`, `search` and `reorder` print one JSON
//! object per row per line (JSON lines) on stdout, and `item` one JSON object. Without
//! `--limit` every matching row is printed (page after page); with `--limit N` one page of N
//! rows, and when more rows follow, the cursor for the next page goes to stderr as
//! `next page: --after <CURSOR>`, so stdout stays rows only.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use engine::config::{EngineConfig, NoKeychain};
use workstation::query::{
    Filters, ItemDetail, ItemSummary, ReorderQuery, ReorderSuggestion, SearchQuery, SortDir,
    SortField,
};

/// Options shared by the query commands.
#[derive(Debug, Args, Clone)]
pub struct QueryCommon {
    /// Configuration file (default: $STOCKPULSE_CONFIG, else ~/.config/stockpulse/config.toml
    /// when it exists); only the local store's path is read from it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The shared store, named as every command names it; search, item and reorder read only
    /// the local store and never connect to it (they answer with the network unplugged).
    #[arg(long, value_name = "URL")]
    #[allow(dead_code)] // accepted for uniformity; never used
    database_url: Option<String>,
    /// Print JSON: one object per row per line (item: one object).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Sort fields: relevance (default with TEXT: SKU-prefix hits first), sku (default without), name,
on_hand, available, reorder_point, velocity_30d, velocity_90d, days_of_stock, cost, price,
status, stock_value; add :desc (or --desc) for largest first.

--json prints one JSON object per row per line (sku, product_url, name, status, on_hand,
reserved, available, on_order, reorder_point, velocity_30d, days_of_stock, state, critical,
…). Without --limit every matching row is printed; with --limit N one page, and the cursor of
the next page goes to stderr as `next page: --after CURSOR`.")]
pub struct SearchArgs {
    #[command(flatten)]
    common: QueryCommon,
    /// Text to match against SKU, name, UPC/barcode and supplier SKUs (prefixes).
    text: Option<String>,
    /// Only items out of stock (available <= 0 over all locations).
    #[arg(long)]
    out_of_stock: bool,
    /// Only items at or below a reorder point at some location.
    #[arg(long)]
    below_reorder: bool,
    /// Only critical items (out of stock, or at reorder point and running out within the
    /// lead time).
    #[arg(long)]
    critical: bool,
    /// Only items stocked (or with a reorder rule) at this location: name, id or URL.
    #[arg(long)]
    location: Option<String>,
    /// Only items this supplier supplies: name, id or URL.
    #[arg(long)]
    supplier: Option<String>,
    /// Only items with this product status (PRODUCT_ACTIVE, active, inactive…).
    #[arg(long)]
    status: Option<String>,
    /// Sort field, optionally with :asc or :desc (see below).
    #[arg(long)]
    sort: Option<String>,
    /// Largest first.
    #[arg(long)]
    desc: bool,
    /// Print one page of this many rows (1 to 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Continue after this cursor (printed with the previous page).
    #[arg(long)]
    after: Option<String>,
}

#[derive(Debug, Args)]
pub struct ItemArgs {
    #[command(flatten)]
    common: QueryCommon,
    /// The item's SKU or product URL.
    key: String,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Suggested quantity = the smallest whole quantity that lifts available + on order strictly
above reorder point + demand x lead time (demand = the larger of the 30- and 90-day
velocities), or the reorder quantity if larger; 0 when the position is already above.
Transfers cover locations at their reorder point from other locations' surplus.
--json prints one JSON object per suggestion per line.")]
pub struct ReorderArgs {
    #[command(flatten)]
    common: QueryCommon,
    /// Only items whose main supplier is this one: name, id or URL.
    #[arg(long)]
    supplier: Option<String>,
    /// Only items at or below their reorder point at this location: name, id or URL.
    #[arg(long)]
    location: Option<String>,
    /// Order by supplier (the rows of one supplier together).
    #[arg(long)]
    group_by_supplier: bool,
    /// Print one page of this many rows (1 to 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Continue after this cursor.
    #[arg(long)]
    after: Option<String>,
}

/// The local store's path from the configuration, never touching the keychain or the
/// network.
fn local_path(config: Option<&Path>) -> anyhow::Result<PathBuf> {
    let cfg = EngineConfig::load_with(config, &|k| std::env::var(k).ok(), &NoKeychain)
        .context("configuration")?;
    Ok(cfg.store.local_path.clone())
}

fn open(common: &QueryCommon) -> anyhow::Result<workstation::query::Connection> {
    let path = local_path(common.config.as_deref())?;
    Ok(workstation::local::open_existing(&path)?)
}

/// Writes lines to stdout; a closed pipe (`| head`) ends the output quietly.
struct Out(BufWriter<std::io::StdoutLock<'static>>);

impl Out {
    fn new() -> Self {
        Self(BufWriter::new(std::io::stdout().lock()))
    }

    fn line(&mut self, s: &str) -> anyhow::Result<()> {
        match writeln!(self.0, "{s}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing to stdout"),
        }
    }

    fn finish(mut self) -> anyhow::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing to stdout"),
        }
    }
}

/// Reads pages until the last (`all`) or one page (`--limit`), printing rows as JSON lines
/// as they come (`json`) or collecting them for a table; with one page, the next page's
/// cursor goes to stderr. `fetch(after)` reads the page after a cursor (`None`: the first).
fn walk_pages<T: serde::Serialize>(
    out: &mut Out,
    json: bool,
    all: bool,
    mut fetch: impl FnMut(Option<String>) -> anyhow::Result<(Vec<T>, Option<String>)>,
) -> anyhow::Result<Vec<T>> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = fetch(after.take())?;
        if json {
            for r in &page {
                out.line(&serde_json::to_string(r)?)?;
            }
        } else {
            rows.extend(page);
        }
        match next {
            Some(c) if all => after = Some(c),
            Some(c) => {
                next_page(&c);
                return Ok(rows);
            }
            None => return Ok(rows),
        }
    }
}

#[allow(clippy::print_stderr)] // the next page's cursor: stdout stays rows only
fn next_page(cursor: &str) {
    eprintln!("next page: --after {cursor}");
}

/// `stockpulse search`.
pub fn search(args: SearchArgs) -> anyhow::Result<u8> {
    let (sort, dir) = match args.sort.as_deref() {
        None => (
            None,
            if args.desc {
                SortDir::Desc
            } else {
                SortDir::Asc
            },
        ),
        Some(s) => {
            let (field, dir) = match s.rsplit_once(':') {
                Some((f, "desc")) => (f, SortDir::Desc),
                Some((f, "asc")) => (f, SortDir::Asc),
                _ => (s, SortDir::Asc),
            };
            let field: SortField = field.parse()?;
            (Some(field), if args.desc { SortDir::Desc } else { dir })
        }
    };
    let conn = open(&args.common)?;
    let mut q = SearchQuery {
        text: args.text,
        filters: Filters {
            out_of_stock: args.out_of_stock,
            below_reorder: args.below_reorder,
            critical: args.critical,
            location: args.location,
            supplier: args.supplier,
            status: args.status,
        },
        sort,
        dir,
        limit: args.limit.or(Some(workstation::query::MAX_LIMIT)),
        after: args.after,
    };
    let mut out = Out::new();
    let rows: Vec<ItemSummary> =
        walk_pages(&mut out, args.common.json, args.limit.is_none(), |after| {
            q.after = after.or(q.after.take());
            let page = workstation::query::search(&conn, &q)?;
            Ok((page.rows, page.next_cursor))
        })?;
    if !args.common.json {
        let header = [
            "SKU",
            "NAME",
            "STATE",
            "ON HAND",
            "AVAIL",
            "ON ORDER",
            "REORDER PT",
            "VEL 30D",
            "DAYS LEFT",
            "CRITICAL",
        ];
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.sku.clone(),
                    clip(r.name.as_deref().unwrap_or(""), 36),
                    r.state.as_str().to_owned(),
                    num(r.on_hand),
                    num(r.available),
                    num(r.on_order),
                    r.reorder_point.map(num).unwrap_or_else(|| "-".into()),
                    format!("{:.2}", r.velocity_30d),
                    r.days_of_stock
                        .map(|d| format!("{d:.1}"))
                        .unwrap_or_else(|| "-".into()),
                    if r.critical { "yes" } else { "" }.to_owned(),
                ]
            })
            .collect();
        table(&mut out, &header, &body, &[3, 4, 5, 6, 7, 8])?;
        out.line(&format!("{} item(s)", rows.len()))?;
    }
    out.finish()?;
    Ok(0)
}

/// `stockpulse item`.
pub fn item(args: ItemArgs) -> anyhow::Result<u8> {
    let conn = open(&args.common)?;
    let d = workstation::query::item(&conn, &args.key, Utc::now().date_naive())?;
    let mut out = Out::new();
    if args.common.json {
        out.line(&serde_json::to_string(&d)?)?;
    } else {
        print_item(&mut out, &d)?;
    }
    out.finish()?;
    Ok(0)
}

fn print_item(out: &mut Out, d: &ItemDetail) -> anyhow::Result<()> {
    let s = &d.summary;
    out.line(&format!(
        "{}  {}",
        s.sku,
        s.name.as_deref().unwrap_or("(no name)")
    ))?;
    let opt = |x: Option<f64>| x.map(num).unwrap_or_else(|| "-".into());
    for (k, v) in [
        ("product", s.product_url.clone()),
        ("status", s.status.clone().unwrap_or_else(|| "-".into())),
        ("state", s.state.as_str().to_owned()),
        ("critical", if s.critical { "yes" } else { "no" }.to_owned()),
        ("upc", s.upc.clone().unwrap_or_else(|| "-".into())),
        ("category", s.category.clone().unwrap_or_else(|| "-".into())),
        ("on hand", num(s.on_hand)),
        ("reserved", num(s.reserved)),
        ("available", num(s.available)),
        ("on order", num(s.on_order)),
        ("reorder point", opt(s.reorder_point)),
        ("reorder qty", opt(s.reorder_qty)),
        ("velocity 30d", format!("{:.3}/day", s.velocity_30d)),
        ("velocity 90d", format!("{:.3}/day", s.velocity_90d)),
        (
            "days of stock",
            s.days_of_stock
                .map(|d| format!("{d:.1}"))
                .unwrap_or_else(|| "- (not selling)".into()),
        ),
        ("lead time", format!("{} days", num(s.lead_time_days))),
        ("cost", opt(s.cost)),
        ("price", opt(s.price)),
        ("stock value", format!("{:.2}", s.stock_value)),
        (
            "sales (2y)",
            format!(
                "{} units, {:.2} revenue, {} days with sales",
                num(d.units_sold_2y),
                d.revenue_2y,
                d.sales.len()
            ),
        ),
    ] {
        out.line(&format!("  {k:<14} {v}"))?;
    }
    out.line("")?;
    out.line("Stock by location")?;
    let mut body = Vec::new();
    for l in &d.locations {
        body.push(vec![
            l.name
                .clone()
                .or_else(|| l.location_url.clone())
                .unwrap_or_else(|| "all locations".into()),
            num(l.on_hand),
            num(l.reserved),
            num(l.on_order),
            num(l.available),
            opt(l.reorder_point),
            if l.at_reorder { "yes" } else { "" }.to_owned(),
        ]);
        for sub in &l.sublocations {
            body.push(vec![
                format!(
                    "  {}",
                    sub.name.clone().unwrap_or_else(|| sub.facility_url.clone())
                ),
                num(sub.on_hand),
                num(sub.reserved),
                num(sub.on_order),
                num(sub.available),
                String::new(),
                String::new(),
            ]);
        }
    }
    table(
        out,
        &[
            "LOCATION",
            "ON HAND",
            "RESERVED",
            "ON ORDER",
            "AVAIL",
            "REORDER PT",
            "LOW",
        ],
        &body,
        &[1, 2, 3, 4, 5],
    )?;
    out.line("")?;
    out.line("Suppliers")?;
    let body: Vec<Vec<String>> = d
        .suppliers
        .iter()
        .map(|l| {
            vec![
                l.name
                    .clone()
                    .or_else(|| l.supplier_url.clone())
                    .unwrap_or_else(|| "-".into()),
                l.supplier_sku.clone().unwrap_or_default(),
                if l.is_main { "main" } else { "" }.to_owned(),
                l.price
                    .map(|p| format!("{p:.2}"))
                    .unwrap_or_else(|| "-".into()),
                l.currency.clone().unwrap_or_default(),
                l.lead_time_days
                    .map(|x| format!("{} days", num(x)))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        out,
        &["SUPPLIER", "SUPPLIER SKU", "", "PRICE", "CUR", "LEAD TIME"],
        &body,
        &[3],
    )
}

/// `stockpulse reorder`.
pub fn reorder(args: ReorderArgs) -> anyhow::Result<u8> {
    let conn = open(&args.common)?;
    let mut q = ReorderQuery {
        supplier: args.supplier,
        location: args.location,
        group_by_supplier: args.group_by_supplier,
        limit: args.limit.or(Some(workstation::query::MAX_LIMIT)),
        after: args.after,
    };
    let mut out = Out::new();
    let rows: Vec<ReorderSuggestion> =
        walk_pages(&mut out, args.common.json, args.limit.is_none(), |after| {
            q.after = after.or(q.after.take());
            let page = workstation::query::reorder(&conn, &q)?;
            Ok((page.rows, page.next_cursor))
        })?;
    if !args.common.json {
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let s = &r.suggestion;
                vec![
                    r.sku.clone(),
                    clip(r.name.as_deref().unwrap_or(""), 28),
                    clip(
                        r.supplier_name
                            .as_deref()
                            .or(r.supplier_url.as_deref())
                            .unwrap_or("-"),
                        24,
                    ),
                    num(r.available),
                    num(r.on_order),
                    r.reorder_point.map(num).unwrap_or_else(|| "-".into()),
                    format!("{:.2}", s.demand_per_day),
                    num(r.lead_time_days),
                    num(s.suggested_qty),
                    s.transfers
                        .iter()
                        .map(|t| {
                            format!(
                                "{} {}->{}",
                                num(t.qty),
                                t.from_name.as_deref().unwrap_or(&t.from_location_url),
                                t.to_name.as_deref().unwrap_or(&t.to_location_url)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    if r.critical { "yes" } else { "" }.to_owned(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "SKU",
                "NAME",
                "SUPPLIER",
                "AVAIL",
                "ON ORDER",
                "REORDER PT",
                "DEMAND/DAY",
                "LEAD",
                "SUGGEST",
                "TRANSFERS",
                "CRITICAL",
            ],
            &body,
            &[3, 4, 5, 6, 7, 8],
        )?;
        out.line(&format!("{} suggestion(s)", rows.len()))?;
    }
    out.finish()?;
    Ok(0)
}

/// A quantity without needless decimals.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// An aligned table: columns padded to their widest cell, `right` ones right-aligned.
fn table(
    out: &mut Out,
    header: &[&str],
    rows: &[Vec<String>],
    right: &[usize],
) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let render = |cells: Vec<&str>| {
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths[i];
            let pad = w.saturating_sub(c.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if right.contains(&i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
        }
        line.trim_end().to_owned()
    };
    out.line(&render(header.to_vec()))?;
    for r in rows {
        out.line(&render(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
