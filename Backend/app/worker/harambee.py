"""The harambee job: every minute, pledge reminders, refunds left unfinished and
milestones no contribution told.

- Reminders: two days before a pledge is due, and on the day (services/harambee/
  reminders.py), each queued once through the outbox's dedupe key.
- Refunds: a cancel that stopped part way (a crash, a hop cut off) left money in a
  cancelled campaign's escrow; closing.finish_refunds pays each contributor not yet
  refunded, once (the refund's key).
- Milestones: two contributions on two escrow shards at one moment may each miss the
  milestone they reach together (services/harambee/milestones.py); it is sent here,
  once (the SMS's dedupe key).

Any number of workers may run it at once: every part is idempotent, so no lock.
It runs whatever else the deployment has on (no Stellar, no M-Pesa needed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.pool import Database
from app.services.harambee import closing, milestones, reminders
from app.worker.context import uow_factory
from app.worker.repeat import run_until_stopped

log = logging.getLogger("paytrace.harambee")

INTERVAL_S = 60.0


class HarambeeJob:
    name = "harambee"

    def __init__(
        self,
        database: Database,
        *,
        shortcode: str,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._shortcode = shortcode
        self._interval_s = interval_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> HarambeeJob:
        return cls(database, shortcode=settings.ussd_service_codes[0])

    def run_forever(self, stop: threading.Event) -> None:
        """Run once a minute until stop is set; never raises."""
        run_until_stopped(
            stop, self._step, what="harambee job", wait_s=self._interval_s, logger=log
        )

    def _step(self) -> None:
        self.run_once()

    def run_once(self) -> tuple[int, int, int]:
        """Queue the reminders due, finish unfinished refunds and tell untold
        milestones; returns how many of each."""
        queued = reminders.queue_reminders(
            self._uow(), shortcode=self._shortcode, now=self._clock()
        )
        refunded = closing.finish_refunds(self._uow())
        told = milestones.tell_untold_milestones(self._uow())
        if queued or refunded or told:
            log.info(
                "harambee job", extra={"reminders": queued, "refunds": refunded, "milestones": told}
            )
        return queued, refunded, told
