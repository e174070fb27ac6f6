"""Outbox handlers for M-Pesa's part in pay orders: a merchant's STK push for an order,
and the reversal of a payment an order could not take. Both are made at most once: a
second push is a second prompt on the customer's phone, and M-Pesa names a reversal with
ids of its own, so one whose answer was lost cannot be asked about (an operator looks).
`mpesa_handlers` wires every M-Pesa handler for the outbox worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.records.admin import OutboxRow
from app.integrations.daraja import Accepted, Daraja, DarajaError, StkAccepted
from app.services.mpesa import order_pushes, order_returns
from app.worker.bill_handlers import PaybillHandler
from app.worker.handlers import Outcome, Verdict
from app.worker.mpesa_handlers import (
    FAILURE_VERDICTS,
    B2CHandler,
    CallbackLinks,
    StkPushHandler,
    at_most_once,
)


class ReversalHandler:
    """Outbox kind 'mpesa_reversal': payload {"payment_id", "trans_id", "amount" (KES),
    "occasion"}. A payment an order could not take, given back to its payer."""

    kind = "mpesa_reversal"
    resumable = False  # never resent (the module's docstring says why)

    def __init__(
        self,
        daraja: Daraja,
        links: CallbackLinks,
        *,
        result_wait_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._daraja = daraja
        self._links = links
        self._result_wait_s = result_wait_s
        self._clock = clock

    def perform(self, row: OutboxRow) -> Outcome:
        """Ask M-Pesa to reverse, once; again only when the attempt never reached it."""
        payload = row.payload
        trans_id, amount = payload.get("trans_id"), payload.get("amount")
        if not isinstance(trans_id, str) or not isinstance(amount, int):
            return Outcome(Verdict.FAILED, "malformed reversal payload")
        try:
            accepted = self._daraja.reverse(
                transaction_id=trans_id,
                amount=amount,
                remarks="PayTrace: payment returned",
                occasion=str(payload.get("occasion") or "")[:100],
                result_url=self._links.reversal_result,
                timeout_url=self._links.reversal_timeout,
            )
        except DarajaError as exc:
            # A 5xx may have reached M-Pesa: never resent (a second reversal of one payment).
            return Outcome(at_most_once(exc), str(exc))
        return Outcome(Verdict.DONE, result=accepted)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """The reversal taken (asked about once its result is due), or not made."""
        payment_id = row.payload.get("payment_id")
        if not isinstance(payment_id, int) or outcome.verdict is Verdict.RETRY:
            return
        if outcome.verdict is Verdict.DONE and isinstance(outcome.result, Accepted):
            order_returns.reversal_taken(
                uow,
                payment_id,
                conversation_id=outcome.result.conversation_id,
                originator_id=outcome.result.originator_conversation_id,
                check_at=self._clock() + timedelta(seconds=self._result_wait_s),
            )
            return
        order_returns.reversal_not_made(uow, payment_id, reason=outcome.error or "not made")


class OrderStkHandler:
    """Outbox kind 'mpesa_order_stk': payload {"push_id", "phone" (MSISDN), "amount"
    (KES), "code"}. A merchant's push for one of its orders, made at most once (a second
    push is a second prompt on the customer's phone)."""

    kind = "mpesa_order_stk"
    resumable = False

    def __init__(
        self,
        daraja: Daraja,
        links: CallbackLinks,
        *,
        query_after_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._daraja = daraja
        self._links = links
        self._query_after_s = query_after_s
        self._clock = clock

    def perform(self, row: OutboxRow) -> Outcome:
        payload = row.payload
        phone, amount, code = payload.get("phone"), payload.get("amount"), payload.get("code")
        if not isinstance(phone, str) or not isinstance(amount, int) or not isinstance(code, str):
            return Outcome(Verdict.FAILED, "malformed order push payload")
        try:
            accepted = self._daraja.stk_push(
                phone=phone,
                amount=amount,
                reference=code,
                description=f"Order {code}",
                callback_url=self._links.order_stk,
            )
        except DarajaError as exc:
            return Outcome(FAILURE_VERDICTS[exc.kind], str(exc))
        return Outcome(Verdict.DONE, result=accepted)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        push_id = row.payload.get("push_id")
        if not isinstance(push_id, int) or outcome.verdict is Verdict.RETRY:
            return
        if outcome.verdict is Verdict.DONE and isinstance(outcome.result, StkAccepted):
            check_at = self._clock() + timedelta(seconds=self._query_after_s)
            order_pushes.push_sent(
                uow, push_id, outcome.result.checkout_request_id, check_at=check_at
            )
            return
        unknown = outcome.verdict is Verdict.UNKNOWN
        order_pushes.push_not_sent(uow, push_id, reason=outcome.error or "", unknown=unknown)


Handler = StkPushHandler | B2CHandler | ReversalHandler | OrderStkHandler


def mpesa_handlers(settings: Settings, daraja: Daraja) -> list[Handler]:
    """The M-Pesa outbox handlers, wired from settings."""
    links = CallbackLinks.from_settings(settings)
    return [
        StkPushHandler(daraja, links, query_after_s=settings.mpesa_stk_query_after_s),
        B2CHandler(daraja, links, result_wait_s=settings.mpesa_result_wait_s),
        ReversalHandler(daraja, links, result_wait_s=settings.mpesa_result_wait_s),
        OrderStkHandler(daraja, links, query_after_s=settings.mpesa_stk_query_after_s),
        PaybillHandler(daraja, links, result_wait_s=settings.mpesa_result_wait_s),
    ]
