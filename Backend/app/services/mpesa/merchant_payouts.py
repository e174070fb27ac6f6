"""Payouts of a merchant's balance to its M-Pesa (B2C): asked through the merchant API or
by an operator (an amount, or all that is available), or made by the worker once per
East Africa day for merchants paid out daily.

A payout is a withdrawal whose source is the merchant's accounts: one transaction locks
all of them and its hold shard (lock order, one statement; a refund takes the same
locks, so the two queue and no account goes below zero), checks their sum covers the
amount and its B2C fee, and hands over to the B2C core (b2c.hold), which draws it from
them (merchant_accounts).
From there the withdrawals' machinery runs unchanged (the outbox sends the B2C request,
a callback only makes the checker ask M-Pesa, M-Pesa's status answer pays out or
releases: payouts.py); hold_endings.py adds the merchant's SMS and the webhook events
`payout.paid` / `payout.failed` to those endings.

Idempotent: a request's Idempotency-Key answers the same payout again
(merchant_idempotency); a daily payout is keyed by merchant and day, in the ledger
(`merchant_payout:<id>:daily:<day>`) and in merchant_payouts_daily_idx, so a restart or
two workers never pay a day twice.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime

from app.db.repositories.ledger import KeyTaken, Overdraft
from app.db.unit_of_work import UnitOfWork
from app.domain import merchant_payouts as rules
from app.domain import mpesa
from app.domain.money import format_kes, nairobi_day
from app.domain.records.merchants import PayoutRow
from app.errors import NotFound, PayoutNotFound, PayoutRefused
from app.services import merchant_accounts, webhooks
from app.services.ledger import request_hash, with_fresh_reference
from app.services.merchant_idempotency import Answer, answer_once
from app.services.mpesa import b2c
from app.services.mpesa.amounts import check_mpesa_amount
from app.services.transfers import hold_shard

log = logging.getLogger("paytrace.mpesa")

PAGE_MAX = 200
DAILY_BATCH = 100
# The channel each origin's hold is posted under.
_CHANNELS = {"request": "api", "admin": "admin", "daily": "system"}


def check_payout_amount(amount: object) -> int:
    """Raises ValidationFailed ('invalid_amount') unless M-Pesa can pay it out."""
    return check_mpesa_amount(amount, minimum=mpesa.MIN_WITHDRAWAL, what="a payout")


def snapshot(payout: PayoutRow) -> dict[str, object]:
    """The payout as the merchant API answers it and webhook events carry it."""
    return {
        "object": "payout",
        "id": payout.public_id,
        "amount": payout.amount,
        "fee": payout.fee,
        "currency": "KES",
        "phone": payout.phone,
        "status": payout.status,
        "origin": payout.origin,
        "payout_day": payout.payout_day.isoformat() if payout.payout_day else None,
        "reference": payout.reference,
        "mpesa_receipt": payout.receipt,
        "failure_reason": payout.result_desc if payout.status == "failed" else None,
        "created_at": payout.created_at.isoformat(),
        "updated_at": payout.updated_at.isoformat(),
    }


def request_payout(
    uow: UnitOfWork,
    merchant_id: int,
    idempotency_key: str,
    amount: int | None,
    *,
    result_wait_s: float,
    now: datetime,
    origin: str = "request",
) -> Answer:
    """Pay `amount` cents (None: all available) of the merchant's account out to its
    payout phone (201 with the payout, pending); commits. `origin` 'admin' for an
    operator's (its keys are scoped apart from the merchant's own). Raises
    ValidationFailed ('invalid_amount', 'not_an_mpesa_number', 'invalid_idempotency_key'),
    PayoutRefused ('insufficient_merchant_balance', 'nothing_to_pay_out'), NotFound,
    IdempotencyConflict, ServiceUnavailable."""
    if amount is not None:
        check_payout_amount(amount)
    with uow:  # merchants are never deleted: the answer holds for the transaction below
        if uow.merchants.get(merchant_id) is None:
            raise NotFound("no such merchant")  # before its Idempotency-Key is claimed
    key = f"{origin}:{idempotency_key}" if origin != "request" else idempotency_key
    fingerprint = request_hash(kind="merchant_payout", origin=origin, amount=amount)
    return with_fresh_reference(
        lambda: answer_once(
            uow,
            merchant_id,
            key,
            fingerprint,
            lambda: _created(_pay_out(uow, merchant_id, amount, origin, None, result_wait_s, now)),
        )
    )


def pay_daily(
    uow: UnitOfWork, merchant_id: int, *, day: date, result_wait_s: float, now: datetime
) -> PayoutRow | None:
    """The merchant's daily payout for `day`: all available above its minimum to keep,
    once; commits. None when there is nothing to pay out, less than its threshold, or
    the day's payout exists (made now by another worker too). Raises ValidationFailed
    ('not_an_mpesa_number'), NotFound."""

    def once() -> PayoutRow | None:
        with uow:
            try:
                payout = _pay_out(uow, merchant_id, None, "daily", day, result_wait_s, now)
            except PayoutRefused:
                return None
            if payout is None:
                return None
            uow.commit()
        return payout

    try:
        return with_fresh_reference(once)
    except KeyTaken:  # another worker paid this merchant's day first
        return None


def due_daily(
    uow: UnitOfWork, day: date, *, after_id: int = 0, limit: int = DAILY_BATCH
) -> list[int]:
    """Merchants paid out daily that may have a payout to make for `day` (enough in
    their account for the smallest payout, none made for the day yet)."""
    with uow:
        return uow.merchant_payouts.daily_due(
            day, minimum=mpesa.MIN_WITHDRAWAL, after_id=after_id, limit=limit
        )


def get(uow: UnitOfWork, merchant_id: int, public_id: str) -> PayoutRow:
    """The merchant's payout; raises PayoutNotFound (another merchant's too)."""
    if not rules.is_public_id(public_id):
        raise PayoutNotFound("no such payout")
    with uow:
        found = uow.merchant_payouts.get(merchant_id, public_id)
    if found is None:
        raise PayoutNotFound("no such payout")
    return found


def page(
    uow: UnitOfWork, merchant_id: int, *, limit: int, before_id: int | None
) -> tuple[list[PayoutRow], bool]:
    """One page of the merchant's payouts, newest first, and whether more follow."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    with uow:
        rows = uow.merchant_payouts.page(merchant_id, limit=limit + 1, before_id=before_id)
    return rows[:limit], len(rows) > limit


