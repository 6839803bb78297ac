-- Outbound webhooks (seed 001's WebhookService, made durable): endpoints, one delivery per
-- (endpoint, event), and every HTTP attempt of each delivery.

CREATE TABLE webhooks (
    id                   UUID PRIMARY KEY,
    name                 VARCHAR(100) NOT NULL,
    url                  TEXT NOT NULL,
    events               JSONB NOT NULL,
    description          TEXT,
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    timeout_ms           INTEGER NOT NULL CHECK (timeout_ms > 0),
    rate_limit           INTEGER CHECK (rate_limit > 0),
    retry_attempts       INTEGER NOT NULL CHECK (retry_attempts >= 0),
    -- Kept in clear: a signature needs it. Never returned after creation or rotation.
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_expires_at  TIMESTAMPTZ,
    failing_since        TIMESTAMPTZ,
    disabled_reason      TEXT,
    created_by           UUID,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    webhook_id       UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         UUID NOT NULL,
    event_type       VARCHAR(100) NOT NULL,
    payload          JSONB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    -- A relay that publishes an event twice does not deliver it twice.
    CONSTRAINT webhook_deliveries_event_key UNIQUE (webhook_id, event_id)
);
CREATE INDEX idx_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id                UUID PRIMARY KEY,
    delivery_id       UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    status_code       INTEGER,
    latency_ms        INTEGER NOT NULL,
    response_snippet  TEXT,
    error             TEXT,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
