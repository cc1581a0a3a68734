-- The admin's log filtered by a rare action (a search, a change, an export, a deletion) had to
-- walk the time index past every read: at a year's log, seconds. Reads are nearly all of the
-- log and are found along the time index; the other actions have an index of their own, which
-- stays small because it leaves the reads out.
CREATE INDEX access_log_action ON access_log(action, at, id) WHERE action <> 'read';
