-- ---- recurring pay runs (migration 0040) -------------------------------------------
-- A wage schedule is a scheduled payment of kind 'wage' (docs/wages.md, "Recurring pay
-- runs"): its payee is the employed worker's id, its amount the worker's whole cost
-- (gross pay and the employer's shares) when it was made. Each occurrence makes a pay
-- run of that worker and approves it; the run's channel is 'system' (the worker made it,
-- not a dial or a request).
ALTER TABLE scheduled_payments DROP CONSTRAINT scheduled_payments_kind_check;
ALTER TABLE scheduled_payments ADD CONSTRAINT scheduled_payments_kind_check
    CHECK (kind IN ('transfer', 'bill', 'airtime', 'wage'));

ALTER TABLE pay_runs DROP CONSTRAINT pay_runs_channel_check;
ALTER TABLE pay_runs ADD CONSTRAINT pay_runs_channel_check
    CHECK (channel IN ('ussd', 'api', 'system'));

-- What *My pay* reads: a worker's wage schedules by the worker's id.
CREATE INDEX scheduled_payments_wage_payee_idx ON scheduled_payments (payee)
    WHERE kind = 'wage';
