-- A hot account an operator marks "locked last" (issue 18; docs/architecture.md, "The
-- lock order"). Every movement locks its accounts in
-- one order, which is what makes deadlocks impossible; until now that order was the
-- accounts' ids, so a wallet everyone pays was locked first whenever its id was low (an
-- early user, a shop that opened its wallet years ago) and held through every check and
-- row of every movement onto it. The order is now (locked_last, id): an account marked
-- locked last sorts after every unmarked one, so a movement that only credits it leaves
-- its lock to the leg's UPDATE and holds it for the legs, the SMS and COMMIT only
-- (as 0054 does for a credited account whose id is the highest).
--
-- * ledger_accounts.locked_last: set by an operator (app/services/lock_order.py) on a
--   wallet, merchant account or harambee escrow; every other account stays unmarked.
--   Changing it takes an ACCESS EXCLUSIVE lock on the table, so no movement that read
--   the old order is still running when the new one is read.
-- * ledger_accounts' ids stay below 2^48 (the sequence's maximum), so one BIGINT key
--   per account sorts the order: ledger_lock_key.
-- * LedgerRepository.accounts orders its FOR UPDATE by (locked_last, id); ledger_transfer
--   and ledger_contribute below sort by the same keys. Checks, rows, their order and
--   answers are those of 0055 and 0054.
ALTER TABLE ledger_accounts ADD COLUMN locked_last BOOLEAN NOT NULL DEFAULT false;
ALTER SEQUENCE ledger_accounts_id_seq MAXVALUE 281474976710655;

