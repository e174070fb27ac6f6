"""Paying a bill: the PIN, then the amount and fee held from the wallet and the rail's
request queued through the outbox, in one transaction (as a withdrawal holds: the wallet
and its hold shard locked in the lock order, the limits, the key, then the hold).

The hold ('bill_hold': wallet -> bill_hold shard, amount + fee) counts against the
user's limits like any outflow; what ends it is in endings.py, and only the rail's own
answer decides which ending (rail_answers.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.repositories.bill_resolutions import send_dedupe_key
from app.db.repositories.ledger import KeyTaken, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.bills import AT_AIRTIME, DARAJA_B2B, Biller
from app.domain.money import nairobi_day, new_reference
from app.domain.records.bills import BillPayment
from app.errors import (
    BillPaymentNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    refused,
)
from app.services import pins
from app.services.bills import catalogue
from app.services.ledger import check_limits, request_hash, scoped_key, with_fresh_reference
from app.services.transfers import hold_shard

log = logging.getLogger("paytrace.bills")

# 'system': a scheduled payment the worker runs (hold_bill, no PIN).
CHANNELS = ("ussd", "api", "system")
HOLD_KIND = "bill_hold"
MAX_HISTORY = 50


@dataclass(frozen=True)
class BillRequest:
    user_id: int
    biller_code: str
    account: str  # as typed; checked against the biller's rule
    amount: int  # cents, whole shillings
    idempotency_key: str  # the channel's key
    channel: str = "api"


@dataclass(frozen=True)
class BillHeld:
    payment: BillPayment
    balance: int  # the wallet's balance right after the hold (now, for a replay)
    replayed: bool = False


def rail_request(
    payment_reference: str, found: Biller, account: str, amount: int, payer_phone: str
) -> OutboxMessage:
    """The outbox row that sends the bill to its rail (kind = the rail)."""
    if found.rail == DARAJA_B2B:
        payload = {
            "bill": payment_reference,
            "paybill": found.paybill,
            "account": account,
            "amount": amount,
            "requester": payer_phone.removeprefix("+"),
        }
    else:
        assert found.rail == AT_AIRTIME  # catalogue.payable refused any other
        payload = {"bill": payment_reference, "phone": account, "amount": amount}
    return OutboxMessage(
        kind=found.rail, payload=payload, dedupe_key=send_dedupe_key(payment_reference)
    )


def pay_bill(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    request: BillRequest,
    *,
    pin: str,
    attempt_key: str | None = None,
    open_rails: tuple[str, ...] = (AT_AIRTIME,),
    now: datetime | None = None,
) -> BillHeld:
    """Check the PIN, then hold the amount and fee and queue the rail's request; two
    transactions, as Send money. `open_rails`: the rails this deployment pays through
    (Settings.bill_rails: Daraja B2B only where M-Pesa is on).

    Idempotent on the request's key (a repeat returns the same payment, replayed;
    another request with it raises IdempotencyConflict). Raises BillerNotFound,
    BillerUnavailable, ValidationFailed ('invalid_account', 'not_on_network',
    'invalid_amount', 'invalid_channel', 'invalid_idempotency_key'), WrongPin,
    PinLocked, LimitExceeded, InsufficientFunds, NotFound.
    """
    if request.channel not in CHANNELS[:2]:  # 'system' pays without a PIN: hold_bill
        raise refused("invalid_channel", "unknown channel")
    found, account, amount = _checked(uow, request, open_rails)
    pins.verify_pin(
        uow,
        hasher,
        policy,
        user_id=request.user_id,
        pin=pin,
        attempt_key=attempt_key or f"bill:{request.user_id}:{request.idempotency_key}",
    )
    return _hold(uow, request, found, account, amount, now)


def hold_bill(
    uow: UnitOfWork,
    request: BillRequest,
    *,
    open_rails: tuple[str, ...],
    now: datetime | None = None,
) -> BillHeld:
    """Hold the amount and fee and queue the rail's request without a PIN: for a payment
    its owner authorised with the PIN earlier (a scheduled payment the worker runs,
    channel 'system'). Idempotent on the request's key, as pay_bill. Raises as pay_bill,
    without WrongPin and PinLocked."""
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    found, account, amount = _checked(uow, request, open_rails)
    return _hold(uow, request, found, account, amount, now)


def _checked(
    uow: UnitOfWork, request: BillRequest, open_rails: tuple[str, ...]
) -> tuple[Biller, str, int]:
    """The key, the biller, the account as paid and the amount, each checked; the rail
    open. Raises as pay_bill, before any PIN is checked."""
    scoped_key("bill", request.user_id, request.idempotency_key)
    with uow:
        found = catalogue.biller(uow, request.biller_code)
    account = catalogue.check_account(found, request.account)
    amount = catalogue.check_amount(found, request.amount)
    catalogue.payable(found, open_rails)
    return found, account, amount


def _hold(
    uow: UnitOfWork,
    request: BillRequest,
    found: Biller,
    account: str,
    amount: int,
    now: datetime | None,
) -> BillHeld:
    key = scoped_key("bill", request.user_id, request.idempotency_key)
    fingerprint = request_hash(
        kind="bill", user=request.user_id, biller=found.code, account=account, amount=amount
    )
    try:
        return with_fresh_reference(
            lambda: _hold_once(uow, request, found, account, amount, key, fingerprint, now)
        )
    except KeyTaken:  # a concurrent request with this key committed first
        with uow:
            balance = uow.ledger.wallet_balance(request.user_id) or 0
            return _replay(uow, key, fingerprint, balance)


def get_bill_payment(uow: UnitOfWork, *, reference: str, user_id: int) -> BillPayment:
    """One of the user's bill payments; raises BillPaymentNotFound."""
    with uow:
        found = uow.bill_payments.get(reference, user_id=user_id)
    if found is None:
        raise BillPaymentNotFound("no such bill payment")
    return found


