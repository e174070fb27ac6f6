-- Pay orders paid from any Stellar wallet (docs/merchants.md, "Paying a pay order on
-- Stellar"): KES to the treasury with the order's code as memo (or the order's id as
-- the mux id of the treasury's muxed address), taken by the incoming watcher.

-- stellar_order_payment: stellar_clearing to the merchant's account (already on-chain,
-- in the treasury), the merchant's fee from it to a fees shard.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment'));

-- order_paid: it paid the order (its journal transaction); owed_back: it named an order
-- but could not pay it (wrong amount, late, canceled, paid already, no such order): the
-- sender is owed it back, the reason says why, an operator pays it back.
ALTER TABLE stellar_incoming ADD COLUMN order_id BIGINT REFERENCES pay_orders (id);
ALTER TABLE stellar_incoming DROP CONSTRAINT stellar_incoming_outcome_check;
ALTER TABLE stellar_incoming ADD CONSTRAINT stellar_incoming_outcome_check
    CHECK (outcome IN ('credited', 'ignored', 'order_paid', 'owed_back'));
ALTER TABLE stellar_incoming DROP CONSTRAINT stellar_incoming_check;
ALTER TABLE stellar_incoming ADD CONSTRAINT stellar_incoming_check
    CHECK ((outcome IN ('credited', 'order_paid')) = (transaction_id IS NOT NULL));
ALTER TABLE stellar_incoming ADD CONSTRAINT stellar_incoming_order_check
    CHECK (outcome <> 'order_paid' OR order_id IS NOT NULL);
ALTER TABLE stellar_incoming ADD CONSTRAINT stellar_incoming_owed_reason_check
    CHECK (outcome <> 'owed_back' OR reason IS NOT NULL);
-- One Stellar payment pays an order at most (the order's trigger refuses a second
-- `paid` too); the operator's list of what is owed back is one index range.
CREATE UNIQUE INDEX stellar_incoming_order_paid_idx ON stellar_incoming (order_id)
    WHERE outcome = 'order_paid';
CREATE INDEX stellar_incoming_owed_back_idx ON stellar_incoming (created_at)
    WHERE outcome = 'owed_back';

-- What is owed back is sent back on-chain by the refunder (app/worker/stellar_refunds.py,
-- under the incoming watcher's lock): one payment from the treasury to the sender of
-- exactly what arrived. Its envelope is saved (signed) before it is submitted and the
-- same bytes are resent until the network answers; sent, or failed for an operator.
CREATE TABLE stellar_refunds (
    operation_id TEXT        PRIMARY KEY REFERENCES stellar_incoming (operation_id),
    to_address   TEXT        NOT NULL,
    stroops      BIGINT      NOT NULL CHECK (stroops > 0),
    status       TEXT        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'signed', 'sent', 'failed')),
    envelope_xdr TEXT,
    tx_hash      TEXT        UNIQUE CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    max_time     TIMESTAMPTZ,
    ledger       INTEGER,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT stellar_refunds_envelope_check
        CHECK ((status IN ('signed', 'sent')) <= (envelope_xdr IS NOT NULL AND tx_hash IS NOT NULL)),
    CONSTRAINT stellar_refunds_sent_check CHECK ((status = 'sent') = (ledger IS NOT NULL))
);
CREATE INDEX stellar_refunds_open_idx ON stellar_refunds (created_at)
    WHERE status IN ('pending', 'signed');
