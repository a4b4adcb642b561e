//! Demo mode: the Finale simulator in process, live, so stock moves and alerts fire.
//!
//! The simulator serves a seeded account on 127.0.0.1 (the real client, the real engine, a
//! real local cache: only Finale is simulated). Budgets are off on both sides, so the demo's
//! frequent stock pulses never wait for Finale's hourly allowance; the clocks are real, so
//! "data as of" reads true. The account's activity is accelerated instead: every
//! [`DemoProfile::tick`] the simulator applies [`DemoProfile::activity_per_tick`] of sales,
//! receipts and price changes and the engine runs the stock pulse, and every
//! [`DemoProfile::sell_out_every`] ticks one item sells out completely ([`sell_out_one`]), so
//! a newcomer sees a stockout alert (and its notification) within a minute.

use std::time::Duration;

use finale_sim::{SimHandle, Size};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoProfile {
    /// The simulated account's size.
    pub size: Size,
    /// Its seed (same seed, same account).
    pub seed: u64,
    /// Real time between two live steps (each followed by a stock pulse).
    pub tick: Duration,
    /// Simulated activity applied per tick.
    pub activity_per_tick: chrono::Duration,
    /// Every this many ticks one item sells out (0: never); the first tick sells one.
    pub sell_out_every: u32,
}

impl Default for DemoProfile {
    fn default() -> Self {
        DemoProfile {
            size: Size::Small,
            seed: 42,
            tick: Duration::from_secs(5),
            activity_per_tick: chrono::Duration::minutes(30),
            sell_out_every: 6,
        }
    }
}

/// Sells out one active item: the one with the least stock on hand among items whose stock
/// is all loose units (no cases, so removing its rows leaves nothing available). Returns its
/// SKU, or `None` when no item qualifies.
pub fn sell_out_one(sim: &SimHandle) -> Option<String> {
    let dataset = sim.dataset();
    let mut ds = dataset
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut best: Option<(f64, String, String)> = None;
    for p in ds.products.rows().iter().filter(|p| p.is_active()) {
        let rows = ds
            .inventory_items
            .iter()
            .filter(|r| r.product_url == p.product_url && r.order_url.is_none());
        let mut on_hand = 0.0;
        let mut loose = true;
        for r in rows {
            on_hand += r.quantity_on_hand;
            loose &= r.normalized_packing_string.is_none();
        }
        if !loose || on_hand <= 0.0 {
            continue;
        }
        let candidate = (on_hand, p.product_url.to_string(), p.product_id.to_string());
        if best
            .as_ref()
            .is_none_or(|b| (candidate.0, &candidate.1) < (b.0, &b.1))
        {
            best = Some(candidate);
        }
    }
    let (_, url, sku) = best?;
    ds.inventory_items
        .retain(|r| !(*r.product_url == *url && r.order_url.is_none()));
    Some(sku)
}
