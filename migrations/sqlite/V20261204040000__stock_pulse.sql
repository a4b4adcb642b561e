-- The stock pulse (issue 7, "a stock pulse every five minutes"). APPEND-ONLY.
--
-- sync_runs.strategy gains 'stock' (see the Postgres migration of the same version). SQLite
-- cannot alter a CHECK constraint, so sync_runs is rebuilt. sync_errors references it with ON
-- DELETE CASCADE and foreign keys are on (they cannot be switched off inside the migration's
-- transaction), so dropping the old sync_runs would delete every quarantined record: the
-- quarantine is set aside first, and restored with its ids once the new sync_runs is in place.
CREATE TABLE sync_runs_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy            TEXT NOT NULL CHECK (strategy IN ('full', 'smart', 'critical', 'stock')),
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
INSERT INTO sync_runs_new SELECT * FROM sync_runs;

CREATE TEMP TABLE sync_errors_kept AS SELECT * FROM sync_errors;
DROP TABLE sync_errors;
DROP TABLE sync_runs;
ALTER TABLE sync_runs_new RENAME TO sync_runs;
CREATE INDEX sync_runs_started_at ON sync_runs (started_at DESC);
CREATE INDEX sync_runs_strategy_success ON sync_runs (strategy, started_at DESC)
    WHERE success = 1;

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
INSERT INTO sync_errors SELECT * FROM temp.sync_errors_kept;
DROP TABLE temp.sync_errors_kept;
CREATE INDEX sync_errors_run_id ON sync_errors (run_id);
CREATE INDEX sync_errors_collection_key ON sync_errors (collection, record_key);
