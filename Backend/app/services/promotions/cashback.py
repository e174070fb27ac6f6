"""Cashback on a bill: what a quote shows, and what delivering the bill pays.

Paid only when the bill is delivered, in the transaction that posts it
(`bills/endings.deliver`): journal 'cashback', the promotions account to the wallet,
never on hold. The monthly cap holds under concurrency because what the user earned
this month is read after the user's wallet row is locked, and every delivery of the
user's bills locks that row first. The promotions account never goes below zero: its
row is locked with the wallet's (one statement, lock order), and a cashback it cannot pay
in full is not paid (the bill is delivered all the same). A bill the biller refunded
and an operator reversed gives its cashback back in its reversal's one movement
(`bills/reversals.py`), and no longer counts against the user's month.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from app.db.repositories.ledger import LockedAccount
from app.db.unit_of_work import UnitOfWork
from app.domain.bills import Biller
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.promotions import PROMOTIONS, CashbackRule, earned, month_of, rule_for
from app.domain.records.bills import BillPayment
from app.services.ledger import request_hash
from app.services.notifications import sms_message

log = logging.getLogger("paytrace.promotions")


def rule_of(uow: UnitOfWork, found: Biller, day: date) -> CashbackRule | None:
    """The rule a bill of this biller earns under on the day, or None."""
    rules = uow.promotions.cashback_rules(biller_id=found.id, category=found.category)
    return rule_for(rules, biller_id=found.id, category=found.category, day=day)


def quoted_cashback(uow: UnitOfWork, *, user_id: int, found: Biller, amount: int, day: date) -> int:
    """What the bill would earn delivered today (no lock: what delivery pays is decided
    then, and may be less if the cap or the budget were used meanwhile)."""
    rule = rule_of(uow, found, day)
    if rule is None:
        return 0
    so_far = uow.promotions.earned(user_id=user_id, rule_id=rule.id, month=month_of(day))
    value = earned(rule, amount, so_far)
    if value:
        [budget] = uow.ledger.accounts(codes=[PROMOTIONS], for_update=False)
        if budget.balance < value:
            return 0
    return value


def pay_cashback(
    uow: UnitOfWork,
    p: BillPayment,
    rule: CashbackRule,
    *,
    wallet: LockedAccount,
    promotions: LockedAccount,
    now: datetime,
) -> int:
    """In the delivering transaction, with the wallet and promotions rows locked: the
    bill's cashback to the wallet and its SMS; returns it (0: none)."""
    month = month_of(nairobi_day(now))
    so_far = uow.promotions.earned(user_id=p.user_id, rule_id=rule.id, month=month)
    value = earned(rule, p.amount, so_far)
    if value == 0:
        return 0
    if promotions.balance < value:
        log.warning("promotions cannot pay a cashback", extra={"bill": p.reference})
        return 0
    reference = new_reference()
    tx_id = uow.ledger.post(
        reference=reference,
        kind="cashback",
        amount=value,
        fee=0,
        idempotency_key=f"cashback:{p.id}",
        request_hash=request_hash(kind="cashback", bill=p.id, amount=value),
        legs=[(promotions.id, -value), (wallet.id, value)],
        channel="system",
        created_at=now,
        initiator_user_id=p.user_id,
        note=p.reference,
        messages=(
            sms_message(
                to=wallet.phone or "",
                template="cashback",
                language=wallet.language or "en",
                dedupe_key=f"bill:{p.reference}:cashback",
                reference=reference,
                amount=format_kes(value),
                biller=p.biller_name,
                bill=p.reference,
                balance=format_kes(wallet.balance + value),
            ),
        ),
    )
    uow.promotions.add_award(
        bill_payment_id=p.id,
        rule_id=rule.id,
        user_id=p.user_id,
        month=month,
        amount=value,
        transaction_id=tx_id,
        created_at=now,
    )
    return value
