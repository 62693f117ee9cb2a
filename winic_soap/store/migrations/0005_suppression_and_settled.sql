-- Opt-out and reports that settle (issue 17 items 2 and 3).
-- The suppression list: one row per number, its latest opt-out or opt-in. A number taken off the list keeps
-- its row (suppressed = 0) so an older opt-out replayed later (a spool replay, a late pull) cannot put it back:
-- a change applies only when its event is at least as recent as the row's.
CREATE TABLE winic_suppression (
    mobile TEXT PRIMARY KEY,
    suppressed INTEGER NOT NULL,
    source TEXT NOT NULL,
    record_id TEXT,
    text TEXT,
    event_at TEXT NOT NULL,
    event_epoch {real} NOT NULL,
    changed_at TEXT NOT NULL,
    CONSTRAINT winic_suppression_flag CHECK (suppressed IN (0, 1)),
    CONSTRAINT winic_suppression_source CHECK (source IN ('reply', 'manual', 'import')));
-- a send reads the whole (small) list through this index, or probes the key when the list outgrows the send
CREATE INDEX winic_suppression_on ON winic_suppression (suppressed, mobile);
-- The settled status of each (message id, mobile): the report that settled it by the documented precedence.
CREATE TABLE winic_settled (
    message_id TEXT NOT NULL,
    mobile TEXT NOT NULL,
    status TEXT NOT NULL,
    final INTEGER NOT NULL,
    at TEXT NOT NULL,
    record_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (message_id, mobile));
CREATE INDEX winic_settled_record ON winic_settled (record_id);
-- Every distinct report (message id, mobile, status, time) once, with the record that first carried it: a
-- second record with the same key is a repeat.
CREATE TABLE winic_report_seen (
    message_id TEXT NOT NULL,
    mobile TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (message_id, mobile, status, at));
-- retention deletes a report's rows here with the record itself (store.retention)
CREATE INDEX winic_report_seen_record ON winic_report_seen (record_id);
-- On each stored report: its (message id, mobile)'s settled status, kept current, and for a repeat the id of
-- the record it repeats (a repeat is stored already handed on: claims never hand it on again).
ALTER TABLE winic_inbox ADD COLUMN settled TEXT;
ALTER TABLE winic_inbox ADD COLUMN repeat_of TEXT;
-- Reports stored before this migration settle by the default precedence (DELIVRD over a final failure over
-- ENROUTE/ACCEPTD; among in-transit states the latest, among final failures the first).
INSERT INTO winic_settled (message_id, mobile, status, final, at, record_id, updated_at)
    SELECT message_id, mobile, status, CASE WHEN status IN ('ENROUTE', 'ACCEPTD') THEN 0 ELSE 1 END, '', id, pulled_at
    FROM (SELECT id, message_id, mobile, status, pulled_at,
            ROW_NUMBER() OVER (PARTITION BY message_id, mobile ORDER BY
                CASE WHEN status = 'DELIVRD' THEN 3 WHEN status IN ('ENROUTE', 'ACCEPTD') THEN 1 ELSE 2 END DESC,
                CASE WHEN status IN ('ENROUTE', 'ACCEPTD') THEN -seq ELSE seq END) AS pick
        FROM winic_inbox WHERE kind = 'report' AND message_id IS NOT NULL AND mobile IS NOT NULL
            AND status IS NOT NULL) ranked
    WHERE pick = 1;
UPDATE winic_inbox SET settled = (SELECT s.status FROM winic_settled s
    WHERE s.message_id = winic_inbox.message_id AND s.mobile = winic_inbox.mobile)
    WHERE kind = 'report';
