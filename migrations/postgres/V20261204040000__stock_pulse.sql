-- The stock pulse (issue 7, "a stock pulse every five minutes"). APPEND-ONLY.
--
-- sync_runs.strategy gains 'stock': `serve` reads Finale's stock on its own short cadence
-- (every 5 minutes by default) at critical priority and writes only the pairs that changed;
-- each pulse is a run like any other, with its metrics, so the health screens and `status`
-- see it.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_strategy_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_strategy_check
    CHECK (strategy IN ('full', 'smart', 'critical', 'stock'));

-- The schedule asks for the newest successful run of each strategy (a pulse every 5 minutes
-- would push the daily smart run out of any "recent runs" window).
CREATE INDEX sync_runs_strategy_success ON sync_runs (strategy, started_at DESC)
    WHERE success;
