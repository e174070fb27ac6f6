"""How a deposit ends: credited once, failed, or held for an operator.

Everything M-Pesa says about an STK push lands in `settle`: its callback (a hint) and
the worker's STK query (M-Pesa's answer to PayTrace's own question). The deposit's
row is locked first, so deliveries queue on it and a finished deposit is never
finished again; the journal posting's idempotency key is the deposit's.

A callback's word moves no money on its own. A paid one must carry the amount,
receipt and phone that were asked for, or the deposit is held ('disputed', the reason
stored). Otherwise the deposit waits in 'confirming' and the worker asks M-Pesa (STK
query) at once; only the query's explicit ResultCode credits or fails it. Deposits at
or under `confirm_over` cents are credited on a verified callback.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from app.db.repositories.mpesa_deposits import OPEN, Deposit
from app.db.unit_of_work import UnitOfWork
from app.domain import mpesa
from app.domain.money import format_kes, new_reference
from app.domain.phone import mask
from app.domain.promotions import PROMOTIONS
from app.integrations.daraja_payloads import StkOutcome
from app.services.ledger import request_hash, sms_time, with_fresh_reference
from app.services.notifications import journal_sms_key, queue_sms, sms_message
from app.services.promotions import referrals
from app.services.sms_texts import DEPOSIT_FAILURE_REASONS

log = logging.getLogger("paytrace.mpesa")

_ROUTINE = ("credited", "failed", "duplicate", "confirming")


def settle(
    uow: UnitOfWork,
    outcome: StkOutcome,
    *,
    deposit_hint: str | None = None,
    callback_id: int | None = None,
    confirm_over: int = 0,
    now: datetime | None = None,
) -> str:
    """Apply what M-Pesa said about an STK push; commits, with the callback's outcome
    when one is given. Returns that outcome: confirming, credited, failed, duplicate,
    unknown_request, hint_refused, missing_metadata, amount_mismatch, phone_mismatch
    or conflict.

    `deposit_hint` is the deposit reference the callback URL carried: it binds the
    callback's CheckoutRequestID to a deposit only when that deposit's push was sent
    and its answer lost (see `_bind`).
    """
    now = now or datetime.now(UTC)
    return with_fresh_reference(
        lambda: _settle_once(uow, outcome, deposit_hint, callback_id, confirm_over, now)
    )


def _settle_once(
    uow: UnitOfWork,
    outcome: StkOutcome,
    hint: str | None,
    callback_id: int | None,
    confirm_over: int,
    now: datetime,
) -> str:
    checkout = outcome.checkout_request_id
    with uow:
        deposit = uow.deposits.lock_by_checkout(checkout)
        verdict: str | None = None
        detail: str | None = None
        if deposit is None and hint and outcome.source == "callback":
            deposit, verdict, detail = _bind(uow, hint, outcome)
        if verdict is None:
            verdict, detail = _apply(uow, deposit, outcome, confirm_over, now)
        if callback_id is not None:
            uow.callbacks.set_outcome(callback_id, verdict, detail, reference=checkout)
        uow.commit()
    log.log(
        logging.INFO if verdict in _ROUTINE else logging.WARNING,
        "stk result",
        extra={
            "checkout_request_id": checkout,
            "source": outcome.source,
            "outcome": verdict,
            "detail": detail,
        },
    )
    return verdict


def _bind(
    uow: UnitOfWork, hint: str, outcome: StkOutcome
) -> tuple[Deposit | None, str | None, str | None]:
    """The hinted deposit, given this CheckoutRequestID, when its push was sent and
    its answer lost - and only for a paid result naming its phone and amount. Any
    other hint is stored with the callback and not acted on."""
    candidate = uow.deposits.lock_by_reference(hint)
    if candidate is None:
        return None, "unknown_request", "no deposit has this CheckoutRequestID or reference"
    if candidate.checkout_request_id is not None:
        return None, "hint_refused", "the hinted deposit has a CheckoutRequestID already"
    push = uow.deposits.push_request_state(candidate.reference)
    # The push row 'unknown': it was sent and its answer never came back (the deposit
    # is 'unknown' too, or about to be closed so by the worker).
    lost = (
        candidate.status in ("requested", "unknown") and push is not None and push[0] == "unknown"
    )
    if not lost:
        state = push[0] if push else "absent"
        return None, "hint_refused", f"its push was not lost ({candidate.status}, push {state})"
    if not outcome.paid or _mismatch(candidate, outcome) is not None:
        return None, "hint_refused", "only a paid result naming its phone and amount binds it"
    uow.deposits.adopt(
        candidate.id,
        merchant_request_id=outcome.merchant_request_id,
        checkout_request_id=outcome.checkout_request_id,
    )
    return replace(candidate, checkout_request_id=outcome.checkout_request_id), None, None


def _apply(
    uow: UnitOfWork, deposit: Deposit | None, outcome: StkOutcome, confirm_over: int, now: datetime
) -> tuple[str, str | None]:
    if deposit is None:
        return "unknown_request", "no deposit has this CheckoutRequestID"
    if outcome.source == "callback":
        return _callback(uow, deposit, outcome, confirm_over, now)
    return _query_answer(uow, deposit, outcome, now)


def _callback(
    uow: UnitOfWork, deposit: Deposit, outcome: StkOutcome, confirm_over: int, now: datetime
) -> tuple[str, str | None]:
    """What a callback may do: hold a paid result that is not what was asked, or make
    the deposit wait for M-Pesa's confirmation (small deposits: act on it)."""
    if deposit.status == "failed" and outcome.paid:
        # Flagged on the stored callback for an operator; M-Pesa's query said failed.
        return "conflict", "a paid callback for a deposit M-Pesa said failed"
    if deposit.status not in (*OPEN, "unknown") or deposit.status == "confirming":
        return "duplicate", f"the deposit is already {deposit.status}"
    code, desc = outcome.result_code, outcome.result_desc
    if outcome.paid:
        problem = _mismatch(deposit, outcome)
        if problem is not None:
            _hold(uow, deposit, code, problem[1], outcome.receipt)
            return problem
    if deposit.amount > confirm_over:
        uow.deposits.confirm(
            deposit.id,
            result_code=code,
            result_desc=desc,
            receipt=outcome.receipt,
            next_check_at=now,
        )
        return "confirming", f"the callback says ResultCode {code}: M-Pesa is asked"
    if not outcome.paid:
        _fail(uow, deposit, code, desc)
        return "failed", f"ResultCode {code}"
    _complete(uow, deposit, code, desc, outcome.receipt, now)
    return "credited", None


