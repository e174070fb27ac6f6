"""How a pay order's M-Pesa payment ends, on M-Pesa's own answer to PayTrace's status
query (never on the confirmation's word): paid with its order, owed back and returned
(order_returns.py), not found, or held for an operator.

Under one transaction, in the lock order every order payment keeps: the status query's
row, the order's row, the payment's row, then the ledger accounts (float, merchant,
fee shard) in the lock order. A wallet payer of the same order queues on the order's row, so
the order is paid once: whoever commits second finds it paid (a USSD payer is refused;
this payment is owed back and reversed - never kept).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as order_rules
from app.domain.money import format_kes, new_reference
from app.domain.phone import mask
from app.domain.records.merchants import MerchantRow
from app.domain.records.mpesa import OrderPayment
from app.domain.records.pay_orders import PayOrderRow
from app.errors import PayTraceError
from app.integrations.daraja_payloads import PaymentOutcome, Verdict
from app.services import merchant_accounts, orders
from app.services.ledger import request_hash, sms_time, with_fresh_reference
from app.services.merchant_payments import rail_payments
from app.services.merchant_payments.tills import merchant_fee, order_label, payable
from app.services.mpesa import order_returns
from app.services.mpesa.order_returns import owe_back, payer_phone
from app.services.mpesa.payouts import CheckPolicy
from app.services.notifications import sms_message
from app.services.transfers import fees_shard

log = logging.getLogger("paytrace.mpesa")

SERIOUS = ("review",)


def answers(uow: UnitOfWork, query_conversation_id: str | None) -> bool:
    """Whether a status answer is about an order payment (its query asked about one)."""
    with uow:
        query = uow.status_queries.find(query_conversation_id or "")
    return query is not None and query.order_payment_id is not None


def settle(
    uow: UnitOfWork,
    outcome: PaymentOutcome,
    *,
    policy: CheckPolicy,
    callback_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Apply M-Pesa's answer about an order payment; commits, with the callback's outcome
    when one is given. Returns it: paid, not_found (finally, or asked again),
    check_scheduled, returning (the order cannot take the money: it goes back), returned,
    review (M-Pesa disagrees with the confirmation, or a return failed), mismatch,
    duplicate or unknown_request."""
    now = now or datetime.now(UTC)
    return with_fresh_reference(lambda: _settle_once(uow, outcome, policy, callback_id, now))


def _settle_once(
    uow: UnitOfWork,
    outcome: PaymentOutcome,
    policy: CheckPolicy,
    callback_id: int | None,
    now: datetime,
) -> str:
    with uow:
        query = uow.status_queries.lock(outcome.query_conversation_id or "")
        payment = None
        if query is None or query.order_payment_id is None:
            verdict, detail = "unknown_request", "PayTrace asked no status query with this id"
        elif query.answered_at is not None:
            verdict, detail = "duplicate", f"this query was answered already ({query.outcome})"
        else:
            found = uow.order_payments.get(query.order_payment_id)
            assert found is not None  # referenced by the query
            # The order's row before the payment's and the accounts (module docstring).
            order = uow.pay_orders.get(found.order_id, for_update=True) if found.order_id else None
            payment = uow.order_payments.get(found.id, for_update=True)
            assert payment is not None
            verdict, detail = _apply(uow, payment, order, outcome, policy, now)
            uow.status_queries.answered(query.id, verdict)
        if callback_id is not None:
            reference = payment.trans_id if payment else outcome.query_conversation_id
            uow.callbacks.set_outcome(callback_id, verdict, detail, reference=reference)
        uow.commit()
    log.log(
        logging.ERROR if verdict in SERIOUS else logging.INFO,
        "order payment result",
        extra={
            "trans_id": payment.trans_id if payment else None,
            "outcome": verdict,
            "detail": detail,
        },
    )
    return verdict


def _apply(
    uow: UnitOfWork,
    payment: OrderPayment,
    order: PayOrderRow | None,
    outcome: PaymentOutcome,
    policy: CheckPolicy,
    now: datetime,
) -> tuple[str, str]:
    later = timedelta(seconds=policy.status_interval_s)
    if payment.status == "returning":
        return order_returns.settle_return(
            uow,
            payment,
            outcome,
            not_found_limit=policy.release_after_not_found,
            interval=later,
            now=now,
        )
    if payment.status != "confirming":
        return "duplicate", f"the payment is already {payment.status}"
    verdict = outcome.verdict
    if verdict is Verdict.PAID:
        return _paid(uow, payment, order, outcome, now)
    if verdict is Verdict.FAILED:
        uow.order_payments.finish(payment.id, status="not_found", desc="M-Pesa: failed", now=now)
        return "not_found", "M-Pesa says the payment failed: nothing arrived"
    if verdict is Verdict.UNKNOWN:
        uow.order_payments.check_at(payment.id, now + later)
        return "check_scheduled", f"ResultCode {outcome.result_code}"
    answers_ = payment.not_found + 1
    if answers_ >= policy.release_after_not_found:
        # A confirmation M-Pesa never heard of (forged, or for another paybill).
        desc = f"M-Pesa found no such payment ({answers_} times)"
        uow.order_payments.finish(payment.id, status="not_found", desc=desc, now=now)
        return "not_found", desc
    uow.order_payments.check_at(payment.id, now + later, not_found=True)
    return "not_found", f"{answers_} of {policy.release_after_not_found} answers: asked again"


