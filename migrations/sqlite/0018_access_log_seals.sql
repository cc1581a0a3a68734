-- Tamper evidence for the access log: a job seals the log in batches of consecutive records,
-- each seal a SHA-256 over its records and the previous seal's hash, so that an edited,
-- inserted or deleted record breaks the chain (`trivsel audit verify`).
CREATE TABLE access_log_seals (
    id INTEGER PRIMARY KEY,
    first_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL,
    records BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    sealed_at TEXT NOT NULL
);
CREATE UNIQUE INDEX access_log_seals_last ON access_log_seals(last_id);
-- The log page, newest first, without a sort over the whole table.
CREATE INDEX access_log_at ON access_log(at, id);
