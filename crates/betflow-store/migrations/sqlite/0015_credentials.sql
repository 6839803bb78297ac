-- Credentials and definition variables: the SQLite twin of migrations/postgres/0015.
-- Secret values are stored only as ciphertext (`v1:<keyid>:<base64>`), with their key id.
-- Outbound webhook secrets move under the same encryption without a schema change (see the
-- PostgreSQL file).

CREATE TABLE user_credentials (
    id               BLOB PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    credential_type  TEXT NOT NULL,
    owner_id         BLOB,
    ciphertext       TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    expires_at       TEXT,
    last_used_at     TEXT,
    deleted_at       TEXT
) STRICT;
CREATE INDEX idx_user_credentials_owner ON user_credentials (owner_id, created_at);
CREATE INDEX idx_user_credentials_key ON user_credentials (key_id);

CREATE TABLE workflow_variables (
    definition_id  BLOB NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    value          TEXT NOT NULL,
    is_secret      INTEGER NOT NULL DEFAULT 0,
    key_id         TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT workflow_variables_definition_name_key UNIQUE (definition_id, name),
    CHECK (is_secret = (key_id IS NOT NULL))
) STRICT;
CREATE INDEX idx_workflow_variables_key ON workflow_variables (key_id) WHERE key_id IS NOT NULL;
