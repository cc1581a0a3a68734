-- Login throttling that an attacker cannot turn against the user: a browser that has logged
-- in to an account before carries a device cookie, and while the account is locked for
-- unknown devices, its own device still gets in with the right password (with a budget of
-- its own). Each attempt records the device it came from ('' when unknown).
CREATE TABLE known_devices (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX known_devices_user ON known_devices(user_id);
ALTER TABLE login_attempts ADD COLUMN device TEXT NOT NULL DEFAULT '';
