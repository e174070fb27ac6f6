"""The outbox worker loop: claim, perform, settle - at most once per row.

Why at most once, and how:

1. Claim one due 'pending' row with `FOR UPDATE SKIP LOCKED` (concurrent workers
   skip rows another holds), flip it to 'sending' with a lease, and COMMIT - all
   before the provider is called. From then on no worker will pick it again.
2. Perform the effect outside any transaction (no row lock held over HTTP).
3. Settle in a new transaction: 'done', 'failed', back to 'pending' with an
   exponential, jittered, capped delay (only when the failure proves nothing was
   sent: a per-recipient 5xx, a connection never made), or 'unknown'.
4. If the worker dies between 1 and 3, the row stays 'sending'. Once its lease
   runs out any worker moves it to 'unknown' and logs it for an operator - it is
   never resent, because the provider may well have accepted it. A read timeout
   is treated the same way, for the same reason.

A lost confirmation SMS is a support ticket; a duplicated one (or, for later
kinds, a duplicated payment) is worse. Rows are claimed one at a time so that a
crash strands at most the single row in flight. The three transactions (claim,
finish, reclaim) are services/outbox_dispatch.py; this module is the loop around them.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace

from app.config import Settings
from app.db.pool import Database
from app.domain.records.admin import OutboxRow
from app.errors import ServiceUnavailable
from app.infra.metrics import OUTBOX_DONE
from app.infra.request_context import request_scope
from app.integrations.airtime import AfricasTalkingAirtime, AirtimeRail
from app.integrations.daraja import Daraja, DarajaClient
from app.integrations.sms import AfricasTalkingSms, SmsSender
from app.services import outbox_dispatch
from app.services.keys import SmsSeal
from app.worker.bill_handlers import AirtimeHandler
from app.worker.context import uow_factory
from app.worker.handlers import HandlerRegistry, Outcome, SmsHandler, Verdict
from app.worker.mpesa_order_handlers import mpesa_handlers
from app.worker.wage_handlers import WageLineHandler

log = logging.getLogger("paytrace.worker")

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0


def exponential_backoff(
    attempt: int,
    *,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
    rng: Callable[[], float] = random.random,
) -> float:
    """Delay before retry number `attempt` (1-based): capped doubling, half of it jittered."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    # "Equal jitter": spreads workers apart without ever retrying immediately.
    return ceiling / 2 + rng() * ceiling / 2


