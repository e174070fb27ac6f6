"""The outbox handlers of the bill rails: airtime (kind 'at_airtime'), one top-up through
AT, and Paybill billers (kind 'daraja_b2b', PaybillHandler below); for each, what its
answer means for the bill, recorded in the transaction that settles the
outbox row (services/bills/rail_answers.py decides).

Each send carries the bill's reference as AT's Idempotency-Key, so a row performed again
(a retry after a connection never made, or a row resumed after its worker died
mid-call) is the same top-up to AT, never a second one. Only AT's explicit refusal
releases the hold here; a row given up after its retries, or an unclear answer, leaves
the bill 'unknown' for AT's status to end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.money import CENTS_PER_SHILLING
from app.domain.records.admin import OutboxRow
from app.integrations.airtime import AirtimeError, AirtimeRail, Failure, TopUpSent
from app.integrations.daraja import Accepted, Daraja, DarajaError
from app.services.bills import rail_answers
from app.worker.handlers import Outcome, Verdict
from app.worker.mpesa_handlers import CallbackLinks, at_most_once

REFUSED = "refused"
_VERDICTS = {
    Failure.RETRYABLE: Verdict.RETRY,
    Failure.PERMANENT: Verdict.FAILED,
    Failure.AMBIGUOUS: Verdict.UNKNOWN,
}


class AirtimeHandler:
    """Outbox kind 'at_airtime': payload {"bill" (reference), "phone" (E.164), "amount"
    (cents)}."""

    kind = "at_airtime"
    resumable = True  # the Idempotency-Key makes a repeat the same top-up at AT

    def __init__(
        self,
        rail: AirtimeRail,
        *,
        check_after_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rail = rail
        self._check_after_s = check_after_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, rail: AirtimeRail) -> AirtimeHandler:
        return cls(rail, check_after_s=settings.bill_status_check_s)

    def perform(self, row: OutboxRow) -> Outcome:
        """Send the top-up once (again only as the same Idempotency-Key)."""
        payload = row.payload
        bill, phone, amount = payload.get("bill"), payload.get("phone"), payload.get("amount")
        if not isinstance(bill, str) or not isinstance(phone, str) or not isinstance(amount, int):
            return Outcome(Verdict.UNKNOWN, "malformed at_airtime payload")
        try:
            sent = self._rail.send(phone=phone, amount=amount, idempotency_key=bill)
        except AirtimeError as exc:
            refused = REFUSED if exc.kind is Failure.PERMANENT else None
            return Outcome(_VERDICTS[exc.kind], str(exc), refused)
        return Outcome(Verdict.DONE, result=sent)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """Sent (AT is asked later), refused (released), or unknown."""
        reference = row.payload.get("bill")
        if not isinstance(reference, str) or outcome.verdict is Verdict.RETRY:
            return
        now = self._clock()
        if outcome.verdict is Verdict.DONE and isinstance(outcome.result, TopUpSent):
            rail_answers.topup_sent(
                uow,
                reference,
                request_id=outcome.result.request_id,
                check_after_s=self._check_after_s,
                now=now,
            )
        elif outcome.verdict is Verdict.FAILED and outcome.result == REFUSED:
            rail_answers.topup_refused(uow, reference, reason=outcome.error or "", now=now)
        else:
            rail_answers.topup_unclear(uow, reference, reason=outcome.error or "unclear")


class PaybillHandler:
    """Outbox kind 'daraja_b2b': payload {"bill" (reference), "paybill", "account",
    "amount" (cents), "requester" (the payer's MSISDN)}. One Business Pay Bill through
    Daraja, made at most once: Daraja takes no id of the caller's for it, so a repeat
    would be a second payment. An answer that never came leaves the bill 'unknown' for an
    operator: PayTrace never learnt its id, and a callback's claim never names a bill."""

    kind = "daraja_b2b"
    resumable = False  # no idempotency key at Daraja: never sent twice

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
        """Pay the biller, once; again only when the attempt never reached M-Pesa."""
        p = row.payload
        bill, paybill, account, amount = (
            p.get("bill"),
            p.get("paybill"),
            p.get("account"),
            p.get("amount"),
        )
        if not all(isinstance(v, str) for v in (bill, paybill, account)) or not isinstance(
            amount, int
        ):
            return Outcome(Verdict.UNKNOWN, "malformed daraja_b2b payload")
        try:
            accepted = self._daraja.pay_bill(
                paybill=paybill,
                account=account,
                amount=amount // CENTS_PER_SHILLING,
                requester=str(p.get("requester") or ""),
                remarks=f"PayTrace bill {bill}",
                result_url=self._links.b2b_result,
                timeout_url=self._links.b2b_timeout,
            )
        except DarajaError as exc:
            verdict = at_most_once(exc)
            return Outcome(verdict, str(exc), REFUSED if verdict is Verdict.FAILED else None)
        return Outcome(Verdict.DONE, result=accepted)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """Accepted (M-Pesa is asked later), refused (released), or unknown."""
        reference = row.payload.get("bill")
        if not isinstance(reference, str) or outcome.verdict is Verdict.RETRY:
            return
        now = self._clock()
        if outcome.verdict is Verdict.DONE and isinstance(outcome.result, Accepted):
            rail_answers.topup_sent(
                uow,
                reference,
                request_id=outcome.result.originator_conversation_id,
                check_after_s=self._result_wait_s,
                now=now,
            )
        elif outcome.verdict is Verdict.FAILED and outcome.result == REFUSED:
            rail_answers.topup_refused(uow, reference, reason=outcome.error or "", now=now)
        else:
            rail_answers.topup_unclear(uow, reference, reason=outcome.error or "unclear")
