-- The access log is kept `access_log_retention_days`; older records go a whole seal at a
-- time, from the start of the chain, and each purge records where the chain now begins, so
-- `trivsel audit verify` still checks everything that is left.
CREATE TABLE access_log_purges (
    id INTEGER PRIMARY KEY,
    through_id BIGINT NOT NULL,
    hash TEXT NOT NULL,
    records BIGINT NOT NULL,
    purged_at TEXT NOT NULL
);
