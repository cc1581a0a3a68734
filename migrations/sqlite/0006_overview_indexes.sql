-- Positions per child and round: for "the newest position of each child in a round" and for
-- the overviews, which start from a group's children.
CREATE INDEX assessments_child_round ON assessments(child_id, round_id, kind, status);
