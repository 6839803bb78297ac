-- Customers: the SQLite twin of migrations/postgres/0009.

CREATE TABLE user_profiles (
    user_id              BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_name           TEXT,
    last_name            TEXT,
    date_of_birth        TEXT NOT NULL,
    phone                TEXT,
    country_code         TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    language_code        TEXT NOT NULL DEFAULT 'en',
    currency_code        TEXT NOT NULL,
    verification_status  TEXT NOT NULL DEFAULT 'unverified'
                             CHECK (verification_status IN ('unverified', 'pending', 'verified', 'rejected')),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;

CREATE TABLE user_preferences (
    user_id             BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    odds_format         TEXT NOT NULL DEFAULT 'american'
                            CHECK (odds_format IN ('american', 'decimal', 'fractional')),
    notifications       TEXT NOT NULL CHECK (json_valid(notifications)),
    responsible_gaming  TEXT NOT NULL CHECK (json_valid(responsible_gaming)),
    ui_preferences      TEXT NOT NULL CHECK (json_valid(ui_preferences)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;
