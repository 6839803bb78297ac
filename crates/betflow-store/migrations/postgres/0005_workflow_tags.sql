-- Tags on each workflow (the definition's tags plus any given at creation), for the list's
-- `tags` filter. jsonb_path_ops keeps the containment index small.
ALTER TABLE workflow_instances ADD COLUMN tags JSONB NOT NULL DEFAULT '[]';
CREATE INDEX idx_workflow_instances_tags ON workflow_instances USING GIN (tags jsonb_path_ops);
