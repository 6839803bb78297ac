-- Tags on each workflow (the definition's tags plus any given at creation), for the list's
-- `tags` filter: a JSON array of strings.
ALTER TABLE workflow_instances ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
