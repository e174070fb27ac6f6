-- Refunds of payments to a merchant's till (docs/merchants.md): objects of their own,
-- full or partial, never more than was paid, each its own journal transaction.

-- merchant_refund: the merchant's account back to the payer's wallet.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund'));

-- What has been refunded of a payment, written by each refund's transaction under the
-- merchant account's lock: the database refuses refunding more than was paid.
ALTER TABLE merchant_payments ADD COLUMN refunded_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE merchant_payments ADD CONSTRAINT merchant_payments_refunded_check
    CHECK (refunded_amount BETWEEN 0 AND amount);

-- A refund from a wallet-paid payment succeeds in the transaction that asks for it; the
-- states pending and failed are for refunds that must go out through a rail (a payment
-- made from M-Pesa), which are not built yet.
CREATE TABLE merchant_refunds (
    id                     BIGSERIAL   PRIMARY KEY,
    public_id              TEXT        NOT NULL UNIQUE CHECK (public_id ~ '^re_[0-9a-f]{24}$'),
    merchant_id            BIGINT      NOT NULL REFERENCES merchants (id),
    payment_transaction_id BIGINT      NOT NULL REFERENCES merchant_payments (transaction_id),
    amount                 BIGINT      NOT NULL CHECK (amount > 0),
    reason                 TEXT        CHECK (length(reason) BETWEEN 1 AND 100),
    status                 TEXT        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    refund_transaction_id  BIGINT      UNIQUE REFERENCES journal_transactions (id),
    failure_reason         TEXT        CHECK (length(failure_reason) BETWEEN 1 AND 200),
    created_at             TIMESTAMPTZ NOT NULL,
    succeeded_at           TIMESTAMPTZ,
    failed_at              TIMESTAMPTZ,
    CHECK ((status = 'succeeded')
           = (succeeded_at IS NOT NULL AND refund_transaction_id IS NOT NULL)),
    CHECK ((status = 'failed') = (failed_at IS NOT NULL AND failure_reason IS NOT NULL))
);
CREATE INDEX merchant_refunds_merchant_idx ON merchant_refunds (merchant_id, id);
CREATE INDEX merchant_refunds_payment_idx ON merchant_refunds (payment_transaction_id);
