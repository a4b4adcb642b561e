-- Stockpulse local store (SQLite): initial schema, the SAME DOMAIN as
-- migrations/postgres/V20261123230000__initial_schema.sql (read its comments for the model:
-- record URLs as keys, content hashes, owned children, no foreign keys between collections).
--
-- APPEND-ONLY. This file has shipped: never edit it. Change the schema with a new file named
-- V<yyyymmddhhmmss>__<what>.sql (refinery, int8 versions), normally together with the same
-- change in migrations/postgres/. The engine refuses a database newer than the binary knows.
--
-- Translation rules (Postgres -> SQLite):
-- * Every table is STRICT: SQLite then enforces the declared type of every value instead of
--   storing whatever it is given (a 'abc' in a REAL column is an error, not a string).
-- * uuid -> TEXT, lower-case canonical 8-4-4-4-12 form, CHECKed; the default is a random
--   version-4 UUID built from randomblob().
-- * timestamptz -> INTEGER: milliseconds since the Unix epoch, UTC. Chosen over ISO-8601 TEXT
--   because comparisons and arithmetic ("synced more than 4 hours before now") are exact
--   integer operations, there is no format to get wrong (offsets, precision, 'Z' vs '+00:00'),
--   and it sorts correctly. Millisecond precision (Postgres keeps microseconds: the engine
--   truncates to milliseconds when it writes both stores). Read it with
--   strftime('%Y-%m-%dT%H:%M:%fZ', x / 1000.0, 'unixepoch').
--   Defaults use SQLite's clock, like Postgres's now(); the engine always writes these columns
--   itself from its injected clock.
-- * date -> TEXT 'YYYY-MM-DD', CHECKed to be a real calendar day (date(x) IS x).
-- * boolean -> INTEGER 0/1, CHECKed.
-- * bytea -> BLOB (content_hash: exactly 32 bytes).
-- * text[] and jsonb -> TEXT holding JSON, CHECKed valid and of the right JSON type.
-- * double precision -> REAL. Finite checks: 1e999 is +Infinity in SQLite, so
--   `x > -1e999 AND x < 1e999` rejects both infinities. SQLite cannot store NaN: a bound NaN
--   becomes NULL, so NOT NULL columns reject it and nullable columns would store NULL; the
--   engine rejects NaN before it writes.
-- * bigint GENERATED ALWAYS AS IDENTITY -> INTEGER PRIMARY KEY AUTOINCREMENT (ids are never
--   reused, like an identity; SQLite cannot forbid an explicit id, the engine never gives one).
-- * Generated columns (facilities.kind, stock.available) are SQLite STORED generated columns.
-- * The GIN index on parties.roles has no SQLite equivalent; the suppliers/customers views
--   read roles with json_each.
-- * get_items_needing_sync is not a SQL function here (SQLite has no stored functions, and no
--   clock we trust): engine::sqlite::items_needing_sync runs the same three branches as one
--   parameterised query with the engine's clock.
-- * CREATE INDEX CONCURRENTLY does not exist in SQLite; the seed's indexes are plain ones.

