-- Local queries (issue 9): the search index and the per-location reorder levels that
-- workstation::query reads, kept current by triggers so that every writer (the embedded
-- engine, the mirror, a test's plain INSERT) keeps them right without knowing they exist.
-- Local store only: the shared store answers no UI query. APPEND-ONLY.
--
-- 1. search_docs + product_search: one FTS5 document per product (SKU, name, UPC and the
--    supplier SKUs of its supplier links), unicode61 tokens with prefix indexes of 2 and 3
--    characters (queries are prefix queries: search as you type). The FTS rowid is
--    search_docs.id, an INTEGER PRIMARY KEY that VACUUM never renumbers (products' own rowid
--    may change: its key is a TEXT url).
-- 2. query_reorder_levels: a product's stock and reorder point per location, the engine's
--    store::derive::location_levels materialized: guidelines (do-not-reorder ones and those
--    without a reorder point left out) rolled up to their location through
--    facilities.parent_url, with the stock of the location and its sublocations; a guideline
--    without a facility ('' here) compares with the product's total. Recomputed for a product
--    whenever its stock or guidelines change, and for every product of a facility whose
--    parent changes.
-- 3. Indexes for sorting the inventory list on each whitelisted column with a unique
--    tie-breaker (keyset paging reads a page in index order), and for SKU prefixes.

-- ---------------------------------------------------------------------------------------------
-- 1. Search.
CREATE TABLE search_docs (
    id                  INTEGER PRIMARY KEY,
    product_url         TEXT NOT NULL UNIQUE
) STRICT;

CREATE VIRTUAL TABLE product_search USING fts5 (
    sku, name, upc, supplier_skus,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

INSERT INTO search_docs (product_url) SELECT url FROM products ORDER BY url;
INSERT INTO product_search (rowid, sku, name, upc, supplier_skus)
SELECT d.id, p.sku, p.name, p.upc,
       (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
         WHERE s.product_url = p.url)
  FROM products p JOIN search_docs d ON d.product_url = p.url;

-- No statement of these triggers can meet a conflict, so they behave the same under any
-- conflict policy of the statement that fires them (an outer INSERT OR REPLACE imposes its
-- policy on the trigger's statements; a REPLACE fires no delete trigger without recursive
-- triggers, and the document is then rewritten in place).
CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO search_docs (product_url)
    SELECT NEW.url WHERE NOT EXISTS (SELECT 1 FROM search_docs WHERE product_url = NEW.url);
    DELETE FROM product_search
     WHERE rowid = (SELECT id FROM search_docs WHERE product_url = NEW.url);
    INSERT INTO product_search (rowid, sku, name, upc, supplier_skus)
    VALUES ((SELECT id FROM search_docs WHERE product_url = NEW.url), NEW.sku, NEW.name, NEW.upc,
            (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
              WHERE s.product_url = NEW.url));
END;

CREATE TRIGGER products_search_update AFTER UPDATE OF url, sku, name, upc ON products BEGIN
    DELETE FROM product_search
     WHERE rowid IN (SELECT id FROM search_docs WHERE product_url IN (OLD.url, NEW.url));
    DELETE FROM search_docs WHERE product_url = NEW.url AND NEW.url <> OLD.url;
    UPDATE search_docs SET product_url = NEW.url WHERE product_url = OLD.url;
    INSERT INTO search_docs (product_url)
    SELECT NEW.url WHERE NOT EXISTS (SELECT 1 FROM search_docs WHERE product_url = NEW.url);
    INSERT INTO product_search (rowid, sku, name, upc, supplier_skus)
    VALUES ((SELECT id FROM search_docs WHERE product_url = NEW.url), NEW.sku, NEW.name, NEW.upc,
            (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
              WHERE s.product_url = NEW.url));
END;

CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    DELETE FROM product_search
     WHERE rowid = (SELECT id FROM search_docs WHERE product_url = OLD.url);
    DELETE FROM search_docs WHERE product_url = OLD.url;
END;

CREATE TRIGGER product_suppliers_search_insert AFTER INSERT ON product_suppliers BEGIN
    UPDATE product_search
       SET supplier_skus = (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
                             WHERE s.product_url = NEW.product_url)
     WHERE rowid = (SELECT id FROM search_docs WHERE product_url = NEW.product_url);
END;

CREATE TRIGGER product_suppliers_search_update
AFTER UPDATE OF product_url, supplier_sku ON product_suppliers BEGIN
    UPDATE product_search
       SET supplier_skus = (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
                             WHERE s.product_url = OLD.product_url)
     WHERE rowid = (SELECT id FROM search_docs WHERE product_url = OLD.product_url);
    UPDATE product_search
       SET supplier_skus = (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
                             WHERE s.product_url = NEW.product_url)
     WHERE rowid = (SELECT id FROM search_docs WHERE product_url = NEW.product_url);
END;

CREATE TRIGGER product_suppliers_search_delete AFTER DELETE ON product_suppliers BEGIN
    UPDATE product_search
       SET supplier_skus = (SELECT group_concat(s.supplier_sku, ' ') FROM product_suppliers s
                             WHERE s.product_url = OLD.product_url)
     WHERE rowid = (SELECT id FROM search_docs WHERE product_url = OLD.product_url);
END;

-- SKU prefixes, case-insensitive (ASCII), ranked before other matches.
CREATE INDEX products_sku_nocase ON products (sku COLLATE NOCASE, url);

-- ---------------------------------------------------------------------------------------------
-- 2. Reorder levels per location.
CREATE TABLE query_reorder_levels (
    product_url         TEXT NOT NULL,
    location_url        TEXT NOT NULL,
    reorder_point       REAL NOT NULL,
    reorder_qty         REAL,
    on_hand             REAL NOT NULL,
    reserved            REAL NOT NULL,
    on_order            REAL NOT NULL,
    at_reorder          INTEGER NOT NULL GENERATED ALWAYS AS
                            (on_hand - reserved <= reorder_point) STORED,
    PRIMARY KEY (product_url, location_url)
) STRICT, WITHOUT ROWID;
CREATE INDEX query_reorder_levels_at ON query_reorder_levels (product_url) WHERE at_reorder = 1;

-- The recomputation, written out once per trigger (SQLite has no stored procedures): every
-- statement is the same two steps for a set of products P.
--   DELETE FROM query_reorder_levels WHERE product_url IN P;
--   INSERT INTO query_reorder_levels (...) SELECT ... guidelines of P, grouped by location;
INSERT INTO query_reorder_levels
       (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
       coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                  WHERE s.product_url = g.product_url
                    AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
       coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                  WHERE s.product_url = g.product_url
                    AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
       coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                  WHERE s.product_url = g.product_url
                    AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
  FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
               r.reorder_point, r.reorder_qty
          FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
         WHERE r.reorder_point IS NOT NULL
           AND r.calculation_method IS NOT '##doNotReorder') g
 GROUP BY g.product_url, g.loc;

-- Stock changes: the product's levels.
CREATE TRIGGER stock_levels_insert AFTER INSERT ON stock BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (NEW.product_url);
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (NEW.product_url)
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;
CREATE TRIGGER stock_levels_update AFTER UPDATE ON stock
WHEN OLD.product_url IS NOT NEW.product_url OR OLD.facility_url IS NOT NEW.facility_url
  OR OLD.on_hand IS NOT NEW.on_hand OR OLD.reserved IS NOT NEW.reserved
  OR OLD.on_order IS NOT NEW.on_order
BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (OLD.product_url, NEW.product_url);
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (OLD.product_url, NEW.product_url)
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;
CREATE TRIGGER stock_levels_delete AFTER DELETE ON stock BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (OLD.product_url);
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (OLD.product_url)
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;

-- Guideline changes (a product's deletion cascades to its guidelines): the product's levels.
CREATE TRIGGER guidelines_levels_insert AFTER INSERT ON reorder_guidelines BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (NEW.product_url);
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (NEW.product_url)
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;
CREATE TRIGGER guidelines_levels_update AFTER UPDATE ON reorder_guidelines
WHEN OLD.product_url IS NOT NEW.product_url OR OLD.facility_url IS NOT NEW.facility_url
  OR OLD.reorder_point IS NOT NEW.reorder_point OR OLD.reorder_qty IS NOT NEW.reorder_qty
  OR OLD.calculation_method IS NOT NEW.calculation_method
BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (OLD.product_url, NEW.product_url);
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (OLD.product_url, NEW.product_url)
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;
CREATE TRIGGER guidelines_levels_delete AFTER DELETE ON reorder_guidelines BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (OLD.product_url);
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (OLD.product_url)
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;

-- Facility changes move stock and guidelines between locations: the levels of every
-- product with stock or a guideline at the facility.
CREATE TRIGGER facilities_levels_insert AFTER INSERT ON facilities BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (SELECT product_url FROM stock WHERE facility_url IN (NEW.url)
                     UNION SELECT product_url FROM reorder_guidelines WHERE facility_url IN (NEW.url));
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (SELECT product_url FROM stock WHERE facility_url IN (NEW.url)
                     UNION SELECT product_url FROM reorder_guidelines WHERE facility_url IN (NEW.url))
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;
CREATE TRIGGER facilities_levels_update AFTER UPDATE ON facilities
WHEN OLD.url IS NOT NEW.url OR OLD.parent_url IS NOT NEW.parent_url
BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (SELECT product_url FROM stock WHERE facility_url IN (OLD.url, NEW.url)
                     UNION SELECT product_url FROM reorder_guidelines WHERE facility_url IN (OLD.url, NEW.url));
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (SELECT product_url FROM stock WHERE facility_url IN (OLD.url, NEW.url)
                     UNION SELECT product_url FROM reorder_guidelines WHERE facility_url IN (OLD.url, NEW.url))
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;
CREATE TRIGGER facilities_levels_delete AFTER DELETE ON facilities BEGIN
    DELETE FROM query_reorder_levels WHERE product_url IN (SELECT product_url FROM stock WHERE facility_url IN (OLD.url)
                     UNION SELECT product_url FROM reorder_guidelines WHERE facility_url IN (OLD.url));
    INSERT INTO query_reorder_levels
           (product_url, location_url, reorder_point, reorder_qty, on_hand, reserved, on_order)
    SELECT g.product_url, g.loc, sum(g.reorder_point), sum(g.reorder_qty),
           coalesce((SELECT sum(s.on_hand) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.reserved) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0),
           coalesce((SELECT sum(s.on_order) FROM stock s LEFT JOIN facilities f ON f.url = s.facility_url
                      WHERE s.product_url = g.product_url
                        AND (g.loc = '' OR coalesce(f.parent_url, s.facility_url) = g.loc)), 0)
      FROM (SELECT r.product_url, coalesce(rf.parent_url, r.facility_url, '') AS loc,
                   r.reorder_point, r.reorder_qty
              FROM reorder_guidelines r LEFT JOIN facilities rf ON rf.url = r.facility_url
             WHERE r.product_url IN (SELECT product_url FROM stock WHERE facility_url IN (OLD.url)
                     UNION SELECT product_url FROM reorder_guidelines WHERE facility_url IN (OLD.url))
               AND r.reorder_point IS NOT NULL
               AND r.calculation_method IS NOT '##doNotReorder') g
     GROUP BY g.product_url, g.loc;
END;

-- ---------------------------------------------------------------------------------------------
-- 3. The inventory list: one index per sortable column of inventory_items, ending with the
-- tie-breakers (sku, id) so that a keyset page is one range read in index order. Nullable
-- columns are indexed (and sorted) through a NOT NULL expression, so that a page boundary is
-- one row-value comparison: an unknown reorder point, cost or price sorts as -1 (before 0), an
-- unknown days of stock (nothing sells) as 1e308 (never runs out), an unknown name or status
-- as ''. workstation::query::search writes these expressions exactly as here.
CREATE INDEX query_items_sku ON inventory_items (sku, id);
CREATE INDEX query_items_name ON inventory_items (coalesce(name, ''), sku, id);
CREATE INDEX query_items_stock ON inventory_items (stock, sku, id);
CREATE INDEX query_items_available ON inventory_items (available, sku, id);
CREATE INDEX query_items_reorder_point ON inventory_items (coalesce(reorder_point, -1.0), sku, id);
CREATE INDEX query_items_velocity ON inventory_items (sales_velocity, sku, id);
CREATE INDEX query_items_velocity_90d ON inventory_items (sales_velocity_90d, sku, id);
CREATE INDEX query_items_days_of_stock ON inventory_items (coalesce(days_of_stock, 1e308), sku, id);
CREATE INDEX query_items_cost ON inventory_items (coalesce(cost, -1.0), sku, id);
CREATE INDEX query_items_price ON inventory_items (coalesce(price, -1.0), sku, id);
CREATE INDEX query_items_status ON inventory_items (coalesce(status, ''), sku, id);
CREATE INDEX query_items_value ON inventory_items (stock * coalesce(cost, 0.0), sku, id);
-- Out of stock is a small set: counted and listed from its own partial index.
CREATE INDEX query_items_out_of_stock ON inventory_items (sku, id) WHERE available <= 0;

-- The dashboard's totals (items, inactive, stock value) read this narrow index, not the rows.
CREATE INDEX query_items_totals ON inventory_items (status, stock, cost);
-- The dashboard's pass over the items at a reorder point reads this index by product URL,
-- not the rows.
CREATE INDEX query_items_state ON inventory_items (finale_id, status, available, days_of_stock);
