-- The kinds a movement, an account and an outbox row may have, checked by an IMMUTABLE
-- PL/pgSQL function instead of a literal list (docs/benchmarks.md, "CHECK lists").
--
-- PostgreSQL stores a CHECK constraint as a serialized expression tree and reads it back
-- (stringToNode) on every execution of an INSERT or UPDATE of its table, before it
-- evaluates it: a list of 29 strings is 29 constant nodes to parse each time. Measured on
-- a bare table, one INSERT per execution: 17 us with no CHECK, +78 us with
-- journal_transactions' kind list as written, +43 us as one array constant, +11 us as a
-- call of a PL/pgSQL function holding the list (its plan kept for the session). A
-- transfer writes one journal row, two or three balance UPDATEs (each checks
-- ledger_accounts' kind and non-negative rules) and two outbox rows.
--
-- The rules are the same, and so are the constraints' names (a violation still names
-- them). A kind is added by replacing its function (CREATE OR REPLACE, the whole list):
-- PostgreSQL does not recheck stored rows when a function a CHECK calls changes, so a
-- kind is never removed from a list while a row may hold it.

CREATE FUNCTION journal_kind_known(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind = ANY (ARRAY['transfer', 'cash_in', 'reversal', 'contribution',
                             'campaign_payout', 'campaign_refund', 'deposit', 'withdrawal',
                             'withdrawal_payout', 'withdrawal_release', 'merchant_payment',
                             'merchant_refund', 'stellar_order_payment', 'bill_hold',
                             'bill_payment', 'bill_release', 'mpesa_order_payment',
                             'mpesa_owed_back', 'mpesa_order_returned', 'stellar_order_refund',
                             'stellar_order_refund_sent', 'stellar_order_refund_release',
                             'wage_hold', 'wage_payment', 'wage_release', 'promotions_funding',
                             'cashback', 'referral_bonus', 'bill_reversal']);
END;
$$;

CREATE FUNCTION ledger_account_kind_known(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind = ANY (ARRAY['wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                             'campaign', 'mpesa_hold', 'merchant', 'bill_hold', 'bill_clearing',
                             'stellar_hold', 'wage_hold', 'wage_dues', 'promotions']);
END;
$$;

-- Only the float, suspense and the Stellar clearing account may go below zero
-- (app/domain/accounts.py ISSUER_KINDS; a test holds the two to the same list).
CREATE FUNCTION ledger_account_may_go_negative(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind IN ('mpesa_float', 'suspense', 'stellar_clearing');
END;
$$;

CREATE FUNCTION outbox_kind_known(kind TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN kind = ANY (ARRAY['sms', 'stellar', 'mpesa_stk', 'mpesa_b2c', 'at_airtime',
                             'mpesa_reversal', 'mpesa_order_stk', 'daraja_b2b', 'wage_line']);
END;
$$;

ALTER TABLE journal_transactions
    DROP CONSTRAINT journal_transactions_kind_check,
    ADD CONSTRAINT journal_transactions_kind_check CHECK (journal_kind_known(kind));
ALTER TABLE ledger_accounts
    DROP CONSTRAINT ledger_accounts_kind_check,
    ADD CONSTRAINT ledger_accounts_kind_check CHECK (ledger_account_kind_known(kind)),
    DROP CONSTRAINT ledger_accounts_non_negative,
    ADD CONSTRAINT ledger_accounts_non_negative
        CHECK (balance >= 0 OR ledger_account_may_go_negative(kind));
ALTER TABLE outbox
    DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (outbox_kind_known(kind));
