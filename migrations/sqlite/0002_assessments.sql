-- Questionnaire versions seen, screening rounds, and assessments.
CREATE TABLE questionnaire_versions (
    questionnaire_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (questionnaire_id, version)
);

CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    opens_on TEXT NOT NULL,
    closes_on TEXT NOT NULL,
    -- Comma-separated institution kinds; empty means every kind.
    institution_kinds TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- One row per assessment. Never edited once submitted: a correction is a new row that
-- supersedes the old one. `kind` is 'individual' (one professional's view) or 'team' (the
-- agreed position); `status` is 'draft', 'scored' (suggestion shown, decision pending) or
-- 'submitted'. Scores are hundredths.
CREATE TABLE assessments (
    id INTEGER PRIMARY KEY,
    child_id INTEGER NOT NULL REFERENCES children(id),
    round_id INTEGER REFERENCES rounds(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users(id),
    questionnaire_id TEXT NOT NULL,
    questionnaire_version INTEGER NOT NULL,
    questionnaire_hash TEXT NOT NULL,
    scale_id TEXT NOT NULL,
    answers TEXT NOT NULL,
    domain_scores TEXT NOT NULL DEFAULT '[]',
    reasons TEXT NOT NULL DEFAULT '[]',
    total INTEGER,
    suggested_rank INTEGER,
    suggested_level TEXT,
    decided_rank INTEGER,
    decided_level TEXT,
    justification TEXT NOT NULL DEFAULT '',
    observation TEXT NOT NULL DEFAULT '',
    supersedes_id INTEGER REFERENCES assessments(id),
    submission_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT
);
CREATE INDEX assessments_child ON assessments(child_id, submitted_at);
CREATE INDEX assessments_round ON assessments(round_id, kind, status);