def emit_ended(uow: UnitOfWork, withdrawal_id: int, event_type: str, now: datetime) -> None:
    """The webhook event of a payout that just ended (payout.paid, payout.failed), in the
    transaction of its payout or release (hold_endings.py)."""
    payout = uow.merchant_payouts.of_withdrawal(withdrawal_id)
    if payout is None:  # a merchant withdrawal is always recorded with its payout
        raise NotFound("no payout carries this withdrawal")
    webhooks.emit(uow, payout.merchant_id, event_type, snapshot(payout), now=now)


# ---- the hold -------------------------------------------------------------------------


def _created(payout: PayoutRow | None) -> tuple[int, dict]:
    assert payout is not None  # only a daily payout answers None
    return 201, snapshot(payout)


def _pay_out(
    uow: UnitOfWork,
    merchant_id: int,
    amount: int | None,
    origin: str,
    day: date | None,
    result_wait_s: float,
    now: datetime,
) -> PayoutRow | None:
    """Hold the payout in the caller's transaction (it commits): the merchant's account
    and its hold shard locked first, then every check. None: the day's payout exists."""
    merchant = uow.merchants.get(merchant_id)
    if merchant is None:
        raise NotFound("no such merchant")
    account, others = merchant_accounts.lock(uow, merchant, codes=[hold_shard(merchant_id)])
    hold = next(a for a in others if a.kind == "mpesa_hold")
    # Read under the account's lock: a concurrent daily run for this day has committed.
    if day is not None and uow.merchant_payouts.daily_exists(merchant_id, day):
        return None
    if origin == "daily":
        # Suspended since the day's merchants were picked: no automatic payout.
        current = uow.merchants.get(merchant_id)
        if current is None or current.status != "active":
            return None
    b2c.payable(merchant.payout_phone)
    available = account.balance
    if origin == "daily":
        # The merchant's minimum to keep stays; below its threshold, no payout today.
        spendable = rules.daily_spendable(
            account.balance,
            keep=merchant.payout_keep_cents,
            threshold=merchant.payout_threshold_cents,
        )
        if spendable is None:
            return None
        available = spendable
    if amount is None:
        best = rules.largest_payout(
            available,
            uow.merchant_payouts.fee_bands(),
            minimum=mpesa.MIN_WITHDRAWAL,
            maximum=mpesa.MAX_PAYMENT,
        )
        if best is None:
            raise PayoutRefused(
                "nothing_to_pay_out",
                f"the account holds KES {format_kes(account.balance)}: less than the "
                f"smallest payout and its fee",
            )
        amount, fee = best
    else:
        fee = b2c.withdrawal_fee(uow, amount)
    if account.balance < amount + fee:
        raise PayoutRefused(
            "insufficient_merchant_balance",
            f"the account holds KES {format_kes(account.balance)}; the payout and its fee "
            f"need KES {format_kes(amount + fee)}",
        )
    public_id = rules.PUBLIC_ID_PREFIX + secrets.token_hex(12)
    key = (
        f"merchant_payout:{merchant_id}:daily:{day.isoformat()}"
        if day is not None
        else f"merchant_payout:{merchant_id}:{public_id}"
    )
    try:
        withdrawal = b2c.hold(
            uow,
            b2c.Source(account=account, hold=hold, merchant_id=merchant_id),
            phone=merchant.payout_phone,
            amount=amount,
            fee=fee,
            key=key,
            fingerprint=request_hash(kind="merchant_payout", payout=public_id),
            channel=_CHANNELS[origin],
            now=now,
            day=nairobi_day(now),
            result_wait_s=result_wait_s,
            note=f"payout to M-Pesa (till {merchant.till_number})",
        )
    except Overdraft:  # unreachable under the account's lock; the CHECK is the backstop
        raise PayoutRefused(
            "insufficient_merchant_balance", "the merchant's account holds less than this"
        ) from None
    uow.merchant_payouts.insert(
        public_id=public_id,
        merchant_id=merchant_id,
        withdrawal_id=withdrawal.id,
        origin=origin,
        payout_day=day,
        now=now,
    )
    log.info(
        "merchant payout held",
        extra={"merchant_id": merchant_id, "withdrawal": withdrawal.reference, "amount": amount},
    )
    return uow.merchant_payouts.get(merchant_id, public_id)
