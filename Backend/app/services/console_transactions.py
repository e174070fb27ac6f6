"""The console's transactions table: find journal transactions by their reference, or
a user's by phone or PayTrace ID; read one with its legs and settlement; reverse it, or,
for a delivered bill the biller refunded, reverse the bill (services/bills/reversals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.records.bills import BillPayment
from app.domain.records.ledger import StatementFilter
from app.errors import NotFound
from app.services import adjustments, admin_views, console_users, statements
from app.services.admin_views import TransactionView
from app.services.bills import reversals
from app.services.ledger import Movement

REFERENCE = re.compile(r"^[A-Z2-9]{10}$")  # as journal_transactions.reference's CHECK
FOUND_MAX = 50


@dataclass(frozen=True)
class Found:
    """A search's rows: the journal transactions it names, newest first."""

    query: str
    rows: tuple[FoundRow, ...]
    owner: str | None = None  # the user's phone, when the query named a user


@dataclass(frozen=True)
class FoundRow:
    transaction_id: int
    reference: str
    kind: str
    amount: int  # cents; signed for a user's line (what it did to the wallet)
    created_at: datetime
    settlement_status: str | None


def search(uow: UnitOfWork, query: str) -> Found:
    """A reference (10 characters) names one transaction; a phone (any format) or a
    PayTrace ID names a user, whose latest FOUND_MAX movements are found. Reads only."""
    query = query.strip()
    if REFERENCE.match(query.upper()):
        with uow:
            entry = uow.ledger.find(reference=query.upper())
        if entry is not None:
            view = admin_views.transaction_view(uow, entry.id)
            assert view is not None  # found a moment ago; journal rows are never deleted
            status = view.settlement.status if view.settlement is not None else None
            row = FoundRow(view.id, view.reference, view.kind, view.amount, view.created_at, status)
            return Found(query, (row,))
    phone = console_users.phone_of(uow, query)
    if phone is None:
        return Found(query, ())
    with uow:
        user = uow.users.get_by_phone(phone)
    if user is None:
        return Found(query, ())
    lines, _ = statements.history(uow, user_id=user.id, limit=FOUND_MAX, where=StatementFilter())
    rows = tuple(
        FoundRow(
            line.transaction_id,
            line.reference,
            line.kind,
            line.amount,
            line.created_at,
            line.settlement_status,
        )
        for line in lines
    )
    return Found(query, rows, owner=phone)


def detail(uow: UnitOfWork, transaction_id: int) -> TransactionView | None:
    """The transaction with its legs and settlement (admin_views), or None."""
    return admin_views.transaction_view(uow, transaction_id)


def reverse(uow: UnitOfWork, *, transaction_id: int, reason: str) -> Movement:
    """The admin API's reversal (adjustments.reverse) with an operator's reason; its
    commit writes the console's audit row when uow is audited. Raises as reverse."""
    # The journal knows operators' channel as 'admin' (its CHECK); the audit row says
    # the console.
    return adjustments.reverse(uow, transaction_id=transaction_id, reason=reason, channel="admin")


def bill_of(uow: UnitOfWork, transaction_id: int) -> BillPayment | None:
    """The bill a 'bill_payment' transaction delivered, or None. Reads only."""
    with uow:
        reference = uow.bill_payments.by_outcome(transaction_id)
        return uow.bill_payments.get(reference) if reference is not None else None


def reverse_bill(
    uow: UnitOfWork, *, transaction_id: int, refund_reference: str, reason: str
) -> reversals.BillReversal:
    """The admin API's bill reversal (reversals.reverse_bill) of the bill this
    'bill_payment' transaction delivered. Raises NotFound (no such bill), and as
    reverse_bill."""
    found = bill_of(uow, transaction_id)
    if found is None:
        raise NotFound("no bill was delivered by this transaction")
    return reversals.reverse_bill(
        uow, bill_reference=found.reference, refund_reference=refund_reference, reason=reason
    )
