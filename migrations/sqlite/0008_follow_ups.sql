-- What the team decided to do about a position at yellow or above, as the level's
-- handleguide asks: focus points to watch, or an action plan, with the date to review it.
-- Append-only: a revised plan is a new row; the newest is the current one.
CREATE TABLE follow_ups (
    id INTEGER PRIMARY KEY,
    assessment_id INTEGER NOT NULL REFERENCES assessments(id),
    child_id INTEGER NOT NULL REFERENCES children(id),
    kind TEXT NOT NULL CHECK (kind IN ('focus_points', 'action_plan')),
    body TEXT NOT NULL,
    review_on TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX follow_ups_assessment ON follow_ups(assessment_id, created_at);
CREATE INDEX follow_ups_child ON follow_ups(child_id, created_at);
