-- An operator's resolution of a stuck bill (unknown, or held with no rail id): its
-- one ending, delivered on the rail's own evidence (M-Pesa's receipt as M-Pesa's
-- statement reads it, AT's transaction as AT's status query answers it) or failed
-- where the rail provably has no payment. One per bill, ever; one receipt ends one bill.

CREATE TABLE bill_resolutions (
    bill_payment_id BIGINT      PRIMARY KEY REFERENCES bill_payments (id),
    outcome         TEXT        NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    -- delivered: the rail's id of the payment (M-Pesa's receipt, AT's transactionId).
    receipt         TEXT        CHECK (receipt ~ '^[A-Za-z0-9_-]{3,64}$'),
    -- why the rail is taken at its word: 'mpesa_statement', 'at_status',
    -- 'outbox_gave_up' (the request never reached the rail), 'statement_clear'.
    grounds         TEXT        NOT NULL CHECK (grounds IN ('mpesa_statement', 'at_status',
                                                            'outbox_gave_up',
                                                            'statement_clear')),
    reason          TEXT        NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    transaction_id  BIGINT      NOT NULL UNIQUE REFERENCES journal_transactions (id),
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK ((outcome = 'delivered') = (receipt IS NOT NULL))
);
CREATE UNIQUE INDEX bill_resolutions_receipt_key ON bill_resolutions (receipt)
    WHERE receipt IS NOT NULL;
-- A resolution asks whether a receipt already ended another bill.
CREATE INDEX bill_payments_receipt_idx ON bill_payments (receipt) WHERE receipt IS NOT NULL;
