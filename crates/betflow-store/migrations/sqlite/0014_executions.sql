-- Executions (seeds 003 and 004's workflow_execution and step_execution), the SQLite twin of
-- migrations/postgres/0014. An execution is a workflow instance (same id) started through
-- the execution API or a trigger; its row adds what started it, its input, output and error.
--
-- Workflows and their step runs gain the final status 'failed'. SQLite cannot alter a CHECK,
-- so both tables are rebuilt. PRAGMA foreign_keys cannot change inside the migration's
-- transaction; deferring the checks to commit instead lets the parent table be dropped and
-- recreated: dropping it counts its children as violations, re-inserting its rows clears
-- them again before the commit checks.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE workflow_instances_0014 AS SELECT * FROM workflow_instances;
DROP TABLE workflow_instances;
CREATE TABLE workflow_instances (
    id                   BLOB PRIMARY KEY NOT NULL,
    definition_id        BLOB NOT NULL REFERENCES workflow_definitions (id),
    workflow_type        TEXT NOT NULL,
    version              INTEGER NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed',
                             'rejected', 'cancelled', 'failed')),
    priority             TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    current_step         TEXT,
    step_visit           INTEGER NOT NULL DEFAULT 0,
    step_started_at      TEXT,
    escalated_roles      TEXT NOT NULL DEFAULT '[]',
    current_assignees    TEXT NOT NULL DEFAULT '[]',
    completed_steps      INTEGER NOT NULL DEFAULT 0,
    data                 TEXT NOT NULL,
    created_by           BLOB,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    started_at           TEXT,
    completed_at         TEXT,
    due_at               TEXT,
    deleted_at           TEXT,
    tags                 TEXT NOT NULL DEFAULT '[]',
    FOREIGN KEY (definition_id, version) REFERENCES workflow_versions (definition_id, version)
) STRICT;
INSERT INTO workflow_instances (id, definition_id, workflow_type, version, status, priority,
    current_step, step_visit, step_started_at, escalated_roles, current_assignees,
    completed_steps, data, created_by, created_at, updated_at, started_at, completed_at, due_at,
    deleted_at, tags)
SELECT id, definition_id, workflow_type, version, status, priority, current_step, step_visit,
    step_started_at, escalated_roles, current_assignees, completed_steps, data, created_by,
    created_at, updated_at, started_at, completed_at, due_at, deleted_at, tags
FROM workflow_instances_0014;
DROP TABLE workflow_instances_0014;
CREATE INDEX idx_workflow_instances_status ON workflow_instances (status);
CREATE INDEX idx_workflow_instances_created_by ON workflow_instances (created_by);
CREATE INDEX idx_workflow_instances_priority ON workflow_instances (priority);
CREATE INDEX idx_workflow_instances_created_at ON workflow_instances (created_at);
CREATE INDEX idx_workflow_instances_type ON workflow_instances (workflow_type);

CREATE TABLE workflow_step_runs_0014 (
    workflow_instance_id  BLOB NOT NULL REFERENCES workflow_instances (id),
    visit                 INTEGER NOT NULL CHECK (visit > 0),
    step_id               TEXT NOT NULL,
    kind                  TEXT NOT NULL
        CHECK (kind IN ('approval', 'task', 'condition', 'action', 'delay')),
    status                TEXT NOT NULL
        CHECK (status IN ('running', 'completed', 'approved', 'rejected', 'timed_out', 'cancelled',
                          'failed')),
    started_at            TEXT NOT NULL,
    ended_at              TEXT,
    PRIMARY KEY (workflow_instance_id, visit),
    CHECK ((status = 'running') = (ended_at IS NULL))
) STRICT;
INSERT INTO workflow_step_runs_0014 (workflow_instance_id, visit, step_id, kind, status,
    started_at, ended_at)
SELECT workflow_instance_id, visit, step_id, kind, status, started_at, ended_at
FROM workflow_step_runs;
DROP TABLE workflow_step_runs;
ALTER TABLE workflow_step_runs_0014 RENAME TO workflow_step_runs;

CREATE TABLE workflow_executions (
    id                BLOB PRIMARY KEY NOT NULL REFERENCES workflow_instances (id),
    definition_id     BLOB NOT NULL REFERENCES workflow_definitions (id),
    definition_key    TEXT NOT NULL,
    version           INTEGER NOT NULL,
    trigger_type      TEXT NOT NULL
        CHECK (trigger_type IN ('manual', 'event', 'schedule', 'webhook', 'test')),
    trigger_id        BLOB,
    trigger_event_id  TEXT,
    input             TEXT NOT NULL,
    output            TEXT,
    error             TEXT,
    status            TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')),
    created_by        BLOB,
    started_at        TEXT NOT NULL,
    ended_at          TEXT,
    duration_ms       INTEGER,
    -- A redelivered event or a schedule fired twice starts nothing new.
    CONSTRAINT workflow_executions_trigger_event UNIQUE (trigger_id, trigger_event_id)
) STRICT;
CREATE INDEX idx_workflow_executions_definition ON workflow_executions (definition_key, started_at);
CREATE INDEX idx_workflow_executions_started ON workflow_executions (started_at, id);
CREATE INDEX idx_workflow_executions_status ON workflow_executions (status);

-- One row per attempt of an action step.
CREATE TABLE step_executions (
    id            BLOB PRIMARY KEY NOT NULL,
    execution_id  BLOB NOT NULL REFERENCES workflow_executions (id) ON DELETE CASCADE,
    step_id       TEXT NOT NULL,
    visit         INTEGER NOT NULL CHECK (visit > 0),
    attempt       INTEGER NOT NULL CHECK (attempt > 0),
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    input         TEXT NOT NULL,
    output        TEXT,
    error         TEXT,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    duration_ms   INTEGER,
    CONSTRAINT step_executions_attempt UNIQUE (execution_id, step_id, visit, attempt)
) STRICT;
CREATE INDEX idx_step_executions_execution ON step_executions (execution_id, started_at);
