-- Each child's team position in each round: the newest submitted team assessment of that
-- child in that round (a correction is always newer than what it corrects). Maintained in
-- the transaction that submits a team position (assessment::db::decide); the overviews and
-- the municipal figures read it instead of picking the newest among all assessments. A test
-- compares it with a recount from the assessments.
CREATE TABLE round_positions (
    child_id BIGINT NOT NULL REFERENCES children(id),
    round_id BIGINT NOT NULL REFERENCES rounds(id),
    assessment_id BIGINT NOT NULL REFERENCES assessments(id),
    decided_rank INTEGER NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (child_id, round_id)
);
CREATE INDEX round_positions_round ON round_positions(round_id, child_id, decided_rank);

INSERT INTO round_positions (child_id, round_id, assessment_id, decided_rank, submitted_at)
SELECT a.child_id, a.round_id, a.id, a.decided_rank, a.submitted_at FROM assessments a
WHERE a.kind = 'team' AND a.status = 'submitted' AND a.round_id IS NOT NULL
AND NOT EXISTS (
    SELECT 1 FROM assessments b
    WHERE b.child_id = a.child_id AND b.round_id = a.round_id AND b.kind = 'team'
    AND b.status = 'submitted'
    AND (b.submitted_at > a.submitted_at OR (b.submitted_at = a.submitted_at AND b.id > a.id))
);
