-- Each deletion run by the retention policy, with its counts per kind of record and rule (JSON,
-- never personal data). The daily run is claimed by its date (`run_on`), so of several
-- instances one runs it; runs started by hand have no date.
CREATE TABLE retention_runs (
    id INTEGER PRIMARY KEY,
    trigger_kind TEXT NOT NULL,
    run_on TEXT UNIQUE,
    user_id INTEGER REFERENCES users(id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    counts TEXT NOT NULL DEFAULT '',
    held_children BIGINT NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX retention_runs_started ON retention_runs(started_at);
-- The children whose clocks run: few, found without a scan of every child.
CREATE INDEX children_left_on ON children(left_on) WHERE left_on IS NOT NULL;
CREATE INDEX legal_holds_in_force ON legal_holds(child_id) WHERE lifted_at IS NULL;
