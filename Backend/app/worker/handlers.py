"""Outbox handlers, one per `kind`, so that the worker loop stays generic.

A handler performs the external effect (no database access while doing it) and
then records its kind-specific results inside the transaction that settles the
outbox row. SMS is here; M-Pesa's (the STK push, the B2C payment) are in
app/worker/mpesa_handlers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from app.db.unit_of_work import UnitOfWork
from app.domain.records.admin import OutboxRow
from app.integrations.sms import SmsError, SmsOutcome, SmsResult, SmsSender
from app.services import notifications
from app.services.keys import SmsSeal, UnreadableSeal


class Verdict(StrEnum):
    DONE = "done"  # the effect happened
    RETRY = "retry"  # it provably did not happen; try again later
    FAILED = "failed"  # it will never happen
    UNKNOWN = "unknown"  # it may have happened; an operator decides


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    error: str | None = None
    # Handler-specific detail (e.g. AT's per-recipient answer) for `record`.
    result: object = None


class Handler(Protocol):
    kind: str
    # True when performing a row again is safe after a worker died mid-call (the
    # effect is idempotent at the provider): such rows are resumed, not parked.
    resumable: bool

    def perform(self, row: OutboxRow) -> Outcome:
        """Attempt the effect once; expected failures become an Outcome, not an exception."""
        ...

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """Write what the attempt produced, in the transaction that settles the row."""
        ...


class HandlerRegistry:
    """The handlers a worker runs; rows of other kinds are left for other workers."""

    def __init__(self, *handlers: Handler) -> None:
        self._by_kind: dict[str, Handler] = {}
        for handler in handlers:
            self.register(handler)

    def register(self, handler: Handler) -> None:
        """Add a handler; raises ValueError if its kind is taken."""
        if handler.kind in self._by_kind:
            raise ValueError(f"a handler for {handler.kind!r} is already registered")
        self._by_kind[handler.kind] = handler

    @property
    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    @property
    def resumable_kinds(self) -> list[str]:
        return sorted(kind for kind, handler in self._by_kind.items() if handler.resumable)

    def get(self, kind: str) -> Handler:
        """The handler for a kind; raises KeyError if none is registered."""
        return self._by_kind[kind]


_VERDICTS = {
    SmsOutcome.ACCEPTED: Verdict.DONE,
    SmsOutcome.PERMANENT: Verdict.FAILED,
    SmsOutcome.RETRYABLE: Verdict.RETRY,
    SmsOutcome.AMBIGUOUS: Verdict.UNKNOWN,
}


class SmsHandler:
    """Outbox kind 'sms': payload {"to", "message" or "sealed", "template"}, one recipient
    per row. A sealed text (a one-time code) is opened only here, just before sending."""

    kind = "sms"
    # Never resent blind: AT may have accepted it (a duplicate money SMS is worse).
    resumable = False

    def __init__(self, sender: SmsSender, seal: SmsSeal | None = None) -> None:
        self._sender = sender
        self._seal = seal

    def _text(self, payload: dict) -> str | None:
        sealed = payload.get("sealed")
        if sealed is None:
            return payload.get("message")
        if self._seal is None or not isinstance(sealed, str):
            return None
        try:
            return self._seal.open(sealed)
        except UnreadableSeal:
            return None

    def perform(self, row: OutboxRow) -> Outcome:
        """Send the row's SMS once through the sender."""
        to, message = row.payload.get("to"), self._text(row.payload)
        if not isinstance(to, str) or not isinstance(message, str) or not message:
            return Outcome(Verdict.FAILED, "malformed sms payload")
        try:
            results = self._sender.send(message, [to])
        except SmsError as exc:
            return Outcome(_VERDICTS[exc.outcome], f"{exc.outcome}: {exc}")
        if len(results) != 1:
            return Outcome(Verdict.UNKNOWN, f"expected 1 recipient answer, got {len(results)}")
        result = results[0]
        error = None
        if result.outcome is not SmsOutcome.ACCEPTED:
            error = f"AT statusCode {result.status_code} {result.status}"
        return Outcome(_VERDICTS[result.outcome], error, result)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """Log AT's answer in sms_messages when it accepted or finally rejected the SMS."""
        result = outcome.result
        if not isinstance(result, SmsResult):
            return
        if outcome.verdict not in (Verdict.DONE, Verdict.FAILED):
            return
        notifications.record_submission(
            uow,
            outbox_id=row.id,
            recipient=row.payload["to"],
            result=result,
            accepted=outcome.verdict is Verdict.DONE,
        )
