"""A withdrawal's two endings in the ledger: its hold paid out (M-Pesa paid the
customer) or released back to where it came from. Called by `payouts` only, under the
withdrawal's row lock, once M-Pesa's own answer has decided which.

The source is a user's wallet (a withdrawal) or a merchant's account (a payout, or a
refund of an order paid from M-Pesa): the same legs through the same hold shard; a user
is told by SMS either way and gets the amount back against their limits, a merchant is
told by SMS when paid and by the webhook events `payout.paid` / `payout.failed`, in the
same transaction. A refund takes its order's row before any account and ends with it
(services/mpesa/order_refunds.py: `refund.succeeded` / `refund.failed`).
"""

from __future__ import annotations

from datetime import datetime

from app.db.repositories.mpesa_withdrawals import Withdrawal
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.domain.phone import mask
from app.integrations.daraja_payloads import PaymentOutcome
from app.services.ledger import request_hash, sms_time
from app.services.mpesa import merchant_payouts
from app.services.mpesa import order_refunds as rail_refunds
from app.services.notifications import sms_message
from app.services.transfers import fees_shard, hold_shard


def pay_out(uow: UnitOfWork, w: Withdrawal, outcome: PaymentOutcome, now: datetime) -> None:
    """The hold to the float (paid out of M-Pesa) and the fee to PayTrace."""
    # A merchant's refund: its order's row first, before any account (the lock order
    # of asking for it).
    refund = rail_refunds.lock_for_ending(uow, w.id) if w.merchant_id is not None else None
    hold_code, fee_code = hold_shard(w.owner_id), fees_shard(w.owner_id)
    codes = [hold_code, "mpesa_float"] + ([fee_code] if w.fee else [])
    by_code = {a.code: a for a in uow.ledger.accounts(codes=codes)}
    legs = [(by_code[hold_code].id, -w.total), (by_code["mpesa_float"].id, w.amount)]
    if w.fee:
        legs.append((by_code[fee_code].id, w.fee))
    receipt = outcome.receipt
    tx_id = uow.ledger.post(
        reference=new_reference(),
        kind="withdrawal_payout",
        amount=w.amount,
        fee=w.fee,
        idempotency_key=f"withdrawal_payout:{w.id}",
        request_hash=request_hash(kind="withdrawal_payout", withdrawal=w.id),
        legs=legs,
        channel="system",
        created_at=now,
        initiator_user_id=w.user_id,
        note=f"{w.reference} M-Pesa {receipt}" if receipt else w.reference,
        # A refund's payer hears from M-Pesa itself; its merchant by the webhook event.
        messages=(_sent_sms(uow, w, receipt, now),) if refund is None else (),
    )
    uow.withdrawals.finish(
        w.id,
        status="completed",
        outcome_id=tx_id,
        result_code=outcome.result_code,
        result_desc=outcome.result_desc,
        receipt=receipt,
    )
    if refund is not None:
        rail_refunds.ended(uow, refund, paid_transaction_id=tx_id, failure=None, now=now)
    elif w.merchant_id is not None:
        merchant_payouts.emit_ended(uow, w.id, "payout.paid", now)


def release(uow: UnitOfWork, w: Withdrawal, code: str, desc: str, now: datetime) -> None:
    """The hold back to the wallet (the amount stops counting against the limits) or to
    the merchant's account."""
    refund = rail_refunds.lock_for_ending(uow, w.id) if w.merchant_id is not None else None
    hold_code = hold_shard(w.owner_id)
    if w.merchant_id is None:
        locked = uow.ledger.accounts(user_ids=[w.user_id], codes=[hold_code])
        source = next(a for a in locked if a.user_id == w.user_id)
    else:
        merchant = uow.merchants.get(w.merchant_id)
        assert merchant is not None  # the withdrawal's foreign key
        locked = uow.ledger.accounts(account_ids=[merchant.account_id], codes=[hold_code])
        source = next(a for a in locked if a.id == merchant.account_id)
    hold = next(a for a in locked if a.kind == "mpesa_hold")
    messages: tuple[OutboxMessage, ...] = ()
    if w.user_id is not None:
        messages = (
            sms_message(
                to=w.phone,
                template="withdrawal_failed",
                language=source.language or "en",
                dedupe_key=f"withdrawal:{w.reference}:released",
                reference=w.reference,
                amount=format_kes(w.amount),
                total=format_kes(w.total),
                balance=format_kes(source.balance + w.total),
            ),
        )
    tx_id = uow.ledger.post(
        reference=new_reference(),
        kind="withdrawal_release",
        amount=w.amount,
        fee=w.fee,
        idempotency_key=f"withdrawal_release:{w.id}",
        request_hash=request_hash(kind="withdrawal_release", withdrawal=w.id),
        legs=[(hold.id, -w.total), (source.id, w.total)],
        channel="system",
        created_at=now,
        initiator_user_id=w.user_id,
        note=w.reference,
        messages=messages,
    )
    if w.user_id is not None:
        uow.ledger.give_back_outflow(source.id, w.hold_day, w.amount)
    uow.withdrawals.finish(
        w.id, status="released", outcome_id=tx_id, result_code=code, result_desc=desc
    )
    if refund is not None:
        rail_refunds.ended(uow, refund, paid_transaction_id=None, failure=desc, now=now)
    elif w.merchant_id is not None:
        merchant_payouts.emit_ended(uow, w.id, "payout.failed", now)


def _sent_sms(uow: UnitOfWork, w: Withdrawal, receipt: str | None, now: datetime) -> OutboxMessage:
    """The user's 'sent to your M-Pesa', or the merchant's 'payout sent' to its contact
    phone."""
    common = {
        "reference": w.reference,
        "amount": format_kes(w.amount),
        "phone": mask(w.phone),
        "when": sms_time(now),
        "receipt": receipt or "-",
        "fee": format_kes(w.fee),
    }
    if w.merchant_id is None:
        owner = uow.ledger.accounts(user_ids=[w.user_id], for_update=False)[0]
        return sms_message(
            to=w.phone,
            template="withdrawal_sent",
            language=owner.language or "en",
            dedupe_key=f"withdrawal:{w.reference}:sent",
            balance=format_kes(owner.balance),
            **common,
        )
    merchant = uow.merchants.get(w.merchant_id)
    assert merchant is not None  # the withdrawal's foreign key
    return sms_message(
        to=merchant.contact_phone,
        template="merchant_payout_sent",
        language=merchant.language or "en",
        dedupe_key=f"withdrawal:{w.reference}:sent",
        name=merchant.display_name,
        balance=format_kes(merchant.balance),
        **common,
    )
