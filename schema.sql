-- PayTrace: the full current database schema. Migrations under
-- Backend/app/db/migrations build exactly this (a test compares the catalogs).

-- KYC tiers: outflow limits per tier, in cents (data; operators change them).
CREATE TABLE kyc_tiers (
    tier                  SMALLINT PRIMARY KEY,
    name                  TEXT   NOT NULL UNIQUE,
    -- Outflow limits in cents: one transaction, one Nairobi calendar day, and the
    -- 30 Nairobi calendar days ending today.
    per_transaction_limit BIGINT NOT NULL CHECK (per_transaction_limit > 0),
    daily_limit           BIGINT NOT NULL,
    rolling_30_day_limit  BIGINT NOT NULL,
    CHECK (per_transaction_limit <= daily_limit AND daily_limit <= rolling_30_day_limit)
);

INSERT INTO kyc_tiers (tier, name, per_transaction_limit, daily_limit, rolling_30_day_limit)
VALUES (1, 'basic', 7000000, 15000000, 30000000),
       (2, 'verified', 25000000, 50000000, 300000000),
       (3, 'business', 100000000, 300000000, 3000000000);

CREATE TABLE users (
    id                BIGSERIAL PRIMARY KEY,
    paytrace_id       TEXT        NOT NULL UNIQUE CHECK (paytrace_id ~ '^PT[0-9]{8}$'),
    phone             TEXT        NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    full_name         TEXT        NOT NULL CHECK (length(full_name) BETWEEN 2 AND 60),
    role              TEXT        NOT NULL DEFAULT 'worker' CHECK (role IN ('worker', 'employer')),
    language          TEXT        NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'sw')),
    -- The channel request that created the user (e.g. the USSD session): a retried
    -- registration finds its own user instead of failing or making a second one.
    registration_key  TEXT        NOT NULL UNIQUE,
    terms_accepted_at TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    kyc_tier          SMALLINT    NOT NULL DEFAULT 1 REFERENCES kyc_tiers (tier)
);

CREATE TABLE user_credentials (
    user_id         BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    pin_hash        TEXT        NOT NULL,
    failed_attempts INTEGER     NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    TIMESTAMPTZ,
    pin_changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Locks since the last right PIN (or reset): each repeated lock lasts longer, and
    -- past PIN_TIMED_LOCKS the PIN waits for an operator or an SMS-code reset.
    lock_count      INTEGER     NOT NULL DEFAULT 0 CHECK (lock_count >= 0),
    reset_required  BOOLEAN     NOT NULL DEFAULT false
);

-- One row per counted PIN attempt, keyed by the channel request (USSD session and
-- hop): a gateway retry of the same hop can never count a wrong PIN twice.
CREATE TABLE pin_attempts (
    attempt_key TEXT        PRIMARY KEY,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    succeeded   BOOLEAN     NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pin_attempts_user_idx ON pin_attempts (user_id, created_at);

CREATE TABLE wallets (
    id                BIGSERIAL PRIMARY KEY,
    user_id           BIGINT      NOT NULL UNIQUE REFERENCES users (id) ON DELETE RESTRICT,
    currency          TEXT        NOT NULL DEFAULT 'KES' CHECK (currency = 'KES'),
    stellar_address   TEXT        NOT NULL UNIQUE CHECK (stellar_address ~ '^G[A-Z2-7]{55}$'),
    -- MultiFernet token of the Stellar secret seed; decrypted only for signing.
    stellar_secret_ct TEXT        NOT NULL,
    activation_status TEXT        NOT NULL DEFAULT 'pending'
                      CHECK (activation_status IN ('pending', 'active', 'failed')),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Transactional outbox: external effects written in the same transaction as the
-- change that causes them, performed later by the worker. At most once: a row is
-- marked 'sending' (and committed) before its effect is attempted; a row whose
-- lease ran out while 'sending' (its worker died mid-call) becomes 'unknown' for
-- an operator, never 'pending' again.
CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT        NOT NULL CHECK (kind IN ('sms', 'stellar', 'mpesa_stk',
                                                          'mpesa_b2c', 'at_airtime',
                                                          'mpesa_reversal', 'mpesa_order_stk',
                                                          'daraja_b2b', 'wage_line')),
    payload          JSONB       NOT NULL,
    dedupe_key       TEXT        NOT NULL UNIQUE,
    status           TEXT        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'done', 'failed', 'unknown')),
    attempts         INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    available_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Which worker holds the row while 'sending', and until when.
    claimed_by       TEXT,
    lease_expires_at TIMESTAMPTZ,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The request that wrote it (app/infra/request_context.py; migration 0028): each
    -- request's transactions carry `paytrace.request_id`, taken here by default.
    request_id       TEXT
                     DEFAULT nullif(current_setting('paytrace.request_id', true), '')
                     CHECK (request_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$'),
    CHECK (status <> 'sending' OR lease_expires_at IS NOT NULL)
);
CREATE INDEX outbox_ready_idx ON outbox (available_at, id) WHERE status = 'pending';
CREATE INDEX outbox_sending_idx ON outbox (lease_expires_at) WHERE status = 'sending';

-- What PayTrace handed to Africa's Talking, and what AT reported back.
CREATE TABLE sms_messages (
    id                  BIGSERIAL PRIMARY KEY,
    outbox_id           BIGINT      NOT NULL UNIQUE REFERENCES outbox (id),
    recipient           TEXT        NOT NULL,
    -- AT's messageId; NULL when AT rejected the recipient (AT then says "None").
    provider_message_id TEXT        UNIQUE,
    status              TEXT        NOT NULL
                        CHECK (status IN ('submitted', 'rejected', 'sent', 'delivered', 'failed')),
    status_code         INTEGER,
    cost                TEXT,
    network_code        TEXT,
    failure_reason      TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ---- ledger ------------------------------------------------------------------
-- Sign convention: a leg's amount is added to its account's balance. User wallets
-- are positive; the M-Pesa float goes negative as money enters; all balances sum to 0.

-- Fee bands per movement kind, in cents; both ends inclusive.
CREATE TABLE fee_bands (
    kind       TEXT   NOT NULL CHECK (kind IN ('transfer', 'withdrawal', 'bill', 'airtime')),
    min_amount BIGINT NOT NULL CHECK (min_amount > 0),
    max_amount BIGINT NOT NULL,
    fee        BIGINT NOT NULL CHECK (fee >= 0),
    PRIMARY KEY (kind, min_amount),
    CHECK (max_amount >= min_amount)
);

INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('transfer', 1, 10000, 0),
       ('transfer', 10001, 50000, 500),
       ('transfer', 50001, 100000, 1000),
       ('transfer', 100001, 500000, 2500),
       ('transfer', 500001, 2000000, 5000),
       ('transfer', 2000001, 100000000, 10000);

-- Withdrawals to M-Pesa (B2C); the service takes whole shillings from KES 10.
INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('withdrawal', 1, 10000, 500),
       ('withdrawal', 10001, 100000, 1500),
       ('withdrawal', 100001, 500000, 2500),
       ('withdrawal', 500001, 2000000, 3500),
       ('withdrawal', 2000001, 25000000, 5000);

-- Bills and airtime (migration 0024), charged to the payer.
INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('bill', 1, 100000, 0),
       ('bill', 100001, 1000000, 1000),
       ('bill', 1000001, 10000000, 3000);
INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('airtime', 1, 1000000, 0);

-- ---- accounts -----------------------------------------------------------------

CREATE TABLE ledger_accounts (
    id         BIGSERIAL PRIMARY KEY,
    -- 'campaign': a harambee's escrow (see campaigns), never below zero.
    -- 'mpesa_hold': withdrawals to M-Pesa held until M-Pesa's result, and
    -- 'mpesa_owed_back' (M-Pesa payments being returned), never below zero.
    -- 'merchant': what PayTrace owes a merchant (see merchants), never below zero.
    -- 'bill_hold': bill payments held until the rail's answer (see bill_payments);
    -- 'bill_clearing': what PayTrace owes a rail for delivered bills (one per rail).
    -- 'stellar_hold': refunds of orders paid on Stellar held until sent on-chain.
    -- 'wage_hold': approved pay runs' money until each line is paid or released (16
    -- shards, opened on first use); 'wage_dues': what an employer owes for one item.
    -- 'promotions': what PayTrace set aside for cashback and referral bonuses, never
    -- below zero (migration 0036).
    kind       TEXT        NOT NULL
               CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                               'campaign', 'mpesa_hold', 'merchant', 'bill_hold',
                               'bill_clearing', 'stellar_hold', 'wage_hold', 'wage_dues',
                               'promotions')),
    -- The owner of a wallet; system accounts have a code instead.
    user_id    BIGINT      UNIQUE REFERENCES users (id) ON DELETE RESTRICT,
    code       TEXT        UNIQUE,
    currency   TEXT        NOT NULL DEFAULT 'KES' CHECK (currency = 'KES'),
    -- Always the sum of the account's legs: only the leg trigger may change it.
    balance    BIGINT      NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ledger_accounts_owner CHECK ((kind = 'wallet') = (user_id IS NOT NULL)
                                            AND (user_id IS NULL) = (code IS NOT NULL)),
    -- Only the float, suspense and the Stellar clearing account may go below zero;
    -- a user wallet never.
    CONSTRAINT ledger_accounts_non_negative
        CHECK (balance >= 0 OR kind IN ('mpesa_float', 'suspense', 'stellar_clearing'))
);

-- Fees are split into 16 shards ('fees:0'..'fees:15'): every fee-bearing transfer
-- credits one, chosen by its sender, so transfers do not all queue on one row. The
-- withdrawal holds are sharded the same way ('mpesa_hold:0'..'mpesa_hold:15').
CREATE FUNCTION paytrace_seed_system_accounts() RETURNS void
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
           ('bill_clearing', 'bill_clearing:daraja_b2b'),
           ('mpesa_hold', 'mpesa_owed_back'),
           ('stellar_hold', 'stellar_refund_hold'),
           ('promotions', 'promotions')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

-- ---- journal ------------------------------------------------------------------

CREATE TABLE journal_transactions (
    id                BIGSERIAL PRIMARY KEY,
    -- Short, unambiguous and easy to read out over the phone.
    reference         TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    -- contribution: a wallet into a campaign's escrow; campaign_payout: the escrow to
    -- its organiser (closed); campaign_refund: the escrow back to a contributor (cancelled).
    -- deposit: the M-Pesa float to a wallet; withdrawal: a wallet into an M-Pesa hold;
    -- withdrawal_payout: the hold paid out (float and fee); withdrawal_release: back.
    -- merchant_payment: a wallet to a merchant's account, the merchant's fee from it;
    -- merchant_refund: the merchant's account back to the payer's wallet.
    -- stellar_order_payment: a pay order paid on Stellar, stellar_clearing to the
    -- merchant's account, the merchant's fee from it (migration 0022).
    -- bill_hold: a wallet into a bill hold; bill_payment: the hold to the rail's
    -- clearing and the fee; bill_release: the hold back to the wallet.
    -- mpesa_order_payment: the M-Pesa float to a merchant's account (a pay order paid
    -- from M-Pesa), the merchant's fee from it; mpesa_owed_back: the float to
    -- 'mpesa_owed_back' (an M-Pesa payment an order could not take, to be returned);
    -- mpesa_order_returned: back to the float once M-Pesa confirms the reversal.
    -- stellar_order_refund: a merchant's account to 'stellar_refund_hold' (a refund of
    -- an order paid on Stellar, asked); stellar_order_refund_sent: the hold to
    -- stellar_clearing once sent on-chain; stellar_order_refund_release: back (0032).
    -- wage_hold: an employer's wallet into a wage hold (a pay run's cost);
    -- wage_payment: one line, the hold to the worker (net) and to the employer's dues;
    -- wage_release: one failed line's cost back to the employer.
    -- promotions_funding: the float to 'promotions'; cashback: 'promotions' to a wallet
    -- as a bill is delivered; referral_bonus: 'promotions' to a referrer's wallet as the
    -- new user's first deposit is credited (migration 0036).
    kind              TEXT        NOT NULL CHECK (kind IN ('transfer', 'cash_in', 'reversal',
                                                           'contribution', 'campaign_payout',
                                                           'campaign_refund', 'deposit',
                                                           'withdrawal', 'withdrawal_payout',
                                                           'withdrawal_release',
                                                           'merchant_payment',
                                                           'merchant_refund',
                                                           'stellar_order_payment',
                                                           'bill_hold', 'bill_payment',
                                                           'bill_release',
                                                           'mpesa_order_payment',
                                                           'mpesa_owed_back',
                                                           'mpesa_order_returned',
                                                           'stellar_order_refund',
                                                           'stellar_order_refund_sent',
                                                           'stellar_order_refund_release',
                                                           'wage_hold', 'wage_payment',
                                                           'wage_release',
                                                           'promotions_funding', 'cashback',
                                                           'referral_bonus',
                                                           'bill_reversal')),
    -- The movement's own amount and fee (cents), as the user was shown them.
    amount            BIGINT      NOT NULL CHECK (amount > 0),
    fee               BIGINT      NOT NULL DEFAULT 0 CHECK (fee >= 0),
    -- Same key and same request: the original result. Same key, other request: refused.
    idempotency_key   TEXT        NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash      TEXT        NOT NULL,
    -- A correction is a new transaction referencing the original, at most one each.
    reverses_id       BIGINT      UNIQUE REFERENCES journal_transactions (id),
    channel           TEXT        NOT NULL CHECK (channel IN ('ussd', 'api', 'admin', 'system')),
    initiator_user_id BIGINT      REFERENCES users (id),
    note              TEXT        CHECK (length(note) <= 100),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL))
);

CREATE TABLE journal_legs (
    id             BIGSERIAL PRIMARY KEY,
    transaction_id BIGINT NOT NULL REFERENCES journal_transactions (id),
    account_id     BIGINT NOT NULL REFERENCES ledger_accounts (id),
    amount         BIGINT NOT NULL CHECK (amount <> 0),
    -- The account's balance just after this leg (set by the trigger): statements
    -- and replays read it instead of summing history.
    balance_after  BIGINT NOT NULL
);
CREATE INDEX journal_legs_account_idx ON journal_legs (account_id, id);
CREATE INDEX journal_legs_transaction_idx ON journal_legs (transaction_id);

-- A leg moves its account's balance, in the same statement. The account row is
-- already locked by the service (in id order); the CHECK on ledger_accounts
-- refuses an overdraft even for a leg written by hand.
CREATE FUNCTION journal_leg_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_accounts SET balance = balance + NEW.amount
    WHERE id = NEW.account_id
    RETURNING balance INTO NEW.balance_after;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger account % does not exist', NEW.account_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER journal_legs_apply BEFORE INSERT ON journal_legs
    FOR EACH ROW EXECUTE FUNCTION journal_leg_apply();

-- Balances change only through legs: a hand-written UPDATE is refused.
CREATE FUNCTION ledger_account_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.balance IS DISTINCT FROM OLD.balance AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a ledger balance changes only through journal legs'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ledger_accounts_guard BEFORE UPDATE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();

-- Legs and journal transactions are written once, never edited or deleted.
CREATE FUNCTION journal_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: correct with a reversing transaction', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER journal_legs_immutable BEFORE UPDATE OR DELETE ON journal_legs
    FOR EACH ROW EXECUTE FUNCTION journal_immutable();
CREATE TRIGGER journal_transactions_immutable BEFORE UPDATE OR DELETE ON journal_transactions
    FOR EACH ROW EXECUTE FUNCTION journal_immutable();

-- Double entry, enforced at COMMIT: every journal transaction touched has at least
-- two legs and they sum to zero. Deferred, so the legs of one transaction can be
-- written one by one.
CREATE FUNCTION journal_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tx_id  BIGINT;
    legs   INTEGER;
    total  NUMERIC;
BEGIN
    IF TG_TABLE_NAME = 'journal_legs' THEN
        tx_id := NEW.transaction_id;
    ELSE
        tx_id := NEW.id;
    END IF;
    SELECT count(*), coalesce(sum(amount), 0) INTO legs, total
    FROM journal_legs WHERE transaction_id = tx_id;
    IF legs < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'journal transaction % is unbalanced (% legs, sum %)', tx_id, legs, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_balanced';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER journal_legs_balanced AFTER INSERT ON journal_legs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_check_balanced();
CREATE CONSTRAINT TRIGGER journal_transactions_balanced AFTER INSERT ON journal_transactions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_check_balanced();

-- ---- usage for the daily and rolling 30-day limits ------------------------------

-- Money out of each wallet per Nairobi calendar day, kept with the movement.
CREATE TABLE account_outflows (
    account_id BIGINT  NOT NULL REFERENCES ledger_accounts (id),
    day        DATE    NOT NULL,
    amount     BIGINT  NOT NULL CHECK (amount >= 0),
    movements  INTEGER NOT NULL CHECK (movements >= 0),
    PRIMARY KEY (account_id, day)
);

-- ---- harambee: campaigns, pledges, contributions --------------------------------

-- Each campaign holds its money in its own escrow ledger account (kind 'campaign'),
-- so what it has raised is that account's balance: read from the ledger, never a
-- counter beside it. On Stellar its money lives with the treasury.
CREATE TABLE campaigns (
    id            BIGSERIAL   PRIMARY KEY,
    -- Typed on a keypad to find the campaign: six digits, never a leading zero.
    code          TEXT        NOT NULL UNIQUE CHECK (code ~ '^[1-9][0-9]{5}$'),
    title         TEXT        NOT NULL CHECK (length(title) BETWEEN 3 AND 40),
    description   TEXT        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    target_amount BIGINT      NOT NULL CHECK (target_amount > 0),
    currency      TEXT        NOT NULL DEFAULT 'KES' CHECK (currency = 'KES'),
    organiser_id  BIGINT      NOT NULL REFERENCES users (id),
    -- The escrow: what the campaign holds is this account's balance.
    account_id    BIGINT      NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    -- The last Nairobi day it takes money; none: until it is closed.
    end_date      DATE,
    -- 'funded' is not stored: an active campaign whose escrow holds its target is.
    status        TEXT        NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'closed', 'cancelled')),
    -- The channel request that started it: a retried start finds its campaign.
    creation_key  TEXT        NOT NULL UNIQUE CHECK (length(creation_key) BETWEEN 1 AND 200),
    request_hash  TEXT        NOT NULL,
    -- The movement that paid the escrow out to the organiser (closed campaigns).
    payout_id     BIGINT      UNIQUE REFERENCES journal_transactions (id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at      TIMESTAMPTZ,
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK (payout_id IS NULL OR status = 'closed')
);
CREATE INDEX campaigns_organiser_idx ON campaigns (organiser_id, id);
CREATE INDEX campaigns_active_idx ON campaigns (id) WHERE status = 'active';

