"""PostgreSQL advisory lock keys: one per purpose, never shared. The settler holds its
lock for as long as it runs, so sharing the migration lock's key would block every
API start (`migrate_on_start`) behind a running worker."""

from app.db import advisory, migrate


def test_every_purpose_has_its_own_lock_key():
    keys = [advisory.MIGRATIONS, advisory.SETTLEMENT, advisory.INCOMING, advisory.RECONCILIATION]
    assert len(set(keys)) == len(keys)
    assert migrate._LOCK_ID == advisory.MIGRATIONS
