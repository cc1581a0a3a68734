-- Round reminders already queued, so each is sent once per round and person.
CREATE TABLE round_reminders (
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (round_id, user_id)
);
