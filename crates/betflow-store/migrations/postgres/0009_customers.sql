-- Customers (seed 002): a profile and preferences beside each customer's user row. The 18+
-- rule is checked by the application against an injectable clock, so it is not a CHECK on
-- CURRENT_DATE here.

CREATE TABLE user_profiles (
    user_id              UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    first_name           VARCHAR(100),
    last_name            VARCHAR(100),
    date_of_birth        DATE NOT NULL,
    phone                VARCHAR(20),
    country_code         CHAR(2) NOT NULL,
    timezone             VARCHAR(50) NOT NULL,
    language_code        CHAR(2) NOT NULL DEFAULT 'en',
    currency_code        CHAR(3) NOT NULL,
    verification_status  TEXT NOT NULL DEFAULT 'unverified'
                             CHECK (verification_status IN ('unverified', 'pending', 'verified', 'rejected')),
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE user_preferences (
    user_id             UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    odds_format         TEXT NOT NULL DEFAULT 'american'
                            CHECK (odds_format IN ('american', 'decimal', 'fractional')),
    notifications       JSONB NOT NULL,
    responsible_gaming  JSONB NOT NULL,
    ui_preferences      JSONB NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
