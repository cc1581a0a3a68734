-- The conversation on an alert between the social worker and the assessing team
-- (src/alerts/conversation.rs), and who has a message there they have not read.
CREATE TABLE alert_messages (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    -- 'worker' or 'team': the side the message came from.
    side TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX alert_messages_alert ON alert_messages (alert_id, id);

CREATE TABLE alert_unread (
    user_id INTEGER NOT NULL REFERENCES users(id),
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    since TEXT NOT NULL,
    PRIMARY KEY (user_id, alert_id)
);
CREATE INDEX alert_unread_alert ON alert_unread (alert_id);