-- ---------------------------------------------------------------------------------------------
-- Facilities: locations (no parent) and sublocations (parent_url = their location).
CREATE TABLE facilities (
    url                 TEXT PRIMARY KEY NOT NULL CHECK (url <> ''),
    facility_id         TEXT NOT NULL CHECK (facility_id <> ''),
    name                TEXT,
    parent_url          TEXT CHECK (parent_url <> ''),
    kind                TEXT NOT NULL GENERATED ALWAYS AS
                            (CASE WHEN parent_url IS NULL THEN 'location' ELSE 'sublocation' END) STORED,
    status              TEXT,
    facility_type       TEXT,
    shipping_disabled   INTEGER CHECK (shipping_disabled IN (0, 1)),
    receiving_disabled  INTEGER CHECK (receiving_disabled IN (0, 1)),
    finale_created      INTEGER,
    finale_last_updated INTEGER,
    content_hash        BLOB NOT NULL CHECK (length(content_hash) = 32),
    first_seen_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    CHECK (parent_url <> url)
) STRICT;
CREATE INDEX facilities_parent_url ON facilities (parent_url) WHERE parent_url IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Parties (suppliers, customers, carriers) with their roles: a JSON array of role strings
-- (no JSON null elements, like Postgres's array_position(roles, NULL) IS NULL).
CREATE TABLE parties (
    url                 TEXT PRIMARY KEY NOT NULL CHECK (url <> ''),
    party_id            TEXT NOT NULL CHECK (party_id <> ''),
    name                TEXT,
    roles               TEXT NOT NULL DEFAULT '[]'
                            CHECK (CASE WHEN json_valid(roles)
                                        THEN json_type(roles) = 'array'
                                             AND json(roles) NOT GLOB '*[[,]null[],]*'
                                        ELSE 0 END),
    status              TEXT,
    contacts            TEXT NOT NULL DEFAULT '[]'
                            CHECK (CASE WHEN json_valid(contacts)
                                        THEN json_type(contacts) = 'array' ELSE 0 END),
    user_fields         TEXT NOT NULL DEFAULT '{}'
                            CHECK (CASE WHEN json_valid(user_fields)
                                        THEN json_type(user_fields) = 'object' ELSE 0 END),
    finale_last_updated INTEGER,
    content_hash        BLOB NOT NULL CHECK (length(content_hash) = 32),
    first_seen_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

CREATE VIEW suppliers AS
    SELECT * FROM parties p
     WHERE EXISTS (SELECT 1 FROM json_each(p.roles) r WHERE r.value = 'SUPPLIER');
CREATE VIEW customers AS
    SELECT * FROM parties p
     WHERE EXISTS (SELECT 1 FROM json_each(p.roles) r WHERE r.value = 'CUSTOMER');

-- ---------------------------------------------------------------------------------------------
-- Products, keyed by URL; sku indexed but not unique (see the Postgres schema).
CREATE TABLE products (
    url                 TEXT PRIMARY KEY NOT NULL CHECK (url <> ''),
    sku                 TEXT NOT NULL CHECK (sku <> ''),
    name                TEXT,
    status              TEXT,
    product_type        TEXT,
    category            TEXT,
    upc                 TEXT,
    cost                REAL CHECK (cost >= 0 AND cost < 1e999),
    lead_time_days      REAL CHECK (lead_time_days >= 0 AND lead_time_days < 1e999),
    packing             TEXT,
    list_price          REAL CHECK (list_price >= 0 AND list_price < 1e999),
    user_fields         TEXT NOT NULL DEFAULT '{}'
                            CHECK (CASE WHEN json_valid(user_fields)
                                        THEN json_type(user_fields) = 'object' ELSE 0 END),
    finale_created      INTEGER,
    finale_last_updated INTEGER,
    content_hash        BLOB NOT NULL CHECK (length(content_hash) = 32),
    first_seen_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX products_sku ON products (sku);
CREATE INDEX products_finale_last_updated ON products (finale_last_updated);

-- A product's supplierList, owned by the product (cascade; needs PRAGMA foreign_keys = ON,
-- which engine::sqlite::open sets on every connection).
CREATE TABLE product_suppliers (
    product_url         TEXT NOT NULL REFERENCES products (url) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL CHECK (seq >= 0),
    supplier_url        TEXT CHECK (supplier_url <> ''),
    supplier_sku        TEXT,
    pref_order_id       TEXT,
    is_main             INTEGER NOT NULL DEFAULT 0 CHECK (is_main IN (0, 1)),
    price               REAL CHECK (price >= 0 AND price < 1e999),
    currency            TEXT,
    lead_time_days      REAL CHECK (lead_time_days >= 0 AND lead_time_days < 1e999),
    PRIMARY KEY (product_url, seq)
) STRICT;
CREATE INDEX product_suppliers_supplier_url ON product_suppliers (supplier_url);

-- A product's reorderGuidelineList, owned by the product.
CREATE TABLE reorder_guidelines (
    product_url         TEXT NOT NULL REFERENCES products (url) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL CHECK (seq >= 0),
    facility_url        TEXT CHECK (facility_url <> ''),
    reorder_point       REAL CHECK (reorder_point >= 0 AND reorder_point < 1e999),
    reorder_qty         REAL CHECK (reorder_qty >= 0 AND reorder_qty < 1e999),
    calculation_method  TEXT,
    PRIMARY KEY (product_url, seq)
) STRICT;
CREATE INDEX reorder_guidelines_facility_url ON reorder_guidelines (facility_url);

-- ---------------------------------------------------------------------------------------------
-- Stock per product and (sub)location, diffed by content_hash against inventoryitem snapshots.
CREATE TABLE stock (
    product_url         TEXT NOT NULL CHECK (product_url <> ''),
    facility_url        TEXT NOT NULL CHECK (facility_url <> ''),
    on_hand             REAL NOT NULL DEFAULT 0 CHECK (on_hand > -1e999 AND on_hand < 1e999),
    reserved            REAL NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved < 1e999),
    on_order            REAL NOT NULL DEFAULT 0 CHECK (on_order >= 0 AND on_order < 1e999),
    available           REAL NOT NULL GENERATED ALWAYS AS (on_hand - reserved) STORED,
    content_hash        BLOB NOT NULL CHECK (length(content_hash) = 32),
    first_seen_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    PRIMARY KEY (product_url, facility_url)
) STRICT;
CREATE INDEX stock_facility_url ON stock (facility_url);

-- Stock rolled up from sublocations to locations (an unknown facility, or a location holding
-- stock directly, counts as its own location).
CREATE VIEW stock_by_location AS
    SELECT s.product_url,
           COALESCE(f.parent_url, s.facility_url) AS location_url,
           sum(s.on_hand)   AS on_hand,
           sum(s.reserved)  AS reserved,
           sum(s.on_order)  AS on_order,
           sum(s.available) AS available
      FROM stock s
      LEFT JOIN facilities f ON f.url = s.facility_url
     GROUP BY s.product_url, COALESCE(f.parent_url, s.facility_url);

-- ---------------------------------------------------------------------------------------------
-- The seed's inventory_items: one row per product, ranked by items_needing_sync. Column
-- meanings are the Postgres schema's.
CREATE TABLE inventory_items (
    id                  TEXT PRIMARY KEY NOT NULL
                            DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2)))
                                     || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
                                     || substr('89ab', 1 + abs(random()) % 4, 1)
                                     || substr(lower(hex(randomblob(2))), 2) || '-'
                                     || lower(hex(randomblob(6))))
                            CHECK (id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    sku                 TEXT NOT NULL CHECK (sku <> ''),
    finale_id           TEXT UNIQUE CHECK (finale_id <> ''),
    name                TEXT,
    stock               REAL NOT NULL DEFAULT 0 CHECK (stock > -1e999 AND stock < 1e999),
    reorder_point       REAL CHECK (reorder_point >= 0 AND reorder_point < 1e999),
    reorder_quantity    REAL CHECK (reorder_quantity >= 0 AND reorder_quantity < 1e999),
    cost                REAL CHECK (cost >= 0 AND cost < 1e999),
    price               REAL CHECK (price >= 0 AND price < 1e999),
    sales_velocity      REAL NOT NULL DEFAULT 0
                            CHECK (sales_velocity >= 0 AND sales_velocity < 1e999),
    finale_last_sync    INTEGER,
    last_updated        INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    content_hash        BLOB NOT NULL CHECK (length(content_hash) = 32),
    status              TEXT
) STRICT;

