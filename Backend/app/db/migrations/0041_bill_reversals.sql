-- A delivered bill the biller refunded (a KPLC token cancelled, airtime the network
-- reversed), reversed by an operator once (docs/bills.md, "Reversing a delivered
-- bill"): journal 'bill_reversal' (the rail's clearing account back to the wallet, the
-- fee too, less the bill's cashback, which goes back to the promotions account), the
-- bill's new state 'reversed' (from delivered only, for good) and its bill_reversals row.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment', 'bill_hold', 'bill_payment', 'bill_release',
                    'mpesa_order_payment', 'mpesa_owed_back', 'mpesa_order_returned',
                    'stellar_order_refund', 'stellar_order_refund_sent',
                    'stellar_order_refund_release', 'wage_hold', 'wage_payment',
                    'wage_release', 'promotions_funding', 'cashback', 'referral_bonus',
                    'bill_reversal'));

ALTER TABLE bill_payments DROP CONSTRAINT bill_payments_status_check;
ALTER TABLE bill_payments ADD CONSTRAINT bill_payments_status_check
    CHECK (status IN ('held', 'delivered', 'failed', 'unknown', 'reversed'));
-- A reversed bill keeps its ending (bill_payment) and when it ended.
ALTER TABLE bill_payments DROP CONSTRAINT bill_payments_check;
ALTER TABLE bill_payments DROP CONSTRAINT bill_payments_check1;
ALTER TABLE bill_payments ADD CONSTRAINT bill_payments_ended_check
    CHECK ((status IN ('delivered', 'failed', 'reversed')) = (ended_at IS NOT NULL));
ALTER TABLE bill_payments ADD CONSTRAINT bill_payments_outcome_check
    CHECK ((status IN ('delivered', 'failed', 'reversed')) = (outcome_id IS NOT NULL));

-- One per bill, ever: the biller's refund reference (one refund reverses one bill),
-- the operator's reason, the journal movement, and what it gave back.
CREATE TABLE bill_reversals (
    bill_payment_id   BIGINT      PRIMARY KEY REFERENCES bill_payments (id),
    transaction_id    BIGINT      NOT NULL UNIQUE REFERENCES journal_transactions (id),
    refund_reference  TEXT        NOT NULL UNIQUE
                      CHECK (refund_reference ~ '^[A-Za-z0-9][A-Za-z0-9./_-]{2,63}$'),
    reason            TEXT        NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    -- What the wallet got back (amount + fee - cashback) and the cashback returned to
    -- the promotions account (0: none earned, or already reversed on its own).
    refunded          BIGINT      NOT NULL CHECK (refunded >= 0),
    cashback_returned BIGINT      NOT NULL CHECK (cashback_returned >= 0),
    created_at        TIMESTAMPTZ NOT NULL
);

-- Steps now include delivered -> reversed: only the state changes, and only once the
-- bill's bill_reversals row is written. A failed or reversed bill stays so.
CREATE OR REPLACE FUNCTION bill_payments_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a bill payment is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'held' THEN
            RAISE EXCEPTION 'a bill payment is created held' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.reference, NEW.user_id, NEW.biller_id, NEW.account, NEW.amount, NEW.fee,
        NEW.channel, NEW.hold_id, NEW.hold_day, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.reference, OLD.user_id, OLD.biller_id, OLD.account, OLD.amount, OLD.fee,
        OLD.channel, OLD.hold_id, OLD.hold_day, OLD.created_at) THEN
        RAISE EXCEPTION 'a bill payment''s terms are never edited'
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status = 'delivered' AND NEW.status IN ('reversed') THEN
        IF (to_jsonb(NEW) - 'status') IS DISTINCT FROM (to_jsonb(OLD) - 'status') THEN
            RAISE EXCEPTION 'a bill payment''s reversal changes only its state'
                USING ERRCODE = 'check_violation';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM bill_reversals WHERE bill_payment_id = NEW.id) THEN
            RAISE EXCEPTION 'a bill payment is reversed only with its reversal'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status IN ('delivered', 'failed', 'reversed') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a bill payment that is % stays so', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.rail_request_id IS NOT NULL
       AND NEW.rail_request_id IS DISTINCT FROM OLD.rail_request_id THEN
        RAISE EXCEPTION 'a bill payment''s rail id is never edited'
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'held' AND NEW.status IN ('delivered', 'failed', 'unknown'))
        OR (OLD.status = 'unknown' AND NEW.status IN ('delivered', 'failed'))
    ) THEN
        RAISE EXCEPTION 'a bill payment cannot go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
