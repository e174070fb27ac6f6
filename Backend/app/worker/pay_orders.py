"""The pay-order expiry job: marks orders past their time `expired`, in batches, and
forgets the merchant API's Idempotency-Key answers older than a day.

Reads never wait for it (an overdue order is shown expired on every read); it writes
what they already show, so that the status column, the merchant's lists and, later,
the `order.expired` webhook agree. Any number of workers may run it: each batch claims
its rows with FOR UPDATE SKIP LOCKED, and an order being paid is skipped (its payer
holds the row) and judged on the next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.pool import Database
from app.services import merchant_idempotency, orders
from app.worker.context import uow_factory
from app.worker.repeat import run_until_stopped

log = logging.getLogger("paytrace.pay_orders")

INTERVAL_S = 15.0


class OrderExpiryJob:
    name = "pay-order-expiry"

    def __init__(
        self,
        database: Database,
        *,
        interval_s: float = INTERVAL_S,
        batch: int = orders.EXPIRE_BATCH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._interval_s = interval_s
        self._batch = batch
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> OrderExpiryJob:
        del settings  # nothing to configure yet: one interval, one batch size
        return cls(database)

    def run_forever(self, stop: threading.Event) -> None:
        """Run every INTERVAL_S until stop is set; never raises."""
        run_until_stopped(
            stop, self._step, what="pay-order expiry", wait_s=self._interval_s, logger=log
        )

    def _step(self) -> None:
        self.run_once()

    def run_once(self) -> int:
        """Expire every overdue order, batch by batch (one transaction each), then purge
        old answers; returns how many orders expired."""
        total = 0
        while True:
            expired = orders.expire_due(self._uow(), self._clock(), self._batch)
            total += expired
            if expired < self._batch:
                break
        purged = merchant_idempotency.purge(self._uow(), self._clock())
        if total or purged:
            log.info("pay orders expired", extra={"orders": total, "answers_purged": purged})
        return total
