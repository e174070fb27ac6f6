"""Pay orders as stored and as shown: plain records repositories build, services return
and channels render (see app/domain/records/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain import pay_orders as rules


@dataclass(frozen=True, slots=True)
class PayOrderRow:
    """An order as its row holds it. Read it through `shown(now)`: a row still awaiting
    payment past its expires_at is expired."""

    id: int
    merchant_id: int
    code: str
    amount: int  # cents
    currency: str
    merchant_reference: str | None
    description: str | None
    status: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    expired_at: datetime | None
    canceled_at: datetime | None
    paid_amount: int | None
    refunded_amount: int
    payment_transaction_id: int | None
    # When its payment was first refunded in part, and refunded in full.
    partially_refunded_at: datetime | None = None
    refunded_at: datetime | None = None

    def shown(self, now: datetime) -> PayOrderRow:
        """The order as it is at `now` (an overdue one as expired, as the worker will
        write it)."""
        state = rules.as_of(self.status, self.expires_at, self.expired_at, now)
        if state.status == self.status:
            return self
        return _replace(self, status=state.status, expired_at=state.expired_at)


def _replace(row: PayOrderRow, **changes: object) -> PayOrderRow:
    fields = {name: getattr(row, name) for name in PayOrderRow.__slots__}
    fields.update(changes)
    return PayOrderRow(**fields)  # type: ignore[arg-type]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def snapshot(order: PayOrderRow) -> dict[str, object]:
    """The order as the merchant API answers it (and as an idempotent replay repeats it):
    JSON-ready, amounts in cents."""
    return {
        "id": order.id,
        "code": order.code,
        "amount": order.amount,
        "currency": order.currency,
        "merchant_reference": order.merchant_reference,
        "description": order.description,
        "status": order.status,
        "created_at": _iso(order.created_at),
        "expires_at": _iso(order.expires_at),
        "paid_at": _iso(order.paid_at),
        "expired_at": _iso(order.expired_at),
        "canceled_at": _iso(order.canceled_at),
        "paid_amount": order.paid_amount,
        "refunded_amount": order.refunded_amount,
        "payment_transaction_id": order.payment_transaction_id,
        "partially_refunded_at": _iso(order.partially_refunded_at),
        "refunded_at": _iso(order.refunded_at),
    }


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """A merchant's list: newest first, older than before_id, by status as shown (an
    overdue order counts as expired), created in [created_from, created_to)."""

    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    before_id: int | None = None
