"""The daily merchant payout job: once per East Africa day, each active merchant paid
out daily has its available balance paid out to its M-Pesa.

The decisions are the service's (services/mpesa/merchant_payouts.py): which merchants
are due (none paid for the day yet, enough for the smallest payout) and the payout
itself, keyed by merchant and day. So the job may run every minute, restart, or run in
several workers at once: a merchant's day is paid once. It runs all day; the first pass
after midnight (East Africa time) pays the day before's takings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.pool import Database
from app.domain.money import nairobi_day
from app.errors import PayTraceError
from app.services.mpesa import merchant_payouts
from app.worker.context import uow_factory
from app.worker.repeat import run_until_stopped

log = logging.getLogger("paytrace.merchant_payouts")

INTERVAL_S = 60.0


class DailyPayoutJob:
    name = "merchant-daily-payouts"

    def __init__(
        self,
        database: Database,
        *,
        result_wait_s: float,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._result_wait_s = result_wait_s
        self._interval_s = interval_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> DailyPayoutJob:
        return cls(database, result_wait_s=settings.mpesa_result_wait_s)

    def run_forever(self, stop: threading.Event) -> None:
        """Run every INTERVAL_S until stop is set; never raises."""
        run_until_stopped(
            stop, self._step, what="daily merchant payouts", wait_s=self._interval_s, logger=log
        )

    def _step(self) -> None:
        self.run_once()

    def run_once(self) -> int:
        """Pay out every merchant due today, batch by batch; returns how many payouts
        were made. A merchant whose payout is refused (e.g. a payout phone M-Pesa cannot
        pay) is logged and skipped: the others are still paid."""
        now = self._clock()
        day = nairobi_day(now)
        made, after = 0, 0
        while True:
            due = merchant_payouts.due_daily(self._uow(), day, after_id=after)
            for merchant_id in due:
                try:
                    payout = merchant_payouts.pay_daily(
                        self._uow(),
                        merchant_id,
                        day=day,
                        result_wait_s=self._result_wait_s,
                        now=now,
                    )
                except PayTraceError as exc:
                    log.warning(
                        "daily payout refused",
                        extra={"merchant_id": merchant_id, "error": exc.code},
                    )
                    continue
                if payout is not None:
                    made += 1
                    log.info(
                        "daily payout held",
                        extra={"merchant_id": merchant_id, "payout": payout.public_id},
                    )
            if len(due) < merchant_payouts.DAILY_BATCH:
                return made
            after = due[-1]
