-- Issue 7 ("numbers staff can trust"). APPEND-ONLY, like every migration.
--
-- inventory_items.available: on hand - reserved over every facility, what can still be sold.
--   Days of stock and the critical triggers use it (50 on hand with 50 reserved is out of
--   stock); the seed's `stock` column keeps on hand. Existing rows get 0 and a stale hash, so
--   the next derived refresh rewrites them once.
-- order_lines.order_item_url is no longer written (always NULL): lines read through GraphQL
--   carry none, and a line's content must not depend on how it was read.
ALTER TABLE inventory_items
    ADD COLUMN available double precision NOT NULL DEFAULT 0
        CHECK (available > '-Infinity' AND available < 'Infinity');
UPDATE order_lines SET order_item_url = NULL WHERE order_item_url IS NOT NULL;
