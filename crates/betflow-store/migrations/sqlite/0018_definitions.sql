-- Definitions (issue 17): soft delete, the owner filter and drafts. The SQLite twin of
-- migrations/postgres/0018.
--
-- A deleted definition is hidden and starts nothing; its versions, runs and history stay,
-- and its key stays taken (the UNIQUE key of 0003 is kept: runs name their type by key).
ALTER TABLE workflow_definitions ADD COLUMN deleted_at TEXT;
CREATE INDEX idx_workflow_definitions_created_by ON workflow_definitions (created_by);

-- The one open draft of a definition (seed 003's workflow_step / workflow_edge, kept as one
-- graph document): edited a step or an edge at a time, validated whole when published into
-- a new immutable version, then removed.
CREATE TABLE workflow_drafts (
    definition_id  BLOB PRIMARY KEY NOT NULL REFERENCES workflow_definitions (id),
    base_version   INTEGER CHECK (base_version >= 1),
    graph          TEXT NOT NULL,
    created_by     BLOB,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
