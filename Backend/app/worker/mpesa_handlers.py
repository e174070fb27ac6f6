"""Outbox handlers for M-Pesa: the STK push (at most once) and the B2C payment (until
M-Pesa has it); a pay order's are in mpesa_order_handlers.py.

Both are made at most once. An STK push sent twice prompts the customer twice: a
push whose answer was lost is 'unknown', and its callback (whose URL names the
deposit) can still complete it. A B2C payment is sent again only when the attempt
provably never reached M-Pesa (no connection, 429); one whose answer was unclear (a
timeout, a 5xx, a connection lost after sending) is 'unknown' and is NOT resent -
M-Pesa may have paid it, and its refusal of a repeated OriginatorConversationID is
not a promise PayTrace bets money on. The worker then asks M-Pesa (transaction
status); only answers that find no such payment release the hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.records.admin import OutboxRow
from app.integrations.daraja import Accepted, Daraja, DarajaError, Failure, StkAccepted
from app.services.mpesa import deposits, payouts
from app.worker.handlers import Outcome, Verdict

# An STK push not made within this long after the request is not made at all: the
# user has long put the phone down.
PUSH_DEADLINE_S = 120.0
REFUSED = "refused"
FAILURE_VERDICTS = {
    Failure.RETRYABLE: Verdict.RETRY,
    Failure.PERMANENT: Verdict.FAILED,
    Failure.AMBIGUOUS: Verdict.UNKNOWN,
}


def at_most_once(exc: DarajaError) -> Verdict:
    """The verdict on Daraja's error for a request that moves money and must reach M-Pesa
    at most once (B2C, B2B, a reversal): sent again only when it provably never reached
    M-Pesa (a retryable answer below 500); refused outright: failed; anything else may
    have been taken: unknown, and M-Pesa's status answer decides."""
    if exc.kind is Failure.RETRYABLE and (exc.status or 0) < 500:
        return Verdict.RETRY
    if exc.kind is Failure.PERMANENT:
        return Verdict.FAILED
    return Verdict.UNKNOWN


@dataclass(frozen=True)
class CallbackLinks:
    """The URLs Daraja calls back, each with the secret token in its path."""

    base_url: str
    token: str

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackLinks:
        token = settings.mpesa_callback_token
        assert token is not None, "M-Pesa needs MPESA_CALLBACK_TOKEN"
        return cls(settings.mpesa_callback_base, token.get_secret_value())

    def _url(self, *parts: str) -> str:
        return "/".join([self.base_url, "callbacks", "mpesa", *parts, self.token])

    def stk(self, deposit: str) -> str:
        return self._url("stk") + f"?deposit={deposit}"

    @property
    def b2c_result(self) -> str:
        return self._url("b2c", "result")

    @property
    def b2c_timeout(self) -> str:
        return self._url("b2c", "timeout")

    @property
    def status_result(self) -> str:
        return self._url("status", "result")

    @property
    def status_timeout(self) -> str:
        return self._url("status", "timeout")

    @property
    def order_stk(self) -> str:
        return self._url("order-stk")

    @property
    def b2b_result(self) -> str:
        return self._url("b2b", "result")

    @property
    def b2b_timeout(self) -> str:
        return self._url("b2b", "timeout")

    @property
    def reversal_result(self) -> str:
        return self._url("reversal", "result")

    @property
    def reversal_timeout(self) -> str:
        return self._url("reversal", "timeout")


