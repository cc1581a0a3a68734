-- Each child's team position in each round: the newest submitted team assessment of that
-- child in that round (a correction is always newer than what it corrects). Maintained in
-- the transaction that submits a team position (assessment::db::decide); the overviews and
-- the municipal figures read it instead of picking the newest among all assessments. A test
-- compares it with a recount from the assessments.
--
-- For the municipal figures it also keeps the group the child attended when the position
-- was recorded, with that group's district and institution type (a round's figures stay with
-- the institution that made them when a child moves later), and the child's gender and
-- birth date (kept in step when the admin corrects them), so the aggregate is one scan of
-- one covering index.
CREATE TABLE round_positions (
    child_id BIGINT NOT NULL REFERENCES children(id),
    round_id BIGINT NOT NULL REFERENCES rounds(id),
    assessment_id BIGINT NOT NULL REFERENCES assessments(id),
    decided_rank INTEGER NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL,
    group_id BIGINT REFERENCES groups(id),
    district_id BIGINT REFERENCES districts(id),
    institution_kind TEXT,
    gender TEXT NOT NULL,
    birth_date DATE NOT NULL,
    PRIMARY KEY (child_id, round_id)
);
CREATE INDEX round_positions_round ON round_positions(round_id, district_id, institution_kind, gender, birth_date, decided_rank);

-- History before this table: the group is the child's current one.
INSERT INTO round_positions (child_id, round_id, assessment_id, decided_rank, submitted_at, group_id, district_id, institution_kind, gender, birth_date)
SELECT a.child_id, a.round_id, a.id, a.decided_rank, a.submitted_at, e.group_id, i.district_id, i.kind,
    ch.gender, ch.birth_date
FROM assessments a JOIN children ch ON ch.id = a.child_id
LEFT JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL
LEFT JOIN groups g ON g.id = e.group_id
LEFT JOIN institutions i ON i.id = g.institution_id
WHERE a.kind = 'team' AND a.status = 'submitted' AND a.round_id IS NOT NULL
AND NOT EXISTS (
    SELECT 1 FROM assessments b
    WHERE b.child_id = a.child_id AND b.round_id = a.round_id AND b.kind = 'team'
    AND b.status = 'submitted'
    AND (b.submitted_at > a.submitted_at OR (b.submitted_at = a.submitted_at AND b.id > a.id))
);
