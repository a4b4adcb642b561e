-- The workstation mirror's bookkeeping (issue 9). APPEND-ONLY.
--
-- * change_xid on every mirrored table: the shared store's change position of the row's
--   version (Postgres xid8, as an integer). The mirror writes it with the row; the embedded
--   engine leaves it NULL. Reconciliation compares per-bucket sums of it with the store's.
-- * mirror_state (one row): which store this cache mirrors, the position applied (stored in
--   the same transaction as the rows it covers, with the snapshot it was read in), and the cache's state for `status` and the
--   app (live, catching up, offline since, data as of), refreshed by a heartbeat.
-- * mirror_reconciliations: the result of every checksum comparison.
ALTER TABLE facilities ADD COLUMN change_xid INTEGER;
ALTER TABLE parties ADD COLUMN change_xid INTEGER;
ALTER TABLE products ADD COLUMN change_xid INTEGER;
ALTER TABLE product_suppliers ADD COLUMN change_xid INTEGER;
ALTER TABLE reorder_guidelines ADD COLUMN change_xid INTEGER;
ALTER TABLE stock ADD COLUMN change_xid INTEGER;
ALTER TABLE inventory_items ADD COLUMN change_xid INTEGER;
ALTER TABLE orders ADD COLUMN change_xid INTEGER;
ALTER TABLE order_lines ADD COLUMN change_xid INTEGER;
ALTER TABLE daily_sales ADD COLUMN change_xid INTEGER;
ALTER TABLE sync_runs ADD COLUMN change_xid INTEGER;
ALTER TABLE sync_errors ADD COLUMN change_xid INTEGER;

CREATE TABLE mirror_state (
    one             INTEGER PRIMARY KEY NOT NULL DEFAULT 1 CHECK (one = 1),
    mirror_id       TEXT NOT NULL CHECK (mirror_id <> ''),
    store_identity  TEXT,
    store_target    TEXT,
    position        INTEGER,
    snapshot        TEXT,
    hydrated_at     INTEGER,
    state           TEXT NOT NULL CHECK (state IN ('hydrating', 'catching_up', 'live', 'offline')),
    since           INTEGER NOT NULL,
    data_as_of      INTEGER,
    loading         TEXT NOT NULL DEFAULT '[]'
                        CHECK (json_valid(loading) AND json_type(loading) = 'array'),
    message         TEXT,
    heartbeat_at    INTEGER NOT NULL,
    pid             INTEGER
) STRICT;

CREATE TABLE mirror_reconciliations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    tables          INTEGER NOT NULL CHECK (tables >= 0),
    buckets         INTEGER NOT NULL CHECK (buckets >= 0),
    mismatched      INTEGER NOT NULL CHECK (mismatched >= 0),
    rows_repaired   INTEGER NOT NULL CHECK (rows_repaired >= 0),
    rows_deleted    INTEGER NOT NULL CHECK (rows_deleted >= 0),
    details         TEXT NOT NULL DEFAULT '[]'
                        CHECK (json_valid(details) AND json_type(details) = 'array')
) STRICT;
