-- Wallets, the double-entry ledger, deposits and withdrawals, bets (seed 002), idempotency
-- keys and responsible-gambling settings. Money is BIGINT minor units (cents) with a currency.

-- The projection of customer accounts (cash, bonus, pending), updated in the transaction of
-- every transfer. House accounts (clearing, stakes, payouts, fees) have no row: every bet and
-- settlement would queue on one hot row, so their balances are summed from the transfers when
-- the ledger is reconciled.
CREATE TABLE ledger_accounts (
    owner_id    UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind        TEXT NOT NULL CHECK (kind IN ('cash', 'bonus', 'pending')),
    currency    CHAR(3) NOT NULL,
    balance     BIGINT NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_id, kind, currency),
    CONSTRAINT ledger_accounts_non_negative CHECK (balance >= 0)
);

-- Immutable: one positive amount from one account to another in one currency.
CREATE TABLE ledger_transfers (
    id              UUID PRIMARY KEY,
    from_owner      UUID NOT NULL,
    from_kind       TEXT NOT NULL,
    to_owner        UUID NOT NULL,
    to_kind         TEXT NOT NULL,
    currency        CHAR(3) NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    kind            TEXT NOT NULL,
    transaction_id  UUID,
    bet_id          UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK (from_owner <> to_owner OR from_kind <> to_kind)
);
CREATE INDEX idx_ledger_transfers_from ON ledger_transfers (from_owner, created_at);
CREATE INDEX idx_ledger_transfers_to ON ledger_transfers (to_owner, created_at);

-- The seed's user_balances, as a view over the projection.
CREATE VIEW user_balances AS
SELECT owner_id AS user_id,
       currency AS currency_code,
       SUM(CASE WHEN kind = 'cash' THEN balance ELSE 0 END)::BIGINT AS balance,
       SUM(CASE WHEN kind = 'bonus' THEN balance ELSE 0 END)::BIGINT AS bonus_balance,
       SUM(CASE WHEN kind = 'pending' THEN balance ELSE 0 END)::BIGINT AS pending_balance,
       MAX(updated_at) AS last_updated
FROM ledger_accounts
GROUP BY owner_id, currency;

CREATE TABLE payment_methods (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type          TEXT NOT NULL CHECK (type IN ('credit_card', 'debit_card', 'bank_transfer',
                      'e_wallet', 'cryptocurrency')),
    name          VARCHAR(100) NOT NULL,
    details       JSONB NOT NULL,
    is_default    BOOLEAN NOT NULL DEFAULT FALSE,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    last_used_at  TIMESTAMPTZ,
    expires_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_payment_methods_user ON payment_methods (user_id);

CREATE TABLE bets (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    type           TEXT NOT NULL CHECK (type IN ('single', 'parlay', 'system')),
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted',
                       'rejected', 'settled_win', 'settled_loss', 'settled_push', 'cancelled',
                       'voided')),
    stake          BIGINT NOT NULL CHECK (stake > 0),
    total_odds     VARCHAR(32) NOT NULL CHECK (total_odds::numeric > 0),
    potential_win  BIGINT NOT NULL CHECK (potential_win > 0),
    actual_win     BIGINT NOT NULL DEFAULT 0 CHECK (actual_win >= 0),
    currency_code  CHAR(3) NOT NULL,
    placed_at      TIMESTAMPTZ NOT NULL,
    settled_at     TIMESTAMPTZ,
    void_reason    TEXT,
    metadata       JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_bets_user_placed ON bets (user_id, placed_at DESC);
CREATE INDEX idx_bets_placed ON bets (placed_at DESC);

CREATE TABLE bet_selections (
    id            UUID PRIMARY KEY,
    bet_id        UUID NOT NULL REFERENCES bets (id) ON DELETE CASCADE,
    selection_id  UUID NOT NULL REFERENCES selections (id) ON DELETE RESTRICT,
    market_id     UUID NOT NULL,
    event_id      UUID NOT NULL,
    position      SMALLINT NOT NULL,
    odds          VARCHAR(20) NOT NULL CHECK (odds::numeric > 1),
    result        TEXT CHECK (result IN ('win', 'loss', 'push', 'void')),
    settled_at    TIMESTAMPTZ,
    UNIQUE (bet_id, selection_id)
);
CREATE INDEX idx_bet_selections_market ON bet_selections (market_id);
CREATE INDEX idx_bet_selections_selection ON bet_selections (selection_id);

-- The seed's transactions: deposits and withdrawals with their provider status, and each
-- bet's debit and credit.
CREATE TABLE transactions (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    type                TEXT NOT NULL CHECK (type IN ('deposit', 'withdrawal', 'bet_debit',
                            'bet_credit', 'bonus', 'adjustment', 'fee', 'refund')),
    amount              BIGINT NOT NULL CHECK (amount <> 0),
    currency_code       CHAR(3) NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending',
                            'processing', 'completed', 'failed', 'cancelled', 'reversed')),
    reference           VARCHAR(100) NOT NULL UNIQUE,
    external_reference  VARCHAR(100),
    description         TEXT,
    payment_method_id   UUID REFERENCES payment_methods (id) ON DELETE SET NULL,
    related_bet_id      UUID REFERENCES bets (id),
    processor_response  JSONB,
    fees                BIGINT NOT NULL DEFAULT 0 CHECK (fees >= 0),
    net_amount          BIGINT GENERATED ALWAYS AS (amount - fees) STORED,
    processed_at        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_transactions_user_created ON transactions (user_id, created_at DESC);

-- Idempotency-Key: the first response to a key is kept and replayed; a key in flight is
-- claimed (response NULL) until its request commits or its claim goes stale.
CREATE TABLE idempotency_keys (
    user_id       UUID NOT NULL,
    key           VARCHAR(255) NOT NULL,
    request_hash  VARCHAR(64) NOT NULL,
    status_code   INTEGER,
    response      JSONB,
    created_at    TIMESTAMPTZ NOT NULL,
    locked_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idx_idempotency_created ON idempotency_keys (created_at);

-- Limits and breaks a customer chose (domain: sportsbook::limits).
CREATE TABLE responsible_gambling (
    user_id     UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    limits      JSONB NOT NULL DEFAULT '[]',
    exclusion   JSONB,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- A settled market's results (selection id to win/loss/push/void), so a repeated settlement
-- is recognised even when no bet has a leg on the market.
CREATE TABLE market_results (
    market_id   UUID PRIMARY KEY REFERENCES markets (id) ON DELETE CASCADE,
    results     JSONB NOT NULL,
    settled_at  TIMESTAMPTZ NOT NULL
);