-- A promise to pay a campaign by a date. What has been paid toward it, and so its
-- status (pledged, partially_paid, fulfilled, overdue), is read from the
-- contributions that name it; only a cancellation is stored.
CREATE TABLE pledges (
    id           BIGSERIAL   PRIMARY KEY,
    campaign_id  BIGINT      NOT NULL REFERENCES campaigns (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id),
    amount       BIGINT      NOT NULL CHECK (amount > 0),
    due_date     DATE        NOT NULL,
    is_anonymous BOOLEAN     NOT NULL DEFAULT false,
    message      TEXT        CHECK (length(message) <= 100),
    creation_key TEXT        NOT NULL UNIQUE CHECK (length(creation_key) BETWEEN 1 AND 200),
    request_hash TEXT        NOT NULL,
    cancelled_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pledges_user_idx ON pledges (user_id, id);
CREATE INDEX pledges_campaign_idx ON pledges (campaign_id, id);

-- What the journal does not say about a contribution: the campaign and the
-- contributor are in its legs too, kept here for lookups; the amount, reference
-- and time are the journal transaction's own.
CREATE TABLE campaign_contributions (
    id             BIGSERIAL PRIMARY KEY,
    transaction_id BIGINT    NOT NULL UNIQUE REFERENCES journal_transactions (id),
    campaign_id    BIGINT    NOT NULL REFERENCES campaigns (id),
    user_id        BIGINT    NOT NULL REFERENCES users (id),
    pledge_id      BIGINT    REFERENCES pledges (id),
    is_anonymous   BOOLEAN   NOT NULL DEFAULT false,
    message        TEXT      CHECK (length(message) <= 100)
);
CREATE INDEX campaign_contributions_campaign_idx ON campaign_contributions (campaign_id, id);
CREATE INDEX campaign_contributions_user_idx ON campaign_contributions (user_id, campaign_id);
CREATE INDEX campaign_contributions_pledge_idx ON campaign_contributions (pledge_id)
    WHERE pledge_id IS NOT NULL;

-- ---- REST API sign-in: one-time codes and rotating refresh-token sessions ----

-- One-time codes for signing in (login) and for proving a phone before an API
-- registration (register). Only the newest code of a phone and purpose counts.
CREATE TABLE api_otps (
    id          BIGSERIAL PRIMARY KEY,
    phone       TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    purpose     TEXT        NOT NULL CHECK (purpose IN ('login', 'register', 'pin_reset')),
    -- HMAC-SHA256 of the code under a server-side key, never the code: 10^6 codes
    -- are no protection against a stolen table, a key that is not in it is.
    code_hash   TEXT        NOT NULL,
    -- Wrong codes tried against it; at the limit the code is dead.
    attempts    INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    expires_at  TIMESTAMPTZ NOT NULL,
    consumed_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_otps_phone_idx ON api_otps (phone, purpose, id);

-- Wrong codes per code and client address: a stranger's junk from one address
-- kills the code for that address only (api_otps.attempts still caps the total).
CREATE TABLE api_otp_failures (
    otp_id   BIGINT  NOT NULL REFERENCES api_otps (id) ON DELETE CASCADE,
    address  TEXT    NOT NULL,
    failures INTEGER NOT NULL CHECK (failures > 0),
    PRIMARY KEY (otp_id, address)
);

-- Invitation SMS each user queued per Nairobi day, across every number.
CREATE TABLE invitation_counts (
    sender_user_id BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day            DATE    NOT NULL,
    sent           INTEGER NOT NULL CHECK (sent > 0),
    PRIMARY KEY (sender_user_id, day)
);

-- A signed-in device: the family of its refresh tokens. Revoking it (logout, a
-- refresh token used twice) ends every token of the family.
CREATE TABLE api_sessions (
    id             UUID        PRIMARY KEY,
    user_id        BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at     TIMESTAMPTZ,
    revoked_reason TEXT        CHECK (revoked_reason IN ('logout', 'reused')),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX api_sessions_user_idx ON api_sessions (user_id);

-- Refresh tokens, stored as SHA-256 (the token is 256 random bits: no key needed).
-- Each is used once; using one again is theft or a bug, and revokes its session.
CREATE TABLE api_refresh_tokens (
    token_hash TEXT        PRIMARY KEY,
    session_id UUID        NOT NULL REFERENCES api_sessions (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_refresh_tokens_session_idx ON api_refresh_tokens (session_id);

-- ---- Stellar custody: every envelope PayTrace signs, kept before it is submitted ----

-- One row per signed envelope. An outbox row has at most one live ('signed')
-- envelope; a new one is built only once the old one is 'dead': rejected for its
-- sequence number, or past its time bound with its hash confirmed absent.
CREATE TABLE stellar_transactions (
    id            BIGSERIAL PRIMARY KEY,
    outbox_id     BIGINT      REFERENCES outbox (id),
    -- The account whose sequence number the envelope uses.
    source        TEXT        NOT NULL CHECK (source ~ '^G[A-Z2-7]{55}$'),
    sequence      BIGINT      NOT NULL,
    tx_hash       TEXT        NOT NULL UNIQUE CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    envelope_xdr  TEXT        NOT NULL,
    -- The envelope's upper time bound: past it, the network can never apply it.
    max_time      TIMESTAMPTZ NOT NULL,
    status        TEXT        NOT NULL DEFAULT 'signed'
                  CHECK (status IN ('signed', 'applied', 'failed', 'dead')),
    ledger        BIGINT,
    result_codes  JSONB,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'applied') = (ledger IS NOT NULL)),
    -- Settlement envelopes belong to no outbox row: their source is a channel account.
    purpose       TEXT        NOT NULL DEFAULT 'activation'
                  CHECK (purpose IN ('activation', 'settlement', 'activations')),
    CONSTRAINT stellar_transactions_owner CHECK ((purpose = 'activation') = (outbox_id IS NOT NULL))
);
CREATE UNIQUE INDEX stellar_transactions_live_idx ON stellar_transactions (outbox_id)
    WHERE status IN ('signed', 'applied');

-- Activation in the settler's rounds (up to 18 wallets per transaction): the
-- envelope activating a wallet, while it is in flight (cleared if it dies).
ALTER TABLE wallets ADD COLUMN activation_envelope_id BIGINT
    REFERENCES stellar_transactions (id);
CREATE INDEX wallets_pending_activation_idx ON wallets (id)
    WHERE activation_status = 'pending';

-- ---- Stellar settlement, incoming payments, reconciliation ----

-- Settlement of ledger movements on Stellar. Every journal transaction that moves
-- money between on-chain parties gets a row here, written by the same statement
-- that posts it: this table is the settlement outbox. It is not the generic outbox
-- because settlement needs what a row-at-a-time queue cannot give: the journal's
-- order per party, and many movements batched into one Stellar transaction.
--
-- A party is where a ledger account's money lives on-chain: a wallet is its user's
-- Stellar account (the party is the wallet's ledger account id); every other
-- account that may not go below zero (the fee shards) is the treasury (party 0);
-- the float and suspense, which may go below zero, are the issuer, which mints and
-- burns and is never a party (it can always pay).
CREATE TABLE stellar_settlements (
    transaction_id BIGINT      PRIMARY KEY REFERENCES journal_transactions (id),
    status         TEXT        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'submitted', 'settled', 'failed')),
    -- Parties whose on-chain balance the movement spends, and every party it touches.
    -- A movement is submitted only once every earlier unsettled movement touching
    -- one of its payers has settled: on-chain balances follow the journal's order.
    payers         BIGINT[]    NOT NULL,
    parties        BIGINT[]    NOT NULL,
    -- 'incoming': credited from a payment that already happened on-chain (the watcher).
    origin         TEXT        NOT NULL DEFAULT 'paytrace'
                   CHECK (origin IN ('paytrace', 'incoming')),
    envelope_id    BIGINT      REFERENCES stellar_transactions (id),
    tx_hash        TEXT        CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    ledger         BIGINT,
    last_error     TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    settled_at     TIMESTAMPTZ,
    CHECK ((status = 'settled') = (settled_at IS NOT NULL)),
    CHECK (status <> 'submitted' OR envelope_id IS NOT NULL)
);
CREATE INDEX stellar_settlements_open_idx ON stellar_settlements (transaction_id)
    WHERE status <> 'settled';
CREATE INDEX stellar_settlements_envelope_idx ON stellar_settlements (envelope_id)
    WHERE envelope_id IS NOT NULL;

-- Where each watcher of the network stopped (Horizon paging tokens), so a restart
-- resumes instead of reading history again.
CREATE TABLE stellar_cursors (
    name       TEXT        PRIMARY KEY,
    cursor     TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every incoming payment the watcher saw, keyed by Horizon's operation id: credited
-- once, or kept with the reason it was not. A payment to the treasury naming a pay
-- order (migration 0022) paid it (order_paid, its journal transaction) or is owed back
-- to its sender (owed_back, the reason says why; an operator pays it back).
CREATE TABLE stellar_incoming (
    operation_id   TEXT        PRIMARY KEY,
    tx_hash        TEXT        NOT NULL CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    from_address   TEXT        NOT NULL,
    to_address     TEXT        NOT NULL,
    amount         BIGINT      NOT NULL CHECK (amount > 0),  -- cents
    transaction_id BIGINT      UNIQUE REFERENCES journal_transactions (id),
    outcome        TEXT        NOT NULL CONSTRAINT stellar_incoming_outcome_check
                               CHECK (outcome IN ('credited', 'ignored', 'order_paid',
                                                  'owed_back')),
    reason         TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    order_id       BIGINT,  -- REFERENCES pay_orders (id): below, once pay_orders exists
    CONSTRAINT stellar_incoming_check
        CHECK ((outcome IN ('credited', 'order_paid')) = (transaction_id IS NOT NULL)),
    CONSTRAINT stellar_incoming_order_check CHECK (outcome <> 'order_paid' OR order_id IS NOT NULL),
    CONSTRAINT stellar_incoming_owed_reason_check
        CHECK (outcome <> 'owed_back' OR reason IS NOT NULL)
);
CREATE UNIQUE INDEX stellar_incoming_order_paid_idx ON stellar_incoming (order_id)
    WHERE outcome = 'order_paid';
CREATE INDEX stellar_incoming_owed_back_idx ON stellar_incoming (created_at)
    WHERE outcome = 'owed_back';

-- Reconciliation: each run compares every wallet's ledger balance with its on-chain
-- KES balance (and the treasury with the accounts it backs) and keeps its report.
CREATE TABLE reconciliation_reports (
    id           BIGSERIAL   PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    accounts     INTEGER     NOT NULL CHECK (accounts >= 0),
    drifts       INTEGER     NOT NULL CHECK (drifts >= 0),
    report       JSONB       NOT NULL
);

-- ---- M-Pesa (Daraja): deposits, withdrawals, inbound callbacks ------------------

-- A deposit asked for by a user: an STK push to their own phone, credited once when
-- M-Pesa's result (its callback, or the worker's query when none came) says paid.
CREATE TABLE mpesa_deposits (
    id                  BIGSERIAL   PRIMARY KEY,
    -- PayTrace's reference for it: the API's id, the STK push's AccountReference.
    reference           TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    user_id             BIGINT      NOT NULL REFERENCES users (id),
    -- The number prompted (the user's own), E.164.
    phone               TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    -- Cents, whole shillings: M-Pesa moves whole shillings only.
    amount              BIGINT      NOT NULL CHECK (amount > 0 AND amount % 100 = 0),
    channel             TEXT        NOT NULL CHECK (channel IN ('ussd', 'api')),
    -- The channel request that asked for it: a retried request finds its deposit.
    request_key         TEXT        NOT NULL UNIQUE CHECK (length(request_key) BETWEEN 1 AND 200),
    request_hash        TEXT        NOT NULL,
    -- requested: the push is queued; pending: M-Pesa prompted the phone; completed:
    -- credited; failed: not paid (cancelled, timed out, wrong PIN, no funds, refused);
    -- disputed: M-Pesa says paid but not what was asked (an operator decides);
    -- unknown: the push's answer was lost (a late callback still completes it);
    -- confirming: a callback arrived, PayTrace asks M-Pesa (STK query) before acting.
    status              TEXT        NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'pending', 'confirming', 'completed',
                                          'failed', 'disputed', 'unknown')),
    merchant_request_id TEXT,
    checkout_request_id TEXT        UNIQUE,
    result_code         TEXT,
    result_desc         TEXT        CHECK (length(result_desc) <= 300),
    receipt             TEXT,
    transaction_id      BIGINT      UNIQUE REFERENCES journal_transactions (id),
    -- STK queries made, and when the worker asks next (open deposits only).
    queries             INTEGER     NOT NULL DEFAULT 0 CHECK (queries >= 0),
    next_check_at       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- STK queries answered with an HTTP error (never a decision), and the last one.
    query_errors        INTEGER     NOT NULL DEFAULT 0 CHECK (query_errors >= 0),
    last_query_error    TEXT        CHECK (length(last_query_error) <= 300),
    CHECK ((status = 'completed') = (transaction_id IS NOT NULL)),
    CHECK (status NOT IN ('pending', 'confirming', 'completed', 'disputed')
           OR checkout_request_id IS NOT NULL)
);
CREATE INDEX mpesa_deposits_user_idx ON mpesa_deposits (user_id, id);
CREATE INDEX mpesa_deposits_open_idx ON mpesa_deposits (next_check_at)
    WHERE status IN ('requested', 'pending', 'confirming');

-- A withdrawal: its hold, the B2C payment asked of M-Pesa under a unique
-- OriginatorConversationID (M-Pesa refuses that id a second time, so asking again is
-- safe), and how it ended: paid out, or released after M-Pesa's result, or after
-- transaction status queries that did not find it.
CREATE TABLE mpesa_withdrawals (
    id                         BIGSERIAL   PRIMARY KEY,
    -- The hold's journal reference: the user's receipt, the API's id.
    reference                  TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    -- The user whose wallet the money came from; NULL for a merchant's payout
    -- (merchant_id, migration 0020).
    user_id                    BIGINT      REFERENCES users (id),
    phone                      TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    amount                     BIGINT      NOT NULL CHECK (amount > 0 AND amount % 100 = 0),
    fee                        BIGINT      NOT NULL CHECK (fee >= 0),
    channel                    TEXT        NOT NULL,
    originator_conversation_id TEXT        NOT NULL UNIQUE,
    conversation_id            TEXT        UNIQUE,
    -- held: the B2C is queued; submitted: M-Pesa accepted it (or it may have);
    -- completed: paid out; released: the hold went back to the wallet; review: M-Pesa
    -- reported a payment after the hold was released (an operator decides).
    status                     TEXT        NOT NULL DEFAULT 'held'
                               CHECK (status IN ('held', 'submitted', 'completed', 'released',
                                                 'review')),
    hold_id                    BIGINT      NOT NULL UNIQUE REFERENCES journal_transactions (id),
    -- The payout or the release.
    outcome_id                 BIGINT      UNIQUE REFERENCES journal_transactions (id),
    -- The Nairobi day the hold counted against the limits (a release gives it back).
    hold_day                   DATE        NOT NULL,
    result_code                TEXT,
    result_desc                TEXT        CHECK (length(result_desc) <= 300),
    receipt                    TEXT,
    -- Transaction status queries: when the next is due (NULL: none), how many were
    -- made, how many answered "no such transaction", the last one's ConversationID.
    check_after                TIMESTAMPTZ,
    status_queries             INTEGER     NOT NULL DEFAULT 0 CHECK (status_queries >= 0),
    not_found                  INTEGER     NOT NULL DEFAULT 0 CHECK (not_found >= 0),
    query_conversation_id      TEXT,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status IN ('completed', 'released')) = (outcome_id IS NOT NULL)
           OR status = 'review'),
    CONSTRAINT mpesa_withdrawals_channel_check
        CHECK (channel IN ('ussd', 'api', 'admin', 'system'))
);
CREATE INDEX mpesa_withdrawals_user_idx ON mpesa_withdrawals (user_id, id);
CREATE INDEX mpesa_withdrawals_check_idx ON mpesa_withdrawals (check_after)
    WHERE status IN ('held', 'submitted') AND check_after IS NOT NULL;
CREATE INDEX mpesa_withdrawals_query_idx ON mpesa_withdrawals (query_conversation_id)
    WHERE query_conversation_id IS NOT NULL;

-- Every transaction status query PayTrace made, under the ids Daraja gave it. A
-- status answer is matched to a withdrawal ONLY through this table (never by its
-- Occasion or any other field it carries), and acted on once.
CREATE TABLE mpesa_status_queries (
    id                         BIGSERIAL   PRIMARY KEY,
    -- Or order_payment_id (added with mpesa_order_payments, below): one of the two.
    withdrawal_id              BIGINT      REFERENCES mpesa_withdrawals (id),
    conversation_id            TEXT        NOT NULL UNIQUE CHECK (length(conversation_id) <= 100),
    originator_conversation_id TEXT        CHECK (length(originator_conversation_id) <= 100),
    asked_at                   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set by the first answer acted on; a later answer to the same query is a replay.
    answered_at                TIMESTAMPTZ,
    outcome                    TEXT        CHECK (length(outcome) <= 40)
);
CREATE INDEX mpesa_status_queries_withdrawal_idx ON mpesa_status_queries (withdrawal_id, id);

-- Every callback that reached PayTrace (M-Pesa's, and Africa's Talking's delivery
-- reports), stored as it arrived before it is acted on, with whether its secret token
-- matched and what processing made of it: nothing that arrived is lost, even when
-- processing fails.
CREATE TABLE inbound_callbacks (
    id           BIGSERIAL   PRIMARY KEY,
    provider     TEXT        NOT NULL CHECK (provider IN ('mpesa', 'at')),
    kind         TEXT        NOT NULL
                 CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result',
                                 'status_timeout', 'sms_delivery', 'airtime_status',
                                 'c2b_validation', 'c2b_confirmation', 'reversal_result',
                                 'reversal_timeout', 'order_stk', 'b2b_result',
                                 'b2b_timeout')),
    -- The request path, its secret token masked.
    path         TEXT        NOT NULL CHECK (length(path) <= 500),
    query        TEXT        CHECK (length(query) <= 500),
    content_type TEXT        CHECK (length(content_type) <= 200),
    -- The body as received (bytes that are not UTF-8, and NULs, replaced).
    body         TEXT        NOT NULL,
    -- token_matched | token_mismatch | no_token (none configured for this route).
    verification TEXT        NOT NULL
                 CHECK (verification IN ('token_matched', 'token_mismatch', 'no_token')),
    -- What it names: CheckoutRequestID, OriginatorConversationID, AT's message id.
    reference    TEXT        CHECK (length(reference) <= 200),
    -- received (not processed yet), or what processing did (docs/mpesa.md lists them).
    outcome      TEXT        NOT NULL DEFAULT 'received' CHECK (length(outcome) <= 40),
    detail       TEXT        CHECK (length(detail) <= 500),
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ
);
CREATE INDEX inbound_callbacks_provider_idx ON inbound_callbacks (provider, id);
CREATE INDEX inbound_callbacks_unprocessed_idx ON inbound_callbacks (received_at)
    WHERE outcome = 'received';

-- ---- the admin audit trail (append-only) ------------------------------------------

-- The admin audit trail: one row for every request to the admin API (/api/v1/admin),
-- reads and actions, done or refused: who (the admin credential's id, never the
-- credential), what (the action and its target), when, from where (the client's
-- address and the request id).
--
-- An action's row is written in the same transaction as its effect, so an admin
-- action cannot commit without its row. The table is append-only, enforced here in
-- the database: UPDATE, DELETE and TRUNCATE are refused by triggers, whoever asks.
-- (Only a superuser switching session_replication_role to 'replica', or dropping the
-- trigger, gets past them; both are visible in PostgreSQL's own logs.)
CREATE TABLE admin_audit (
    id             BIGSERIAL   PRIMARY KEY,
    -- The moment the row was written (clock_timestamp: not the transaction's start).
    at             TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- 'token:' and a fingerprint of the admin token used; 'anonymous' when no valid
    -- token was shown.
    actor          TEXT        NOT NULL CHECK (length(actor) BETWEEN 1 AND 64),
    -- The route's operation, e.g. 'reverse', 'get_user', 'list_audit'.
    action         TEXT        NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    -- What it acted on or read: ('user', '+254712345678'), ('transaction', '43').
    target_kind    TEXT        CHECK (length(target_kind) <= 32),
    target_id      TEXT        CHECK (length(target_id) <= 128),
    -- The operator's reason, when given (a reversal's reason, or X-Audit-Reason).
    reason         TEXT        CHECK (length(reason) <= 200),
    client_address TEXT        NOT NULL CHECK (length(client_address) <= 100),
    request_id     TEXT        NOT NULL CHECK (length(request_id) <= 128),
    -- done: answered 2xx; refused: a 4xx (bad token, malformed, not found, conflict);
    -- failed: PayTrace could not do it (5xx).
    outcome        TEXT        NOT NULL CHECK (outcome IN ('done', 'refused', 'failed')),
    -- HTTP status, error code, the request's filters and results: never a secret.
    detail         JSONB       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX admin_audit_at_idx ON admin_audit (at);
CREATE INDEX admin_audit_actor_idx ON admin_audit (actor, id);
CREATE INDEX admin_audit_action_idx ON admin_audit (action, id);
CREATE INDEX admin_audit_target_idx ON admin_audit (target_kind, target_id, id);

CREATE FUNCTION admin_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER admin_audit_no_change BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();
CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only();

-- ---- M-Pesa reconciliation (migration 0013) -----------------------------------

-- M-Pesa reconciliation: each day's comparison of PayTrace's deposits and withdrawals
-- with M-Pesa's account statement, and every difference it found.
--
-- A day may be reconciled more than once (the statement arrived late, an operator
-- asks again): each run is a new version of that day's report, and the older ones
-- stay as they were. The latest version of a day is its answer. Reports and their
-- items are never changed or deleted (a trigger refuses it).
CREATE TABLE mpesa_reconciliation_reports (
    id          BIGSERIAL   PRIMARY KEY,
    -- The East Africa Time day reconciled.
    day         DATE        NOT NULL,
    version     INTEGER     NOT NULL CHECK (version >= 1),
    -- Where M-Pesa's side came from: statement_file (MPESA_STATEMENT_DIR) or
    -- daraja_sandbox (development).
    source      TEXT        NOT NULL CHECK (length(source) BETWEEN 1 AND 40),
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Pairs of the day that agree, and the differences (the items below).
    matched     INTEGER     NOT NULL CHECK (matched >= 0),
    differences INTEGER     NOT NULL CHECK (differences >= 0),
    -- Cents: M-Pesa's and PayTrace's sums each way, their differences, and the count
    -- and amount of each kind of difference (app/domain/mpesa_reconciliation.py).
    totals      JSONB       NOT NULL,
    UNIQUE (day, version)
);

CREATE TABLE mpesa_reconciliation_items (
    id                 BIGSERIAL   PRIMARY KEY,
    report_id          BIGINT      NOT NULL REFERENCES mpesa_reconciliation_reports (id),
    kind               TEXT        NOT NULL
                       CHECK (kind IN ('missing_at_mpesa', 'missing_at_paytrace',
                                       'amount_mismatch', 'state_mismatch', 'duplicate')),
    -- in: a deposit (paid in to PayTrace); out: a withdrawal (B2C).
    direction          TEXT        NOT NULL CHECK (direction IN ('in', 'out')),
    -- PayTrace's side (NULL when missing at PayTrace).
    paytrace_reference TEXT        CHECK (length(paytrace_reference) <= 40),
    paytrace_status    TEXT        CHECK (length(paytrace_status) <= 20),
    paytrace_amount    BIGINT      CHECK (paytrace_amount > 0),
    paytrace_at        TIMESTAMPTZ,
    -- M-Pesa's side (NULL when missing at M-Pesa).
    mpesa_receipt      TEXT        CHECK (length(mpesa_receipt) <= 40),
    mpesa_amount       BIGINT      CHECK (mpesa_amount > 0),
    mpesa_at           TIMESTAMPTZ,
    mpesa_reference    TEXT        CHECK (length(mpesa_reference) <= 100),
    mpesa_counterparty TEXT        CHECK (length(mpesa_counterparty) <= 20),
    -- M-Pesa's amount minus what PayTrace's ledger moved, in cents.
    delta              BIGINT      NOT NULL,
    -- Which PayTrace record the item is about (migration 0038); NULL when missing at
    -- PayTrace, and for items stored before it (deposits and withdrawals).
    record             TEXT        CHECK (record IN ('deposit', 'withdrawal', 'merchant_payout',
                                                     'order_refund', 'order_payment', 'order_reversal',
                                                     'bill_payment')),
    CHECK (paytrace_reference IS NOT NULL OR mpesa_receipt IS NOT NULL)
);
CREATE INDEX mpesa_reconciliation_items_report_idx ON mpesa_reconciliation_items (report_id, id);

CREATE FUNCTION mpesa_reconciliation_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'M-Pesa reconciliation reports are append-only: reconcile the day again';
END;
$$;

CREATE TRIGGER mpesa_reconciliation_reports_append_only
    BEFORE UPDATE OR DELETE ON mpesa_reconciliation_reports
    FOR EACH ROW EXECUTE FUNCTION mpesa_reconciliation_append_only();
CREATE TRIGGER mpesa_reconciliation_items_append_only
    BEFORE UPDATE OR DELETE ON mpesa_reconciliation_items
    FOR EACH ROW EXECUTE FUNCTION mpesa_reconciliation_append_only();

-- A day's deposits and withdrawals (and its neighbours'), read by creation time.
CREATE INDEX mpesa_deposits_created_idx ON mpesa_deposits (created_at);
CREATE INDEX mpesa_withdrawals_created_idx ON mpesa_withdrawals (created_at);

-- ---- merchants (migration 0014) ------------------------------------------------
-- The first slice: onboarding, API keys and signed requests (docs/merchants.md).

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
    -- The M-Pesa number payouts go to (B2C; a Kenyan mobile number, checked in the service).
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
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The language of its SMS (migration 0016): English unless onboarded otherwise.
    language        TEXT        NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'sw')),
    -- A daily payout (migration 0038) pays what is available above payout_keep_cents,
    -- its fee included, and only when that is at least payout_threshold_cents (0: any
    -- amount M-Pesa pays). KES 10 bn at most.
    payout_keep_cents      BIGINT NOT NULL DEFAULT 0
                           CHECK (payout_keep_cents BETWEEN 0 AND 1000000000000),
    payout_threshold_cents BIGINT NOT NULL DEFAULT 0
                           CHECK (payout_threshold_cents BETWEEN 0 AND 1000000000000)
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

