-- A merchant's account in shards (issue 18; docs/merchants.md, "A merchant's account in
-- shards"). Every payer of a till pays the merchant's account, and its row lock held
-- each payment's legs, SMS and COMMIT one after another: 730-786 payments/s onto one till
-- on the benchmark's two cores, where eight tills side by side took 1,112/s. A
-- merchant's money is now eight accounts (kind 'merchant', the treasury's on Stellar as
-- before), a payer at a till always paying the same one (the wallet's id mod 8); what
-- the merchant holds is their sum, and every payout and refund draws from the shards.
--
-- * merchant_accounts: a merchant's accounts by shard; shard 0 is merchants.account_id
--   (where money paid from M-Pesa or Stellar and a payout M-Pesa failed still go).
--   Every merchant gets shards 1 to 7 here, empty, coded 'merchant:<till>:<n>'.
-- * ledger_merchant_payment_parties: the merchant's balance is the shards' sum.
-- * ledger_merchant_pay: pays the payer's shard (locked as the merchant's account was: in
--   the lock order, by its leg when it sorts last); the merchant's balance in its notice
--   is every shard's as the payment sees them (this one with its legs, the others as
--   committed). Checks, rows and answers otherwise those of 0061.
CREATE TABLE merchant_accounts (
    merchant_id BIGINT   NOT NULL REFERENCES merchants (id),
    shard       SMALLINT NOT NULL CHECK (shard BETWEEN 0 AND 7),
    account_id  BIGINT   NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    PRIMARY KEY (merchant_id, shard)
);
INSERT INTO merchant_accounts (merchant_id, shard, account_id)
SELECT id, 0, account_id FROM merchants;
WITH shards AS (
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'merchant', 'merchant:' || m.till_number || ':' || n
    FROM merchants m, generate_series(1, 7) n
    ORDER BY m.id, n
    RETURNING id, code
)
INSERT INTO merchant_accounts (merchant_id, shard, account_id)
SELECT m.id, split_part(s.code, ':', 3)::smallint, s.id
FROM shards s JOIN merchants m ON m.till_number = split_part(s.code, ':', 2);

CREATE OR REPLACE FUNCTION ledger_merchant_payment_parties(
    p_till     TEXT,
    p_payer_id BIGINT
) RETURNS TABLE (id BIGINT, legal_name TEXT, display_name TEXT, till_number TEXT,
                 contact_phone TEXT, payout_phone TEXT, payout_schedule TEXT,
                 fee_bps INTEGER, fee_min_cents BIGINT, fee_max_cents BIGINT,
                 status TEXT, account_id BIGINT, balance BIGINT,
                 created_at TIMESTAMPTZ, language TEXT, payout_keep_cents BIGINT,
                 payout_threshold_cents BIGINT, payer_id BIGINT, payer_name TEXT,
                 payer_phone TEXT, payer_language TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT m.id, m.legal_name, m.display_name, m.till_number, m.contact_phone,
           m.payout_phone, m.payout_schedule, m.fee_bps,
           m.fee_min_cents, m.fee_max_cents, m.status, m.account_id,
           s.balance, m.created_at, m.language, m.payout_keep_cents,
           m.payout_threshold_cents, u.id, u.full_name, u.phone, u.language
    FROM (SELECT 1) AS one
    LEFT JOIN merchants m ON m.till_number = p_till
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(sa.balance), 0)::bigint AS balance
        FROM merchant_accounts ma JOIN ledger_accounts sa ON sa.id = ma.account_id
        WHERE ma.merchant_id = m.id) s ON m.id IS NOT NULL
    LEFT JOIN users u ON u.id = p_payer_id;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_merchant_pay(
    p_payer_user_id BIGINT,
    p_merchant_id   BIGINT,
    p_merchant_acct BIGINT,
    p_fees_code     TEXT,
    p_amount        BIGINT,
    p_fee           BIGINT,
    p_key           TEXT,
    p_request_hash  TEXT,
    p_reference     TEXT,
    p_channel       TEXT,
    p_note          TEXT,
    p_created_at    TIMESTAMPTZ,
    p_today         DATE,
    p_issuer_kinds  TEXT[],
    p_messages      JSONB
) RETURNS TABLE (outcome TEXT, transaction_id BIGINT, balance BIGINT,
                 merchant_balance BIGINT, day_total BIGINT, rolling_total BIGINT)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_wallet      BIGINT;
    v_wallet_last BOOLEAN;
    v_per_tx      BIGINT;
    v_daily       BIGINT;
    v_rolling     BIGINT;
    v_merchant_last BOOLEAN;
    v_shard       BIGINT;
    v_fees        BIGINT;
    v_fees_last   BOOLEAN;
    v_keys        BIGINT[];
    v_key         BIGINT;
    v_id          BIGINT;
    v_balance     BIGINT;
    v_day         BIGINT;
    v_30_days     BIGINT;
    v_tx          BIGINT;
    v_accounts    BIGINT[];
    v_amounts     BIGINT[];
    v_leg         RECORD;
    v_after       BIGINT;
    v_merchant_after BIGINT;
    v_payer_text  TEXT;
    v_merchant_text TEXT;
