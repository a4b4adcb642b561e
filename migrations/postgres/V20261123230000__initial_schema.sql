-- Stockpulse shared store: initial schema.
--
-- APPEND-ONLY. This file has shipped: never edit it. Change the schema with a new file named
-- V<yyyymmddhhmmss>__<what>.sql (refinery, int8 versions). refinery checksums applied files and
-- the engine refuses a database that has a migration newer than the binary knows.
--
-- Model (details in crates/engine/src/lib.rs):
-- * Tables mirroring Finale records are keyed by the record's URL (`url`, Finale's stable id;
--   never a SKU, see finale-api.md section 6.3) and carry
--     content_hash    32 bytes (SHA-256 or BLAKE3 of the canonical content, chosen by the engine):
--                     the upsert writes only when it differs ("write only what changed");
--     finale_last_updated  Finale's lastUpdatedDate, the incremental-sync cursor value;
--     first_seen_at / updated_at  when this store first inserted the row / last changed its
--                     content. Set by the engine from its injected clock in the upsert (no
--                     triggers: a write the engine did not ask for should not exist).
-- * Child lists that Finale embeds in a parent record (product suppliers, reorder guidelines,
--   order lines) are OWNED by the parent: the parent's content_hash covers them, and when it
--   changes the engine rewrites the children (delete + insert) in the same transaction. They have
--   foreign keys to the parent with ON DELETE CASCADE.
-- * References BETWEEN collections (stock -> product/facility, order -> party/facility,
--   product_supplier -> party, facility -> parent facility, inventory_items -> product,
--   daily_sales -> product) have NO foreign keys: collections are loaded independently, in
--   windows and in any order, and Finale references records a window has not reached yet (or
--   ever: inactive parties). An FK there would make the sync order fragile; dangling references
--   are reported by reconciliation instead.
-- * Quantities and money are double precision (the Finale JSON is IEEE doubles; numeric would
--   add no precision). Every such column is CHECKed finite (x > '-Infinity' AND x < 'Infinity':
--   Postgres sorts NaN above +Infinity, so this also rejects NaN), and non-negative where a
--   negative value is garbage (prices, costs, reorder rules, reserved, on order). On-hand stock
--   and sales may be negative (Finale allows overselling; returns net against sales).

-- ---------------------------------------------------------------------------------------------
-- Facilities: a two-level tree. Locations (warehouses) have no parent; sublocations (bins,
-- areas, transit) point at their location with parent_url. Stock sits in sublocations.
CREATE TABLE facilities (
    url                 text PRIMARY KEY CHECK (url <> ''),
    facility_id         text NOT NULL CHECK (facility_id <> ''),
    name                text,
    parent_url          text CHECK (parent_url <> ''),
    kind                text NOT NULL GENERATED ALWAYS AS
                            (CASE WHEN parent_url IS NULL THEN 'location' ELSE 'sublocation' END) STORED,
    status              text,
    facility_type       text,
    shipping_disabled   boolean,
    receiving_disabled  boolean,
    finale_created      timestamptz,
    finale_last_updated timestamptz,
    content_hash        bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_url <> url)
);
CREATE INDEX facilities_parent_url ON facilities (parent_url) WHERE parent_url IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Parties (Finale "partygroup"): suppliers, customers and carriers in ONE table with their
-- roles, because Finale has one collection for all of them and one party can hold several
-- roles. The `suppliers` and `customers` views below give the per-role reading.
CREATE TABLE parties (
    url                 text PRIMARY KEY CHECK (url <> ''),
    party_id            text NOT NULL CHECK (party_id <> ''),
    name                text,
    roles               text[] NOT NULL DEFAULT '{}' CHECK (array_position(roles, NULL) IS NULL),
    status              text,
    contacts            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(contacts) = 'array'),
    user_fields         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(user_fields) = 'object'),
    finale_last_updated timestamptz,
    content_hash        bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parties_roles ON parties USING gin (roles);

CREATE VIEW suppliers AS
    SELECT * FROM parties WHERE roles @> ARRAY['SUPPLIER'];
CREATE VIEW customers AS
    SELECT * FROM parties WHERE roles @> ARRAY['CUSTOMER'];

-- ---------------------------------------------------------------------------------------------
-- Products. `url` is the key; `sku` is Finale's productId (unique in practice, but not
-- constrained: a SKU swap between two products arrives as two updates in arbitrary order).
CREATE TABLE products (
    url                 text PRIMARY KEY CHECK (url <> ''),
    sku                 text NOT NULL CHECK (sku <> ''),
    name                text,
    status              text,
    product_type        text,
    category            text,
    upc                 text,
    cost                double precision CHECK (cost >= 0 AND cost < 'Infinity'),
    lead_time_days      double precision CHECK (lead_time_days >= 0 AND lead_time_days < 'Infinity'),
    packing             text,
    list_price          double precision CHECK (list_price >= 0 AND list_price < 'Infinity'),
    user_fields         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(user_fields) = 'object'),
    finale_created      timestamptz,
    finale_last_updated timestamptz,
    content_hash        bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_sku ON products (sku);
