"""Keys of PostgreSQL transaction-level advisory locks, one per purpose, never shared
(tests/unit/test_advisory_locks.py).

Only transaction-level locks (`pg_advisory_xact_lock`): they end with their
transaction, so they hold the same behind PgBouncer in transaction mode, where a
session-level lock would outlive its client's turn on a server connection. A worker
loop that runs in one process at a time holds a lease instead (app/db/leases.py).
"""

from __future__ import annotations

MIGRATIONS = 0x5041_5954  # "PAYT": app/db/migrate.py, taken in each migration's transaction
# One per East Africa Time day (plus its ordinal, < 2**20): runs of the same day take
# their report versions in turn (repositories/mpesa_reconciliation.py).
MPESA_RECONCILIATION_DAY = 0x50_54_4D_44_00_00_00_00  # "PTMD" and the day
