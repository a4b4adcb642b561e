-- The change feed (issue 9): how workstation mirrors learn, commit-safely, what changed.
-- APPEND-ONLY.
--
-- Model (crates/store/src/pg/feed.rs explains the reading side):
-- * Every mirrored table (the data tables, sync_runs, sync_errors) has `change_xid xid8`: the
--   id of the transaction that last changed what a user sees in the row. Its default stamps
--   an INSERT, and a BEFORE trigger an UPDATE that changes a visible column (the triggers'
--   WHEN conditions decide, so rows with nothing to stamp cost no function call); an UPDATE that
--   changes only bookkeeping (updated_at, first_seen_at, finale_last_sync, last_updated,
--   content_hash) or rewrites identical values keeps the old stamp, so the engine's hourly
--   confirmation of 50,000 items ships nothing. The comparison is of the columns themselves,
--   not of content_hash: a hand edit in the SQL editor does not recompute the hash.
-- * Deletions leave a tombstone (feed_tombstones: table, primary key as JSON, change_xid).
-- * Positions are commit-safe by construction: a mirror reads, in one snapshot, every row and
--   tombstone with change_xid >= its position P, and moves to the snapshot's xmin
--   (pg_snapshot_xmin(pg_current_snapshot())). Every transaction with an id below that xmin
--   had finished when the snapshot was taken, so its rows were in the read; a transaction
--   that took its id early and commits late has an id >= xmin and is read next time.
-- * A writing transaction sends one NOTIFY on channel `stockpulse_feed`, its payload the
--   transaction's id (a position, never rows): a statement trigger on every mirrored table
--   calls pg_notify with the same payload, and Postgres delivers identical notifications of
--   one transaction once. (A statement that changed nothing visible may wake the mirrors;
--   their catch-up then finds nothing.)
-- * Pruning: mirrors register their position in feed_mirrors; feed_prune() drops tombstones
--   below the oldest position of a mirror seen recently, and records that horizon: a mirror
--   whose position is below it has missed deletions and re-hydrates.
-- * The triggers are generated from the catalog by feed_install(table, key columns): a later
--   migration that adds a column calls it again.