BEGIN
    -- ---- before any lock ----------------------------------------------------------
    IF EXISTS (SELECT 1 FROM journal_transactions t WHERE t.idempotency_key = p_key) THEN
        RETURN QUERY SELECT 'replay'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT a.id, a.locked_last, k.per_transaction_limit, k.daily_limit,
           k.rolling_30_day_limit
    INTO v_wallet, v_wallet_last, v_per_tx, v_daily, v_rolling
    FROM ledger_accounts a
    JOIN users u ON u.id = a.user_id
    JOIN kyc_tiers k ON k.tier = u.kyc_tier
    WHERE a.user_id = p_payer_user_id;
    IF v_wallet IS NULL THEN
        RETURN QUERY SELECT 'no_wallet'::text, NULL::bigint, NULL::bigint, NULL::bigint,
                            NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    -- The merchant's account this payer pays: its shard for the wallet
    -- (merchant_accounts, by the wallet's id mod 8), or shard 0 (p_merchant_acct) when
    -- the merchant has no such shard.
    SELECT coalesce(s.account_id, p_merchant_acct) INTO v_shard
    FROM (SELECT 1) AS one
    LEFT JOIN merchant_accounts s
      ON s.merchant_id = p_merchant_id AND s.shard = v_wallet % 8;
    SELECT a.locked_last INTO STRICT v_merchant_last
    FROM ledger_accounts a WHERE a.id = v_shard;

    -- ---- under the locks, in the ledger's lock order ---------------------------------
    -- As ledger_transfer's (0058): each row by its own primary-key lookup, sorted on
    -- ledger_lock_key, the wallet's returning its balance. The merchant's account is
    -- only credited and nothing below reads it: when it sorts last, its lock is left
    -- to its leg's UPDATE. The fees shard is locked only when a fee is taken.
    IF p_fee > 0 THEN
        SELECT a.id, a.locked_last INTO STRICT v_fees, v_fees_last
        FROM ledger_accounts a WHERE a.code = p_fees_code;
        v_keys := ARRAY[ledger_lock_key(v_wallet, v_wallet_last),
                        ledger_lock_key(v_shard, v_merchant_last),
                        ledger_lock_key(v_fees, v_fees_last)];
        -- Three distinct keys sorted without a statement (as ledger_transfer).
        v_keys := ARRAY[least(v_keys[1], v_keys[2], v_keys[3]),
                        v_keys[1] + v_keys[2] + v_keys[3]
                          - least(v_keys[1], v_keys[2], v_keys[3])
                          - greatest(v_keys[1], v_keys[2], v_keys[3]),
                        greatest(v_keys[1], v_keys[2], v_keys[3])];
    ELSE
        v_keys := ARRAY[ledger_lock_key(v_wallet, v_wallet_last),
                        ledger_lock_key(v_shard, v_merchant_last)];
        v_keys := ARRAY[least(v_keys[1], v_keys[2]), greatest(v_keys[1], v_keys[2])];
    END IF;
    FOREACH v_key IN ARRAY v_keys LOOP
        v_id := v_key % 281474976710656;
        EXIT WHEN v_id = v_shard AND v_key = v_keys[cardinality(v_keys)];
        IF v_id = v_wallet THEN
            SELECT a.balance INTO v_balance FROM ledger_accounts a
            WHERE a.id = v_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = v_id FOR NO KEY UPDATE;
        END IF;
    END LOOP;
    -- Again under the wallet's lock: a concurrent call with this key that held it first
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
    WHERE o.account_id = v_wallet AND o.day > p_today - 30;
    -- The same rule as services.ledger.check_limits, which names the refusal.
    IF p_amount > v_per_tx OR v_day + p_amount > v_daily
       OR v_30_days + p_amount > v_rolling THEN
        RETURN QUERY SELECT 'limits'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;
    IF v_balance < p_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, v_balance, NULL::bigint,
                            v_day, v_30_days;
        RETURN;
    END IF;

    -- Checked: everything is written now (a refusal above wrote nothing). A concurrent
    -- call that took the key or the reference first makes this INSERT fail.
    INSERT INTO journal_transactions
        (reference, kind, amount, fee, idempotency_key, request_hash, channel,
         initiator_user_id, note, created_at)
    VALUES (p_reference, 'merchant_payment', p_amount, p_fee, p_key, p_request_hash,
            p_channel, p_payer_user_id, p_note, p_created_at)
    RETURNING id INTO v_tx;

    -- The legs as the statement-by-statement payment wrote them: the payer pays the
    -- merchant, the merchant pays its fee (when there is one) to the fees shard.
    v_accounts := ARRAY[v_wallet, v_shard];
    v_amounts := ARRAY[-p_amount, p_amount];
    IF p_fee > 0 THEN
        v_accounts := v_accounts || ARRAY[v_shard, v_fees];
        v_amounts := v_amounts || ARRAY[-p_fee, p_fee];
    END IF;

    -- Where each leg's money lives on-chain, netted, by LedgerRepository.post's rule: a
    -- wallet is its own party, any other account the treasury (party 0), an issuer kind
    -- no party; the parties whose net is negative pay.
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

    INSERT INTO account_outflows AS o (account_id, day, amount, movements)
    VALUES (v_wallet, p_today, p_amount, 1)
    ON CONFLICT (account_id, day) DO UPDATE
    SET amount = o.amount + EXCLUDED.amount, movements = o.movements + 1;

    INSERT INTO merchant_payments
        (transaction_id, merchant_id, payer_user_id, amount, fee, channel, created_at)
    VALUES (v_tx, p_merchant_id, p_payer_user_id, p_amount, p_fee, p_channel,
            p_created_at);

    -- ---- the merchant's lock, last ---------------------------------------------------
    -- The leg trigger moves each balance and sets balance_after, the rows in the
    -- order above.
    FOR v_leg IN
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        SELECT v_tx, leg.account_id, leg.amount, 0
        FROM unnest(v_accounts, v_amounts) WITH ORDINALITY AS leg (account_id, amount, n)
        ORDER BY leg.n
        RETURNING account_id, balance_after
    LOOP
        IF v_leg.account_id = v_wallet THEN
            v_after := v_leg.balance_after;
        END IF;
    END LOOP;

    v_payer_text := ledger_format_kes(v_after);
    -- The merchant's balance: every shard, this one with its legs, the others as
    -- committed (a payment in flight on another shard is not seen yet).
    SELECT coalesce(sum(sa.balance), 0)::bigint INTO v_merchant_after
    FROM merchant_accounts ma JOIN ledger_accounts sa ON sa.id = ma.account_id
    WHERE ma.merchant_id = p_merchant_id;
    v_merchant_text := ledger_format_kes(v_merchant_after);
    INSERT INTO outbox (kind, payload, dedupe_key)
    SELECT m.value ->> 'kind',
           (m.value -> 'payload') || jsonb_build_object('message', array_to_string(
               ARRAY(SELECT jsonb_array_elements_text(m.value -> 'parts')),
               CASE WHEN (m.value ->> 'balance_of')::bigint = p_payer_user_id
                    THEN v_payer_text ELSE v_merchant_text END)),
           m.value ->> 'dedupe_key'
    FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m (value, n)
    ORDER BY m.n
    ON CONFLICT (dedupe_key) DO NOTHING;

    RETURN QUERY SELECT 'posted'::text, v_tx, v_after, v_merchant_after,
                        v_day + p_amount, v_30_days + p_amount;
END;
$$;
