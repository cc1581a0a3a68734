-- Consent, alerts to the district's preventive social workers, and the email outbox.

-- Consent events per child and purpose. Never updated or deleted: the state is the fold of
-- the events (see src/consent/mod.rs).
CREATE TABLE consent_events (
    id INTEGER PRIMARY KEY,
    child_id INTEGER NOT NULL REFERENCES children(id),
    purpose TEXT NOT NULL,
    event TEXT NOT NULL,
    guardian_id INTEGER REFERENCES guardians(id),
    method TEXT NOT NULL DEFAULT '',
    expires_on TEXT,
    note TEXT NOT NULL DEFAULT '',
    recorded_by INTEGER NOT NULL REFERENCES users(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX consent_events_child ON consent_events(child_id, purpose, recorded_at);

-- An alert routed to a district (NULL: the municipal fallback queue). `kind` is 'named',
-- 'anonymous' or 'notification'; `status` 'new', 'taken', 'in_progress' or 'closed'.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    child_id INTEGER NOT NULL REFERENCES children(id),
    assessment_id INTEGER NOT NULL REFERENCES assessments(id),
    district_id INTEGER REFERENCES districts(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    level_rank INTEGER NOT NULL,
    level_id TEXT NOT NULL,
    rules TEXT NOT NULL,
    consultation_text TEXT NOT NULL DEFAULT '',
    parents_informed TEXT NOT NULL DEFAULT '',
    taken_by INTEGER REFERENCES users(id),
    outcome TEXT,
    deadline TEXT NOT NULL,
    escalated_at TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX alerts_district ON alerts(district_id, status);
CREATE INDEX alerts_child ON alerts(child_id);

CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    at TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    event TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert ON alert_events(alert_id, at);

-- Email waiting to be sent; written in the same transaction as what it announces.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    sent_at TEXT,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);
