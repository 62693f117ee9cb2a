-- When retention blanked a finished job's text (store purge): the job, its batches and counts stay.
ALTER TABLE winic_jobs ADD COLUMN purged_at TEXT;
