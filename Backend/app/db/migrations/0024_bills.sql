-- Bills and airtime (docs/bills.md): a catalogue of billers as data, and bill payments
-- held from the wallet, sent to the biller's rail through the outbox, then delivered
-- (posted) or failed (released), an unclear answer waiting as 'unknown' until the rail
-- is asked.

-- bill_hold: bill payments waiting for the rail's answer (16 shards, by user, as the
-- M-Pesa holds); bill_clearing: what PayTrace owes a rail for delivered bills (one per
-- rail), settled with the provider outside the ledger.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign', 'mpesa_hold', 'merchant', 'bill_hold', 'bill_clearing'));

CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'mpesa_hold', 'mpesa_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'bill_hold', 'bill_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense'),
           ('stellar_clearing', 'stellar_clearing'),
           ('bill_clearing', 'bill_clearing:at_airtime'),
           ('bill_clearing', 'bill_clearing:daraja_b2b')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

-- bill_hold: a wallet into a bill hold (amount + fee); bill_payment: the hold to the
-- rail's clearing account and the fee to a fees shard (the rail delivered);
-- bill_release: the hold back to the wallet (the rail failed it).
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment', 'bill_hold', 'bill_payment', 'bill_release'));

-- at_airtime: a top-up sent through Africa's Talking's Airtime API.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('sms', 'stellar', 'mpesa_stk', 'mpesa_b2c', 'at_airtime'));

-- Fees of bills and of airtime, in cents (both ends inclusive), charged to the payer.
ALTER TABLE fee_bands DROP CONSTRAINT fee_bands_kind_check;
ALTER TABLE fee_bands ADD CONSTRAINT fee_bands_kind_check
    CHECK (kind IN ('transfer', 'withdrawal', 'bill', 'airtime'));
INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('bill', 1, 100000, 0),
       ('bill', 100001, 1000000, 1000),
       ('bill', 1000001, 10000000, 3000);
INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('airtime', 1, 1000000, 0);

-- How an account number is checked before a bill is paid, named once: 'digits' (a
-- meter, smartcard or account number of min_length..max_length digits) or 'phone' (a
-- Kenyan mobile on the biller's network).
CREATE TABLE bill_account_rules (
    name       TEXT    PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{1,31}$'),
    kind       TEXT    NOT NULL CHECK (kind IN ('digits', 'phone')),
    -- What the account is called on a screen ('Meter number').
    label      TEXT    NOT NULL CHECK (length(label) BETWEEN 2 AND 20),
    min_length INTEGER CHECK (min_length > 0),
    max_length INTEGER CHECK (max_length >= min_length),
    CHECK ((kind = 'digits') = (min_length IS NOT NULL AND max_length IS NOT NULL))
);

INSERT INTO bill_account_rules (name, kind, label, min_length, max_length)
VALUES ('kplc_meter', 'digits', 'Meter number', 11, 13),
       ('kplc_account', 'digits', 'Account number', 6, 14),
       ('water_account', 'digits', 'Account number', 5, 12),
       ('dstv_smartcard', 'digits', 'Smartcard number', 10, 11),
       ('gotv_iuc', 'digits', 'IUC number', 10, 10),
       ('zuku_account', 'digits', 'Account number', 5, 10);
INSERT INTO bill_account_rules (name, kind, label)
VALUES ('phone', 'phone', 'Phone number');

-- The billers a user can pay. A Paybill biller is paid through Daraja B2B (its Paybill
-- number, the account as AccountReference); airtime through AT's Airtime API (the
-- network). Amounts in cents, whole shillings; the fee from fee_bands of fee_kind.
CREATE TABLE billers (
    id           BIGSERIAL PRIMARY KEY,
    code         TEXT      NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    -- On a USSD screen: short (GSM-7 is checked in app/domain/bills.py).
    name         TEXT      NOT NULL CHECK (length(name) BETWEEN 2 AND 20),
    category     TEXT      NOT NULL CHECK (category IN ('electricity', 'water', 'tv', 'airtime')),
    account_rule TEXT      NOT NULL REFERENCES bill_account_rules (name),
    min_amount   BIGINT    NOT NULL CHECK (min_amount > 0 AND min_amount % 100 = 0),
    max_amount   BIGINT    NOT NULL CHECK (max_amount >= min_amount AND max_amount % 100 = 0),
    fee_kind     TEXT      NOT NULL CHECK (fee_kind IN ('bill', 'airtime')),
    rail         TEXT      NOT NULL CHECK (rail IN ('daraja_b2b', 'at_airtime')),
    paybill      TEXT      CHECK (paybill ~ '^[1-9][0-9]{4,6}$'),
    network      TEXT      CHECK (network IN ('safaricom', 'airtel', 'telkom')),
    active       BOOLEAN   NOT NULL DEFAULT true,
    -- The order on a screen.
    position     INTEGER   NOT NULL UNIQUE,
    CHECK ((rail = 'daraja_b2b') = (paybill IS NOT NULL)),
    CHECK ((rail = 'at_airtime') = (network IS NOT NULL))
);