CREATE INDEX products_finale_last_updated ON products (finale_last_updated);

-- A product's supplierList, owned by the product. `seq` is the row's position in Finale's list
-- (rows may lack a supplier URL, so the URL cannot be part of the key). is_main: the row whose
-- supplierPrefOrderId contains MAIN; at most one per product is expected but not enforced (a
-- second one would otherwise make the whole product unwritable).
CREATE TABLE product_suppliers (
    product_url         text NOT NULL REFERENCES products (url) ON DELETE CASCADE,
    seq                 integer NOT NULL CHECK (seq >= 0),
    supplier_url        text CHECK (supplier_url <> ''),
    supplier_sku        text,
    pref_order_id       text,
    is_main             boolean NOT NULL DEFAULT false,
    price               double precision CHECK (price >= 0 AND price < 'Infinity'),
    currency            text,
    lead_time_days      double precision CHECK (lead_time_days >= 0 AND lead_time_days < 'Infinity'),
    PRIMARY KEY (product_url, seq)
);
CREATE INDEX product_suppliers_supplier_url ON product_suppliers (supplier_url);

-- A product's reorderGuidelineList (product x location), owned by the product. facility_url
-- NULL means a guideline without a location (Finale's shape here is not confirmed, section 6.6).
CREATE TABLE reorder_guidelines (
    product_url         text NOT NULL REFERENCES products (url) ON DELETE CASCADE,
    seq                 integer NOT NULL CHECK (seq >= 0),
    facility_url        text CHECK (facility_url <> ''),
    reorder_point       double precision CHECK (reorder_point >= 0 AND reorder_point < 'Infinity'),
    reorder_qty         double precision CHECK (reorder_qty >= 0 AND reorder_qty < 'Infinity'),
    calculation_method  text,
    PRIMARY KEY (product_url, seq)
);
CREATE INDEX reorder_guidelines_facility_url ON reorder_guidelines (facility_url);

-- ---------------------------------------------------------------------------------------------
-- Stock per product and facility (a sublocation, as Finale's inventoryitem reports it): the sum
-- of Finale's inventoryitem rows over lots and packings. inventoryitem has no change filter, so
-- each read is a full snapshot that the engine diffs by content_hash; a pair that vanished from
-- the snapshot is deleted (or zeroed) by the engine.
CREATE TABLE stock (
    product_url         text NOT NULL CHECK (product_url <> ''),
    facility_url        text NOT NULL CHECK (facility_url <> ''),
    on_hand             double precision NOT NULL DEFAULT 0
                            CHECK (on_hand > '-Infinity' AND on_hand < 'Infinity'),
    reserved            double precision NOT NULL DEFAULT 0
                            CHECK (reserved >= 0 AND reserved < 'Infinity'),
    on_order            double precision NOT NULL DEFAULT 0
                            CHECK (on_order >= 0 AND on_order < 'Infinity'),
    available           double precision NOT NULL GENERATED ALWAYS AS (on_hand - reserved) STORED,
    content_hash        bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_url, facility_url)
);
CREATE INDEX stock_facility_url ON stock (facility_url);

-- Stock rolled up from sublocations to locations. A facility the store does not know (yet), or
-- a location holding stock directly, counts as its own location.
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
-- The seed's inventory_items (finale-database-flow.md): one row per product, the flat view the
-- seed's get_items_needing_sync ranks. Column names are the seed's.
--   finale_id        the product URL (NULL for an item not linked to Finale)
--   stock            on hand summed over all facilities
--   reorder_point / reorder_quantity   NULL = no reorder rule (then "stock <= reorder_point" is
--                    never true for the row, exactly as the seed's SQL behaves)
--   sales_velocity   units/day from the synced sales history (0 until computed)
--   finale_last_sync when the engine last confirmed this item against Finale (the smart and
--                    critical strategies rank by it, so it moves even when nothing changed)
--   last_updated     when the row's content last changed (content_hash changed)
--   status           Finale's product statusId (e.g. PRODUCT_ACTIVE)
CREATE TABLE inventory_items (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku                 text NOT NULL CHECK (sku <> ''),
    finale_id           text UNIQUE CHECK (finale_id <> ''),
    name                text,
    stock               double precision NOT NULL DEFAULT 0
                            CHECK (stock > '-Infinity' AND stock < 'Infinity'),
    reorder_point       double precision CHECK (reorder_point >= 0 AND reorder_point < 'Infinity'),
    reorder_quantity    double precision
                            CHECK (reorder_quantity >= 0 AND reorder_quantity < 'Infinity'),
    cost                double precision CHECK (cost >= 0 AND cost < 'Infinity'),
    price               double precision CHECK (price >= 0 AND price < 'Infinity'),
    sales_velocity      double precision NOT NULL DEFAULT 0
                            CHECK (sales_velocity >= 0 AND sales_velocity < 'Infinity'),
    finale_last_sync    timestamptz,
    last_updated        timestamptz NOT NULL DEFAULT now(),
    content_hash        bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    status              text
);

-- The seed's three indexes, verbatim except for CONCURRENTLY: refinery runs each migration in a
-- transaction, where CREATE INDEX CONCURRENTLY is not allowed, and the table is new and empty,
-- so a plain CREATE INDEX locks nothing that anyone is waiting for.
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

-- The seed's function, body copied verbatim (the user's requirement): the engine ranks work
-- with it. 'critical': out of stock 100, at/below reorder point 90, velocity > 1/day 80, else
-- (only stale > 4 h) 50; 'smart': never synced or synced > 1 day ago, oldest first; anything
-- else ('full'): everything by sku at priority 10.
CREATE OR REPLACE FUNCTION get_items_needing_sync(
  strategy TEXT DEFAULT 'smart',
  limit_count INTEGER DEFAULT 1000
)
RETURNS TABLE(id UUID, sku TEXT, priority INTEGER) AS $$
BEGIN
  CASE strategy
    WHEN 'critical' THEN
      RETURN QUERY
      SELECT i.id, i.sku, 
        CASE 
          WHEN i.stock = 0 THEN 100
          WHEN i.stock <= i.reorder_point THEN 90
          WHEN i.sales_velocity > 1.0 THEN 80
          ELSE 50
        END as priority
      FROM inventory_items i
      WHERE i.stock <= i.reorder_point 
         OR i.sales_velocity > 1.0
         OR i.finale_last_sync < NOW() - INTERVAL '4 hours'
      ORDER BY priority DESC
      LIMIT limit_count;
      
    WHEN 'smart' THEN
      RETURN QUERY
      SELECT i.id, i.sku, 50 as priority
      FROM inventory_items i
      WHERE i.finale_last_sync IS NULL 
         OR i.finale_last_sync < NOW() - INTERVAL '1 day'
      ORDER BY i.finale_last_sync ASC NULLS FIRST
      LIMIT limit_count;
      
    ELSE -- 'full'
      RETURN QUERY
      SELECT i.id, i.sku, 10 as priority
      FROM inventory_items i
      ORDER BY i.sku
      LIMIT limit_count;
  END CASE;
END;
$$ LANGUAGE plpgsql;

-- ---------------------------------------------------------------------------------------------
-- Orders (sales, purchase, transfer, return) and their lines. party_url: the customer of a
-- sales order, the supplier of a purchase order (from orderRoleList).
CREATE TABLE orders (
    url                      text PRIMARY KEY CHECK (url <> ''),
    order_id                 text NOT NULL CHECK (order_id <> ''),
    order_type               text NOT NULL CHECK (order_type <> ''),
    status                   text,
    order_date               timestamptz,
    due_date                 timestamptz,
    origin_facility_url      text,
    destination_facility_url text,
    party_url                text,
    total                    double precision CHECK (total > '-Infinity' AND total < 'Infinity'),
    reference_number         text,
    finale_created           timestamptz,
    finale_last_updated      timestamptz,
    content_hash             bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    first_seen_at            timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_type_date ON orders (order_type, order_date);
CREATE INDEX orders_finale_last_updated ON orders (finale_last_updated);
CREATE INDEX orders_party_url ON orders (party_url);

-- An order's orderItemList, owned by the order; seq = position in Finale's list. Lines may be
-- non-product lines (no product_url). Quantity and price may be negative (credits, returns).
CREATE TABLE order_lines (
    order_url           text NOT NULL REFERENCES orders (url) ON DELETE CASCADE,
    seq                 integer NOT NULL CHECK (seq >= 0),
    order_item_url      text,
    product_url         text,
    product_id          text,
    quantity            double precision NOT NULL
                            CHECK (quantity > '-Infinity' AND quantity < 'Infinity'),
    unit_price          double precision CHECK (unit_price > '-Infinity' AND unit_price < 'Infinity'),
    PRIMARY KEY (order_url, seq)
);
CREATE INDEX order_lines_product_url ON order_lines (product_url);

-- ---------------------------------------------------------------------------------------------
-- Daily sales per product, DERIVED by the engine from sales-order lines (not Finale data, so no
-- content_hash): the source of sales_velocity and days of stock left.
CREATE TABLE daily_sales (
    product_url         text NOT NULL CHECK (product_url <> ''),
    day                 date NOT NULL,
    units               double precision NOT NULL CHECK (units > '-Infinity' AND units < 'Infinity'),
    revenue             double precision NOT NULL
                            CHECK (revenue > '-Infinity' AND revenue < 'Infinity'),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_url, day)
);
CREATE INDEX daily_sales_day ON daily_sales (day);

-- ---------------------------------------------------------------------------------------------
-- One row per engine run (the seed's SyncMetrics). Inserted at start with finished_at and
-- success NULL, completed at the end; a row still open after its process died is a crashed run.
CREATE TABLE sync_runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy            text NOT NULL CHECK (strategy IN ('full', 'smart', 'critical')),
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz CHECK (finished_at >= started_at),
    duration_ms         bigint CHECK (duration_ms >= 0),
    items_seen          bigint NOT NULL DEFAULT 0 CHECK (items_seen >= 0),
    items_changed       bigint NOT NULL DEFAULT 0 CHECK (items_changed >= 0),
    items_failed        bigint NOT NULL DEFAULT 0 CHECK (items_failed >= 0),
    items_per_sec       double precision CHECK (items_per_sec >= 0 AND items_per_sec < 'Infinity'),
    success             boolean,
    -- e.g. [{"pattern": "http 429", "count": 3}]: error kinds with counts
    error_patterns      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(error_patterns) = 'array'),
    network_p50_ms      double precision CHECK (network_p50_ms >= 0 AND network_p50_ms < 'Infinity'),
    network_p95_ms      double precision CHECK (network_p95_ms >= 0 AND network_p95_ms < 'Infinity'),
    db_latency_ms       double precision CHECK (db_latency_ms >= 0 AND db_latency_ms < 'Infinity'),
    -- per budget: {"get": 412, "post": 3, "collection": 57}
    requests            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(requests) = 'object'),
    -- who ran it (host / process), for "who holds the writer lock" messages
    runner              text,
    notes               text,
    CHECK ((finished_at IS NULL) = (success IS NULL))
);
CREATE INDEX sync_runs_started_at ON sync_runs (started_at DESC);

