-- The sportsbook catalog: the SQLite twin of migrations/postgres/0008 (seed 002): sports, leagues, teams, events, markets, selections,
-- with the seed's columns, enums (as checked text) and constraints, and the price history
-- of every odds change. Odds and lines are exact decimal text (as in betting_lines), checked
-- here as numbers.

CREATE TABLE sports (
    id             BLOB PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    slug           TEXT NOT NULL,
    icon_url       TEXT,
    is_active      INTEGER NOT NULL DEFAULT 1,
    sort_order     INTEGER NOT NULL DEFAULT 0,
    configuration  TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT sports_name_key UNIQUE (name),
    CONSTRAINT sports_slug_key UNIQUE (slug)
) STRICT;

CREATE TABLE leagues (
    id             BLOB PRIMARY KEY NOT NULL,
    sport_id       BLOB NOT NULL REFERENCES sports (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    slug           TEXT NOT NULL,
    country_code   TEXT,
    season         TEXT,
    is_active      INTEGER NOT NULL DEFAULT 1,
    sort_order     INTEGER NOT NULL DEFAULT 0,
    configuration  TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT leagues_sport_slug_key UNIQUE (sport_id, slug)
) STRICT;

CREATE TABLE teams (
    id             BLOB PRIMARY KEY NOT NULL,
    sport_id       BLOB NOT NULL REFERENCES sports (id) ON DELETE CASCADE,
    league_id      BLOB REFERENCES leagues (id) ON DELETE SET NULL,
    name           TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    abbreviation   TEXT,
    slug           TEXT NOT NULL,
    logo_url       TEXT,
    city           TEXT,
    conference     TEXT,
    division       TEXT,
    founded_year   INTEGER,
    is_active      INTEGER NOT NULL DEFAULT 1,
    metadata       TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT teams_sport_slug_key UNIQUE (sport_id, slug)
) STRICT;
-- Full-text search of team names (FTS5, kept in step by triggers).
CREATE VIRTUAL TABLE teams_fts USING fts5(name, display_name, abbreviation, city,
    content='teams', content_rowid='rowid', tokenize='unicode61');
CREATE TRIGGER teams_fts_insert AFTER INSERT ON teams BEGIN
    INSERT INTO teams_fts (rowid, name, display_name, abbreviation, city)
    VALUES (new.rowid, new.name, new.display_name, new.abbreviation, new.city);
END;
CREATE TRIGGER teams_fts_delete AFTER DELETE ON teams BEGIN
    INSERT INTO teams_fts (teams_fts, rowid, name, display_name, abbreviation, city)
    VALUES ('delete', old.rowid, old.name, old.display_name, old.abbreviation, old.city);
END;
CREATE TRIGGER teams_fts_update AFTER UPDATE ON teams BEGIN
    INSERT INTO teams_fts (teams_fts, rowid, name, display_name, abbreviation, city)
    VALUES ('delete', old.rowid, old.name, old.display_name, old.abbreviation, old.city);
    INSERT INTO teams_fts (rowid, name, display_name, abbreviation, city)
    VALUES (new.rowid, new.name, new.display_name, new.abbreviation, new.city);
END;

CREATE TABLE events (
    id             BLOB PRIMARY KEY NOT NULL,
    sport_id       BLOB NOT NULL REFERENCES sports (id) ON DELETE CASCADE,
    league_id      BLOB REFERENCES leagues (id) ON DELETE SET NULL,
    home_team_id   BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    away_team_id   BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    start_time     TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'live',
                       'halftime', 'finished', 'postponed', 'cancelled', 'suspended')),
    period         TEXT,
    clock          TEXT,
    home_score     INTEGER NOT NULL DEFAULT 0,
    away_score     INTEGER NOT NULL DEFAULT 0,
    venue          TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT events_different_teams CHECK (home_team_id <> away_team_id)
) STRICT;
CREATE INDEX idx_events_sport_start ON events (sport_id, start_time);
CREATE INDEX idx_events_league_start ON events (league_id, start_time);
CREATE INDEX idx_events_status ON events (status, start_time);

CREATE TABLE markets (
    id                BLOB PRIMARY KEY NOT NULL,
    event_id          BLOB NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    type              TEXT NOT NULL CHECK (type IN ('moneyline', 'point_spread',
                          'total_points', 'first_half', 'prop_bet', 'futures')),
    name              TEXT NOT NULL,
    description       TEXT,
    handicap          TEXT CHECK (handicap IS NULL OR typeof(handicap) = 'text'),
    total_points      TEXT CHECK (total_points IS NULL OR typeof(total_points) = 'text'),
    is_active         INTEGER NOT NULL DEFAULT 1,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'suspended',
                          'closed', 'settled', 'voided')),
    in_play           INTEGER NOT NULL DEFAULT 0,
    rules             TEXT NOT NULL DEFAULT '{}',
    settlement_rules  TEXT NOT NULL DEFAULT '{}',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    settled_at        TEXT
) STRICT;
-- The seed's UNIQUE(event_id, type, handicap, total_points), with NULLs equal.
CREATE UNIQUE INDEX markets_event_type_line_key ON markets
    (event_id, type, coalesce(handicap, ''), coalesce(total_points, ''));

CREATE TABLE selections (
    id           BLOB PRIMARY KEY NOT NULL,
    market_id    BLOB NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    short_name   TEXT,
    odds         TEXT NOT NULL CHECK (CAST(odds AS REAL) > 1),
    probability  TEXT CHECK (probability IS NULL OR CAST(probability AS REAL) BETWEEN 0 AND 1),
    is_active    INTEGER NOT NULL DEFAULT 1,
    metadata     TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX idx_selections_market ON selections (market_id);

-- Every odds change, with who made it and why. Never updated.
CREATE TABLE selection_prices (
    id            BLOB PRIMARY KEY NOT NULL,
    selection_id  BLOB NOT NULL REFERENCES selections (id) ON DELETE CASCADE,
    old_odds      TEXT,
    new_odds      TEXT NOT NULL,
    changed_by    BLOB,
    reason        TEXT,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX idx_selection_prices ON selection_prices (selection_id, created_at);
