-- Issue 7, the same as migrations/postgres/V20261204030000: inventory_items.available
-- (on hand - reserved) and order_lines.order_item_url no longer written. See the Postgres
-- file for what they mean. APPEND-ONLY.
ALTER TABLE inventory_items ADD COLUMN available REAL NOT NULL DEFAULT 0
    CHECK (available > -1e999 AND available < 1e999);
UPDATE order_lines SET order_item_url = NULL WHERE order_item_url IS NOT NULL;
