-- Preventive measures on a named case and their reviews (src/alerts/measures.rs).
CREATE TABLE measures (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    child_id INTEGER NOT NULL REFERENCES children(id),
    kind TEXT NOT NULL,
    section30 BOOLEAN NOT NULL,
    started_on TEXT NOT NULL,
    planned_weeks INTEGER NOT NULL,
    responsible TEXT NOT NULL,
    review_weeks INTEGER NOT NULL,
    next_review_on TEXT NOT NULL,
    -- The review date a reminder was sent for (once per date, whichever instance sends it).
    reminded_for TEXT,
    status TEXT NOT NULL,
    ended_on TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX measures_alert ON measures (alert_id);
CREATE INDEX measures_child ON measures (child_id);
CREATE INDEX measures_due ON measures (next_review_on) WHERE status = 'active';

CREATE TABLE measure_reviews (
    id INTEGER PRIMARY KEY,
    measure_id INTEGER NOT NULL REFERENCES measures(id),
    reviewed_on TEXT NOT NULL,
    changed TEXT NOT NULL,
    decision TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX measure_reviews_measure ON measure_reviews (measure_id, id);
