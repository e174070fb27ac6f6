"""What M-Pesa says about a Paybill bill (Daraja's Business Pay Bill), and the only
answer that ends one: M-Pesa's answer to PayTrace's own transaction status query.

* The send's answer is recorded as an airtime send's is (rail_answers.topup_sent /
  topup_refused / topup_unclear): Daraja accepting it is not delivered; its
  OriginatorConversationID is the bill's rail id.
* The result and queue-timeout callbacks are hostile input: stored, then read only for
  the OriginatorConversationID they name; the bill PayTrace holds under that id (the
  one Daraja gave when it accepted PayTrace's own request) is asked about now. An id no
  bill holds names no bill: anyone reaching the callback URL can claim a result for an
  account and amount under an id of their choosing, so a bill whose send's answer was
  lost is never given an id a callback brings (it stays `unknown` for an operator).
  While a held bill of the account and amount it claims is still waiting for its send's
  answer, the notice is left for the worker to process again (the answer may be on its
  way with that very id).
* The checker asks M-Pesa (transaction status by the rail id) and stores each query
  (bill_status_queries); only an answer to one of them is read, each once. Completed (its
  amount and account the bill's) delivers, with KPLC's token when it carries one;
  failed releases; no such transaction, said `release_after_not_found` times about a
  `held` bill (Daraja accepted PayTrace's request with a clear answer, under the id
  asked about), releases: the request timed out in M-Pesa's queue. Never an `unknown`
  bill: its request may have been paid under an id PayTrace never learnt, so M-Pesa
  not knowing the id asked about proves nothing; after that many answers it is left
  for an operator (nothing more is asked). Anything else asks again later.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import DARAJA_B2B, OPEN_STATES, UNKNOWN
from app.domain.records.bills import BillPayment
from app.errors import ServiceUnavailable
from app.integrations.daraja_payloads import (
    BillerItems,
    BillNotice,
    PaymentOutcome,
    Verdict,
)
from app.services.bills import endings

log = logging.getLogger("paytrace.bills")


def _open(uow: UnitOfWork, reference: str | None) -> BillPayment | None:
    found = uow.bill_payments.get(reference, for_update=True) if reference else None
    return found if found is not None and found.status in OPEN_STATES else None


# ---- the checker: which bills to ask M-Pesa about, and the queries it made ----------


def due(uow: UnitOfWork, *, now: datetime, limit: int) -> list[BillPayment]:
    """Open B2B bills with a rail id whose check time has come."""
    with uow:
        references = uow.bill_payments.due_checks(now, limit, rail=DARAJA_B2B)
        return [p for r in references if (p := uow.bill_payments.get(r)) is not None]


def status_asked(
    uow: UnitOfWork, reference: str, *, conversation_id: str, recheck_s: float, now: datetime
) -> None:
    """M-Pesa took a status query about the bill: only its answer is read; asked again
    after recheck_s if none comes. Commits."""
    with uow:
        p = _open(uow, reference)
        if p is not None:
            uow.bill_payments.status_asked(
                p.id,
                conversation_id=conversation_id,
                asked_at=now,
                check_after=now + timedelta(seconds=recheck_s),
            )
        uow.commit()


def ask_later(uow: UnitOfWork, reference: str, *, recheck_s: float, now: datetime) -> None:
    """The query was not made (Daraja unreachable, refused): ask again later. Commits."""
    with uow:
        p = _open(uow, reference)
        if p is not None:
            uow.bill_payments.check_later(p.id, now + timedelta(seconds=recheck_s))
        uow.commit()


# ---- callbacks: a reason to ask, never an answer ------------------------------------


def notice(
    uow: UnitOfWork, callback_id: int, seen: BillNotice, *, now: datetime | None = None
) -> str:
    """A B2B result or queue-timeout notice: the bill it names is asked about now.
    Returns 'checking', 'ended' (nothing left to ask), or 'unmatched'. Moves nothing."""
    now = now or datetime.now(UTC)
    with uow:
        originator = seen.originator_conversation_id
        reference = uow.bill_payments.by_rail_request(originator)
        if reference is None and seen.account is not None and seen.amount is not None:
            terms = {"rail": DARAJA_B2B, "account": seen.account, "amount": seen.amount}
            if uow.bill_payments.awaiting_answer(**terms):
                # Its send's answer (which may carry this id) is not recorded yet: kept
                # 'received', the worker processes it again once it is.
                raise ServiceUnavailable("a bill of this account is still being sent")
        p = _open(uow, reference)
        if p is None:
            outcome = "ended" if reference is not None else "unmatched"
        else:
            uow.bill_payments.check_later(p.id, now)
            outcome = "checking"
        uow.callbacks.set_outcome(callback_id, outcome, None, reference=reference)
        uow.commit()
    log.info("B2B notice", extra={"bill": reference, "outcome": outcome})
    return outcome


# ---- M-Pesa's status answer: the one word that ends a B2B bill ----------------------


def answers(uow: UnitOfWork, query_conversation_id: str | None) -> bool:
    """True when the status answer is to a query PayTrace asked about a bill."""
    if not query_conversation_id:
        return False
    with uow:
        return uow.bill_payments.by_status_query(query_conversation_id) is not None


def settle(
    uow: UnitOfWork,
    callback_id: int,
    answer: PaymentOutcome,
    items: BillerItems,
    *,
    release_after_not_found: int,
    recheck_s: float,
    now: datetime | None = None,
) -> str:
    """End the bill on M-Pesa's answer to one of PayTrace's status queries about it,
    each answer read once. Returns 'delivered', 'failed', 'not_found', 'pending',
    'mismatch', 'duplicate' (that query's answer was read already) or 'ended'."""
    now = now or datetime.now(UTC)
    query = answer.query_conversation_id or ""
    with uow:
        asked = uow.bill_payments.by_status_query(query)
        reference = asked[0] if asked else None
        p = _open(uow, reference)  # the bill's row first: answers queue on it
        if asked is None:
            outcome = "unknown_request"
        elif asked[1]:
            outcome = "duplicate"
        elif p is None:
            outcome = "ended"
        else:
            outcome = _settle(uow, p, answer, items, release_after_not_found, now)
            if outcome in ("pending", "mismatch"):
                uow.bill_payments.check_later(p.id, now + timedelta(seconds=recheck_s))
            elif outcome == "not_found":
                uow.bill_payments.not_found(p.id, now + timedelta(seconds=recheck_s))
            elif outcome == "not_found_unknown":
                # An unknown bill M-Pesa does not know by that id: nothing more to ask.
                uow.bill_payments.not_found(p.id, None)
                outcome = "not_found"
        uow.bill_payments.status_answered(query, now)
        uow.callbacks.set_outcome(callback_id, outcome, None, reference=reference)
        uow.commit()
    log.info("B2B status", extra={"bill": reference, "outcome": outcome})
    return outcome


def _settle(
    uow: UnitOfWork,
    p: BillPayment,
    answer: PaymentOutcome,
    items: BillerItems,
    release_after_not_found: int,
    now: datetime,
) -> str:
    ours = answer.originator_conversation_id in (None, p.rail_request_id)
    if answer.verdict is Verdict.PAID:
        if not ours or answer.amount != p.amount or items.account not in (None, p.account):
            log.warning("M-Pesa's payment is not this bill's", extra={"bill": p.reference})
            return "mismatch"
        receipt = answer.receipt or p.rail_request_id or ""
        endings.deliver(
            uow,
            p,
            request_id=None,
            receipt=receipt,
            now=now,
            token=items.token,
            units=items.units if items.token else None,
        )
        return "delivered"
    if answer.verdict is Verdict.FAILED and ours:
        endings.release(uow, p, failure=answer.result_desc or "failed at M-Pesa", now=now)
        return "failed"
    if answer.verdict is Verdict.NOT_FOUND:
        if p.not_found_answers + 1 < release_after_not_found:
            return "not_found"
        if p.status == UNKNOWN:  # it may have been paid: never released on this
            log.warning("unknown bill not found at M-Pesa", extra={"bill": p.reference})
            return "not_found_unknown"
        endings.release(uow, p, failure="no such transaction at M-Pesa", now=now)
        return "failed"
    return "pending"
