"""The webhook loop: lease the deliveries due, POST each to its merchant's endpoint,
hand the answer to the service that decides what follows.

The decisions (which deliveries are due and in what order, the signature, the retry
schedule, giving an endpoint up) are app/services/webhook_delivery.py's; this loop
holds only the clock, the lease's length and the pace. Any number of workers may run
it: a claim is FOR UPDATE SKIP LOCKED and then a lease, so no delivery is sent by two
workers at once.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.pool import Database
from app.integrations.webhook_http import HttpWebhookSender, WebhookSender
from app.services import webhook_delivery
from app.services.custody import SecretBox
from app.services.webhook_delivery import Outgoing
from app.worker.context import uow_factory
from app.worker.repeat import run_until_stopped

log = logging.getLogger("paytrace.webhooks")

LEASE_MARGIN = timedelta(seconds=30)


class WebhookDispatcher:
    name = "webhooks"

    def __init__(
        self,
        database: Database,
        box: SecretBox,
        sender: WebhookSender,
        *,
        timeout_s: float,
        batch_size: int = 20,
        concurrency: int = 4,
        interval_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._box = box
        self._sender = sender
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._clock = clock
        # `concurrency` POSTs at a time, each up to the timeout: the lease covers the
        # whole batch, so no delivery of it is claimed again while it may still be sent.
        rounds = math.ceil(batch_size / concurrency)
        self.lease = timedelta(seconds=timeout_s * rounds) + LEASE_MARGIN
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook")

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> WebhookDispatcher:
        sender = HttpWebhookSender(
            timeout_s=settings.webhook_timeout_s,
            production=settings.environment == "production",
        )
        return cls(
            database,
            SecretBox.from_settings(settings),
            sender,
            timeout_s=settings.webhook_timeout_s,
            batch_size=settings.webhook_batch_size,
            concurrency=settings.webhook_concurrency,
            interval_s=settings.webhook_poll_interval_s,
        )

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until stop is set; never raises. A full batch is followed at once by
        the next one; otherwise the loop waits the interval."""

        def step() -> float | None:
            return 0.0 if self.run_once() >= self._batch_size else None

        run_until_stopped(stop, step, what="webhook loop", wait_s=self._interval_s, logger=log)
        self.close()

    def run_once(self) -> int:
        """Lease one batch and send it, `concurrency` at a time (two events of one object
        are never in one batch: the later waits for the earlier); returns how many
        deliveries were attempted."""
        batch = webhook_delivery.claim_due(
            self._uow(), self._box, now=self._clock(), limit=self._batch_size, lease=self.lease
        )
        for done in [self._pool.submit(self._deliver, outgoing) for outgoing in batch]:
            done.result()
        return len(batch)

    def _deliver(self, outgoing: Outgoing) -> None:
        try:
            url, body, headers = outgoing.request(self._clock())
            result = self._sender.post(url, body, headers)
            outcome = webhook_delivery.record_outcome(
                self._uow(), outgoing.claimed, result, self._clock()
            )
        except Exception:
            # Left leased: tried again when the lease ends.
            log.exception("webhook delivery failed", extra={"delivery_id": outgoing.claimed.id})
            return
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": outgoing.claimed.id,
                "event_id": outgoing.claimed.event_public_id,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "outcome": outcome,
            },
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
