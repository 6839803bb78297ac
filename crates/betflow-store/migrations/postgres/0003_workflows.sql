-- Workflows (seed 000: workflow_definitions, workflow_instances, workflow_approvals,
-- workflow_timeline; seed 003/004: versions). Definition versions are immutable; an instance
-- pins the version it started on. History rows are append-only.

CREATE TABLE workflow_definitions (
    id              UUID PRIMARY KEY,
    key             VARCHAR(100) NOT NULL,
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    category        VARCHAR(100),
    tags            JSONB NOT NULL DEFAULT '[]',
    data_schema     JSONB,
    latest_version  INTEGER NOT NULL CHECK (latest_version >= 1),
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_by      UUID,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT workflow_definitions_key_key UNIQUE (key)
);

CREATE TABLE workflow_versions (
    definition_id  UUID NOT NULL REFERENCES workflow_definitions (id),
    version        INTEGER NOT NULL CHECK (version >= 1),
    graph          JSONB NOT NULL,
    published_by   UUID,
    published_at   TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (definition_id, version)
);

CREATE TABLE workflow_instances (
    id                   UUID PRIMARY KEY,
    definition_id        UUID NOT NULL REFERENCES workflow_definitions (id),
    workflow_type        VARCHAR(100) NOT NULL,
    version              INTEGER NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed',
                             'rejected', 'cancelled')),
    priority             TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    current_step         VARCHAR(100),
    step_visit           INTEGER NOT NULL DEFAULT 0,
    step_started_at      TIMESTAMPTZ,
    escalated_roles      JSONB NOT NULL DEFAULT '[]',
    current_assignees    JSONB NOT NULL DEFAULT '[]',
    completed_steps      INTEGER NOT NULL DEFAULT 0,
    data                 JSONB NOT NULL,
    created_by           UUID,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    started_at           TIMESTAMPTZ,
    completed_at         TIMESTAMPTZ,
    due_at               TIMESTAMPTZ,
    -- Deleted workflows are hidden, never erased: their history stays for the audit.
    deleted_at           TIMESTAMPTZ,
    FOREIGN KEY (definition_id, version) REFERENCES workflow_versions (definition_id, version)
);
CREATE INDEX idx_workflow_instances_status ON workflow_instances (status);
CREATE INDEX idx_workflow_instances_created_by ON workflow_instances (created_by);
CREATE INDEX idx_workflow_instances_priority ON workflow_instances (priority);
CREATE INDEX idx_workflow_instances_created_at ON workflow_instances (created_at);
CREATE INDEX idx_workflow_instances_type ON workflow_instances (workflow_type);

-- One row per decision. The unique key makes a second decision by the same user on the same
-- visit of a step impossible, whatever races the application loses.
CREATE TABLE workflow_approvals (
    id                    UUID PRIMARY KEY,
    workflow_instance_id  UUID NOT NULL REFERENCES workflow_instances (id),
    step_id               VARCHAR(100) NOT NULL,
    step_visit            INTEGER NOT NULL,
    approver_id           UUID NOT NULL,
    decision              TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comments              TEXT,
    decided_at            TIMESTAMPTZ NOT NULL,
    CONSTRAINT workflow_approvals_one_vote UNIQUE (workflow_instance_id, step_id, step_visit, approver_id)
);
CREATE INDEX idx_workflow_approvals_workflow_id ON workflow_approvals (workflow_instance_id);
CREATE INDEX idx_workflow_approvals_approver ON workflow_approvals (approver_id);

CREATE TABLE workflow_timeline (
    id                    UUID PRIMARY KEY,
    workflow_instance_id  UUID NOT NULL REFERENCES workflow_instances (id),
    event_type            VARCHAR(100) NOT NULL,
    step_id               VARCHAR(100),
    user_id               UUID,
    data                  JSONB,
    created_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_workflow_timeline_workflow_id ON workflow_timeline (workflow_instance_id, created_at);
CREATE INDEX idx_workflow_timeline_event_type ON workflow_timeline (event_type);

-- The seed's domain rows behind its two workflow types. Money is integer minor units
-- (DESIGN.md), odds and percentages exact decimal text.
CREATE TABLE betting_lines (
    id                      UUID PRIMARY KEY,
    workflow_instance_id    UUID NOT NULL REFERENCES workflow_instances (id),
    line_id                 VARCHAR(255) NOT NULL,
    event_name              VARCHAR(500),
    sport                   VARCHAR(100),
    league                  VARCHAR(200),
    market_type             VARCHAR(100),
    old_odds                VARCHAR(50) NOT NULL,
    new_odds                VARCHAR(50) NOT NULL,
    odds_change_percentage  VARCHAR(50) NOT NULL,
    total_exposure          BIGINT NOT NULL DEFAULT 0,
    risk_level              TEXT NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    metadata                JSONB NOT NULL DEFAULT '{}',
    created_at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_betting_lines_workflow_id ON betting_lines (workflow_instance_id);

CREATE TABLE betting_content (
    id                    UUID PRIMARY KEY,
    workflow_instance_id  UUID NOT NULL REFERENCES workflow_instances (id),
    content_type          VARCHAR(50) NOT NULL,
    content_id            VARCHAR(255) NOT NULL,
    title                 VARCHAR(500) NOT NULL,
    jurisdiction          VARCHAR(50),
    financial_impact      BIGINT NOT NULL DEFAULT 0,
    metadata              JSONB NOT NULL DEFAULT '{}',
    status                TEXT NOT NULL DEFAULT 'draft',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_betting_content_workflow_id ON betting_content (workflow_instance_id);
CREATE INDEX idx_betting_content_content_id ON betting_content (content_id);
