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
