-- Refunds of a pay order's payment (docs/merchants.md, "Refunds"): the order follows its
-- payment to partially_refunded, then refunded, each transition timestamped; and
-- requests to pay (docs/merchants.md, "Request to pay").

-- When the order's payment was first refunded in part, and when it was refunded in full:
-- written once by the refund's transaction (under the order's row lock), never edited.
ALTER TABLE pay_orders ADD COLUMN partially_refunded_at TIMESTAMPTZ;
ALTER TABLE pay_orders ADD COLUMN refunded_at TIMESTAMPTZ;
ALTER TABLE pay_orders ADD CONSTRAINT pay_orders_refunded_at_check
    CHECK ((refunded_at IS NOT NULL) = (status = 'refunded')
           AND (refunded_at IS NULL OR refunded_at >= paid_at));
-- An order refunded in full at once never was partially refunded: only the first
-- partial refund writes partially_refunded_at.
ALTER TABLE pay_orders ADD CONSTRAINT pay_orders_partially_refunded_at_check
    CHECK ((status <> 'partially_refunded' OR partially_refunded_at IS NOT NULL)
           AND (status IN ('partially_refunded', 'refunded') OR partially_refunded_at IS NULL)
           AND (partially_refunded_at IS NULL OR partially_refunded_at >= paid_at));

CREATE OR REPLACE FUNCTION pay_orders_guard() RETURNS trigger
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
       OR (OLD.partially_refunded_at IS NOT NULL
           AND NEW.partially_refunded_at IS DISTINCT FROM OLD.partially_refunded_at)
       OR (OLD.refunded_at IS NOT NULL AND NEW.refunded_at IS DISTINCT FROM OLD.refunded_at)
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
-- ---- requests to pay (migration 0023) ---------------------------------------------
-- A merchant asks a PayTrace user (by phone) to pay one of its orders: the payer gets an
-- SMS, and the request is the first screen of their next dial until it is settled. It
-- lives with its order: approved when that payer pays the order, canceled when the order
-- is paid otherwise or canceled, expired when the order expires; declined by the payer.
-- One pending request per order at a time.
CREATE TABLE pay_requests (
    id            BIGSERIAL   PRIMARY KEY,
    order_id      BIGINT      NOT NULL REFERENCES pay_orders (id),
    merchant_id   BIGINT      NOT NULL REFERENCES merchants (id),
    payer_user_id BIGINT      NOT NULL REFERENCES users (id),
    phone         TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    status        TEXT        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'declined', 'expired', 'canceled')),
    created_at    TIMESTAMPTZ NOT NULL,
    -- The order's expires_at: the request expires with it.
    expires_at    TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at),
    approved_at   TIMESTAMPTZ,
    declined_at   TIMESTAMPTZ,
    expired_at    TIMESTAMPTZ,
    canceled_at   TIMESTAMPTZ,
    CONSTRAINT pay_requests_approved_check CHECK ((approved_at IS NOT NULL) = (status = 'approved')),
    CONSTRAINT pay_requests_declined_check CHECK ((declined_at IS NOT NULL) = (status = 'declined')),
    CONSTRAINT pay_requests_expired_check
        CHECK ((expired_at IS NOT NULL) = (status = 'expired')
               AND (expired_at IS NULL OR expired_at = expires_at)),
    CONSTRAINT pay_requests_canceled_check CHECK ((canceled_at IS NOT NULL) = (status = 'canceled'))
);
CREATE UNIQUE INDEX pay_requests_live_order_idx ON pay_requests (order_id)
    WHERE status = 'pending';
CREATE INDEX pay_requests_order_idx ON pay_requests (order_id, id);
-- What a payer's dial reads: their pending requests.
CREATE INDEX pay_requests_payer_idx ON pay_requests (payer_user_id, id) WHERE status = 'pending';

-- Born pending; only pending moves, once, to another state; its terms never change; never
-- deleted.
CREATE FUNCTION pay_requests_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a pay request is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' THEN
            RAISE EXCEPTION 'a pay request is created pending' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.order_id, NEW.merchant_id, NEW.payer_user_id, NEW.phone, NEW.created_at,
        NEW.expires_at)
       IS DISTINCT FROM
       (OLD.id, OLD.order_id, OLD.merchant_id, OLD.payer_user_id, OLD.phone, OLD.created_at,
        OLD.expires_at) THEN
        RAISE EXCEPTION 'a pay request''s terms are never edited' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'pending' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a pay request that is % stays so', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER pay_requests_guard
    BEFORE INSERT OR UPDATE OR DELETE ON pay_requests
    FOR EACH ROW EXECUTE FUNCTION pay_requests_guard();
