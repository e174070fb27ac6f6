-- A harambee contribution in one statement (docs/benchmarks.md, "A contribution in one
-- statement"), as ledger_transfer (migration 0037) does a transfer.
--
-- A campaign's escrow is a hot account: everyone contributing locks it. Posted statement
-- by statement, a contribution held that lock across four round trips to the client
-- (lock, read after the lock, post, record) and its COMMIT. ledger_contribute checks and
-- writes everything under the locks and the service runs it as a transaction of its own
-- (autocommit), so the escrow's lock ends inside PostgreSQL at the statement's COMMIT.
-- The accounts are locked in id order, as every movement locks them.
--
-- A refusal is an outcome, not an error, and writes nothing. Unique and CHECK violations
-- (a key or reference taken concurrently, an overdraft) are raised as by
-- LedgerRepository.post, with the same constraint names.

-- A message's text with the values known only under the lock written in: `parts`
-- alternates literal text and the name of a value (amount, balance, raised, target:
-- formatted as format_kes; target_cents: the bare integer).
CREATE FUNCTION ledger_fill_slots(parts JSONB, amount BIGINT, balance BIGINT, raised BIGINT,
                                  target BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(
        CASE WHEN p.n % 2 = 1 THEN p.part
             WHEN p.part = 'amount' THEN ledger_format_kes(amount)
             WHEN p.part = 'balance' THEN ledger_format_kes(balance)
             WHEN p.part = 'raised' THEN ledger_format_kes(raised)
             WHEN p.part = 'target' THEN ledger_format_kes(target)
             WHEN p.part = 'target_cents' THEN target::text
        END, '' ORDER BY p.n), '')
    FROM jsonb_array_elements_text(parts) WITH ORDINALITY AS p (part, n)
$$;

-- p_receipt: {kind, payload, dedupe_key, parts}: the contributor's SMS, its text (and
-- dedupe key's) `parts` filled by ledger_fill_slots. p_milestones: one such message per
-- milestone (with its "percent"); the highest the escrow crosses is sent (the rule of
-- app.domain.harambee.milestone_reached: before*100 < percent*target <= after*100).
-- Outcomes: posted | replay (the key holds an earlier movement) | no_wallet | not_open
-- (detail: the campaign's status) | no_pledge | pledge_closed (detail: its status)
-- | exceeds_pledge (remaining) | limits (day_total, rolling_total; amount) | insufficient
-- (balance: what the wallet has; amount).
CREATE FUNCTION ledger_contribute(
    p_user_id      BIGINT,
    p_campaign_id  BIGINT,
    p_escrow_id    BIGINT,
    p_amount       BIGINT,
    p_pledge_id    BIGINT,
    p_key          TEXT,
    p_request_hash TEXT,
    p_reference    TEXT,
    p_channel      TEXT,
    p_note         TEXT,
    p_created_at   TIMESTAMPTZ,
    p_today        DATE,
    p_is_anonymous BOOLEAN,
    p_message      TEXT,
    p_issuer_kinds TEXT[],
    p_receipt      JSONB,
    p_milestones   JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, contribution_id BIGINT, amount BIGINT,
                 balance BIGINT, raised BIGINT, day_total BIGINT, rolling_total BIGINT,
                 detail TEXT, remaining BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet    BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_amount    BIGINT := p_amount;
    v_balance   BIGINT;
    v_escrow    BIGINT;
    v_status    TEXT;
    v_end_date  DATE;
    v_target    BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_pledger   BIGINT;
    v_pledged   BIGINT;
    v_paid      BIGINT;
    v_cancelled TIMESTAMPTZ;
    v_due       DATE;
    v_pledge_st TEXT;
    v_tx        BIGINT;
    v_after     BIGINT;
    v_raised    BIGINT;
    v_id        BIGINT;
    v_milestone JSONB;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_wallet, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    PERFORM 1 FROM ledger_accounts a WHERE a.id IN (v_wallet, p_escrow_id) ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.balance INTO v_escrow FROM ledger_accounts a WHERE a.id = p_escrow_id;
    SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
    FROM campaigns c WHERE c.id = p_campaign_id;
    -- app.domain.harambee.takes_money
    IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
        RETURN QUERY SELECT 'not_open'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, v_status, NULL::bigint;
        RETURN;
    END IF;

    IF p_pledge_id IS NOT NULL THEN
        SELECT p.user_id, p.amount, p.cancelled_at, p.due_date,
               (SELECT coalesce(sum(t.amount), 0)::bigint
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.pledge_id = p.id)
        INTO v_pledger, v_pledged, v_cancelled, v_due, v_paid
        FROM pledges p
        WHERE p.id = p_pledge_id AND p.campaign_id = p_campaign_id;
        IF v_pledger IS NULL OR v_pledger <> p_user_id THEN
            RETURN QUERY SELECT 'no_pledge'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
        -- pledges.STATUS_SQL (the campaign is active here)
        v_pledge_st := CASE WHEN v_cancelled IS NOT NULL THEN 'cancelled'
                            WHEN v_paid >= v_pledged THEN 'fulfilled'
                            WHEN v_status <> 'active' THEN 'cancelled'
                            WHEN v_due < p_today THEN 'overdue'
                            WHEN v_paid > 0 THEN 'partially_paid'
                            ELSE 'pledged' END;
        IF v_pledge_st IN ('fulfilled', 'cancelled') THEN
            RETURN QUERY SELECT 'pledge_closed'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                v_pledge_st, NULL::bigint;
            RETURN;
        END IF;
        v_amount := coalesce(p_amount, v_pledged - v_paid);
        IF v_amount > v_pledged - v_paid THEN
            RETURN QUERY SELECT 'exceeds_pledge'::text, NULL::bigint, NULL::bigint,
                NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                NULL::text, v_pledged - v_paid;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF v_amount > v_per_tx OR v_day + v_amount > v_daily
       OR v_30_days + v_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF v_balance < v_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, NULL::bigint, v_amount,
            v_balance, NULL::bigint, v_day, v_30_days, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing).
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'contribution', v_amount, 0, p_key, p_request_hash, p_channel,
            p_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted (as LedgerRepository.post).
    INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
    SELECT v_tx,
           coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
           array_agg(p.party ORDER BY p.party), 'pending', 'paytrace'
    FROM (
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(ARRAY[v_wallet, p_escrow_id], ARRAY[-v_amount, v_amount])
                 AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind <> ALL (p_issuer_kinds)
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ) p
    HAVING count(*) > 0;

    -- The leg trigger moves each balance and sets balance_after.
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, v_wallet, -v_amount, 0)
    RETURNING balance_after INTO v_after;
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, p_escrow_id, v_amount, 0)
    RETURNING balance_after INTO v_raised;

    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE v_escrow * 100 < (m.value ->> 'percent')::bigint * v_target
      AND (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;

-- Every statement in these two functions is planned once per backend and kept (a generic
-- plan): with the default, PL/pgSQL re-planned most of them on every call for the call's
-- parameters (a custom plan), and every plan it could choose is the same index lookup.
-- Measured on the spread ledger: PostgreSQL's CPU per transfer 1.31-1.36 ms before,
-- 1.13-1.14 ms after (docs/benchmarks.md, "Where the spread ledger's time goes").
ALTER FUNCTION ledger_transfer(BIGINT, BIGINT, TEXT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT,
                               TEXT, TEXT, TIMESTAMPTZ, DATE, TEXT[], JSONB)
    SET plan_cache_mode = force_generic_plan;
