"""The bill checkers. BillChecker asks AT for the final status of every open bill it named whose
check time has come ('Sent' is not delivered), and ends it on AT's answer. Decisions
are services/bills/rail_answers.py; this is the loop. PaybillChecker (below) asks M-Pesa
about Paybill bills."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.pool import Database
from app.integrations.airtime import AfricasTalkingAirtime, AirtimeRail
from app.integrations.daraja import Daraja, DarajaClient, DarajaError
from app.services.bills import b2b_answers, rail_answers
from app.services.mpesa import inbound, payouts
from app.worker.context import uow_factory
from app.worker.mpesa_handlers import CallbackLinks
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


class PaybillChecker:
    """Asks M-Pesa (transaction status) about every open Paybill bill whose check time
    has come: after MPESA_RESULT_WAIT_S, at once when its result callback came, and
    every MPESA_STATUS_QUERY_INTERVAL_S while no answer ends it. The answer comes by
    callback; services/bills/b2b_answers.py acts on it."""

    name = "paybill-checker"

    def __init__(
        self,
        database: Database,
        daraja: Daraja,
        links: CallbackLinks,
        *,
        policy: payouts.CheckPolicy,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._daraja = daraja
        self._links = links
        self._policy = policy
        self._recheck_s = policy.status_interval_s
        self._interval_s = interval_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> PaybillChecker:
        return cls(
            database,
            DarajaClient.from_settings(settings),
            CallbackLinks.from_settings(settings),
            policy=payouts.CheckPolicy.from_settings(settings),
        )

    def run_forever(self, stop: threading.Event) -> None:
        """Check every INTERVAL_S until stop is set; never raises."""
        run_until_stopped(stop, self.run_once, what="paybill check", wait_s=self._interval_s)

    def run_once(self) -> int:
        """Ask M-Pesa about a batch of due Paybill bills; returns how many were asked."""
        now, asked = self._clock(), 0
        for bill in b2b_answers.due(self._uow(), now=now, limit=BATCH):
            try:
                accepted = self._daraja.transaction_status(
                    originator_conversation_id=bill.rail_request_id or "",
                    occasion=bill.reference,
                    result_url=self._links.status_result,
                    timeout_url=self._links.status_timeout,
                )
            except DarajaError as exc:
                log.warning(
                    "bill status query not made; trying later",
                    extra={"bill": bill.reference, "error": str(exc)},
                )
                b2b_answers.ask_later(
                    self._uow(), bill.reference, recheck_s=self._recheck_s, now=now
                )
                continue
            b2b_answers.status_asked(
                self._uow(),
                bill.reference,
                conversation_id=accepted.conversation_id,
                recheck_s=self._recheck_s,
                now=now,
            )
            inbound.answer_early(
                self._uow(), accepted.conversation_id, policy=self._policy, now=None
            )
            asked += 1
        return asked
