-- The access log's compact form: an access to many children at once (a group's page, an
-- overview, an export, a search) is one record naming them in `children` (their ids, sorted,
-- comma-separated) instead of a record per child. "Who saw this child" finds those records
-- through a GIN index of the lists. Records written before keep one row per child.
ALTER TABLE access_log ADD COLUMN children TEXT;
CREATE INDEX access_log_children ON access_log
    USING gin ((string_to_array(children, ',')::bigint[])) WHERE children IS NOT NULL;
-- A record about many children has no `child_id`: the index by child holds only the records
-- about one child.
DROP INDEX access_log_child;
CREATE INDEX access_log_child ON access_log(child_id, at) WHERE child_id IS NOT NULL;
