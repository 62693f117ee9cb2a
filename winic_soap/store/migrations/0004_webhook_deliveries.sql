-- Webhooks (winic_soap.webhooks): one queue per endpoint. A row is one stored record owed to one endpoint;
-- it is claimed with a lease like the inbox's records, retried on the endpoint's schedule, and dead-lettered
-- for that endpoint alone. winic_webhook_cursors says up to which inbox seq an endpoint's queue is known full
-- (seq), and the candidate seen at `since` that becomes it once no transaction can commit below it any more.
CREATE TABLE winic_webhook_deliveries (
    endpoint TEXT NOT NULL,
    record_id TEXT NOT NULL,
    record_seq BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at {real} NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until {real},
    last_error TEXT,
    last_status INTEGER,
    done_at TEXT,
    PRIMARY KEY (endpoint, record_id),
    CONSTRAINT winic_webhook_deliveries_state CHECK (state IN ('pending', 'done', 'dead')));
CREATE INDEX winic_webhook_ready ON winic_webhook_deliveries (endpoint, state, next_at, record_seq);
CREATE INDEX winic_webhook_record ON winic_webhook_deliveries (record_id);
CREATE TABLE winic_webhook_cursors (
    endpoint TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    candidate BIGINT NOT NULL,
    since {real} NOT NULL);
