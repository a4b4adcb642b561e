//! Two derivers at once (two followers, or the app and `stockpulse watch`) never duplicate or
//! lose an event: SQLite's write lock serialises them and each consumes the journal in the
//! transaction that logs its events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use workstation::events::{self, Event};

use crate::support::{Db, derive_on, now, stock_on};

#[test]
fn two_concurrent_derivers_never_duplicate_or_lose_events() {
    const PRODUCTS: usize = 5;
    const WRITES: usize = 300;
    let db = Db::new();
    db.facility("/f/main", None, "Main");
    for p in 0..PRODUCTS {
        db.product(&format!("/p/{p}"), &format!("P{p}"));
        db.stock(&format!("/p/{p}"), "/f/main", 1.0, 0.0);
    }
    {
        let mut c = db.connect();
        derive_on(&mut c, now());
    }

    let done = Arc::new(AtomicBool::new(false));
    let derivers: Vec<_> = (0..2)
        .map(|_| {
            let mut conn = db.connect();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .unwrap();
                    mine.extend(events::derive_logged(&tx, now()).unwrap());
                    tx.commit().unwrap();
                    if finished {
                        return mine;
                    }
                }
            })
        })
        .collect();
    // The writer: every write raises a product's stock by one, so every change is visible.
    let writer = {
        let conn = db.connect();
        std::thread::spawn(move || {
            for i in 0..WRITES {
                let p = i % PRODUCTS;
                stock_on(
                    &conn,
                    &format!("/p/{p}"),
                    "/f/main",
                    (2 + i / PRODUCTS) as f64,
                    0.0,
                );
            }
        })
    };
    writer.join().unwrap();
    done.store(true, Ordering::Release);
    let mut returned: Vec<_> = derivers
        .into_iter()
        .flat_map(|d| d.join().unwrap())
        .collect();
    returned.sort_by_key(|e| e.seq);

    // What the derivers returned is exactly the log: no event logged twice or by both.
    let log = events::read_after(&db.conn, 0, 100_000).unwrap();
    assert_eq!(returned, log);
    assert_eq!(db.count("SELECT count(*) FROM event_journal"), 0);

    // Per product the stock changes chain from the first value to the last without a gap
    // or a repeat (a derivation may merge several writes into one change).
    let mut chains: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for e in &log {
        if let Event::StockChanged(c) = &e.event {
            chains
                .entry(c.product_url.clone())
                .or_default()
                .push((c.before.on_hand, c.after.on_hand));
        }
    }
    assert_eq!(chains.len(), PRODUCTS);
    for (p, chain) in chains {
        assert_eq!(chain[0].0, 1.0, "{p}");
        for w in chain.windows(2) {
            assert_eq!(w[0].1, w[1].0, "{p}: {chain:?}");
            assert!(w[0].1 < w[1].1, "{p}: {chain:?}");
        }
        let last = (1 + WRITES / PRODUCTS) as f64;
        assert_eq!(chain.last().unwrap().1, last, "{p}");
    }
}
