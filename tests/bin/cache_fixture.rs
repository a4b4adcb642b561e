//! `cache_fixture`: writes a migrated local cache filled by
//! [`workstation::query::fixture::generate`], for benchmarking the desktop app at scale.
//!
//! ```text
//! cache_fixture FILE [--products N] [--seed S]
//! ```
//!
//! FILE must not exist yet (the tool never overwrites a cache). The fixture's sales end
//! today (UTC), so the app's velocities, days of stock and two-year charts look current.
//! The app reads FILE as its `stockpulse.db` (see `crates/app/src/settings.rs`); the
//! benchmark (`scripts/bench-app.sh`) generates 100,000 products once and keeps the file
//! beside its output for the next run.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use workstation::query::fixture::{FixtureSpec, generate};

struct Args {
    file: PathBuf,
    products: usize,
    seed: u64,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut file = None;
    let mut products = 100_000;
    let mut seed = 42;
    while let Some(a) = argv.next() {
        match a.as_str() {
            "--products" => {
                products = argv
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--products needs a positive number")?;
            }
            "--seed" => {
                seed = argv
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seed needs a number")?;
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ if file.is_none() => file = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    Ok(Args {
        file: file.ok_or("usage: cache_fixture FILE [--products N] [--seed S]")?,
        products,
        seed,
    })
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.file.exists() {
        return Err(format!("{} exists; remove it first", args.file.display()).into());
    }
    if let Some(dir) = args.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let t = Instant::now();
    let mut conn = store::sqlite::open(&args.file)?;
    store::sqlite::migrate(&mut conn)?;
    let report = generate(
        &mut conn,
        &FixtureSpec {
            products: args.products,
            seed: args.seed,
            today: chrono::Utc::now().date_naive(),
        },
    )?;
    // Fold the WAL into the file so the app starts from a plain database.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(conn);
    println!(
        "cache_fixture: {} products, {} stock rows, {} daily sales rows in {:.1} s -> {}",
        report.products,
        report.stock_rows,
        report.sales_rows,
        t.elapsed().as_secs_f64(),
        args.file.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cache_fixture: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cache_fixture: {e}");
            // A half-written cache is worse than none.
            let _ = std::fs::remove_file(&args.file);
            ExitCode::FAILURE
        }
    }
}
