-- A pay order paid from M-Pesa or Stellar is a payment to the merchant's till like one
-- paid from a wallet (docs/merchants.md): it gets its merchant_payments row, written in
-- the transaction that marks the order paid, so it is in GET /api/v1/merchant/payments
-- and has what a refund counts against. Its payer is no PayTrace user: the rail names
-- them instead - the M-Pesa receipt and the payer's phone MASKED (never a whole number:
-- the whole one stays with the M-Pesa payment's own row), or the Stellar transaction
-- and its sender's address.
ALTER TABLE merchant_payments ALTER COLUMN payer_user_id DROP NOT NULL;
ALTER TABLE merchant_payments DROP CONSTRAINT merchant_payments_channel_check;
ALTER TABLE merchant_payments ADD CONSTRAINT merchant_payments_channel_check
    CHECK (channel IN ('ussd', 'api', 'admin', 'system', 'mpesa', 'stellar'));
-- The M-Pesa receipt (TransID) or the Stellar transaction's hash.
ALTER TABLE merchant_payments ADD COLUMN rail_receipt TEXT;
-- The payer as the rail names them: the M-Pesa phone masked (NULL when M-Pesa gave no
-- whole number to mask), or the Stellar sender's address.
ALTER TABLE merchant_payments ADD COLUMN rail_payer TEXT;
-- The first name M-Pesa gave with the payment, if any.
ALTER TABLE merchant_payments ADD COLUMN rail_payer_name TEXT
    CHECK (length(rail_payer_name) BETWEEN 1 AND 100);
-- A wallet payer or a rail's payer, never both, tied to the channel; a Stellar payer is
-- an address, an M-Pesa one never five digits in a row (masked).
ALTER TABLE merchant_payments ADD CONSTRAINT merchant_payments_payer_check
    CHECK ((channel IN ('mpesa', 'stellar')) = (payer_user_id IS NULL)
           AND (channel IN ('mpesa', 'stellar')) = (rail_receipt IS NOT NULL)
           AND (channel = 'stellar') <= (rail_payer IS NOT NULL)
           AND (channel = 'stellar') <= (rail_payer ~ '^[GM][A-Z2-7]{55,68}$')
           AND (channel = 'mpesa') <= (rail_payer IS NULL OR rail_payer !~ '[0-9]{5}')
           AND (channel = 'mpesa' OR rail_payer_name IS NULL)
           AND (channel IN ('mpesa', 'stellar')) <= (order_id IS NOT NULL));