-- The seed's three indexes (SQLite has partial indexes; no CONCURRENTLY).
CREATE INDEX idx_inventory_sync_priority
ON inventory_items(finale_last_sync, stock, sales_velocity)
WHERE stock <= reorder_point;

CREATE INDEX idx_inventory_change_detection
ON inventory_items(finale_id, finale_last_sync, cost, stock);

-- Partial index for active sync items
CREATE INDEX idx_inventory_active_sync
ON inventory_items(finale_id, stock, last_updated)
WHERE finale_id IS NOT NULL;

-- Not the seed's: the 'full' branch orders by sku.
CREATE INDEX inventory_items_sku ON inventory_items (sku);

-- ---------------------------------------------------------------------------------------------
-- Orders and their lines (lines owned by the order).
CREATE TABLE orders (
    url                      TEXT PRIMARY KEY NOT NULL CHECK (url <> ''),
    order_id                 TEXT NOT NULL CHECK (order_id <> ''),
    order_type               TEXT NOT NULL CHECK (order_type <> ''),
    status                   TEXT,
    order_date               INTEGER,
    due_date                 INTEGER,
    origin_facility_url      TEXT,
    destination_facility_url TEXT,
    party_url                TEXT,
    total                    REAL CHECK (total > -1e999 AND total < 1e999),
    reference_number         TEXT,
    finale_created           INTEGER,
    finale_last_updated      INTEGER,
    content_hash             BLOB NOT NULL CHECK (length(content_hash) = 32),
    first_seen_at            INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at               INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX orders_type_date ON orders (order_type, order_date);
CREATE INDEX orders_finale_last_updated ON orders (finale_last_updated);
CREATE INDEX orders_party_url ON orders (party_url);

CREATE TABLE order_lines (
    order_url           TEXT NOT NULL REFERENCES orders (url) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL CHECK (seq >= 0),
    order_item_url      TEXT,
    product_url         TEXT,
    product_id          TEXT,
    quantity            REAL NOT NULL CHECK (quantity > -1e999 AND quantity < 1e999),
    unit_price          REAL CHECK (unit_price > -1e999 AND unit_price < 1e999),
    PRIMARY KEY (order_url, seq)
) STRICT;
CREATE INDEX order_lines_product_url ON order_lines (product_url);

-- ---------------------------------------------------------------------------------------------
-- Daily sales per product, derived by the engine from sales-order lines.
CREATE TABLE daily_sales (
    product_url         TEXT NOT NULL CHECK (product_url <> ''),
    day                 TEXT NOT NULL CHECK (date(day) IS day),
    units               REAL NOT NULL CHECK (units > -1e999 AND units < 1e999),
    revenue             REAL NOT NULL CHECK (revenue > -1e999 AND revenue < 1e999),
    updated_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    PRIMARY KEY (product_url, day)
) STRICT;
CREATE INDEX daily_sales_day ON daily_sales (day);

-- ---------------------------------------------------------------------------------------------
-- One row per engine run (open while finished_at/success are NULL).
CREATE TABLE sync_runs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy            TEXT NOT NULL CHECK (strategy IN ('full', 'smart', 'critical')),
    started_at          INTEGER NOT NULL,
    finished_at         INTEGER CHECK (finished_at >= started_at),
    duration_ms         INTEGER CHECK (duration_ms >= 0),
    items_seen          INTEGER NOT NULL DEFAULT 0 CHECK (items_seen >= 0),
    items_changed       INTEGER NOT NULL DEFAULT 0 CHECK (items_changed >= 0),
    items_failed        INTEGER NOT NULL DEFAULT 0 CHECK (items_failed >= 0),
    items_per_sec       REAL CHECK (items_per_sec >= 0 AND items_per_sec < 1e999),
    success             INTEGER CHECK (success IN (0, 1)),
    error_patterns      TEXT NOT NULL DEFAULT '[]'
                            CHECK (CASE WHEN json_valid(error_patterns)
                                        THEN json_type(error_patterns) = 'array' ELSE 0 END),
    network_p50_ms      REAL CHECK (network_p50_ms >= 0 AND network_p50_ms < 1e999),
    network_p95_ms      REAL CHECK (network_p95_ms >= 0 AND network_p95_ms < 1e999),
    db_latency_ms       REAL CHECK (db_latency_ms >= 0 AND db_latency_ms < 1e999),
    requests            TEXT NOT NULL DEFAULT '{}'
                            CHECK (CASE WHEN json_valid(requests)
                                        THEN json_type(requests) = 'object' ELSE 0 END),
    runner              TEXT,
    notes               TEXT,
    CHECK ((finished_at IS NULL) = (success IS NULL))
) STRICT;
CREATE INDEX sync_runs_started_at ON sync_runs (started_at DESC);

