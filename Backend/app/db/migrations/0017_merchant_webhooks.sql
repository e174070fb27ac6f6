-- Merchant webhooks: the endpoints a merchant registers, the events PayTrace emits to
-- them (written in the transaction of the change they report), one delivery per event
-- and endpoint, and every attempt to deliver it (docs/merchants.md, "Webhooks").

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
