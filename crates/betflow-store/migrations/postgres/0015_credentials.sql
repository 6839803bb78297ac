-- Credentials and definition variables (seeds 003 and 004's user_credentials and
-- workflow_variable), encrypted at rest. Secret values are stored only as ciphertext,
-- `v1:<keyid>:<base64(nonce||ciphertext)>`, with the id of the key they are under in its own
-- column so `betflow keys rotate` finds the rows still under an old key with an index.
--
-- Outbound webhook secrets (webhooks.secret, webhooks.previous_secret, 0007) move under the
-- same encryption without a schema change: the engine writes them as ciphertext and reads a
-- value without the `v1:` prefix as legacy clear text, re-encrypted on the next write or by
-- `betflow keys rotate`.

CREATE TABLE user_credentials (
    id               UUID PRIMARY KEY,
    name             VARCHAR(100) NOT NULL,
    credential_type  VARCHAR(64) NOT NULL,
    owner_id         UUID,
    -- The credential's fields (a JSON object), encrypted. Never plaintext.
    ciphertext       TEXT NOT NULL,
    key_id           VARCHAR(16) NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ,
    last_used_at     TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ
);
CREATE INDEX idx_user_credentials_owner ON user_credentials (owner_id, created_at);
CREATE INDEX idx_user_credentials_key ON user_credentials (key_id);

CREATE TABLE workflow_variables (
    definition_id  UUID NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    name           VARCHAR(64) NOT NULL,
    -- The value's JSON text, or its ciphertext when is_secret.
    value          TEXT NOT NULL,
    is_secret      BOOLEAN NOT NULL DEFAULT FALSE,
    key_id         VARCHAR(16),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT workflow_variables_definition_name_key UNIQUE (definition_id, name),
    CHECK (is_secret = (key_id IS NOT NULL))
);
CREATE INDEX idx_workflow_variables_key ON workflow_variables (key_id) WHERE key_id IS NOT NULL;
