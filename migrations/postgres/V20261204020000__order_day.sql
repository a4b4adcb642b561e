-- Sales on the account's business day (issue 7 §3). APPEND-ONLY, like every migration.
--
-- orders.order_day: the calendar date of order_date in the account's time zone
--   (FINALE_TIMEZONE), computed by the engine in Rust (chrono-tz) when it builds the order
--   row, so both stores bucket daily sales by the same value (SQLite has no time-zone
--   database). Not part of content_hash: it is derived from order_date and a setting. Rows
--   stored before this migration held UTC days; they get the UTC date here, and the engine
--   re-derives every order's day when the configured zone differs from the one recorded in
--   sync_state ('order_day_zone', absent = UTC).
ALTER TABLE orders ADD COLUMN order_day date;
UPDATE orders SET order_day = (order_date AT TIME ZONE 'UTC')::date WHERE order_date IS NOT NULL;
