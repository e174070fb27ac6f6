-- Two leftovers of the merchants' issue (docs/merchants.md, docs/mpesa.md).
--
-- A merchant paid out daily may keep a minimum in its account: the daily payout pays
-- what is available above payout_keep_cents (its fee included), and only when that is
-- at least payout_threshold_cents (0: any amount M-Pesa can pay). Cents, never below
-- zero; KES 10 bn at most, far above any till and far below BIGINT.
ALTER TABLE merchants
    ADD COLUMN payout_keep_cents BIGINT NOT NULL DEFAULT 0
        CONSTRAINT merchants_payout_keep_cents_check
        CHECK (payout_keep_cents BETWEEN 0 AND 1000000000000),
    ADD COLUMN payout_threshold_cents BIGINT NOT NULL DEFAULT 0
        CONSTRAINT merchants_payout_threshold_cents_check
        CHECK (payout_threshold_cents BETWEEN 0 AND 1000000000000);

-- M-Pesa reconciliation matches every rail movement now, not only deposits and
-- withdrawals: each item says which PayTrace record it is about, and a receipt M-Pesa
-- lists twice (or two PayTrace records claiming one M-Pesa transaction) is a
-- 'duplicate'.
ALTER TABLE mpesa_reconciliation_items DROP CONSTRAINT mpesa_reconciliation_items_kind_check;
ALTER TABLE mpesa_reconciliation_items ADD CONSTRAINT mpesa_reconciliation_items_kind_check
    CHECK (kind IN ('missing_at_mpesa', 'missing_at_paytrace', 'amount_mismatch',
                    'state_mismatch', 'duplicate'));
-- NULL: missing at PayTrace (no record), and every item stored before this migration
-- (they were deposits and withdrawals).
ALTER TABLE mpesa_reconciliation_items
    ADD COLUMN record TEXT CONSTRAINT mpesa_reconciliation_items_record_check
        CHECK (record IN ('deposit', 'withdrawal', 'merchant_payout', 'order_refund',
                          'order_payment', 'order_reversal', 'bill_payment'));

-- A day's paybill payments of pay orders and its B2B bills, read by time.
CREATE INDEX mpesa_order_payments_received_idx ON mpesa_order_payments (received_at);
CREATE INDEX bill_payments_created_idx ON bill_payments (created_at);
