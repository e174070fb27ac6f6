"""The scheduled payments job: every minute, make the occurrences that are due, send the
day-before reminders, and run every occurrence whose time has come.

The decisions are the services' (services/schedules/runs.py). Any number of workers
may run it at once: occurrences are unique per schedule and instant, and each is run
under a `FOR UPDATE SKIP LOCKED` claim with its own idempotency key, so it is paid once.
A worker that was down catches up on its first pass. The clock is injected: a test
drives a year of schedules through run_once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.config import Settings
from app.db.pool import Database
from app.domain.bills import AT_AIRTIME
from app.services.schedules import runs
from app.worker.context import uow_factory
from app.worker.repeat import run_until_stopped

log = logging.getLogger("paytrace.schedules")

INTERVAL_S = 60.0


@dataclass
class Pass:
    """What one pass did."""

    schedules_moved: int = 0
    reminded: int = 0
    ran: list[runs.Ran] = field(default_factory=list)


class ScheduledPaymentsJob:
    name = "scheduled-payments"

    def __init__(
        self,
        database: Database,
        *,
        shortcode: str,
        bill_rails: tuple[str, ...] = (AT_AIRTIME,),
        interval_s: float = INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._shortcode = shortcode
        self._bill_rails = bill_rails
        self._interval_s = interval_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> ScheduledPaymentsJob:
        return cls(
            database, shortcode=settings.ussd_service_codes[0], bill_rails=settings.bill_rails
        )

    def run_forever(self, stop: threading.Event) -> None:
        """Run once a minute until stop is set; never raises."""
        run_until_stopped(
            stop, self._step, what="scheduled payments", wait_s=self._interval_s, logger=log
        )

    def _step(self) -> None:
        done = self.run_once()
        if done.ran or done.reminded:
            log.info(
                "scheduled payments",
                extra={
                    "made": done.schedules_moved,
                    "reminded": done.reminded,
                    "ran": len(done.ran),
                },
            )

    def run_once(self) -> Pass:
        """One pass at the clock's time: make, remind, run until nothing is left."""
        now = self._clock()
        done = Pass()
        while (moved := runs.materialise_due(self._uow(), now, shortcode=self._shortcode)) > 0:
            done.schedules_moved += moved
            if moved < runs.BATCH:
                break
        while (reminded := runs.remind(self._uow(), now, shortcode=self._shortcode)) > 0:
            done.reminded += reminded
            if reminded < runs.BATCH:
                break
        while ran := runs.run_next(
            self._uow(), self._uow(), now, shortcode=self._shortcode, bill_rails=self._bill_rails
        ):
            done.ran.append(ran)
        return done