def _query_answer(
    uow: UnitOfWork, deposit: Deposit, outcome: StkOutcome, now: datetime
) -> tuple[str, str | None]:
    """M-Pesa's own answer (an explicit ResultCode) ends an open deposit."""
    if deposit.status not in OPEN:
        return "duplicate", f"the deposit is already {deposit.status}"
    code, desc = outcome.result_code, outcome.result_desc
    if outcome.paid:
        _complete(uow, deposit, code, desc, deposit.receipt, now)
        return "credited", None
    if deposit.status == "confirming" and deposit.result_code == "0":
        detail = f"the callback said paid, M-Pesa's query says ResultCode {code}"
        _hold(uow, deposit, code, detail, None)
        return "conflict", detail
    _fail(uow, deposit, code, desc)
    return "failed", f"ResultCode {code}"


def _mismatch(deposit: Deposit, outcome: StkOutcome) -> tuple[str, str] | None:
    """A paid callback must name the amount, receipt and phone that were asked for."""
    missing = [
        name
        for name, value in (
            ("Amount", outcome.amount),
            ("MpesaReceiptNumber", outcome.receipt),
            ("PhoneNumber", outcome.phone),
        )
        if value is None
    ]
    if missing:
        return "missing_metadata", "a paid callback without " + ", ".join(missing)
    if outcome.amount != deposit.amount:
        return "amount_mismatch", f"paid {outcome.amount} cents, asked {deposit.amount}"
    if not mpesa.same_phone(outcome.phone, deposit.phone):
        paid_from, asked = mask(str(outcome.phone)), mask(deposit.phone)
        return "phone_mismatch", f"paid from {paid_from}, asked {asked}"
    return None


def _hold(uow: UnitOfWork, deposit: Deposit, code: str, reason: str, receipt: str | None) -> None:
    """Nothing credited: the deposit waits for an operator, the reason stored."""
    uow.deposits.finish(
        deposit.id, status="disputed", result_code=code, result_desc=reason, receipt=receipt
    )
    log.error(
        "deposit held for an operator", extra={"deposit": deposit.reference, "detail": reason}
    )


def _fail(uow: UnitOfWork, deposit: Deposit, code: str, desc: str) -> None:
    uow.deposits.finish(deposit.id, status="failed", result_code=code, result_desc=desc)
    tell_failure(uow, deposit, mpesa.failure_reason(code))


def _complete(
    uow: UnitOfWork, deposit: Deposit, code: str, desc: str, receipt: str | None, now: datetime
) -> None:
    tx_id = _credit(uow, deposit, receipt, now)
    uow.deposits.finish(
        deposit.id,
        status="completed",
        result_code=code,
        result_desc=desc,
        receipt=receipt,
        transaction_id=tx_id,
    )


def _credit(uow: UnitOfWork, deposit: Deposit, receipt: str | None, now: datetime) -> int:
    # A referral still to decide: its referrer's wallet and the promotions account are
    # locked with the new user's, in one statement (lock order), never after.
    user = uow.users.get_by_id(deposit.user_id)
    referrer_id = referrals.pending_referrer(uow, user.phone) if user is not None else None
    extra_users, extra_codes = ([referrer_id], [PROMOTIONS]) if referrer_id else ([], [])
    locked = uow.ledger.accounts(
        user_ids=[deposit.user_id, *extra_users], codes=["mpesa_float", *extra_codes]
    )
    wallet = next(a for a in locked if a.user_id == deposit.user_id)
    float_account = next(a for a in locked if a.code == "mpesa_float")
    amount, reference = deposit.amount, new_reference()
    balance = wallet.balance + amount
    assert wallet.phone is not None
    tx_id = uow.ledger.post(
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
                dedupe_key=journal_sms_key(reference, deposit.user_id),
                reference=reference,
                amount=format_kes(amount),
                receipt=f" {receipt}" if receipt else "",
                when=sms_time(now),
                balance=format_kes(balance),
            ),
        ),
    )
    if referrer_id is not None:
        referrals.reward_first_deposit(
            uow,
            user_id=deposit.user_id,
            phone=wallet.phone,
            referrer=next(a for a in locked if a.user_id == referrer_id),
            promotions=next(a for a in locked if a.code == PROMOTIONS),
            now=now,
        )
    return tx_id


def tell_failure(uow: UnitOfWork, deposit: Deposit, reason: str) -> None:
    """Queue the SMS that says, in the user's language, why the deposit failed."""
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
