-- Single sign-on identities linked to accounts (src/auth/sso.rs): an identity logs in only to
-- the account it is linked to.
CREATE TABLE sso_identities (
    provider TEXT NOT NULL,
    identity TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (provider, identity)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);