-- ---- pay orders and merchant idempotency keys (migration 0015) ------------------
-- Pay orders a payer pays by code; the merchant API's answers by Idempotency-Key
-- (docs/merchants.md).


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
    -- When its payment was first refunded in part, and refunded in full (migration 0023):
    -- written once by the refund's transaction, under the order's row lock.
    partially_refunded_at  TIMESTAMPTZ,
    refunded_at            TIMESTAMPTZ,
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
                       ELSE refunded_amount = 0 END),
    CONSTRAINT pay_orders_refunded_at_check
        CHECK ((refunded_at IS NOT NULL) = (status = 'refunded')
               AND (refunded_at IS NULL OR refunded_at >= paid_at)),
    -- An order refunded in full at once never was partially refunded.
    CONSTRAINT pay_orders_partially_refunded_at_check
        CHECK ((status <> 'partially_refunded' OR partially_refunded_at IS NOT NULL)
               AND (status IN ('partially_refunded', 'refunded') OR partially_refunded_at IS NULL)
               AND (partially_refunded_at IS NULL OR partially_refunded_at >= paid_at))
);
CREATE UNIQUE INDEX pay_orders_live_code_idx ON pay_orders (code)
    WHERE status = 'awaiting_payment';
CREATE INDEX pay_orders_code_idx ON pay_orders (code, id);
CREATE INDEX pay_orders_merchant_idx ON pay_orders (merchant_id, id);
-- What the expiry loop scans: only orders still awaiting payment.
CREATE INDEX pay_orders_due_idx ON pay_orders (expires_at) WHERE status = 'awaiting_payment';
-- The pay order an incoming Stellar payment named (migration 0022).
ALTER TABLE stellar_incoming ADD CONSTRAINT stellar_incoming_order_id_fkey
    FOREIGN KEY (order_id) REFERENCES pay_orders (id);

-- A Stellar payment owed back, sent back on-chain by the refunder (migration 0022;
-- docs/stellar.md): one payment from the treasury to the sender of exactly what
-- arrived, its envelope saved (signed) before it is submitted and the same bytes resent
-- until the network answers; sent, or failed for an operator.
CREATE TABLE stellar_refunds (
    operation_id TEXT        PRIMARY KEY REFERENCES stellar_incoming (operation_id),
    to_address   TEXT        NOT NULL,
    stroops      BIGINT      NOT NULL CHECK (stroops > 0),
    status       TEXT        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'signed', 'sent', 'failed')),
    envelope_xdr TEXT,
    tx_hash      TEXT        UNIQUE CHECK (tx_hash ~ '^[0-9a-f]{64}$'),
    max_time     TIMESTAMPTZ,
    ledger       INTEGER,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT stellar_refunds_envelope_check
        CHECK ((status IN ('signed', 'sent')) <= (envelope_xdr IS NOT NULL AND tx_hash IS NOT NULL)),
    CONSTRAINT stellar_refunds_sent_check CHECK ((status = 'sent') = (ledger IS NOT NULL))
);
CREATE INDEX stellar_refunds_open_idx ON stellar_refunds (created_at)
    WHERE status IN ('pending', 'signed');

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

-- ---- merchant payments (migration 0016) ---------------------------------------
-- One row per payment to a merchant, written in the payment's own transaction. The
-- journal stays the book of record (amounts are copied here as the payer was charged
-- and the merchant's fee as it was taken, never edited). A pay order, when built,
-- adds its column here.
CREATE TABLE merchant_payments (
    transaction_id BIGINT      PRIMARY KEY REFERENCES journal_transactions (id),
    merchant_id    BIGINT      NOT NULL REFERENCES merchants (id),
    -- The payer's wallet; NULL for an order paid from M-Pesa or Stellar (migration 0030).
    payer_user_id  BIGINT      REFERENCES users (id),
    amount         BIGINT      NOT NULL CHECK (amount > 0),
    -- The merchant's fee, taken from the merchant's account (the payer pays none).
    fee            BIGINT      NOT NULL CHECK (fee >= 0 AND fee <= amount),
    channel        TEXT        NOT NULL
        CONSTRAINT merchant_payments_channel_check
        CHECK (channel IN ('ussd', 'api', 'admin', 'system', 'mpesa', 'stellar')),
    created_at     TIMESTAMPTZ NOT NULL,
    -- The pay order this payment paid (NULL: a payment at the till; migration 0018). One
    -- payment per order.
    order_id       BIGINT      REFERENCES pay_orders (id),
    -- What has been refunded of it (migration 0019), written by each refund's transaction
    -- under the merchant account's lock: never more than was paid.
    refunded_amount BIGINT     NOT NULL DEFAULT 0,
    -- A pay order paid from a rail (migration 0030): its payer as the rail names them.
    -- The M-Pesa receipt (TransID) or the Stellar transaction's hash.
    rail_receipt   TEXT,
    -- The M-Pesa phone MASKED (NULL when M-Pesa gave no whole number; the whole one stays
    -- with mpesa_order_payments) or the Stellar sender's address.
    rail_payer     TEXT,
    -- The first name M-Pesa gave with the payment, if any.
    rail_payer_name TEXT       CHECK (length(rail_payer_name) BETWEEN 1 AND 100),
    CONSTRAINT merchant_payments_refunded_check CHECK (refunded_amount BETWEEN 0 AND amount),
    -- A wallet payer or a rail's payer, never both, tied to the channel; a Stellar payer
    -- is an address, an M-Pesa one never five digits in a row (masked).
    CONSTRAINT merchant_payments_payer_check
        CHECK ((channel IN ('mpesa', 'stellar')) = (payer_user_id IS NULL)
               AND (channel IN ('mpesa', 'stellar')) = (rail_receipt IS NOT NULL)
               AND (channel = 'stellar') <= (rail_payer IS NOT NULL)
               AND (channel = 'stellar') <= (rail_payer ~ '^[GM][A-Z2-7]{55,68}$')
               AND (channel = 'mpesa') <= (rail_payer IS NULL OR rail_payer !~ '[0-9]{5}')
               AND (channel = 'mpesa' OR rail_payer_name IS NULL)
               AND (channel IN ('mpesa', 'stellar')) <= (order_id IS NOT NULL))
);
CREATE INDEX merchant_payments_merchant_idx ON merchant_payments (merchant_id, transaction_id);
CREATE INDEX merchant_payments_payer_idx ON merchant_payments (payer_user_id, transaction_id);
CREATE UNIQUE INDEX merchant_payments_order_idx ON merchant_payments (order_id)
    WHERE order_id IS NOT NULL;

-- ---- refunds of payments to a till (migration 0019) --------------------------------
-- A refund from a wallet-paid payment succeeds in the transaction that asks for it; the
-- states pending and failed are for refunds that must go out through a rail (a pay order
-- paid from M-Pesa or Stellar, migration 0030), built with migration 0032 (below).
CREATE TABLE merchant_refunds (
    id                     BIGSERIAL   PRIMARY KEY,
    public_id              TEXT        NOT NULL UNIQUE CHECK (public_id ~ '^re_[0-9a-f]{24}$'),
    merchant_id            BIGINT      NOT NULL REFERENCES merchants (id),
    payment_transaction_id BIGINT      NOT NULL REFERENCES merchant_payments (transaction_id),
    amount                 BIGINT      NOT NULL CHECK (amount > 0),
    reason                 TEXT        CHECK (length(reason) BETWEEN 1 AND 100),
    status                 TEXT        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    refund_transaction_id  BIGINT      UNIQUE REFERENCES journal_transactions (id),
    failure_reason         TEXT        CHECK (length(failure_reason) BETWEEN 1 AND 200),
    created_at             TIMESTAMPTZ NOT NULL,
    succeeded_at           TIMESTAMPTZ,
    failed_at              TIMESTAMPTZ,
    CHECK ((status = 'succeeded')
           = (succeeded_at IS NOT NULL AND refund_transaction_id IS NOT NULL)),
    CHECK ((status = 'failed') = (failed_at IS NOT NULL AND failure_reason IS NOT NULL))
);
CREATE INDEX merchant_refunds_merchant_idx ON merchant_refunds (merchant_id, id);
CREATE INDEX merchant_refunds_payment_idx ON merchant_refunds (payment_transaction_id);

-- ---- merchant payouts to M-Pesa (migration 0020) ------------------------------------
-- A payout IS a withdrawal whose source is the merchant's account instead of a user's
-- wallet: the same row in mpesa_withdrawals, the same hold, B2C request, callbacks,
-- status queries and checker, and the same journal kinds. merchant_payouts only adds
-- what the merchant API names it by and why it was made.
ALTER TABLE mpesa_withdrawals ADD COLUMN merchant_id BIGINT REFERENCES merchants (id);
ALTER TABLE mpesa_withdrawals ADD CONSTRAINT mpesa_withdrawals_owner_check
    CHECK (num_nonnulls(user_id, merchant_id) = 1);
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

-- ---- merchant webhooks (migration 0017) -------------------------------------------

CREATE TABLE merchant_webhook_endpoints (
    id              BIGSERIAL   PRIMARY KEY,
    merchant_id     BIGINT      NOT NULL REFERENCES merchants (id),
    -- Checked in app/domain/webhooks.py (https only in production; no credentials, no
    -- private addresses); the database keeps the shape.
    url             TEXT        NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
    -- The signing secret: a Fernet token under WALLET_ENCRYPTION_KEYS (the SecretBox of
    -- wallet seeds and merchant API keys), re-encrypted by `make rotate-keys`.
    secret_ct       TEXT        NOT NULL CHECK (length(secret_ct) BETWEEN 1 AND 500),
    status          TEXT        NOT NULL DEFAULT 'enabled'
                    CHECK (status IN ('enabled', 'disabled')),
    -- 'merchant' (disabled through the API) or 'failing' (3 days of failed deliveries).
    disabled_reason TEXT        CHECK (disabled_reason IN ('merchant', 'failing')),
    -- The first failed attempt since the last delivered one (NULL: not failing).
    failing_since   TIMESTAMPTZ,
    -- The create request's Idempotency-Key and SHA-256, so that a retry finds it.
    idempotency_key TEXT        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, idempotency_key),
    CHECK ((status = 'disabled') = (disabled_reason IS NOT NULL))
);
CREATE INDEX merchant_webhook_endpoints_merchant_idx
    ON merchant_webhook_endpoints (merchant_id);

CREATE TABLE merchant_events (
    id              BIGSERIAL   PRIMARY KEY,
    public_id       TEXT        NOT NULL UNIQUE CHECK (public_id ~ '^evt_[0-9a-f]{24}$'),
    merchant_id     BIGINT      NOT NULL REFERENCES merchants (id),
    type            TEXT        NOT NULL CHECK (type ~ '^[a-z_]+(\.[a-z_]+)?$'),
    -- What the event is about ('order:42'): the events of one object are delivered in
    -- order, per endpoint. NULL: ordered with nothing (a ping).
    object_id       TEXT        CHECK (length(object_id) BETWEEN 1 AND 200),
    payload         JSONB       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at TIMESTAMPTZ
);
CREATE INDEX merchant_events_unacknowledged_idx ON merchant_events (merchant_id, id)
    WHERE acknowledged_at IS NULL;
CREATE INDEX merchant_events_merchant_idx ON merchant_events (merchant_id, id);

-- One per (event, endpoint). pending: not tried yet; failed: tried, retried at
-- next_attempt_at; delivered: a 2xx; abandoned: the endpoint was disabled.
CREATE TABLE merchant_webhook_deliveries (
    id               BIGSERIAL   PRIMARY KEY,
    event_id         BIGINT      NOT NULL REFERENCES merchant_events (id),
    endpoint_id      BIGINT      NOT NULL REFERENCES merchant_webhook_endpoints (id),
    -- The event's object_id, copied so that the ordering rule reads one table.
    object_id        TEXT,
    status           TEXT        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'abandoned')),
    attempts         INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A worker's claim: no other worker takes the row before lease_until.
    lease_token      TEXT,
    lease_until      TIMESTAMPTZ,
    last_attempt_at  TIMESTAMPTZ,
    last_status_code INTEGER,
    last_latency_ms  INTEGER,
    last_error       TEXT        CHECK (length(last_error) <= 500),
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX merchant_webhook_deliveries_due_idx ON merchant_webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX merchant_webhook_deliveries_object_idx
    ON merchant_webhook_deliveries (endpoint_id, object_id, event_id)
    WHERE status IN ('pending', 'failed');

-- Every attempt, kept: the deliveries log a merchant reads.
CREATE TABLE merchant_webhook_attempts (
    id           BIGSERIAL   PRIMARY KEY,
    delivery_id  BIGINT      NOT NULL REFERENCES merchant_webhook_deliveries (id),
    attempted_at TIMESTAMPTZ NOT NULL,
    status_code  INTEGER,
    latency_ms   INTEGER     NOT NULL CHECK (latency_ms >= 0),
    error        TEXT        CHECK (length(error) <= 500)
);
CREATE INDEX merchant_webhook_attempts_delivery_idx ON merchant_webhook_attempts (delivery_id);

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

-- ---- worker leases (migrations 0027, 0033) ----------------------------------------

CREATE TABLE worker_leases (
    name        TEXT        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{1,62}$'),
    holder      TEXT        NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    -- A released lease lapses at once: expires_at = renewed_at (its row stays).
    expires_at  TIMESTAMPTZ NOT NULL,
    -- The fencing number: + 1 at every acquisition; a renewal or release names it.
    generation  BIGINT      NOT NULL CHECK (generation >= 1),
    CONSTRAINT worker_leases_check
        CHECK (acquired_at <= renewed_at AND renewed_at <= expires_at)
);

-- ---- console operators (migration 0026) -------------------------------------------

-- Operators of the web console (/console, docs/console.md): people, not tokens. Each
-- signs in with an email, a password and a TOTP code; the role decides what they may
-- do (viewer reads, operator also acts on users and money, admin also manages
-- operators and merchants). Created by `python -m app.cli.operators create`, never
-- with a default password.
CREATE TABLE operators (
    id              BIGSERIAL   PRIMARY KEY,
    -- Lower-cased by the service: one operator per address, however it is typed.
    email           TEXT        NOT NULL UNIQUE
                    CHECK (email = lower(email) AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'
                           AND length(email) <= 254),
    role            TEXT        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- argon2id over the peppered password, like a PIN (app/services/pins.py PinHasher).
    password_hash   TEXT        NOT NULL,
    -- The TOTP seed, a Fernet token under WALLET_ENCRYPTION_KEYS like every custodied
    -- secret (`make rotate-keys` re-encrypts it).
    totp_secret_ct  TEXT        NOT NULL,
    -- The last TOTP time step accepted: a code is good once, even inside its window.
    totp_last_step  BIGINT,
    disabled        BOOLEAN     NOT NULL DEFAULT false,
    -- Wrong sign-ins (password or code) since the last right one: from the fifth on,
    -- each next try waits longer (app/services/operators.py SignInPolicy).
    failed_attempts INTEGER     NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    last_failed_at  TIMESTAMPTZ,
    last_sign_in_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the second factor was last replaced (migration 0039): a console session
    -- opened before it ends at its next request.
    credentials_changed_at TIMESTAMPTZ
);

-- ---- scheduled payments (migration 0025) -------------------------------------------
-- A user's payment that repeats itself (docs/schedules.md): weekly on a weekday or
-- monthly on a day of the month, at a Nairobi time, from a start date until a date or a
-- count. Its kind says what it pays and which executor pays it (transfer: Send money to
-- another wallet; bill, airtime: a biller, the payee '<biller code>:<account>', migration
-- 0036). Each due instant is an
-- occurrence, made once (unique per schedule and instant) and accounted for once: paid,
-- or skipped with its reason.
CREATE TABLE scheduled_payments (
    id                BIGSERIAL   PRIMARY KEY,
    owner_user_id     BIGINT      NOT NULL REFERENCES users (id),
    -- wage: a worker's pay (migration 0040): payee is the employed worker's id.
    kind              TEXT        NOT NULL CHECK (kind IN ('transfer', 'bill', 'airtime',
                                                           'wage')),
    -- Whom it pays, as the kind reads it (transfer: the recipient's E.164 phone), and the
    -- name the owner saw when creating it.
    payee             TEXT        NOT NULL CHECK (payee <> ''),
    payee_name        TEXT        NOT NULL,
    amount            BIGINT      NOT NULL CHECK (amount > 0),
    note              TEXT,
    frequency         TEXT        NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    -- weekly: ISO weekday (Monday 1); monthly: day of the month (31: the month's last day).
    day               SMALLINT    NOT NULL,
    at_time           TIME        NOT NULL,  -- Nairobi wall-clock time
    start_date        DATE        NOT NULL,
    until_date        DATE,
    max_count         INTEGER     CHECK (max_count > 0),
    status            TEXT        NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'paused', 'stopped', 'finished')),
    -- No-funds skips since the last payment: three pause the schedule.
    consecutive_skips INTEGER     NOT NULL DEFAULT 0 CHECK (consecutive_skips >= 0),
    -- The next instant to make an occurrence for; NULL once no instant is left.
    next_due_at       TIMESTAMPTZ,
    -- The instant whose day-before SMS is queued: one reminder per occurrence.
    reminded_for      TIMESTAMPTZ,
    channel           TEXT        NOT NULL CHECK (channel IN ('ussd', 'api')),
    idempotency_key   TEXT        NOT NULL,
    request_hash      TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    paused_at         TIMESTAMPTZ,
    stopped_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    UNIQUE (owner_user_id, idempotency_key),
    CONSTRAINT scheduled_payments_day_check
        CHECK (day BETWEEN 1 AND CASE frequency WHEN 'weekly' THEN 7 ELSE 31 END),
    CONSTRAINT scheduled_payments_end_check
        CHECK (NOT (until_date IS NOT NULL AND max_count IS NOT NULL)
               AND (until_date IS NULL OR until_date >= start_date)),
    CONSTRAINT scheduled_payments_paused_check CHECK ((paused_at IS NOT NULL) = (status = 'paused')),
    CONSTRAINT scheduled_payments_stopped_check
        CHECK ((stopped_at IS NOT NULL) = (status = 'stopped')),
    CONSTRAINT scheduled_payments_finished_check
        CHECK ((finished_at IS NOT NULL) = (status = 'finished')
               AND (status <> 'finished' OR next_due_at IS NULL))
);
CREATE INDEX scheduled_payments_owner_idx ON scheduled_payments (owner_user_id, id);
-- What the worker reads each minute: active schedules by their next instant.
CREATE INDEX scheduled_payments_due_idx ON scheduled_payments (next_due_at)
    WHERE status = 'active';
-- What *My pay* reads: a worker's wage schedules by the worker's id (migration 0040).
CREATE INDEX scheduled_payments_wage_payee_idx ON scheduled_payments (payee)
    WHERE kind = 'wage';

CREATE TABLE scheduled_occurrences (
    id              BIGSERIAL   PRIMARY KEY,
    schedule_id     BIGINT      NOT NULL REFERENCES scheduled_payments (id),
    due_at          TIMESTAMPTZ NOT NULL,
    -- due -> paid | retrying | skipped; retrying -> retrying | paid | skipped.
    status          TEXT        NOT NULL DEFAULT 'due'
                    CHECK (status IN ('due', 'retrying', 'paid', 'skipped')),
    attempts        INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the worker may try it (again): due_at, then a day later per retry.
    next_attempt_at TIMESTAMPTZ NOT NULL,
    transaction_id  BIGINT      REFERENCES journal_transactions (id),
    -- Why it was retried or skipped: no_funds, limit, paused, stopped, refused:<code>.
    reason          TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    paid_at         TIMESTAMPTZ,
    skipped_at      TIMESTAMPTZ,
    UNIQUE (schedule_id, due_at),
    CONSTRAINT scheduled_occurrences_paid_check
        CHECK ((status = 'paid') = (paid_at IS NOT NULL AND transaction_id IS NOT NULL)),
    CONSTRAINT scheduled_occurrences_skipped_check
        CHECK ((status = 'skipped') = (skipped_at IS NOT NULL AND reason IS NOT NULL))
);
-- What the worker claims: open occurrences by when they may run.
CREATE INDEX scheduled_occurrences_open_idx ON scheduled_occurrences (next_attempt_at)
    WHERE status IN ('due', 'retrying');
CREATE UNIQUE INDEX scheduled_occurrences_transaction_idx ON scheduled_occurrences (transaction_id);

-- A schedule's terms never change; stopped and finished are for good; never deleted.
CREATE FUNCTION scheduled_payments_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a scheduled payment is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'active' THEN
            RAISE EXCEPTION 'a scheduled payment is created active'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.owner_user_id, NEW.kind, NEW.payee, NEW.payee_name, NEW.amount, NEW.note,
        NEW.frequency, NEW.day, NEW.at_time, NEW.start_date, NEW.until_date, NEW.max_count,
        NEW.channel, NEW.idempotency_key, NEW.request_hash, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.owner_user_id, OLD.kind, OLD.payee, OLD.payee_name, OLD.amount, OLD.note,
        OLD.frequency, OLD.day, OLD.at_time, OLD.start_date, OLD.until_date, OLD.max_count,
        OLD.channel, OLD.idempotency_key, OLD.request_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'a scheduled payment''s terms are never edited'
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status IN ('stopped', 'finished') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a scheduled payment that is % stays so', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER scheduled_payments_guard
    BEFORE INSERT OR UPDATE OR DELETE ON scheduled_payments
    FOR EACH ROW EXECUTE FUNCTION scheduled_payments_guard();

