-- Identity: users, API keys and sessions (seed 000's users, api_keys and user_sessions; the
-- users constraints of seed 002). Usernames and emails are unique case-insensitively.

CREATE TABLE users (
    id                     UUID PRIMARY KEY,
    username               VARCHAR(50) NOT NULL,
    email                  VARCHAR(255) NOT NULL,
    password_hash          TEXT NOT NULL,
    role                   TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'trader',
                               'senior_trader', 'trading_manager', 'risk_manager',
                               'content_manager', 'content_team', 'compliance_officer',
                               'auditor', 'customer')),
    permissions            JSONB NOT NULL DEFAULT '[]',
    status                 TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    failed_login_attempts  INTEGER NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
    locked_until           TIMESTAMPTZ,
    last_login_at          TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT users_username_check CHECK (char_length(username) >= 3),
    CONSTRAINT users_email_check CHECK (email ~* '^[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+[.][A-Za-z]+$')
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL CHECK (length(btrim(name)) > 0),
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    permissions  JSONB NOT NULL DEFAULT '[]',
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at   TIMESTAMPTZ,
    last_used    TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX idx_api_keys_user ON api_keys (user_id);

-- One row per refresh token; rotation marks the old row used and adds one to the family.
CREATE TABLE user_sessions (
    id             UUID PRIMARY KEY,
    family_id      UUID NOT NULL,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_token  TEXT NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    ip_address     INET,
    user_agent     TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    used_at        TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    CONSTRAINT user_sessions_session_token_key UNIQUE (session_token)
);
CREATE INDEX idx_user_sessions_family ON user_sessions (family_id);
CREATE INDEX idx_user_sessions_user ON user_sessions (user_id);
