"""Deposits: an STK push to the user's own phone, credited from the M-Pesa float once.

`request_deposit` records the request and queues the push (outbox kind 'mpesa_stk': the
worker makes it, at most once, since a second push is a second prompt). How the push
went is recorded here; what M-Pesa then says of it is settled in `stk_results`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.repositories.mpesa_deposits import Deposit, stk_dedupe_key
from app.db.unit_of_work import UnitOfWork
from app.domain import mpesa
from app.domain.money import new_reference
from app.domain.phone import InvalidPhone
from app.errors import IdempotencyConflict, NotFound, refused
from app.services.ledger import request_hash, scoped_key, with_fresh_reference
from app.services.mpesa.amounts import check_mpesa_amount
from app.services.mpesa.stk_results import tell_failure

log = logging.getLogger("paytrace.mpesa")

CHANNELS = ("ussd", "api")


@dataclass(frozen=True)
class DepositRequest:
    user_id: int
    amount: int  # cents, whole shillings
    idempotency_key: str  # the channel's key, e.g. 'ussd:<hop digest>'
    channel: str = "ussd"


@dataclass(frozen=True)
class Requested:
    deposit: Deposit
    replayed: bool = False  # True: an earlier request with this key made it


def check_deposit_amount(amount: object) -> int:
    """Raises ValidationFailed ('invalid_amount') unless M-Pesa can move it as a deposit."""
    return check_mpesa_amount(amount, minimum=mpesa.MIN_DEPOSIT, what="a deposit")


def request_deposit(
    uow: UnitOfWork, request: DepositRequest, *, query_after_s: float, now: datetime | None = None
) -> Requested:
    """Record a deposit and queue its STK push to the user's own phone; commits.

    Idempotent on the request's key: the same request again returns the same deposit
    (replayed); another with that key raises IdempotencyConflict. Raises
    ValidationFailed ('invalid_amount', 'invalid_channel', 'invalid_idempotency_key',
    'not_an_mpesa_number') and NotFound for an unknown user.
    """
    amount = check_deposit_amount(request.amount)
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    key = scoped_key("deposit", request.user_id, request.idempotency_key)
    fingerprint = request_hash(kind="deposit", user=request.user_id, amount=amount)
    now = now or datetime.now(UTC)

    def attempt() -> Requested:
        with uow:
            earlier = uow.deposits.by_key(key)
            if earlier is not None:
                return _replayed(earlier, fingerprint)
            user = uow.users.get_by_id(request.user_id)
            if user is None:
                raise NotFound("no such user")
            phone = _payable(user.phone)
            reference = new_reference()
            # A reference taken raises ReferenceTaken: rolled back, drawn again.
            deposit = uow.deposits.add(
                reference=reference,
                user_id=user.id,
                phone=user.phone,
                amount=amount,
                channel=request.channel,
                request_key=key,
                request_hash=fingerprint,
                next_check_at=now + timedelta(seconds=query_after_s),
            )
            if deposit is None:  # a concurrent request with this key committed first
                earlier = uow.deposits.by_key(key)
                assert earlier is not None
                return _replayed(earlier, fingerprint)
            uow.outbox.add(
                kind="mpesa_stk",
                payload={
                    "action": "stk_push",
                    "deposit": reference,
                    "phone": phone,
                    "amount": mpesa.shillings(amount),
                    "requested_at": now.isoformat(),
                },
                dedupe_key=stk_dedupe_key(reference),
            )
            uow.commit()
        log.info("deposit requested", extra={"deposit": reference, "amount": amount})
        return Requested(deposit)

    return with_fresh_reference(attempt)


def get_deposit(uow: UnitOfWork, *, reference: str, user_id: int | None = None) -> Deposit:
    """A deposit (only the user's own when user_id is given); raises NotFound."""
    with uow:
        found = uow.deposits.get(reference, user_id=user_id)
    if found is None:
        raise NotFound("no such deposit")
    return found


def _replayed(earlier: Deposit, fingerprint: str) -> Requested:
    if earlier.request_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    return Requested(earlier, replayed=True)


def _payable(phone: str) -> str:
    try:
        return mpesa.msisdn(phone)
    except InvalidPhone:
        raise refused("not_an_mpesa_number", "M-Pesa pays Kenyan mobile numbers only") from None


# ---- the push, as the worker made it ------------------------------------------------


def push_accepted(
    uow: UnitOfWork,
    reference: str,
    *,
    merchant_request_id: str,
    checkout_request_id: str,
    query_after_s: float,
    now: datetime | None = None,
) -> None:
    """M-Pesa prompted the phone: wait for the result (in the caller's transaction)."""
    now = now or datetime.now(UTC)
    uow.deposits.mark_pushed(
        reference,
        merchant_request_id=merchant_request_id,
        checkout_request_id=checkout_request_id,
        next_check_at=now + timedelta(seconds=query_after_s),
    )


def push_failed(uow: UnitOfWork, reference: str, *, reason: str, unknown: bool = False) -> None:
    """The push was refused (failed, the user is told) or its answer was lost (unknown:
    a callback may still complete it); in the caller's transaction."""
    deposit = uow.deposits.lock_by_reference(reference)
    if deposit is None or deposit.status not in ("requested",):
        return
    if unknown:
        uow.deposits.finish(deposit.id, status="unknown", result_code=None, result_desc=reason)
        log.error("deposit push outcome unknown", extra={"deposit": reference, "error": reason})
        return
    uow.deposits.finish(deposit.id, status="failed", result_code=None, result_desc=reason)
    tell_failure(uow, deposit, "not_started")


def held_deposits(uow: UnitOfWork, *, limit: int = 100) -> list[Deposit]:
    """Deposits an operator must decide, oldest first: disputed (M-Pesa's word and the
    request disagree; `result_desc` says how) or unknown (the push's answer was lost)."""
    with uow:
        return uow.deposits.held(limit)
