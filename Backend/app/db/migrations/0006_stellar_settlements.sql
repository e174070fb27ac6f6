-- Settlement of ledger movements on Stellar. Every journal transaction that moves
-- money between on-chain parties gets a row here, written by the same statement
-- that posts it: this table is the settlement outbox. It is not the generic outbox
-- because settlement needs what a row-at-a-time queue cannot give: the journal's
-- order per party, and many movements batched into one Stellar transaction.
--
-- A party is where a ledger account's money lives on-chain: a wallet is its user's
-- Stellar account (the party is the wallet's ledger account id); every other
-- account that may not go below zero (the fee shards) is the treasury (party 0);
-- the float and suspense, which may go below zero, are the issuer, which mints and
-- burns and is never a party (it can always pay).
CREATE TABLE stellar_settlements (
    transaction_id BIGINT      PRIMARY KEY REFERENCES journal_transactions (id),
    status         TEXT        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'submitted', 'settled', 'failed')),
    -- Parties whose on-chain balance the movement spends, and every party it touches.
    -- A movement is submitted only once every earlier unsettled movement touching
    -- one of its payers has settled: on-chain balances follow the journal's order.
    payers         BIGINT[]    NOT NULL,
    parties        BIGINT[]    NOT NULL,
    -- 'incoming': credited from a payment that already happened on-chain (the watcher).
    origin         TEXT        NOT NULL DEFAULT 'paytrace'
                   CHECK (origin IN ('paytrace', 'incoming')),
    envelope_id    BIGINT      REFERENCES stellar_transactions (id),
    tx_hash        TEXT        CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    ledger         BIGINT,
    last_error     TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    settled_at     TIMESTAMPTZ,
    CHECK ((status = 'settled') = (settled_at IS NOT NULL)),
    CHECK (status <> 'submitted' OR envelope_id IS NOT NULL)
);
CREATE INDEX stellar_settlements_open_idx ON stellar_settlements (transaction_id)
    WHERE status <> 'settled';
CREATE INDEX stellar_settlements_envelope_idx ON stellar_settlements (envelope_id)
    WHERE envelope_id IS NOT NULL;

-- Settlement envelopes belong to no outbox row: their source is a channel account.
ALTER TABLE stellar_transactions ALTER COLUMN outbox_id DROP NOT NULL;
ALTER TABLE stellar_transactions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'activation'
    CHECK (purpose IN ('activation', 'settlement'));
ALTER TABLE stellar_transactions ADD CONSTRAINT stellar_transactions_owner
    CHECK ((purpose = 'activation') = (outbox_id IS NOT NULL));

-- KES that arrives on-chain from outside PayTrace (a payment into a user's account)
-- is credited from this clearing account, which may go below zero like the float:
-- on-chain it is the issuer's side of the books.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_non_negative;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_non_negative
    CHECK (balance >= 0 OR kind IN ('mpesa_float', 'suspense', 'stellar_clearing'));
CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense'),
           ('stellar_clearing', 'stellar_clearing')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

-- Where each watcher of the network stopped (Horizon paging tokens), so a restart
-- resumes instead of reading history again.
CREATE TABLE stellar_cursors (
    name       TEXT        PRIMARY KEY,
    cursor     TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every incoming payment the watcher saw, keyed by Horizon's operation id: credited
-- once, or kept with the reason it was not.
CREATE TABLE stellar_incoming (
    operation_id   TEXT        PRIMARY KEY,
    tx_hash        TEXT        NOT NULL CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    from_address   TEXT        NOT NULL,
    to_address     TEXT        NOT NULL,
    amount         BIGINT      NOT NULL CHECK (amount > 0),  -- cents
    transaction_id BIGINT      UNIQUE REFERENCES journal_transactions (id),
    outcome        TEXT        NOT NULL CHECK (outcome IN ('credited', 'ignored')),
    reason         TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((outcome = 'credited') = (transaction_id IS NOT NULL))
);

-- Reconciliation: each run compares every wallet's ledger balance with its on-chain
-- KES balance (and the treasury with the accounts it backs) and keeps its report.
CREATE TABLE reconciliation_reports (
    id           BIGSERIAL   PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    accounts     INTEGER     NOT NULL CHECK (accounts >= 0),
    drifts       INTEGER     NOT NULL CHECK (drifts >= 0),
    report       JSONB       NOT NULL
);
