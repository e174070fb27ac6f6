"""Deposits: an STK push to the user's own phone, credited from the M-Pesa float once.

`request_deposit` records the request and queues the push (outbox kind 'mpesa_stk': the
worker makes it, at most once, since a second push is a second prompt). `settle` is
where every result lands - the callback, the worker's STK query, a callback processed
again - and it credits at most once: the deposit's row is locked first, a finished
deposit is left as it is, and the journal posting's idempotency key is the deposit's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from app.db.repositories.ledger import ReferenceTaken
from app.db.repositories.mpesa_deposits import Deposit, stk_dedupe_key
from app.db.unit_of_work import UnitOfWork
from app.domain import mpesa
from app.domain.money import format_kes, new_reference
from app.domain.phone import InvalidPhone, mask
from app.errors import IdempotencyConflict, NotFound, ServiceUnavailable
from app.integrations.daraja_payloads import StkOutcome
from app.services.ledger import check_key, request_hash, sms_time
from app.services.mpesa.amounts import check_mpesa_amount
from app.services.notifications import queue_sms, sms_message
from app.services.registration import refused
from app.services.sms_texts import DEPOSIT_FAILURE_REASONS

log = logging.getLogger("paytrace.mpesa")

CHANNELS = ("ussd", "api")
_DRAWS = 5


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
    key = f"deposit:{request.user_id}:{check_key(request.idempotency_key)}"
    fingerprint = request_hash(kind="deposit", user=request.user_id, amount=amount)
    now = now or datetime.now(UTC)
    for _ in range(_DRAWS):
        with uow:
            earlier = uow.deposits.by_key(key)
            if earlier is not None:
                return _replayed(earlier, fingerprint)
            user = uow.users.get_by_id(request.user_id)
            if user is None:
                raise NotFound("no such user")
            phone = _payable(user.phone)
            reference = new_reference()
            try:
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
            except ReferenceTaken:
                continue
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
    raise ServiceUnavailable("could not draw a free deposit reference")


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
    _tell_failure(uow, deposit, "not_started")


# ---- results ------------------------------------------------------------------------


def settle(
    uow: UnitOfWork,
    outcome: StkOutcome,
    *,
    deposit_hint: str | None = None,
    callback_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Apply an STK push's result once; commits, with the callback's outcome when one is
    given. Returns that outcome: credited, failed, duplicate, unknown_request,
    amount_mismatch, phone_mismatch or conflict.

    `deposit_hint` is the deposit reference the callback URL carried: it finds a
    deposit whose push answer was lost (no CheckoutRequestID recorded yet).
    """
    now = now or datetime.now(UTC)
    for _ in range(_DRAWS):
        try:
            return _settle_once(uow, outcome, deposit_hint, callback_id, now)
        except ReferenceTaken:
            continue
    raise ServiceUnavailable("could not draw a free transaction reference")


def _settle_once(
    uow: UnitOfWork, outcome: StkOutcome, hint: str | None, callback_id: int | None, now: datetime
) -> str:
    checkout = outcome.checkout_request_id
    with uow:
        deposit = uow.deposits.lock_by_checkout(checkout)
        if deposit is None and hint:
            candidate = uow.deposits.lock_by_reference(hint)
            if candidate is not None and candidate.checkout_request_id is None:
                uow.deposits.adopt(
                    candidate.id,
                    merchant_request_id=outcome.merchant_request_id,
                    checkout_request_id=checkout,
                )
                deposit = replace(candidate, checkout_request_id=checkout)
        verdict, detail = _apply(uow, deposit, outcome, now)
        if callback_id is not None:
            uow.callbacks.set_outcome(callback_id, verdict, detail, reference=checkout)
        uow.commit()
    log_at = logging.INFO if verdict in ("credited", "failed", "duplicate") else logging.WARNING
    log.log(
        log_at,
        "stk result",
        extra={"checkout_request_id": checkout, "outcome": verdict, "detail": detail},
    )
    return verdict


