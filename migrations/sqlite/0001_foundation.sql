-- Organisation, accounts, sessions and the access log.
CREATE TABLE municipality (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL
);

CREATE TABLE districts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX institutions_district ON institutions(district_id);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    school_year TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (institution_id, name_key, school_year)
);

CREATE TABLE children (
    id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    gender TEXT NOT NULL DEFAULT 'u',
    external_id TEXT UNIQUE,
    protected_address BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE enrolments (
    id INTEGER PRIMARY KEY,
    child_id INTEGER NOT NULL REFERENCES children(id),
    group_id INTEGER NOT NULL REFERENCES groups(id),
    from_date TEXT NOT NULL,
    to_date TEXT
);
CREATE UNIQUE INDEX enrolments_one_current ON enrolments(child_id) WHERE to_date IS NULL;
CREATE INDEX enrolments_group_current ON enrolments(group_id) WHERE to_date IS NULL;

CREATE TABLE guardians (
    id INTEGER PRIMARY KEY,
    child_id INTEGER NOT NULL REFERENCES children(id),
    name TEXT NOT NULL,
    relation TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    has_custody BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL
);
CREATE INDEX guardians_child ON guardians(child_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    lang TEXT NOT NULL DEFAULT 'da',
    created_at TEXT NOT NULL
);

CREATE TABLE user_groups (
    user_id INTEGER NOT NULL REFERENCES users(id),
    group_id INTEGER NOT NULL REFERENCES groups(id),
    PRIMARY KEY (user_id, group_id)
);
CREATE TABLE user_institutions (
    user_id INTEGER NOT NULL REFERENCES users(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    PRIMARY KEY (user_id, institution_id)
);
CREATE TABLE user_districts (
    user_id INTEGER NOT NULL REFERENCES users(id),
    district_id INTEGER NOT NULL REFERENCES districts(id),
    PRIMARY KEY (user_id, district_id)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    at TEXT NOT NULL,
    success BOOLEAN NOT NULL
);
CREATE INDEX login_attempts_email_at ON login_attempts(email, at);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    used_at TEXT
);

-- Append-only: the application never updates or deletes rows here, except the retention job.
CREATE TABLE access_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    child_id INTEGER,
    object TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_child ON access_log(child_id, at);
CREATE INDEX access_log_user ON access_log(user_id, at);
