-- The access log's compact form: an access to many children at once (a group's page, an
-- overview, an export, a search) is one record naming them in `children` (their ids, sorted,
-- comma-separated) instead of a record per child. "Who saw this child" finds those records
-- through an FTS5 index of the lists (contentless: it holds the index, not the text; the
-- record's id is its rowid). Records written before keep one row per child.
ALTER TABLE access_log ADD COLUMN children TEXT;
-- Only which records name a child is kept (detail=none: no positions within a list).
CREATE VIRTUAL TABLE access_log_children USING fts5(
    children, content='', contentless_delete=1, detail=none
);
-- A record about many children has no `child_id`: the index by child holds only the records
-- about one child.
DROP INDEX access_log_child;
CREATE INDEX access_log_child ON access_log(child_id, at) WHERE child_id IS NOT NULL;
