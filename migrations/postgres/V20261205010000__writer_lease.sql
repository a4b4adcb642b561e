-- The writer role's lease (issue 8 §3, "another engine is writing is not done"). APPEND-ONLY.
--
-- One row while an engine holds the writer role, none when nobody does. The holder renews
-- it (`heartbeat_at`, `expires_at = heartbeat_at + its TTL`, both from the server's clock)
-- every quarter TTL; a contender that finds it expired takes the role over, so a frozen
-- holder (a laptop closed mid-sync keeps its sockets open) is replaced within minutes.
-- `holder_pid` is the backend pid of the holder's session holding the writer advisory lock,
-- NULL while it does not hold it (it took the role over an expired lease and the lock has
-- not come free yet). `token` is the fence: every write transaction of the holder checks it
-- (`SELECT ... FOR KEY SHARE`); a takeover changes it (a key update, which waits for those
-- transactions), so a holder that lost the role cannot commit a write afterwards.
CREATE TABLE writer_lease (
    role            text PRIMARY KEY DEFAULT 'writer' CHECK (role = 'writer'),
    token           text NOT NULL UNIQUE CHECK (token <> ''),
    runner          text NOT NULL,
    purpose         text NOT NULL,
    holder_pid      integer,
    acquired_at     timestamptz NOT NULL,
    heartbeat_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL CHECK (expires_at >= heartbeat_at)
);
