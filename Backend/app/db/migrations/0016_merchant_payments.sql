-- Paying a merchant's till (docs/merchants.md): a journal kind of its own and one row
-- per payment, so that "payments to this merchant" is one index range, not a scan of
-- the merchant account's legs joined to their transactions.

-- merchant_payment: a wallet to a merchant's account, the merchant's fee from its
-- account to a fees shard, one journal transaction.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment'));

-- The language of a merchant's SMS (the notice of each payment to its till). English
-- unless the operator who onboards it says otherwise.
ALTER TABLE merchants ADD COLUMN language TEXT NOT NULL DEFAULT 'en'
    CHECK (language IN ('en', 'sw'));

-- One row per payment to a merchant, written in the payment's own transaction. The
-- journal stays the book of record (amounts are copied here as the payer was charged
-- and the merchant's fee as it was taken, never edited). A pay order, when built,
-- adds its column here.
CREATE TABLE merchant_payments (
    transaction_id BIGINT      PRIMARY KEY REFERENCES journal_transactions (id),
    merchant_id    BIGINT      NOT NULL REFERENCES merchants (id),
    payer_user_id  BIGINT      NOT NULL REFERENCES users (id),
    amount         BIGINT      NOT NULL CHECK (amount > 0),
    -- The merchant's fee, taken from the merchant's account (the payer pays none).
    fee            BIGINT      NOT NULL CHECK (fee >= 0 AND fee <= amount),
    channel        TEXT        NOT NULL CHECK (channel IN ('ussd', 'api', 'admin', 'system')),
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX merchant_payments_merchant_idx ON merchant_payments (merchant_id, transaction_id);
CREATE INDEX merchant_payments_payer_idx ON merchant_payments (payer_user_id, transaction_id);
