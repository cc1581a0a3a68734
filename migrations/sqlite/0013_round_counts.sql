-- The municipal figures as counts: per round, district, institution type, gender, age on
-- the round's closing day (whole years) and level, how many children have that position.
-- Kept in the transaction that records a position (assessment::db), and in step when a
-- child's gender or birth date is corrected; a test compares it with a recount from
-- `round_positions`. The municipal page sums these few thousand rows instead of counting a
-- round's positions one by one.
CREATE TABLE round_counts (
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    district_id INTEGER NOT NULL REFERENCES districts(id),
    institution_kind TEXT NOT NULL,
    gender TEXT NOT NULL,
    age INTEGER NOT NULL,
    decided_rank INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (round_id, district_id, institution_kind, gender, age, decided_rank)
);
INSERT INTO round_counts (round_id, district_id, institution_kind, gender, age, decided_rank, n)
SELECT p.round_id, p.district_id, p.institution_kind, p.gender,
    (CAST(strftime('%Y', r.closes_on) AS INTEGER) - CAST(strftime('%Y', p.birth_date) AS INTEGER))
        - (strftime('%m-%d', r.closes_on) < strftime('%m-%d', p.birth_date)) AS age,
    p.decided_rank, COUNT(*)
FROM round_positions p JOIN rounds r ON r.id = p.round_id
WHERE p.district_id IS NOT NULL AND p.institution_kind IS NOT NULL
GROUP BY p.round_id, p.district_id, p.institution_kind, p.gender, age, p.decided_rank;
