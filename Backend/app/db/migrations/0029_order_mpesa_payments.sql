-- Pay orders paid from M-Pesa (docs/merchants.md, docs/mpesa.md): a customer pays the
-- paybill with the order code as account number (C2B). Numbered after the migrations it
-- landed beside, whose kind lists it keeps (0022, 0024). Daraja's confirmation is stored
-- and M-Pesa is asked (transaction status by the TransID) before anything moves. A
-- payment the order can no longer take is owed back and returned (Transaction Reversal).

-- mpesa_order_payment: the M-Pesa float to the merchant's account, the merchant's fee
-- from it. mpesa_owed_back: the float to 'mpesa_owed_back' (a payment PayTrace must
-- return); mpesa_order_returned: back to the float once M-Pesa confirms the reversal.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment', 'bill_hold', 'bill_payment', 'bill_release',
                    'mpesa_order_payment', 'mpesa_owed_back', 'mpesa_order_returned'));

ALTER TABLE inbound_callbacks DROP CONSTRAINT inbound_callbacks_kind_check;
ALTER TABLE inbound_callbacks ADD CONSTRAINT inbound_callbacks_kind_check
    CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result', 'status_timeout',
                    'sms_delivery', 'airtime_status', 'c2b_validation', 'c2b_confirmation',
                    'reversal_result', 'reversal_timeout', 'order_stk'));

-- A reversal request to M-Pesa, and an STK push for a pay order: each made at most once.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('sms', 'stellar', 'mpesa_stk', 'mpesa_b2c', 'at_airtime',
                    'mpesa_reversal', 'mpesa_order_stk'));

-- Payments owed back to M-Pesa payers, held like a withdrawal until M-Pesa's answer
-- (kind mpesa_hold: never below zero).
CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'mpesa_hold', 'mpesa_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'bill_hold', 'bill_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense'),
           ('stellar_clearing', 'stellar_clearing'),
           ('bill_clearing', 'bill_clearing:at_airtime'),
           ('bill_clearing', 'bill_clearing:daraja_b2b'),
           ('mpesa_hold', 'mpesa_owed_back')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

-- An STK push a merchant asked for, to have an order paid from the customer's phone:
-- requested (queued), pending (M-Pesa prompted the phone), answered (its callback said
-- paid: the payment is recorded in mpesa_order_payments and checked like a paybill
-- payment), failed (not paid, or the push refused) or unknown (its answer was lost).
-- A pending push whose callback does not come is asked about (STK query) from
-- next_check_at.
CREATE TABLE mpesa_order_pushes (
    id                  BIGSERIAL   PRIMARY KEY,
    order_id            BIGINT      NOT NULL REFERENCES pay_orders (id),
    phone               TEXT        NOT NULL CHECK (phone ~ '^\+254[17][0-9]{8}$'),
    amount              BIGINT      NOT NULL CHECK (amount > 0),
    status              TEXT        NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'pending', 'answered', 'failed',
                                          'unknown')),
    checkout_request_id TEXT        UNIQUE CHECK (length(checkout_request_id) <= 100),
    result_code         TEXT        CHECK (length(result_code) <= 20),
    result_desc         TEXT        CHECK (length(result_desc) <= 300),
    created_at          TIMESTAMPTZ NOT NULL,
    next_check_at       TIMESTAMPTZ
);
CREATE INDEX mpesa_order_pushes_order_idx ON mpesa_order_pushes (order_id, id);
CREATE INDEX mpesa_order_pushes_due_idx ON mpesa_order_pushes (next_check_at)
    WHERE status = 'pending';

-- One row per M-Pesa payment toward an order (its TransID is unique: a confirmation
-- delivered again finds it). 'confirming' until M-Pesa's own answer to PayTrace's
-- status query: then 'paid' (the order with it, one transaction), 'not_found' (M-Pesa
-- has no such payment: nothing moved), 'returning' (the order could not take it: owed
-- back in the ledger, reversed with M-Pesa) then 'returned' once M-Pesa confirms the
-- reversal, or 'review' (M-Pesa's answer disagrees with the confirmation, or the
-- reversal failed: an operator acts; nothing is kept silently).
CREATE TABLE mpesa_order_payments (
    id             BIGSERIAL   PRIMARY KEY,
    -- c2b: the paybill from the M-Pesa menu; stk: a push the merchant asked for.
    source         TEXT        NOT NULL CHECK (source IN ('c2b', 'stk')),
    trans_id       TEXT        NOT NULL UNIQUE CHECK (length(trans_id) BETWEEN 1 AND 40),
    -- The account number the customer typed (an order code, or anything).
    bill_ref       TEXT        NOT NULL CHECK (length(bill_ref) <= 40),
    amount         BIGINT      NOT NULL CHECK (amount > 0),
    msisdn         TEXT        CHECK (length(msisdn) <= 64),
    payer_name     TEXT        CHECK (length(payer_name) <= 100),
    status         TEXT        NOT NULL DEFAULT 'confirming'
                   CHECK (status IN ('confirming', 'paid', 'not_found', 'returning',
                                     'returned', 'review')),
    order_id       BIGINT      REFERENCES pay_orders (id),
    transaction_id BIGINT      UNIQUE REFERENCES journal_transactions (id),
    not_found      INTEGER     NOT NULL DEFAULT 0 CHECK (not_found >= 0),
    result_desc    TEXT        CHECK (length(result_desc) <= 300),
    received_at    TIMESTAMPTZ NOT NULL,
    next_check_at  TIMESTAMPTZ,
    settled_at     TIMESTAMPTZ,
    -- Owed back (mpesa_owed_back) and returned (mpesa_order_returned), and the reversal
    -- M-Pesa took (its ids are the gateway's: a status query finds it by the second).
    owed_transaction_id      BIGINT UNIQUE REFERENCES journal_transactions (id),
    returned_transaction_id  BIGINT UNIQUE REFERENCES journal_transactions (id),
    reversal_conversation_id TEXT   CHECK (length(reversal_conversation_id) <= 100),
    reversal_originator_id   TEXT   UNIQUE CHECK (length(reversal_originator_id) <= 100),
    CHECK ((status = 'paid') = (transaction_id IS NOT NULL AND order_id IS NOT NULL)),
    CHECK ((status = 'confirming') = (settled_at IS NULL)),
    CHECK (status IN ('confirming', 'returning') OR next_check_at IS NULL),
    CHECK (status NOT IN ('returning', 'returned') OR owed_transaction_id IS NOT NULL),
    CHECK ((status = 'returned') = (returned_transaction_id IS NOT NULL))
);
CREATE INDEX mpesa_order_payments_due_idx ON mpesa_order_payments (next_check_at)
    WHERE status IN ('confirming', 'returning');
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
