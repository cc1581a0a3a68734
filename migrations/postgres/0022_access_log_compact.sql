-- The access log's compact form: an access to many children at once (a group's page, an
-- overview, an export, a search) is one record naming them in `children` (their ids, sorted,
-- comma-separated) instead of a record per child. "Who saw this child" finds those records
-- through a GIN index of the lists. Records written before keep one row per child.
ALTER TABLE access_log ADD COLUMN children TEXT;
CREATE INDEX access_log_children ON access_log
    USING gin ((string_to_array(children, ',')::bigint[])) WHERE children IS NOT NULL;
