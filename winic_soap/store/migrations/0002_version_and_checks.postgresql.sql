-- The schema version (one row per applied migration) and CHECKs on the state columns: a state the code
-- does not know is refused by the database instead of stranding a record or a batch.
CREATE TABLE winic_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL);
ALTER TABLE winic_inbox
    ADD CONSTRAINT winic_inbox_state CHECK (state IN ('pending', 'done', 'dead')),
    ADD CONSTRAINT winic_inbox_kind CHECK (kind IN ('report', 'reply'));
ALTER TABLE winic_batches
    ADD CONSTRAINT winic_batches_state CHECK (state IN ('new', 'sending', 'accepted', 'failed', 'unknown')),
    ADD CONSTRAINT winic_batches_source CHECK (source IS NULL OR source IN ('send', 'reports'));
