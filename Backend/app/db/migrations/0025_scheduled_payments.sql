-- ---- scheduled payments (migration 0025) -------------------------------------------
-- A user's payment that repeats itself (docs/schedules.md): weekly on a weekday or
-- monthly on a day of the month, at a Nairobi time, from a start date until a date or a
-- count. Its kind says what it pays and which executor pays it (transfer: Send money to
-- another wallet; bills and airtime add their kinds to the CHECK). Each due instant is an
-- occurrence, made once (unique per schedule and instant) and accounted for once: paid,
-- or skipped with its reason.
CREATE TABLE scheduled_payments (
    id                BIGSERIAL   PRIMARY KEY,
    owner_user_id     BIGINT      NOT NULL REFERENCES users (id),
    kind              TEXT        NOT NULL CHECK (kind IN ('transfer')),
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
