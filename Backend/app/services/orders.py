"""Pay orders: a merchant creates, reads, lists and cancels them (the merchant API); the
payer's side locks one by its code and marks it paid inside its own movement; the worker
expires the overdue. An order's request to pay (pay_requests.py) follows it in the same
transaction.

States move one way (app/domain/pay_orders.py; the database's trigger refuses the rest).
An order past its time is shown as expired on every read before the worker writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as rules
from app.domain.records.pay_orders import OrderFilter, PayOrderRow, snapshot
from app.errors import (
    NotRefundable,
    OrderNotCancelable,
    OrderNotFound,
    OrderNotPayable,
    ServiceUnavailable,
    WrongOrderAmount,
    refused,
)
from app.services import webhooks
from app.services.ledger import request_hash
from app.services.merchant_idempotency import Answer, answer_once

PAGE_MAX = 200
EXPIRE_BATCH = 500
# 9,000,000 codes: a clash with a live order is rare, a handful of draws makes failure absurd.
_CODE_DRAWS = 8


@dataclass(frozen=True, slots=True)
class Draft:
    """An order as a merchant asks for it."""

    amount: int  # cents
    merchant_reference: str | None = None
    description: str | None = None
    expires_in_minutes: int = rules.EXPIRY_DEFAULT_MINUTES


def checked(draft: Draft) -> Draft:
    """The draft, or ValidationFailed ('invalid_amount', 'invalid_expiry',
    'invalid_description', 'invalid_reference')."""
    problem = rules.amount_problem(draft.amount)
    if problem is not None:
        raise refused("invalid_amount", problem)
    problem = rules.expiry_problem(draft.expires_in_minutes)
    if problem is not None:
        raise refused("invalid_expiry", problem)
    if draft.description is not None:
        problem = rules.description_problem(draft.description)
        if problem is not None:
            raise refused("invalid_description", f"description: {problem}")
    if draft.merchant_reference is not None:
        problem = rules.reference_problem(draft.merchant_reference)
        if problem is not None:
            raise refused("invalid_reference", f"merchant_reference: {problem}")
    return draft


def create(
    uow: UnitOfWork, merchant_id: int, idempotency_key: str, draft: Draft, now: datetime
) -> Answer:
    """A new order awaiting payment, with its code (201); commits. The same key and
    draft again answer the same order. Raises ValidationFailed (see `checked`,
    'invalid_idempotency_key'), IdempotencyConflict, ServiceUnavailable."""
    d = checked(draft)
    fingerprint = request_hash(
        kind="create_order",
        amount=d.amount,
        merchant_reference=d.merchant_reference,
        description=d.description,
        expires_in_minutes=d.expires_in_minutes,
    )

    def effect() -> tuple[int, dict]:
        for _ in range(_CODE_DRAWS):
            order = uow.pay_orders.insert(
                merchant_id=merchant_id,
                code=rules.new_order_code(),
                amount=d.amount,
                merchant_reference=d.merchant_reference,
                description=d.description,
                created_at=now,
                expires_at=rules.expires_at(now, d.expires_in_minutes),
            )
            if order is not None:
                return 201, snapshot(order)
        raise ServiceUnavailable("could not draw a free order code; retry")

    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def get(uow: UnitOfWork, merchant_id: int, order_id: int, now: datetime) -> PayOrderRow:
    """The merchant's order as it is at `now`. Raises OrderNotFound (another merchant's
    order too), ServiceUnavailable."""
    with uow:
        order = uow.pay_orders.get(order_id)
    if order is None or order.merchant_id != merchant_id:
        raise OrderNotFound("no such order")
    return order.shown(now)


def page(
    uow: UnitOfWork, merchant_id: int, where: OrderFilter, *, limit: int, now: datetime
) -> tuple[list[PayOrderRow], bool]:
    """One page of the merchant's orders, newest first, as they are at `now`, and whether
    more follow. Raises ValidationFailed ('invalid_status'), ValueError for a limit out
    of range, ServiceUnavailable."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    if where.status is not None and where.status not in rules.STATUSES:
        raise refused("invalid_status", f"status is one of {', '.join(rules.STATUSES)}")
    with uow:
        rows = uow.pay_orders.page(merchant_id, where, now=now, limit=limit + 1)
    return [row.shown(now) for row in rows[:limit]], len(rows) > limit


def cancel(
    uow: UnitOfWork, merchant_id: int, order_id: int, idempotency_key: str, now: datetime
) -> Answer:
    """Cancel an order awaiting payment (200 with the order); commits. A canceled order
    is answered as it is. Raises OrderNotFound, OrderNotCancelable (paid, expired or
    refunded), ValidationFailed, IdempotencyConflict, ServiceUnavailable."""
    fingerprint = request_hash(kind="cancel_order", order_id=order_id)

    def effect() -> tuple[int, dict]:
        order = uow.pay_orders.get(order_id, for_update=True)
        if order is None or order.merchant_id != merchant_id:
            raise OrderNotFound("no such order")
        shown = order.shown(now)
        if shown.status == rules.CANCELED:
            return 200, snapshot(shown)
        if shown.status != rules.AWAITING:
            raise OrderNotCancelable(f"this order is {shown.status}: it cannot be canceled")
        canceled = uow.pay_orders.cancel(order_id, now)
        if canceled is None:  # the row is locked and was awaiting payment, not overdue
            raise ServiceUnavailable("the order could not be canceled; retry")
        uow.pay_requests.cancel_for_order(order_id, now)
        body = snapshot(canceled)
        _emit(uow, "order.canceled", canceled, body, now)
        return 200, body

    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def lock_payable(uow: UnitOfWork, code: str, *, now: datetime | None = None) -> PayOrderRow:
    """The order a payer typed, its row locked FOR UPDATE until the caller's transaction
    ends; call it inside the payer's `with uow:` (it neither opens nor commits one).
    Raises ValidationFailed ('invalid_order_code': not 8 digits or a wrong check digit,
    a slip of the thumb), OrderNotFound, OrderNotPayable ('order_expired',
    'order_canceled', 'order_paid', 'order_in_progress': an M-Pesa payment of it is
    under way, try again shortly)."""
    return _payable(uow, code, now or datetime.now(UTC), for_update=True)


