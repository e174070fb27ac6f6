"""An operator's resolution of a stuck bill: one whose rail's answer was lost (`unknown`)
or whose worker died mid-send (`held` with no rail id), its user's money held.

A callback's word is never enough to move money out, and money is resolved only by
asking the rail, never by guessing:

* **delivered** needs the rail's evidence: for a Paybill bill, M-Pesa's receipt of the
  B2B payment, which must be on M-Pesa's statement as reconciliation reads it (a debit
  to the biller's paybill, the bill's amount, in its window, once) and bound to no other
  bill; for a top-up, AT's transaction id, which AT's status query must say topped up
  the bill's phone with its amount;
* **failed** only where the rail provably has no payment: the send's outbox row gave up
  after its retries, none of which reached the rail; or, for a Paybill bill held at
  least RELEASE_GRACE, M-Pesa's statement of every day from its hold to now shows no
  payment that could be it. AT has no lookup by PayTrace's id: a top-up whose send may
  have reached AT is never failed here.

Either way the bill ends through endings.deliver / endings.release, the same movements,
SMS, cashback and settlement as the rail's own answer. Once per bill, ever: the bill's
row is locked first, its bill_resolutions row is its one resolution, the same request
again answers it (replayed), another is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.repositories.bill_resolutions import ReceiptTaken
from app.db.unit_of_work import UnitOfWork
from app.domain.bills import AT_AIRTIME, DARAJA_B2B, DELIVERED, FAILED, HELD, UNKNOWN
from app.domain.mpesa_reconciliation import eat_day
from app.domain.records.bills import BillPayment, BillResolutionRow
from app.errors import NotFound, refused
from app.integrations.airtime import AfricasTalkingAirtime, AirtimeRail
from app.integrations.mpesa_statement import MpesaStatement, statement_from_settings
from app.services.bills import endings
from app.services.bills import rail_evidence as evidence
from app.services.bills.rail_evidence import ResolutionRefused
from app.services.ledger import with_fresh_reference

OUTCOMES = (DELIVERED, FAILED)
RECEIPT = re.compile(r"^[A-Za-z0-9_-]{3,64}$")
REASON_MAX = 200
BILL_REFERENCE = re.compile(r"^[A-Z2-9]{10}$")
# M-Pesa may hold a B2B request in its queue a while before paying or dropping it: a
# statement read sooner than this after the hold proves nothing.
RELEASE_GRACE = timedelta(hours=1)
GAVE_UP = "gave up after"  # app/worker/outbox.py: every attempt failed to connect


@dataclass(frozen=True)
class Rails:
    """Where the evidence is asked: M-Pesa's statement (None: not configured) and AT."""

    statement: MpesaStatement | None
    airtime: AirtimeRail

    @classmethod
    def from_settings(cls, settings: Settings) -> Rails:
        return cls(statement_from_settings(settings), AfricasTalkingAirtime.from_settings(settings))


@dataclass(frozen=True)
class BillResolution:
    bill: str
    outcome: str
    grounds: str
    receipt: str | None
    transaction_id: int
    reason: str
    created_at: datetime
    replayed: bool = False


def resolve_bill(
    uow: UnitOfWork,
    rails: Rails,
    *,
    bill_reference: str,
    outcome: str,
    receipt: str | None,
    reason: str,
    now: datetime | None = None,
    grace: timedelta = RELEASE_GRACE,
) -> BillResolution:
    """End a stuck bill once on the rail's evidence (see the module's docstring); commits.

    Raises NotFound (no such bill); ValidationFailed ('invalid_outcome',
    'invalid_receipt', 'invalid_reason'); ResolutionRefused (409: 'not_stuck',
    'already_resolved', 'receipt_not_on_statement', 'receipt_not_found',
    'receipt_mismatch', 'receipt_used', 'rail_may_have_paid', 'mpesa_paid', 'too_early',
    'statement_incomplete', 'window_too_long'); StatementUnreadable, RailUnreachable
    (503).
    """
    bill_reference = bill_reference.strip().upper() if isinstance(bill_reference, str) else ""
    receipt = receipt.strip() if isinstance(receipt, str) and receipt.strip() else None
    reason = reason.strip() if isinstance(reason, str) else ""
    if not BILL_REFERENCE.match(bill_reference):
        raise NotFound("no such bill")
    if outcome not in OUTCOMES:
        raise refused("invalid_outcome", "outcome is 'delivered' or 'failed'")
    if outcome == DELIVERED and (receipt is None or not RECEIPT.match(receipt)):
        raise refused("invalid_receipt", "the rail's receipt: 3 to 64 letters, digits, '_' or '-'")
    if outcome == FAILED and receipt is not None:
        raise refused("invalid_receipt", "a failed bill has no receipt")
    if not reason or len(reason) > REASON_MAX or not reason.isprintable():
        raise refused("invalid_reason", f"give a reason, up to {REASON_MAX} characters")
    now = now or datetime.now(UTC)
    with uow:
        p = uow.bill_payments.get(bill_reference)
        if p is None:
            raise NotFound("no such bill")
        done = uow.bill_resolutions.get(p.id)
        if done is not None:
            return _replay(p, done, outcome, receipt, reason)
        _stuck(uow, p)
        biller = uow.billers.get(biller_id=p.biller_id)
        gave_up = _gave_up(uow, p)
    assert biller is not None
    # The rail is asked with no row locked; the bill's state is checked again under it.
    if outcome == DELIVERED:
        assert receipt is not None
        if p.rail == DARAJA_B2B:
            window = evidence.statement_window(rails.statement, p, now)
            evidence.receipt_on_statement(window, receipt, p, biller, now)
            grounds = "mpesa_statement"
        else:
            if p.rail_request_id is not None and p.rail_request_id != receipt:
                raise ResolutionRefused(
                    "receipt_mismatch", f"AT knows this bill as {p.rail_request_id}: resolve it so"
                )
            evidence.topup_delivered(rails.airtime, receipt, p)
            grounds = "at_status"
    elif gave_up:
        grounds = "outbox_gave_up"
    elif p.rail == DARAJA_B2B:
        _no_payment_on_statement(uow, rails, p, biller, now, grace)
        grounds = "statement_clear"
    else:
        raise ResolutionRefused(
            "rail_may_have_paid",
            "its send may have reached Africa's Talking, which has no lookup by PayTrace's"
            " id: resolve it delivered with AT's transaction id, or settle it with AT first",
        )

    def attempt() -> BillResolution:
        with uow:
            locked = uow.bill_payments.get(bill_reference, for_update=True)
            assert locked is not None
            earlier = uow.bill_resolutions.get(locked.id)
            if earlier is not None:  # another request resolved it meanwhile
                return _replay(locked, earlier, outcome, receipt, reason)
            _stuck(uow, locked)
            if receipt is not None:
                owner = uow.bill_resolutions.receipt_owner(receipt)
                if owner is not None and owner != locked.reference:
                    raise ResolutionRefused("receipt_used", f"{receipt} already ended bill {owner}")
            if outcome == DELIVERED:
                airtime = locked.rail == AT_AIRTIME
                endings.deliver(
                    uow,
                    locked,
                    request_id=receipt if airtime else None,
                    receipt=receipt or "",
                    now=now,
                )
            else:
                endings.release(uow, locked, failure=f"resolved by an operator: {grounds}", now=now)
            ended = uow.bill_payments.get(bill_reference)
            assert ended is not None and ended.outcome_id is not None
            row = BillResolutionRow(
                locked.id, outcome, receipt, grounds, reason, ended.outcome_id, now
            )
            try:
                uow.bill_resolutions.add(row)
            except ReceiptTaken:  # a concurrent resolution of another bill took it first
                raise ResolutionRefused(
                    "receipt_used", f"{receipt} already ended another bill"
                ) from None
            uow.commit()
        return _of(locked, row, replayed=False)

    return with_fresh_reference(attempt)


