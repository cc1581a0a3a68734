-- Answers to a questionnaire's free-text items (a JSON object of item id → text; '' when
-- none), kept apart from the scored answers so that retention blanks them with the other free
-- text, earlier than the scores.
ALTER TABLE assessments ADD COLUMN free_text TEXT NOT NULL DEFAULT '';
