-- Catalog entities retired by DELETE. The row itself stays (bets, prices and audit rows keep
-- referring to it, and the schema's cascades never run), but the catalog API answers 404 for
-- it from then on, as for anything deleted. One row per retired sport, league, team, market
-- or selection (ids are UUID v7, unique across tables).
CREATE TABLE catalog_retirements (
    id          BLOB PRIMARY KEY NOT NULL,
    table_name  TEXT NOT NULL
        CHECK (table_name IN ('sports', 'leagues', 'teams', 'markets', 'selections')),
    retired_at  TEXT NOT NULL
) STRICT;
