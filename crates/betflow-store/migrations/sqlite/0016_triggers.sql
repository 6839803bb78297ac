-- Automation triggers: the SQLite twin of migrations/postgres/0016.

CREATE TABLE workflow_subscriptions (
    id             BLOB PRIMARY KEY NOT NULL,
    definition_id  BLOB NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    event_pattern  TEXT NOT NULL,
    filter         TEXT,
    is_active      INTEGER NOT NULL DEFAULT 1,
    created_by     BLOB,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX idx_workflow_subscriptions_definition ON workflow_subscriptions (definition_id);

CREATE TABLE schedule_triggers (
    id             BLOB PRIMARY KEY NOT NULL,
    definition_id  BLOB NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    cron           TEXT NOT NULL,
    timezone       TEXT NOT NULL,
    catch_up       TEXT NOT NULL CHECK (catch_up IN ('fire_once', 'skip')),
    next_fire_at   TEXT,
    last_fired_at  TEXT,
    is_active      INTEGER NOT NULL DEFAULT 1,
    created_by     BLOB,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX idx_schedule_triggers_definition ON schedule_triggers (definition_id);
CREATE INDEX idx_schedule_triggers_due ON schedule_triggers (next_fire_at) WHERE is_active;

CREATE TABLE inbound_webhook_endpoints (
    id              BLOB PRIMARY KEY NOT NULL,
    definition_id   BLOB NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    scheme          TEXT NOT NULL CHECK (scheme IN ('standard', 'hmac_sha256')),
    header_name     TEXT,
    secret          TEXT NOT NULL,
    tolerance_secs  INTEGER NOT NULL CHECK (tolerance_secs > 0),
    rate_limit      INTEGER CHECK (rate_limit > 0),
    is_active       INTEGER NOT NULL DEFAULT 1,
    created_by      BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX idx_inbound_webhook_endpoints_definition ON inbound_webhook_endpoints (definition_id);

CREATE TABLE inbound_webhook_seen (
    endpoint_id  BLOB NOT NULL REFERENCES inbound_webhook_endpoints (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL,
    seen_at      TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, message_id)
) STRICT;
CREATE INDEX idx_inbound_webhook_seen_at ON inbound_webhook_seen (seen_at);
