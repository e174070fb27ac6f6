-- Merchants: the businesses PayTrace users pay (a till number typed on a keypad), their
-- API keys, and a ledger account of their own for the money they take.
--
-- This is the first slice (docs/merchants.md): onboarding, keys and signed requests.
-- No movement touches a merchant account yet; pay orders, refunds, webhooks, payouts
-- and the settlement of merchant accounts on Stellar come later.

-- 'merchant': what PayTrace owes a merchant, never below zero (like a wallet).
-- These CHECK constraints list every kind, those of the earlier migrations included.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign', 'mpesa_hold', 'merchant'));

CREATE TABLE merchants (
    id              BIGSERIAL   PRIMARY KEY,
    legal_name      TEXT        NOT NULL CHECK (length(legal_name) BETWEEN 2 AND 100),
    -- The name a payer sees on a USSD screen: short, and GSM-7 (checked in
    -- app/domain/merchants.py: SQL has no GSM-7 class).
    display_name    TEXT        NOT NULL CHECK (length(display_name) BETWEEN 2 AND 20),
    -- Typed on a keypad to pay: 5 to 7 digits, never a leading zero (a zero that a
    -- payer or a spreadsheet drops would name another till).
    till_number     TEXT        NOT NULL UNIQUE CHECK (till_number ~ '^[1-9][0-9]{4,6}$'),
    contact_phone   TEXT        NOT NULL CHECK (contact_phone ~ '^\+[1-9][0-9]{6,14}$'),
    -- The M-Pesa number payouts go to (B2C): not used before payouts are built.
    payout_phone    TEXT        NOT NULL CHECK (payout_phone ~ '^\+[1-9][0-9]{6,14}$'),
    payout_schedule TEXT        NOT NULL DEFAULT 'on_request'
                    CHECK (payout_schedule IN ('on_request', 'daily')),
    -- The merchant's fee per payment, charged to the merchant: fee_bps of the amount
    -- (basis points: 100 = 1 %), at least fee_min_cents, at most fee_max_cents.
    fee_bps         INTEGER     NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
    fee_min_cents   BIGINT      NOT NULL CHECK (fee_min_cents >= 0),
    fee_max_cents   BIGINT      NOT NULL CHECK (fee_max_cents >= fee_min_cents),
    status          TEXT        NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'suspended')),
    -- The merchant's money: its balance is what PayTrace owes it.
    account_id      BIGINT      NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    -- The onboarding request, so that a retried onboarding finds its merchant.
    request_hash    TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A merchant's API keys. The secret signs requests (HMAC-SHA256), so PayTrace needs it
-- back: it is stored encrypted (a Fernet token under WALLET_ENCRYPTION_KEYS, as wallet
-- seeds are), never hashed, never in the clear.
CREATE TABLE merchant_api_keys (
    id           BIGSERIAL   PRIMARY KEY,
    key_id       TEXT        NOT NULL UNIQUE CHECK (key_id ~ '^mk_live_[0-9a-f]{24}$'),
    merchant_id  BIGINT      NOT NULL REFERENCES merchants (id),
    secret_ct    TEXT        NOT NULL CHECK (length(secret_ct) BETWEEN 1 AND 500),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at   TIMESTAMPTZ,
    -- Updated at most once a minute per key (app/services/merchant_keys.py).
    last_used_at TIMESTAMPTZ
);
CREATE INDEX merchant_api_keys_live_idx ON merchant_api_keys (merchant_id)
    WHERE revoked_at IS NULL;

-- Two live keys at most (one in use, one being rotated in), and a revocation is for
-- good. The service checks the first under the merchant's row lock; this trigger takes
-- the same lock, so no code path, concurrent or hand-written, gets a third live key.
CREATE FUNCTION merchant_api_keys_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.revoked_at IS NOT NULL
       AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'a revoked merchant API key stays revoked'
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' AND NEW.revoked_at IS NULL THEN
        PERFORM 1 FROM merchants WHERE id = NEW.merchant_id FOR UPDATE;
        IF (SELECT count(*) FROM merchant_api_keys
            WHERE merchant_id = NEW.merchant_id AND revoked_at IS NULL) >= 2 THEN
            RAISE EXCEPTION 'a merchant has at most two live API keys'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'merchant_api_keys_two_live';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER merchant_api_keys_guard
    BEFORE INSERT OR UPDATE ON merchant_api_keys
    FOR EACH ROW EXECUTE FUNCTION merchant_api_keys_guard();
