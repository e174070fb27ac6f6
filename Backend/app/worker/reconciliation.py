"""The reconciliation job: every RECONCILIATION_INTERVAL_S, the ledger against Stellar.

Any number of workers may run this loop; a lease (app/db/leases.py) lets one of them
reconcile at a time, and the last stored report says when the next run is due, so a
restart or a second worker does not run it again early.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db import leases
from app.db.leases import Lease
from app.db.pool import Database
from app.integrations.stellar import Horizon, StellarNetwork, StellarUnavailable
from app.services import reconciliation
from app.services.custody import SecretBox, SystemAccounts
from app.worker.context import uow_factory
from app.worker.repeat import EXPECTED, run_until_stopped

log = logging.getLogger("paytrace.reconciliation")

# After a failed run, or while another worker holds the lock: try again this soon.
RETRY_S = 300.0


class ReconciliationJob:
    name = "stellar-reconciliation"

    def __init__(
        self,
        database: Database,
        network: StellarNetwork,
        system: SystemAccounts,
        *,
        interval_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        recheck_delay_s: float = reconciliation.RECHECK_DELAY_S,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive (0 turns the job off)")
        self._database = database
        self._uow = uow_factory(database)
        self._network = network
        self._system = system
        self._interval_s = interval_s
        self._clock = clock
        self._recheck_delay_s = recheck_delay_s

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> ReconciliationJob:
        return cls(
            database,
            Horizon.from_settings(settings),
            SystemAccounts.from_settings(settings, SecretBox.from_settings(settings)),
            interval_s=settings.reconciliation_interval_s,
        )

    def run_forever(self, stop: threading.Event) -> None:
        """Reconcile whenever a run is due, until stop is set; never raises."""
        run_until_stopped(
            stop,
            self.run_if_due,
            what="reconciliation",
            wait_s=self._interval_s,
            retry_s=min(self._interval_s, RETRY_S),
            expected=(StellarUnavailable, *EXPECTED),
            logger=log,
        )

    def run_if_due(self) -> float:
        """Reconcile if no run finished within the interval and no other worker is at it;
        returns the seconds until it should look again."""
        lock = Lease(self._database, leases.RECONCILIATION, ttl_s=leases.JOB_TTL_S)
        try:
            if not lock.held():
                return min(self._interval_s, RETRY_S)  # another worker is reconciling
            due_in = self._due_in()
            if due_in > 0:
                return due_in
            reconciliation.reconcile(
                self._uow(),
                self._network,
                self._system,
                self._clock,
                recheck_delay_s=self._recheck_delay_s,
            )
            return self._interval_s
        finally:
            lock.release()

    def _due_in(self) -> float:
        last = reconciliation.last_finished_at(self._uow())
        if last is None:
            return 0.0
        elapsed = (self._clock() - last).total_seconds()
        return max(0.0, self._interval_s - elapsed)
