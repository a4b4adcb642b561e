-- The writer role's lease (issue 8 §3), as in the Postgres migration of the same version.
-- APPEND-ONLY.
--
-- Times are epoch milliseconds from the holder's clock (the local store lives on one
-- machine). `holder_pid` is the OS process id of the holder while it holds the lock file
-- (`<db>.writer.lock`), NULL while it does not (it took the role over an expired lease and the
-- frozen holder still has the file locked).
CREATE TABLE writer_lease (
    role            TEXT PRIMARY KEY NOT NULL DEFAULT 'writer' CHECK (role = 'writer'),
    token           TEXT NOT NULL UNIQUE CHECK (token <> ''),
    runner          TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    holder_pid      INTEGER,
    acquired_at     INTEGER NOT NULL,
    heartbeat_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL CHECK (expires_at >= heartbeat_at)
) STRICT;
