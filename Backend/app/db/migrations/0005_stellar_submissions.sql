-- Stellar custody: the outbox learns the 'stellar' kind, and every envelope PayTrace
-- signs is kept (before it is submitted) so that a retry sends the very same bytes.

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('sms', 'stellar'));

-- One row per signed envelope. An outbox row has at most one live ('signed')
-- envelope; a new one is built only once the old one is 'dead': rejected for its
-- sequence number, or past its time bound with its hash confirmed absent.
CREATE TABLE stellar_transactions (
    id            BIGSERIAL PRIMARY KEY,
    outbox_id     BIGINT      NOT NULL REFERENCES outbox (id),
    -- The account whose sequence number the envelope uses.
    source        TEXT        NOT NULL CHECK (source ~ '^G[A-Z2-7]{55}$'),
    sequence      BIGINT      NOT NULL,
    tx_hash       TEXT        NOT NULL UNIQUE CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    envelope_xdr  TEXT        NOT NULL,
    -- The envelope's upper time bound: past it, the network can never apply it.
    max_time      TIMESTAMPTZ NOT NULL,
    status        TEXT        NOT NULL DEFAULT 'signed'
                  CHECK (status IN ('signed', 'applied', 'failed', 'dead')),
    ledger        BIGINT,
    result_codes  JSONB,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'applied') = (ledger IS NOT NULL))
);
CREATE UNIQUE INDEX stellar_transactions_live_idx ON stellar_transactions (outbox_id)
    WHERE status IN ('signed', 'applied');