-- Quarantine of records that could not be decoded or written.
CREATE TABLE sync_errors (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id              INTEGER REFERENCES sync_runs (id) ON DELETE CASCADE,
    collection          TEXT NOT NULL CHECK (collection <> ''),
    record_key          TEXT,
    reason              TEXT NOT NULL CHECK (reason <> ''),
    raw_payload         TEXT CHECK (raw_payload IS NULL OR json_valid(raw_payload)),
    raw_text            TEXT,
    at                  INTEGER NOT NULL,
    CHECK (raw_payload IS NOT NULL OR raw_text IS NOT NULL)
) STRICT;
CREATE INDEX sync_errors_run_id ON sync_errors (run_id);
CREATE INDEX sync_errors_collection_key ON sync_errors (collection, record_key);

-- Small named state: cursors, the backfill plan's horizon, schedule bookkeeping (JSON values).
CREATE TABLE sync_state (
    key                 TEXT PRIMARY KEY NOT NULL CHECK (key <> ''),
    value               TEXT NOT NULL CHECK (json_valid(value)),
    updated_at          INTEGER NOT NULL
) STRICT;

-- The full load's persisted plan (lifecycle in the Postgres schema's comments).
CREATE TABLE backfill_jobs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    collection          TEXT NOT NULL CHECK (collection <> ''),
    window_start        INTEGER NOT NULL,
    window_end          INTEGER NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'running', 'done', 'failed', 'split')),
    parent_id           INTEGER REFERENCES backfill_jobs (id) ON DELETE CASCADE,
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    records             INTEGER NOT NULL DEFAULT 0 CHECK (records >= 0),
    last_error          TEXT,
    created_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    started_at          INTEGER,
    done_at             INTEGER,
    CHECK (window_end > window_start),
    CHECK ((status = 'done') = (done_at IS NOT NULL)),
    UNIQUE (collection, window_start, window_end)
) STRICT;
CREATE INDEX backfill_jobs_open ON backfill_jobs (collection, window_start)
    WHERE status IN ('pending', 'running', 'failed');
