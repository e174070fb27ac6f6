"""What every refund through a rail shares (a pay order paid from M-Pesa or Stellar,
paid back through that rail): what was asked, the refund's ending - succeeded (the
order moved, `refund.succeeded`) or failed (the count on the payment given back,
`refund.failed`, the order as it was) - in the transaction that learns it.

The rails: services/mpesa/order_refunds.py (B2C to the payer's phone) and
services/stellar_order_refunds.py (on-chain to the sender).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.records.merchants import MerchantRow, RefundablePayment, refund_snapshot
from app.domain.records.pay_orders import PayOrderRow
from app.domain.records.pay_orders import snapshot as order_snapshot
from app.services import orders, webhooks

MPESA, STELLAR = "mpesa", "stellar"


@dataclass(frozen=True, slots=True)
class Asked:
    """What the refund's checks found, under the locks."""

    public_id: str
    merchant: MerchantRow
    payment: RefundablePayment
    amount: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class Pending:
    """A refund carried by a B2C withdrawal, its row locked, its order's row locked."""

    id: int
    merchant_id: int
    payment_transaction_id: int
    order_id: int | None
    amount: int
    status: str
    public_id: str


def lock_pending(
    uow: UnitOfWork, *, withdrawal_id: int | None = None, refund_id: int | None = None
) -> Pending | None:
    """The refund a B2C withdrawal carries (or with this id), None for none. The
    payment's ORDER row is locked first, then the refund's: the lock order of asking
    (order, then accounts), taken before its ending locks any account."""
    found = uow.merchant_refunds.pending_of(
        withdrawal_id=withdrawal_id, refund_id=refund_id, for_update=False
    )
    if found is None:
        return None
    order_id = Pending(*found).order_id
    if order_id is not None:  # a payment's order never changes
        orders.lock_refundable(uow, order_id)
    # Then the refund's own row: it ends only under both locks.
    again = uow.merchant_refunds.pending_of(withdrawal_id=withdrawal_id, refund_id=refund_id)
    assert again is not None
    return Pending(*again)


def succeeded(uow: UnitOfWork, refund: Pending, transaction_id: int, now: datetime) -> None:
    """The money reached the payer: the refund succeeded, the order moved, the event."""
    uow.merchant_refunds.succeed(refund.id, refund_transaction_id=transaction_id, now=now)
    order = (
        orders.mark_refunded(uow, refund.order_id, refund.amount, now)
        if refund.order_id is not None
        else None
    )
    _emit(uow, refund, "refund.succeeded", order, now)


def failed(uow: UnitOfWork, refund: Pending, reason: str, now: datetime) -> None:
    """The money did not go out (already back in the merchant's account): the count
    given back, the refund failed, the event; the order is as it was."""
    uow.merchant_refunds.add_refunded(refund.payment_transaction_id, -refund.amount)
    uow.merchant_refunds.fail(refund.id, reason=reason, now=now)
    order = uow.pay_orders.get(refund.order_id) if refund.order_id is not None else None
    _emit(uow, refund, "refund.failed", order, now)


def _emit(
    uow: UnitOfWork, refund: Pending, event: str, order: PayOrderRow | None, now: datetime
) -> None:
    row = uow.merchant_refunds.get(refund.merchant_id, refund.public_id)
    assert row is not None  # locked above
    body = refund_snapshot(row)
    webhooks.emit(
        uow,
        refund.merchant_id,
        event,
        {"object": "refund", **body, "order": order_snapshot(order) if order else None},
        object_id=f"payment:{body['payment']}",
        now=now,
    )
