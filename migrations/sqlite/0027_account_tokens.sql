-- Single-use links by email: invitations and password resets (src/auth/account.rs). Only the
-- SHA-256 of a link's token is stored. `expires_at` is in Unix seconds, like a session's.
CREATE TABLE account_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at TEXT
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, created_at);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);
