-- Paybill billers through Daraja's Business Pay Bill (B2B) - docs/bills.md.

-- The B2B request to a biller's paybill, sent once by the outbox (kind = the rail).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('sms', 'stellar', 'mpesa_stk', 'mpesa_b2c', 'at_airtime',
                    'mpesa_reversal', 'mpesa_order_stk', 'daraja_b2b'));

-- Its result and queue-timeout notices: stored, then only a reason to ask M-Pesa.
ALTER TABLE inbound_callbacks DROP CONSTRAINT inbound_callbacks_kind_check;
ALTER TABLE inbound_callbacks ADD CONSTRAINT inbound_callbacks_kind_check
    CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result', 'status_timeout',
                    'sms_delivery', 'airtime_status', 'c2b_validation', 'c2b_confirmation',
                    'reversal_result', 'reversal_timeout', 'order_stk', 'b2b_result',
                    'b2b_timeout'));

-- What the B2B rail keeps on a payment (none of it a term: the guard lets an open
-- payment's change, and an ended one's never):
-- * not_found_answers: status answers that found no such transaction (a request that
--   timed out in M-Pesa's queue); enough of them release it;
-- * token, units: KPLC prepaid's token and its units, as M-Pesa's status gave them.
ALTER TABLE bill_payments
    ADD COLUMN not_found_answers INTEGER NOT NULL DEFAULT 0 CHECK (not_found_answers >= 0),
    ADD COLUMN token TEXT CHECK (token ~ '^[0-9]{20}$'),
    ADD COLUMN units TEXT CHECK (units ~ '^[0-9]{1,7}(\.[0-9]{1,2})?$');

-- Every transaction status query PayTrace asked M-Pesa about a Paybill bill: only an
-- answer to one of these (matched by its ConversationID) may end the bill, and each
-- answer is read once.
CREATE TABLE bill_status_queries (
    conversation_id TEXT        PRIMARY KEY CHECK (length(conversation_id) BETWEEN 1 AND 100),
    bill_payment_id BIGINT      NOT NULL REFERENCES bill_payments (id),
    asked_at        TIMESTAMPTZ NOT NULL,
    answered_at     TIMESTAMPTZ
);
CREATE INDEX bill_status_queries_bill_idx ON bill_status_queries (bill_payment_id);
