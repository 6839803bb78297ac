-- Automation triggers (seed 003's workflow_subscription, schedule_trigger and
-- webhook_endpoint): event subscriptions, cron schedules and inbound webhook endpoints, each
-- belonging to a workflow definition, and the message ids inbound endpoints have seen.

CREATE TABLE workflow_subscriptions (
    id             UUID PRIMARY KEY,
    definition_id  UUID NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    -- `bet.*`, `workflow.completed` or `*`.
    event_pattern  VARCHAR(100) NOT NULL,
    -- A CEL expression over `event`; NULL matches every event.
    filter         TEXT,
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_by     UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_workflow_subscriptions_definition ON workflow_subscriptions (definition_id);

CREATE TABLE schedule_triggers (
    id             UUID PRIMARY KEY,
    definition_id  UUID NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    cron           VARCHAR(200) NOT NULL,
    timezone       VARCHAR(64) NOT NULL,
    catch_up       TEXT NOT NULL CHECK (catch_up IN ('fire_once', 'skip')),
    -- The next occurrence to fire; NULL when the cron has none.
    next_fire_at   TIMESTAMPTZ,
    last_fired_at  TIMESTAMPTZ,
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_by     UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_schedule_triggers_definition ON schedule_triggers (definition_id);
-- What the scheduler claims: active schedules due now.
CREATE INDEX idx_schedule_triggers_due ON schedule_triggers (next_fire_at) WHERE is_active;

CREATE TABLE inbound_webhook_endpoints (
    id              UUID PRIMARY KEY,
    definition_id   UUID NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    name            VARCHAR(100) NOT NULL,
    scheme          TEXT NOT NULL CHECK (scheme IN ('standard', 'hmac_sha256')),
    -- The signature header of the hmac_sha256 scheme.
    header_name     VARCHAR(64),
    -- The `whsec_` secret, encrypted (never returned after creation).
    secret          TEXT NOT NULL,
    tolerance_secs  INTEGER NOT NULL CHECK (tolerance_secs > 0),
    rate_limit      INTEGER CHECK (rate_limit > 0),
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_by      UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_inbound_webhook_endpoints_definition ON inbound_webhook_endpoints (definition_id);

-- Message ids accepted per endpoint, for the replay window; pruned once older than the
-- endpoint's tolerance could let them back in.
CREATE TABLE inbound_webhook_seen (
    endpoint_id  UUID NOT NULL REFERENCES inbound_webhook_endpoints (id) ON DELETE CASCADE,
    message_id   VARCHAR(256) NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (endpoint_id, message_id)
);
CREATE INDEX idx_inbound_webhook_seen_at ON inbound_webhook_seen (seen_at);
