"""What the airtime rail says about a bill, and the only answers that end one.

* The outbox handler's answer to the send (in the transaction that settles the outbox
  row): AT took it under a requestId (asked again at check_after: 'Sent' is not yet
  delivered); AT refused it and sent nothing (released); or the answer was unclear
  (a timeout, a non-2xx: 'unknown', never released on that guess).
* AT's status (`find`) ends it: 'Success' delivers, 'Failed' releases; anything else
  (pending, not found, unreachable) leaves it as it is and asks again later.
* AT's status callback is hostile input: it only names a requestId for PayTrace to ask
  AT about. What AT answers - its phone, amount and status - is what is believed; a
  requestId AT does not know moves nothing.

A bill whose send was unclear has no requestId; AT's callback (verified) is what names
it: the oldest unknown bill of the same phone and amount without one. Never a held one:
its own answer (and id) may still be on its way, and taking it could bind another
bill's top-up to it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import AT_AIRTIME, OPEN_STATES, UNKNOWN
from app.domain.records.bills import BillPayment
from app.errors import ServiceUnavailable
from app.integrations.airtime import AirtimeError, AirtimeRail, TopUpState, TopUpStatus
from app.services.bills import endings

log = logging.getLogger("paytrace.bills")


def _open(uow: UnitOfWork, reference: str) -> BillPayment | None:
    """The payment, its row locked, while it is still open; None once ended."""
    found = uow.bill_payments.get(reference, for_update=True)
    return found if found is not None and found.status in OPEN_STATES else None


# ---- the send's answer (the outbox handler's record, in its transaction) -------------


def topup_sent(
    uow: UnitOfWork, reference: str, *, request_id: str, check_after_s: float, now: datetime
) -> None:
    """AT took the top-up: ask it for the final status after check_after_s."""
    p = _open(uow, reference)
    if p is None or p.rail_request_id is not None:
        return  # ended or named already (AT's callback was first)
    uow.bill_payments.mark_sent(
        p.id, request_id=request_id, check_after=now + timedelta(seconds=check_after_s)
    )


def topup_refused(uow: UnitOfWork, reference: str, *, reason: str, now: datetime) -> None:
    """AT answered and sent nothing: the hold goes back, once."""
    p = _open(uow, reference)
    if p is None or p.status == UNKNOWN:
        return  # an unclear earlier answer: only AT's status may end it
    endings.release(uow, p, failure=reason, now=now)
    log.info("bill failed at the rail", extra={"bill": reference})


def topup_unclear(uow: UnitOfWork, reference: str, *, reason: str) -> None:
    """The send may have reached AT: unknown until AT's status says."""
    p = _open(uow, reference)
    if p is None or p.status == UNKNOWN:
        return
    uow.bill_payments.mark_unknown(p.id, failure=reason)
    log.warning("bill unknown at the rail", extra={"bill": reference})


# ---- AT's status: the one word that ends a bill -----------------------------------


def _settle(uow: UnitOfWork, p: BillPayment, status: TopUpStatus, now: datetime) -> str:
    """End p on AT's status about it (its row locked); returns what happened."""
    if status.phone != p.account or status.amount != p.amount:
        log.warning("AT's top-up is not this bill's", extra={"bill": p.reference})
        return "mismatch"
    if status.state is TopUpState.DELIVERED:
        endings.deliver(uow, p, request_id=status.request_id, receipt=status.request_id, now=now)
        return "delivered"
    if status.state is TopUpState.FAILED:
        failure = status.detail or "failed at AT"
        endings.release(uow, p, failure=failure, now=now, request_id=status.request_id)
        return "failed"
    return "pending"


def check_topup(
    uow: UnitOfWork, rail: AirtimeRail, reference: str, *, recheck_s: float, now: datetime | None
) -> str:
    """Ask AT about one open bill it named, and end it on AT's answer; otherwise ask
    again after recheck_s. Returns 'delivered', 'failed', 'pending' or 'ended'."""
    now = now or datetime.now(UTC)
    with uow:
        p = uow.bill_payments.get(reference)
    if p is None or p.status not in OPEN_STATES or p.rail_request_id is None:
        return "ended"
    try:
        status = rail.find(p.rail_request_id)  # outside any transaction
    except AirtimeError as exc:
        status = TopUpStatus(p.rail_request_id, TopUpState.PENDING, detail=str(exc))
    with uow:
        p = _open(uow, reference)
        if p is None:
            return "ended"
        outcome = _settle(uow, p, status, now)
        if outcome in ("pending", "mismatch"):
            uow.bill_payments.check_later(p.id, now + timedelta(seconds=recheck_s))
        uow.commit()
    return outcome


def check_due(
    uow: UnitOfWork, rail: AirtimeRail, *, recheck_s: float, limit: int, now: datetime | None
) -> int:
    """Ask AT about every open bill whose check time has come; returns how many."""
    now = now or datetime.now(UTC)
    with uow:
        due = uow.bill_payments.due_checks(now, limit, rail=AT_AIRTIME)
    for reference in due:
        check_topup(uow, rail, reference, recheck_s=recheck_s, now=now)
    return len(due)


def status_reported(
    uow: UnitOfWork, rail: AirtimeRail, *, request_id: str, recheck_s: float, now: datetime | None
) -> str:
    """AT's status callback named request_id: ask AT, and believe only AT. Returns
    'unverified' (AT does not know it: nothing moves), 'unmatched' (no open bill is this
    top-up), 'mismatch', 'pending', 'delivered' or 'failed'. Raises ServiceUnavailable
    when AT cannot be asked now, so that AT calls back again (for a bill whose answer
    was lost, its callback is the only clue)."""
    now = now or datetime.now(UTC)
    try:
        status = rail.find(request_id)
    except AirtimeError as exc:
        raise ServiceUnavailable("AT's transaction status could not be asked") from exc
    if status.state is TopUpState.NOT_FOUND or status.phone is None or status.amount is None:
        return "unverified"
    with uow:
        reference = uow.bill_payments.by_rail_request(request_id)
        if reference is None:
            reference = uow.bill_payments.unmatched_unknown(
                rail=AT_AIRTIME, account=status.phone, amount=status.amount
            )
        p = _open(uow, reference) if reference is not None else None
        if p is None:
            return "unmatched"
        outcome = _settle(uow, p, status, now)
        if outcome == "pending" and p.rail_request_id is None:
            uow.bill_payments.mark_sent(
                p.id, request_id=request_id, check_after=now + timedelta(seconds=recheck_s)
            )
        uow.commit()
    log.info("airtime status verified", extra={"bill": reference, "outcome": outcome})
    return outcome
