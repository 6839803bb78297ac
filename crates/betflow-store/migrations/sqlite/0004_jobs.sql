-- The job queue: the SQLite twin of migrations/postgres/0004. SQLite has one writer, so a
-- claim (an UPDATE inside BEGIN IMMEDIATE) can never hand one job to two workers.

CREATE TABLE jobs (
    id            BLOB PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL CHECK (json_valid(payload)),
    status        TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
    run_at        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    locked_by     TEXT,
    locked_until  TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
) STRICT;
CREATE INDEX idx_jobs_due ON jobs (run_at) WHERE status IN ('queued', 'running');
