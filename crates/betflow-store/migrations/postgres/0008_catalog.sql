-- The sportsbook catalog (seed 002): sports, leagues, teams, events, markets, selections,
-- with the seed's columns, enums (as checked text) and constraints, and the price history
-- of every odds change. Odds and lines are exact decimal text (as in betting_lines), checked
-- here as numbers.

CREATE TABLE sports (
    id             UUID PRIMARY KEY,
    name           VARCHAR(50) NOT NULL,
    display_name   VARCHAR(100) NOT NULL,
    slug           VARCHAR(50) NOT NULL,
    icon_url       VARCHAR(255),
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order     INTEGER NOT NULL DEFAULT 0,
    configuration  JSONB NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT sports_name_key UNIQUE (name),
    CONSTRAINT sports_slug_key UNIQUE (slug)
);

CREATE TABLE leagues (
    id             UUID PRIMARY KEY,
    sport_id       UUID NOT NULL REFERENCES sports (id) ON DELETE CASCADE,
    name           VARCHAR(100) NOT NULL,
    display_name   VARCHAR(150) NOT NULL,
    slug           VARCHAR(100) NOT NULL,
    country_code   CHAR(2),
    season         VARCHAR(20),
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order     INTEGER NOT NULL DEFAULT 0,
    configuration  JSONB NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT leagues_sport_slug_key UNIQUE (sport_id, slug)
);

CREATE TABLE teams (
    id             UUID PRIMARY KEY,
    sport_id       UUID NOT NULL REFERENCES sports (id) ON DELETE CASCADE,
    league_id      UUID REFERENCES leagues (id) ON DELETE SET NULL,
    name           VARCHAR(100) NOT NULL,
    display_name   VARCHAR(150) NOT NULL,
    abbreviation   VARCHAR(10),
    slug           VARCHAR(100) NOT NULL,
    logo_url       VARCHAR(255),
    city           VARCHAR(100),
    conference     VARCHAR(50),
    division       VARCHAR(50),
    founded_year   INTEGER,
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    metadata       JSONB NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    search         TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple',
                       coalesce(name, '') || ' ' || coalesce(display_name, '') || ' ' ||
                       coalesce(abbreviation, '') || ' ' || coalesce(city, ''))) STORED,
    CONSTRAINT teams_sport_slug_key UNIQUE (sport_id, slug)
);
CREATE INDEX idx_teams_search ON teams USING GIN (search);

CREATE TABLE events (
    id             UUID PRIMARY KEY,
    sport_id       UUID NOT NULL REFERENCES sports (id) ON DELETE CASCADE,
    league_id      UUID REFERENCES leagues (id) ON DELETE SET NULL,
    home_team_id   UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    away_team_id   UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    start_time     TIMESTAMPTZ NOT NULL,
    status         TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'live',
                       'halftime', 'finished', 'postponed', 'cancelled', 'suspended')),
    period         VARCHAR(20),
    clock          VARCHAR(20),
    home_score     INTEGER NOT NULL DEFAULT 0,
    away_score     INTEGER NOT NULL DEFAULT 0,
    venue          VARCHAR(200),
    metadata       JSONB NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT events_different_teams CHECK (home_team_id <> away_team_id)
);
CREATE INDEX idx_events_sport_start ON events (sport_id, start_time);
CREATE INDEX idx_events_league_start ON events (league_id, start_time);
CREATE INDEX idx_events_status ON events (status, start_time);

CREATE TABLE markets (
    id                UUID PRIMARY KEY,
    event_id          UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    type              TEXT NOT NULL CHECK (type IN ('moneyline', 'point_spread',
                          'total_points', 'first_half', 'prop_bet', 'futures')),
    name              VARCHAR(200) NOT NULL,
    description       TEXT,
    handicap          VARCHAR(20) CHECK (handicap IS NULL OR handicap::numeric IS NOT NULL),
    total_points      VARCHAR(20) CHECK (total_points IS NULL OR total_points::numeric IS NOT NULL),
    is_active         BOOLEAN NOT NULL DEFAULT TRUE,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'suspended',
                          'closed', 'settled', 'voided')),
    in_play           BOOLEAN NOT NULL DEFAULT FALSE,
    rules             JSONB NOT NULL DEFAULT '{}',
    settlement_rules  JSONB NOT NULL DEFAULT '{}',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    settled_at        TIMESTAMPTZ
);
-- The seed's UNIQUE(event_id, type, handicap, total_points), with NULLs equal.
CREATE UNIQUE INDEX markets_event_type_line_key ON markets
    (event_id, type, coalesce(handicap, ''), coalesce(total_points, ''));

CREATE TABLE selections (
    id           UUID PRIMARY KEY,
    market_id    UUID NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
    name         VARCHAR(200) NOT NULL,
    short_name   VARCHAR(50),
    odds         VARCHAR(20) NOT NULL CHECK (odds::numeric > 1),
    probability  VARCHAR(10) CHECK (probability IS NULL OR probability::numeric BETWEEN 0 AND 1),
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    metadata     JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_selections_market ON selections (market_id);

-- Every odds change, with who made it and why. Never updated.
CREATE TABLE selection_prices (
    id            UUID PRIMARY KEY,
    selection_id  UUID NOT NULL REFERENCES selections (id) ON DELETE CASCADE,
    old_odds      VARCHAR(20),
    new_odds      VARCHAR(20) NOT NULL,
    changed_by    UUID,
    reason        TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_selection_prices ON selection_prices (selection_id, created_at);
