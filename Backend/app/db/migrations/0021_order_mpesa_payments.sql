-- Pay orders paid from M-Pesa (docs/merchants.md, docs/mpesa.md): a customer pays the
-- paybill with the order code as account number (C2B). Daraja's confirmation is stored
-- and M-Pesa is asked (transaction status by the TransID) before anything moves.

-- mpesa_order_payment: the M-Pesa float to the merchant's account, the merchant's fee
-- from it.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'mpesa_order_payment'));

ALTER TABLE inbound_callbacks DROP CONSTRAINT inbound_callbacks_kind_check;
ALTER TABLE inbound_callbacks ADD CONSTRAINT inbound_callbacks_kind_check
    CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result', 'status_timeout',
                    'sms_delivery', 'c2b_validation', 'c2b_confirmation'));

-- One row per M-Pesa payment toward an order (its TransID is unique: a confirmation
-- delivered again finds it). 'confirming' until M-Pesa's own answer to PayTrace's
-- status query: then 'paid' (the order with it, one transaction), 'not_found' (M-Pesa
-- has no such payment: nothing moved) or 'review' (M-Pesa's answer disagrees with the
-- confirmation, or the order can no longer take it: an operator acts, nothing is kept
-- silently).
CREATE TABLE mpesa_order_payments (
    id             BIGSERIAL   PRIMARY KEY,
    source         TEXT        NOT NULL CHECK (source IN ('c2b')),
    trans_id       TEXT        NOT NULL UNIQUE CHECK (length(trans_id) BETWEEN 1 AND 40),
    -- The account number the customer typed (an order code, or anything).
    bill_ref       TEXT        NOT NULL CHECK (length(bill_ref) <= 40),
    amount         BIGINT      NOT NULL CHECK (amount > 0),
    msisdn         TEXT        CHECK (length(msisdn) <= 64),
    payer_name     TEXT        CHECK (length(payer_name) <= 100),
    status         TEXT        NOT NULL DEFAULT 'confirming'
                   CHECK (status IN ('confirming', 'paid', 'not_found', 'review')),
    order_id       BIGINT      REFERENCES pay_orders (id),
    transaction_id BIGINT      UNIQUE REFERENCES journal_transactions (id),
    not_found      INTEGER     NOT NULL DEFAULT 0 CHECK (not_found >= 0),
    result_desc    TEXT        CHECK (length(result_desc) <= 300),
    received_at    TIMESTAMPTZ NOT NULL,
    next_check_at  TIMESTAMPTZ,
    settled_at     TIMESTAMPTZ,
    CHECK ((status = 'paid') = (transaction_id IS NOT NULL AND order_id IS NOT NULL)),
    CHECK ((status = 'confirming') = (settled_at IS NULL)),
    CHECK (status = 'confirming' OR next_check_at IS NULL)
);
CREATE INDEX mpesa_order_payments_due_idx ON mpesa_order_payments (next_check_at)
    WHERE status = 'confirming';
CREATE INDEX mpesa_order_payments_review_idx ON mpesa_order_payments (id)
    WHERE status = 'review';

-- A status query asks about a withdrawal or an order payment, never both.
ALTER TABLE mpesa_status_queries ALTER COLUMN withdrawal_id DROP NOT NULL;
ALTER TABLE mpesa_status_queries
    ADD COLUMN order_payment_id BIGINT REFERENCES mpesa_order_payments (id);
ALTER TABLE mpesa_status_queries ADD CONSTRAINT mpesa_status_queries_subject_check
    CHECK ((withdrawal_id IS NULL) <> (order_payment_id IS NULL));
CREATE INDEX mpesa_status_queries_order_payment_idx
    ON mpesa_status_queries (order_payment_id, id) WHERE order_payment_id IS NOT NULL;
