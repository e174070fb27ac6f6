"""The bill checker: asks AT for the final status of every open bill it named whose
check time has come ('Sent' is not delivered), and ends it on AT's answer. Decisions
are services/bills/rail_answers.py; this is the loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.pool import Database
from app.integrations.airtime import AfricasTalkingAirtime, AirtimeRail
from app.services.bills import rail_answers
from app.worker.context import uow_factory
from app.worker.repeat import run_until_stopped

log = logging.getLogger("paytrace.bills")

INTERVAL_S = 5.0
BATCH = 50


class BillChecker:
    name = "bill-checker"

    def __init__(
        self,
        database: Database,
        rail: AirtimeRail,
        *,
        recheck_s: float,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._rail = rail
        self._recheck_s = recheck_s
        self._interval_s = interval_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> BillChecker:
        rail = AfricasTalkingAirtime.from_settings(settings)
        return cls(database, rail, recheck_s=settings.bill_status_check_s)

    def run_forever(self, stop: threading.Event) -> None:
        """Check every INTERVAL_S until stop is set; never raises."""
        run_until_stopped(stop, self.run_once, what="bill check", wait_s=self._interval_s)

    def run_once(self) -> None:
        """Ask AT about a batch of due bills."""
        checked = rail_answers.check_due(
            self._uow(), self._rail, recheck_s=self._recheck_s, limit=BATCH, now=self._clock()
        )
        if checked:
            log.info("bills checked with AT", extra={"bills": checked})
