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
                                       'amount_mismatch', 'state_mismatch')),
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
