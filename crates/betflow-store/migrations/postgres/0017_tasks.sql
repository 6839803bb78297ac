-- Tasks (seed 003's task_management): work for a user or a role, created by an automation's
-- task.create step (the run and step are recorded; `wait` says the step waits for it) and
-- listed in /tasks beside approval steps.

CREATE TABLE tasks (
    id                UUID PRIMARY KEY,
    title             VARCHAR(200) NOT NULL,
    description       TEXT,
    assignee_user_id  UUID,
    assignee_role     VARCHAR(64),
    due_at            TIMESTAMPTZ,
    priority          TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    execution_id      UUID,
    step_id           VARCHAR(100),
    wait              BOOLEAN NOT NULL DEFAULT FALSE,
    data              JSONB NOT NULL DEFAULT '{}',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    completed_at      TIMESTAMPTZ,
    completed_by      UUID,
    CHECK (assignee_user_id IS NOT NULL OR assignee_role IS NOT NULL)
);
CREATE INDEX idx_tasks_open_role ON tasks (assignee_role, created_at)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX idx_tasks_open_user ON tasks (assignee_user_id, created_at)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX idx_tasks_execution ON tasks (execution_id, step_id);
