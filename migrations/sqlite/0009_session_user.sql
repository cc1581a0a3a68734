-- Which account a session belongs to, as a column beside the session's data, so that a
-- request reads its session and the account (still active?) in one statement. Sessions
-- that exist already keep their login.
ALTER TABLE sessions ADD COLUMN user_id INTEGER;
UPDATE sessions SET user_id = CAST(json_extract(data, '$.user_id') AS INTEGER);
