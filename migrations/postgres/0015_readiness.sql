-- One row the readiness check writes: an instance is ready only if the database takes a
-- write (a read-only or locked database serves no page: even reading a child's data writes
-- the access log).
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY,
    checked_at TIMESTAMPTZ NOT NULL
);
INSERT INTO readiness (id, checked_at) VALUES (1, '2026-01-01T00:00:00Z');
