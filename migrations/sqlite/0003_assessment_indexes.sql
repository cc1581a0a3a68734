-- Finding whether an assessment was corrected must not scan the table.
CREATE INDEX assessments_supersedes ON assessments(supersedes_id);
