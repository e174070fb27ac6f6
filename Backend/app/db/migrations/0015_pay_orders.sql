-- Pay orders: what a merchant asks a payer to pay (an amount, a short code typed on a
-- keypad, a time to pay), and the answers the merchant API gave to each Idempotency-Key
-- (docs/merchants.md). Paying an order is a later slice: mark_paid's columns are here.

-- An order's states move one way only, each transition timestamped:
--   awaiting_payment -> paid | expired | canceled;  paid -> refunded | partially_refunded;
--   partially_refunded -> partially_refunded (more refunded) | refunded.
-- The CHECKs say what each state holds; the trigger below refuses every other change.
CREATE TABLE pay_orders (
    id                     BIGSERIAL   PRIMARY KEY,
    merchant_id            BIGINT      NOT NULL REFERENCES merchants (id),
    -- 8 digits, no leading zero, the last a Luhn check digit (app/domain/pay_orders.py):
    -- a till is 5 to 7 digits, so the length tells them apart. Unique among the orders
    -- awaiting payment (pay_orders_live_code_idx); an old code may come round again.
    code                   TEXT        NOT NULL CHECK (code ~ '^[1-9][0-9]{7}$'),
    amount                 BIGINT      NOT NULL CHECK (amount BETWEEN 1 AND 10000000000),
    currency               TEXT        NOT NULL DEFAULT 'KES' CHECK (currency = 'KES'),
    merchant_reference     TEXT        CHECK (length(merchant_reference) BETWEEN 1 AND 64),
    -- Shown to the payer on a USSD screen (GSM-7, checked in Python: SQL has no class).
    description            TEXT        CHECK (length(description) BETWEEN 1 AND 40),
    status                 TEXT        NOT NULL DEFAULT 'awaiting_payment'
                           CHECK (status IN ('awaiting_payment', 'paid', 'expired',
                                             'canceled', 'refunded', 'partially_refunded')),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at             TIMESTAMPTZ NOT NULL,
    paid_at                TIMESTAMPTZ,
    expired_at             TIMESTAMPTZ,
    canceled_at            TIMESTAMPTZ,
    paid_amount            BIGINT,
    refunded_amount        BIGINT      NOT NULL DEFAULT 0,
    -- The journal transaction that paid it: one order per payment.
    payment_transaction_id BIGINT      UNIQUE REFERENCES journal_transactions (id),
    -- 1 to 1,440 minutes to pay.
    CHECK (expires_at BETWEEN created_at + interval '1 minute'
                          AND created_at + interval '1440 minutes'),
    -- Paid means paid in full, in time, by one movement: partial payments are refused.
    CHECK ((paid_at IS NOT NULL) = (status IN ('paid', 'refunded', 'partially_refunded'))),
    CHECK (paid_at IS NULL OR (paid_amount = amount AND payment_transaction_id IS NOT NULL
                               AND paid_at BETWEEN created_at AND expires_at)),
    CHECK (paid_at IS NOT NULL OR (paid_amount IS NULL AND payment_transaction_id IS NULL)),
    CHECK ((expired_at IS NOT NULL) = (status = 'expired')),
    CHECK (expired_at IS NULL OR expired_at = expires_at),
    CHECK ((canceled_at IS NOT NULL) = (status = 'canceled')),
    CHECK (canceled_at IS NULL OR canceled_at BETWEEN created_at AND expires_at),
    CHECK (CASE status WHEN 'refunded' THEN refunded_amount = paid_amount
                       WHEN 'partially_refunded' THEN refunded_amount BETWEEN 1 AND paid_amount - 1
                       ELSE refunded_amount = 0 END)
);
CREATE UNIQUE INDEX pay_orders_live_code_idx ON pay_orders (code)
    WHERE status = 'awaiting_payment';
CREATE INDEX pay_orders_code_idx ON pay_orders (code, id);
CREATE INDEX pay_orders_merchant_idx ON pay_orders (merchant_id, id);
-- What the expiry loop scans: only orders still awaiting payment.
CREATE INDEX pay_orders_due_idx ON pay_orders (expires_at) WHERE status = 'awaiting_payment';

-- Whatever code writes it, an order is born awaiting payment, its settled fields are
-- never edited, it only moves along the transitions above, and it is never deleted.
CREATE FUNCTION pay_orders_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a pay order is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'awaiting_payment' THEN
            RAISE EXCEPTION 'a pay order is created awaiting payment'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.merchant_id, NEW.code, NEW.amount, NEW.currency, NEW.merchant_reference,
        NEW.description, NEW.created_at, NEW.expires_at)
       IS DISTINCT FROM
       (OLD.id, OLD.merchant_id, OLD.code, OLD.amount, OLD.currency, OLD.merchant_reference,
        OLD.description, OLD.created_at, OLD.expires_at) THEN
        RAISE EXCEPTION 'a pay order''s terms are never edited' USING ERRCODE = 'check_violation';
    END IF;
    -- A timestamp or a payment, once written, stays as written.
    IF (OLD.paid_at IS NOT NULL AND NEW.paid_at IS DISTINCT FROM OLD.paid_at)
       OR (OLD.expired_at IS NOT NULL AND NEW.expired_at IS DISTINCT FROM OLD.expired_at)
       OR (OLD.canceled_at IS NOT NULL AND NEW.canceled_at IS DISTINCT FROM OLD.canceled_at)
       OR (OLD.paid_amount IS NOT NULL AND NEW.paid_amount IS DISTINCT FROM OLD.paid_amount)
       OR (OLD.payment_transaction_id IS NOT NULL
           AND NEW.payment_transaction_id IS DISTINCT FROM OLD.payment_transaction_id)
       OR NEW.refunded_amount < OLD.refunded_amount THEN
        RAISE EXCEPTION 'a pay order''s settled fields are never edited'
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status OR NEW.refunded_amount <> OLD.refunded_amount THEN
        IF NOT (
            (OLD.status = 'awaiting_payment' AND NEW.status IN ('paid', 'expired', 'canceled'))
            OR (OLD.status = 'paid' AND NEW.status IN ('refunded', 'partially_refunded'))
            OR (OLD.status = 'partially_refunded'
                AND NEW.status IN ('partially_refunded', 'refunded'))
        ) THEN
            RAISE EXCEPTION 'a pay order cannot go from % to %', OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    -- An order expires when its time has passed, not before (the clock of the database).
    IF NEW.status = 'expired' AND OLD.status = 'awaiting_payment'
       AND now() < OLD.expires_at THEN
        RAISE EXCEPTION 'a pay order expires at its expires_at, not before'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER pay_orders_guard
    BEFORE INSERT OR UPDATE OR DELETE ON pay_orders
    FOR EACH ROW EXECUTE FUNCTION pay_orders_guard();

-- The merchant API's answers by Idempotency-Key, per merchant: the same key and request
-- again get this answer back; another request with the key is refused (409). Written in
-- the transaction of the effect it answers, so an answer exists exactly when its effect
-- committed.
CREATE TABLE merchant_idempotency_keys (
    merchant_id     BIGINT      NOT NULL REFERENCES merchants (id),
    idempotency_key TEXT        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    TEXT        NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    -- NULL only inside the transaction that claimed the key (it writes them before COMMIT).
    response_status INTEGER     CHECK (response_status BETWEEN 200 AND 299),
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, idempotency_key)
);
-- What the worker's purge of day-old answers scans.
CREATE INDEX merchant_idempotency_keys_created_idx ON merchant_idempotency_keys (created_at);