-- An occurrence is born due for its instant; it moves forward only (due -> retrying ->
-- paid | skipped), paid and skipped are for good, and its instant never changes.
CREATE FUNCTION scheduled_occurrences_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'an occurrence is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'due' OR NEW.attempts <> 0 THEN
            RAISE EXCEPTION 'an occurrence is created due, untried'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.schedule_id, NEW.due_at, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.schedule_id, OLD.due_at, OLD.created_at) THEN
        RAISE EXCEPTION 'an occurrence''s instant is never edited'
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status IN ('paid', 'skipped') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'an occurrence that is % stays so', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'due' AND OLD.status <> 'due' THEN
        RAISE EXCEPTION 'an occurrence cannot go from % back to due', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.attempts < OLD.attempts THEN
        RAISE EXCEPTION 'an occurrence''s attempts only grow' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER scheduled_occurrences_guard
    BEFORE INSERT OR UPDATE OR DELETE ON scheduled_occurrences
    FOR EACH ROW EXECUTE FUNCTION scheduled_occurrences_guard();


-- ---- bills and airtime (migration 0024, docs/bills.md) ----------------------------

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
-- unknown -> delivered | failed, only on the rail's own status answer; delivered ->
-- reversed by an operator once the biller refunded it (migration 0041).
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
                    CHECK (status IN ('held', 'delivered', 'failed', 'unknown', 'reversed')),
    -- 'system': a scheduled payment the worker holds (migration 0036).
    channel         TEXT        NOT NULL CHECK (channel IN ('ussd', 'api', 'system')),
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
    -- The B2B rail's (migration 0031): the status answers that found no such
    -- transaction, and KPLC prepaid's token and units.
    not_found_answers INTEGER NOT NULL DEFAULT 0 CHECK (not_found_answers >= 0),
    token           TEXT        CHECK (token ~ '^[0-9]{20}$'),
    units           TEXT        CHECK (units ~ '^[0-9]{1,7}(\.[0-9]{1,2})?$'),
    -- A reversed bill (migration 0041) keeps its ending (bill_payment) and when it ended.
    CONSTRAINT bill_payments_ended_check
        CHECK ((status IN ('delivered', 'failed', 'reversed')) = (ended_at IS NOT NULL)),
    CONSTRAINT bill_payments_outcome_check
        CHECK ((status IN ('delivered', 'failed', 'reversed')) = (outcome_id IS NOT NULL))
);
CREATE INDEX bill_payments_user_idx ON bill_payments (user_id, id);
-- A day's bills, read by M-Pesa reconciliation (migration 0038).
CREATE INDEX bill_payments_created_idx ON bill_payments (created_at);
CREATE INDEX bill_payments_check_idx ON bill_payments (check_after)
    WHERE status IN ('held', 'unknown') AND check_after IS NOT NULL;

-- Every transaction status query PayTrace asked M-Pesa about a Paybill bill (migration
-- 0031): only an answer to one of these (matched by its ConversationID) may end the
-- bill, and each answer is read once.
CREATE TABLE bill_status_queries (
    conversation_id TEXT        PRIMARY KEY CHECK (length(conversation_id) BETWEEN 1 AND 100),
    bill_payment_id BIGINT      NOT NULL REFERENCES bill_payments (id),
    asked_at        TIMESTAMPTZ NOT NULL,
    answered_at     TIMESTAMPTZ
);
CREATE INDEX bill_status_queries_bill_idx ON bill_status_queries (bill_payment_id);

-- Only the state machine's steps; an ended payment stays ended (but for a delivered one
-- reversed once its bill_reversals row is written, migration 0041); its terms never change.
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

CREATE TRIGGER bill_payments_guard
    BEFORE INSERT OR UPDATE OR DELETE ON bill_payments
    FOR EACH ROW EXECUTE FUNCTION bill_payments_guard();


-- ---- pay orders paid from M-Pesa (migration 0029) ---------------------------------

-- An STK push a merchant asked for, to have an order paid from the customer's phone:
-- requested (queued), pending (M-Pesa prompted the phone), answered (its callback said
-- paid: the payment is recorded in mpesa_order_payments and checked like a paybill
-- payment), failed (not paid, or the push refused) or unknown (its answer was lost).
-- A pending push whose callback does not come is asked about (STK query) from
-- next_check_at.
CREATE TABLE mpesa_order_pushes (
    id                  BIGSERIAL   PRIMARY KEY,
    order_id            BIGINT      NOT NULL REFERENCES pay_orders (id),
    phone               TEXT        NOT NULL CHECK (phone ~ '^\+254[17][0-9]{8}$'),
    amount              BIGINT      NOT NULL CHECK (amount > 0),
    status              TEXT        NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'pending', 'answered', 'failed',
                                          'unknown')),
    checkout_request_id TEXT        UNIQUE CHECK (length(checkout_request_id) <= 100),
    result_code         TEXT        CHECK (length(result_code) <= 20),
    result_desc         TEXT        CHECK (length(result_desc) <= 300),
    created_at          TIMESTAMPTZ NOT NULL,
    next_check_at       TIMESTAMPTZ
);
CREATE INDEX mpesa_order_pushes_order_idx ON mpesa_order_pushes (order_id, id);
CREATE INDEX mpesa_order_pushes_due_idx ON mpesa_order_pushes (next_check_at)
    WHERE status = 'pending';

-- One row per M-Pesa payment toward an order (its TransID is unique: a confirmation
-- delivered again finds it). 'confirming' until M-Pesa's own answer to PayTrace's
-- status query: then 'paid' (the order with it, one transaction), 'not_found' (M-Pesa
-- has no such payment: nothing moved), 'returning' (the order could not take it: owed
-- back in the ledger, reversed with M-Pesa) then 'returned' once M-Pesa confirms the
-- reversal, or 'review' (M-Pesa's answer disagrees with the confirmation, or the
-- reversal failed: an operator acts; nothing is kept silently).
CREATE TABLE mpesa_order_payments (
    id             BIGSERIAL   PRIMARY KEY,
    -- c2b: the paybill from the M-Pesa menu; stk: a push the merchant asked for.
    source         TEXT        NOT NULL CHECK (source IN ('c2b', 'stk')),
    trans_id       TEXT        NOT NULL UNIQUE CHECK (length(trans_id) BETWEEN 1 AND 40),
    -- The account number the customer typed (an order code, or anything).
    bill_ref       TEXT        NOT NULL CHECK (length(bill_ref) <= 40),
    amount         BIGINT      NOT NULL CHECK (amount > 0),
    msisdn         TEXT        CHECK (length(msisdn) <= 64),
    payer_name     TEXT        CHECK (length(payer_name) <= 100),
    status         TEXT        NOT NULL DEFAULT 'confirming'
                   CHECK (status IN ('confirming', 'paid', 'not_found', 'returning',
                                     'returned', 'review')),
    order_id       BIGINT      REFERENCES pay_orders (id),
    transaction_id BIGINT      UNIQUE REFERENCES journal_transactions (id),
    not_found      INTEGER     NOT NULL DEFAULT 0 CHECK (not_found >= 0),
    result_desc    TEXT        CHECK (length(result_desc) <= 300),
    received_at    TIMESTAMPTZ NOT NULL,
    next_check_at  TIMESTAMPTZ,
    settled_at     TIMESTAMPTZ,
    -- Owed back (mpesa_owed_back) and returned (mpesa_order_returned), and the reversal
    -- M-Pesa took (its ids are the gateway's: a status query finds it by the second).
    owed_transaction_id      BIGINT UNIQUE REFERENCES journal_transactions (id),
    returned_transaction_id  BIGINT UNIQUE REFERENCES journal_transactions (id),
    reversal_conversation_id TEXT   CHECK (length(reversal_conversation_id) <= 100),
    reversal_originator_id   TEXT   UNIQUE CHECK (length(reversal_originator_id) <= 100),
    CHECK ((status = 'paid') = (transaction_id IS NOT NULL AND order_id IS NOT NULL)),
    CHECK ((status = 'confirming') = (settled_at IS NULL)),
    CHECK (status IN ('confirming', 'returning') OR next_check_at IS NULL),
    CHECK (status NOT IN ('returning', 'returned') OR owed_transaction_id IS NOT NULL),
    CHECK ((status = 'returned') = (returned_transaction_id IS NOT NULL))
);
CREATE INDEX mpesa_order_payments_due_idx ON mpesa_order_payments (next_check_at)
    WHERE status IN ('confirming', 'returning');
CREATE INDEX mpesa_order_payments_review_idx ON mpesa_order_payments (id)
    WHERE status = 'review';
-- A day's paybill payments, read by M-Pesa reconciliation (migration 0038).
CREATE INDEX mpesa_order_payments_received_idx ON mpesa_order_payments (received_at);

-- A status query asks about a withdrawal or an order payment, never both.
ALTER TABLE mpesa_status_queries
    ADD COLUMN order_payment_id BIGINT REFERENCES mpesa_order_payments (id);
ALTER TABLE mpesa_status_queries ADD CONSTRAINT mpesa_status_queries_subject_check
    CHECK ((withdrawal_id IS NULL) <> (order_payment_id IS NULL));
CREATE INDEX mpesa_status_queries_order_payment_idx
    ON mpesa_status_queries (order_payment_id, id) WHERE order_payment_id IS NOT NULL;

-- ---- refunds through the rail (migration 0032) ------------------------------------
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

-- A Stellar refund has a key of its own (id): it sends back a payment owed back (its
-- incoming operation) or a merchant's refund (each partial refund its own), exactly one.
ALTER TABLE stellar_refunds DROP CONSTRAINT stellar_refunds_pkey;
ALTER TABLE stellar_refunds ADD COLUMN id BIGSERIAL PRIMARY KEY;
ALTER TABLE stellar_refunds ALTER COLUMN operation_id DROP NOT NULL;
ALTER TABLE stellar_refunds ADD CONSTRAINT stellar_refunds_operation_id_key UNIQUE (operation_id);
ALTER TABLE stellar_refunds
    ADD COLUMN merchant_refund_id BIGINT UNIQUE REFERENCES merchant_refunds (id),
    ADD CONSTRAINT stellar_refunds_source_check
        CHECK (num_nonnulls(operation_id, merchant_refund_id) = 1);

-- ---- wages: statutory deductions (docs/wages.md) -----------------------------------

-- Wages (docs/wages.md): Kenya's statutory deductions as data, one row per version of
-- each item, in force from its date until the next version of the same item. A change
-- in the law is a new row (a migration), never an edit: a pay run keeps the amounts it
-- computed, and older periods keep being computed with the rules of their day.
--
-- Amounts are monthly cents; rates are basis points (1/100 of a percent: 2.75 % = 275).
-- A weekly or daily pay prorates every amount (docs/wages.md, app/domain/wages.py).
--
-- nssf: 6 % of pay up to the lower earnings limit (Tier I) and 6 % of pay between the
--       lower and upper limits (Tier II), from the worker and the same from the employer.
-- shif: a percentage of gross pay with a monthly minimum, from the worker only.
-- ahl:  the Affordable Housing Levy, a percentage of gross pay from each side.
-- paye: income tax on taxable pay by the bands in paye_bands, less personal relief.
-- tax_deductible: the worker's share is taken off gross pay before PAYE.
CREATE TABLE statutory_rules (
    item             TEXT    NOT NULL CHECK (item IN ('nssf', 'shif', 'ahl', 'paye')),
    effective_from   DATE    NOT NULL,
    employee_rate_bp INTEGER NOT NULL CHECK (employee_rate_bp BETWEEN 0 AND 10000),
    employer_rate_bp INTEGER NOT NULL CHECK (employer_rate_bp BETWEEN 0 AND 10000),
    minimum          BIGINT  CHECK (minimum > 0),
    lower_limit      BIGINT  CHECK (lower_limit > 0),
    upper_limit      BIGINT  CHECK (upper_limit > lower_limit),
    relief           BIGINT  CHECK (relief >= 0),
    tax_deductible   BOOLEAN NOT NULL,
    -- The law or notice this version comes from (docs/wages.md gives the detail).
    source           TEXT    NOT NULL CHECK (length(source) BETWEEN 5 AND 200),
    PRIMARY KEY (item, effective_from),
    CHECK ((item = 'nssf') = (lower_limit IS NOT NULL AND upper_limit IS NOT NULL)),
    CHECK ((item = 'paye') = (relief IS NOT NULL)),
    CHECK (item <> 'paye' OR (employee_rate_bp = 0 AND employer_rate_bp = 0
                              AND NOT tax_deductible AND minimum IS NULL))
);

-- PAYE's bands of one version (the statutory_rules paye row of the same date), lowest
-- first: band n taxes taxable pay above band n-1's upper limit up to its own at
-- rate_bp; the top band alone has no upper limit.
CREATE TABLE paye_bands (
    item           TEXT     NOT NULL DEFAULT 'paye' CHECK (item = 'paye'),
    effective_from DATE     NOT NULL,
    band           SMALLINT NOT NULL CHECK (band BETWEEN 1 AND 20),
    upper_limit    BIGINT   CHECK (upper_limit > 0),
    rate_bp        INTEGER  NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (effective_from, band),
    FOREIGN KEY (item, effective_from) REFERENCES statutory_rules (item, effective_from)
);

-- The versions in force from 27 December 2024, when the Tax Laws (Amendment) Act 2024
-- made SHIF and the levy deductible before PAYE; a pay date before it has no rules
-- (PayTrace does not compute earlier pay). Sources and dates: docs/wages.md.
-- NSSF: the NSSF Act 2013's phase-in, a new lower and upper earnings limit each February.
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, lower_limit, upper_limit, tax_deductible, source)
VALUES ('nssf', '2024-02-01', 600, 600, 700000, 3600000, true, 'NSSF Act 2013 - limits from February 2024: LEL 7000 UEL 36000'),
       ('nssf', '2025-02-01', 600, 600, 800000, 7200000, true, 'NSSF Act 2013 - limits from February 2025: LEL 8000 UEL 72000'),
       ('nssf', '2026-02-01', 600, 600, 900000, 10800000, true, 'NSSF Act 2013 - limits from February 2026: LEL 9000 UEL 108000');
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, minimum, tax_deductible, source)
VALUES ('shif', '2024-12-27', 275, 0, 30000, true, 'Social Health Insurance Act 2023 - 2.75 pct with KES 300 minimum - deductible by Tax Laws Amendment Act 2024');
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, tax_deductible, source)
VALUES ('ahl', '2024-12-27', 150, 150, true, 'Affordable Housing Act 2024 - 1.5 pct each side - deductible by Tax Laws Amendment Act 2024');
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, relief, tax_deductible, source)
VALUES ('paye', '2024-12-27', 0, 0, 240000, false, 'Income Tax Act - monthly bands of the Finance Act 2023 and personal relief KES 2400');
INSERT INTO paye_bands (effective_from, band, upper_limit, rate_bp)
VALUES ('2024-12-27', 1, 2400000, 1000),
       ('2024-12-27', 2, 3233300, 2500),
       ('2024-12-27', 3, 50000000, 3000),
       ('2024-12-27', 4, 80000000, 3250),
       ('2024-12-27', 5, NULL, 3500);

-- ---- wages: employers, workers, pay runs (docs/wages.md) ------------------------------

-- Any user may become an employer: one row, made once.
CREATE TABLE employers (
    user_id    BIGINT      PRIMARY KEY REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
);

-- A worker an employer pays, by phone: the worker need not be on PayTrace yet (an
-- invitation is sent); the wallet is found by phone when a line is paid. The terms
-- (gross pay, frequency, deductions) are what the next pay run copies.
CREATE TABLE employed_workers (
    id               BIGSERIAL   PRIMARY KEY,
    employer_user_id BIGINT      NOT NULL REFERENCES employers (user_id),
    phone            TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    display_name     TEXT        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 30),
    gross_pay        BIGINT      NOT NULL CHECK (gross_pay > 0),
    frequency        TEXT        NOT NULL CHECK (frequency IN ('monthly', 'weekly', 'daily')),
    -- The statutory items this worker pays (app/domain/wages.py ITEMS).
    deductions       TEXT[]      NOT NULL
                     CHECK (deductions <@ ARRAY['nssf', 'shif', 'ahl', 'paye']::text[]),
    status           TEXT        NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'removed')),
    created_at       TIMESTAMPTZ NOT NULL,
    removed_at       TIMESTAMPTZ,
    CHECK ((status = 'removed') = (removed_at IS NOT NULL))
);
-- One active entry per employer and phone.
CREATE UNIQUE INDEX employed_workers_phone_idx ON employed_workers (employer_user_id, phone)
    WHERE status = 'active';
CREATE INDEX employed_workers_phone_lookup_idx ON employed_workers (phone);

-- A pay run: one employer, one pay date (which chooses the rules in force).
-- draft -> approved -> funded -> paying -> completed | partially_failed;
-- draft | approved -> canceled (nothing held), for good (migration 0043).
-- Approving holds the run's whole cost (hold_id); the worker pays each line; once no
-- line is queued the run ends completed (every line paid) or partially_failed. A wage
-- schedule's run the wallet cannot pay yet waits 'approved' (nothing held) and is
-- 'canceled' when its occurrence is skipped.
CREATE TABLE pay_runs (
    id               BIGSERIAL   PRIMARY KEY,
    reference        TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    employer_user_id BIGINT      NOT NULL REFERENCES employers (user_id),
    pay_date         DATE        NOT NULL,
    status           TEXT        NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'approved', 'funded', 'paying', 'completed',
                                       'partially_failed', 'canceled')),
    -- Gross pay and employer shares of every line: what approving holds.
    total_cost       BIGINT      NOT NULL CHECK (total_cost > 0),
    -- system: made by a wage schedule's occurrence (migration 0040).
    channel          TEXT        NOT NULL CHECK (channel IN ('ussd', 'api', 'system')),
    idempotency_key  TEXT        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash     TEXT        NOT NULL,
    hold_id          BIGINT      UNIQUE REFERENCES journal_transactions (id),
    -- The Nairobi day the hold counted against the employer's limits.
    hold_day         DATE,
    created_at       TIMESTAMPTZ NOT NULL,
    approved_at      TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    UNIQUE (employer_user_id, idempotency_key),
    -- A run canceled as a draft was never approved; one canceled while approved was.
    CHECK (status = 'canceled' OR (status = 'draft') = (approved_at IS NULL)),
    CHECK ((status IN ('draft', 'approved', 'canceled')) = (hold_id IS NULL)),
    CHECK ((hold_id IS NULL) = (hold_day IS NULL)),
    CHECK ((status IN ('completed', 'partially_failed', 'canceled')) = (ended_at IS NOT NULL))
);
CREATE INDEX pay_runs_employer_idx ON pay_runs (employer_user_id, id);

-- A run moves one way only, along the steps above; an ended run stays ended; what it
-- pays (its date, cost, key) never changes; it is never deleted.
CREATE FUNCTION pay_runs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a pay run is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'draft' THEN
            RAISE EXCEPTION 'a pay run is created a draft' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.reference, NEW.employer_user_id, NEW.pay_date, NEW.total_cost,
        NEW.channel, NEW.idempotency_key, NEW.request_hash, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.reference, OLD.employer_user_id, OLD.pay_date, OLD.total_cost,
        OLD.channel, OLD.idempotency_key, OLD.request_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'a pay run''s terms are never edited' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status IN ('completed', 'partially_failed', 'canceled')
       AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a pay run that is % stays so', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'draft' AND NEW.status IN ('approved', 'funded', 'canceled'))
        OR (OLD.status = 'approved' AND NEW.status IN ('funded', 'canceled'))
        OR (OLD.status = 'funded' AND NEW.status IN ('paying', 'completed', 'partially_failed'))
        OR (OLD.status = 'paying' AND NEW.status IN ('completed', 'partially_failed'))
    ) THEN
        RAISE EXCEPTION 'a pay run cannot go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER pay_runs_guard
    BEFORE INSERT OR UPDATE OR DELETE ON pay_runs
    FOR EACH ROW EXECUTE FUNCTION pay_runs_guard();

-- One worker's line of a run, its payslip computed when the run was made.
-- queued -> paid | failed; failed -> retried (put into a new run by the employer).
CREATE TABLE pay_run_lines (
    id                     BIGSERIAL   PRIMARY KEY,
    pay_run_id             BIGINT      NOT NULL REFERENCES pay_runs (id),
    worker_id              BIGINT      NOT NULL REFERENCES employed_workers (id),
    phone                  TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    display_name           TEXT        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 30),
    gross                  BIGINT      NOT NULL CHECK (gross > 0),
    frequency              TEXT        NOT NULL CHECK (frequency IN ('monthly', 'weekly', 'daily')),
    -- The payslip's lines: [{"code", "item", "employee", "employer"}], cents.
    deductions             JSONB       NOT NULL,
    employee_deductions    BIGINT      NOT NULL CHECK (employee_deductions >= 0),
    employer_contributions BIGINT      NOT NULL CHECK (employer_contributions >= 0),
    net                    BIGINT      NOT NULL CHECK (net >= 0),
    status                 TEXT        NOT NULL DEFAULT 'queued'
                           CHECK (status IN ('queued', 'paid', 'failed', 'retried')),
    -- wage_payment (paid) or wage_release (failed): the one ending.
    transaction_id         BIGINT      UNIQUE REFERENCES journal_transactions (id),
    failure                TEXT        CHECK (length(failure) <= 100),
    ended_at               TIMESTAMPTZ,
    UNIQUE (pay_run_id, worker_id),
    CHECK (net + employee_deductions = gross),
    CHECK ((status = 'queued') = (transaction_id IS NULL)),
    CHECK ((status = 'queued') = (ended_at IS NULL)),
    CHECK ((status IN ('failed', 'retried')) = (failure IS NOT NULL))
);
CREATE INDEX pay_run_lines_phone_idx ON pay_run_lines (phone, id);

-- A transfer in one statement (docs/benchmarks.md, "The ledger in one statement").
--
-- ledger_transfer does in one call what a transfer did in three round trips (lock,
-- read the key and outflows, post), with its plans cached for the session: PL/pgSQL
-- keeps them per backend, so it stays safe behind PgBouncer in transaction mode where
-- a session's PREPARE would not be. The service runs it as a transaction of its own
-- (autocommit), so the accounts' locks end inside PostgreSQL at the statement's
-- COMMIT, never waiting on a round trip to the client. What needs no lock is read
-- before the first lock; the accounts are then locked in id order, as every movement
-- locks them, so deadlocks stay impossible.
--
-- A refusal is an outcome, not an error, and writes nothing. Unique and CHECK
-- violations (a key or reference taken concurrently, an overdraft) are raised as by
-- LedgerRepository.post, with the same constraint names.

