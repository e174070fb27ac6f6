"""What a rail itself says about a stuck bill, read for an operator's resolution
(services/bills/resolutions.py): M-Pesa's account statement for a Paybill bill, as M-Pesa
reconciliation reads it (integrations/mpesa_statement.py), and AT's transaction status
for a top-up. Reads only; never a callback's word, never a guess.

The bill's window on the statement is from its hold (less a few minutes of clock skew
between PayTrace and M-Pesa) up to now: every East Africa Time day of it must be there
for "no payment" to be proved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.bills import Biller
from app.domain.mpesa_reconciliation import StatementEntry, eat_day
from app.domain.records.bills import BillPayment
from app.errors import Conflict, ServiceUnavailable
from app.integrations.airtime import AirtimeError, AirtimeRail, TopUpState
from app.integrations.mpesa_statement import MpesaStatement, StatementUnavailable

CLOCK_SKEW = timedelta(minutes=5)
MAX_DAYS = 62  # a bill stuck longer is read from the statement files by hand


class ResolutionRefused(Conflict):
    """The rail's evidence does not allow this resolution; the code says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class StatementUnreadable(ServiceUnavailable):
    code = "statement_unavailable"


class RailUnreachable(ServiceUnavailable):
    code = "rail_unavailable"


@dataclass(frozen=True)
class StatementWindow:
    entries: list[StatementEntry]
    missing_days: list[str]  # days of the window with no statement yet (ISO dates)


def statement_window(
    statement: MpesaStatement | None, p: BillPayment, now: datetime
) -> StatementWindow:
    """M-Pesa's statement entries over the bill's window. Raises StatementUnreadable."""
    if statement is None:
        raise StatementUnreadable("no M-Pesa statement is configured here")
    first, last = eat_day(p.created_at - CLOCK_SKEW), eat_day(now)
    if (last - first).days >= MAX_DAYS:
        raise ResolutionRefused(
            "window_too_long",
            f"the bill is older than {MAX_DAYS} days: check the statement by hand",
        )
    entries: list[StatementEntry] = []
    missing: list[str] = []
    day = first
    while day <= last:
        try:
            found = statement.entries(day)
        except StatementUnavailable as exc:
            raise StatementUnreadable(f"M-Pesa's statement cannot be read: {exc}") from None
        if found is None:
            missing.append(day.isoformat())
        else:
            entries.extend(found)
        day += timedelta(days=1)
    return StatementWindow(entries, missing)


def pays_bill(entry: StatementEntry, p: BillPayment, biller: Biller, now: datetime) -> str | None:
    """None when the statement's entry is a payment of this bill (a debit to its paybill,
    its amount, its account when the line names one, within its window); else why not."""
    if entry.direction != "out":
        return "it is money paid in, not a payment out"
    if entry.counterparty != (biller.paybill or ""):
        return (
            f"it was paid to {entry.counterparty or 'another party'}, not paybill {biller.paybill}"
        )
    if entry.amount != p.amount:
        return f"its amount is {entry.amount} cents, the bill's {p.amount}"
    if entry.reference and entry.reference != p.account:
        return "it names another account"
    if not p.created_at - CLOCK_SKEW <= entry.completed_at <= now:
        return "it was completed outside the bill's window"
    return None


def may_pay_bill(entry: StatementEntry, p: BillPayment, biller: Biller, now: datetime) -> bool:
    """Whether a statement entry could be this bill's payment, read loosely: proving
    that M-Pesa paid *nothing* must not hang on the parser reading the paybill and the
    account exactly (a counterparty or account it could not read is no alibi). A money
    out of the bill's amount in its window counts unless its line plainly names another
    paybill or another account."""
    if entry.direction != "out" or entry.amount != p.amount:
        return False
    if not p.created_at - CLOCK_SKEW <= entry.completed_at <= now:
        return False
    if entry.counterparty and entry.counterparty != (biller.paybill or ""):
        return False
    return not (entry.reference and entry.reference != p.account)


def receipt_on_statement(
    window: StatementWindow, receipt: str, p: BillPayment, biller: Biller, now: datetime
) -> None:
    """The receipt must be on the statement once, as a payment of this bill. Raises
    ResolutionRefused ('receipt_not_on_statement', 'receipt_mismatch')."""
    lines = [e for e in window.entries if e.receipt == receipt]
    if not lines:
        missing = (
            f" (no statement yet for {', '.join(window.missing_days)})"
            if window.missing_days
            else ""
        )
        raise ResolutionRefused(
            "receipt_not_on_statement", f"M-Pesa's statement has no {receipt}{missing}"
        )
    if len(lines) > 1:
        raise ResolutionRefused("receipt_mismatch", f"M-Pesa's statement lists {receipt} twice")
    why = pays_bill(lines[0], p, biller, now)
    if why is not None:
        raise ResolutionRefused("receipt_mismatch", f"{receipt} is not this bill's payment: {why}")


def topup_delivered(rail: AirtimeRail, transaction_id: str, p: BillPayment) -> None:
    """AT's status must say this transaction topped up the bill's phone with its amount.
    Raises ResolutionRefused ('receipt_not_found', 'receipt_mismatch'), RailUnreachable."""
    try:
        status = rail.find(transaction_id)
    except AirtimeError as exc:
        raise RailUnreachable(f"Africa's Talking cannot be asked now: {exc}") from None
    if status.state is TopUpState.NOT_FOUND:
        raise ResolutionRefused("receipt_not_found", f"AT knows no transaction {transaction_id}")
    if status.phone != p.account or status.amount != p.amount:
        raise ResolutionRefused(
            "receipt_mismatch",
            f"AT's transaction {transaction_id} is not this bill's phone and amount",
        )
    if status.state is not TopUpState.DELIVERED:
        raise ResolutionRefused(
            "receipt_mismatch",
            f"AT says transaction {transaction_id} is {status.state}, not delivered",
        )
