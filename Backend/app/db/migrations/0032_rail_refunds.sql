-- Refunds of pay orders paid from M-Pesa or Stellar, back through the rail they came
-- by (docs/merchants.md, "Refunds through the rail"); and the deposits' receipts, which
-- a C2B confirmation is checked against (docs/mpesa.md).

-- A C2B confirmation carrying a deposit's receipt is refused: looked up by receipt.
CREATE INDEX mpesa_deposits_receipt_idx ON mpesa_deposits (receipt) WHERE receipt IS NOT NULL;

-- A refund of a pay order paid from a rail goes back through that rail: `pending`
-- from when it is asked (the merchant's account debited by its hold, in that
-- transaction) until the rail's answer, then `succeeded` or `failed`.
-- * withdrawal_id: through M-Pesa, a B2C withdrawal from the merchant's account (its
--   hold, B2C request, status queries and ending are the withdrawals' own);
-- * hold_transaction_id: the journal transaction that took the money from the
--   merchant's account when the refund was asked (a wallet's refund has none: it
--   succeeds in the transaction that asks for it).
ALTER TABLE merchant_refunds
    ADD COLUMN withdrawal_id BIGINT UNIQUE REFERENCES mpesa_withdrawals (id),
    ADD COLUMN hold_transaction_id BIGINT UNIQUE REFERENCES journal_transactions (id),
    ADD CONSTRAINT merchant_refunds_rail_check
        CHECK ((withdrawal_id IS NULL OR hold_transaction_id IS NOT NULL)
               AND (status <> 'pending' OR hold_transaction_id IS NOT NULL));

-- Through Stellar: the refund is held from the merchant's account in
-- 'stellar_refund_hold' (kind stellar_hold, never below zero, its KES still in the
-- treasury) when asked, then the refunder pays the sender on-chain from the treasury:
-- sent, the hold goes to stellar_clearing (settled by the refund's own transaction);
-- refused for good, the hold goes back to the merchant's account.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign', 'mpesa_hold', 'merchant', 'bill_hold', 'bill_clearing',
                    'stellar_hold'));

-- stellar_order_refund: a merchant's account to 'stellar_refund_hold' (a refund of an
-- order paid on Stellar, asked); stellar_order_refund_sent: the hold to
-- stellar_clearing (the refunder's payment applied on-chain);
-- stellar_order_refund_release: the hold back to the merchant's account.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment', 'bill_hold', 'bill_payment', 'bill_release',
                    'mpesa_order_payment', 'mpesa_owed_back', 'mpesa_order_returned',
                    'stellar_order_refund', 'stellar_order_refund_sent',
                    'stellar_order_refund_release'));

CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'mpesa_hold', 'mpesa_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'bill_hold', 'bill_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense'),
           ('stellar_clearing', 'stellar_clearing'),
           ('bill_clearing', 'bill_clearing:at_airtime'),
           ('bill_clearing', 'bill_clearing:daraja_b2b'),
           ('mpesa_hold', 'mpesa_owed_back'),
           ('stellar_hold', 'stellar_refund_hold')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

-- A Stellar refund has a key of its own (id): it sends back a payment owed back (its
-- incoming operation) or a merchant's refund (each partial refund its own), exactly one.
ALTER TABLE stellar_refunds DROP CONSTRAINT stellar_refunds_pkey;
ALTER TABLE stellar_refunds ADD COLUMN id BIGSERIAL PRIMARY KEY;
ALTER TABLE stellar_refunds ALTER COLUMN operation_id DROP NOT NULL;
ALTER TABLE stellar_refunds ADD CONSTRAINT stellar_refunds_operation_id_key UNIQUE (operation_id);
ALTER TABLE stellar_refunds
    ADD COLUMN merchant_refund_id BIGINT UNIQUE REFERENCES merchant_refunds (id),
    ADD CONSTRAINT stellar_refunds_source_check
        CHECK (num_nonnulls(operation_id, merchant_refund_id) = 1);
