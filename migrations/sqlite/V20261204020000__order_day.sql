-- Sales on the account's business day (issue 7 §3), the same as
-- migrations/postgres/V20261204020000: orders.order_day, the calendar date of order_date in
-- the account's time zone, computed by the engine in Rust ('YYYY-MM-DD'). Rows stored before
-- hold their UTC day. See the Postgres file for what it means. APPEND-ONLY.
ALTER TABLE orders ADD COLUMN order_day TEXT CHECK (order_day IS NULL OR date(order_day) IS order_day);
UPDATE orders SET order_day = date(order_date / 1000.0, 'unixepoch') WHERE order_date IS NOT NULL;
