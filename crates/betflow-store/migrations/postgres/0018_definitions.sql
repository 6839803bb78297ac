-- Definitions (issue 17): soft delete, the owner filter and drafts.
--
-- A deleted definition is hidden and starts nothing; its versions, runs and history stay,
-- and its key stays taken (the UNIQUE key of 0003 is kept: runs name their type by key).
ALTER TABLE workflow_definitions ADD COLUMN deleted_at TIMESTAMPTZ;
CREATE INDEX idx_workflow_definitions_created_by ON workflow_definitions (created_by);

-- The one open draft of a definition (seed 003's workflow_step / workflow_edge, kept as one
-- graph document): edited a step or an edge at a time, validated whole when published into
-- a new immutable version, then removed.
CREATE TABLE workflow_drafts (
    definition_id  UUID PRIMARY KEY REFERENCES workflow_definitions (id),
    base_version   INTEGER CHECK (base_version >= 1),
    graph          JSONB NOT NULL,
    created_by     UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
