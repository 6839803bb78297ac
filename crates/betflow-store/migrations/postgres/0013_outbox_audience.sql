-- Events are addressed to rooms in general (`user:{id}`, `role:{name}`, `workflow:{id}`,
-- `market:{id}`, `event:{id}`, `topic:{name}`), not by workflow-shaped columns, so any write
-- can carry events for any audience. `audience` is the JSON array of those strings, in order.
-- Existing rows keep their rooms, in the order they were sent to: the workflow, its creator,
-- then the roles.

ALTER TABLE outbox_events ADD COLUMN audience JSONB NOT NULL DEFAULT '[]';

UPDATE outbox_events o SET audience = (
    SELECT COALESCE(jsonb_agg(a.address ORDER BY a.rank, a.ord), '[]'::jsonb)
    FROM (
        SELECT 0 AS rank, 0::bigint AS ord, 'workflow:' || o.workflow_id::text AS address
        WHERE o.workflow_id IS NOT NULL
        UNION ALL
        SELECT 1, 0, 'user:' || o.user_id::text WHERE o.user_id IS NOT NULL
        UNION ALL
        SELECT 2, r.ord, 'role:' || r.value
        FROM jsonb_array_elements_text(o.roles) WITH ORDINALITY AS r(value, ord)
    ) a
)
WHERE o.workflow_id IS NOT NULL OR o.user_id IS NOT NULL OR o.roles <> '[]'::jsonb;

DROP INDEX idx_outbox_events_workflow;
ALTER TABLE outbox_events DROP COLUMN workflow_id, DROP COLUMN user_id, DROP COLUMN roles;
