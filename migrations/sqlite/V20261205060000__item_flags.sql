-- Item flags and dashboard counters (issue 9): what the dashboard counts and the reorder list
-- walks, kept per item and in total by triggers, so that neither has to visit every item at
-- read time (they did: about 30 ms for the dashboard and 10 ms for a grouped reorder page at
-- 100k items). Local store only. APPEND-ONLY.
--
-- 1. query_item_flags: one row per inventory item with its flags as workstation::query
--    defines them (active, out of stock, at a reorder point somewhere, critical), its stock
--    value, its reorder group (the main supplier's URL, or U+10FFFF for items without one,
--    so that they sort last), its units on order (over every facility) and its state's rank
--    (0 out of stock, 1 below reorder, 2 ok, 3 inactive: the list's sort on the state). The view query_item_flags_now computes them from the source
--    rows; every trigger below upserts from that view for the items its change can affect.
-- 2. query_counts: the dashboard's counts and stock value, one row, adjusted by triggers on
--    query_item_flags (subtract the old row, add the new one). Stock value is a running sum of
--    floating-point products: it can drift from a fresh sum by rounding (relative 1e-12 over
--    millions of updates), far below a cent at any realistic value.
--
-- The definitions (see the docs of workstation::query) in the view's terms:
--   active        status is not PRODUCT_INACTIVE
--   out_of_stock  available <= 0
--   at_reorder    some row of query_reorder_levels with at_reorder = 1
--   late          days_of_stock known and below the lead time (first supplier link with a
--                 lead time, main first, then by position; else the product's; else 14 days;
--                 never late without a product row)
--   critical      active AND (out_of_stock OR (at_reorder AND late))
-- A flag is stored only with `active` folded in (an inactive item is never out of stock,
-- at reorder or critical here), which is what every count and list wants.

-- ---------------------------------------------------------------------------------------------
-- 1. Flags.
CREATE TABLE query_item_flags (
    id                  TEXT PRIMARY KEY NOT NULL,
    product_url         TEXT,
    sku                 TEXT NOT NULL,
    active              INTEGER NOT NULL,
    out_of_stock        INTEGER NOT NULL,
    at_reorder          INTEGER NOT NULL,
    critical            INTEGER NOT NULL,
    stock_value         REAL NOT NULL,
    reorder_group       TEXT NOT NULL,
    on_order            REAL NOT NULL,
    state_rank          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX query_item_flags_product ON query_item_flags (product_url);
-- The reorder list: by SKU, or by main supplier then SKU.
CREATE INDEX query_item_flags_reorder ON query_item_flags (sku, id) WHERE at_reorder = 1;
CREATE INDEX query_item_flags_reorder_group ON query_item_flags (reorder_group, sku, id)
    WHERE at_reorder = 1;
-- The inventory list sorted on the two columns inventory_items does not hold.
CREATE INDEX query_item_flags_on_order ON query_item_flags (on_order, sku, id);
CREATE INDEX query_item_flags_state ON query_item_flags (state_rank, sku, id);

CREATE VIEW query_item_flags_now AS
SELECT id, product_url, sku, active,
       active AND out_of_stock AS out_of_stock,
       active AND at_reorder AS at_reorder,
       active AND (out_of_stock OR (at_reorder AND late)) AS critical,
       stock_value, reorder_group, on_order,
       CASE WHEN NOT active THEN 3 WHEN out_of_stock THEN 0 WHEN at_reorder THEN 1 ELSE 2 END
           AS state_rank
  FROM (SELECT ii.id AS id, ii.finale_id AS product_url, ii.sku AS sku,
               coalesce(ii.status, '') <> 'PRODUCT_INACTIVE' AS active,
               ii.available <= 0 AS out_of_stock,
               EXISTS (SELECT 1 FROM query_reorder_levels l
                        WHERE l.product_url = ii.finale_id AND l.at_reorder = 1) AS at_reorder,
               coalesce(ii.days_of_stock <
                   (SELECT coalesce((SELECT ps.lead_time_days FROM product_suppliers ps
                                      WHERE ps.product_url = p.url
                                        AND ps.lead_time_days IS NOT NULL
                                      ORDER BY ps.is_main DESC, ps.seq LIMIT 1),
                                    p.lead_time_days, 14.0)
                      FROM products p WHERE p.url = ii.finale_id), 0) AS late,
               max(ii.stock, 0.0) * coalesce(ii.cost, 0.0) AS stock_value,
               coalesce((SELECT x.supplier_url FROM product_suppliers x
                          WHERE x.product_url = ii.finale_id
                          ORDER BY x.is_main DESC, x.seq LIMIT 1), char(1114111)) AS reorder_group,
               coalesce((SELECT sum(s.on_order) FROM stock s WHERE s.product_url = ii.finale_id),
                        0.0) AS on_order
          FROM inventory_items ii);

-- ---------------------------------------------------------------------------------------------
-- 2. Counters.
CREATE TABLE query_counts (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    total               INTEGER NOT NULL,
    inactive            INTEGER NOT NULL,
    out_of_stock        INTEGER NOT NULL,
    at_reorder          INTEGER NOT NULL,
    below_reorder       INTEGER NOT NULL,
    critical            INTEGER NOT NULL,
    stock_value         REAL NOT NULL
) STRICT;

INSERT INTO query_item_flags SELECT * FROM query_item_flags_now;
INSERT INTO query_counts
SELECT 1, count(*), coalesce(sum(NOT active), 0), coalesce(sum(out_of_stock), 0),
       coalesce(sum(at_reorder), 0), coalesce(sum(at_reorder AND NOT out_of_stock), 0),
       coalesce(sum(critical), 0), total(stock_value)
  FROM query_item_flags;

CREATE TRIGGER query_item_flags_counted_insert AFTER INSERT ON query_item_flags BEGIN
    UPDATE query_counts
       SET total = total + 1,
           inactive = inactive + (NOT NEW.active),
           out_of_stock = out_of_stock + NEW.out_of_stock,
           at_reorder = at_reorder + NEW.at_reorder,
           below_reorder = below_reorder + (NEW.at_reorder AND NOT NEW.out_of_stock),
           critical = critical + NEW.critical,
           stock_value = stock_value + NEW.stock_value
     WHERE id = 1;
END;

CREATE TRIGGER query_item_flags_counted_update AFTER UPDATE ON query_item_flags
WHEN (OLD.active, OLD.out_of_stock, OLD.at_reorder, OLD.critical, OLD.stock_value)
     IS NOT (NEW.active, NEW.out_of_stock, NEW.at_reorder, NEW.critical, NEW.stock_value)
BEGIN
    UPDATE query_counts
       SET inactive = inactive - (NOT OLD.active) + (NOT NEW.active),
           out_of_stock = out_of_stock - OLD.out_of_stock + NEW.out_of_stock,
           at_reorder = at_reorder - OLD.at_reorder + NEW.at_reorder,
           below_reorder = below_reorder - (OLD.at_reorder AND NOT OLD.out_of_stock)
                                         + (NEW.at_reorder AND NOT NEW.out_of_stock),
           critical = critical - OLD.critical + NEW.critical,
           stock_value = stock_value - OLD.stock_value + NEW.stock_value
     WHERE id = 1;
END;

CREATE TRIGGER query_item_flags_counted_delete AFTER DELETE ON query_item_flags BEGIN
    UPDATE query_counts
       SET total = total - 1,
           inactive = inactive - (NOT OLD.active),
           out_of_stock = out_of_stock - OLD.out_of_stock,
           at_reorder = at_reorder - OLD.at_reorder,
           below_reorder = below_reorder - (OLD.at_reorder AND NOT OLD.out_of_stock),
           critical = critical - OLD.critical,
           stock_value = stock_value - OLD.stock_value
     WHERE id = 1;
END;

-- ---------------------------------------------------------------------------------------------
-- 3. Keeping the flags. SQLite has no stored procedures, so the one upsert lives in the
-- INSTEAD OF triggers of two empty views: inserting an item id into
-- query_item_flags_refresh_item, or a product URL into query_item_flags_refresh_product,
-- recomputes the flags of those items from query_item_flags_now. The upsert writes only when
-- something differs, so a rewrite of identical values costs a read. Every trigger on a source
-- table below names the items its change can affect; an item that is gone loses its flags.
CREATE VIEW query_item_flags_refresh_item (id) AS SELECT NULL WHERE 0;
CREATE VIEW query_item_flags_refresh_product (product_url) AS SELECT NULL WHERE 0;

CREATE TRIGGER query_item_flags_upsert_item
INSTEAD OF INSERT ON query_item_flags_refresh_item BEGIN
    INSERT INTO query_item_flags SELECT * FROM query_item_flags_now WHERE id = NEW.id
    ON CONFLICT (id) DO UPDATE SET
        product_url = excluded.product_url, sku = excluded.sku, active = excluded.active,
        out_of_stock = excluded.out_of_stock, at_reorder = excluded.at_reorder,
        critical = excluded.critical, stock_value = excluded.stock_value,
        reorder_group = excluded.reorder_group, on_order = excluded.on_order,
        state_rank = excluded.state_rank
    WHERE (product_url, sku, active, out_of_stock, at_reorder, critical, stock_value,
           reorder_group, on_order, state_rank)
          IS NOT (excluded.product_url, excluded.sku, excluded.active, excluded.out_of_stock,
                  excluded.at_reorder, excluded.critical, excluded.stock_value,
                  excluded.reorder_group, excluded.on_order, excluded.state_rank);
END;

CREATE TRIGGER query_item_flags_upsert_product
INSTEAD OF INSERT ON query_item_flags_refresh_product BEGIN
    INSERT INTO query_item_flags
    SELECT * FROM query_item_flags_now WHERE product_url = NEW.product_url
    ON CONFLICT (id) DO UPDATE SET
        product_url = excluded.product_url, sku = excluded.sku, active = excluded.active,
        out_of_stock = excluded.out_of_stock, at_reorder = excluded.at_reorder,
        critical = excluded.critical, stock_value = excluded.stock_value,
        reorder_group = excluded.reorder_group, on_order = excluded.on_order,
        state_rank = excluded.state_rank
    WHERE (product_url, sku, active, out_of_stock, at_reorder, critical, stock_value,
           reorder_group, on_order, state_rank)
          IS NOT (excluded.product_url, excluded.sku, excluded.active, excluded.out_of_stock,
                  excluded.at_reorder, excluded.critical, excluded.stock_value,
                  excluded.reorder_group, excluded.on_order, excluded.state_rank);
END;

-- The item itself.
CREATE TRIGGER query_item_flags_item_insert AFTER INSERT ON inventory_items BEGIN
    INSERT INTO query_item_flags_refresh_item VALUES (NEW.id);
END;

CREATE TRIGGER query_item_flags_item_update
AFTER UPDATE OF id, finale_id, sku, status, available, days_of_stock, stock, cost
ON inventory_items BEGIN
    DELETE FROM query_item_flags WHERE id = OLD.id AND OLD.id <> NEW.id;
    INSERT INTO query_item_flags_refresh_item VALUES (NEW.id);
END;

CREATE TRIGGER query_item_flags_item_delete AFTER DELETE ON inventory_items BEGIN
    DELETE FROM query_item_flags WHERE id = OLD.id;
END;

-- A location reaching or leaving its reorder point: only a level row with at_reorder = 1
-- appearing or disappearing can change the item's flag.
CREATE TRIGGER query_item_flags_level_insert AFTER INSERT ON query_reorder_levels
WHEN NEW.at_reorder = 1 BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (NEW.product_url);
END;

CREATE TRIGGER query_item_flags_level_update AFTER UPDATE ON query_reorder_levels
WHEN OLD.at_reorder IS NOT NEW.at_reorder OR OLD.product_url IS NOT NEW.product_url BEGIN
    INSERT INTO query_item_flags_refresh_product
    SELECT OLD.product_url UNION SELECT NEW.product_url;
END;

CREATE TRIGGER query_item_flags_level_delete AFTER DELETE ON query_reorder_levels
WHEN OLD.at_reorder = 1 BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (OLD.product_url);
END;

-- The lead time and the main supplier: a product's lead time and its supplier links.
CREATE TRIGGER query_item_flags_product_insert AFTER INSERT ON products BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (NEW.url);
END;

CREATE TRIGGER query_item_flags_product_update AFTER UPDATE OF url, lead_time_days ON products
BEGIN
    INSERT INTO query_item_flags_refresh_product SELECT OLD.url UNION SELECT NEW.url;
END;

CREATE TRIGGER query_item_flags_product_delete AFTER DELETE ON products BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (OLD.url);
END;

CREATE TRIGGER query_item_flags_supplier_insert AFTER INSERT ON product_suppliers BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (NEW.product_url);
END;

CREATE TRIGGER query_item_flags_supplier_update
AFTER UPDATE OF product_url, seq, supplier_url, is_main, lead_time_days ON product_suppliers
BEGIN
    INSERT INTO query_item_flags_refresh_product
    SELECT OLD.product_url UNION SELECT NEW.product_url;
END;

CREATE TRIGGER query_item_flags_supplier_delete AFTER DELETE ON product_suppliers BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (OLD.product_url);
END;

-- Units on order: only a stock row whose on_order is or was non-zero can change the sum.
CREATE TRIGGER query_item_flags_stock_insert AFTER INSERT ON stock WHEN NEW.on_order <> 0 BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (NEW.product_url);
END;

CREATE TRIGGER query_item_flags_stock_update AFTER UPDATE OF product_url, on_order ON stock
WHEN OLD.on_order IS NOT NEW.on_order OR OLD.product_url IS NOT NEW.product_url BEGIN
    INSERT INTO query_item_flags_refresh_product
    SELECT OLD.product_url UNION SELECT NEW.product_url;
END;

CREATE TRIGGER query_item_flags_stock_delete AFTER DELETE ON stock WHEN OLD.on_order <> 0 BEGIN
    INSERT INTO query_item_flags_refresh_product VALUES (OLD.product_url);
END;