-- Quarantine: records that could not be decoded or written, with the raw payload and the reason.
-- The run goes on; the record is retried by the next run that sees it.
CREATE TABLE sync_errors (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id              bigint REFERENCES sync_runs (id) ON DELETE CASCADE,
    collection          text NOT NULL CHECK (collection <> ''),
    record_key          text,
    reason              text NOT NULL CHECK (reason <> ''),
    raw_payload         jsonb,
    raw_text            text,
    at                  timestamptz NOT NULL,
    CHECK (raw_payload IS NOT NULL OR raw_text IS NOT NULL)
);
CREATE INDEX sync_errors_run_id ON sync_errors (run_id);
CREATE INDEX sync_errors_collection_key ON sync_errors (collection, record_key);

-- Small named state: incremental cursors ('cursor:<collection>' -> {"last_updated": "...",
-- "overlap_s": 300}), the backfill plan's horizon ('backfill:plan'), schedule bookkeeping.
CREATE TABLE sync_state (
    key                 text PRIMARY KEY CHECK (key <> ''),
    value               jsonb NOT NULL,
    updated_at          timestamptz NOT NULL
);

-- The full load's persisted plan: one job per (collection, lastUpdatedDate window). Windows are
-- half-open [window_start, window_end); Finale's filter bounds are inclusive, so the boundary
-- instant is read twice, which upserts by URL make harmless.
--  * Idempotent planning: INSERT ... ON CONFLICT (collection, window_start, window_end) DO NOTHING.
--  * Lifecycle: pending -> running -> done, or -> failed (attempts counted, retried later), or
--    -> split (the window was too big: two child jobs with parent_id replace it).
--  * Resumable: a job's last batch and its 'done' mark commit in ONE transaction; at start the
--    engine resets 'running' jobs (left by a killed process) to 'pending'. Re-running a job is
--    safe because every write is an upsert by URL.
CREATE TABLE backfill_jobs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection          text NOT NULL CHECK (collection <> ''),
    window_start        timestamptz NOT NULL,
    window_end          timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'running', 'done', 'failed', 'split')),
    parent_id           bigint REFERENCES backfill_jobs (id) ON DELETE CASCADE,
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    records             bigint NOT NULL DEFAULT 0 CHECK (records >= 0),
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    done_at             timestamptz,
    CHECK (window_end > window_start),
    CHECK ((status = 'done') = (done_at IS NOT NULL)),
    UNIQUE (collection, window_start, window_end)
);
CREATE INDEX backfill_jobs_open ON backfill_jobs (collection, window_start)
    WHERE status IN ('pending', 'running', 'failed');
