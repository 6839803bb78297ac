-- Identity: the SQLite twin of migrations/postgres/0002. The email format is checked by the
-- domain (SQLite has no regular expressions).

CREATE TABLE users (
    id                     BLOB PRIMARY KEY NOT NULL,
    username               TEXT NOT NULL CHECK (length(username) BETWEEN 3 AND 50),
    email                  TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 255),
    password_hash          TEXT NOT NULL,
    role                   TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'trader',
                               'senior_trader', 'trading_manager', 'risk_manager',
                               'content_manager', 'content_team', 'compliance_officer',
                               'auditor', 'customer')),
    permissions            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),
    status                 TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    failed_login_attempts  INTEGER NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
    locked_until           TEXT,
    last_login_at          TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 100),
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    permissions  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),
    is_active    INTEGER NOT NULL DEFAULT 1,
    expires_at   TEXT,
    last_used    TEXT,
    revoked_at   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
) STRICT;
CREATE INDEX idx_api_keys_user ON api_keys (user_id);

CREATE TABLE user_sessions (
    id             BLOB PRIMARY KEY NOT NULL,
    family_id      BLOB NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_token  TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    ip_address     TEXT,
    user_agent     TEXT,
    created_at     TEXT NOT NULL,
    used_at        TEXT,
    revoked_at     TEXT,
    CONSTRAINT user_sessions_session_token_key UNIQUE (session_token)
) STRICT;
CREATE INDEX idx_user_sessions_family ON user_sessions (family_id);
CREATE INDEX idx_user_sessions_user ON user_sessions (user_id);
