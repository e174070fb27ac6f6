-- The fees account, split into 16 shards.
--
-- Every fee-bearing transfer credits the fees account in the same transaction
-- as the sender's debit, so one fees row would be locked by every transfer in
-- PayTrace: all of them would run one at a time. A transfer credits the shard
-- chosen by its sender (user id mod 16); the fees earned are the sum over shards.

UPDATE ledger_accounts SET code = 'fees:0' WHERE code = 'fees';

CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();
