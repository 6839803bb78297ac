-- Outbound webhooks: the SQLite twin of migrations/postgres/0007.

CREATE TABLE webhooks (
    id                   BLOB PRIMARY KEY NOT NULL,
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    events               TEXT NOT NULL CHECK (json_valid(events)),
    description          TEXT,
    enabled              INTEGER NOT NULL DEFAULT 1,
    timeout_ms           INTEGER NOT NULL CHECK (timeout_ms > 0),
    rate_limit           INTEGER CHECK (rate_limit > 0),
    retry_attempts       INTEGER NOT NULL CHECK (retry_attempts >= 0),
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_expires_at  TEXT,
    failing_since        TEXT,
    disabled_reason      TEXT,
    created_by           BLOB,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY NOT NULL,
    webhook_id       BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL CHECK (json_valid(payload)),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
) STRICT;
CREATE INDEX idx_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id                BLOB PRIMARY KEY NOT NULL,
    delivery_id       BLOB NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    status_code       INTEGER,
    latency_ms        INTEGER NOT NULL,
    response_snippet  TEXT,
    error             TEXT,
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX idx_webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
