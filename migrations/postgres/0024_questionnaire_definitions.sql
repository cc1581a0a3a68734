-- Every questionnaire version's text, by content hash, so an assessment is always shown and
-- scored with the version it was made with (rows recorded before this keep NULL until the
-- same file is loaded again).
ALTER TABLE questionnaire_versions ADD COLUMN definition TEXT;
CREATE INDEX questionnaire_versions_hash ON questionnaire_versions (hash);
