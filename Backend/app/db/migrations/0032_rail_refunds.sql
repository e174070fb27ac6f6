-- Refunds of pay orders paid from M-Pesa or Stellar, back through the rail they came
-- by (docs/merchants.md, "Refunds through the rail"); and the deposits' receipts, which
-- a C2B confirmation is checked against (docs/mpesa.md).

-- A C2B confirmation carrying a deposit's receipt is refused: looked up by receipt.
CREATE INDEX mpesa_deposits_receipt_idx ON mpesa_deposits (receipt) WHERE receipt IS NOT NULL;

-- A refund of a pay order paid from a rail goes back through that rail: `pending`
-- from when it is asked (the merchant's account debited by its hold, in that
-- transaction) until the rail's answer, then `succeeded` or `failed`.
-- * withdrawal_id: through M-Pesa, a B2C withdrawal from the merchant's account (its
--   hold, B2C request, status queries and ending are the withdrawals' own);
-- * hold_transaction_id: the journal transaction that took the money from the
--   merchant's account when the refund was asked (a wallet's refund has none: it
--   succeeds in the transaction that asks for it).
ALTER TABLE merchant_refunds
    ADD COLUMN withdrawal_id BIGINT UNIQUE REFERENCES mpesa_withdrawals (id),
    ADD COLUMN hold_transaction_id BIGINT UNIQUE REFERENCES journal_transactions (id),
    ADD CONSTRAINT merchant_refunds_rail_check
        CHECK ((withdrawal_id IS NULL OR hold_transaction_id IS NOT NULL)
               AND (status <> 'pending' OR hold_transaction_id IS NOT NULL));
