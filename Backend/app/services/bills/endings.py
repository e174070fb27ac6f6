"""A bill payment's two endings, each once, under the payment's row lock, once the
rail's own answer has decided which:

* delivered - 'bill_payment': the hold to the rail's clearing account (what PayTrace
  owes the provider) and the fee to a fees shard; the user's SMS with the receipt;
  and, where a rule gives one, 'cashback' from the promotions account in the same
  transaction (services/promotions/cashback.py);
* failed - 'bill_release': the hold back to the wallet, the amount no longer counting
  against the day's limits; the user's SMS.

Each ending's journal transaction carries a key of its own ('bill_payment:<id>',
'bill_release:<id>'), so that even a second ending raced past the row lock would be
refused by the ledger, and the payment's guard refuses leaving an ended state.
"""

from __future__ import annotations

from datetime import datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import CLEARING_CODES, DELIVERED, FAILED
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.phone import mask
from app.domain.promotions import PROMOTIONS
from app.domain.records.bills import BillPayment
from app.services.ledger import request_hash, sms_time
from app.services.notifications import sms_message
from app.services.promotions import cashback
from app.services.transfers import fees_shard, hold_shard

HOLD_KIND = "bill_hold"


def shown_account(p: BillPayment) -> str:
    """The account as an SMS shows it: a phone masked, a meter as it is."""
    return mask(p.account) if p.account.startswith("+") else p.account


def spaced_token(token: str) -> str:
    """A 20-digit token in fours, as a meter's keypad and KPLC's own SMS show it."""
    return "-".join(token[i : i + 4] for i in range(0, len(token), 4))


def deliver(
    uow: UnitOfWork,
    p: BillPayment,
    *,
    request_id: str | None,
    receipt: str,
    now: datetime,
    token: str | None = None,
    units: str | None = None,
) -> None:
    """The hold to the rail's clearing and the fee to PayTrace; the user's SMS, and a
    prepaid token's own SMS (a short one the user types into the meter)."""
    hold_code, fee_code = hold_shard(p.user_id, HOLD_KIND), fees_shard(p.user_id)
    clearing = CLEARING_CODES[p.rail]
    biller = uow.billers.get(biller_id=p.biller_id)
    rule = cashback.rule_of(uow, biller, nairobi_day(now)) if biller is not None else None
    # The promotions row only when a rule may pay: every other delivery leaves it alone.
    codes = [hold_code, clearing] + ([fee_code] if p.fee else []) + ([PROMOTIONS] if rule else [])
    locked = uow.ledger.accounts(user_ids=[p.user_id], codes=codes)
    by_code = {a.code: a for a in locked}
    wallet = next(a for a in locked if a.user_id == p.user_id)
    legs = [(by_code[hold_code].id, -p.total), (by_code[clearing].id, p.amount)]
    if p.fee:
        legs.append((by_code[fee_code].id, p.fee))
    sms = sms_message(
        to=wallet.phone or "",
        template="bill_delivered",
        language=wallet.language or "en",
        dedupe_key=f"bill:{p.reference}:delivered",
        reference=p.reference,
        biller=p.biller_name,
        account=shown_account(p),
        amount=format_kes(p.amount),
        when=sms_time(now),
        receipt=receipt,
        fee=format_kes(p.fee),
        balance=format_kes(wallet.balance),
    )
    messages = [sms]
    if token is not None:
        messages.append(
            sms_message(
                to=wallet.phone or "",
                template="bill_token",
                language=wallet.language or "en",
                dedupe_key=f"bill:{p.reference}:token",
                reference=p.reference,
                account=p.account,
                token=spaced_token(token),
                units=units or "-",
            )
        )
    tx_id = uow.ledger.post(
        reference=new_reference(),
        kind="bill_payment",
        amount=p.amount,
        fee=p.fee,
        idempotency_key=f"bill_payment:{p.id}",
        request_hash=request_hash(kind="bill_payment", bill=p.id),
        legs=legs,
        channel="system",
        created_at=now,
        initiator_user_id=p.user_id,
        note=f"{p.reference} {receipt}"[:100],
        messages=tuple(messages),
    )
    if rule is not None:
        cashback.pay_cashback(uow, p, rule, wallet=wallet, promotions=by_code[PROMOTIONS], now=now)
    uow.bill_payments.finish(
        p.id,
        status=DELIVERED,
        outcome_id=tx_id,
        ended_at=now,
        request_id=request_id,
        receipt=receipt,
        token=token,
        units=units,
    )


def release(
    uow: UnitOfWork,
    p: BillPayment,
    *,
    failure: str,
    now: datetime,
    request_id: str | None = None,
) -> None:
    """The hold back to the wallet, the amount back within the day's limits; the SMS.
    The rail's id, when it had one, is kept: a repeated callback then finds this ended
    bill, never another open one of the same phone and amount."""
    hold_code = hold_shard(p.user_id, HOLD_KIND)
    locked = uow.ledger.accounts(user_ids=[p.user_id], codes=[hold_code])
    wallet = next(a for a in locked if a.user_id == p.user_id)
    hold = next(a for a in locked if a.code == hold_code)
    sms = sms_message(
        to=wallet.phone or "",
        template="bill_failed",
        language=wallet.language or "en",
        dedupe_key=f"bill:{p.reference}:failed",
        reference=p.reference,
        biller=p.biller_name,
        account=shown_account(p),
        amount=format_kes(p.amount),
        total=format_kes(p.total),
        balance=format_kes(wallet.balance + p.total),
    )
    tx_id = uow.ledger.post(
        reference=new_reference(),
        kind="bill_release",
        amount=p.amount,
        fee=p.fee,
        idempotency_key=f"bill_release:{p.id}",
        request_hash=request_hash(kind="bill_release", bill=p.id),
        legs=[(hold.id, -p.total), (wallet.id, p.total)],
        channel="system",
        created_at=now,
        initiator_user_id=p.user_id,
        note=p.reference,
        messages=(sms,),
    )
    uow.ledger.give_back_outflow(wallet.id, p.hold_day, p.amount)
    uow.bill_payments.finish(
        p.id,
        status=FAILED,
        outcome_id=tx_id,
        ended_at=now,
        request_id=request_id,
        failure=failure,
    )
