-- Workflows: the SQLite twin of migrations/postgres/0003. Definition versions are immutable;
-- an instance pins the version it started on. History rows are append-only.

CREATE TABLE workflow_definitions (
    id              BLOB PRIMARY KEY NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    category        TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    data_schema     TEXT,
    latest_version  INTEGER NOT NULL CHECK (latest_version >= 1),
    is_active       INTEGER NOT NULL DEFAULT 1,
    created_by      BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT workflow_definitions_key_key UNIQUE (key)
) STRICT;

CREATE TABLE workflow_versions (
    definition_id  BLOB NOT NULL REFERENCES workflow_definitions (id),
    version        INTEGER NOT NULL CHECK (version >= 1),
    graph          TEXT NOT NULL,
    published_by   BLOB,
    published_at   TEXT NOT NULL,
    PRIMARY KEY (definition_id, version)
) STRICT;

CREATE TABLE workflow_instances (
    id                   BLOB PRIMARY KEY NOT NULL,
    definition_id        BLOB NOT NULL REFERENCES workflow_definitions (id),
    workflow_type        TEXT NOT NULL,
    version              INTEGER NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed',
                             'rejected', 'cancelled')),
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
    -- Deleted workflows are hidden, never erased: their history stays for the audit.
    deleted_at           TEXT,
    FOREIGN KEY (definition_id, version) REFERENCES workflow_versions (definition_id, version)
) STRICT;
CREATE INDEX idx_workflow_instances_status ON workflow_instances (status);
CREATE INDEX idx_workflow_instances_created_by ON workflow_instances (created_by);
CREATE INDEX idx_workflow_instances_priority ON workflow_instances (priority);
CREATE INDEX idx_workflow_instances_created_at ON workflow_instances (created_at);
CREATE INDEX idx_workflow_instances_type ON workflow_instances (workflow_type);

-- One row per decision. The unique key makes a second decision by the same user on the same
-- visit of a step impossible, whatever races the application loses.
CREATE TABLE workflow_approvals (
    id                    BLOB PRIMARY KEY NOT NULL,
    workflow_instance_id  BLOB NOT NULL REFERENCES workflow_instances (id),
    step_id               TEXT NOT NULL,
    step_visit            INTEGER NOT NULL,
    approver_id           BLOB NOT NULL,
    decision              TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comments              TEXT,
    decided_at            TEXT NOT NULL,
    CONSTRAINT workflow_approvals_one_vote UNIQUE (workflow_instance_id, step_id, step_visit, approver_id)
) STRICT;
CREATE INDEX idx_workflow_approvals_workflow_id ON workflow_approvals (workflow_instance_id);
CREATE INDEX idx_workflow_approvals_approver ON workflow_approvals (approver_id);

CREATE TABLE workflow_timeline (
    id                    BLOB PRIMARY KEY NOT NULL,
    workflow_instance_id  BLOB NOT NULL REFERENCES workflow_instances (id),
    event_type            TEXT NOT NULL,
    step_id               TEXT,
    user_id               BLOB,
    data                  TEXT,
    created_at            TEXT NOT NULL
) STRICT;
CREATE INDEX idx_workflow_timeline_workflow_id ON workflow_timeline (workflow_instance_id, created_at);
CREATE INDEX idx_workflow_timeline_event_type ON workflow_timeline (event_type);

-- The seed's domain rows behind its two workflow types (see migrations/postgres/0003).
CREATE TABLE betting_lines (
    id                      BLOB PRIMARY KEY NOT NULL,
    workflow_instance_id    BLOB NOT NULL REFERENCES workflow_instances (id),
    line_id                 TEXT NOT NULL,
    event_name              TEXT,
    sport                   TEXT,
    league                  TEXT,
    market_type             TEXT,
    old_odds                TEXT NOT NULL,
    new_odds                TEXT NOT NULL,
    odds_change_percentage  TEXT NOT NULL,
    total_exposure          INTEGER NOT NULL DEFAULT 0,
    risk_level              TEXT NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    metadata                TEXT NOT NULL DEFAULT '{}',
    created_at              TEXT NOT NULL
) STRICT;
CREATE INDEX idx_betting_lines_workflow_id ON betting_lines (workflow_instance_id);

CREATE TABLE betting_content (
    id                    BLOB PRIMARY KEY NOT NULL,
    workflow_instance_id  BLOB NOT NULL REFERENCES workflow_instances (id),
    content_type          TEXT NOT NULL,
    content_id            TEXT NOT NULL,
    title                 TEXT NOT NULL,
    jurisdiction          TEXT,
    financial_impact      INTEGER NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT '{}',
    status                TEXT NOT NULL DEFAULT 'draft',
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
) STRICT;
CREATE INDEX idx_betting_content_workflow_id ON betting_content (workflow_instance_id);
CREATE INDEX idx_betting_content_content_id ON betting_content (content_id);
