-- A transfer's PostgreSQL time, trimmed where it was spent (issue 18; docs/benchmarks.md,
-- "Planning and locking a transfer"). `perf` on a backend posting transfers one after
-- another put a tenth of its CPU in planning the statements the client sends, and
-- `pg_stat_statements` put the lock statement first among ledger_transfer's own.
--
-- * ledger_transfer_parties: who a transfer is between and its fee, the read before
--   the posting (LedgerRepository.transfer_parties). Sent as text, its three-way join
--   was planned again on every transfer (0.2 ms, ten times the query's execution); a
--   PL/pgSQL function keeps its plan for the session. The same query, the same row.
-- * ledger_transfer: its accounts were locked by one statement over an array, planned
--   (generically) as a bitmap scan and a sort; each row is now locked by its own
--   primary-key lookup, in the same ascending order, with the same rows skipped, and
--   the sender's lookup returns its balance (read after its lock, as before: once
--   locked, nothing can change it). Checks, rows, their order and answers are those of
--   0054.
CREATE FUNCTION ledger_transfer_parties(
    p_sender_user_id  BIGINT,
    p_recipient_phone TEXT,
    p_fee_kind        TEXT,
    p_amount          BIGINT
) RETURNS TABLE (sender_id BIGINT, sender_name TEXT, sender_phone TEXT,
                 sender_language TEXT, recipient_id BIGINT, recipient_name TEXT,
                 recipient_phone TEXT, recipient_language TEXT, fee BIGINT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, s.full_name, s.phone, s.language,
           r.id, r.full_name, r.phone, r.language,
           (SELECT b.fee FROM fee_bands b
            WHERE b.kind = p_fee_kind AND p_amount BETWEEN b.min_amount AND b.max_amount)
    FROM (SELECT 1) AS one
    LEFT JOIN users s ON s.id = p_sender_user_id
    LEFT JOIN users r ON r.phone = p_recipient_phone;
END;
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
    v_accounts  BIGINT[];
    v_id        BIGINT;
    v_parties   BIGINT[];
    v_payers    BIGINT[];
    v_leg       RECORD;
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
    v_sender_text    TEXT;
    v_receiver_text  TEXT;
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
    SELECT a.id, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
    INTO v_sender, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_sender_user_id;
    IF v_sender IS NULL THEN
        RETURN QUERY SELECT 'no_sender_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id INTO v_receiver FROM ledger_accounts a WHERE a.user_id = p_recipient_user_id;
    IF v_receiver IS NULL THEN
        RETURN QUERY SELECT 'no_recipient_wallet'::text, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_fee IS NOT NULL AND p_fee > 0 THEN
        SELECT a.id, a.kind INTO STRICT v_fees, v_fees_kind
        FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check. Each row
    -- is locked by its own primary-key lookup, in ascending id order, the sender's
    -- returning its balance (nothing can change it once locked). The recipient's
    -- account is only credited and nothing below reads it: when its id is the highest,
    -- its lock is left to its leg's UPDATE (the last lock taken, so still in id
    -- order), and a hot recipient is held for the legs, the SMS and COMMIT only.
    IF v_fees IS NULL THEN
        v_accounts := ARRAY[least(v_sender, v_receiver), greatest(v_sender, v_receiver)];
    ELSE
        -- Three distinct ids sorted without a statement: the middle one is their sum
        -- less the least and the greatest.
        v_accounts := ARRAY[least(v_sender, v_receiver, v_fees),
                            v_sender + v_receiver + v_fees
                              - least(v_sender, v_receiver, v_fees)
                              - greatest(v_sender, v_receiver, v_fees),
                            greatest(v_sender, v_receiver, v_fees)];
    END IF;
    FOREACH v_id IN ARRAY v_accounts LOOP
        EXIT WHEN v_id = v_receiver AND v_id = v_accounts[cardinality(v_accounts)];
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
