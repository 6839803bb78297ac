-- The outbox: domain events written in the transaction that caused them (`events` is left
-- for the sportsbook's fixtures, as seed 002 names them). `seq` is assigned
-- after commit by the relay, one sequencer at a time (an advisory lock), so a reader that
-- sees event N has already been able to see every event before it: a sequence value taken at
-- insert time could commit after a larger one and be skipped by a reader in between.

CREATE SEQUENCE outbox_events_seq;

CREATE TABLE outbox_events (
    id           UUID PRIMARY KEY,
    seq          BIGINT,
    event_type   VARCHAR(100) NOT NULL,
    workflow_id  UUID,
    user_id      UUID,
    roles        JSONB NOT NULL DEFAULT '[]',
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT outbox_events_seq_key UNIQUE (seq)
);
CREATE INDEX idx_outbox_events_unsequenced ON outbox_events (created_at, id) WHERE seq IS NULL;
CREATE INDEX idx_outbox_events_workflow ON outbox_events (workflow_id, seq);

-- How far each consumer of the outbox (the relay) has got.
CREATE TABLE relay_cursors (
    name  VARCHAR(100) PRIMARY KEY,
    seq   BIGINT NOT NULL DEFAULT 0
);
INSERT INTO relay_cursors (name, seq) VALUES ('relay', 0);
