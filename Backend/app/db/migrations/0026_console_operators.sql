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
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
