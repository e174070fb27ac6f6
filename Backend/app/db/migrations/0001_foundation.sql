-- PayTrace foundation: users, PIN credentials, custodied wallets, the
-- transactional outbox and the SMS log.

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
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE user_credentials (
    user_id         BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    pin_hash        TEXT        NOT NULL,
    failed_attempts INTEGER     NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    TIMESTAMPTZ,
    pin_changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
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
    kind             TEXT        NOT NULL CHECK (kind IN ('sms')),
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
