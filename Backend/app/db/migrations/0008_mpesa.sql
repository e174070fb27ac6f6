-- M-Pesa through Daraja: deposits (STK push), withdrawals (B2C), and every inbound
-- callback kept as it arrived.
--
-- deposit: the M-Pesa float to a wallet, once M-Pesa says the customer paid.
-- withdrawal: a wallet's amount and fee into a hold account the moment the user
--   confirms, so the balance they see already excludes it;
-- withdrawal_payout: once M-Pesa paid the customer, the hold to the float (the
--   amount) and to a fees shard (the fee);
-- withdrawal_release: once M-Pesa is known not to have paid, the hold back to the
--   wallet.
-- The hold accounts ('mpesa_hold:0' ... 'mpesa_hold:15', a withdrawal uses its user's
-- shard, as fees do) never go below zero. On Stellar they live with the treasury: a
-- withdrawal settles as a payment from the user to the treasury, its payout as a
-- burn (treasury to issuer), its release as a payment back to the user.
--
-- These CHECK constraints list every kind, those of the earlier migrations included.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign', 'mpesa_hold'));

ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release'));

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('sms', 'stellar', 'mpesa_stk', 'mpesa_b2c'));

-- Withdrawal fees, in cents (both ends inclusive): M-Pesa charges PayTrace for each
-- B2C payment. The service takes whole shillings from KES 10 (M-Pesa's smallest B2C
-- payment); the bands still cover every cent, as every kind's do.
ALTER TABLE fee_bands DROP CONSTRAINT fee_bands_kind_check;
ALTER TABLE fee_bands ADD CONSTRAINT fee_bands_kind_check
    CHECK (kind IN ('transfer', 'withdrawal'));
INSERT INTO fee_bands (kind, min_amount, max_amount, fee)
VALUES ('withdrawal', 1, 10000, 500),
       ('withdrawal', 10001, 100000, 1500),
       ('withdrawal', 100001, 500000, 2500),
       ('withdrawal', 500001, 2000000, 3500),
       ('withdrawal', 2000001, 25000000, 5000);

CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'mpesa_hold', 'mpesa_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense'),
           ('stellar_clearing', 'stellar_clearing')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

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
    -- unknown: the push's answer was lost (a late callback still completes it).
    status              TEXT        NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'pending', 'completed', 'failed',
                                          'disputed', 'unknown')),
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
    CHECK ((status = 'completed') = (transaction_id IS NOT NULL)),
    CHECK (status NOT IN ('pending', 'completed', 'disputed') OR checkout_request_id IS NOT NULL)
);
CREATE INDEX mpesa_deposits_user_idx ON mpesa_deposits (user_id, id);
CREATE INDEX mpesa_deposits_open_idx ON mpesa_deposits (next_check_at)
    WHERE status IN ('requested', 'pending');

-- A withdrawal: its hold, the B2C payment asked of M-Pesa under a unique
-- OriginatorConversationID (M-Pesa refuses that id a second time, so asking again is
-- safe), and how it ended: paid out, or released after M-Pesa's result, or after
-- transaction status queries that did not find it.
CREATE TABLE mpesa_withdrawals (
    id                         BIGSERIAL   PRIMARY KEY,
    -- The hold's journal reference: the user's receipt, the API's id.
    reference                  TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    user_id                    BIGINT      NOT NULL REFERENCES users (id),
    phone                      TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    amount                     BIGINT      NOT NULL CHECK (amount > 0 AND amount % 100 = 0),
    fee                        BIGINT      NOT NULL CHECK (fee >= 0),
    channel                    TEXT        NOT NULL CHECK (channel IN ('ussd', 'api')),
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
           OR status = 'review')
);
CREATE INDEX mpesa_withdrawals_user_idx ON mpesa_withdrawals (user_id, id);
CREATE INDEX mpesa_withdrawals_check_idx ON mpesa_withdrawals (check_after)
    WHERE status IN ('held', 'submitted') AND check_after IS NOT NULL;
CREATE INDEX mpesa_withdrawals_query_idx ON mpesa_withdrawals (query_conversation_id)
    WHERE query_conversation_id IS NOT NULL;

-- Every callback that reached PayTrace (M-Pesa's, and Africa's Talking's delivery
-- reports), stored as it arrived before it is acted on, with whether its secret token
-- matched and what processing made of it: nothing that arrived is lost, even when
-- processing fails.
CREATE TABLE inbound_callbacks (
    id           BIGSERIAL   PRIMARY KEY,
    provider     TEXT        NOT NULL CHECK (provider IN ('mpesa', 'at')),
    kind         TEXT        NOT NULL
                 CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result',
                                 'status_timeout', 'sms_delivery')),
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