def find_payable(uow: UnitOfWork, code: str, *, now: datetime | None = None) -> PayOrderRow:
    """The order a payer typed, read without a lock (a quote: the payment checks it again
    under `lock_payable`); call it inside the caller's `with uow:`. Raises as
    `lock_payable`."""
    return _payable(uow, code, now or datetime.now(UTC), for_update=False)


def check_code(code: object) -> str:
    """Raises ValidationFailed ('invalid_order_code')."""
    if not isinstance(code, str) or not rules.is_order_code(code):
        raise refused("invalid_order_code", "an order code is 8 digits: check it and retry")
    return code


def _payable(uow: UnitOfWork, code: str, now: datetime, *, for_update: bool) -> PayOrderRow:
    check_code(code)
    order = uow.pay_orders.newest_by_code(code, for_update=for_update)
    if order is None:
        raise OrderNotFound("no order has this code")
    problem = rules.payable_problem(order.status, order.expires_at, now)
    if problem is not None:
        raise OrderNotPayable(problem)
    if uow.order_pushes.payment_in_progress(order.id, now - rules.PAYMENT_HOLD):
        raise OrderNotPayable(rules.IN_PROGRESS)
    return order


def mark_paid(
    uow: UnitOfWork,
    order_id: int,
    transaction_id: int,
    amount: int,
    now: datetime,
    *,
    payer_user_id: int | None = None,
) -> PayOrderRow:
    """Mark the order paid in full by the journal transaction `transaction_id`, inside the
    caller's transaction (the one that posts that movement; it neither opens nor
    commits one). Its pending request to pay is approved if `payer_user_id` was asked,
    else canceled (app/services/pay_requests.py). Raises OrderNotFound, OrderNotPayable,
    WrongOrderAmount (anything but exactly the order's amount: a partial payment is
    refused, never kept)."""
    order = uow.pay_orders.get(order_id, for_update=True)
    if order is None:
        raise OrderNotFound("no such order")
    problem = rules.payable_problem(order.status, order.expires_at, now)
    if problem is not None:
        raise OrderNotPayable(problem)
    if amount != order.amount:
        raise WrongOrderAmount(f"this order is paid with exactly {order.amount} cents")
    paid = uow.pay_orders.mark_paid(order_id, transaction_id=transaction_id, amount=amount, now=now)
    if paid is None:  # locked above and checked: only a clock going backwards lands here
        raise OrderNotPayable(rules.EXPIRED)
    uow.pay_requests.settle_paid(order_id, payer_user_id or 0, now)
    _emit(uow, "order.paid", paid, snapshot(paid), now)
    return paid


def lock_refundable(uow: UnitOfWork, order_id: int) -> PayOrderRow:
    """The paid order a refund draws on, its row locked FOR UPDATE until the caller's
    transaction ends: take it before any account (the lock order of paying it), so the
    refunds of one order queue here. Raises OrderNotFound."""
    order = uow.pay_orders.get(order_id, for_update=True)
    if order is None:
        raise OrderNotFound("no such order")
    return order


def mark_refunded(uow: UnitOfWork, order_id: int, amount: int, now: datetime) -> PayOrderRow:
    """Count `amount` more as refunded of the order's payment inside the caller's
    transaction (the refund's, holding the order's row from `lock_refundable`):
    partially_refunded, or refunded once all of it is; emits the order's event. Raises
    NotRefundable ('exceeds_refundable': more than is left of the order's payment)."""
    refunded = uow.pay_orders.add_refunded(order_id, amount, now)
    if refunded is None:  # the payment's own count refuses this first: a backstop
        raise NotRefundable("exceeds_refundable", "more than is left of the order's payment")
    event = "order.refunded" if refunded.status == rules.REFUNDED else "order.partially_refunded"
    _emit(uow, event, refunded, snapshot(refunded), now)
    return refunded


def expire_due(uow: UnitOfWork, now: datetime, batch: int = EXPIRE_BATCH) -> int:
    """Mark up to `batch` overdue orders expired; commits; returns how many. Rows being
    paid right now are skipped (their payer holds the lock) and judged next time."""
    with uow:
        expired = uow.pay_orders.expire_due(now, batch)
        uow.pay_requests.expire_for_orders(expired)  # a request expires with its order
        for order_id in expired:
            order = uow.pay_orders.get(order_id)
            assert order is not None  # written by this transaction
            _emit(uow, "order.expired", order, snapshot(order), now)
        uow.commit()
    return len(expired)


def _emit(uow: UnitOfWork, event: str, order: PayOrderRow, body: dict, now: datetime) -> None:
    """The order's event for the merchant's webhook endpoints, in this transaction: it
    exists exactly when the change does, ordered with the order's other events."""
    webhooks.emit(uow, order.merchant_id, event, {"object": "order", **body}, now=now)
