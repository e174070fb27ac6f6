"""Referral bonuses: whoever first invited a number (Send money's invitation SMS) earns
the programme's bonus when the user who registers with it has a first deposit credited.

Once per new user: the referral row is decided once, at the first deposit, under its
row lock and the new user's wallet lock ('paid', or why not), and the bonus's journal
key is the new user's ('referral_bonus:<user>'). From the promotions account, which
never goes below zero, while the programme's budget lasts (spent is counted by one
guarded UPDATE, so concurrent bonuses never pass it). The deposit is credited all the
same when no bonus is paid.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.db.repositories.ledger import LockedAccount
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.promotions import BUDGET_SPENT, NO_PROGRAMME, PAID, PROMOTIONS_EMPTY
from app.services.ledger import request_hash
from app.services.notifications import sms_message

log = logging.getLogger("paytrace.promotions")


def record_invitation(uow: UnitOfWork, *, referrer_user_id: int, phone: str, at: datetime) -> None:
    """Inside the invitation's transaction: the number's referrer, if it has none yet."""
    uow.promotions.refer(invitee_phone=phone, referrer_user_id=referrer_user_id, at=at)


def pending_referrer(uow: UnitOfWork, phone: str) -> int | None:
    """The referrer of a number whose bonus is not decided yet (read before the deposit
    locks its accounts, so that the referrer's wallet is locked with them, in the lock order)."""
    found = uow.promotions.referral(phone)
    return found.referrer_user_id if found is not None and found.outcome is None else None


def reward_first_deposit(
    uow: UnitOfWork,
    *,
    user_id: int,
    phone: str,
    referrer: LockedAccount,
    promotions: LockedAccount,
    now: datetime,
) -> str | None:
    """In the transaction that credits a deposit, with the new user's wallet, the
    referrer's and the promotions account locked: decide the referral once; returns the
    outcome (None: nothing to decide)."""
    found = uow.promotions.referral(phone, for_update=True)
    if found is None or found.outcome is not None or found.referrer_user_id != referrer.user_id:
        return None
    program = uow.promotions.program_on(nairobi_day(now))
    if program is None:
        return _decide(uow, phone, user_id, NO_PROGRAMME, now)
    if promotions.balance < program.bonus:
        log.warning("promotions cannot pay a referral bonus", extra={"program": program.id})
        return _decide(uow, phone, user_id, PROMOTIONS_EMPTY, now, program.id)
    if not uow.promotions.take_budget(program.id, program.bonus):
        return _decide(uow, phone, user_id, BUDGET_SPENT, now, program.id)
    reference = new_reference()
    tx_id = uow.ledger.post(
        reference=reference,
        kind="referral_bonus",
        amount=program.bonus,
        fee=0,
        idempotency_key=f"referral_bonus:{user_id}",
        request_hash=request_hash(kind="referral_bonus", user=user_id, amount=program.bonus),
        legs=[(promotions.id, -program.bonus), (referrer.id, program.bonus)],
        channel="system",
        created_at=now,
        initiator_user_id=referrer.user_id,
        note="referral",
        messages=(
            sms_message(
                to=referrer.phone or "",
                template="referral_bonus",
                language=referrer.language or "en",
                dedupe_key=f"referral_bonus:{user_id}",
                reference=reference,
                amount=format_kes(program.bonus),
                balance=format_kes(referrer.balance + program.bonus),
            ),
        ),
    )
    return _decide(uow, phone, user_id, PAID, now, program.id, tx_id)


def _decide(
    uow: UnitOfWork,
    phone: str,
    user_id: int,
    outcome: str,
    now: datetime,
    program_id: int | None = None,
    transaction_id: int | None = None,
) -> str:
    uow.promotions.decide(
        phone,
        referred_user_id=user_id,
        outcome=outcome,
        at=now,
        program_id=program_id,
        transaction_id=transaction_id,
    )
    return outcome
