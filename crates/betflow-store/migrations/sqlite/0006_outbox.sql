-- The outbox: the SQLite twin of migrations/postgres/0006. SQLite has one writer and
-- transactions commit in the order they took the write lock, so `seq` is assigned at insert.

CREATE TABLE outbox_events (
    id           BLOB PRIMARY KEY NOT NULL,
    seq          INTEGER UNIQUE,
    event_type   TEXT NOT NULL,
    workflow_id  BLOB,
    user_id      BLOB,
    roles        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    payload      TEXT NOT NULL CHECK (json_valid(payload)),
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX idx_outbox_events_workflow ON outbox_events (workflow_id, seq);

CREATE TABLE relay_cursors (
    name  TEXT PRIMARY KEY NOT NULL,
    seq   INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO relay_cursors (name, seq) VALUES ('relay', 0);
