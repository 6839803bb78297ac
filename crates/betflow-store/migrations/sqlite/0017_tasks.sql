-- Tasks created by automations: the SQLite twin of migrations/postgres/0017.

CREATE TABLE tasks (
    id                BLOB PRIMARY KEY NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT,
    assignee_user_id  BLOB,
    assignee_role     TEXT,
    due_at            TEXT,
    priority          TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    execution_id      BLOB,
    step_id           TEXT,
    wait              INTEGER NOT NULL DEFAULT 0,
    data              TEXT NOT NULL DEFAULT '{}',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    completed_at      TEXT,
    completed_by      BLOB,
    CHECK (assignee_user_id IS NOT NULL OR assignee_role IS NOT NULL)
) STRICT;
CREATE INDEX idx_tasks_open_role ON tasks (assignee_role, created_at)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX idx_tasks_open_user ON tasks (assignee_user_id, created_at)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX idx_tasks_execution ON tasks (execution_id, step_id);
