-- Stock events and alert state of the workstation cache (issue 9). APPEND-ONLY.
--
-- Local only: the shared Postgres store has no counterpart (events are what a workstation
-- saw change in ITS cache). The model is documented in crates/workstation/src/events/mod.rs;
-- in short:
--
-- * event_journal: triggers record the KEYS of what changed (never rows), in the writer's own
--   transaction, whoever the writer is (the engine's SqliteStore, the mirror, plain SQL).
--   One row per (kind, key): a key written 1,000 times in a transaction is journalled once
--   (`ON CONFLICT DO NOTHING`, which an outer `INSERT OR REPLACE` does not override). The
--   deriver (events::derive) consumes the journal, recomputes the current values of each
--   key, compares them with event_levels, emits events and updates the state.
--   kinds: 'item' (a product's stock levels must be re-evaluated: stock, reorder guidelines,
--   inventory_items.reorder_point, a deleted product), 'facility' (a facility's parent
--   changed: every product stocked or guided there), 'price' (products.cost/list_price
--   changed; old_cost/old_list_price hold the values BEFORE the first change since the last
--   derive), 'order' (a new sales order dated within 7 days of SQLite's clock), 'run_start'
--   and 'run_end' (a sync_runs row opened / closed; key = its id).
-- * event_levels: the last known stock level per (product, location); location_url '' is the
--   item's total over every location.
-- * event_alerts: the alert state (one active alert per product at most), kept across
--   restarts, with acknowledge/snooze columns.
-- * cache_events: the persisted event log (seq never reused: AUTOINCREMENT), so that another
--   process can tail it by seq; pruned by the deriver (7 days, 100,000 rows).
--
-- Trigger cost is kept small: every trigger is AFTER ... FOR EACH ROW with a WHEN clause that
-- skips rows whose watched columns did not change, and writes one key into a WITHOUT ROWID
-- primary key. Writers should upsert (`ON CONFLICT DO UPDATE`) or UPDATE: an
-- `INSERT OR REPLACE` of a product is a delete plus an insert to SQLite, and its price change
-- is not journalled (its stock and guidelines still are).
--
-- A later migration that rebuilds one of the watched tables (CREATE new / copy / DROP /
-- RENAME, as V20261204040000 did for sync_runs) drops its triggers with the old table: it
-- must create them again.

-- No CHECK constraints here on purpose: the triggers are the only writers, and a CHECK is
-- evaluated on every journal attempt of every watched row (measured: the CHECKs alone made
-- 100k stock upserts ~1.5x slower). The deriver ignores, with a warning, a kind it does not
-- know.
CREATE TABLE event_journal (
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    old_cost        REAL,
    old_list_price  REAL,
    PRIMARY KEY (kind, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE event_levels (
    product_url     TEXT NOT NULL CHECK (product_url <> ''),
    location_url    TEXT NOT NULL,
    on_hand         REAL NOT NULL,
    available       REAL NOT NULL,
    reorder_point   REAL,
    level           TEXT NOT NULL CHECK (level IN ('ok', 'low', 'out')),
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (product_url, location_url)
) STRICT, WITHOUT ROWID;

CREATE TABLE event_alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    product_url     TEXT NOT NULL CHECK (product_url <> ''),
    sku             TEXT NOT NULL,
    name            TEXT,
    level           TEXT NOT NULL CHECK (level IN ('low', 'out')),
    on_hand         REAL NOT NULL,
    available       REAL NOT NULL,
    reorder_point   REAL,
    raised_at       INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    snoozed_until   INTEGER,
    resolved_at     INTEGER,
    CHECK (resolved_at IS NULL OR resolved_at >= raised_at)
) STRICT;
CREATE UNIQUE INDEX event_alerts_active ON event_alerts (product_url) WHERE resolved_at IS NULL;
CREATE INDEX event_alerts_resolved_at ON event_alerts (resolved_at) WHERE resolved_at IS NOT NULL;

CREATE TABLE cache_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    type            TEXT NOT NULL CHECK (type <> ''),
    json            TEXT NOT NULL CHECK (json_valid(json))
) STRICT;
CREATE INDEX cache_events_at ON cache_events (at);

-- ---------------------------------------------------------------------------------------------
-- Stock: a product's levels at one location and in total.
CREATE TRIGGER event_stock_insert AFTER INSERT ON stock
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.product_url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_stock_update AFTER UPDATE OF on_hand, reserved ON stock
WHEN OLD.on_hand IS NOT NEW.on_hand OR OLD.reserved IS NOT NEW.reserved
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.product_url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_stock_rekey AFTER UPDATE OF product_url, facility_url ON stock
WHEN OLD.product_url IS NOT NEW.product_url OR OLD.facility_url IS NOT NEW.facility_url
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', OLD.product_url) ON CONFLICT DO NOTHING;
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.product_url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_stock_delete AFTER DELETE ON stock
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', OLD.product_url) ON CONFLICT DO NOTHING;
END;

-- Reorder guidelines (per facility, rolled up to locations).
CREATE TRIGGER event_guideline_insert AFTER INSERT ON reorder_guidelines
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.product_url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_guideline_update
AFTER UPDATE OF facility_url, reorder_point, calculation_method, product_url ON reorder_guidelines
WHEN OLD.facility_url IS NOT NEW.facility_url OR OLD.reorder_point IS NOT NEW.reorder_point
  OR OLD.calculation_method IS NOT NEW.calculation_method OR OLD.product_url IS NOT NEW.product_url
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', OLD.product_url) ON CONFLICT DO NOTHING;
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.product_url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_guideline_delete AFTER DELETE ON reorder_guidelines
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', OLD.product_url) ON CONFLICT DO NOTHING;
END;

-- The item total's reorder point (inventory_items.reorder_point, the engine's sum of the
-- product's guidelines).
CREATE TRIGGER event_item_insert AFTER INSERT ON inventory_items
WHEN NEW.finale_id IS NOT NULL AND NEW.reorder_point IS NOT NULL
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.finale_id) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_item_update AFTER UPDATE OF reorder_point, finale_id ON inventory_items
WHEN NEW.finale_id IS NOT NULL
 AND (OLD.reorder_point IS NOT NEW.reorder_point OR OLD.finale_id IS NOT NEW.finale_id)
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.finale_id) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_item_delete AFTER DELETE ON inventory_items
WHEN OLD.finale_id IS NOT NULL AND OLD.reorder_point IS NOT NULL
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', OLD.finale_id) ON CONFLICT DO NOTHING;
END;

