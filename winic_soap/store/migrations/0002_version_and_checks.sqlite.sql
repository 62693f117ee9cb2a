-- The schema version (one row per applied migration) and CHECKs on the state columns: a state the code
-- does not know is refused by the database instead of stranding a record or a batch. SQLite cannot add a
-- constraint to a table: each table is rebuilt (new table, copy, drop, rename, indexes again), in the
-- migration's one transaction.
CREATE TABLE winic_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL);
CREATE TABLE winic_inbox_new (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    uid TEXT NOT NULL,
    operation TEXT NOT NULL,
    message_id TEXT,
    mobile TEXT,
    status TEXT,
    payload TEXT NOT NULL,
    raw TEXT NOT NULL,
    pulled_at TEXT NOT NULL,
    pulled_epoch REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    lease_owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at TEXT,
    CONSTRAINT winic_inbox_state CHECK (state IN ('pending', 'done', 'dead')),
    CONSTRAINT winic_inbox_kind CHECK (kind IN ('report', 'reply')));
INSERT INTO winic_inbox_new (seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw,
    pulled_at, pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at)
    SELECT seq, id, kind, endpoint, uid, operation, message_id, mobile, status, payload, raw, pulled_at,
    pulled_epoch, state, lease_owner, lease_until, attempts, last_error, done_at FROM winic_inbox;
DROP TABLE winic_inbox;
ALTER TABLE winic_inbox_new RENAME TO winic_inbox;
CREATE INDEX winic_inbox_ready ON winic_inbox (state, seq);
CREATE INDEX winic_inbox_message ON winic_inbox (message_id);
CREATE INDEX winic_inbox_leases ON winic_inbox (state, lease_until);
CREATE INDEX winic_inbox_attempts ON winic_inbox (state, attempts);
CREATE TABLE winic_batches_new (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    numbers TEXT NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL,
    message_id TEXT,
    code TEXT,
    error TEXT,
    source TEXT,
    owner TEXT,
    started_at TEXT,
    started_epoch REAL,
    finished_at TEXT,
    PRIMARY KEY (job_id, idx),
    CONSTRAINT winic_batches_state CHECK (state IN ('new', 'sending', 'accepted', 'failed', 'unknown')),
    CONSTRAINT winic_batches_source CHECK (source IS NULL OR source IN ('send', 'reports')));
INSERT INTO winic_batches_new (job_id, idx, numbers, size, state, message_id, code, error, source, owner,
    started_at, started_epoch, finished_at)
    SELECT job_id, idx, numbers, size, state, message_id, code, error, source, owner, started_at, started_epoch,
    finished_at FROM winic_batches;
DROP TABLE winic_batches;
ALTER TABLE winic_batches_new RENAME TO winic_batches;
CREATE INDEX winic_batches_message ON winic_batches (message_id);
CREATE INDEX winic_batches_state ON winic_batches (state, job_id, idx);
