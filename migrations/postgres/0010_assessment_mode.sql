-- How a team position was reached: 'questionnaire' (answers scored by the engine) or
-- 'judgement' (the team's professional judgement without item answers, e.g. the quick
-- placement "Trives" on the group page). The questionnaire's id and version are recorded
-- either way.
ALTER TABLE assessments ADD COLUMN mode TEXT NOT NULL DEFAULT 'questionnaire';