CREATE FUNCTION ledger_lock_key(p_id BIGINT, p_locked_last BOOLEAN) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_id + CASE WHEN p_locked_last THEN 281474976710656 ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION ledger_transfer(
    p_sender_user_id    BIGINT,
    p_recipient_user_id BIGINT,
    p_recipient_phone   TEXT,
    p_fees_code         TEXT,
    p_amount            BIGINT,
    p_fee               BIGINT,
    p_key               TEXT,
    p_request_hash      TEXT,
    p_reference         TEXT,
    p_channel           TEXT,
    p_note              TEXT,
    p_created_at        TIMESTAMPTZ,
    p_today             DATE,
    p_issuer_kinds      TEXT[],
    p_messages          JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, sender_balance BIGINT,
                 receiver_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_fees_kind TEXT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_id        BIGINT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
    v_sender_text    TEXT;
    v_receiver_text  TEXT;
    v_sender_last    BOOLEAN;
    v_receiver_last  BOOLEAN;
    v_fees_last      BOOLEAN;
    v_keys           BIGINT[];
    v_key            BIGINT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_recipient_user_id = p_sender_user_id THEN
        RETURN QUERY SELECT 'self'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users u
                   WHERE u.id = p_recipient_user_id AND u.phone = p_recipient_phone) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit
    INTO v_sender, v_sender_last, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last INTO v_receiver, v_receiver_last
    FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id, a.kind, a.locked_last INTO STRICT v_fees, v_fees_kind, v_fees_last
        FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check. Each row
    -- is locked by its own primary-key lookup, in (locked_last, id) order (migration
    -- 0058), the sender's returning its balance (nothing can change it once locked).
    -- The order is sorted on one key per account (ledger_lock_key: its id, plus 2^48
    -- when locked last; ids stay below 2^48, the sequence's maximum). The
    -- recipient's account is only credited and nothing below reads it: when it sorts
    -- last, its lock is left to its leg's UPDATE (the last lock taken, so still in
    -- order), and a hot recipient is held for the legs, the SMS and COMMIT only.
    IF v_fees IS NULL THEN
        v_keys := ARRAY[ledger_lock_key(v_sender, v_sender_last),
                        ledger_lock_key(v_receiver, v_receiver_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2]), greatest(v_keys[1], v_keys[2])];
    ELSE
        -- Three distinct keys sorted without a statement: the middle one is their sum
        -- less the least and the greatest (each below 2^49: no overflow).
        v_keys := ARRAY[ledger_lock_key(v_sender, v_sender_last),
                        ledger_lock_key(v_receiver, v_receiver_last),
                        ledger_lock_key(v_fees, v_fees_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2], v_keys[3]),
                        v_keys[1] + v_keys[2] + v_keys[3]
                          - least(v_keys[1], v_keys[2], v_keys[3])
                          - greatest(v_keys[1], v_keys[2], v_keys[3]),
                        greatest(v_keys[1], v_keys[2], v_keys[3])];
    END IF;
    FOREACH v_key IN ARRAY v_keys LOOP
        v_id := v_key % 281474976710656;
        EXIT WHEN v_id = v_receiver AND v_key = v_keys[cardinality(v_keys)];
        IF v_id = v_sender THEN
            SELECT a.balance INTO v_balance FROM ledger_accounts a
            WHERE a.id = v_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = v_id FOR NO KEY UPDATE;
        END IF;
    END LOOP;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT coalesce(sum(o.amount) FILTER (WHERE o.day = p_today), 0),
           coalesce(sum(o.amount), 0)
    INTO v_day, v_30_days
    FROM account_outflows o
    WHERE o.account_id = v_sender AND o.day > p_today - 30;

    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF p_fee IS NULL THEN
        RETURN QUERY SELECT 'no_fee_band'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount + p_fee THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'transfer', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_sender_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- Where each leg's money lives on-chain, netted, as LedgerRepository.post writes it:
    -- a wallet is its own party, any other account the treasury (party 0), an issuer
    -- kind no party. The sender's wallet is the one that pays (its net is -(amount +
    -- fee) < 0); the recipient's and the fee shard's nets are positive. Ids are >= 1,
    -- so the treasury sorts first.
    v_parties := '{}';
    v_payers := '{}';
    IF v_fees IS NOT NULL AND v_fees_kind <> ALL (p_issuer_kinds) THEN
        v_parties := ARRAY[0::bigint];
    END IF;
    IF 'wallet' <> ALL (p_issuer_kinds) THEN
        v_payers := ARRAY[v_sender];
        v_parties := v_parties || ARRAY[least(v_sender, v_receiver),
                                        greatest(v_sender, v_receiver)];
    END IF;
    IF cardinality(v_parties) > 0 THEN
        INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
        VALUES (v_tx, v_payers, v_parties, 'pending', 'paytrace');
    END IF;

    -- The leg trigger moves each balance and sets balance_after; the rows go in the
    -- order 0037 wrote them (sender, recipient, fee), so the journal reads the same.
    IF v_fees IS NOT NULL THEN
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -(p_amount + p_fee), 0), (v_tx, v_receiver, p_amount, 0),
                   (v_tx, v_fees, p_fee, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSIF v_leg.account_id = v_receiver THEN
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    ELSE
        FOR v_leg IN
            INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
            VALUES (v_tx, v_sender, -p_amount, 0), (v_tx, v_receiver, p_amount, 0)
            RETURNING account_id, balance_after
        LOOP
            IF v_leg.account_id = v_sender THEN
                v_sender_after := v_leg.balance_after;
            ELSE
                v_receiver_after := v_leg.balance_after;
            END IF;
        END LOOP;
    END IF;

    v_sender_text := ledger_format_kes(v_sender_after);
    v_receiver_text := ledger_format_kes(v_receiver_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                    THEN v_sender_text ELSE v_receiver_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    -- Last: what a crash test waits on (tests/integration/test_ledger_crash.py), with
    -- everything else written.
    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_sender, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_sender_after, v_receiver_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;

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
    v_escrow    BIGINT;
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
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit, coalesce(e.locked_last, false)
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling, v_escrow_last
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    LEFT JOIN ledger_accounts e ON e.id = p_escrow_id
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
    v_escrow_late := ROW(v_escrow_last, p_escrow_id) > ROW(v_wallet_last, v_wallet);
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id IN (v_wallet, p_escrow_id) AND NOT (v_escrow_late AND a.id = p_escrow_id)
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
    SELECT a.kind INTO v_escrow_kind FROM ledger_accounts a WHERE a.id = p_escrow_id;
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
        v_parties := ARRAY[CASE WHEN v_escrow_kind = 'wallet' THEN p_escrow_id ELSE 0 END];
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
        PERFORM 1 FROM ledger_accounts a WHERE a.id = p_escrow_id FOR NO KEY UPDATE;
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
        VALUES (v_tx, v_wallet, -v_amount, 0), (v_tx, p_escrow_id, v_amount, 0)
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        ELSE
            v_raised := v_leg.balance_after;
        END IF;
    END LOOP;

    v_escrow := v_raised - v_amount;
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

    RETURN QUERY SELECT 'posted'::text, v_tx, v_id, v_amount, v_after, v_raised,
                        v_day + v_amount, v_30_days + v_amount, NULL::text, NULL::bigint;
END;
$$;
