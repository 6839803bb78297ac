-- Executions (seeds 003 and 004's workflow_execution and step_execution). An execution is a
-- workflow instance (same id) started through the execution API or a trigger; its row adds
-- what started it, its input, output and error. Workflows and their step runs gain the final
-- status 'failed'.

ALTER TABLE workflow_instances DROP CONSTRAINT workflow_instances_status_check;
ALTER TABLE workflow_instances ADD CONSTRAINT workflow_instances_status_check
    CHECK (status IN ('pending', 'in_progress', 'completed', 'rejected', 'cancelled', 'failed'));

ALTER TABLE workflow_step_runs DROP CONSTRAINT workflow_step_runs_status_check;
ALTER TABLE workflow_step_runs ADD CONSTRAINT workflow_step_runs_status_check
    CHECK (status IN ('running', 'completed', 'approved', 'rejected', 'timed_out', 'cancelled',
                      'failed'));

CREATE TABLE workflow_executions (
    id                UUID PRIMARY KEY REFERENCES workflow_instances (id),
    definition_id     UUID NOT NULL REFERENCES workflow_definitions (id),
    definition_key    VARCHAR(100) NOT NULL,
    version           INTEGER NOT NULL,
    trigger_type      TEXT NOT NULL
        CHECK (trigger_type IN ('manual', 'event', 'schedule', 'webhook', 'test')),
    trigger_id        UUID,
    trigger_event_id  TEXT,
    input             JSONB NOT NULL,
    output            JSONB,
    error             JSONB,
    status            TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')),
    created_by        UUID,
    started_at        TIMESTAMPTZ NOT NULL,
    ended_at          TIMESTAMPTZ,
    duration_ms       BIGINT,
    -- A redelivered event or a schedule fired twice starts nothing new.
    CONSTRAINT workflow_executions_trigger_event UNIQUE (trigger_id, trigger_event_id)
);
CREATE INDEX idx_workflow_executions_definition ON workflow_executions (definition_key, started_at);
CREATE INDEX idx_workflow_executions_started ON workflow_executions (started_at, id);
CREATE INDEX idx_workflow_executions_status ON workflow_executions (status);

-- One row per attempt of an action step.
CREATE TABLE step_executions (
    id            UUID PRIMARY KEY,
    execution_id  UUID NOT NULL REFERENCES workflow_executions (id) ON DELETE CASCADE,
    step_id       VARCHAR(100) NOT NULL,
    visit         INTEGER NOT NULL CHECK (visit > 0),
    attempt       INTEGER NOT NULL CHECK (attempt > 0),
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    input         JSONB NOT NULL,
    output        JSONB,
    error         TEXT,
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ,
    duration_ms   BIGINT,
    CONSTRAINT step_executions_attempt UNIQUE (execution_id, step_id, visit, attempt)
);
CREATE INDEX idx_step_executions_execution ON step_executions (execution_id, started_at);
