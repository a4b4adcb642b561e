-- The sync engine's additions (issue 3), the same as migrations/postgres/V20261124010000:
-- backfill_jobs.kind ('window' | 'snapshot') and .requests; inventory_items.sales_velocity_90d
-- and .days_of_stock. See the Postgres file for what they mean. APPEND-ONLY.
ALTER TABLE backfill_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'window'
    CHECK (kind IN ('window', 'snapshot'));
ALTER TABLE backfill_jobs ADD COLUMN requests INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0);
ALTER TABLE inventory_items ADD COLUMN sales_velocity_90d REAL NOT NULL DEFAULT 0
    CHECK (sales_velocity_90d >= 0 AND sales_velocity_90d < 1e999);
ALTER TABLE inventory_items ADD COLUMN days_of_stock REAL
    CHECK (days_of_stock >= 0 AND days_of_stock < 1e999);
