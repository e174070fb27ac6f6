-- A transfer in one statement (docs/benchmarks.md, "The ledger in one statement").
--
-- ledger_transfer does in one call what a transfer did in three round trips (lock,
-- read the key and outflows, post), with its plans cached for the session: PL/pgSQL
-- keeps them per backend, so it stays safe behind PgBouncer in transaction mode where
-- a session's PREPARE would not be. The service runs it as a transaction of its own
-- (autocommit), so the accounts' locks end inside PostgreSQL at the statement's
-- COMMIT, never waiting on a round trip to the client. What needs no lock is read
-- before the first lock; the accounts are then locked in id order, as every movement
-- locks them, so deadlocks stay impossible.
--
-- A refusal is an outcome, not an error, and writes nothing. Unique and CHECK
-- violations (a key or reference taken concurrently, an overdraft) are raised as by
-- LedgerRepository.post, with the same constraint names.

-- format_kes (app/domain/money.py) in SQL: 12345 -> '123.45', 100000 -> '1,000'.
-- A test holds the two to the same answers.
CREATE FUNCTION ledger_format_kes(cents BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN cents < 0 THEN '-' ELSE '' END
        || to_char(abs(cents) / 100, 'FM999,999,999,999,999,990')
        || CASE WHEN abs(cents) % 100 = 0 THEN ''
                ELSE '.' || lpad((abs(cents) % 100)::text, 2, '0') END
$$;

-- p_messages: a JSON array of {kind, dedupe_key, payload, parts, balance_of}: the
-- SMS text is `parts` joined by the balance after the transfer of the wallet of user
-- `balance_of` (known only under the lock), written as payload's "message".
-- Outcomes: posted | replay (the key holds an earlier movement) | self | stale (the
-- phone no longer names p_recipient_user_id) | no_sender_wallet | no_recipient_wallet
-- | limits (day_total and rolling_total say how much went out) | no_fee_band
-- | insufficient (sender_balance says what the sender has).
CREATE FUNCTION ledger_transfer(
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
LANGUAGE plpgsql AS $$
DECLARE
    v_sender    BIGINT;
    v_receiver  BIGINT;
    v_fees      BIGINT;
    v_per_tx    BIGINT;
    v_daily     BIGINT;
    v_rolling   BIGINT;
    v_tx        BIGINT;
    v_balance   BIGINT;
    v_day       BIGINT;
    v_30_days   BIGINT;
    v_accounts  BIGINT[];
    v_amounts   BIGINT[];
    v_sender_after   BIGINT;
    v_receiver_after BIGINT;
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
        SELECT a.id INTO STRICT v_fees FROM ledger_accounts a WHERE a.code = p_fees_code;
    END IF;

    v_accounts := ARRAY[v_sender, v_receiver];
    v_amounts := ARRAY[-(p_amount + coalesce(p_fee, 0)), p_amount];
    IF v_fees IS NOT NULL THEN
        v_accounts := v_accounts || v_fees;
        v_amounts := v_amounts || p_fee;
    END IF;

    -- ---- under the locks, in id order ----------------------------------------------
    -- NO KEY UPDATE: what the balance's UPDATE takes anyway; it excludes every other
    -- movement (theirs is FOR UPDATE or this) but not a foreign key's check.
    PERFORM 1 FROM ledger_accounts a WHERE a.id = ANY (v_accounts) ORDER BY a.id
    FOR NO KEY UPDATE;
    -- Again under the sender's lock: a concurrent call with this key that held it first
    -- has committed by now, and this one is its replay, whatever the balance says.
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.balance INTO v_balance FROM ledger_accounts a WHERE a.id = v_sender;
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

    -- Where each leg's money lives on-chain, netted (as LedgerRepository.post).
    INSERT INTO stellar_settlements (transaction_id, payers, parties, status, origin)
    SELECT v_tx,
           coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
           array_agg(p.party ORDER BY p.party), 'pending', 'paytrace'
    FROM (
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(v_accounts, v_amounts) AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind <> ALL (p_issuer_kinds)
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ) p
    HAVING count(*) > 0;

    -- The leg trigger moves each balance and sets balance_after.
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, v_sender, -(p_amount + p_fee), 0)
    RETURNING balance_after INTO v_sender_after;
    INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
    VALUES (v_tx, v_receiver, p_amount, 0)
    RETURNING balance_after INTO v_receiver_after;
    IF v_fees IS NOT NULL THEN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        VALUES (v_tx, v_fees, p_fee, 0);
    END IF;

    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               ledger_format_kes(CASE WHEN (m.value ->> 'balance_of')::bigint = p_sender_user_id
                                      THEN v_sender_after ELSE v_receiver_after END))),
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
