-- Statistics (store.stats) select sends by the time their batch started: without this index every
-- `winic-soap stats --last 7d` would read every batch ever journaled.
CREATE INDEX IF NOT EXISTS winic_batches_started ON winic_batches (started_epoch);
