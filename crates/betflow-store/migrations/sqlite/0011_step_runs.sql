-- One row per visit of a workflow's step (seed 003's step_run): which step, when it started
-- and ended, and how it ended. Written in the same transaction as the transition.
CREATE TABLE workflow_step_runs (
    workflow_instance_id  BLOB NOT NULL REFERENCES workflow_instances (id),
    visit                 INTEGER NOT NULL CHECK (visit > 0),
    step_id               TEXT NOT NULL,
    kind                  TEXT NOT NULL
        CHECK (kind IN ('approval', 'task', 'condition', 'action', 'delay')),
    status                TEXT NOT NULL
        CHECK (status IN ('running', 'completed', 'approved', 'rejected', 'timed_out', 'cancelled')),
    started_at            TEXT NOT NULL,
    ended_at              TEXT,
    PRIMARY KEY (workflow_instance_id, visit),
    CHECK ((status = 'running') = (ended_at IS NULL))
) STRICT;