class OutboxWorker:
    """Performs outbox rows through registered handlers; safe to run many at once."""

    def __init__(
        self,
        database: Database,
        handlers: HandlerRegistry,
        *,
        max_attempts: int = 8,
        lease_s: float = 60.0,
        batch_size: int = 20,
        poll_interval_s: float = 0.5,
        backoff: Callable[[int], float] = exponential_backoff,
        worker_id: str | None = None,
    ) -> None:
        self._uow = uow_factory(database)
        self._handlers = handlers
        self._max_attempts = max_attempts
        self._lease_s = lease_s
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._backoff = backoff
        self.worker_id = worker_id or (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )

    def run_once(self, limit: int | None = None) -> int:
        """Reclaim stale rows, then perform up to `limit` due rows; returns how many."""
        self.reclaim_stale()
        done = 0
        while done < (limit or self._batch_size):
            row = self._claim_one()
            if row is None:
                break
            # Under the id of the request that wrote the row: its logs, and any row it
            # writes in turn, carry the same X-Request-ID.
            with request_scope(row.request_id):
                self._perform_and_settle(row)
            done += 1
        return done

    def run_forever(self, stop: threading.Event) -> None:
        """Loop until `stop` is set; the row in flight is always settled first."""
        while not stop.is_set():
            try:
                processed = self.run_once()
            except ServiceUnavailable:
                log.warning("database unavailable; worker backing off")
                processed = 0
            except Exception:
                log.exception("worker iteration failed")
                processed = 0
            if processed == 0:
                stop.wait(self._poll_interval_s)

    def reclaim_stale(self) -> list[OutboxRow]:
        """Move rows stuck in 'sending' past their lease to 'unknown' (or, for a kind that
        is safe to perform again, back to 'pending') and report them."""
        rows = outbox_dispatch.reclaim_stale(
            self._uow(), resumable_kinds=self._handlers.resumable_kinds
        )
        for row in rows:
            if row.status == "pending":
                log.warning(
                    "outbox row resumed after its worker stopped mid-call",
                    extra={"outbox_id": row.id, "kind": row.kind},
                )
                continue
            log.error(
                "outbox row stuck in sending: marked unknown, needs an operator",
                extra={"outbox_id": row.id, "kind": row.kind, "dedupe_key": row.dedupe_key},
            )
        return rows

    def _claim_one(self) -> OutboxRow | None:
        return outbox_dispatch.claim_one(
            self._uow(), kinds=self._handlers.kinds, worker_id=self.worker_id, lease_s=self._lease_s
        )

    def _perform_and_settle(self, row: OutboxRow) -> None:
        handler = self._handlers.get(row.kind)
        try:
            outcome = handler.perform(row)
        except Exception as exc:
            # A bug or an unforeseen error mid-call: we cannot tell whether it went.
            log.exception("outbox handler raised", extra={"outbox_id": row.id})
            outcome = Outcome(Verdict.UNKNOWN, f"handler raised {type(exc).__name__}")
        if outcome.verdict is Verdict.RETRY and row.attempts >= self._max_attempts:
            outcome = replace(
                outcome,
                verdict=Verdict.FAILED,
                error=f"gave up after {row.attempts} attempts: {outcome.error}",
            )
        self._settle(row, outcome)

    def _settle(self, row: OutboxRow, outcome: Outcome) -> None:
        handler = self._handlers.get(row.kind)
        delay = self._backoff(row.attempts) if outcome.verdict is Verdict.RETRY else 0.0
        settled = outbox_dispatch.finish(
            self._uow(),
            row.id,
            str(outcome.verdict),
            error=outcome.error or "",
            delay_s=delay,
            record=lambda uow: handler.record(uow, row, outcome),
        )
        extra = {
            "outbox_id": row.id,
            "kind": row.kind,
            "attempt": row.attempts,
            "verdict": str(outcome.verdict),
            "error": outcome.error,
        }
        if settled:
            OUTBOX_DONE.labels(row.kind, str(outcome.verdict)).inc()
        if not settled:
            log.error("outbox row was reclaimed before its outcome was recorded", extra=extra)
        elif outcome.verdict in (Verdict.UNKNOWN, Verdict.FAILED):
            log.error("outbox row not performed", extra=extra)
        elif outcome.verdict is Verdict.RETRY:
            log.warning("outbox row will be retried", extra=extra)
        else:
            log.info("outbox row performed", extra=extra)


def build_worker(
    settings: Settings,
    database: Database,
    *,
    sms: SmsSender | None = None,
    daraja: Daraja | None = None,
    airtime: AirtimeRail | None = None,
) -> OutboxWorker:
    """A worker wired from settings: AT (or its local sandbox) for SMS and airtime
    top-ups, Daraja (or its local sandbox) for M-Pesa when it is on. Stellar work
    (activation, settlement) runs in the worker's loops (app/worker/loops.py)."""
    handlers = HandlerRegistry(
        SmsHandler(
            sms or AfricasTalkingSms.from_settings(settings), seal=SmsSeal.from_settings(settings)
        )
    )
    handlers.register(
        AirtimeHandler.from_settings(
            settings, airtime or AfricasTalkingAirtime.from_settings(settings)
        )
    )
    handlers.register(WageLineHandler())
    if settings.mpesa_enabled:
        for handler in mpesa_handlers(settings, daraja or DarajaClient.from_settings(settings)):
            handlers.register(handler)
    return OutboxWorker(
        database,
        handlers,
        max_attempts=settings.outbox_max_attempts,
        # Longer than the slowest possible provider call (connect + read timeouts).
        lease_s=max(60.0, 3 * settings.at_timeout_s),
        batch_size=settings.worker_batch_size,
        poll_interval_s=settings.worker_poll_interval_s,
    )
