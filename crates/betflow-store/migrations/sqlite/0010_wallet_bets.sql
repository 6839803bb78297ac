-- The SQLite twin of migrations/postgres/0010.
-- Wallets, the double-entry ledger, deposits and withdrawals, bets (seed 002), idempotency
-- keys and responsible-gambling settings. Money is INTEGER minor units (cents) with a currency.

-- The projection of customer accounts (cash, bonus, pending), updated in the transaction of
-- every transfer. House accounts (clearing, stakes, payouts, fees) have no row: every bet and
-- settlement would queue on one hot row, so their balances are summed from the transfers when
-- the ledger is reconciled.
CREATE TABLE ledger_accounts (
    owner_id    BLOB NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind        TEXT NOT NULL CHECK (kind IN ('cash', 'bonus', 'pending')),
    currency    TEXT NOT NULL,
    balance     INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (owner_id, kind, currency),
    CONSTRAINT ledger_accounts_non_negative CHECK (balance >= 0)
) STRICT;

-- Immutable: one positive amount from one account to another in one currency.
CREATE TABLE ledger_transfers (
    id              BLOB PRIMARY KEY NOT NULL,
    from_owner      BLOB NOT NULL,
    from_kind       TEXT NOT NULL,
    to_owner        BLOB NOT NULL,
    to_kind         TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    kind            TEXT NOT NULL,
    transaction_id  BLOB,
    bet_id          BLOB,
    created_at      TEXT NOT NULL,
    CHECK (from_owner <> to_owner OR from_kind <> to_kind)
) STRICT;
CREATE INDEX idx_ledger_transfers_from ON ledger_transfers (from_owner, created_at);
CREATE INDEX idx_ledger_transfers_to ON ledger_transfers (to_owner, created_at);

-- The seed's user_balances, as a view over the projection.
CREATE VIEW user_balances AS
SELECT owner_id AS user_id,
       currency AS currency_code,
       SUM(CASE WHEN kind = 'cash' THEN balance ELSE 0 END) AS balance,
       SUM(CASE WHEN kind = 'bonus' THEN balance ELSE 0 END) AS bonus_balance,
       SUM(CASE WHEN kind = 'pending' THEN balance ELSE 0 END) AS pending_balance,
       MAX(updated_at) AS last_updated
FROM ledger_accounts
GROUP BY owner_id, currency;

CREATE TABLE payment_methods (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type          TEXT NOT NULL CHECK (type IN ('credit_card', 'debit_card', 'bank_transfer',
                      'e_wallet', 'cryptocurrency')),
    name          TEXT NOT NULL,
    details       TEXT NOT NULL,
    is_default    INTEGER NOT NULL DEFAULT 0,
    is_active     INTEGER NOT NULL DEFAULT 1,
    last_used_at  TEXT,
    expires_at    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX idx_payment_methods_user ON payment_methods (user_id);

CREATE TABLE bets (
    id             BLOB PRIMARY KEY NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    type           TEXT NOT NULL CHECK (type IN ('single', 'parlay', 'system')),
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted',
                       'rejected', 'settled_win', 'settled_loss', 'settled_push', 'cancelled',
                       'voided')),
    stake          INTEGER NOT NULL CHECK (stake > 0),
    total_odds     TEXT NOT NULL CHECK (CAST(total_odds AS REAL) > 0),
    potential_win  INTEGER NOT NULL CHECK (potential_win > 0),
    actual_win     INTEGER NOT NULL DEFAULT 0 CHECK (actual_win >= 0),
    currency_code  TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    settled_at     TEXT,
    void_reason    TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX idx_bets_user_placed ON bets (user_id, placed_at DESC);
CREATE INDEX idx_bets_placed ON bets (placed_at DESC);

CREATE TABLE bet_selections (
    id            BLOB PRIMARY KEY NOT NULL,
    bet_id        BLOB NOT NULL REFERENCES bets (id) ON DELETE CASCADE,
    selection_id  BLOB NOT NULL REFERENCES selections (id) ON DELETE RESTRICT,
    market_id     BLOB NOT NULL,
    event_id      BLOB NOT NULL,
    position      INTEGER NOT NULL,
    odds          TEXT NOT NULL CHECK (CAST(odds AS REAL) > 1),
    result        TEXT CHECK (result IN ('win', 'loss', 'push', 'void')),
    settled_at    TEXT,
    UNIQUE (bet_id, selection_id)
) STRICT;
CREATE INDEX idx_bet_selections_market ON bet_selections (market_id);
CREATE INDEX idx_bet_selections_selection ON bet_selections (selection_id);

-- The seed's transactions: deposits and withdrawals with their provider status, and each
-- bet's debit and credit.
CREATE TABLE transactions (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    type                TEXT NOT NULL CHECK (type IN ('deposit', 'withdrawal', 'bet_debit',
                            'bet_credit', 'bonus', 'adjustment', 'fee', 'refund')),
    amount              INTEGER NOT NULL CHECK (amount <> 0),
    currency_code       TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending',
                            'processing', 'completed', 'failed', 'cancelled', 'reversed')),
    reference           TEXT NOT NULL UNIQUE,
    external_reference  TEXT,
    description         TEXT,
    payment_method_id   BLOB REFERENCES payment_methods (id) ON DELETE SET NULL,
    related_bet_id      BLOB REFERENCES bets (id),
    processor_response  TEXT,
    fees                INTEGER NOT NULL DEFAULT 0 CHECK (fees >= 0),
    net_amount          INTEGER GENERATED ALWAYS AS (amount - fees) STORED,
    processed_at        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;
CREATE INDEX idx_transactions_user_created ON transactions (user_id, created_at DESC);

-- Idempotency-Key: the first response to a key is kept and replayed; a key in flight is
-- claimed (response NULL) until its request commits or its claim goes stale.
CREATE TABLE idempotency_keys (
    user_id       BLOB NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER,
    response      TEXT,
    created_at    TEXT NOT NULL,
    locked_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;
CREATE INDEX idx_idempotency_created ON idempotency_keys (created_at);

-- Limits and breaks a customer chose (domain: sportsbook::limits).
CREATE TABLE responsible_gambling (
    user_id     BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    limits      TEXT NOT NULL DEFAULT '[]',
    exclusion   TEXT,
    updated_at  TEXT NOT NULL
) STRICT;

-- A settled market's results (selection id to win/loss/push/void), so a repeated settlement
-- is recognised even when no bet has a leg on the market.
CREATE TABLE market_results (
    market_id   BLOB PRIMARY KEY NOT NULL REFERENCES markets (id) ON DELETE CASCADE,
    results     TEXT NOT NULL,
    settled_at  TEXT NOT NULL
) STRICT;
