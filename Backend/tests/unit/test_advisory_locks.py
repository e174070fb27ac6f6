"""PostgreSQL advisory lock keys: one per purpose, never shared. The settler holds its
lock for as long as it runs, so sharing the migration lock's key would block every
API start (`migrate_on_start`) behind a running worker."""

from app.db import advisory, migrate


def test_every_purpose_has_its_own_lock_key():
    keys = [
        advisory.MIGRATIONS,
        advisory.SETTLEMENT,
        advisory.INCOMING,
        advisory.RECONCILIATION,
        advisory.MPESA_RECONCILIATION,
    ]
    assert len(set(keys)) == len(keys)
    # The per-day keys (base + a date's ordinal, below 2**20) overlap none of them.
    days = range(advisory.MPESA_RECONCILIATION_DAY, advisory.MPESA_RECONCILIATION_DAY + 2**20)
    assert not [key for key in keys if key in days]
    assert migrate._LOCK_ID == advisory.MIGRATIONS
