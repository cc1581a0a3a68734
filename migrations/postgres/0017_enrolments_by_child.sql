-- A child's enrolment history by child: the child's page lists it, and the record window
-- (what an institution may see of a child's record) starts at the child's first enrolment
-- there. Only current enrolments had an index by child.
CREATE INDEX enrolments_child ON enrolments(child_id, from_date);
