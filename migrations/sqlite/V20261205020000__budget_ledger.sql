-- The budget ledger (issue 8 §6, "the budget survives restarts"). APPEND-ONLY.
--
-- See the Postgres migration of the same version: grants per (bucket, one-minute slot of the
-- engine's clock), upserted by every engine, read at run start, pruned after the longest
-- window. `slot` is epoch milliseconds, like every timestamp of this store.
CREATE TABLE budget_spends (
    bucket              TEXT NOT NULL CHECK (bucket IN ('get', 'post', 'collection')),
    slot                INTEGER NOT NULL,
    count               INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (bucket, slot)
) STRICT;
