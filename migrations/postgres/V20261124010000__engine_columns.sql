-- The sync engine's additions (issue 3). APPEND-ONLY, like every migration.
--
-- backfill_jobs.kind: 'window' reads one lastUpdatedDate window of a filterable collection;
--   'snapshot' is one unfiltered read of a whole collection (facilities, parties, products:
--   reference data that may not have changed for years, so a two-year lastUpdatedDate horizon
--   would miss it; and inventoryitem, which has no filter). A snapshot job's window is the
--   plan's horizon, kept for the uniqueness key only.
-- backfill_jobs.requests: HTTP requests the job made (the backfill ETA learns from it).
ALTER TABLE backfill_jobs
    ADD COLUMN kind text NOT NULL DEFAULT 'window' CHECK (kind IN ('window', 'snapshot')),
    ADD COLUMN requests integer NOT NULL DEFAULT 0 CHECK (requests >= 0);

-- inventory_items.sales_velocity stays the seed's column: units/day over the last 30 days.
-- sales_velocity_90d: units/day over the last 90 days, the item's "normal" rate (the critical
--   strategy's trigger is sales_velocity >= 2 x sales_velocity_90d).
-- days_of_stock: stock / sales_velocity, NULL when nothing sells.
ALTER TABLE inventory_items
    ADD COLUMN sales_velocity_90d double precision NOT NULL DEFAULT 0
        CHECK (sales_velocity_90d >= 0 AND sales_velocity_90d < 'Infinity'),
    ADD COLUMN days_of_stock double precision
        CHECK (days_of_stock >= 0 AND days_of_stock < 'Infinity');
