"""The daily M-Pesa reconciliation: once a day, MPESA_RECONCILIATION_DELAY_S past
midnight East Africa Time, yesterday's deposits and withdrawals against M-Pesa's
statement.

Any number of workers may run this loop: a lease (app/db/leases.py) lets one of them
reconcile at a time, and a stored report for yesterday says it is done, so a restart
or a second worker does not run it twice. A statement not there yet (not downloaded,
the sandbox unreachable) is asked for again every RETRY_S.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db import leases
from app.db.leases import Lease
from app.db.pool import Database
from app.domain.mpesa_reconciliation import day_bounds, eat_day
from app.integrations.mpesa_statement import (
    MpesaStatement,
    StatementUnavailable,
    statement_from_settings,
)
from app.services import mpesa_reconciliation
from app.worker.context import uow_factory
from app.worker.repeat import EXPECTED, run_until_stopped

log = logging.getLogger("paytrace.mpesa_reconciliation")

RETRY_S = 300.0  # after a failed run, or while another worker holds the lock
MAX_WAIT_S = 3600.0  # looks at the clock at least this often


class MpesaReconciliationJob:
    name = "mpesa-reconciliation"

    def __init__(
        self,
        database: Database,
        statement: MpesaStatement,
        *,
        delay_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 0 <= delay_s < 86400:
            raise ValueError("delay_s is seconds past midnight: 0 to 86399")
        self._database = database
        self._uow = uow_factory(database)
        self._statement = statement
        self._delay = timedelta(seconds=delay_s)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> MpesaReconciliationJob:
        """Raises ValueError when there is no statement to reconcile against."""
        statement = statement_from_settings(settings)
        if statement is None:
            raise ValueError("no M-Pesa statement source: set MPESA_STATEMENT_DIR")
        return cls(database, statement, delay_s=settings.mpesa_reconciliation_delay_s)

    def run_forever(self, stop: threading.Event) -> None:
        """Reconcile yesterday once it is due, every day, until stop is set; never raises."""
        run_until_stopped(
            stop,
            self.run_if_due,
            what="M-Pesa reconciliation",
            wait_s=RETRY_S,
            retry_s=RETRY_S,
            expected=(StatementUnavailable, *EXPECTED),
            logger=log,
        )

    def run_if_due(self) -> float:
        """Reconcile yesterday if it is past today's midnight + delay, no report of it is
        stored and no other worker is at it; returns the seconds until it should look
        again. Raises StatementUnavailable and ServiceUnavailable."""
        now = self._clock()
        due_at = day_bounds(eat_day(now))[0] + self._delay
        if now < due_at:
            return min((due_at - now).total_seconds(), MAX_WAIT_S)
        lock = Lease(self._database, leases.MPESA_RECONCILIATION, ttl_s=leases.JOB_TTL_S)
        try:
            if not lock.held():
                return RETRY_S  # another worker is reconciling
            day = mpesa_reconciliation.yesterday(now)
            if not mpesa_reconciliation.reconciled(self._uow(), day):
                mpesa_reconciliation.reconcile_day(self._uow(), self._statement, day, self._clock)
        finally:
            lock.release()
        tomorrow = day_bounds(eat_day(now))[1] + self._delay
        return min((tomorrow - self._clock()).total_seconds(), MAX_WAIT_S)
