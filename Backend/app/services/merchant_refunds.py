"""Refunds of payments to a merchant's till: objects of their own, full or partial, never
more than was paid, each its own journal transaction (the merchant's account back to the
payer's wallet).

A refund is asked through the merchant API under an Idempotency-Key (the same key and
request answer the same refund). One transaction locks the payer's wallet and the
merchant's account (lock order, as every movement), then the payment's row, reads what is
left to refund, posts `merchant_refund`, counts it on the payment (a CHECK refuses more
than was paid, whatever the code) and records the refund, with an SMS to the payer. A
payment of a pay order first takes the order's row, before any account (the lock order
of paying it), and moves the order to partially_refunded or refunded in the same
transaction. The merchant's fee on the payment is not returned: it paid for the payment
that happened. The merchant's account is never taken below zero: a refund larger than
it holds is refused. A refund drawn from a wallet succeeds in the transaction that asks
for it. A pay order paid from M-Pesa (its payment listed with no wallet payer) is
refunded back through M-Pesa (services/mpesa/order_refunds.py): `pending` from the
transaction that holds it until M-Pesa's answer, then `succeeded` or `failed`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from app.db.repositories.ledger import Overdraft
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.domain.records.merchants import (
    MerchantRow,
    RefundablePayment,
    RefundRow,
    refund_snapshot,
)
from app.domain.records.pay_orders import snapshot as order_snapshot
from app.errors import NotFound, NotRefundable, PaymentNotFound, RefundNotFound, refused
from app.services import merchant_accounts, orders, webhooks
from app.services import rail_refunds as rail
from app.services import stellar_order_refunds as stellar_refunds
from app.services.ledger import check_amount, request_hash, sms_time, with_fresh_reference
from app.services.merchant_idempotency import Answer, answer_once
from app.services.mpesa import order_refunds as mpesa_refunds
from app.services.notifications import journal_sms_key, sms_message
from app.services.transfers import MAX_TRANSFER

REASON_MAX = 100
# How long a B2C refund's result is awaited before M-Pesa is asked (the API passes the
# setting MPESA_RESULT_WAIT_S).
DEFAULT_RESULT_WAIT_S = 300.0
_PUBLIC_ID = "re_"


@dataclass(frozen=True, slots=True)
class RefundAsk:
    payment_reference: str  # the payment's journal reference, as in both SMS
    amount: int | None  # cents; None: all that is left of the payment
    reason: str | None = None


def new_public_id() -> str:
    return _PUBLIC_ID + secrets.token_hex(12)


def is_public_id(value: str) -> bool:
    rest = value.removeprefix(_PUBLIC_ID)
    return (
        value.startswith(_PUBLIC_ID)
        and len(rest) == 24
        and all(c in "0123456789abcdef" for c in rest)
    )


def _checked(ask: RefundAsk) -> RefundAsk:
    if ask.amount is not None:
        check_amount(ask.amount, maximum=MAX_TRANSFER)
    reference = ask.payment_reference.strip()
    if not reference or len(reference) > 32 or not reference.isalnum():
        raise refused("invalid_payment", "payment: the payment's reference, as in its SMS")
    reason = ask.reason.strip() if ask.reason is not None else None
    if reason is not None and (not 1 <= len(reason) <= REASON_MAX or not reason.isprintable()):
        raise refused("invalid_reason", f"reason: 1 to {REASON_MAX} printable characters")
    return RefundAsk(reference.upper(), ask.amount, reason)


def snapshot(refund: RefundRow) -> dict[str, object]:
    """The refund as the merchant API answers it (and as a replay repeats it)."""
    return refund_snapshot(refund)


def refund(
    uow: UnitOfWork,
    merchant_id: int,
    idempotency_key: str,
    ask: RefundAsk,
    now: datetime,
    *,
    result_wait_s: float = DEFAULT_RESULT_WAIT_S,
) -> Answer:
    """Refund (part of) a payment to the merchant's till (201 with the refund: succeeded
    from a wallet, pending through a rail); commits. `result_wait_s`: how long a B2C
    refund's result is awaited before M-Pesa is asked. Raises ValidationFailed
    ('invalid_amount', 'invalid_payment', 'invalid_reason', 'invalid_idempotency_key',
    'not_an_mpesa_number'), PaymentNotFound, NotRefundable ('payment_reversed',
    'payment_fully_refunded', 'exceeds_refundable', 'insufficient_merchant_balance',
    'refund_through_rail_unavailable': no phone M-Pesa can pay back), IdempotencyConflict,
    ServiceUnavailable."""
    a = _checked(ask)
    fingerprint = request_hash(
        kind="merchant_refund", payment=a.payment_reference, amount=a.amount, reason=a.reason
    )
    return with_fresh_reference(
        lambda: answer_once(
            uow,
            merchant_id,
            idempotency_key,
            fingerprint,
            lambda: _refund(uow, merchant_id, a, now, result_wait_s),
        )
    )


def _refund(
    uow: UnitOfWork, merchant_id: int, a: RefundAsk, now: datetime, result_wait_s: float
) -> tuple[int, dict]:
    """The refund's effect, inside answer_once's transaction."""
    found = uow.merchant_refunds.payment(merchant_id, a.payment_reference)
    merchant = uow.merchants.get(merchant_id)
    if found is None or merchant is None:
        raise PaymentNotFound("no payment to this merchant has this reference")
    # A payment of a pay order: the order's row FIRST, then the accounts, the lock order
    # of paying it; refunds of one order queue here holding no account lock.
    if found.order_id is not None:
        orders.lock_refundable(uow, found.order_id)
    if found.payer_user_id is None:
        # Paid from M-Pesa or Stellar: paid back through that rail, never to a wallet
        # the payer may not have.
        return _through_rail(uow, merchant, a, now, result_wait_s)
    till, others = merchant_accounts.lock(uow, merchant, user_ids=[found.payer_user_id])
    wallet = next((acc for acc in others if acc.user_id == found.payer_user_id), None)
    if wallet is None or wallet.phone is None:
        raise NotFound("the payer's wallet is gone")
    # Read again under the locks: a concurrent refund of this payment has committed or
    # waits behind us.
    payment = uow.merchant_refunds.payment(merchant_id, a.payment_reference, for_update=True)
    assert payment is not None
    amount = _refundable(payment, a)
    if till.balance < amount:
        raise NotRefundable(
            "insufficient_merchant_balance",
            f"the merchant's account holds KES {format_kes(till.balance)}",
        )
    public_id = new_public_id()
    reference = new_reference()
    balance = wallet.balance + amount
    try:
        tx_id = uow.ledger.post(
            reference=reference,
            kind="merchant_refund",
            amount=amount,
            fee=0,
            idempotency_key=f"merchant_refund:{merchant_id}:{public_id}",
            request_hash=request_hash(kind="merchant_refund", refund=public_id),
            legs=[*till.draw(amount), (wallet.id, amount)],
            channel="api",
            created_at=now,
            note=f"refund from {merchant.display_name} (till {merchant.till_number})",
            messages=(
                sms_message(
                    to=wallet.phone,
                    template="merchant_refunded",
                    language=wallet.language or "en",
                    dedupe_key=journal_sms_key(reference, found.payer_user_id),
                    reference=reference,
                    amount=format_kes(amount),
                    name=merchant.display_name,
                    payment=payment.reference,
                    when=sms_time(now),
                    balance=format_kes(balance),
                ),
            ),
        )
    except Overdraft:  # unreachable under the account's lock; the CHECK is the backstop
        raise NotRefundable(
            "insufficient_merchant_balance", "the merchant's account holds less than this"
        ) from None
    uow.merchant_refunds.add_refunded(payment.transaction_id, amount)
    uow.merchant_refunds.insert_succeeded(
        public_id=public_id,
        merchant_id=merchant_id,
        payment_transaction_id=payment.transaction_id,
        amount=amount,
        reason=a.reason,
        refund_transaction_id=tx_id,
        now=now,
    )
    order = (
        orders.mark_refunded(uow, found.order_id, amount, now)
        if found.order_id is not None
        else None
    )
    row = uow.merchant_refunds.get(merchant_id, public_id)
    assert row is not None  # read in the transaction that wrote it
    body = snapshot(row)
    # The event exists exactly when the refund does; ordered behind the payment's others.
    # A payment of a pay order carries the order as this refund left it.
    webhooks.emit(
        uow,
        merchant_id,
        "refund.succeeded",
        {"object": "refund", **body, "order": order_snapshot(order) if order else None},
        object_id=f"payment:{payment.reference}",
        now=now,
    )
    return 201, body


def _through_rail(
    uow: UnitOfWork, merchant: MerchantRow, a: RefundAsk, now: datetime, result_wait_s: float
) -> tuple[int, dict]:
    """A refund of an order paid from M-Pesa or Stellar (its order's row held): the
    merchant's account locked, then the payment's row; pending until the rail answers."""
    on_mpesa = uow.merchant_refunds.payment(merchant.id, a.payment_reference).channel == rail.MPESA
    lock = mpesa_refunds.lock_merchant if on_mpesa else stellar_refunds.lock_merchant
    account, hold = lock(uow, merchant)
    payment = uow.merchant_refunds.payment(merchant.id, a.payment_reference, for_update=True)
    assert payment is not None
    amount = _refundable(payment, a)
    asked = rail.Asked(new_public_id(), merchant, payment, amount, a.reason)
    if on_mpesa:
        phone = mpesa_refunds.mpesa_phone(uow, payment)
        mpesa_refunds.hold_mpesa(
            uow, asked, account, hold, phone=phone, result_wait_s=result_wait_s, now=now
        )
    else:
        stellar_refunds.hold_stellar(uow, asked, account, hold, now=now)
    row = uow.merchant_refunds.get(merchant.id, asked.public_id)
    assert row is not None  # read in the transaction that wrote it
    return 201, snapshot(row)


def _refundable(payment: RefundablePayment, a: RefundAsk) -> int:
    """How much this refund takes of the payment, read under its row's lock (after
    every refund asked before it, pending ones included). Raises NotRefundable."""
    if payment.reversed:
        raise NotRefundable(
            "payment_reversed", "an operator reversed this payment: its money is back"
        )
    left = payment.amount - payment.refunded_amount
    if left == 0:
        raise NotRefundable("payment_fully_refunded", "this payment is refunded in full")
    amount = left if a.amount is None else a.amount
    if amount > left:
        raise NotRefundable(
            "exceeds_refundable", f"at most KES {format_kes(left)} is left to refund of it"
        )
    return amount


def get(uow: UnitOfWork, merchant_id: int, public_id: str) -> RefundRow:
    """The merchant's refund; raises RefundNotFound (another merchant's too)."""
    if not is_public_id(public_id):
        raise RefundNotFound("no such refund")
    with uow:
        found = uow.merchant_refunds.get(merchant_id, public_id)
    if found is None:
        raise RefundNotFound("no such refund")
    return found
