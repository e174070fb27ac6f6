-- The accounts marked locked last (migration 0058), found without reading every
-- account: the admin API's and the console's list of them (LockOrderRepository.marked)
-- reads this partial index, which holds only the few marked ones. A balance's UPDATE
-- changes neither column, so it stays a HOT update.
CREATE INDEX ledger_accounts_locked_last_idx ON ledger_accounts (id) WHERE locked_last;
