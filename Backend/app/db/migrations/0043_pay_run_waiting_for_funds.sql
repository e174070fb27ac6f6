-- A pay run waiting for funds, and a run closed unpaid (docs/wages.md, "Recurring pay
-- runs"). A wage schedule's run the employer's wallet cannot pay yet is 'approved'
-- (approved_at set, nothing held); a retry that finds the funds holds them and makes it
-- 'funded'. When its occurrence is skipped (no funds after the retries, a refusal, the
-- schedule paused or stopped) the run is 'canceled': it ends holding nothing, so no
-- draft of a skipped occurrence is left behind.
-- draft -> approved -> funded -> paying -> completed | partially_failed;
-- draft | approved -> canceled (nothing held), for good.
ALTER TABLE pay_runs DROP CONSTRAINT pay_runs_status_check;
ALTER TABLE pay_runs ADD CONSTRAINT pay_runs_status_check
    CHECK (status IN ('draft', 'approved', 'funded', 'paying', 'completed',
                      'partially_failed', 'canceled'));

-- A run canceled as a draft was never approved; one canceled while approved was.
ALTER TABLE pay_runs DROP CONSTRAINT pay_runs_check;
ALTER TABLE pay_runs ADD CONSTRAINT pay_runs_check
    CHECK (status = 'canceled' OR (status = 'draft') = (approved_at IS NULL));
ALTER TABLE pay_runs DROP CONSTRAINT pay_runs_check1;
ALTER TABLE pay_runs ADD CONSTRAINT pay_runs_check1
    CHECK ((status IN ('draft', 'approved', 'canceled')) = (hold_id IS NULL));
ALTER TABLE pay_runs DROP CONSTRAINT pay_runs_check3;
ALTER TABLE pay_runs ADD CONSTRAINT pay_runs_check3
    CHECK ((status IN ('completed', 'partially_failed', 'canceled')) = (ended_at IS NOT NULL));

-- A run moves one way only, along the steps above; an ended run stays ended; what it
-- pays (its date, cost, key) never changes; it is never deleted.
CREATE FUNCTION pay_runs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a pay run is never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'draft' THEN
            RAISE EXCEPTION 'a pay run is created a draft' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.reference, NEW.employer_user_id, NEW.pay_date, NEW.total_cost,
        NEW.channel, NEW.idempotency_key, NEW.request_hash, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.reference, OLD.employer_user_id, OLD.pay_date, OLD.total_cost,
        OLD.channel, OLD.idempotency_key, OLD.request_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'a pay run''s terms are never edited' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status IN ('completed', 'partially_failed', 'canceled')
       AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'a pay run that is % stays so', OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'draft' AND NEW.status IN ('approved', 'funded', 'canceled'))
        OR (OLD.status = 'approved' AND NEW.status IN ('funded', 'canceled'))
        OR (OLD.status = 'funded' AND NEW.status IN ('paying', 'completed', 'partially_failed'))
        OR (OLD.status = 'paying' AND NEW.status IN ('completed', 'partially_failed'))
    ) THEN
        RAISE EXCEPTION 'a pay run cannot go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER pay_runs_guard
    BEFORE INSERT OR UPDATE OR DELETE ON pay_runs
    FOR EACH ROW EXECUTE FUNCTION pay_runs_guard();
