"""Refunds of pay orders paid from M-Pesa, back to the payer's phone through the B2C
core the withdrawals and the merchants' payouts share (services/mpesa/b2c.py).

Asked (merchant_refunds.refund, in its transaction, the order's row already locked):
the merchant's account and its hold shard are locked (one statement, lock order), then
the payment's row; the refund's amount and its B2C fee are held from the merchant's
account (b2c.hold: journal kind `withdrawal`, the B2C request queued in the outbox in
that transaction), counted at once against the payment's `refunded_amount` (so two
refunds at once never exceed what was paid: the second reads the first's count under
the locks, and the CHECK is the backstop) and recorded `pending` with its withdrawal.

From there the withdrawal's machinery runs unchanged: the outbox sends the B2C, a
callback only makes the checker ask M-Pesa, and only M-Pesa's status answer pays out
or releases (mpesa/payouts.py). hold_endings calls `ended` in the transaction of that
ending, after `lock_for_ending` took the order's row FIRST (before the hold shard and
the float: the lock order of asking). Paid out: the refund `succeeded` (its journal
transaction the payout), the order partially_refunded or refunded, `refund.succeeded`.
Released (M-Pesa failed it, or found no such payment): the hold back to the merchant's
account, the count given back, the refund `failed`, `refund.failed`; the order as it
was (services/rail_refunds.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.unit_of_work import UnitOfWork
from app.domain import mpesa
from app.domain.money import format_kes, nairobi_day
from app.domain.records.merchants import MerchantRow, RefundablePayment
from app.errors import NotRefundable
from app.services import merchant_accounts
from app.services.ledger import request_hash
from app.services.merchant_accounts import MerchantFunds
from app.services.mpesa import b2c
from app.services.mpesa.amounts import check_mpesa_amount
from app.services.mpesa.order_returns import payer_phone
from app.services.rail_refunds import Asked, Pending, failed, lock_pending, succeeded
from app.services.transfers import hold_shard

log = logging.getLogger("paytrace.merchants")


def lock_merchant(uow: UnitOfWork, merchant: MerchantRow) -> tuple[MerchantFunds, LockedAccount]:
    """The merchant's accounts and its hold shard, locked (one statement, lock order)."""
    funds, others = merchant_accounts.lock(uow, merchant, codes=[hold_shard(merchant.id)])
    return funds, next(a for a in others if a.kind == "mpesa_hold")


def mpesa_phone(uow: UnitOfWork, payment: RefundablePayment) -> str:
    """The E.164 number that paid the order from M-Pesa; raises NotRefundable
    ('refund_through_rail_unavailable') when M-Pesa gave none PayTrace can pay."""
    paid = uow.order_payments.by_trans_id(payment.rail_receipt or "")
    phone = payer_phone(paid.msisdn) if paid is not None else None
    if phone is None:
        raise NotRefundable(
            "refund_through_rail_unavailable",
            "M-Pesa gave no phone number this payment can be paid back to",
        )
    return phone


def check_refund_amount(amount: int) -> None:
    """Raises ValidationFailed ('invalid_amount') unless M-Pesa can pay it back (whole
    shillings, from the smallest B2C payment)."""
    check_mpesa_amount(amount, minimum=mpesa.MIN_WITHDRAWAL, what="a refund to M-Pesa")


def hold_mpesa(
    uow: UnitOfWork,
    asked: Asked,
    account: MerchantFunds,
    hold: LockedAccount,
    *,
    phone: str,
    result_wait_s: float,
    now: datetime,
) -> int:
    """Hold the refund and its B2C fee from the merchant's account, queue the B2C and
    record the refund pending, in the caller's transaction; returns the refund's id.
    Raises ValidationFailed ('invalid_amount', 'not_an_mpesa_number'), NotRefundable
    ('insufficient_merchant_balance')."""
    check_refund_amount(asked.amount)
    fee = b2c.withdrawal_fee(uow, asked.amount)  # the merchant pays the rail, as a payout
    if account.balance < asked.amount + fee:
        raise NotRefundable(
            "insufficient_merchant_balance",
            f"the merchant's account holds KES {format_kes(account.balance)}; the refund"
            f" and its M-Pesa fee need KES {format_kes(asked.amount + fee)}",
        )
    merchant = asked.merchant
    try:
        withdrawal = b2c.hold(
            uow,
            b2c.Source(account=account, hold=hold, merchant_id=merchant.id),
            phone=phone,
            amount=asked.amount,
            fee=fee,
            key=f"merchant_refund:{merchant.id}:{asked.public_id}",
            fingerprint=request_hash(kind="merchant_refund", refund=asked.public_id),
            channel="api",
            now=now,
            day=nairobi_day(now),
            result_wait_s=result_wait_s,
            note=f"refund to M-Pesa (till {merchant.till_number})",
        )
    except Overdraft:  # unreachable under the account's lock; the CHECK is the backstop
        raise NotRefundable(
            "insufficient_merchant_balance", "the merchant's account holds less than this"
        ) from None
    uow.merchant_refunds.add_refunded(asked.payment.transaction_id, asked.amount)
    refund_id = uow.merchant_refunds.insert_pending(
        public_id=asked.public_id,
        merchant_id=merchant.id,
        payment_transaction_id=asked.payment.transaction_id,
        amount=asked.amount,
        reason=asked.reason,
        now=now,
        withdrawal_id=withdrawal.id,
        hold_transaction_id=withdrawal.hold_id,
    )
    log.info(
        "merchant refund held",
        extra={"merchant_id": merchant.id, "withdrawal": withdrawal.reference},
    )
    return refund_id


def lock_for_ending(uow: UnitOfWork, withdrawal_id: int) -> Pending | None:
    """The refund a withdrawal carries, its order's row locked first; None for a
    payout."""
    return lock_pending(uow, withdrawal_id=withdrawal_id)


def ended(
    uow: UnitOfWork,
    refund: Pending,
    *,
    paid_transaction_id: int | None,
    failure: str | None,
    now: datetime,
) -> None:
    """The refund's ending, in the transaction that paid out (paid_transaction_id) or
    released (failure) its withdrawal: the refund and the order moved, and the event."""
    if refund.status != "pending":  # a withdrawal ends once: so does its refund
        return
    if paid_transaction_id is not None:
        succeeded(uow, refund, paid_transaction_id, now)
    else:
        failed(uow, refund, failure or "M-Pesa did not pay it", now)
