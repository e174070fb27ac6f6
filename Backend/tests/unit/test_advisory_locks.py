"""PostgreSQL advisory lock keys: one per purpose, never shared. The settler holds its
lock for as long as it runs, so sharing the migration lock's key would block every
API start (`migrate_on_start`) behind a running worker."""

from app.db import migrate
from app.worker import settlement


def test_the_settlement_lock_is_not_the_migration_lock():
    assert settlement._LOCK_KEY != migrate._LOCK_ID
