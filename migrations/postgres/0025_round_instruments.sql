-- The optional instruments a round uses beside the questionnaire for each age (comma-separated
-- questionnaire ids; empty: only the questionnaire for the age).
ALTER TABLE rounds ADD COLUMN questionnaires TEXT NOT NULL DEFAULT '';