-- Products: a new product (recorded at first sight, even before its stock arrives), prices,
-- and a deleted product (its state and alert go).
CREATE TRIGGER event_product_insert AFTER INSERT ON products
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', NEW.url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_product_price AFTER UPDATE OF cost, list_price ON products
WHEN OLD.cost IS NOT NEW.cost OR OLD.list_price IS NOT NEW.list_price
BEGIN
    INSERT INTO event_journal (kind, key, old_cost, old_list_price)
    VALUES ('price', NEW.url, OLD.cost, OLD.list_price) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_product_delete AFTER DELETE ON products
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('item', OLD.url) ON CONFLICT DO NOTHING;
END;

-- Facilities: a (sub)location's parent decides where its stock rolls up.
CREATE TRIGGER event_facility_insert AFTER INSERT ON facilities
WHEN NEW.parent_url IS NOT NULL
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('facility', NEW.url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_facility_update AFTER UPDATE OF parent_url ON facilities
WHEN OLD.parent_url IS NOT NEW.parent_url
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('facility', NEW.url) ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_facility_delete AFTER DELETE ON facilities
WHEN OLD.parent_url IS NOT NULL
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('facility', OLD.url) ON CONFLICT DO NOTHING;
END;

-- New sales orders dated within 7 days of SQLite's clock (the deriver narrows this with its
-- own clock); a full load's two years of history are not journalled.
CREATE TRIGGER event_order_insert AFTER INSERT ON orders
WHEN NEW.order_type = 'SALES_ORDER'
 AND NEW.order_date >= CAST(unixepoch('subsec') * 1000 AS INTEGER) - 604800000
BEGIN
    INSERT INTO event_journal (kind, key) VALUES ('order', NEW.url) ON CONFLICT DO NOTHING;
END;

-- Sync runs: opened, closed.
CREATE TRIGGER event_run_insert AFTER INSERT ON sync_runs
BEGIN
    INSERT INTO event_journal (kind, key)
    VALUES ('run_start', CAST(NEW.id AS TEXT)) ON CONFLICT DO NOTHING;
    INSERT INTO event_journal (kind, key)
    SELECT 'run_end', CAST(NEW.id AS TEXT) WHERE NEW.finished_at IS NOT NULL
    ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER event_run_finish AFTER UPDATE OF finished_at ON sync_runs
WHEN OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL
BEGIN
    INSERT INTO event_journal (kind, key)
    VALUES ('run_end', CAST(NEW.id AS TEXT)) ON CONFLICT DO NOTHING;
END;

-- A store that already holds stock when this migration runs (an upgrade): every stocked
-- product is journalled, so the first derivation records their levels (a baseline when
-- they are many) instead of meeting each one for the first time at its next change, when
-- a stockout would be taken for first sight and go unreported.
INSERT INTO event_journal (kind, key)
SELECT DISTINCT 'item', product_url FROM stock WHERE true
ON CONFLICT DO NOTHING;