def _stuck(uow: UnitOfWork, p: BillPayment) -> None:
    """Raises ResolutionRefused('not_stuck') unless the bill waits for an operator:
    unknown, or held with no rail id once its send's outbox row has finished."""
    if p.status == UNKNOWN:
        return
    if p.status == HELD and p.rail_request_id is None:
        sent = uow.bill_resolutions.send_state(p.reference)
        if sent is not None and sent[0] not in ("pending", "sending"):
            return
        raise ResolutionRefused("not_stuck", "its send to the rail is still under way")
    if p.status == HELD:
        raise ResolutionRefused("not_stuck", "the rail took it: its own status answer ends it")
    raise ResolutionRefused("not_stuck", f"the bill is {p.status} already")


def _gave_up(uow: UnitOfWork, p: BillPayment) -> bool:
    """The send's outbox row gave up after its retries, none of which reached the rail.
    Only a Paybill send proves it: it is never resumed (worker/bill_handlers.py), while
    a top-up's send is resumed after a worker died mid-call, a call that may have reached
    AT before the later tries failed to connect and the row gave up."""
    if p.rail != DARAJA_B2B:
        return False
    sent = uow.bill_resolutions.send_state(p.reference)
    return sent is not None and sent[0] == "failed" and (sent[1] or "").startswith(GAVE_UP)


def _no_payment_on_statement(
    uow: UnitOfWork, rails: Rails, p: BillPayment, biller, now: datetime, grace: timedelta
) -> None:
    window = evidence.statement_window(rails.statement, p, now)
    for entry in window.entries:
        if not evidence.may_pay_bill(entry, p, biller, now):
            continue
        with uow:
            owner = uow.bill_resolutions.receipt_owner(entry.receipt)
        if owner is None or owner == p.reference:
            raise ResolutionRefused(
                "mpesa_paid",
                f"M-Pesa's statement shows {entry.receipt} paying this bill: resolve it"
                " delivered with that receipt",
            )
    # A day's statement proves nothing paid only once the day is over: a file taken
    # mid-day (downloaded by hand in production) stops at its download.
    settled_day = eat_day(p.created_at + grace)
    if eat_day(now) <= settled_day:
        raise ResolutionRefused(
            "too_early",
            f"M-Pesa may still pay it: wait for its statement of {settled_day.isoformat()}"
            " to end (East Africa Time)",
        )
    if window.missing_days:
        raise ResolutionRefused(
            "statement_incomplete", f"no M-Pesa statement yet for {', '.join(window.missing_days)}"
        )


def _replay(
    p: BillPayment, done: BillResolutionRow, outcome: str, receipt: str | None, reason: str
) -> BillResolution:
    if (done.outcome, done.receipt, done.reason) != (outcome, receipt, reason):
        raise ResolutionRefused(
            "already_resolved", f"the bill was resolved {done.outcome} by another request"
        )
    return _of(p, done, replayed=True)


def _of(p: BillPayment, row: BillResolutionRow, *, replayed: bool) -> BillResolution:
    return BillResolution(
        bill=p.reference,
        outcome=row.outcome,
        grounds=row.grounds,
        receipt=row.receipt,
        transaction_id=row.transaction_id,
        reason=row.reason,
        created_at=row.created_at,
        replayed=replayed,
    )


def bill(uow: UnitOfWork, reference: str) -> BillPayment | None:
    """A bill by its reference, for the console's confirmation page; reads only."""
    reference = reference.strip().upper()
    if not BILL_REFERENCE.match(reference):
        return None
    with uow:
        return uow.bill_payments.get(reference)