-- format_kes (app/domain/money.py) in SQL: 12345 -> '123.45', 100000 -> '1,000'.
-- A test holds the two to the same answers.
CREATE FUNCTION ledger_format_kes(cents BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN cents < 0 THEN '-' ELSE '' END
        || to_char(abs(cents) / 100, 'FM999,999,999,999,999,990')
        || CASE WHEN abs(cents) % 100 = 0 THEN ''
                ELSE '.' || lpad((abs(cents) % 100)::text, 2, '0') END
$$;

-- p_messages: a JSON array of {kind, dedupe_key, payload, parts, balance_of}: the
-- SMS text is `parts` joined by the balance after the transfer of the wallet of user
-- `balance_of` (known only under the lock), written as payload's "message".
-- Outcomes: posted | replay (the key holds an earlier movement) | self | stale (the
-- phone no longer names p_recipient_user_id) | no_sender_wallet | no_recipient_wallet
-- | limits (day_total and rolling_total say how much went out) | no_fee_band
-- | insufficient (sender_balance says what the sender has).
CREATE FUNCTION ledger_transfer(
    p_sender_user_id    BIGINT,
    p_recipient_user_id BIGINT,
    p_recipient_phone   TEXT,
    p_fees_code         TEXT,
    p_amount            BIGINT,
    p_fee               BIGINT,
    p_key               TEXT,
    p_request_hash      TEXT,
    p_reference         TEXT,
    p_channel           TEXT,
    p_note              TEXT,
    p_created_at        TIMESTAMPTZ,
    p_today             DATE,
    p_issuer_kinds      TEXT[],
    p_messages          JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, sender_balance BIGINT,
                 receiver_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_accounts  BIGINT[];
    v_amounts   BIGINT[];
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_recipient_user_id = p_sender_user_id THEN
        RETURN QUERY SELECT 'self'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u
                   WHERE u.id = p_recipient_user_id AND u.phone = p_recipient_phone) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_sender, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id INTO v_receiver FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id INTO STRICT v_fees FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    v_accounts := ARRAY[v_sender, v_receiver];
    v_amounts := ARRAY[-(p_amount + coalesce(p_fee, 0)), p_amount];
    IF v_fees IS NOT NULL THEN
        v_accounts := v_accounts || v_fees;
        v_amounts := v_amounts || p_fee;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check.
    PERFORM 1 FROM ledger_accounts a WHERE a.id = ANY (v_accounts) ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_sender;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_sender AND o.day > p_today - 30;

    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF p_fee IS NULL THEN
        RETURN QUERY SELECT 'no_fee_band'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount + p_fee THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'transfer', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_sender_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted (as LedgerRepository.post).
    INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
    SELECT v_tx,
           coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
           array_agg(p.party ORDER BY p.party), 'pending', 'paytrace'
    FROM (
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(v_accounts, v_amounts) AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind <> ALL (p_issuer_kinds)
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ) p
    HAVING count(*) > 0;

    -- The leg trigger moves each balance and sets balance_after.
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, v_sender, -(p_amount + p_fee), 0)
    RETURNING balance_after INTO v_sender_after;
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, v_receiver, p_amount, 0)
    RETURNING balance_after INTO v_receiver_after;
    IF v_fees IS NOT NULL THEN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_fees, p_fee, 0);
    END IF;

    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               ledger_format_kes(CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                                      THEN v_sender_after ELSE v_receiver_after END))),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    -- Last: what a crash test waits on (tests/integration/test_ledger_crash.py), with
    -- everything else written.
    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_sender, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_sender_after, v_receiver_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;

-- ---- cashback and referrals (migration 0036) --------------------------------------

