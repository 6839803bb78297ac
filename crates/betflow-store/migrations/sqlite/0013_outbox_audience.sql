-- The SQLite twin of migrations/postgres/0013: events are addressed to rooms in general, as
-- the JSON array `audience` of their string forms (`workflow:{id}`, `user:{id}`, ...).
-- Existing rows keep their rooms in the order they were sent to: the workflow, its creator,
-- then the roles. UUIDs are 16-byte blobs here, spelt out in their hyphenated form.

ALTER TABLE outbox_events ADD COLUMN audience TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(audience));

UPDATE outbox_events SET audience = (
    SELECT json_group_array(a.address ORDER BY a.rank, a.ord)
    FROM (
        SELECT 0 AS rank, 0 AS ord, 'workflow:' || lower(
            substr(hex(outbox_events.workflow_id), 1, 8) || '-' ||
            substr(hex(outbox_events.workflow_id), 9, 4) || '-' ||
            substr(hex(outbox_events.workflow_id), 13, 4) || '-' ||
            substr(hex(outbox_events.workflow_id), 17, 4) || '-' ||
            substr(hex(outbox_events.workflow_id), 21, 12)) AS address
        WHERE outbox_events.workflow_id IS NOT NULL
        UNION ALL
        SELECT 1, 0, 'user:' || lower(
            substr(hex(outbox_events.user_id), 1, 8) || '-' ||
            substr(hex(outbox_events.user_id), 9, 4) || '-' ||
            substr(hex(outbox_events.user_id), 13, 4) || '-' ||
            substr(hex(outbox_events.user_id), 17, 4) || '-' ||
            substr(hex(outbox_events.user_id), 21, 12))
        WHERE outbox_events.user_id IS NOT NULL
        UNION ALL
        SELECT 2, r.key, 'role:' || r.value FROM json_each(outbox_events.roles) AS r
    ) AS a
)
WHERE workflow_id IS NOT NULL OR user_id IS NOT NULL OR roles <> '[]';

DROP INDEX idx_outbox_events_workflow;
ALTER TABLE outbox_events DROP COLUMN workflow_id;
ALTER TABLE outbox_events DROP COLUMN user_id;
ALTER TABLE outbox_events DROP COLUMN roles;
