//! The stock pulse ([`Strategy::Stock`]): Finale's stock, read on its own short cadence.
//!
//! The seed wants critical updates within the hour and stock changes on screen within
//! seconds of reaching the store; the store itself should not lag Finale's stock by an hour.
//! So `serve` (and the app) reads stock every few minutes (`STOCKPULSE_STOCK_EVERY_MINUTES`,
//! default 5; see [`crate::schedule`]), between the critical runs:
//!
//! - one read of the stock snapshot at **critical priority** (one collection read of the 300
//!   Finale allows an hour: 12 an hour at the default cadence), summed per (product,
//!   sublocation) and diffed by hash with the store exactly as smart and critical runs do
//!   ([`Engine::read_stock`]): only new, changed and vanished pairs are written, and a
//!   snapshot that cannot be trusted deletes nothing;
//! - then the seed's `inventory_items` rows of exactly the products whose stock was
//!   written are recomputed (their stock and days of stock left moved). Nothing else is read
//!   or rebuilt: sales history and velocities belong to the critical and smart runs.
//!
//! A pulse is a run like any other (`sync_runs.strategy = 'stock'`, with its metrics), takes
//! the writer role, and needs a completed full load.

use std::collections::HashMap;

use finale::Priority;

use super::{Engine, Meter, Progress, ProgressUpdate, RunOutput, SyncError};
use store::Scope;

impl Engine {
    pub(super) async fn pulse(
        &self,
        meter: &Meter,
        out: &mut RunOutput,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        self.require_full_load().await?;
        let now = self.now();
        let step = |done: u64, phase: &str| {
            progress.update(&ProgressUpdate {
                phase: phase.to_owned(),
                done,
                total: 2,
                records: meter.seen(),
                eta: None,
            });
        };
        step(0, "stock");
        self.stock(meter, out, Priority::Critical, &HashMap::new(), now)
            .await?;
        step(1, "inventory items");
        let mut products = std::mem::take(&mut out.applied.stock_products);
        products.sort();
        products.dedup();
        out.applied.stock_products = products.clone();
        if !products.is_empty() {
            self.refresh_items(
                meter,
                out,
                &Scope::Products(products),
                self.settings.smart_batch,
                now,
            )
            .await?;
        }
        step(2, "done");
        Ok(())
    }
}