-- A cashback rule: for one biller, or every biller of a category (a biller's own rule
-- wins), from valid_from to valid_until (Nairobi days, both inclusive; NULL: open);
-- of the rules valid on a day, the newest applies. What one user earns under it in a
-- Nairobi month is at most monthly_cap.
CREATE TABLE cashback_rules (
    id          BIGSERIAL   PRIMARY KEY,
    name        TEXT        NOT NULL CHECK (length(name) BETWEEN 2 AND 60),
    biller_id   BIGINT      REFERENCES billers (id),
    category    TEXT        CHECK (category IN ('electricity', 'water', 'tv', 'airtime')),
    monthly_cap BIGINT      NOT NULL CHECK (monthly_cap > 0),
    valid_from  DATE        NOT NULL,
    valid_until DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((biller_id IS NULL) <> (category IS NULL)),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX cashback_rules_biller_idx ON cashback_rules (biller_id) WHERE biller_id IS NOT NULL;

-- A rule's amount tiers: a bill of min_amount..max_amount cents (both inclusive) earns
-- rate_bp basis points of its amount (rounded down to the cent); an amount no tier
-- covers earns nothing.
CREATE TABLE cashback_tiers (
    rule_id    BIGINT  NOT NULL REFERENCES cashback_rules (id),
    min_amount BIGINT  NOT NULL CHECK (min_amount > 0),
    max_amount BIGINT  NOT NULL,
    rate_bp    INTEGER NOT NULL CHECK (rate_bp BETWEEN 1 AND 10000),
    PRIMARY KEY (rule_id, min_amount),
    CHECK (max_amount >= min_amount)
);

-- Cashback paid: one per delivered bill at most, counted against its rule's cap for
-- the user's month (the first day of the Nairobi month).
CREATE TABLE cashback_awards (
    id              BIGSERIAL   PRIMARY KEY,
    bill_payment_id BIGINT      NOT NULL UNIQUE REFERENCES bill_payments (id),
    rule_id         BIGINT      NOT NULL REFERENCES cashback_rules (id),
    user_id         BIGINT      NOT NULL REFERENCES users (id),
    month           DATE        NOT NULL CHECK (extract(day FROM month) = 1),
    amount          BIGINT      NOT NULL CHECK (amount > 0),
    transaction_id  BIGINT      NOT NULL UNIQUE REFERENCES journal_transactions (id),
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX cashback_awards_month_idx ON cashback_awards (user_id, rule_id, month);

-- The referral programme: a bonus to whoever invited a new user, paid when the new
-- user's first deposit is credited, while the budget lasts (spent never exceeds it).
-- Of the programmes valid on a day (Nairobi, both ends inclusive), the newest applies.
CREATE TABLE referral_programs (
    id          BIGSERIAL   PRIMARY KEY,
    bonus       BIGINT      NOT NULL CHECK (bonus > 0),
    budget      BIGINT      NOT NULL CHECK (budget > 0),
    spent       BIGINT      NOT NULL DEFAULT 0 CHECK (spent >= 0),
    valid_from  DATE        NOT NULL,
    valid_until DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (spent <= budget),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);

-- Who invited a number first (Send money's invitation SMS): the referrer of the user
-- who registers with it. Decided once, at that user's first deposit: 'paid' (the
-- bonus's transaction), or why not ('no_programme', 'budget_spent', 'promotions_empty').
CREATE TABLE referrals (
    invitee_phone    TEXT        PRIMARY KEY CHECK (invitee_phone ~ '^\+[1-9][0-9]{6,14}$'),
    referrer_user_id BIGINT      NOT NULL REFERENCES users (id),
    invited_at       TIMESTAMPTZ NOT NULL,
    referred_user_id BIGINT      UNIQUE REFERENCES users (id),
    outcome          TEXT        CHECK (outcome IN ('paid', 'no_programme', 'budget_spent',
                                                    'promotions_empty')),
    program_id       BIGINT      REFERENCES referral_programs (id),
    transaction_id   BIGINT      UNIQUE REFERENCES journal_transactions (id),
    decided_at       TIMESTAMPTZ,
    CHECK ((outcome IS NULL) = (decided_at IS NULL)),
    CHECK ((outcome = 'paid') = (transaction_id IS NOT NULL)),
    CHECK (outcome IS NULL OR referred_user_id IS NOT NULL)
);
CREATE INDEX referrals_referrer_idx ON referrals (referrer_user_id);


-- ---- bill reversals (migration 0041, docs/bills.md) -------------------------------

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
-- ---- migration 0045: a harambee contribution in one statement ----
-- A harambee contribution in one statement (docs/benchmarks.md, "A contribution in one
-- statement"), as ledger_transfer (migration 0037) does a transfer.
--
-- A campaign's escrow is a hot account: everyone contributing locks it. Posted statement
-- by statement, a contribution held that lock across four round trips to the client
-- (lock, read after the lock, post, record) and its COMMIT. ledger_contribute checks and
-- writes everything under the locks and the service runs it as a transaction of its own
-- (autocommit), so the escrow's lock ends inside PostgreSQL at the statement's COMMIT.
-- The accounts are locked in id order, as every movement locks them.
--
-- A refusal is an outcome, not an error, and writes nothing. Unique and CHECK violations
-- (a key or reference taken concurrently, an overdraft) are raised as by
-- LedgerRepository.post, with the same constraint names.

-- A message's text with the values known only under the lock written in: `parts`
-- alternates literal text and the name of a value (amount, balance, raised, target:
-- formatted as format_kes; target_cents: the bare integer).
CREATE FUNCTION ledger_fill_slots(parts JSONB, amount BIGINT, balance BIGINT, raised BIGINT,
                                  target BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(
        CASE WHEN p.n % 2 = 1 THEN p.part
             WHEN p.part = 'amount' THEN ledger_format_kes(amount)
             WHEN p.part = 'balance' THEN ledger_format_kes(balance)
             WHEN p.part = 'raised' THEN ledger_format_kes(raised)
             WHEN p.part = 'target' THEN ledger_format_kes(target)
             WHEN p.part = 'target_cents' THEN target::text
        END, '' ORDER BY p.n), '')
    FROM jsonb_array_elements_text(parts) WITH ORDINALITY AS p (part, n)
$$;

-- p_receipt: {kind, payload, dedupe_key, parts}: the contributor's SMS, its text (and
-- dedupe key's) `parts` filled by ledger_fill_slots. p_milestones: one such message per
-- milestone (with its "percent"); the highest the escrow crosses is sent (the rule of
-- app.domain.harambee.milestone_reached: before*100 < percent*target <= after*100).
-- Outcomes: posted | replay (the key holds an earlier movement) | no_wallet | not_open
-- (detail: the campaign's status) | no_pledge | pledge_closed (detail: its status)
-- | exceeds_pledge (remaining) | limits (day_total, rolling_total; amount) | insufficient
-- (balance: what the wallet has; amount).
CREATE FUNCTION ledger_contribute(
    p_user_id      BIGINT,
    p_campaign_id  BIGINT,
    p_escrow_id    BIGINT,
    p_amount       BIGINT,
    p_pledge_id    BIGINT,
    p_key          TEXT,
    p_request_hash TEXT,
    p_reference    TEXT,
    p_channel      TEXT,
    p_note         TEXT,
    p_created_at   TIMESTAMPTZ,
    p_today        DATE,
    p_is_anonymous BOOLEAN,
    p_message      TEXT,
    p_issuer_kinds TEXT[],
    p_receipt      JSONB,
    p_milestones   JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, contribution_id BIGINT, amount BIGINT,
                 balance BIGINT, raised BIGINT, day_total BIGINT, rolling_total BIGINT,
                 detail TEXT, remaining BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet    BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_amount    BIGINT := p_amount;
    v_balance   BIGINT;
    v_escrow    BIGINT;
    v_status    TEXT;
    v_end_date  DATE;
    v_target    BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_pledger   BIGINT;
    v_pledged   BIGINT;
    v_paid      BIGINT;
    v_cancelled TIMESTAMPTZ;
    v_due       DATE;
    v_pledge_st TEXT;
    v_tx        BIGINT;
    v_after     BIGINT;
    v_raised    BIGINT;
    v_id        BIGINT;
    v_milestone JSONB;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_wallet, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    PERFORM 1 FROM ledger_accounts a WHERE a.id IN (v_wallet, p_escrow_id) ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.balance INTO v_escrow FROM ledger_accounts a WHERE a.id = p_escrow_id;
    SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
    FROM campaigns c WHERE c.id = p_campaign_id;
    -- app.domain.harambee.takes_money
    IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
        RETURN QUERY SELECT 'not_open'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_status, NULL::bigint;
        RETURN;
    END IF;

    IF p_pledge_id IS NOT NULL THEN
        SELECT p.user_id, p.amount, p.cancelled_at, p.due_date,
               (SELECT coalesce(sum(t.amount), 0)::bigint
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.pledge_id = p.id)
        INTO v_pledger, v_pledged, v_cancelled, v_due, v_paid
        FROM pledges p
        WHERE p.id = p_pledge_id AND p.campaign_id = p_campaign_id;
        IF v_pledger IS NULL OR v_pledger <> p_user_id THEN
            RETURN QUERY SELECT 'no_pledge'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
        -- pledges.STATUS_SQL (the campaign is active here)
        v_pledge_st := CASE WHEN v_cancelled IS NOT NULL THEN 'cancelled'
                            WHEN v_paid >= v_pledged THEN 'fulfilled'
                            WHEN v_status <> 'active' THEN 'cancelled'
                            WHEN v_due < p_today THEN 'overdue'
                            WHEN v_paid > 0 THEN 'partially_paid'
                            ELSE 'pledged' END;
        IF v_pledge_st IN ('fulfilled', 'cancelled') THEN
            RETURN QUERY SELECT 'pledge_closed'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                v_pledge_st, NULL::bigint;
            RETURN;
        END IF;
        v_amount := coalesce(p_amount, v_pledged - v_paid);
        IF v_amount > v_pledged - v_paid THEN
            RETURN QUERY SELECT 'exceeds_pledge'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::text, v_pledged - v_paid;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF v_amount > v_per_tx OR v_day + v_amount > v_daily
       OR v_30_days + v_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF v_balance < v_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing).
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'contribution', v_amount, 0, p_key, p_request_hash, p_channel,
            p_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted (as LedgerRepository.post).
    INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
    SELECT v_tx,
           coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
           array_agg(p.party ORDER BY p.party), 'pending', 'paytrace'
    FROM (
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(ARRAY[v_wallet, p_escrow_id], ARRAY[-v_amount, v_amount])
                 AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind <> ALL (p_issuer_kinds)
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ) p
    HAVING count(*) > 0;

    -- The leg trigger moves each balance and sets balance_after.
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, v_wallet, -v_amount, 0)
    RETURNING balance_after INTO v_after;
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, p_escrow_id, v_amount, 0)
    RETURNING balance_after INTO v_raised;

    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE v_escrow * 100 < (m.value ->> 'percent')::bigint * v_target
      AND (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;

-- Every statement in these two functions is planned once per backend and kept (a generic
-- plan): with the default, PL/pgSQL re-planned most of them on every call for the call's
-- parameters (a custom plan), and every plan it could choose is the same index lookup.
-- Measured on the spread ledger: PostgreSQL's CPU per transfer 1.31-1.36 ms before,
-- 1.13-1.14 ms after (docs/benchmarks.md, "Where the spread ledger's time goes").
ALTER FUNCTION ledger_transfer(BIGINT, BIGINT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT,
                               TEXT, TEXT, TIMESTAMPTZ, DATE, TEXT[], JSONB)
    SET plan_cache_mode = force_generic_plan;

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
-- ---- migration 0050: no index entry for a transaction that reverses nothing ----

-- One index entry fewer for every journal transaction (docs/benchmarks.md, "Index
-- entries per transfer"). `reverses_id` is NULL on every transaction but a reversal, yet
-- its UNIQUE constraint's index held an entry for each NULL: a B-tree insertion and a WAL
-- record per transfer, contribution and cash-in, for rows no query looks up (a NULL never
-- equals anything). The same rule, a transaction reversed at most once, now holds in a
-- partial unique index of the same name, so a violation still names
-- journal_transactions_reverses_id_key; its readers (LedgerRepository.reversal_of, the
-- merchant refunds' `r.reverses_id = p.transaction_id`) ask with `=`, which implies NOT
-- NULL, so they still use it.
--
-- Every other index on the tables a transfer writes is read by a query and stays:
-- journal_transactions' idempotency_key (replays) and reference (support, collisions),
-- journal_legs' account_id (statements) and transaction_id (a movement's legs, the
-- balance check), outbox's dedupe_key (ON CONFLICT) and ready/sending queues,
-- stellar_settlements' open queue and envelope (the settler), account_outflows' key
-- (the limits). Balances and outflows are updated HOT (no index entry) already.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_reverses_id_key;
CREATE UNIQUE INDEX journal_transactions_reverses_id_key ON journal_transactions (reverses_id)
    WHERE reverses_id IS NOT NULL;
-- ---- migration 0051: a leaner ledger_transfer and ledger_contribute ----

-- ledger_transfer, leaner (issue 18; docs/benchmarks.md, "Where a transfer's PostgreSQL
-- time went"). The same checks, locks, rows and answers as migration 0037's; three
-- statements of it cost more than their work:
--
-- * The settlement row was built by an aggregate over the legs joined to their
--   accounts (a hash aggregate set up on every call). A transfer's parties are known:
--   two wallets (each its own party) and, with a fee, the fee shard (the treasury,
--   party 0); the sender is the one payer. So the arrays are written directly.
-- * Each SMS's balance was rendered by ledger_format_kes, an SQL function PostgreSQL
--   cannot inline (STRICT, its body a CASE), so it parsed, analysed and planned the
--   body on every call (8 % of the backend's CPU per transfer with the changes below).
--   It is PL/pgSQL now, its plan kept; both balances are rendered into variables
--   once and the outbox INSERT picks one.
-- * The legs were three INSERTs (three executor set-ups, three ExecConstraints
--   passes); they are one INSERT of three rows, written in the same order (sender,
--   recipient, fee), their balances read back from its RETURNING.
-- ledger_format_kes as PL/pgSQL: an SQL function that cannot be inlined (STRICT, with a
-- CASE) is parsed, analysed and planned on every call; PL/pgSQL keeps its expression's
-- plan for the session. The same text for every amount (a test holds it to format_kes).
CREATE OR REPLACE FUNCTION ledger_format_kes(cents BIGINT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN CASE WHEN cents < 0 THEN '-' ELSE '' END
        || to_char(abs(cents) / 100, 'FM999,999,999,999,999,990')
        || CASE WHEN abs(cents) % 100 = 0 THEN ''
                ELSE '.' || lpad((abs(cents) % 100)::text, 2, '0') END;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_transfer(
    p_sender_user_id    BIGINT,
    p_recipient_user_id BIGINT,
    p_recipient_phone   TEXT,
    p_fees_code         TEXT,
    p_amount            BIGINT,
    p_fee               BIGINT,
    p_key               TEXT,
    p_request_hash      TEXT,
    p_reference         TEXT,
    p_channel           TEXT,
    p_note              TEXT,
    p_created_at        TIMESTAMPTZ,
    p_today             DATE,
    p_issuer_kinds      TEXT[],
    p_messages          JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, sender_balance BIGINT,
                 receiver_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_fees_kind TEXT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_accounts  BIGINT[];
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
    v_sender_text    TEXT;
    v_receiver_text  TEXT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_recipient_user_id = p_sender_user_id THEN
        RETURN QUERY SELECT 'self'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u
                   WHERE u.id = p_recipient_user_id AND u.phone = p_recipient_phone) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_sender, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id INTO v_receiver FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id, a.kind INTO STRICT v_fees, v_fees_kind
        FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    v_accounts := ARRAY[v_sender, v_receiver];
    IF v_fees IS NOT NULL THEN
        v_accounts := v_accounts || v_fees;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check.
    PERFORM 1 FROM ledger_accounts a WHERE a.id = ANY (v_accounts) ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_sender;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_sender AND o.day > p_today - 30;

    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF p_fee IS NULL THEN
        RETURN QUERY SELECT 'no_fee_band'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount + p_fee THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'transfer', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_sender_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it:
    -- a wallet is its own party, any other account the treasury (party 0), an issuer
    -- kind no party. The sender's wallet is the one that pays (its net is -(amount +
    -- fee) < 0); the recipient's and the fee shard's nets are positive. Ids are >= 1,
    -- so the treasury sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_fees IS NOT NULL AND v_fees_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[0::bigint];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_sender];
        v_parties := v_parties || ARRAY[least(v_sender, v_receiver),
                                        greatest(v_sender, v_receiver)];
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    -- The leg trigger moves each balance and sets balance_after; the rows go in the
    -- order 0037 wrote them (sender, recipient, fee), so the journal reads the same.
    IF v_fees IS NOT NULL THEN
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -(p_amount + p_fee), 0), (v_tx, v_receiver, p_amount, 0),
                   (v_tx, v_fees, p_fee, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSIF v_leg.account_id = v_receiver THEN
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    ELSE
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -p_amount, 0), (v_tx, v_receiver, p_amount, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSE
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    END IF;

    v_sender_text := ledger_format_kes(v_sender_after);
    v_receiver_text := ledger_format_kes(v_receiver_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                    THEN v_sender_text ELSE v_receiver_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    -- Last: what a crash test waits on (tests/integration/test_ledger_crash.py), with
    -- everything else written.
    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_sender, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_sender_after, v_receiver_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;

-- ledger_fill_slots as PL/pgSQL, for the reason ledger_format_kes is (above): as an SQL
-- function with an aggregate it was parsed and planned on every call, twice or four
-- times a contribution. The same text for the same parts.
CREATE OR REPLACE FUNCTION ledger_fill_slots(parts JSONB, amount BIGINT, balance BIGINT,
                                             raised BIGINT, target BIGINT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (
        SELECT coalesce(string_agg(
            CASE WHEN p.n % 2 = 1 THEN p.part
                 WHEN p.part = 'amount' THEN ledger_format_kes(amount)
                 WHEN p.part = 'balance' THEN ledger_format_kes(balance)
                 WHEN p.part = 'raised' THEN ledger_format_kes(raised)
                 WHEN p.part = 'target' THEN ledger_format_kes(target)
                 WHEN p.part = 'target_cents' THEN target::text
            END, '' ORDER BY p.n), '')
        FROM jsonb_array_elements_text(parts) WITH ORDINALITY AS p (part, n));
END;
$$;

-- ledger_contribute, leaner in the same ways as ledger_transfer: the settlement row
-- written directly, the legs one INSERT (migration 0045 has the rest of its story).
CREATE OR REPLACE FUNCTION ledger_contribute(
    p_user_id      BIGINT,
    p_campaign_id  BIGINT,
    p_escrow_id    BIGINT,
    p_amount       BIGINT,
    p_pledge_id    BIGINT,
    p_key          TEXT,
    p_request_hash TEXT,
    p_reference    TEXT,
    p_channel      TEXT,
    p_note         TEXT,
    p_created_at   TIMESTAMPTZ,
    p_today        DATE,
    p_is_anonymous BOOLEAN,
    p_message      TEXT,
    p_issuer_kinds TEXT[],
    p_receipt      JSONB,
    p_milestones   JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, contribution_id BIGINT, amount BIGINT,
                 balance BIGINT, raised BIGINT, day_total BIGINT, rolling_total BIGINT,
                 detail TEXT, remaining BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet    BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_amount    BIGINT := p_amount;
    v_balance   BIGINT;
    v_escrow    BIGINT;
    v_escrow_kind TEXT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_status    TEXT;
    v_end_date  DATE;
    v_target    BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_pledger   BIGINT;
    v_pledged   BIGINT;
    v_paid      BIGINT;
    v_cancelled TIMESTAMPTZ;
    v_due       DATE;
    v_pledge_st TEXT;
    v_tx        BIGINT;
    v_after     BIGINT;
    v_raised    BIGINT;
    v_id        BIGINT;
    v_milestone JSONB;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_wallet, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    PERFORM 1 FROM ledger_accounts a WHERE a.id IN (v_wallet, p_escrow_id) ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.balance, a.kind INTO v_escrow, v_escrow_kind
    FROM ledger_accounts a WHERE a.id = p_escrow_id;
    SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
    FROM campaigns c WHERE c.id = p_campaign_id;
    -- app.domain.harambee.takes_money
    IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
        RETURN QUERY SELECT 'not_open'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_status, NULL::bigint;
        RETURN;
    END IF;

    IF p_pledge_id IS NOT NULL THEN
        SELECT p.user_id, p.amount, p.cancelled_at, p.due_date,
               (SELECT coalesce(sum(t.amount), 0)::bigint
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.pledge_id = p.id)
        INTO v_pledger, v_pledged, v_cancelled, v_due, v_paid
        FROM pledges p
        WHERE p.id = p_pledge_id AND p.campaign_id = p_campaign_id;
        IF v_pledger IS NULL OR v_pledger <> p_user_id THEN
            RETURN QUERY SELECT 'no_pledge'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
        -- pledges.STATUS_SQL (the campaign is active here)
        v_pledge_st := CASE WHEN v_cancelled IS NOT NULL THEN 'cancelled'
                            WHEN v_paid >= v_pledged THEN 'fulfilled'
                            WHEN v_status <> 'active' THEN 'cancelled'
                            WHEN v_due < p_today THEN 'overdue'
                            WHEN v_paid > 0 THEN 'partially_paid'
                            ELSE 'pledged' END;
        IF v_pledge_st IN ('fulfilled', 'cancelled') THEN
            RETURN QUERY SELECT 'pledge_closed'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                v_pledge_st, NULL::bigint;
            RETURN;
        END IF;
        v_amount := coalesce(p_amount, v_pledged - v_paid);
        IF v_amount > v_pledged - v_paid THEN
            RETURN QUERY SELECT 'exceeds_pledge'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::text, v_pledged - v_paid;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF v_amount > v_per_tx OR v_day + v_amount > v_daily
       OR v_30_days + v_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF v_balance < v_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing).
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'contribution', v_amount, 0, p_key, p_request_hash, p_channel,
            p_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it
    -- (see ledger_transfer): the contributor's wallet pays; the escrow (a 'campaign'
    -- account: the treasury, party 0) is paid. Ids are >= 1, so party 0 sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_escrow_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[CASE WHEN v_escrow_kind = 'wallet' THEN p_escrow_id ELSE 0 END];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_wallet];
        v_parties := CASE WHEN cardinality(v_parties) = 0 THEN ARRAY[v_wallet]
                          ELSE ARRAY[least(v_parties[1], v_wallet),
                                     greatest(v_parties[1], v_wallet)] END;
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    -- The leg trigger moves each balance and sets balance_after: one INSERT, the rows
    -- in 0045's order (the wallet, then the escrow).
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_wallet, -v_amount, 0), (v_tx, p_escrow_id, v_amount, 0)
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSE
            v_raised := v_leg.balance_after;
        END IF;
    END LOOP;

    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE v_escrow * 100 < (m.value ->> 'percent')::bigint * v_target
      AND (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;
-- ---- migration 0052: kind checks by function ----

-- The kinds a movement, an account and an outbox row may have, checked by an IMMUTABLE
-- PL/pgSQL function instead of a literal list (docs/benchmarks.md, "CHECK lists").
--
-- PostgreSQL stores a CHECK constraint as a serialized expression tree and reads it back
-- (stringToNode) on every execution of an INSERT or UPDATE of its table, before it
-- evaluates it: a list of 29 strings is 29 constant nodes to parse each time. Measured on
-- a bare table, one INSERT per execution: 17 us with no CHECK, +78 us with
-- journal_transactions' kind list as written, +43 us as one array constant, +11 us as a
-- call of a PL/pgSQL function holding the list (its plan kept for the session). A
-- transfer writes one journal row, two or three balance UPDATEs (each checks
-- ledger_accounts' kind and non-negative rules) and two outbox rows.
--
-- The rules are the same, and so are the constraints' names (a violation still names
-- them). A kind is added by replacing its function (CREATE OR REPLACE, the whole list):
-- PostgreSQL does not recheck stored rows when a function a CHECK calls changes, so a
-- kind is never removed from a list while a row may hold it.

CREATE FUNCTION journal_kind_known(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind = ANY (ARRAY['transfer', 'cash_in', 'reversal', 'contribution',
                             'campaign_payout', 'campaign_refund', 'deposit', 'withdrawal',
                             'withdrawal_payout', 'withdrawal_release', 'merchant_payment',
                             'merchant_refund', 'stellar_order_payment', 'bill_hold',
                             'bill_payment', 'bill_release', 'mpesa_order_payment',
                             'mpesa_owed_back', 'mpesa_order_returned', 'stellar_order_refund',
                             'stellar_order_refund_sent', 'stellar_order_refund_release',
                             'wage_hold', 'wage_payment', 'wage_release', 'promotions_funding',
                             'cashback', 'referral_bonus', 'bill_reversal']);
END;
$$;

CREATE FUNCTION ledger_account_kind_known(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind = ANY (ARRAY['wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                             'campaign', 'mpesa_hold', 'merchant', 'bill_hold', 'bill_clearing',
                             'stellar_hold', 'wage_hold', 'wage_dues', 'promotions']);
END;
$$;

-- Only the float, suspense and the Stellar clearing account may go below zero
-- (app/domain/accounts.py ISSUER_KINDS; a test holds the two to the same list).
CREATE FUNCTION ledger_account_may_go_negative(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind IN ('mpesa_float', 'suspense', 'stellar_clearing');
END;
$$;

CREATE FUNCTION outbox_kind_known(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind = ANY (ARRAY['sms', 'stellar', 'mpesa_stk', 'mpesa_b2c', 'at_airtime',
                             'mpesa_reversal', 'mpesa_order_stk', 'daraja_b2b', 'wage_line']);
END;
$$;

ALTER TABLE journal_transactions
    DROP CONSTRAINT journal_transactions_kind_check,
    ADD CONSTRAINT journal_transactions_kind_check CHECK (journal_kind_known(kind));
ALTER TABLE ledger_accounts
    DROP CONSTRAINT ledger_accounts_kind_check,
    ADD CONSTRAINT ledger_accounts_kind_check CHECK (ledger_account_kind_known(kind)),
    DROP CONSTRAINT ledger_accounts_non_negative,
    ADD CONSTRAINT ledger_accounts_non_negative
        CHECK (balance >= 0 OR ledger_account_may_go_negative(kind));
ALTER TABLE outbox
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (outbox_kind_known(kind));
-- ---- migration 0053: status answers that came before their query was recorded ----

-- A transaction status answer can reach PayTrace before PayTrace has committed its
-- record of the query it answers (M-Pesa answered while the worker was still writing
-- its question down). Such an answer is stored as 'unknown_request' naming the query's
-- ConversationID; whoever records a query then looks for answers that came early
-- (services/mpesa/inbound.py answer_early). This index finds them without reading every
-- callback ever received: it holds only the few that matched nothing.
CREATE INDEX inbound_callbacks_unmatched_idx ON inbound_callbacks (reference)
    WHERE outcome = 'unknown_request';
-- ---- migration 0054: the credited account's lock, last ----

-- A hot account locked for less (issue 18; docs/benchmarks.md, "The credited account's
-- lock, last"). A movement onto an account everyone pays (a campaign's escrow, a
-- merchant's or a popular wallet) queues on that account's row lock, held from the
-- moment it is taken to COMMIT. Both functions took every lock first, in id order, so
-- the credited account was held through every check and every row written.
--
-- The credited account is never read to decide anything (only its balance after is
-- reported), so when its id is the highest of the movement's accounts it is locked
-- last: still in id order (no new deadlock is possible: every movement takes its locks
-- in ascending id order, as before), but after the checks and the rows that need only
-- the debited wallet's lock.
--
-- * ledger_transfer: the recipient's lock is left to its leg's UPDATE; a transfer
--   whose recipient's id is lower than the sender's (or the fee shard's) locks as
--   before.
-- * ledger_contribute: the journal transaction, its settlement row and the outflow
--   are written under the wallet's lock; then the escrow is locked, the campaign's
--   status read again under it (ending a campaign changes its status under that lock,
--   so no contribution lands in an ended campaign), and the contribution's row, the
--   legs, the milestone and the SMS follow. A campaign that ended between the two
--   looks fails the statement, undoing it all (ContributionRepository.post answers
--   'not_open'). The escrow's balance before is its balance after less the amount.
--
-- Checks, rows, their order within each table, and answers are those of 0051.
CREATE OR REPLACE FUNCTION ledger_transfer(
    p_sender_user_id    BIGINT,
    p_recipient_user_id BIGINT,
    p_recipient_phone   TEXT,
    p_fees_code         TEXT,
    p_amount            BIGINT,
    p_fee               BIGINT,
    p_key               TEXT,
    p_request_hash      TEXT,
    p_reference         TEXT,
    p_channel           TEXT,
    p_note              TEXT,
    p_created_at        TIMESTAMPTZ,
    p_today             DATE,
    p_issuer_kinds      TEXT[],
    p_messages          JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, sender_balance BIGINT,
                 receiver_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_fees_kind TEXT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_accounts  BIGINT[];
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
    v_sender_text    TEXT;
    v_receiver_text  TEXT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_recipient_user_id = p_sender_user_id THEN
        RETURN QUERY SELECT 'self'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u
                   WHERE u.id = p_recipient_user_id AND u.phone = p_recipient_phone) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_sender, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id INTO v_receiver FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id, a.kind INTO STRICT v_fees, v_fees_kind
        FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    v_accounts := ARRAY[v_sender, v_receiver];
    IF v_fees IS NOT NULL THEN
        v_accounts := v_accounts || v_fees;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check. The
    -- recipient's account is only credited, and nothing below reads it: when its id is
    -- the highest, its lock is left to its leg's UPDATE (the last lock taken, so still
    -- in id order), and a hot recipient is held for the legs, the SMS and COMMIT only.
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id = ANY (v_accounts)
      AND (a.id <> v_receiver OR v_receiver < (SELECT max(x) FROM unnest(v_accounts) x))
    ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_sender;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_sender AND o.day > p_today - 30;

    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF p_fee IS NULL THEN
        RETURN QUERY SELECT 'no_fee_band'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount + p_fee THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'transfer', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_sender_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it:
    -- a wallet is its own party, any other account the treasury (party 0), an issuer
    -- kind no party. The sender's wallet is the one that pays (its net is -(amount +
    -- fee) < 0); the recipient's and the fee shard's nets are positive. Ids are >= 1,
    -- so the treasury sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_fees IS NOT NULL AND v_fees_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[0::bigint];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_sender];
        v_parties := v_parties || ARRAY[least(v_sender, v_receiver),
                                        greatest(v_sender, v_receiver)];
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    -- The leg trigger moves each balance and sets balance_after; the rows go in the
    -- order 0037 wrote them (sender, recipient, fee), so the journal reads the same.
    IF v_fees IS NOT NULL THEN
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -(p_amount + p_fee), 0), (v_tx, v_receiver, p_amount, 0),
                   (v_tx, v_fees, p_fee, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSIF v_leg.account_id = v_receiver THEN
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    ELSE
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -p_amount, 0), (v_tx, v_receiver, p_amount, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSE
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    END IF;

    v_sender_text := ledger_format_kes(v_sender_after);
    v_receiver_text := ledger_format_kes(v_receiver_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                    THEN v_sender_text ELSE v_receiver_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    -- Last: what a crash test waits on (tests/integration/test_ledger_crash.py), with
    -- everything else written.
    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_sender, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_sender_after, v_receiver_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_contribute(
    p_user_id      BIGINT,
    p_campaign_id  BIGINT,
    p_escrow_id    BIGINT,
    p_amount       BIGINT,
    p_pledge_id    BIGINT,
    p_key          TEXT,
    p_request_hash TEXT,
    p_reference    TEXT,
    p_channel      TEXT,
    p_note         TEXT,
    p_created_at   TIMESTAMPTZ,
    p_today        DATE,
    p_is_anonymous BOOLEAN,
    p_message      TEXT,
    p_issuer_kinds TEXT[],
    p_receipt      JSONB,
    p_milestones   JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, contribution_id BIGINT, amount BIGINT,
                 balance BIGINT, raised BIGINT, day_total BIGINT, rolling_total BIGINT,
                 detail TEXT, remaining BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet    BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_amount    BIGINT := p_amount;
    v_balance   BIGINT;
    v_escrow    BIGINT;
    v_escrow_kind TEXT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_status    TEXT;
    v_end_date  DATE;
    v_target    BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_pledger   BIGINT;
    v_pledged   BIGINT;
    v_paid      BIGINT;
    v_cancelled TIMESTAMPTZ;
    v_due       DATE;
    v_pledge_st TEXT;
    v_tx        BIGINT;
    v_after     BIGINT;
    v_raised    BIGINT;
    v_id        BIGINT;
    v_milestone JSONB;
    v_escrow_late BOOLEAN;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_wallet, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- The escrow (the hot account: every contributor pays it) is taken last when its
    -- id is higher than the wallet's, still in id order: everything that needs only the
    -- wallet's lock is checked and written first (below), then the escrow is locked
    -- for the campaign's status, the legs, the milestone and the SMS.
    v_escrow_late := p_escrow_id > v_wallet;
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id IN (v_wallet, p_escrow_id) AND NOT (v_escrow_late AND a.id = p_escrow_id)
    ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.kind INTO v_escrow_kind FROM ledger_accounts a WHERE a.id = p_escrow_id;
    -- Read again under the escrow's lock below when that comes later: ending a campaign
    -- changes its status under that lock.
    SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
    FROM campaigns c WHERE c.id = p_campaign_id;
    -- app.domain.harambee.takes_money
    IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
        RETURN QUERY SELECT 'not_open'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_status, NULL::bigint;
        RETURN;
    END IF;

    IF p_pledge_id IS NOT NULL THEN
        SELECT p.user_id, p.amount, p.cancelled_at, p.due_date,
               (SELECT coalesce(sum(t.amount), 0)::bigint
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.pledge_id = p.id)
        INTO v_pledger, v_pledged, v_cancelled, v_due, v_paid
        FROM pledges p
        WHERE p.id = p_pledge_id AND p.campaign_id = p_campaign_id;
        IF v_pledger IS NULL OR v_pledger <> p_user_id THEN
            RETURN QUERY SELECT 'no_pledge'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
        -- pledges.STATUS_SQL (the campaign is active here)
        v_pledge_st := CASE WHEN v_cancelled IS NOT NULL THEN 'cancelled'
                            WHEN v_paid >= v_pledged THEN 'fulfilled'
                            WHEN v_status <> 'active' THEN 'cancelled'
                            WHEN v_due < p_today THEN 'overdue'
                            WHEN v_paid > 0 THEN 'partially_paid'
                            ELSE 'pledged' END;
        IF v_pledge_st IN ('fulfilled', 'cancelled') THEN
            RETURN QUERY SELECT 'pledge_closed'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                v_pledge_st, NULL::bigint;
            RETURN;
        END IF;
        v_amount := coalesce(p_amount, v_pledged - v_paid);
        IF v_amount > v_pledged - v_paid THEN
            RETURN QUERY SELECT 'exceeds_pledge'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::text, v_pledged - v_paid;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF v_amount > v_per_tx OR v_day + v_amount > v_daily
       OR v_30_days + v_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF v_balance < v_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing).
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'contribution', v_amount, 0, p_key, p_request_hash, p_channel,
            p_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it
    -- (see ledger_transfer): the contributor's wallet pays; the escrow (a 'campaign'
    -- account: the treasury, party 0) is paid. Ids are >= 1, so party 0 sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_escrow_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[CASE WHEN v_escrow_kind = 'wallet' THEN p_escrow_id ELSE 0 END];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_wallet];
        v_parties := CASE WHEN cardinality(v_parties) = 0 THEN ARRAY[v_wallet]
                          ELSE ARRAY[least(v_parties[1], v_wallet),
                                     greatest(v_parties[1], v_wallet)] END;
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    -- ---- the escrow's lock, last ----------------------------------------------------
    IF v_escrow_late THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = p_escrow_id FOR NO KEY UPDATE;
        SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
        FROM campaigns c WHERE c.id = p_campaign_id;
        IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
            -- Ended since the first look: undo everything written above (the statement
            -- fails; ContributionRepository.post answers 'not_open' with the status).
            RAISE EXCEPTION 'campaign not open' USING
                ERRCODE = 'object_not_in_prerequisite_state', DETAIL = v_status;
        END IF;
    END IF;

    -- After the escrow's lock: its foreign key's check takes a key-share lock on the
    -- campaign's row, whose payout_id (a key) ending a campaign sets under the escrow's
    -- lock; taken before it, the two would wait on each other.
    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    -- The leg trigger moves each balance and sets balance_after: one INSERT, the rows
    -- in 0045's order (the wallet, then the escrow).
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_wallet, -v_amount, 0), (v_tx, p_escrow_id, v_amount, 0)
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSE
            v_raised := v_leg.balance_after;
        END IF;
    END LOOP;

    v_escrow := v_raised - v_amount;
    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE v_escrow * 100 < (m.value ->> 'percent')::bigint * v_target
      AND (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;
-- ---- migration 0055: planning and locking a transfer ----

-- A transfer's PostgreSQL time, trimmed where it was spent (issue 18; docs/benchmarks.md,
-- "Planning and locking a transfer"). `perf` on a backend posting transfers one after
-- another put a tenth of its CPU in planning the statements the client sends, and
-- `pg_stat_statements` put the lock statement first among ledger_transfer's own.
--
-- * ledger_transfer_parties: who a transfer is between and its fee, the read before
--   the posting (LedgerRepository.transfer_parties). Sent as text, its three-way join
--   was planned again on every transfer (0.2 ms, ten times the query's execution); a
--   PL/pgSQL function keeps its plan for the session. The same query, the same row.
-- * ledger_transfer: its accounts were locked by one statement over an array, planned
--   (generically) as a bitmap scan and a sort; each row is now locked by its own
--   primary-key lookup, in the same ascending order, with the same rows skipped, and
--   the sender's lookup returns its balance (read after its lock, as before: once
--   locked, nothing can change it). Checks, rows, their order and answers are those of
--   0054.
CREATE FUNCTION ledger_transfer_parties(
    p_sender_user_id  BIGINT,
    p_recipient_phone TEXT,
    p_fee_kind        TEXT,
    p_amount          BIGINT
) RETURNS TABLE (sender_id BIGINT, sender_name TEXT, sender_phone TEXT,
                 sender_language TEXT, recipient_id BIGINT, recipient_name TEXT,
                 recipient_phone TEXT, recipient_language TEXT, fee BIGINT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, s.full_name, s.phone, s.language,
           r.id, r.full_name, r.phone, r.language,
           (SELECT b.fee FROM fee_bands b
            WHERE b.kind = p_fee_kind AND p_amount BETWEEN b.min_amount AND b.max_amount)
    FROM (SELECT 1) AS one
    LEFT JOIN users s ON s.id = p_sender_user_id
    LEFT JOIN users r ON r.phone = p_recipient_phone;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_transfer(
    p_sender_user_id    BIGINT,
    p_recipient_user_id BIGINT,
    p_recipient_phone   TEXT,
    p_fees_code         TEXT,
    p_amount            BIGINT,
    p_fee               BIGINT,
    p_key               TEXT,
    p_request_hash      TEXT,
    p_reference         TEXT,
    p_channel           TEXT,
    p_note              TEXT,
    p_created_at        TIMESTAMPTZ,
    p_today             DATE,
    p_issuer_kinds      TEXT[],
    p_messages          JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, sender_balance BIGINT,
                 receiver_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_fees_kind TEXT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_accounts  BIGINT[];
    v_id        BIGINT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
    v_sender_text    TEXT;
    v_receiver_text  TEXT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_recipient_user_id = p_sender_user_id THEN
        RETURN QUERY SELECT 'self'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u
                   WHERE u.id = p_recipient_user_id AND u.phone = p_recipient_phone) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_sender, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id INTO v_receiver FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id, a.kind INTO STRICT v_fees, v_fees_kind
        FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check. Each row
    -- is locked by its own primary-key lookup, in ascending id order, the sender's
    -- returning its balance (nothing can change it once locked). The recipient's
    -- account is only credited and nothing below reads it: when its id is the highest,
    -- its lock is left to its leg's UPDATE (the last lock taken, so still in id
    -- order), and a hot recipient is held for the legs, the SMS and COMMIT only.
    IF v_fees IS NULL THEN
        v_accounts := ARRAY[least(v_sender, v_receiver), greatest(v_sender, v_receiver)];
    ELSE
        -- Three distinct ids sorted without a statement: the middle one is their sum
        -- less the least and the greatest.
        v_accounts := ARRAY[least(v_sender, v_receiver, v_fees),
                            v_sender + v_receiver + v_fees
                              - least(v_sender, v_receiver, v_fees)
                              - greatest(v_sender, v_receiver, v_fees),
                            greatest(v_sender, v_receiver, v_fees)];
    END IF;
    FOREACH v_id IN ARRAY v_accounts LOOP
        EXIT WHEN v_id = v_receiver AND v_id = v_accounts[cardinality(v_accounts)];
        IF v_id = v_sender THEN
            SELECT a.balance INTO v_balance FROM ledger_accounts a
            WHERE a.id = v_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = v_id FOR NO KEY UPDATE;
        END IF;
    END LOOP;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_sender AND o.day > p_today - 30;

    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF p_fee IS NULL THEN
        RETURN QUERY SELECT 'no_fee_band'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount + p_fee THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'transfer', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_sender_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it:
    -- a wallet is its own party, any other account the treasury (party 0), an issuer
    -- kind no party. The sender's wallet is the one that pays (its net is -(amount +
    -- fee) < 0); the recipient's and the fee shard's nets are positive. Ids are >= 1,
    -- so the treasury sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_fees IS NOT NULL AND v_fees_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[0::bigint];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_sender];
        v_parties := v_parties || ARRAY[least(v_sender, v_receiver),
                                        greatest(v_sender, v_receiver)];
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    -- The leg trigger moves each balance and sets balance_after; the rows go in the
    -- order 0037 wrote them (sender, recipient, fee), so the journal reads the same.
    IF v_fees IS NOT NULL THEN
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -(p_amount + p_fee), 0), (v_tx, v_receiver, p_amount, 0),
                   (v_tx, v_fees, p_fee, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSIF v_leg.account_id = v_receiver THEN
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    ELSE
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -p_amount, 0), (v_tx, v_receiver, p_amount, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSE
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    END IF;

    v_sender_text := ledger_format_kes(v_sender_after);
    v_receiver_text := ledger_format_kes(v_receiver_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                    THEN v_sender_text ELSE v_receiver_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    -- Last: what a crash test waits on (tests/integration/test_ledger_crash.py), with
    -- everything else written.
    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_sender, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_sender_after, v_receiver_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;
-- ---- migration 0056: a contribution's parties read by a function ----

-- The read before a contribution (ContributionRepository.parties: the campaign's head,
-- its organiser and the contributor, for the SMS) as a PL/pgSQL function, for the
-- reason 0055 gives for a transfer's: sent as text, its four-way join was planned
-- again on every contribution; a function keeps its plan for the session. The same
-- query, the same row.
CREATE FUNCTION ledger_contribution_parties(
    p_campaign_id BIGINT,
    p_user_id     BIGINT
) RETURNS TABLE (campaign_id BIGINT, campaign_code TEXT, campaign_title TEXT,
                 escrow_id BIGINT, organiser_id BIGINT, organiser_phone TEXT,
                 organiser_language TEXT, contributor_id BIGINT, contributor_name TEXT,
                 contributor_phone TEXT, contributor_language TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT c.id, c.code, c.title, c.account_id, c.organiser_id, o.phone,
           o.language, u.id, u.full_name, u.phone, u.language
    FROM (SELECT 1) AS one
    LEFT JOIN campaigns c ON c.id = p_campaign_id
    LEFT JOIN users o ON o.id = c.organiser_id
    LEFT JOIN users u ON u.id = p_user_id;
END;
$$;
-- ---- migration 0057: the first hop's profile read by a function ----

-- The USSD first hop's read of a caller no cache knows (issue 18; docs/benchmarks.md,
-- "The collector and the USSD hop"): the user and their wallet by phone, as
-- UserRepository.get_with_wallet_by_phone sent it, in a PL/pgSQL function so that the
-- backend keeps its plan for the session (sent as text, the two-table join was planned
-- again on every hop: 0.09 ms, four times its execution). Safe behind PgBouncer in
-- transaction mode, where PREPARE is not.
CREATE FUNCTION user_with_wallet_by_phone(p_phone TEXT)
RETURNS TABLE (id BIGINT, paytrace_id TEXT, phone TEXT, full_name TEXT, role TEXT,
               language TEXT, registration_key TEXT, created_at TIMESTAMPTZ,
               stellar_address TEXT, activation_status TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT u.id, u.paytrace_id, u.phone, u.full_name, u.role, u.language,
           u.registration_key, u.created_at, w.stellar_address, w.activation_status
    FROM users u JOIN wallets w ON w.user_id = u.id
    WHERE u.phone = p_phone;
END;
$$;
-- ---- migration 0058: a hot account locked last ----

-- A hot account an operator marks "locked last" (issue 18; docs/architecture.md, "The
-- lock order"). Every movement locks its accounts in
-- one order, which is what makes deadlocks impossible; until now that order was the
-- accounts' ids, so a wallet everyone pays was locked first whenever its id was low (an
-- early user, a shop that opened its wallet years ago) and held through every check and
-- row of every movement onto it. The order is now (locked_last, id): an account marked
-- locked last sorts after every unmarked one, so a movement that only credits it leaves
-- its lock to the leg's UPDATE and holds it for the legs, the SMS and COMMIT only
-- (as 0054 does for a credited account whose id is the highest).
--
-- * ledger_accounts.locked_last: set by an operator (app/services/lock_order.py) on a
--   wallet, merchant account or harambee escrow; every other account stays unmarked.
--   Changing it takes an ACCESS EXCLUSIVE lock on the table, so no movement that read
--   the old order is still running when the new one is read.
-- * ledger_accounts' ids stay below 2^48 (the sequence's maximum), so one BIGINT key
--   per account sorts the order: ledger_lock_key.
-- * LedgerRepository.accounts orders its FOR UPDATE by (locked_last, id); ledger_transfer
--   and ledger_contribute below sort by the same keys. Checks, rows, their order and
--   answers are those of 0055 and 0054.
ALTER TABLE ledger_accounts ADD COLUMN locked_last BOOLEAN NOT NULL DEFAULT false;
ALTER SEQUENCE ledger_accounts_id_seq MAXVALUE 281474976710655;

CREATE FUNCTION ledger_lock_key(p_id BIGINT, p_locked_last BOOLEAN) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_id + CASE WHEN p_locked_last THEN 281474976710656 ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION ledger_transfer(
    p_sender_user_id    BIGINT,
    p_recipient_user_id BIGINT,
    p_recipient_phone   TEXT,
    p_fees_code         TEXT,
    p_amount            BIGINT,
    p_fee               BIGINT,
    p_key               TEXT,
    p_request_hash      TEXT,
    p_reference         TEXT,
    p_channel           TEXT,
    p_note              TEXT,
    p_created_at        TIMESTAMPTZ,
    p_today             DATE,
    p_issuer_kinds      TEXT[],
    p_messages          JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, sender_balance BIGINT,
                 receiver_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_fees_kind TEXT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_id        BIGINT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
    v_sender_text    TEXT;
    v_receiver_text  TEXT;
    v_sender_last    BOOLEAN;
    v_receiver_last  BOOLEAN;
    v_fees_last      BOOLEAN;
    v_keys           BIGINT[];
    v_key            BIGINT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_recipient_user_id = p_sender_user_id THEN
        RETURN QUERY SELECT 'self'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u
                   WHERE u.id = p_recipient_user_id AND u.phone = p_recipient_phone) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit
    INTO v_sender, v_sender_last, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last INTO v_receiver, v_receiver_last
    FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id, a.kind, a.locked_last INTO STRICT v_fees, v_fees_kind, v_fees_last
        FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check. Each row
    -- is locked by its own primary-key lookup, in (locked_last, id) order (migration
    -- 0058), the sender's returning its balance (nothing can change it once locked).
    -- The order is sorted on one key per account (ledger_lock_key: its id, plus 2^48
    -- when locked last; ids stay below 2^48, the sequence's maximum). The
    -- recipient's account is only credited and nothing below reads it: when it sorts
    -- last, its lock is left to its leg's UPDATE (the last lock taken, so still in
    -- order), and a hot recipient is held for the legs, the SMS and COMMIT only.
    IF v_fees IS NULL THEN
        v_keys := ARRAY[ledger_lock_key(v_sender, v_sender_last),
                        ledger_lock_key(v_receiver, v_receiver_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2]), greatest(v_keys[1], v_keys[2])];
    ELSE
        -- Three distinct keys sorted without a statement: the middle one is their sum
        -- less the least and the greatest (each below 2^49: no overflow).
        v_keys := ARRAY[ledger_lock_key(v_sender, v_sender_last),
                        ledger_lock_key(v_receiver, v_receiver_last),
                        ledger_lock_key(v_fees, v_fees_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2], v_keys[3]),
                        v_keys[1] + v_keys[2] + v_keys[3]
                          - least(v_keys[1], v_keys[2], v_keys[3])
                          - greatest(v_keys[1], v_keys[2], v_keys[3]),
                        greatest(v_keys[1], v_keys[2], v_keys[3])];
    END IF;
    FOREACH v_key IN ARRAY v_keys LOOP
        v_id := v_key % 281474976710656;
        EXIT WHEN v_id = v_receiver AND v_key = v_keys[cardinality(v_keys)];
        IF v_id = v_sender THEN
            SELECT a.balance INTO v_balance FROM ledger_accounts a
            WHERE a.id = v_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = v_id FOR NO KEY UPDATE;
        END IF;
    END LOOP;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_sender AND o.day > p_today - 30;

    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF p_fee IS NULL THEN
        RETURN QUERY SELECT 'no_fee_band'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount + p_fee THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'transfer', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_sender_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it:
    -- a wallet is its own party, any other account the treasury (party 0), an issuer
    -- kind no party. The sender's wallet is the one that pays (its net is -(amount +
    -- fee) < 0); the recipient's and the fee shard's nets are positive. Ids are >= 1,
    -- so the treasury sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_fees IS NOT NULL AND v_fees_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[0::bigint];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_sender];
        v_parties := v_parties || ARRAY[least(v_sender, v_receiver),
                                        greatest(v_sender, v_receiver)];
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    -- The leg trigger moves each balance and sets balance_after; the rows go in the
    -- order 0037 wrote them (sender, recipient, fee), so the journal reads the same.
    IF v_fees IS NOT NULL THEN
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -(p_amount + p_fee), 0), (v_tx, v_receiver, p_amount, 0),
                   (v_tx, v_fees, p_fee, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSIF v_leg.account_id = v_receiver THEN
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    ELSE
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -p_amount, 0), (v_tx, v_receiver, p_amount, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSE
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    END IF;

    v_sender_text := ledger_format_kes(v_sender_after);
    v_receiver_text := ledger_format_kes(v_receiver_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                    THEN v_sender_text ELSE v_receiver_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    -- Last: what a crash test waits on (tests/integration/test_ledger_crash.py), with
    -- everything else written.
    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_sender, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_sender_after, v_receiver_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_contribute(
    p_user_id      BIGINT,
    p_campaign_id  BIGINT,
    p_escrow_id    BIGINT,
    p_amount       BIGINT,
    p_pledge_id    BIGINT,
    p_key          TEXT,
    p_request_hash TEXT,
    p_reference    TEXT,
    p_channel      TEXT,
    p_note         TEXT,
    p_created_at   TIMESTAMPTZ,
    p_today        DATE,
    p_is_anonymous BOOLEAN,
    p_message      TEXT,
    p_issuer_kinds TEXT[],
    p_receipt      JSONB,
    p_milestones   JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, contribution_id BIGINT, amount BIGINT,
                 balance BIGINT, raised BIGINT, day_total BIGINT, rolling_total BIGINT,
                 detail TEXT, remaining BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet    BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_amount    BIGINT := p_amount;
    v_balance   BIGINT;
    v_escrow    BIGINT;
    v_escrow_kind TEXT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_status    TEXT;
    v_end_date  DATE;
    v_target    BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_pledger   BIGINT;
    v_pledged   BIGINT;
    v_paid      BIGINT;
    v_cancelled TIMESTAMPTZ;
    v_due       DATE;
    v_pledge_st TEXT;
    v_tx        BIGINT;
    v_after     BIGINT;
    v_raised    BIGINT;
    v_id        BIGINT;
    v_milestone JSONB;
    v_escrow_late BOOLEAN;
    v_wallet_last BOOLEAN;
    v_escrow_last BOOLEAN;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit, coalesce(e.locked_last, false)
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling, v_escrow_last
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    LEFT JOIN ledger_accounts e ON e.id = p_escrow_id
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- The escrow (the hot account: every contributor pays it) is taken last when it
    -- sorts after the wallet in (locked_last, id) order (migration 0058): everything
    -- that needs only the wallet's lock is checked and written first (below), then the
    -- escrow is locked for the campaign's status, the legs, the milestone and the SMS.
    v_escrow_late := ROW(v_escrow_last, p_escrow_id) > ROW(v_wallet_last, v_wallet);
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id IN (v_wallet, p_escrow_id) AND NOT (v_escrow_late AND a.id = p_escrow_id)
    ORDER BY a.locked_last, a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.kind INTO v_escrow_kind FROM ledger_accounts a WHERE a.id = p_escrow_id;
    -- Read again under the escrow's lock below when that comes later: ending a campaign
    -- changes its status under that lock.
    SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
    FROM campaigns c WHERE c.id = p_campaign_id;
    -- app.domain.harambee.takes_money
    IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
        RETURN QUERY SELECT 'not_open'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_status, NULL::bigint;
        RETURN;
    END IF;

    IF p_pledge_id IS NOT NULL THEN
        SELECT p.user_id, p.amount, p.cancelled_at, p.due_date,
               (SELECT coalesce(sum(t.amount), 0)::bigint
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.pledge_id = p.id)
        INTO v_pledger, v_pledged, v_cancelled, v_due, v_paid
        FROM pledges p
        WHERE p.id = p_pledge_id AND p.campaign_id = p_campaign_id;
        IF v_pledger IS NULL OR v_pledger <> p_user_id THEN
            RETURN QUERY SELECT 'no_pledge'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
        -- pledges.STATUS_SQL (the campaign is active here)
        v_pledge_st := CASE WHEN v_cancelled IS NOT NULL THEN 'cancelled'
                            WHEN v_paid >= v_pledged THEN 'fulfilled'
                            WHEN v_status <> 'active' THEN 'cancelled'
                            WHEN v_due < p_today THEN 'overdue'
                            WHEN v_paid > 0 THEN 'partially_paid'
                            ELSE 'pledged' END;
        IF v_pledge_st IN ('fulfilled', 'cancelled') THEN
            RETURN QUERY SELECT 'pledge_closed'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                v_pledge_st, NULL::bigint;
            RETURN;
        END IF;
        v_amount := coalesce(p_amount, v_pledged - v_paid);
        IF v_amount > v_pledged - v_paid THEN
            RETURN QUERY SELECT 'exceeds_pledge'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::text, v_pledged - v_paid;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF v_amount > v_per_tx OR v_day + v_amount > v_daily
       OR v_30_days + v_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF v_balance < v_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing).
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'contribution', v_amount, 0, p_key, p_request_hash, p_channel,
            p_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it
    -- (see ledger_transfer): the contributor's wallet pays; the escrow (a 'campaign'
    -- account: the treasury, party 0) is paid. Ids are >= 1, so party 0 sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_escrow_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[CASE WHEN v_escrow_kind = 'wallet' THEN p_escrow_id ELSE 0 END];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_wallet];
        v_parties := CASE WHEN cardinality(v_parties) = 0 THEN ARRAY[v_wallet]
                          ELSE ARRAY[least(v_parties[1], v_wallet),
                                     greatest(v_parties[1], v_wallet)] END;
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    -- ---- the escrow's lock, last ----------------------------------------------------
    IF v_escrow_late THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = p_escrow_id FOR NO KEY UPDATE;
        SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
        FROM campaigns c WHERE c.id = p_campaign_id;
        IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
            -- Ended since the first look: undo everything written above (the statement
            -- fails; ContributionRepository.post answers 'not_open' with the status).
            RAISE EXCEPTION 'campaign not open' USING
                ERRCODE = 'object_not_in_prerequisite_state', DETAIL = v_status;
        END IF;
    END IF;

    -- After the escrow's lock: its foreign key's check takes a key-share lock on the
    -- campaign's row, whose payout_id (a key) ending a campaign sets under the escrow's
    -- lock; taken before it, the two would wait on each other.
    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    -- The leg trigger moves each balance and sets balance_after: one INSERT, the rows
    -- in 0045's order (the wallet, then the escrow).
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_wallet, -v_amount, 0), (v_tx, p_escrow_id, v_amount, 0)
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSE
            v_raised := v_leg.balance_after;
        END IF;
    END LOOP;

    v_escrow := v_raised - v_amount;
    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE v_escrow * 100 < (m.value ->> 'percent')::bigint * v_target
      AND (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;
-- ---- migration 0059: a harambee's escrow in shards ----

-- A harambee's escrow in shards (issue 18; docs/harambee.md, "A hot account"). Every
-- contributor pays one escrow account, and its row lock held each contribution's
-- legs, SMS and COMMIT one after another: about 800 contributions/s on the benchmark's
-- two cores, where eight campaigns side by side took 1,266-1,270/s. A campaign's escrow
-- is now eight accounts (kind 'campaign', the treasury's on Stellar as before), a
-- contributor always paying the same one (the wallet's id mod 8), so refunds draw from
-- where the money went; what a campaign raised is their sum.
--
-- * campaign_escrows: a campaign's escrow accounts by shard; shard 0 is
--   campaigns.account_id. Campaigns opened before this migration get their shard 0
--   here and keep paying into it alone.
-- * ledger_contribute: pays the contributor's shard, locked as the escrow was (in the
--   lock order, late when it sorts after the wallet); the raised total it returns and
--   the milestone it checks read every shard. Checks, rows and answers otherwise those
--   of 0058.
CREATE TABLE campaign_escrows (
    campaign_id BIGINT   NOT NULL REFERENCES campaigns (id),
    shard       SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 7),
    account_id  BIGINT   NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    PRIMARY KEY (campaign_id, shard)
);
INSERT INTO campaign_escrows (campaign_id, shard, account_id)
SELECT id, 0, account_id FROM campaigns;

CREATE OR REPLACE FUNCTION ledger_contribute(
    p_user_id      BIGINT,
    p_campaign_id  BIGINT,
    p_escrow_id    BIGINT,
    p_amount       BIGINT,
    p_pledge_id    BIGINT,
    p_key          TEXT,
    p_request_hash TEXT,
    p_reference    TEXT,
    p_channel      TEXT,
    p_note         TEXT,
    p_created_at   TIMESTAMPTZ,
    p_today        DATE,
    p_is_anonymous BOOLEAN,
    p_message      TEXT,
    p_issuer_kinds TEXT[],
    p_receipt      JSONB,
    p_milestones   JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, contribution_id BIGINT, amount BIGINT,
                 balance BIGINT, raised BIGINT, day_total BIGINT, rolling_total BIGINT,
                 detail TEXT, remaining BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet    BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_amount    BIGINT := p_amount;
    v_balance   BIGINT;
    v_escrow_acct BIGINT;
    v_escrow_kind TEXT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_status    TEXT;
    v_end_date  DATE;
    v_target    BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_pledger   BIGINT;
    v_pledged   BIGINT;
    v_paid      BIGINT;
    v_cancelled TIMESTAMPTZ;
    v_due       DATE;
    v_pledge_st TEXT;
    v_tx        BIGINT;
    v_after     BIGINT;
    v_raised    BIGINT;
    v_id        BIGINT;
    v_milestone JSONB;
    v_escrow_late BOOLEAN;
    v_wallet_last BOOLEAN;
    v_escrow_last BOOLEAN;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    -- The escrow account this contributor pays: the campaign's shard for the wallet
    -- (campaign_escrows, by the wallet's id mod 8), or its shard 0 when it has no such
    -- shard (a campaign opened before 0059 has only that one).
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit, coalesce(s.account_id, p_escrow_id),
           coalesce(e.locked_last, false)
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling, v_escrow_acct,
         v_escrow_last
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    LEFT JOIN campaign_escrows s ON s.campaign_id = p_campaign_id AND s.shard = a.id % 8
    LEFT JOIN ledger_accounts e ON e.id = coalesce(s.account_id, p_escrow_id)
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- The escrow (the hot account: every contributor pays it) is taken last when it
    -- sorts after the wallet in (locked_last, id) order (migration 0058): everything
    -- that needs only the wallet's lock is checked and written first (below), then the
    -- escrow is locked for the campaign's status, the legs, the milestone and the SMS.
    v_escrow_late := ROW(v_escrow_last, v_escrow_acct) > ROW(v_wallet_last, v_wallet);
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id IN (v_wallet, v_escrow_acct) AND NOT (v_escrow_late AND a.id = v_escrow_acct)
    ORDER BY a.locked_last, a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.kind INTO v_escrow_kind FROM ledger_accounts a WHERE a.id = v_escrow_acct;
    -- Read again under the escrow's lock below when that comes later: ending a campaign
    -- changes its status under that lock.
    SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
    FROM campaigns c WHERE c.id = p_campaign_id;
    -- app.domain.harambee.takes_money
    IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
        RETURN QUERY SELECT 'not_open'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_status, NULL::bigint;
        RETURN;
    END IF;

    IF p_pledge_id IS NOT NULL THEN
        SELECT p.user_id, p.amount, p.cancelled_at, p.due_date,
               (SELECT coalesce(sum(t.amount), 0)::bigint
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.pledge_id = p.id)
        INTO v_pledger, v_pledged, v_cancelled, v_due, v_paid
        FROM pledges p
        WHERE p.id = p_pledge_id AND p.campaign_id = p_campaign_id;
        IF v_pledger IS NULL OR v_pledger <> p_user_id THEN
            RETURN QUERY SELECT 'no_pledge'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
        -- pledges.STATUS_SQL (the campaign is active here)
        v_pledge_st := CASE WHEN v_cancelled IS NOT NULL THEN 'cancelled'
                            WHEN v_paid >= v_pledged THEN 'fulfilled'
                            WHEN v_status <> 'active' THEN 'cancelled'
                            WHEN v_due < p_today THEN 'overdue'
                            WHEN v_paid > 0 THEN 'partially_paid'
                            ELSE 'pledged' END;
        IF v_pledge_st IN ('fulfilled', 'cancelled') THEN
            RETURN QUERY SELECT 'pledge_closed'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                v_pledge_st, NULL::bigint;
            RETURN;
        END IF;
        v_amount := coalesce(p_amount, v_pledged - v_paid);
        IF v_amount > v_pledged - v_paid THEN
            RETURN QUERY SELECT 'exceeds_pledge'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::text, v_pledged - v_paid;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF v_amount > v_per_tx OR v_day + v_amount > v_daily
       OR v_30_days + v_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF v_balance < v_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing).
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'contribution', v_amount, 0, p_key, p_request_hash, p_channel,
            p_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it
    -- (see ledger_transfer): the contributor's wallet pays; the escrow (a 'campaign'
    -- account: the treasury, party 0) is paid. Ids are >= 1, so party 0 sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_escrow_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[CASE WHEN v_escrow_kind = 'wallet' THEN v_escrow_acct ELSE 0 END];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_wallet];
        v_parties := CASE WHEN cardinality(v_parties) = 0 THEN ARRAY[v_wallet]
                          ELSE ARRAY[least(v_parties[1], v_wallet),
                                     greatest(v_parties[1], v_wallet)] END;
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    -- ---- the escrow's lock, last ----------------------------------------------------
    IF v_escrow_late THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = v_escrow_acct FOR NO KEY UPDATE;
        SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
        FROM campaigns c WHERE c.id = p_campaign_id;
        IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
            -- Ended since the first look: undo everything written above (the statement
            -- fails; ContributionRepository.post answers 'not_open' with the status).
            RAISE EXCEPTION 'campaign not open' USING
                ERRCODE = 'object_not_in_prerequisite_state', DETAIL = v_status;
        END IF;
    END IF;

    -- After the escrow's lock: its foreign key's check takes a key-share lock on the
    -- campaign's row, whose payout_id (a key) ending a campaign sets under the escrow's
    -- lock; taken before it, the two would wait on each other.
    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    -- The leg trigger moves each balance and sets balance_after: one INSERT, the rows
    -- in 0045's order (the wallet, then the escrow).
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_wallet, -v_amount, 0), (v_tx, v_escrow_acct, v_amount, 0)
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSE
            v_raised := v_leg.balance_after;
        END IF;
    END LOOP;

    -- Raised: every escrow account of the campaign, this one with its new leg; the
    -- others as committed (a contribution in flight on another shard is not seen yet).
    SELECT coalesce(sum(ea.balance), 0)::bigint INTO v_raised
    FROM campaign_escrows s JOIN ledger_accounts ea ON ea.id = s.account_id
    WHERE s.campaign_id = p_campaign_id;
    -- The highest milestone the total has reached, unless its SMS (one per milestone
    -- and target: its dedupe key) was written already. Not "crossed by this one": two
    -- contributions on two shards, each not seeing the other, could both miss it.
    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    IF v_milestone IS NOT NULL AND EXISTS (
        SELECT 1 FROM outbox o WHERE o.dedupe_key = ledger_fill_slots(
            v_milestone -> 'dedupe_key', v_amount, v_after, v_raised, v_target)) THEN
        v_milestone := NULL;
    END IF;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;
