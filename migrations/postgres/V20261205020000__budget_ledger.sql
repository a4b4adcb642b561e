-- The budget ledger (issue 8 §6, "the budget survives restarts"). APPEND-ONLY.
--
-- Every engine on the account records the Finale requests it was granted, counted per
-- (budget bucket, one-minute slot of the engine's clock), and every run starts from the last
-- hour's rows: a restart loop cannot spend the hour's collection reads once per process.
-- Rows grow by upsert (count = count + n); rows older than the longest window are pruned at
-- run start. See crates/finale/src/scheduler.rs, "The ledger".
CREATE TABLE budget_spends (
    bucket              text NOT NULL CHECK (bucket IN ('get', 'post', 'collection')),
    slot                timestamptz NOT NULL,
    count               bigint NOT NULL CHECK (count > 0),
    PRIMARY KEY (bucket, slot)
);
