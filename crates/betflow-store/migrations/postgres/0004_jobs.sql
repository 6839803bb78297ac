-- A durable job queue (timers, automated steps). Workers claim due jobs with
-- FOR UPDATE SKIP LOCKED and hold a lease; a job whose lease expired (its worker died) is
-- claimed again.

CREATE TABLE jobs (
    id            UUID PRIMARY KEY,
    kind          VARCHAR(100) NOT NULL,
    payload       JSONB NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
    run_at        TIMESTAMPTZ NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    locked_by     TEXT,
    locked_until  TIMESTAMPTZ,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ
);
CREATE INDEX idx_jobs_due ON jobs (run_at) WHERE status IN ('queued', 'running');