-- Which store a mirror follows: a mirror pointed at another database (or a restored copy)
-- re-hydrates instead of applying positions that mean nothing there.
CREATE TABLE feed_identity (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO feed_identity DEFAULT VALUES;

CREATE TABLE feed_tombstones (
    table_name  text NOT NULL CHECK (table_name <> ''),
    key         jsonb NOT NULL CHECK (jsonb_typeof(key) = 'object'),
    change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_tombstones_change_xid ON feed_tombstones (change_xid);

-- One row per workstation mirror: the position it has applied and when it was last seen.
CREATE TABLE feed_mirrors (
    mirror_id   uuid PRIMARY KEY,
    position    xid8 NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    description text
);

-- The pruning horizon (one row): tombstones below it are gone.
CREATE TABLE feed_horizon (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    horizon     xid8 NOT NULL,
    pruned_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO feed_horizon (horizon) VALUES ('0'::xid8);

-- Columns that are bookkeeping, not content: changing only these does not move a position.
CREATE FUNCTION feed_bookkeeping_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['change_xid', 'content_hash', 'updated_at', 'first_seen_at',
                 'finale_last_sync', 'last_updated']
$$;

-- The wake-up: its payload is the transaction's id (a position, never rows).
CREATE FUNCTION feed_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stockpulse_feed', pg_current_xact_id()::text);
    RETURN NULL;
END
$$;

-- (Re)creates the change_xid column, its index and the stamping and tombstone triggers of one
-- table, from the catalog. `key_columns` is the table's primary key.
CREATE FUNCTION feed_install(tbl regclass, key_columns text[]) RETURNS void
LANGUAGE plpgsql AS $install$
DECLARE
    name        text := (SELECT relname FROM pg_class WHERE oid = tbl);
    new_cols    text;
    old_cols    text;
    key_json    text;
BEGIN
    EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS change_xid xid8 NOT NULL '
                   'DEFAULT pg_current_xact_id()', tbl);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (change_xid)',
                   name || '_change_xid', tbl);

    SELECT string_agg(format('NEW.%I', attname), ', ' ORDER BY attnum),
           string_agg(format('OLD.%I', attname), ', ' ORDER BY attnum)
      INTO new_cols, old_cols
      FROM pg_attribute
     WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
       AND attname <> ALL (feed_bookkeeping_columns());

    SELECT string_agg(format('%L, OLD.%I', k, k), ', ')
      INTO key_json
      FROM unnest(key_columns) AS k;

    -- Stamping runs only where it has something to do, decided by the trigger's WHEN (no
    -- function call per row): an INSERT whose change_xid is not the default, an UPDATE that
    -- changes a visible column.
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION %I() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            NEW.change_xid := pg_current_xact_id();
            RETURN NEW;
        END
        $body$$f$, 'feed_stamp_' || name);

    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION %I() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            INSERT INTO feed_tombstones (table_name, key)
                 VALUES (%L, jsonb_build_object(%s));
            RETURN NULL;
        END
        $body$$f$, 'feed_tombstone_' || name, name, key_json);

    EXECUTE format('DROP TRIGGER IF EXISTS feed_stamp ON %s', tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS feed_stamp_insert ON %s', tbl);
    EXECUTE format('CREATE TRIGGER feed_stamp_insert BEFORE INSERT ON %s FOR EACH ROW '
                   'WHEN (NEW.change_xid IS DISTINCT FROM pg_current_xact_id()) '
                   'EXECUTE FUNCTION %I()', tbl, 'feed_stamp_' || name);
    EXECUTE format('CREATE TRIGGER feed_stamp BEFORE UPDATE ON %s FOR EACH ROW '
                   'WHEN (ROW(%s) IS DISTINCT FROM ROW(%s)) '
                   'EXECUTE FUNCTION %I()', tbl, new_cols, old_cols, 'feed_stamp_' || name);
    EXECUTE format('DROP TRIGGER IF EXISTS feed_tombstone ON %s', tbl);
    EXECUTE format('CREATE TRIGGER feed_tombstone AFTER DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION %I()', tbl, 'feed_tombstone_' || name);
    -- One wake-up per statement, which Postgres folds into one per transaction (identical
    -- notifications of a transaction are delivered once).
    EXECUTE format('DROP TRIGGER IF EXISTS feed_notify ON %s', tbl);
    EXECUTE format('CREATE TRIGGER feed_notify AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION feed_notify()', tbl);
END
$install$;

SELECT feed_install('facilities', ARRAY['url']);
SELECT feed_install('parties', ARRAY['url']);
SELECT feed_install('products', ARRAY['url']);
SELECT feed_install('product_suppliers', ARRAY['product_url', 'seq']);
SELECT feed_install('reorder_guidelines', ARRAY['product_url', 'seq']);
SELECT feed_install('stock', ARRAY['product_url', 'facility_url']);
SELECT feed_install('orders', ARRAY['url']);
SELECT feed_install('order_lines', ARRAY['order_url', 'seq']);
SELECT feed_install('daily_sales', ARRAY['product_url', 'day']);
SELECT feed_install('inventory_items', ARRAY['id']);
SELECT feed_install('sync_runs', ARRAY['id']);
SELECT feed_install('sync_errors', ARRAY['id']);

-- Drops tombstones no live mirror needs and records the horizon. A mirror is live when it
-- was seen within `live_for`; with none live, everything older than `keep_at_least` goes.
-- Returns the number of tombstones dropped.
CREATE FUNCTION feed_prune(live_for interval, keep_at_least interval) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    needed       xid8;
    by_age       xid8;
    new_horizon  xid8;
    dropped      bigint;
BEGIN
    SELECT min(position) INTO needed FROM feed_mirrors WHERE seen_at > now() - live_for;
    -- Tombstones younger than keep_at_least stay even when no mirror needs them, so that a
    -- mirror that has not registered yet (or was away briefly) does not re-hydrate for nothing.
    SELECT min(change_xid) INTO by_age FROM feed_tombstones
     WHERE deleted_at > now() - keep_at_least;
    -- LEAST ignores NULLs; with neither, nothing below the oldest running transaction is needed.
    new_horizon := COALESCE(LEAST(needed, by_age), pg_snapshot_xmin(pg_current_snapshot()));
    DELETE FROM feed_tombstones WHERE change_xid < new_horizon;
    GET DIAGNOSTICS dropped = ROW_COUNT;
    UPDATE feed_horizon
       SET horizon = GREATEST(feed_horizon.horizon, new_horizon), pruned_at = now();
    DELETE FROM feed_mirrors WHERE seen_at < now() - live_for * 4;
    RETURN dropped;
END
$$;
