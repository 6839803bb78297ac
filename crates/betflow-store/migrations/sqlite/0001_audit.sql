-- Audit and logging schema (seed 002), the SQLite twin of migrations/postgres/0001.
-- UUIDs are 16-byte BLOBs and timestamps RFC 3339 TEXT in UTC (always written by the
-- application at microsecond precision, so text order is time order).

CREATE TABLE audit_log (
    id          BLOB PRIMARY KEY NOT NULL,
    table_name  TEXT NOT NULL CHECK (length(trim(table_name)) BETWEEN 1 AND 100),
    record_id   BLOB NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    old_values  TEXT CHECK (old_values IS NULL OR json_valid(old_values)),
    new_values  TEXT CHECK (new_values IS NULL OR json_valid(new_values)),
    user_id     BLOB,
    ip_address  TEXT,
    user_agent  TEXT,
    timestamp   TEXT NOT NULL
) STRICT;

CREATE INDEX idx_audit_log_table_record ON audit_log (table_name, record_id);
CREATE INDEX idx_audit_log_user_timestamp ON audit_log (user_id, timestamp);
CREATE INDEX idx_audit_log_timestamp ON audit_log (timestamp);

CREATE TABLE system_events (
    id          BLOB PRIMARY KEY NOT NULL,
    event_type  TEXT NOT NULL CHECK (length(trim(event_type)) BETWEEN 1 AND 100),
    severity    TEXT NOT NULL DEFAULT 'info'
                CHECK (severity IN ('debug', 'info', 'warning', 'error', 'critical')),
    message     TEXT NOT NULL,
    details     TEXT CHECK (details IS NULL OR json_valid(details)),
    user_id     BLOB,
    session_id  TEXT CHECK (session_id IS NULL OR length(session_id) <= 100),
    ip_address  TEXT,
    created_at  TEXT NOT NULL
) STRICT;

CREATE INDEX idx_system_events_type_timestamp ON system_events (event_type, created_at);
CREATE INDEX idx_system_events_severity_timestamp ON system_events (severity, created_at);
