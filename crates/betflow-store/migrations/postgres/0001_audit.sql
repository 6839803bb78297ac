-- Audit and logging schema (seed 002). Enumerations are TEXT with CHECK constraints rather
-- than PostgreSQL enum types: same values, same rows on SQLite, and new values need no
-- ALTER TYPE outside a transaction.
-- user_id carries no foreign key: an audit trail must outlive whatever it describes.

CREATE TABLE audit_log (
    id          UUID PRIMARY KEY,
    table_name  VARCHAR(100) NOT NULL CHECK (length(btrim(table_name)) > 0),
    record_id   UUID NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    old_values  JSONB,
    new_values  JSONB,
    user_id     UUID,
    ip_address  INET,
    user_agent  TEXT,
    timestamp   TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_audit_log_table_record ON audit_log (table_name, record_id);
CREATE INDEX idx_audit_log_user_timestamp ON audit_log (user_id, timestamp);
CREATE INDEX idx_audit_log_timestamp ON audit_log (timestamp);

CREATE TABLE system_events (
    id          UUID PRIMARY KEY,
    event_type  VARCHAR(100) NOT NULL CHECK (length(btrim(event_type)) > 0),
    severity    TEXT NOT NULL DEFAULT 'info'
                CHECK (severity IN ('debug', 'info', 'warning', 'error', 'critical')),
    message     TEXT NOT NULL,
    details     JSONB,
    user_id     UUID,
    session_id  VARCHAR(100),
    ip_address  INET,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_system_events_type_timestamp ON system_events (event_type, created_at);
CREATE INDEX idx_system_events_severity_timestamp ON system_events (severity, created_at);
