-- Payouts of a merchant's balance to its M-Pesa (B2C), on request or daily
-- (docs/merchants.md). A payout IS a withdrawal whose source is the merchant's account
-- instead of a user's wallet: the same row in mpesa_withdrawals, the same hold, B2C
-- request, callbacks, status queries and checker, and the same journal kinds
-- ('withdrawal' the hold, 'withdrawal_payout', 'withdrawal_release'). merchant_payouts
-- only adds what the merchant API names it by and why it was made.

-- A withdrawal's money comes from a user's wallet or from a merchant's account.
ALTER TABLE mpesa_withdrawals ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE mpesa_withdrawals ADD COLUMN merchant_id BIGINT REFERENCES merchants (id);
ALTER TABLE mpesa_withdrawals ADD CONSTRAINT mpesa_withdrawals_owner_check
    CHECK (num_nonnulls(user_id, merchant_id) = 1);
-- A merchant's payout is asked through its API, by an operator, or by the daily run.
ALTER TABLE mpesa_withdrawals DROP CONSTRAINT mpesa_withdrawals_channel_check;
ALTER TABLE mpesa_withdrawals ADD CONSTRAINT mpesa_withdrawals_channel_check
    CHECK (channel IN ('ussd', 'api', 'admin', 'system'));
CREATE INDEX mpesa_withdrawals_merchant_idx ON mpesa_withdrawals (merchant_id, id)
    WHERE merchant_id IS NOT NULL;

CREATE TABLE merchant_payouts (
    id            BIGSERIAL   PRIMARY KEY,
    public_id     TEXT        NOT NULL UNIQUE CHECK (public_id ~ '^po_[0-9a-f]{24}$'),
    merchant_id   BIGINT      NOT NULL REFERENCES merchants (id),
    -- Its hold, B2C payment and ending; the payout's status is the withdrawal's.
    withdrawal_id BIGINT      NOT NULL UNIQUE REFERENCES mpesa_withdrawals (id),
    -- request: the merchant API; admin: an operator; daily: the worker's daily run.
    origin        TEXT        NOT NULL CHECK (origin IN ('request', 'admin', 'daily')),
    -- The East Africa day a daily payout is for: one per merchant per day, whatever
    -- restarts or how many workers run it.
    payout_day    DATE,
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK ((origin = 'daily') = (payout_day IS NOT NULL))
);
CREATE INDEX merchant_payouts_merchant_idx ON merchant_payouts (merchant_id, id);
CREATE UNIQUE INDEX merchant_payouts_daily_idx ON merchant_payouts (merchant_id, payout_day)
    WHERE payout_day IS NOT NULL;
