"""Transaction lock keys and worker lease names: one per purpose, never shared."""

from app.db import advisory, leases, migrate


def test_the_migration_lock_and_the_per_day_keys_never_meet():
    days = range(advisory.MPESA_RECONCILIATION_DAY, advisory.MPESA_RECONCILIATION_DAY + 2**20)
    assert advisory.MIGRATIONS not in days
    assert migrate._LOCK_ID == advisory.MIGRATIONS


def test_every_worker_loop_has_its_own_lease():
    names = [leases.SETTLEMENT, leases.INCOMING, leases.RECONCILIATION, leases.MPESA_RECONCILIATION]
    assert len(set(names)) == len(names)
