"""The harambee job: every minute, pledge reminders and refunds left unfinished.

- Reminders: two days before a pledge is due, and on the day (services/harambee/
  reminders.py), each queued once through the outbox's dedupe key.
- Refunds: a cancel that stopped part way (a crash, a hop cut off) left money in a
  cancelled campaign's escrow; closing.finish_refunds pays each contributor not yet
  refunded, once (the refund's key).

Any number of workers may run it at once: both halves are idempotent, so no lock.
It runs whatever else the deployment has on (no Stellar, no M-Pesa needed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg2

from app.config import Settings
from app.db.pool import Database
from app.errors import ServiceUnavailable
from app.services.harambee import closing, reminders
from app.worker.context import uow_factory

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
        while not stop.is_set():
            try:
                self.run_once()
            except (ServiceUnavailable, psycopg2.Error) as exc:
                log.warning(
                    "harambee job could not run; trying again later",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )
            except Exception:
                log.exception("harambee job failed; trying again later")
            stop.wait(self._interval_s)

    def run_once(self) -> tuple[int, int]:
        """Queue the reminders due and finish unfinished refunds; returns how many of each."""
        queued = reminders.queue_reminders(
            self._uow(), shortcode=self._shortcode, now=self._clock()
        )
        refunded = closing.finish_refunds(self._uow())
        if queued or refunded:
            log.info("harambee job", extra={"reminders": queued, "refunds": refunded})
        return queued, refunded
