"""Requests to pay: a merchant asks a PayTrace user, by phone, to pay one of its pay
orders. The payer gets an SMS, and the request is the first screen of their next dial
(app/ussd/pay/requests.py): pay it with the PIN, which pays the order through the very
service paying by code uses (merchant_payments.payments), or decline it.

A request lives with its order: `orders.mark_paid` approves it (its payer paid) or
cancels it (somebody else did), `orders.cancel` cancels it, `orders.expire_due` expires
it; a pending request past its order's time reads as expired before the worker writes
it. Only a registered user can be asked: PayTrace does not send an SMS to a stranger on
a merchant's word (that would make PayTrace's sender name a merchant's spam channel),
so a phone that is no user is `422 payer_not_registered` and the merchant gives that
person the order's code (payable from M-Pesa and Stellar when those are built).
"""

from __future__ import annotations

from datetime import datetime

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as order_rules
from app.domain.money import format_kes
from app.domain.phone import InvalidPhone, normalise
from app.domain.records.pay_orders import snapshot as order_snapshot
from app.domain.records.pay_requests import PayRequestRow, PendingPayRequest, snapshot
from app.errors import (
    OrderAlreadyRequested,
    OrderNotFound,
    OrderNotPayable,
    PayerNotRegistered,
    PayRequestNotPending,
    refused,
)
from app.services import webhooks
from app.services.ledger import request_hash, sms_time
from app.services.merchant_idempotency import Answer, answer_once
from app.services.merchant_payments.tills import order_label
from app.services.notifications import queue_sms


def ask(
    uow: UnitOfWork,
    merchant_id: int,
    order_id: int,
    idempotency_key: str,
    phone: str,
    now: datetime,
    *,
    shortcode: str,
) -> Answer:
    """Ask the user at `phone` to pay the merchant's order (201 with the request; an SMS
    to them in the same transaction); commits. The same key and phone again answer the
    same request. Raises ValidationFailed ('invalid_phone', 'invalid_idempotency_key'),
    PayerNotRegistered, OrderNotFound, OrderNotPayable ('order_paid', 'order_expired',
    'order_canceled'), OrderAlreadyRequested, IdempotencyConflict, ServiceUnavailable."""
    try:
        e164 = normalise(phone)
    except InvalidPhone:
        raise refused("invalid_phone", "phone: a mobile number, e.g. 0712345678") from None
    fingerprint = request_hash(kind="pay_request", order_id=order_id, phone=e164)

    def effect() -> tuple[int, dict]:
        # The order's row first, as every change of an order: a payment or a cancel
        # racing this request queues behind it (or it behind them).
        order = uow.pay_orders.get(order_id, for_update=True)
        if order is None or order.merchant_id != merchant_id:
            raise OrderNotFound("no such order")
        problem = order_rules.payable_problem(order.status, order.expires_at, now)
        if problem is not None:
            raise OrderNotPayable(problem)
        payer = uow.users.get_by_phone(e164)
        if payer is None:
            raise PayerNotRegistered(
                "this phone is not a PayTrace user: give them the order's code instead"
            )
        merchant = uow.merchants.get(merchant_id)
        assert merchant is not None  # the signed caller
        request = uow.pay_requests.insert(
            order_id=order.id,
            merchant_id=merchant_id,
            payer_user_id=payer.id,
            phone=e164,
            created_at=now,
            expires_at=order.expires_at,
        )
        if request is None:
            raise OrderAlreadyRequested("this order has a pending request to pay")
        queue_sms(
            uow,
            to=e164,
            template="pay_request",
            language=payer.language,
            dedupe_key=f"pay_request:{request.id}",
            name=merchant.display_name,
            amount=format_kes(order.amount),
            label=order_label(order),
            shortcode=shortcode,
            until=sms_time(order.expires_at),
        )
        return 201, snapshot(request)

    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def for_order(
    uow: UnitOfWork, merchant_id: int, order_id: int, now: datetime
) -> list[PayRequestRow]:
    """The merchant's order's requests to pay, newest first, as they are at `now`.
    Raises OrderNotFound (another merchant's order too), ServiceUnavailable."""
    with uow:
        order = uow.pay_orders.get(order_id)
        if order is None or order.merchant_id != merchant_id:
            raise OrderNotFound("no such order")
        found = uow.pay_requests.for_order(order_id)
    return [request.shown(now) for request in found]


def pending_for(uow: UnitOfWork, payer_user_id: int, now: datetime) -> PendingPayRequest | None:
    """The payer's newest request they can still pay at `now`, or None; reads only."""
    with uow:
        return uow.pay_requests.pending_for(payer_user_id, now)


def decline(uow: UnitOfWork, payer_user_id: int, request_id: int, now: datetime) -> PayRequestRow:
    """The payer declines a request to pay: declined, and the merchant's endpoints get
    `payment_request.declined` (the request and its order), in one transaction; commits.
    Raises PayRequestNotPending (approved, declined, canceled, expired, or not theirs)."""
    with uow:
        request = uow.pay_requests.get(request_id)
        if request is None or request.payer_user_id != payer_user_id:
            raise PayRequestNotPending("no such request to pay")
        # The order's row first, then the request's: the lock order of paying it.
        order = uow.pay_orders.get(request.order_id, for_update=True)
        assert order is not None  # orders are never deleted
        declined = uow.pay_requests.decline(request_id, now)
        if declined is None:
            raise PayRequestNotPending("this request to pay is no longer pending")
        webhooks.emit(
            uow,
            declined.merchant_id,
            "payment_request.declined",
            {
                "object": "payment_request",
                **snapshot(declined),
                "order": order_snapshot(order.shown(now)),
            },
            now=now,
        )
        uow.commit()
    return declined
