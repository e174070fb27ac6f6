-- A harambee's escrow in shards (issue 18; docs/harambee.md, "A hot account"). Every
-- contributor pays one escrow account, and its row lock held each contribution's
-- legs, SMS and COMMIT one after another: about 800 contributions/s on the benchmark's
-- two cores, where eight campaigns side by side took 1,266-1,270/s. A campaign's escrow
-- is now eight accounts (kind 'campaign', the treasury's on Stellar as before), a
-- contributor always paying the same one (the wallet's id mod 8), so refunds draw from
-- where the money went; what a campaign raised is their sum.
--
-- * campaign_escrows: a campaign's escrow accounts by shard; shard 0 is
--   campaigns.account_id. Campaigns opened before this migration get their shard 0
--   here and keep paying into it alone.
-- * ledger_contribute: pays the contributor's shard, locked as the escrow was (in the
--   lock order, late when it sorts after the wallet); the raised total it returns and
--   the milestone it checks read every shard. Checks, rows and answers otherwise those
--   of 0058.
CREATE TABLE campaign_escrows (
    campaign_id BIGINT   NOT NULL REFERENCES campaigns (id),
    shard       SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 7),
    account_id  BIGINT   NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    PRIMARY KEY (campaign_id, shard)
);
INSERT INTO campaign_escrows (campaign_id, shard, account_id)
SELECT id, 0, account_id FROM campaigns;

CREATE OR REPLACE FUNCTION ledger_contribute(
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
    v_escrow_acct BIGINT;
    v_escrow_kind TEXT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
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
    v_escrow_late BOOLEAN;
    v_wallet_last BOOLEAN;
    v_escrow_last BOOLEAN;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    -- The escrow account this contributor pays: the campaign's shard for the wallet
    -- (campaign_escrows, by the wallet's id mod 8), or its shard 0 when it has no such
    -- shard (a campaign opened before 0059 has only that one).
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit, coalesce(s.account_id, p_escrow_id),
           coalesce(e.locked_last, false)
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling, v_escrow_acct,
         v_escrow_last
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    LEFT JOIN campaign_escrows s ON s.campaign_id = p_campaign_id AND s.shard = a.id % 8
    LEFT JOIN ledger_accounts e ON e.id = coalesce(s.account_id, p_escrow_id)
    WHERE a.user_id = p_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- The escrow (the hot account: every contributor pays it) is taken last when it
    -- sorts after the wallet in (locked_last, id) order (migration 0058): everything
    -- that needs only the wallet's lock is checked and written first (below), then the
    -- escrow is locked for the campaign's status, the legs, the milestone and the SMS.
    v_escrow_late := ROW(v_escrow_last, v_escrow_acct) > ROW(v_wallet_last, v_wallet);
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id IN (v_wallet, v_escrow_acct) AND NOT (v_escrow_late AND a.id = v_escrow_acct)
    ORDER BY a.locked_last, a.id
    FOR NO KEY UPDATE;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
            NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_wallet;
    SELECT a.kind INTO v_escrow_kind FROM ledger_accounts a WHERE a.id = v_escrow_acct;
    -- Read again under the escrow's lock below when that comes later: ending a campaign
    -- changes its status under that lock.
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

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it
    -- (see ledger_transfer): the contributor's wallet pays; the escrow (a 'campaign'
    -- account: the treasury, party 0) is paid. Ids are >= 1, so party 0 sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_escrow_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[CASE WHEN v_escrow_kind = 'wallet' THEN v_escrow_acct ELSE 0 END];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_wallet];
        v_parties := CASE WHEN cardinality(v_parties) = 0 THEN ARRAY[v_wallet]
                          ELSE ARRAY[least(v_parties[1], v_wallet),
                                     greatest(v_parties[1], v_wallet)] END;
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, v_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    -- ---- the escrow's lock, last ----------------------------------------------------
    IF v_escrow_late THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = v_escrow_acct FOR NO KEY UPDATE;
        SELECT c.status, c.end_date, c.target_amount INTO v_status, v_end_date, v_target
        FROM campaigns c WHERE c.id = p_campaign_id;
        IF NOT (v_status = 'active' AND (v_end_date IS NULL OR p_today <= v_end_date)) THEN
            -- Ended since the first look: undo everything written above (the statement
            -- fails; ContributionRepository.post answers 'not_open' with the status).
            RAISE EXCEPTION 'campaign not open' USING
                ERRCODE = 'object_not_in_prerequisite_state', DETAIL = v_status;
        END IF;
    END IF;

    -- After the escrow's lock: its foreign key's check takes a key-share lock on the
    -- campaign's row, whose payout_id (a key) ending a campaign sets under the escrow's
    -- lock; taken before it, the two would wait on each other.
    INSERT INTO campaign_contributions
        (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
    VALUES (v_tx, p_campaign_id, p_user_id, p_pledge_id, p_is_anonymous, p_message)
    RETURNING id INTO v_id;

    -- The leg trigger moves each balance and sets balance_after: one INSERT, the rows
    -- in 0045's order (the wallet, then the escrow).
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_wallet, -v_amount, 0), (v_tx, v_escrow_acct, v_amount, 0)
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSE
            v_raised := v_leg.balance_after;
        END IF;
    END LOOP;

    -- Raised: every escrow account of the campaign, this one with its new leg; the
    -- others as committed (a contribution in flight on another shard is not seen yet).
    SELECT coalesce(sum(ea.balance), 0)::bigint INTO v_raised
    FROM campaign_escrows s JOIN ledger_accounts ea ON ea.id = s.account_id
    WHERE s.campaign_id = p_campaign_id;
    -- The highest milestone the total has reached, unless its SMS (one per milestone
    -- and target: its dedupe key) was written already. Not "crossed by this one": two
    -- contributions on two shards, each not seeing the other, could both miss it.
    SELECT m.value INTO v_milestone
    FROM jsonb_array_elements(p_milestones) AS m (value)
    WHERE (m.value ->> 'percent')::bigint * v_target <= v_raised * 100
    ORDER BY (m.value ->> 'percent')::bigint DESC
    LIMIT 1;
    IF v_milestone IS NOT NULL AND EXISTS (
        SELECT 1 FROM outbox o WHERE o.dedupe_key = ledger_fill_slots(
            v_milestone -> 'dedupe_key', v_amount, v_after, v_raised, v_target)) THEN
        v_milestone := NULL;
    END IF;
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message',
               ledger_fill_slots(m.value -> 'parts', v_amount, v_after, v_raised, v_target)),
           ledger_fill_slots(m.value -> 'dedupe_key', v_amount, v_after, v_raised, v_target)
    FROM (VALUES (1, p_receipt), (2, v_milestone)) AS m (n, value)
    WHERE m.value IS NOT NULL
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;
