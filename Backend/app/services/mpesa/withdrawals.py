"""Withdrawals: the amount and its fee held at once, then a B2C payment to the user's
own M-Pesa through the outbox.

`withdraw` is Send money's twin: the same PIN check and lock, limits and
idempotency, one transaction that locks the wallet and its hold shard in the lock order,
checks the user's rules, then hands over to the B2C core (b2c.hold: the hold
'withdrawal': wallet -> mpesa_hold, and the B2C request through the outbox), which a
merchant's payout shares. What happens next is in payouts.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import KeyTaken, Overdraft
from app.db.repositories.mpesa_withdrawals import Withdrawal
from app.db.unit_of_work import UnitOfWork
from app.domain import mpesa
from app.domain.money import nairobi_day
from app.errors import IdempotencyConflict, InsufficientFunds, NotFound, refused
from app.services import pins
from app.services.ledger import (
    check_limits,
    request_hash,
    scoped_key,
    with_fresh_reference,
)
from app.services.mpesa import b2c
from app.services.mpesa.amounts import check_mpesa_amount
from app.services.transfers import Quote, hold_shard

log = logging.getLogger("paytrace.mpesa")

CHANNELS = ("ussd", "api")


@dataclass(frozen=True)
class WithdrawalRequest:
    user_id: int
    amount: int  # cents, whole shillings, paid out to the user's own M-Pesa
    idempotency_key: str  # the channel's key, e.g. 'ussd:<hop digest>'
    channel: str = "ussd"


@dataclass(frozen=True)
class Held:
    withdrawal: Withdrawal
    balance: int  # the wallet's balance right after the hold (now, for a replay)
    replayed: bool = False


def check_withdrawal_amount(amount: object) -> int:
    """Raises ValidationFailed ('invalid_amount') unless M-Pesa can move it as a withdrawal."""
    return check_mpesa_amount(amount, minimum=mpesa.MIN_WITHDRAWAL, what="a withdrawal")


def quote_withdrawal(
    uow: UnitOfWork, *, user_id: int, amount: int, now: datetime | None = None
) -> Quote:
    """The fee of a withdrawal the user could make now, without moving money.

    Raises ValidationFailed ('invalid_amount', 'not_an_mpesa_number'), LimitExceeded,
    InsufficientFunds or NotFound. The withdrawal checks all of it again under lock.
    """
    check_withdrawal_amount(amount)
    today = nairobi_day(now or datetime.now(UTC))
    with uow:
        found = uow.ledger.accounts(user_ids=[user_id], for_update=False)
        if not found or found[0].limits is None or found[0].phone is None:
            raise NotFound("no wallet for this user")
        account = found[0]
        b2c.payable(account.phone)
        check_limits(account.limits, amount, *uow.ledger.outflows(account.id, today))
        fee = b2c.withdrawal_fee(uow, amount)
    if account.balance < amount + fee:
        raise InsufficientFunds(balance=account.balance, needed=amount + fee)
    return Quote(amount=amount, fee=fee, balance=account.balance)


def withdraw(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    request: WithdrawalRequest,
    *,
    pin: str,
    result_wait_s: float,
    attempt_key: str | None = None,
    now: datetime | None = None,
) -> Held:
    """Check the PIN, then hold the amount and fee and queue the B2C payment; two
    transactions, as Send money.

    Idempotent on the request's key (a repeat returns the same withdrawal, replayed;
    another request with it raises IdempotencyConflict). Raises WrongPin, PinLocked,
    then ValidationFailed ('invalid_amount', 'invalid_channel', 'not_an_mpesa_number',
    'invalid_idempotency_key'), LimitExceeded, InsufficientFunds, NotFound.
    """
    amount = check_withdrawal_amount(request.amount)
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    key = scoped_key("withdrawal", request.user_id, request.idempotency_key)
    pins.verify_pin(
        uow,
        hasher,
        policy,
        user_id=request.user_id,
        pin=pin,
        attempt_key=attempt_key or f"withdraw:{request.user_id}:{request.idempotency_key}",
    )
    fingerprint = request_hash(kind="withdrawal", user=request.user_id, amount=amount)
    try:
        return with_fresh_reference(
            lambda: _hold_once(uow, request, key, fingerprint, result_wait_s, now)
        )
    except KeyTaken:  # a concurrent request with this key committed first
        with uow:
            balance = uow.ledger.wallet_balance(request.user_id) or 0
            return _replay(uow, key, fingerprint, balance)


def get_withdrawal(uow: UnitOfWork, *, reference: str, user_id: int | None = None) -> Withdrawal:
    """A withdrawal (only the user's own when user_id is given); raises NotFound."""
    with uow:
        found = uow.withdrawals.get(reference, user_id=user_id)
    if found is None:
        raise NotFound("no such withdrawal")
    return found


# ---- the hold -------------------------------------------------------------------------


def _hold_once(
    uow: UnitOfWork,
    request: WithdrawalRequest,
    key: str,
    fingerprint: str,
    result_wait_s: float,
    now: datetime | None,
) -> Held:
    user_id, amount = request.user_id, request.amount
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        locked = uow.ledger.accounts(user_ids=[user_id], codes=[hold_shard(user_id)])
        wallet = next((a for a in locked if a.user_id == user_id), None)
        hold = next((a for a in locked if a.kind == "mpesa_hold"), None)
        if wallet is None or hold is None or wallet.limits is None or wallet.phone is None:
            raise NotFound("no wallet for this user")
        earlier_id, day_total, rolling_total = uow.ledger.key_and_outflows(key, wallet.id, today)
        if earlier_id is not None:
            return _replay(uow, key, fingerprint, wallet.balance)
        b2c.payable(wallet.phone)
        check_limits(wallet.limits, amount, day_total, rolling_total)
        fee = b2c.withdrawal_fee(uow, amount)
        if wallet.balance < amount + fee:
            raise InsufficientFunds(balance=wallet.balance, needed=amount + fee)
        try:
            withdrawal = b2c.hold(
                uow,
                b2c.Source(account=wallet, hold=hold, user_id=user_id),
                phone=wallet.phone,
                amount=amount,
                fee=fee,
                key=key,
                fingerprint=fingerprint,
                channel=request.channel,
                now=now,
                day=today,
                result_wait_s=result_wait_s,
                note="to M-Pesa",
                outflow=(wallet.id, today, amount),
            )
        except Overdraft:  # the row lock makes this unreachable; the CHECK is the backstop
            raise InsufficientFunds(balance=wallet.balance, needed=amount + fee) from None
        uow.commit()
    reference = withdrawal.reference
    log.info("withdrawal held", extra={"withdrawal": reference, "amount": amount, "fee": fee})
    return Held(withdrawal, wallet.balance - amount - fee)


def _replay(uow: UnitOfWork, key: str, fingerprint: str, balance: int) -> Held:
    """The withdrawal an earlier request with this key made; raises IdempotencyConflict
    when that request was another."""
    entry = uow.ledger.find(key=key)
    withdrawal = uow.withdrawals.by_hold(entry.id) if entry is not None else None
    if entry is None or withdrawal is None:
        raise IdempotencyConflict("this withdrawal was already made")
    if entry.request_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    return Held(withdrawal, balance, replayed=True)
