"""A merchant has a pay order paid from a customer's phone: an STK push for the order's
exact amount, its code as AccountReference.

The order is not reserved while the prompt is out: whoever pays first pays the order,
and an M-Pesa payment that comes second is owed back and reversed (order_returns.py),
never kept. The push's callback is a hint like any other: a paid one (its receipt, the
amount and phone asked) is recorded as the order's M-Pesa payment, `confirming`, and
goes the paybill payment's way - M-Pesa is asked (transaction status by the receipt)
before the order is paid (order_payment_results.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as order_rules
from app.domain.mpesa import NotWholeShillings, msisdn, same_phone, shillings
from app.domain.phone import InvalidPhone, normalise
from app.domain.records.mpesa import OrderPush
from app.errors import OrderNotFound, OrderNotPayable, refused
from app.integrations.daraja_payloads import MalformedPayload, parse_stk_callback, read_json
from app.services.ledger import request_hash
from app.services.merchant_idempotency import Answer, answer_once
from app.services.mpesa import order_payment_results

log = logging.getLogger("paytrace.mpesa")

PUSH = "mpesa_order_stk"


def snapshot(push: OrderPush) -> dict:
    """A push as the merchant API shows it."""
    return {
        "object": "mpesa_push",
        "id": push.id,
        "order_id": push.order_id,
        "phone": push.phone,
        "amount": push.amount,
        "status": push.status,
        "created_at": push.created_at.isoformat(),
    }


def start(
    uow: UnitOfWork, merchant_id: int, order_id: int, phone: str, key: str, now: datetime
) -> Answer:
    """Prompt `phone` to pay the merchant's order (202 with the push); commits. The same
    key and request again answer the same push. Raises ValidationFailed
    ('invalid_phone': not a Kenyan mobile number; 'invalid_amount': an amount M-Pesa
    cannot move, with cents), OrderNotFound, OrderNotPayable, IdempotencyConflict,
    ServiceUnavailable."""
    try:
        e164 = normalise(phone)
        digits = msisdn(e164)
    except InvalidPhone:
        raise refused("invalid_phone", "a Kenyan mobile number, e.g. 0712345678") from None
    fingerprint = request_hash(kind="order_mpesa_push", order=order_id, phone=e164)

    def effect() -> tuple[int, dict]:
        order = uow.pay_orders.get(order_id, for_update=True)
        if order is None or order.merchant_id != merchant_id:
            raise OrderNotFound("no such order")
        problem = order_rules.payable_problem(order.status, order.expires_at, now)
        if problem is not None:
            raise OrderNotPayable(problem)
        if uow.order_pushes.payment_in_progress(order.id, now - order_rules.PAYMENT_HOLD):
            raise OrderNotPayable(order_rules.IN_PROGRESS)  # one prompt at a time
        try:
            kes = shillings(order.amount)
        except NotWholeShillings:
            raise refused("invalid_amount", "M-Pesa moves whole shillings only") from None
        push = uow.order_pushes.add(order_id=order.id, phone=e164, amount=order.amount, now=now)
        uow.outbox.add(
            kind=PUSH,
            payload={"push_id": push.id, "phone": digits, "amount": kes, "code": order.code},
            dedupe_key=f"mpesa:order_stk:{push.id}",
        )
        return 202, snapshot(push)

    return answer_once(uow, merchant_id, key, fingerprint, effect)


def push_sent(
    uow: UnitOfWork, push_id: int, checkout_request_id: str, *, check_at: datetime
) -> None:
    """In the outbox worker's transaction: M-Pesa prompted the phone; with no callback
    by check_at, the checker asks (STK query)."""
    uow.order_pushes.sent(push_id, checkout_request_id, check_at)


def claim_due(uow: UnitOfWork, *, now: datetime, lease_s: float, limit: int) -> list[OrderPush]:
    """Pushes with no callback whose STK query is due, each leased for lease_s; commits."""
    with uow:
        claimed = uow.order_pushes.claim_due(now, now + timedelta(seconds=lease_s), limit)
        uow.commit()
    return claimed


def settle_by_query(
    uow: UnitOfWork, push_id: int, *, result_code: str, result_desc: str, now: datetime
) -> str:
    """A push whose callback never came, settled on M-Pesa's answer to PayTrace's STK
    query (as a deposit is): not paid → failed; paid → the order paid with it, or owed
    back and held for an operator (the query gives no receipt to reverse by). Commits;
    returns failed, paid, review or duplicate (a callback came first)."""
    with uow:
        found = uow.order_pushes.get(push_id)
        assert found is not None
        # The order's row before the push's, the payment's and the accounts.
        order = uow.pay_orders.get(found.order_id, for_update=True)
        push = uow.order_pushes.get(push_id, for_update=True)
        assert push is not None and order is not None
        if push.status != "pending":
            return "duplicate"
        if result_code != "0":
            uow.order_pushes.finish(push.id, status="failed", code=result_code, desc=result_desc)
            uow.commit()
            return "failed"
        payment = uow.order_payments.add(
            # No receipt: the CheckoutRequestID stands in for it (reconciliation matches by it).
            trans_id=push.checkout_request_id or f"push:{push.id}",
            bill_ref=order.code,
            amount=push.amount,
            msisdn=push.phone.removeprefix("+"),
            payer_name=None,
            order_id=order.id,
            received_at=now,
            source="stk",
        )
        assert payment is not None  # the push was pending: never recorded before
        verdict, _ = order_payment_results.pay_or_return(uow, payment, order, now, reversible=False)
        uow.order_pushes.finish(push.id, status="answered", code="0", desc="by STK query")
        uow.commit()
    log.info("order push settled by query", extra={"push": push_id, "outcome": verdict})
    return verdict


def push_not_sent(uow: UnitOfWork, push_id: int, *, reason: str, unknown: bool) -> None:
    """In the outbox worker's transaction: refused (failed) or its answer lost (unknown:
    PayTrace never learnt its CheckoutRequestID, so its callback matches nothing; a
    customer who paid anyway is found by an operator from the callback log)."""
    status = "unknown" if unknown else "failed"
    uow.order_pushes.finish(push_id, status=status, code=None, desc=reason)


def callback(uow: UnitOfWork, callback_id: int, body: bytes, *, now: datetime) -> str:
    """An order push's STK callback, stored: a paid one with its receipt, the amount and
    phone asked is recorded as the order's M-Pesa payment (to be confirmed with M-Pesa);
    nothing moves. Commits; returns the callback's outcome: confirming, failed,
    duplicate, unknown_request, missing_metadata, amount_mismatch, phone_mismatch or
    malformed."""
    with uow:
        try:
            outcome = parse_stk_callback(read_json(body))
        except MalformedPayload as exc:
            uow.callbacks.set_outcome(callback_id, "malformed", str(exc))
            uow.commit()
            return "malformed"
        push = uow.order_pushes.lock_by_checkout(outcome.checkout_request_id)
        verdict, detail = _judge(uow, push, outcome, now)
        uow.callbacks.set_outcome(
            callback_id, verdict, detail, reference=outcome.checkout_request_id
        )
        uow.commit()
    log.info("order push callback", extra={"push": push.id if push else None, "outcome": verdict})
    return verdict


def _judge(uow: UnitOfWork, push: OrderPush | None, outcome, now: datetime) -> tuple[str, str]:
    if push is None:
        return "unknown_request", "no order push has this CheckoutRequestID"
    if push.status != "pending":
        return "duplicate", f"the push is already {push.status}"
    if not outcome.paid:
        desc = outcome.result_desc or outcome.result_code
        uow.order_pushes.finish(push.id, status="failed", code=outcome.result_code, desc=desc)
        return "failed", f"ResultCode {outcome.result_code}"
    if outcome.receipt is None or outcome.amount is None or outcome.phone is None:
        return "missing_metadata", "a paid callback without its receipt, amount or phone"
    if outcome.amount != push.amount:
        return "amount_mismatch", f"paid {outcome.amount} cents, asked {push.amount}"
    if not same_phone(outcome.phone, push.phone):
        return "phone_mismatch", "paid from another phone than the one asked"
    order = uow.pay_orders.get(push.order_id)
    assert order is not None  # referenced by the push
    uow.order_payments.add(
        trans_id=outcome.receipt,
        bill_ref=order.code,
        amount=push.amount,
        msisdn=push.phone.removeprefix("+"),
        payer_name=None,
        order_id=order.id,
        received_at=now,
        source="stk",
    )
    uow.order_pushes.finish(push.id, status="answered", code="0", desc=outcome.receipt)
    return "confirming", f"M-Pesa is asked to confirm {outcome.receipt}"