def _paid(
    uow: UnitOfWork,
    payment: OrderPayment,
    order: PayOrderRow | None,
    outcome: PaymentOutcome,
    now: datetime,
) -> tuple[str, str]:
    if outcome.receipt != payment.trans_id or outcome.amount != payment.amount:
        desc = f"M-Pesa says {outcome.receipt} paid {outcome.amount} cents"
        return _review(uow, payment, f"{desc}: not what the confirmation said", now)
    if uow.deposits.has_receipt(payment.trans_id):
        # Credited to a wallet as a deposit since its confirmation was recorded (the
        # confirmation refuses one already known): the money is counted once, there.
        return _review(uow, payment, f"{payment.trans_id} is a deposit's receipt", now)
    return pay_or_return(uow, payment, order, now)


def pay_or_return(
    uow: UnitOfWork,
    payment: OrderPayment,
    order: PayOrderRow | None,
    now: datetime,
    *,
    reversible: bool = True,
) -> tuple[str, str]:
    """M-Pesa has the money (it said so to PayTrace's own question): pay the order with
    it, or owe it back - reversed with M-Pesa, or (`reversible=False`: no receipt known
    to reverse by) held for an operator. In the caller's transaction, the order's row
    and then the payment's locked."""

    def back(reason: str) -> tuple[str, str]:
        return owe_back(uow, payment, reason, now, reverse=reversible)

    if order is None:
        return back(f"no order has the code {payment.bill_ref!r}")
    # Paid when M-Pesa confirmed it, not when its answer came back.
    paid_at = payment.received_at
    problem = order_rules.payable_problem(order.status, order.expires_at, paid_at)
    if problem is not None:
        return back(f"order {order.code} is {problem}")
    if payment.amount != order.amount:
        return back(f"paid {payment.amount} cents, order {order.code} is {order.amount}")
    merchant = uow.merchants.get(order.merchant_id)
    try:
        payable(merchant)
    except PayTraceError as exc:
        return back(f"the merchant takes no payments: {exc.code}")
    assert merchant is not None
    tx_id = _credit(uow, payment, order, merchant, paid_at)
    orders.mark_paid(uow, order.id, tx_id, payment.amount, paid_at)
    rail_payments.record(
        uow,
        transaction_id=tx_id,
        order=order,
        merchant=merchant,
        channel=rail_payments.MPESA,
        payer=rail_payments.mpesa_payer(
            payment.trans_id, payer_phone(payment.msisdn), payment.payer_name
        ),
        paid_at=paid_at,
    )
    uow.order_payments.finish(
        payment.id,
        status="paid",
        desc=f"order {order.code}",
        now=now,
        order_id=order.id,
        transaction_id=tx_id,
    )
    return "paid", f"order {order.code}"


def _review(uow: UnitOfWork, payment: OrderPayment, desc: str, now: datetime) -> tuple[str, str]:
    uow.order_payments.finish(payment.id, status="review", desc=desc, now=now)
    return "review", desc


def _credit(
    uow: UnitOfWork, payment: OrderPayment, order: PayOrderRow, merchant: MerchantRow, now: datetime
) -> int:
    """The float to the merchant's account (shard 0), the merchant's fee to PayTrace; SMS to the
    merchant and (when M-Pesa gave a whole number) the payer."""
    fee_code = fees_shard(merchant.id)
    # The money goes to shard 0, the only one of the merchant's accounts locked here.
    locked = uow.ledger.accounts(account_ids=[merchant.account_id], codes=["mpesa_float", fee_code])
    till = next(a for a in locked if a.id == merchant.account_id)
    float_id = next(a.id for a in locked if a.code == "mpesa_float")
    fees_id = next(a.id for a in locked if a.code == fee_code)
    amount = payment.amount
    fee = merchant_fee(merchant.fee, amount)
    legs = [(float_id, -amount), (till.id, amount)]
    if fee:
        legs += [(till.id, -fee), (fees_id, fee)]
    reference = new_reference()
    common = {"reference": reference, "amount": format_kes(amount), "when": sms_time(now)}
    payer = payer_phone(payment.msisdn)
    named = ", ".join(p for p in (order.description, order.merchant_reference) if p)
    messages = [
        sms_message(
            to=merchant.contact_phone,
            template="merchant_order_payment_received",
            language=merchant.language,
            dedupe_key=f"journal:{reference}:merchant:{merchant.id}",
            code=order.code,
            order=f" ({named})" if named else "",
            payer=payment.payer_name or "M-Pesa",
            phone=mask(payer) if payer else "",
            till=merchant.till_number,
            fee=format_kes(fee),
            balance=format_kes(merchant_accounts.held(uow, merchant) + amount - fee),
            **common,
        )
    ]
    if payer:
        messages.append(
            sms_message(
                to=payer,
                template="mpesa_order_paid",
                language="en",
                dedupe_key=f"journal:{reference}:payer",
                receipt=payment.trans_id,
                order=order_label(order),
                name=merchant.display_name,
                **common,
            )
        )
    return uow.ledger.post(
        reference=reference,
        kind="mpesa_order_payment",
        amount=amount,
        fee=fee,
        idempotency_key=f"mpesa_order_payment:{payment.id}",
        request_hash=request_hash(kind="mpesa_order_payment", payment=payment.id),
        legs=legs,
        channel="system",
        created_at=now,
        note=f"{merchant.display_name} (order {order.code}) M-Pesa {payment.trans_id}"[:100],
        messages=tuple(messages),
    )
