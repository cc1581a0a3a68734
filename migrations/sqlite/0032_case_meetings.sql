-- Dialogue and network meetings with the parents on a named case (src/alerts/measures.rs):
-- who took part (roles), what was agreed, and whether the team sees the agreements.
CREATE TABLE case_meetings (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    child_id INTEGER NOT NULL REFERENCES children(id),
    kind TEXT NOT NULL,
    held_on TEXT NOT NULL,
    participants TEXT NOT NULL,
    agreements TEXT NOT NULL,
    shared_with_team BOOLEAN NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX case_meetings_alert ON case_meetings (alert_id, held_on);
CREATE INDEX case_meetings_child ON case_meetings (child_id);
