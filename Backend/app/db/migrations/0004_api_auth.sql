-- REST API sign-in: one-time codes sent by SMS, and sessions whose refresh tokens
-- rotate on every use.

-- One-time codes for signing in (login) and for proving a phone before an API
-- registration (register). Only the newest code of a phone and purpose counts.
CREATE TABLE api_otps (
    id          BIGSERIAL PRIMARY KEY,
    phone       TEXT        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    purpose     TEXT        NOT NULL CHECK (purpose IN ('login', 'register')),
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