def _apply(
    uow: UnitOfWork, deposit: Deposit | None, outcome: StkOutcome, now: datetime
) -> tuple[str, str | None]:
    if deposit is None:
        return "unknown_request", "no deposit has this CheckoutRequestID"
    if deposit.status in ("completed", "disputed") or (
        deposit.status == "failed" and not outcome.paid
    ):
        return "duplicate", f"the deposit is already {deposit.status}"
    code, desc = outcome.result_code, outcome.result_desc
    if not outcome.paid:
        uow.deposits.finish(deposit.id, status="failed", result_code=code, result_desc=desc)
        _tell_failure(uow, deposit, mpesa.failure_reason(code))
        return "failed", f"ResultCode {code}"
    problem = _mismatch(deposit, outcome)
    if problem is not None or deposit.status == "failed":
        verdict = problem[0] if problem else "conflict"
        detail = problem[1] if problem else "paid after M-Pesa said it failed"
        uow.deposits.finish(
            deposit.id,
            status="disputed",
            result_code=code,
            result_desc=detail,
            receipt=outcome.receipt,
        )
        log.error("deposit disputed", extra={"deposit": deposit.reference, "detail": detail})
        return verdict, detail
    tx_id = _credit(uow, deposit, outcome.receipt, now)
    uow.deposits.finish(
        deposit.id,
        status="completed",
        result_code=code,
        result_desc=desc,
        receipt=outcome.receipt,
        transaction_id=tx_id,
    )
    return "credited", None


def _mismatch(deposit: Deposit, outcome: StkOutcome) -> tuple[str, str] | None:
    """A paid result that is not what was asked: nothing is credited."""
    # A query's answer carries neither; a callback's must carry both, and match.
    from_callback = outcome.amount is not None or outcome.phone is not None
    if from_callback and outcome.amount != deposit.amount:
        return "amount_mismatch", f"paid {outcome.amount} cents, asked {deposit.amount}"
    if from_callback and not mpesa.same_phone(outcome.phone, deposit.phone):
        return (
            "phone_mismatch",
            f"paid from {mask(str(outcome.phone))}, asked {mask(deposit.phone)}",
        )
    return None


def _credit(uow: UnitOfWork, deposit: Deposit, receipt: str | None, now: datetime) -> int:
    locked = uow.ledger.accounts(user_ids=[deposit.user_id], codes=["mpesa_float"])
    wallet = next(a for a in locked if a.user_id == deposit.user_id)
    float_account = next(a for a in locked if a.code == "mpesa_float")
    amount, reference = deposit.amount, new_reference()
    balance = wallet.balance + amount
    assert wallet.phone is not None
    return uow.ledger.post(
        reference=reference,
        kind="deposit",
        amount=amount,
        fee=0,
        idempotency_key=f"deposit:{deposit.id}",
        request_hash=request_hash(kind="deposit", deposit=deposit.id, amount=amount),
        legs=[(float_account.id, -amount), (wallet.id, amount)],
        channel=deposit.channel,
        created_at=now,
        initiator_user_id=deposit.user_id,
        note=f"M-Pesa {receipt}" if receipt else "M-Pesa",
        messages=(
            sms_message(
                to=wallet.phone,
                template="deposit_received",
                language=wallet.language or "en",
                dedupe_key=f"journal:{reference}:{deposit.user_id}",
                reference=reference,
                amount=format_kes(amount),
                receipt=f" {receipt}" if receipt else "",
                when=sms_time(now),
                balance=format_kes(balance),
            ),
        ),
    )


def _tell_failure(uow: UnitOfWork, deposit: Deposit, reason: str) -> None:
    user = uow.users.get_by_id(deposit.user_id)
    language = user.language if user is not None else "en"
    words = DEPOSIT_FAILURE_REASONS.get(language, DEPOSIT_FAILURE_REASONS["en"])
    queue_sms(
        uow,
        to=deposit.phone,
        template="deposit_failed",
        language=language,
        dedupe_key=f"deposit:{deposit.reference}:failed",
        amount=format_kes(deposit.amount),
        reason=words.get(reason, words["other"]),
    )