# Past this, a bill still held is an operator's to look at, whatever the worker plans.
STUCK_AFTER = timedelta(hours=24)
STUCK_PAGE_MAX = 200


def bills_needing_an_operator(
    uow: UnitOfWork, limit: int, *, now: datetime | None = None
) -> list[BillPayment]:
    """Bills whose amount and fee are still held and that the worker will not end by
    itself (unknown with nothing left to ask the rail), or held for over STUCK_AFTER:
    the operator's list (GET /api/v1/admin/bills/needing-operator), oldest first. Reads
    only. Raises ValueError for a limit out of range, ServiceUnavailable."""
    if not 1 <= limit <= STUCK_PAGE_MAX:
        raise ValueError(f"limit must be 1..{STUCK_PAGE_MAX}")
    now = now or datetime.now(UTC)
    with uow:
        return uow.bill_payments.needing_operator(stale_before=now - STUCK_AFTER, limit=limit)


def bill_history(
    uow: UnitOfWork, *, user_id: int, before_id: int | None = None, limit: int = 20
) -> tuple[list[BillPayment], bool]:
    """The user's bill payments, newest first, older than before_id (a cursor), and
    whether more follow."""
    limit = max(1, min(limit, MAX_HISTORY))
    with uow:
        found = uow.bill_payments.history(user_id, before_id=before_id, limit=limit + 1)
    return found[:limit], len(found) > limit


def _hold_once(
    uow: UnitOfWork,
    request: BillRequest,
    found: Biller,
    account: str,
    amount: int,
    key: str,
    fingerprint: str,
    now: datetime | None,
) -> BillHeld:
    user_id = request.user_id
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        hold_code = hold_shard(user_id, HOLD_KIND)
        locked = uow.ledger.accounts(user_ids=[user_id], codes=[hold_code])
        wallet = next((a for a in locked if a.user_id == user_id), None)
        hold = next((a for a in locked if a.code == hold_code), None)
        if wallet is None or hold is None or wallet.limits is None:
            raise NotFound("no wallet for this user")
        earlier_id, day_total, rolling_total = uow.ledger.key_and_outflows(key, wallet.id, today)
        if earlier_id is not None:
            return _replay(uow, key, fingerprint, wallet.balance)
        check_limits(wallet.limits, amount, day_total, rolling_total)
        fee = catalogue.bill_fee(uow, found, amount)
        if wallet.balance < amount + fee:
            raise InsufficientFunds(balance=wallet.balance, needed=amount + fee)
        reference = new_reference()
        try:
            hold_id = uow.ledger.post(
                reference=reference,
                kind=HOLD_KIND,
                amount=amount,
                fee=fee,
                idempotency_key=key,
                request_hash=fingerprint,
                legs=[(wallet.id, -(amount + fee)), (hold.id, amount + fee)],
                channel=request.channel,
                created_at=now,
                initiator_user_id=user_id,
                note=found.name,
                outflow=(wallet.id, today, amount),
                messages=(rail_request(reference, found, account, amount, wallet.phone or ""),),
            )
        except Overdraft:  # the row lock makes this unreachable; the CHECK is the backstop
            raise InsufficientFunds(balance=wallet.balance, needed=amount + fee) from None
        payment = uow.bill_payments.add(
            reference=reference,
            user_id=user_id,
            biller_id=found.id,
            account=account,
            amount=amount,
            fee=fee,
            channel=request.channel,
            hold_id=hold_id,
            hold_day=today,
            created_at=now,
        )
        uow.commit()
    log.info("bill held", extra={"bill": reference, "biller": found.code, "amount": amount})
    return BillHeld(payment, wallet.balance - amount - fee)


def _replay(uow: UnitOfWork, key: str, fingerprint: str, balance: int) -> BillHeld:
    """The payment an earlier request with this key made; raises IdempotencyConflict
    when that request was another."""
    entry = uow.ledger.find(key=key)
    payment = uow.bill_payments.by_hold(entry.id) if entry is not None else None
    if entry is None or payment is None:
        raise IdempotencyConflict("this bill payment was already made")
    if entry.request_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    return BillHeld(payment, balance, replayed=True)
