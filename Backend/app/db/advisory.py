"""Session-level PostgreSQL advisory locks: one process at a time for a worker loop.

The lock is held on a dedicated connection (not the pool's) for as long as the loop
runs; a standby process keeps asking. Losing that connection releases the lock in
PostgreSQL, so `held()` checks the connection on every call and the loop must stop
its exclusive work when it answers False. One key per purpose, never shared
(tests/unit/test_advisory_locks.py).
"""

from __future__ import annotations

import contextlib
import logging

import psycopg2
import psycopg2.extensions

log = logging.getLogger("paytrace.db")

MIGRATIONS = 0x5041_5954  # "PAYT": app/db/migrate.py
SETTLEMENT = 0x50_54_53_45_54_54_4C_45  # "PTSETTLE"
INCOMING = 0x50_54_49_4E_43_4F_4D_45  # "PTINCOME"
RECONCILIATION = 0x50_54_52_45_43_4F_4E_43  # "PTRECONC"
MPESA_RECONCILIATION = 0x50_54_4D_52_45_43_4F_4E  # "PTMRECON": the daily M-Pesa loop
# Transaction locks, one per East Africa Time day (plus its ordinal, < 2**20): runs of
# the same day take their report versions in turn (repositories/mpesa_reconciliation.py).
MPESA_RECONCILIATION_DAY = 0x50_54_4D_44_00_00_00_00  # "PTMD" and the day


class SessionLock:
    """An advisory lock held on its own connection while this process does the work."""

    def __init__(self, dsn: str, key: int, *, name: str, connect_timeout_s: int = 2) -> None:
        self._dsn = dsn
        self._key = key
        self._name = name
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg2.extensions.connection | None = None
        self._held = False

    def held(self) -> bool:
        """True while this process holds the lock (taking it when it is free)."""
        try:
            if self._conn is None:
                self._conn = psycopg2.connect(
                    self._dsn,
                    connect_timeout=self._connect_timeout_s,
                    application_name=f"paytrace-{self._name}",
                )
                self._conn.autocommit = True
            with self._conn.cursor() as cur:
                if self._held:
                    cur.execute("SELECT 1")
                else:
                    cur.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                    self._held = bool(cur.fetchone()[0])
            return self._held
        except psycopg2.Error:
            log.warning("advisory lock connection lost", extra={"lock": self._name})
            self._close()
            return False

    def release(self) -> None:
        if self._conn is not None and self._held:
            with contextlib.suppress(psycopg2.Error), self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        self._close()

    def _close(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg2.Error):
                conn.close()