class StkPushHandler:
    """Outbox kind 'mpesa_stk': payload {"deposit", "phone" (MSISDN), "amount" (KES),
    "requested_at"}."""

    kind = "mpesa_stk"
    resumable = False  # a second push is a second prompt on the customer's phone

    def __init__(
        self,
        daraja: Daraja,
        links: CallbackLinks,
        *,
        query_after_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._daraja = daraja
        self._links = links
        self._query_after_s = query_after_s
        self._clock = clock

    def perform(self, row: OutboxRow) -> Outcome:
        """Push the prompt once, unless the request is too old to be answered."""
        payload = row.payload
        deposit, phone, amount = payload.get("deposit"), payload.get("phone"), payload.get("amount")
        if (
            not isinstance(deposit, str)
            or not isinstance(phone, str)
            or not isinstance(amount, int)
        ):
            return Outcome(Verdict.FAILED, "malformed stk_push payload")
        if self._too_old(payload.get("requested_at")):
            return Outcome(Verdict.FAILED, "too late to prompt the customer")
        try:
            accepted = self._daraja.stk_push(
                phone=phone,
                amount=amount,
                reference=deposit,
                description="Deposit",
                callback_url=self._links.stk(deposit),
            )
        except DarajaError as exc:
            return Outcome(FAILURE_VERDICTS[exc.kind], str(exc))
        return Outcome(Verdict.DONE, result=accepted)

    def _too_old(self, requested_at: object) -> bool:
        try:
            asked = datetime.fromisoformat(str(requested_at)).timestamp()
        except ValueError:
            return False
        return self._clock() - asked > PUSH_DEADLINE_S

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """The deposit waits for its result, failed (the user is told), or is unknown."""
        reference = row.payload.get("deposit")
        if not isinstance(reference, str) or outcome.verdict is Verdict.RETRY:
            return
        if outcome.verdict is Verdict.DONE and isinstance(outcome.result, StkAccepted):
            deposits.push_accepted(
                uow,
                reference,
                merchant_request_id=outcome.result.merchant_request_id,
                checkout_request_id=outcome.result.checkout_request_id,
                query_after_s=self._query_after_s,
            )
            return
        unknown = outcome.verdict is Verdict.UNKNOWN
        deposits.push_failed(uow, reference, reason=outcome.error or "", unknown=unknown)


class B2CHandler:
    """Outbox kind 'mpesa_b2c': payload {"withdrawal", "originator_conversation_id",
    "phone" (MSISDN), "amount" (KES)}."""

    kind = "mpesa_b2c"
    resumable = False  # a worker that died mid-call leaves it 'unknown': M-Pesa is asked

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
        """Ask M-Pesa to pay, once; again only when the attempt never reached it."""
        payload = row.payload
        originator = payload.get("originator_conversation_id")
        phone, amount = payload.get("phone"), payload.get("amount")
        reference = payload.get("withdrawal")
        if not all(isinstance(v, str) for v in (originator, phone, reference)) or not isinstance(
            amount, int
        ):
            return Outcome(Verdict.FAILED, "malformed b2c payload")
        try:
            accepted = self._daraja.b2c(
                originator_conversation_id=originator,
                phone=phone,
                amount=amount,
                remarks=f"PayTrace withdrawal {reference}",
                occasion=reference,
                result_url=self._links.b2c_result,
                timeout_url=self._links.b2c_timeout,
            )
        except DarajaError as exc:
            if exc.duplicate:  # an earlier attempt reached M-Pesa: it has the payment
                return Outcome(Verdict.DONE, f"already with M-Pesa: {exc}")
            verdict = at_most_once(exc)
            # Only the very first request's refusal proves it was never taken; after
            # that, a status query decides.
            refused = verdict is Verdict.FAILED and row.attempts <= 1
            return Outcome(verdict, str(exc), REFUSED if refused else None)
        return Outcome(Verdict.DONE, result=accepted)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """Submitted (its result awaited), refused (released by the worker's check), or
        unknown / given up on (the worker asks M-Pesa about it at once, before
        anything is released)."""
        originator = row.payload.get("originator_conversation_id")
        if not isinstance(originator, str) or outcome.verdict is Verdict.RETRY:
            return
        now = self._clock()
        if outcome.verdict is Verdict.FAILED and outcome.result == REFUSED:
            payouts.request_refused(uow, originator, reason=outcome.error or REFUSED)
            return
        done = outcome.verdict is Verdict.DONE
        conversation = (
            outcome.result.conversation_id if isinstance(outcome.result, Accepted) else None
        )
        wait = timedelta(seconds=self._result_wait_s if done else 0)
        payouts.request_submitted(
            uow, originator, conversation_id=conversation, check_after=now + wait
        )
