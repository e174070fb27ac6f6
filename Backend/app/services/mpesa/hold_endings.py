"""A withdrawal's two endings in the ledger: its hold paid out (M-Pesa paid the
customer) or released back to the wallet. Called by `payouts` only, under the
withdrawal's row lock, once M-Pesa's own answer has decided which."""

from __future__ import annotations

from datetime import datetime

from app.db.repositories.mpesa_withdrawals import Withdrawal
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.domain.phone import mask
from app.integrations.daraja_payloads import PaymentOutcome
from app.services.ledger import request_hash, sms_time
from app.services.mpesa.withdrawals import hold_shard
from app.services.notifications import sms_message
from app.services.transfers import fees_shard


def pay_out(uow: UnitOfWork, w: Withdrawal, outcome: PaymentOutcome, now: datetime) -> None:
    """The hold to the float (paid out of M-Pesa) and the fee to PayTrace."""
    hold_code, fee_code = hold_shard(w.user_id), fees_shard(w.user_id)
    codes = [hold_code, "mpesa_float"] + ([fee_code] if w.fee else [])
    by_code = {a.code: a for a in uow.ledger.accounts(codes=codes)}
    legs = [(by_code[hold_code].id, -w.total), (by_code["mpesa_float"].id, w.amount)]
    if w.fee:
        legs.append((by_code[fee_code].id, w.fee))
    owner = uow.ledger.accounts(user_ids=[w.user_id], for_update=False)[0]
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
        messages=(
            sms_message(
                to=w.phone,
                template="withdrawal_sent",
                language=owner.language or "en",
                dedupe_key=f"withdrawal:{w.reference}:sent",
                reference=w.reference,
                amount=format_kes(w.amount),
                phone=mask(w.phone),
                when=sms_time(now),
                receipt=receipt or "-",
                fee=format_kes(w.fee),
                balance=format_kes(owner.balance),
            ),
        ),
    )
    uow.withdrawals.finish(
        w.id,
        status="completed",
        outcome_id=tx_id,
        result_code=outcome.result_code,
        result_desc=outcome.result_desc,
        receipt=receipt,
    )


def release(uow: UnitOfWork, w: Withdrawal, code: str, desc: str, now: datetime) -> None:
    """The hold back to the wallet; the amount stops counting against the limits."""
    locked = uow.ledger.accounts(user_ids=[w.user_id], codes=[hold_shard(w.user_id)])
    wallet = next(a for a in locked if a.user_id == w.user_id)
    hold = next(a for a in locked if a.kind == "mpesa_hold")
    reference = new_reference()
    tx_id = uow.ledger.post(
        reference=reference,
        kind="withdrawal_release",
        amount=w.amount,
        fee=w.fee,
        idempotency_key=f"withdrawal_release:{w.id}",
        request_hash=request_hash(kind="withdrawal_release", withdrawal=w.id),
        legs=[(hold.id, -w.total), (wallet.id, w.total)],
        channel="system",
        created_at=now,
        initiator_user_id=w.user_id,
        note=w.reference,
        messages=(
            sms_message(
                to=w.phone,
                template="withdrawal_failed",
                language=wallet.language or "en",
                dedupe_key=f"withdrawal:{w.reference}:released",
                reference=w.reference,
                amount=format_kes(w.amount),
                total=format_kes(w.total),
                balance=format_kes(wallet.balance + w.total),
            ),
        ),
    )
    uow.withdrawals.give_back_outflow(wallet.id, w.hold_day, w.amount)
    uow.withdrawals.finish(
        w.id, status="released", outcome_id=tx_id, result_code=code, result_desc=desc
    )
