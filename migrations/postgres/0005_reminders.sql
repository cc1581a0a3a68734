-- Round reminders already queued, so each is sent once per round and person.
CREATE TABLE round_reminders (
    round_id BIGINT NOT NULL REFERENCES rounds(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (round_id, user_id)
);
