-- The schema as released before numbered migrations (commit 7d69f8b): a store holding these tables and no
-- winic_schema table is recognised as version 1. Kept exactly as that release created it.
CREATE TABLE IF NOT EXISTS winic_inbox (
    seq {seq},
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
    pulled_epoch {real} NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    lease_owner TEXT,
    lease_until {real},
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at TEXT);
CREATE INDEX IF NOT EXISTS winic_inbox_ready ON winic_inbox (state, seq);
CREATE INDEX IF NOT EXISTS winic_inbox_message ON winic_inbox (message_id);
-- each claim looks for leased and for exhausted records: without these it would scan every pending one
CREATE INDEX IF NOT EXISTS winic_inbox_leases ON winic_inbox (state, lease_until);
CREATE INDEX IF NOT EXISTS winic_inbox_attempts ON winic_inbox (state, attempts);
CREATE TABLE IF NOT EXISTS winic_pollers (
    endpoint TEXT NOT NULL,
    uid TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until {real} NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (endpoint, uid));
CREATE TABLE IF NOT EXISTS winic_jobs (
    id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    text TEXT NOT NULL,
    options TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    uid TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS winic_batches (
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
    started_epoch {real},
    finished_at TEXT,
    PRIMARY KEY (job_id, idx));
CREATE INDEX IF NOT EXISTS winic_batches_message ON winic_batches (message_id);
CREATE INDEX IF NOT EXISTS winic_batches_state ON winic_batches (state, job_id, idx);
