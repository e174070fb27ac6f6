-- One index entry fewer for every journal transaction (docs/benchmarks.md, "Index
-- entries per transfer"). `reverses_id` is NULL on every transaction but a reversal, yet
-- its UNIQUE constraint's index held an entry for each NULL: a B-tree insertion and a WAL
-- record per transfer, contribution and cash-in, for rows no query looks up (a NULL never
-- equals anything). The same rule, a transaction reversed at most once, now holds in a
-- partial unique index of the same name, so a violation still names
-- journal_transactions_reverses_id_key; its readers (LedgerRepository.reversal_of, the
-- merchant refunds' `r.reverses_id = p.transaction_id`) ask with `=`, which implies NOT
-- NULL, so they still use it.
--
-- Every other index on the tables a transfer writes is read by a query and stays:
-- journal_transactions' idempotency_key (replays) and reference (support, collisions),
-- journal_legs' account_id (statements) and transaction_id (a movement's legs, the
-- balance check), outbox's dedupe_key (ON CONFLICT) and ready/sending queues,
-- stellar_settlements' open queue and envelope (the settler), account_outflows' key
-- (the limits). Balances and outflows are updated HOT (no index entry) already.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_reverses_id_key;
CREATE UNIQUE INDEX journal_transactions_reverses_id_key ON journal_transactions (reverses_id)
    WHERE reverses_id IS NOT NULL;
