-- Wages (docs/wages.md): employers, the workers they pay, pay runs and their lines, and
-- the ledger accounts the money waits in and the deductions accrue to.

-- wage_hold: approved pay runs' money, from the employer's wallet until each line is
-- paid or released (16 shards, 'wage_hold:<employer user id % 16>', as the other holds;
-- opened on first use, so the seeded system accounts are not redefined here).
-- wage_dues: what one employer owes one authority for one item ('wage_dues:<employer
-- user id>:<item>', opened on the employer's first paid line). PayTrace reports it;
-- it does not file or pay the authority.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign', 'mpesa_hold', 'merchant', 'bill_hold', 'bill_clearing',
                    'stellar_hold', 'wage_hold', 'wage_dues'));

-- wage_hold: the employer's wallet into a wage hold (a pay run's whole cost: gross pay
-- and the employer's shares); wage_payment: one line, the hold to the worker's wallet
-- (net pay) and to the employer's dues accounts (every deduction, both shares);
-- wage_release: one line's cost back to the employer (the line failed).
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment', 'bill_hold', 'bill_payment', 'bill_release',
                    'mpesa_order_payment', 'mpesa_owed_back', 'mpesa_order_returned',
                    'stellar_order_refund', 'stellar_order_refund_sent',
                    'stellar_order_refund_release',
                    'wage_hold', 'wage_payment', 'wage_release'));

-- wage_line: one pay-run line to pay, performed by the outbox worker inside the
-- transaction that settles the row (a ledger posting, no provider call: resumable).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('sms', 'stellar', 'mpesa_stk', 'mpesa_b2c', 'at_airtime',
                    'mpesa_reversal', 'mpesa_order_stk', 'daraja_b2b', 'wage_line'));

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
-- draft -> approved -> funded -> paying -> completed | partially_failed.
-- Approving holds the run's whole cost (hold_id); the worker pays each line; once no
-- line is queued the run ends completed (every line paid) or partially_failed.
CREATE TABLE pay_runs (
    id               BIGSERIAL   PRIMARY KEY,
    reference        TEXT        NOT NULL UNIQUE CHECK (reference ~ '^[A-Z2-9]{10}$'),
    employer_user_id BIGINT      NOT NULL REFERENCES employers (user_id),
    pay_date         DATE        NOT NULL,
    status           TEXT        NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'approved', 'funded', 'paying', 'completed',
                                       'partially_failed')),
    -- Gross pay and employer shares of every line: what approving holds.
    total_cost       BIGINT      NOT NULL CHECK (total_cost > 0),
    channel          TEXT        NOT NULL CHECK (channel IN ('ussd', 'api')),
    idempotency_key  TEXT        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash     TEXT        NOT NULL,
    hold_id          BIGINT      UNIQUE REFERENCES journal_transactions (id),
    -- The Nairobi day the hold counted against the employer's limits.
    hold_day         DATE,
    created_at       TIMESTAMPTZ NOT NULL,
    approved_at      TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    UNIQUE (employer_user_id, idempotency_key),
    CHECK ((status = 'draft') = (approved_at IS NULL)),
    CHECK ((status IN ('draft', 'approved')) = (hold_id IS NULL)),
    CHECK ((hold_id IS NULL) = (hold_day IS NULL)),
    CHECK ((status IN ('completed', 'partially_failed')) = (ended_at IS NOT NULL))
);
CREATE INDEX pay_runs_employer_idx ON pay_runs (employer_user_id, id);

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