INSERT INTO billers
    (code, name, category, account_rule, min_amount, max_amount, fee_kind, rail, paybill, position)
VALUES ('kplc_prepaid', 'KPLC prepaid', 'electricity', 'kplc_meter', 10000, 3500000, 'bill', 'daraja_b2b', '888880', 1),
       ('kplc_postpaid', 'KPLC postpaid', 'electricity', 'kplc_account', 10000, 7000000, 'bill', 'daraja_b2b', '888888', 2),
       ('nairobi_water', 'Nairobi Water', 'water', 'water_account', 10000, 7000000, 'bill', 'daraja_b2b', '444400', 3),
       ('dstv', 'DStv', 'tv', 'dstv_smartcard', 10000, 3500000, 'bill', 'daraja_b2b', '444900', 4),
       ('gotv', 'GOtv', 'tv', 'gotv_iuc', 10000, 3500000, 'bill', 'daraja_b2b', '423655', 5),
       ('zuku', 'Zuku', 'tv', 'zuku_account', 10000, 3500000, 'bill', 'daraja_b2b', '320320', 6);
INSERT INTO billers
    (code, name, category, account_rule, min_amount, max_amount, fee_kind, rail, network, position)
VALUES ('airtime_safaricom', 'Airtime Safaricom', 'airtime', 'phone', 1000, 1000000, 'airtime', 'at_airtime', 'safaricom', 7),
       ('airtime_airtel', 'Airtime Airtel', 'airtime', 'phone', 1000, 1000000, 'airtime', 'at_airtime', 'airtel', 8),
       ('airtime_telkom', 'Airtime Telkom', 'airtime', 'phone', 1000, 1000000, 'airtime', 'at_airtime', 'telkom', 9);

-- One row per bill payment. Its reference is its hold's (the journal transaction that
-- carries the channel's idempotency key). held -> delivered | failed | unknown;
-- unknown -> delivered | failed, only on the rail's own status answer.
CREATE TABLE bill_payments (
    id              BIGSERIAL   PRIMARY KEY,
    reference       TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    user_id         BIGINT      NOT NULL REFERENCES users (id),
    biller_id       BIGINT      NOT NULL REFERENCES billers (id),
    -- The meter, smartcard or account number; for airtime the phone topped up (E.164).
    account         TEXT        NOT NULL CHECK (length(account) BETWEEN 1 AND 32),
    amount          BIGINT      NOT NULL CHECK (amount > 0),
    fee             BIGINT      NOT NULL CHECK (fee >= 0),
    status          TEXT        NOT NULL DEFAULT 'held'
                    CHECK (status IN ('held', 'delivered', 'failed', 'unknown')),
    channel         TEXT        NOT NULL CHECK (channel IN ('ussd', 'api')),
    hold_id         BIGINT      NOT NULL UNIQUE REFERENCES journal_transactions (id),
    -- The East Africa day the hold counted against the user's limits (given back on
    -- release).
    hold_day        DATE        NOT NULL,
    -- bill_payment or bill_release: the one ending.
    outcome_id      BIGINT      UNIQUE REFERENCES journal_transactions (id),
    -- The rail's id of the request (AT's requestId); unique: one rail transaction
    -- settles one bill.
    rail_request_id TEXT        UNIQUE CHECK (length(rail_request_id) BETWEEN 1 AND 100),
    -- The token or receipt the user is sent, once known.
    receipt         TEXT        CHECK (length(receipt) BETWEEN 1 AND 100),
    failure         TEXT        CHECK (length(failure) <= 200),
    -- When the worker next asks the rail about it (NULL: nothing to ask yet, or ended).
    check_after     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    ended_at        TIMESTAMPTZ,
    CHECK ((status IN ('delivered', 'failed')) = (ended_at IS NOT NULL)),
    CHECK ((status IN ('delivered', 'failed')) = (outcome_id IS NOT NULL))
);
CREATE INDEX bill_payments_user_idx ON bill_payments (user_id, id);
CREATE INDEX bill_payments_check_idx ON bill_payments (check_after)
    WHERE status IN ('held', 'unknown') AND check_after IS NOT NULL;

-- Only the state machine's steps; an ended payment stays ended; its terms never change.
CREATE FUNCTION bill_payments_guard() RETURNS trigger
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
    IF OLD.status IN ('delivered', 'failed') AND NEW IS DISTINCT FROM OLD THEN
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

CREATE TRIGGER bill_payments_guard
    BEFORE INSERT OR UPDATE OR DELETE ON bill_payments
    FOR EACH ROW EXECUTE FUNCTION bill_payments_guard();

-- AT's airtime status callbacks are stored as they arrive, as every callback is.
ALTER TABLE inbound_callbacks DROP CONSTRAINT inbound_callbacks_kind_check;
ALTER TABLE inbound_callbacks ADD CONSTRAINT inbound_callbacks_kind_check
    CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result', 'status_timeout',
                    'sms_delivery', 'airtime_status'));