-- ---- migration 0060: the marked accounts' index ----

-- The accounts marked locked last (migration 0058), found without reading every
-- account: the admin API's and the console's list of them (LockOrderRepository.marked)
-- reads this partial index, which holds only the few marked ones. A balance's UPDATE
-- changes neither column, so it stays a HOT update.
CREATE INDEX ledger_accounts_locked_last_idx ON ledger_accounts (id) WHERE locked_last;
-- ---- migration 0061: a merchant payment in one statement ----

-- A payment at a merchant's till checked and posted in one statement (issue 18;
-- docs/benchmarks.md, "A merchant's till in one statement"). Every payer pays the
-- merchant's account, and the payment held its row across four round trips (lock,
-- key and outflows, post, the payment's row) and COMMIT: 356-365 payments/s onto one
-- till, where a contribution into one escrow, posted by one statement, did about 800.
--
-- * ledger_merchant_payment_parties: the read before the payment (the merchant at the
--   till, as MerchantRepository reads it, and the payer, for the SMS), one round trip
--   with its plan kept for the session (as 0055 and 0056 do for a transfer's and a
--   contribution's).
-- * ledger_merchant_pay: locks the payer's wallet, the fees shard and the merchant's
--   account in the lock order (0058), the merchant's last when it sorts last: it is
--   only credited (the payment, less the merchant's fee, which is never more than the
--   payment), so its lock is left to its leg's UPDATE and held for the legs, the SMS
--   and COMMIT only. Reads the key and the outflows under the wallet's lock, checks
--   the tier limits and the balance, then writes what the payment wrote
--   statement by statement: the journal transaction, the settlement row, the
--   outflow, the payment's row (merchant_payments), the legs, the SMS. The merchant's
--   status and fee rule are the caller's, read before (a suspension or fee edit
--   committed meanwhile applies from the next payment, as before).
--
-- p_messages: [{kind, payload, dedupe_key, parts, balance_of}], the payer's receipt
-- and the merchant's notice: `parts` joined by the balance after the payment of the
-- payer's wallet (balance_of: the payer's user id) or of the merchant's account
-- (balance_of: 0). Outcomes: posted | replay (the key holds an earlier movement) |
-- no_wallet | limits (day_total, rolling_total) | insufficient (balance: what the
-- wallet has).
CREATE FUNCTION ledger_merchant_payment_parties(
    p_till     TEXT,
    p_payer_id BIGINT
) RETURNS TABLE (id BIGINT, legal_name TEXT, display_name TEXT, till_number TEXT,
                 contact_phone TEXT, payout_phone TEXT, payout_schedule TEXT,
                 fee_bps INTEGER, fee_min_cents BIGINT, fee_max_cents BIGINT,
                 status TEXT, account_id BIGINT, balance BIGINT,
                 created_at TIMESTAMPTZ, language TEXT, payout_keep_cents BIGINT,
                 payout_threshold_cents BIGINT, payer_id BIGINT, payer_name TEXT,
                 payer_phone TEXT, payer_language TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT m.id, m.legal_name, m.display_name, m.till_number, m.contact_phone,
           m.payout_phone, m.payout_schedule, m.fee_bps,
           m.fee_min_cents, m.fee_max_cents, m.status, m.account_id,
           a.balance, m.created_at, m.language, m.payout_keep_cents,
           m.payout_threshold_cents, u.id, u.full_name, u.phone, u.language
    FROM (SELECT 1) AS one
    LEFT JOIN merchants m ON m.till_number = p_till
    LEFT JOIN ledger_accounts a ON a.id = m.account_id
    LEFT JOIN users u ON u.id = p_payer_id;
END;
$$;

CREATE FUNCTION ledger_merchant_pay(
    p_payer_user_id BIGINT,
    p_merchant_id   BIGINT,
    p_merchant_acct BIGINT,
    p_fees_code     TEXT,
    p_amount        BIGINT,
    p_fee           BIGINT,
    p_key           TEXT,
    p_request_hash  TEXT,
    p_reference     TEXT,
    p_channel       TEXT,
    p_note          TEXT,
    p_created_at    TIMESTAMPTZ,
    p_today         DATE,
    p_issuer_kinds  TEXT[],
    p_messages      JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, balance BIGINT,
                 merchant_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet      BIGINT;
    v_wallet_last BOOLEAN;
    v_per_tx      BIGINT;
    v_daily       BIGINT;
    v_rolling     BIGINT;
    v_merchant_last BOOLEAN;
    v_fees        BIGINT;
    v_fees_last   BOOLEAN;
    v_keys        BIGINT[];
    v_key         BIGINT;
    v_id          BIGINT;
    v_balance     BIGINT;
    v_day         BIGINT;
    v_30_days     BIGINT;
    v_tx          BIGINT;
    v_accounts    BIGINT[];
    v_amounts     BIGINT[];
    v_leg         RECORD;
    v_after       BIGINT;
    v_merchant_after BIGINT;
    v_payer_text  TEXT;
    v_merchant_text TEXT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_payer_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.locked_last INTO STRICT v_merchant_last
    FROM ledger_accounts a WHERE a.id = p_merchant_acct;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- As ledger_transfer's (0058): each row by its own primary-key lookup, sorted on
    -- ledger_lock_key, the wallet's returning its balance. The merchant's account is
    -- only credited and nothing below reads it: when it sorts last, its lock is left
    -- to its leg's UPDATE. The fees shard is locked only when a fee is taken.
    IF p_fee > 0 THEN
        SELECT a.id, a.locked_last INTO STRICT v_fees, v_fees_last
        FROM ledger_accounts a WHERE a.code = p_fees_code;
        v_keys := ARRAY[ledger_lock_key(v_wallet, v_wallet_last),
                        ledger_lock_key(p_merchant_acct, v_merchant_last),
                        ledger_lock_key(v_fees, v_fees_last)];
        -- Three distinct keys sorted without a statement (as ledger_transfer).
        v_keys := ARRAY[least(v_keys[1], v_keys[2], v_keys[3]),
                        v_keys[1] + v_keys[2] + v_keys[3]
                          - least(v_keys[1], v_keys[2], v_keys[3])
                          - greatest(v_keys[1], v_keys[2], v_keys[3]),
                        greatest(v_keys[1], v_keys[2], v_keys[3])];
    ELSE
        v_keys := ARRAY[ledger_lock_key(v_wallet, v_wallet_last),
                        ledger_lock_key(p_merchant_acct, v_merchant_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2]), greatest(v_keys[1], v_keys[2])];
    END IF;
    FOREACH v_key IN ARRAY v_keys LOOP
        v_id := v_key % 281474976710656;
        EXIT WHEN v_id = p_merchant_acct AND v_key = v_keys[cardinality(v_keys)];
        IF v_id = v_wallet THEN
            SELECT a.balance INTO v_balance FROM ledger_accounts a
            WHERE a.id = v_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = v_id FOR NO KEY UPDATE;
        END IF;
    END LOOP;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'merchant_payment', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_payer_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- The legs as the statement-by-statement payment wrote them: the payer pays the
    -- merchant, the merchant pays its fee (when there is one) to the fees shard.
    v_accounts := ARRAY[v_wallet, p_merchant_acct];
    v_amounts := ARRAY[-p_amount, p_amount];
    IF p_fee > 0 THEN
        v_accounts := v_accounts || ARRAY[p_merchant_acct, v_fees];
        v_amounts := v_amounts || ARRAY[-p_fee, p_fee];
    END IF;

    -- Where each leg's money lives on-chain, netted, by LedgerRepository.post's rule: a
    -- wallet is its own party, any other account the treasury (party 0), an issuer kind
    -- no party; the parties whose net is negative pay.
    INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
    SELECT v_tx,
           coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
           array_agg(p.party ORDER BY p.party), 'pending', 'paytrace'
    FROM (
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(v_accounts, v_amounts) AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind <> ALL (p_issuer_kinds)
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ) p
    HAVING count(*) > 0;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    INSERT INTO merchant_payments
        (transaction_id, merchant_id, payer_user_id, amount, fee, channel, created_at)
    VALUES (v_tx, p_merchant_id, p_payer_user_id, p_amount, p_fee, p_channel,
            p_created_at);

    -- ---- the merchant's lock, last ---------------------------------------------------
    -- The leg trigger moves each balance and sets balance_after, the rows in the
    -- order above. The merchant's balance after the payment is the lesser of its two
    -- legs' (its fee, when there is one, comes off after the payment).
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        SELECT v_tx, leg.account_id, leg.amount, 0
        FROM unnest(v_accounts, v_amounts) WITH ORDINALITY AS leg (account_id, amount, n)
        ORDER BY leg.n
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSIF v_leg.account_id = p_merchant_acct THEN
            v_merchant_after := least(coalesce(v_merchant_after, v_leg.balance_after),
                                      v_leg.balance_after);
        END IF;
    END LOOP;

    v_payer_text := ledger_format_kes(v_after);
    v_merchant_text := ledger_format_kes(v_merchant_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_payer_user_id
                    THEN v_payer_text ELSE v_merchant_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_after, v_merchant_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;
-- ---- migration 0062: a merchant's account in shards ----

-- A merchant's account in shards (issue 18; docs/merchants.md, "A merchant's account in
-- shards"). Every payer of a till pays the merchant's account, and its row lock held
-- each payment's legs, SMS and COMMIT one after another: 730-786 payments/s onto one till
-- on the benchmark's two cores, where eight tills side by side took 1,112/s. A
-- merchant's money is now eight accounts (kind 'merchant', the treasury's on Stellar as
-- before), a payer at a till always paying the same one (the wallet's id mod 8); what
-- the merchant holds is their sum, and every payout and refund draws from the shards.
--
-- * merchant_accounts: a merchant's accounts by shard; shard 0 is merchants.account_id
--   (where money paid from M-Pesa or Stellar and a payout M-Pesa failed still go).
--   Every merchant gets shards 1 to 7 here, empty, coded 'merchant:<till>:<n>'.
-- * ledger_merchant_payment_parties: the merchant's balance is the shards' sum.
-- * ledger_merchant_pay: pays the payer's shard (locked as the merchant's account was: in
--   the lock order, by its leg when it sorts last); the merchant's balance in its notice
--   is every shard's as the payment sees them (this one with its legs, the others as
--   committed). Checks, rows and answers otherwise those of 0061.
CREATE TABLE merchant_accounts (
    merchant_id BIGINT   NOT NULL REFERENCES merchants (id),
    shard       SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 7),
    account_id  BIGINT   NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    PRIMARY KEY (merchant_id, shard)
);
INSERT INTO merchant_accounts (merchant_id, shard, account_id)
SELECT id, 0, account_id FROM merchants;
WITH shards AS (
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'merchant', 'merchant:' || m.till_number || ':' || n
    FROM merchants m, generate_series(1, 7) n
    ORDER BY m.id, n
    RETURNING id, code
)
INSERT INTO merchant_accounts (merchant_id, shard, account_id)
SELECT m.id, split_part(s.code, ':', 3)::smallint, s.id
FROM shards s JOIN merchants m ON m.till_number = split_part(s.code, ':', 2);

CREATE OR REPLACE FUNCTION ledger_merchant_payment_parties(
    p_till     TEXT,
    p_payer_id BIGINT
) RETURNS TABLE (id BIGINT, legal_name TEXT, display_name TEXT, till_number TEXT,
                 contact_phone TEXT, payout_phone TEXT, payout_schedule TEXT,
                 fee_bps INTEGER, fee_min_cents BIGINT, fee_max_cents BIGINT,
                 status TEXT, account_id BIGINT, balance BIGINT,
                 created_at TIMESTAMPTZ, language TEXT, payout_keep_cents BIGINT,
                 payout_threshold_cents BIGINT, payer_id BIGINT, payer_name TEXT,
                 payer_phone TEXT, payer_language TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT m.id, m.legal_name, m.display_name, m.till_number, m.contact_phone,
           m.payout_phone, m.payout_schedule, m.fee_bps,
           m.fee_min_cents, m.fee_max_cents, m.status, m.account_id,
           s.balance, m.created_at, m.language, m.payout_keep_cents,
           m.payout_threshold_cents, u.id, u.full_name, u.phone, u.language
    FROM (SELECT 1) AS one
    LEFT JOIN merchants m ON m.till_number = p_till
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(sa.balance), 0)::bigint AS balance
        FROM merchant_accounts ma JOIN ledger_accounts sa ON sa.id = ma.account_id
        WHERE ma.merchant_id = m.id) s ON m.id IS NOT NULL
    LEFT JOIN users u ON u.id = p_payer_id;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_merchant_pay(
    p_payer_user_id BIGINT,
    p_merchant_id   BIGINT,
    p_merchant_acct BIGINT,
    p_fees_code     TEXT,
    p_amount        BIGINT,
    p_fee           BIGINT,
    p_key           TEXT,
    p_request_hash  TEXT,
    p_reference     TEXT,
    p_channel       TEXT,
    p_note          TEXT,
    p_created_at    TIMESTAMPTZ,
    p_today         DATE,
    p_issuer_kinds  TEXT[],
    p_messages      JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, balance BIGINT,
                 merchant_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet      BIGINT;
    v_wallet_last BOOLEAN;
    v_per_tx      BIGINT;
    v_daily       BIGINT;
    v_rolling     BIGINT;
    v_merchant_last BOOLEAN;
    v_shard       BIGINT;
    v_fees        BIGINT;
    v_fees_last   BOOLEAN;
    v_keys        BIGINT[];
    v_key         BIGINT;
    v_id          BIGINT;
    v_balance     BIGINT;
    v_day         BIGINT;
    v_30_days     BIGINT;
    v_tx          BIGINT;
    v_accounts    BIGINT[];
    v_amounts     BIGINT[];
    v_leg         RECORD;
    v_after       BIGINT;
    v_merchant_after BIGINT;
    v_payer_text  TEXT;
    v_merchant_text TEXT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_payer_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    -- The merchant's account this payer pays: its shard for the wallet
    -- (merchant_accounts, by the wallet's id mod 8), or shard 0 (p_merchant_acct) when
    -- the merchant has no such shard.
    SELECT coalesce(s.account_id, p_merchant_acct) INTO v_shard
    FROM (SELECT 1) AS one
    LEFT JOIN merchant_accounts s
      ON s.merchant_id = p_merchant_id AND s.shard = v_wallet % 8;
    SELECT a.locked_last INTO STRICT v_merchant_last
    FROM ledger_accounts a WHERE a.id = v_shard;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- As ledger_transfer's (0058): each row by its own primary-key lookup, sorted on
    -- ledger_lock_key, the wallet's returning its balance. The merchant's account is
    -- only credited and nothing below reads it: when it sorts last, its lock is left
    -- to its leg's UPDATE. The fees shard is locked only when a fee is taken.
    IF p_fee > 0 THEN
        SELECT a.id, a.locked_last INTO STRICT v_fees, v_fees_last
        FROM ledger_accounts a WHERE a.code = p_fees_code;
        v_keys := ARRAY[ledger_lock_key(v_wallet, v_wallet_last),
                        ledger_lock_key(v_shard, v_merchant_last),
                        ledger_lock_key(v_fees, v_fees_last)];
        -- Three distinct keys sorted without a statement (as ledger_transfer).
        v_keys := ARRAY[least(v_keys[1], v_keys[2], v_keys[3]),
                        v_keys[1] + v_keys[2] + v_keys[3]
                          - least(v_keys[1], v_keys[2], v_keys[3])
                          - greatest(v_keys[1], v_keys[2], v_keys[3]),
                        greatest(v_keys[1], v_keys[2], v_keys[3])];
    ELSE
        v_keys := ARRAY[ledger_lock_key(v_wallet, v_wallet_last),
                        ledger_lock_key(v_shard, v_merchant_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2]), greatest(v_keys[1], v_keys[2])];
    END IF;
    FOREACH v_key IN ARRAY v_keys LOOP
        v_id := v_key % 281474976710656;
        EXIT WHEN v_id = v_shard AND v_key = v_keys[cardinality(v_keys)];
        IF v_id = v_wallet THEN
            SELECT a.balance INTO v_balance FROM ledger_accounts a
            WHERE a.id = v_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = v_id FOR NO KEY UPDATE;
        END IF;
    END LOOP;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'merchant_payment', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_payer_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- The legs as the statement-by-statement payment wrote them: the payer pays the
    -- merchant, the merchant pays its fee (when there is one) to the fees shard.
    v_accounts := ARRAY[v_wallet, v_shard];
    v_amounts := ARRAY[-p_amount, p_amount];
    IF p_fee > 0 THEN
        v_accounts := v_accounts || ARRAY[v_shard, v_fees];
        v_amounts := v_amounts || ARRAY[-p_fee, p_fee];
    END IF;

    -- Where each leg's money lives on-chain, netted, by LedgerRepository.post's rule: a
    -- wallet is its own party, any other account the treasury (party 0), an issuer kind
    -- no party; the parties whose net is negative pay.
    INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
    SELECT v_tx,
           coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
           array_agg(p.party ORDER BY p.party), 'pending', 'paytrace'
    FROM (
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(v_accounts, v_amounts) AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind <> ALL (p_issuer_kinds)
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ) p
    HAVING count(*) > 0;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    INSERT INTO merchant_payments
        (transaction_id, merchant_id, payer_user_id, amount, fee, channel, created_at)
    VALUES (v_tx, p_merchant_id, p_payer_user_id, p_amount, p_fee, p_channel,
            p_created_at);

    -- ---- the merchant's lock, last ---------------------------------------------------
    -- The leg trigger moves each balance and sets balance_after, the rows in the
    -- order above.
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        SELECT v_tx, leg.account_id, leg.amount, 0
        FROM unnest(v_accounts, v_amounts) WITH ORDINALITY AS leg (account_id, amount, n)
        ORDER BY leg.n
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        END IF;
    END LOOP;

    v_payer_text := ledger_format_kes(v_after);
    -- The merchant's balance: every shard, this one with its legs, the others as
    -- committed (a payment in flight on another shard is not seen yet).
    SELECT coalesce(sum(sa.balance), 0)::bigint INTO v_merchant_after
    FROM merchant_accounts ma JOIN ledger_accounts sa ON sa.id = ma.account_id
    WHERE ma.merchant_id = p_merchant_id;
    v_merchant_text := ledger_format_kes(v_merchant_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_payer_user_id
                    THEN v_payer_text ELSE v_merchant_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_after, v_merchant_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;

-- ---- migration 0063: first hops' profile reads in one statement ----

-- The USSD first hop's reads of callers no cache knows, several in one statement
-- (issue 18; docs/benchmarks.md, "First hops' profile reads, coalesced"). Concurrent
-- first hops' reads are gathered while one is out (app/infra/coalesced_reads.py) and
-- sent together: the users and their wallets by phone, as user_with_wallet_by_phone
-- (0057) reads one, in a PL/pgSQL function whose plan the backend keeps. A phone with
-- no user has no row.
CREATE FUNCTION users_with_wallet_by_phones(p_phones TEXT[])
RETURNS TABLE (id BIGINT, paytrace_id TEXT, phone TEXT, full_name TEXT, role TEXT,
               language TEXT, registration_key TEXT, created_at TIMESTAMPTZ,
               stellar_address TEXT, activation_status TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT u.id, u.paytrace_id, u.phone, u.full_name, u.role, u.language,
           u.registration_key, u.created_at, w.stellar_address, w.activation_status
    FROM users u JOIN wallets w ON w.user_id = u.id
    WHERE u.phone = ANY (p_phones);
END;
$$;

-- ---- migration 0064: one read of profiles by phone ----

-- One read of profiles by phone (issue 18): a single phone is now read by 0063's
-- users_with_wallet_by_phones as an array of one (UserRepository.get_with_wallet_by_phone:
-- the console's and the admin API's look-ups), the same function the USSD first hops'
-- gathered reads use, so 0057's single-phone function is dropped.
DROP FUNCTION user_with_wallet_by_phone(TEXT);
