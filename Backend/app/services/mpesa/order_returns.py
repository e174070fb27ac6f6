"""Giving back an M-Pesa payment a pay order could not take - the order was paid
meanwhile over another channel, expired or was canceled - so that no payment is ever
kept twice or dropped.

In the transaction that finds it (order_payment_results.py, under the order's and the
payment's row locks) the money M-Pesa holds for it is moved from the float to
'mpesa_owed_back' (journal kind `mpesa_owed_back`) and a Transaction Reversal is queued
(outbox kind `mpesa_reversal`, made at most once). M-Pesa answers with ids of its own;
the checker asks M-Pesa (transaction status by that OriginatorConversationID) and only
its answer ends the return: completed for the amount → back to the float (journal kind
`mpesa_order_returned`), SMS to the payer; failed, refused or never found → `review`,
the money still owed back on the books for an operator. The reversal's result callback
is a hint: it only makes the checker ask at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.domain.mpesa import msisdn, shillings
from app.domain.phone import InvalidPhone
from app.domain.records.mpesa import OrderPayment
from app.integrations.daraja_payloads import PaymentOutcome, Verdict
from app.services.ledger import request_hash, sms_time
from app.services.notifications import sms_message

log = logging.getLogger("paytrace.mpesa")

# The system account of payments owed back to M-Pesa payers (kind mpesa_hold).
OWED_BACK = "mpesa_owed_back"
REVERSAL = "mpesa_reversal"


def payer_phone(reported: str | None) -> str | None:
    """The payer's number in E.164 when M-Pesa gave it whole (it may mask or hash it)."""
    try:
        return "+" + msisdn(reported or "")
    except InvalidPhone:
        return None


def owe_back(
    uow: UnitOfWork, payment: OrderPayment, reason: str, now: datetime, *, reverse: bool = True
) -> tuple[str, str]:
    """In the caller's transaction (the payment's row locked): the float to
    'mpesa_owed_back' and the reversal queued; returns the outcome (returning).
    `reverse=False` (no receipt to reverse by): held for an operator (review)."""
    locked = {a.code: a for a in uow.ledger.accounts(codes=["mpesa_float", OWED_BACK])}
    request = OutboxMessage(
        kind=REVERSAL,
        payload={
            "payment_id": payment.id,
            "trans_id": payment.trans_id,
            "amount": shillings(payment.amount),
            "occasion": payment.bill_ref,
        },
        dedupe_key=f"mpesa:reversal:{payment.id}",
    )
    tx_id = uow.ledger.post(
        reference=new_reference(),
        kind="mpesa_owed_back",
        amount=payment.amount,
        fee=0,
        idempotency_key=f"mpesa_owed_back:{payment.id}",
        request_hash=request_hash(kind="mpesa_owed_back", payment=payment.id),
        legs=[(locked["mpesa_float"].id, -payment.amount), (locked[OWED_BACK].id, payment.amount)],
        channel="system",
        created_at=now,
        note=f"M-Pesa {payment.trans_id} owed back: {reason}"[:100],
        messages=(request,) if reverse else (),
    )
    status = "returning" if reverse else "review"
    desc = f"{reason}: " + ("returned to the payer" if reverse else "owed back, return by hand")
    uow.order_payments.owe_back(
        payment.id, owed_transaction_id=tx_id, desc=desc, now=now, status=status
    )
    log.log(
        logging.WARNING if reverse else logging.ERROR,
        "M-Pesa payment owed back",
        extra={"trans_id": payment.trans_id, "why": reason, "reversed": reverse},
    )
    return status, desc


def reversal_taken(
    uow: UnitOfWork,
    payment_id: int,
    *,
    conversation_id: str,
    originator_id: str,
    check_at: datetime,
) -> None:
    """In the outbox worker's transaction: M-Pesa took the reversal under these ids."""
    uow.order_payments.reversal_taken(
        payment_id, conversation_id=conversation_id, originator_id=originator_id, check_at=check_at
    )


def reversal_not_made(uow: UnitOfWork, payment_id: int, *, reason: str) -> None:
    """In the outbox worker's transaction: the reversal was refused, or its answer lost
    (M-Pesa's ids with it: PayTrace cannot ask about it). The money stays owed back, for
    an operator."""
    uow.order_payments.end_return(payment_id, status="review", desc=f"reversal: {reason}")
    log.error("M-Pesa reversal not made", extra={"payment_id": payment_id, "reason": reason})


def reversal_hint(uow: UnitOfWork, callback_id: int, originator_id: str | None) -> str:
    """A reversal's result or queue timeout: ask M-Pesa at once; moves nothing.
    Commits; returns the callback's outcome (confirming, duplicate, unknown_request)."""
    with uow:
        payment = uow.order_payments.by_reversal(originator_id or "")
        if payment is None:
            outcome, detail = "unknown_request", "no reversal has this OriginatorConversationID"
        elif payment.status != "returning":
            outcome, detail = "duplicate", f"the payment is already {payment.status}"
        else:
            uow.order_payments.check_at(payment.id, datetime.now(UTC))
            outcome, detail = "confirming", "M-Pesa is asked about the reversal"
        reference = payment.trans_id if payment else originator_id
        uow.callbacks.set_outcome(callback_id, outcome, detail, reference=reference)
        uow.commit()
    return outcome


def settle_return(
    uow: UnitOfWork,
    payment: OrderPayment,
    outcome: PaymentOutcome,
    *,
    not_found_limit: int,
    interval: timedelta,
    now: datetime,
) -> tuple[str, str]:
    """M-Pesa's answer about a payment's reversal, in the caller's transaction (the
    payment's row locked)."""
    if payment.reversal_originator_id is None:
        return "duplicate", "no reversal was taken for it yet"
    named = outcome.originator_conversation_id
    if named is not None and named != payment.reversal_originator_id:
        return "mismatch", "it is about another transaction than the reversal asked about"
    if outcome.receipt is not None and outcome.receipt == payment.trans_id:
        # A late answer to an earlier query about the payment itself (its status
        # queries stay open while the lease lapses): not a word about the reversal.
        return "mismatch", "it is about the payment itself, not its reversal"
    verdict = outcome.verdict
    if verdict is Verdict.PAID:
        if outcome.amount != payment.amount:
            desc = f"M-Pesa reversed {outcome.amount} cents of {payment.amount}"
            uow.order_payments.end_return(payment.id, status="review", desc=desc)
            return "review", desc
        return _returned(uow, payment, outcome.receipt, now)
    if verdict is Verdict.FAILED:
        uow.order_payments.end_return(payment.id, status="review", desc="reversal failed")
        return "review", "M-Pesa says the reversal failed: still owed back"
    if verdict is Verdict.UNKNOWN:
        uow.order_payments.check_at(payment.id, now + interval)
        return "check_scheduled", f"ResultCode {outcome.result_code}"
    answers = payment.not_found + 1
    if answers >= not_found_limit:
        desc = f"M-Pesa found no reversal ({answers} times): still owed back"
        uow.order_payments.end_return(payment.id, status="review", desc=desc)
        return "review", desc
    uow.order_payments.check_at(payment.id, now + interval, not_found=True)
    return "not_found", f"{answers} of {not_found_limit} answers: asked again"


def _returned(
    uow: UnitOfWork, payment: OrderPayment, receipt: str | None, now: datetime
) -> tuple[str, str]:
    locked = {a.code: a for a in uow.ledger.accounts(codes=["mpesa_float", OWED_BACK])}
    reference = new_reference()
    phone = payer_phone(payment.msisdn)
    messages: tuple[OutboxMessage, ...] = ()
    if phone is not None:
        messages = (
            sms_message(
                to=phone,
                template="mpesa_payment_returned",
                language="en",
                dedupe_key=f"journal:{reference}:payer",
                amount=format_kes(payment.amount),
                receipt=payment.trans_id,
                account=payment.bill_ref or "-",
                when=sms_time(now),
            ),
        )
    tx_id = uow.ledger.post(
        reference=reference,
        kind="mpesa_order_returned",
        amount=payment.amount,
        fee=0,
        idempotency_key=f"mpesa_order_returned:{payment.id}",
        request_hash=request_hash(kind="mpesa_order_returned", payment=payment.id),
        legs=[(locked[OWED_BACK].id, -payment.amount), (locked["mpesa_float"].id, payment.amount)],
        channel="system",
        created_at=now,
        note=f"M-Pesa {payment.trans_id} returned" + (f" ({receipt})" if receipt else ""),
        messages=messages,
    )
    desc = f"returned by M-Pesa reversal {receipt or '-'}"
    uow.order_payments.end_return(
        payment.id, status="returned", desc=desc, returned_transaction_id=tx_id
    )
    return "returned", desc


def held_order_payments(uow: UnitOfWork, *, limit: int = 100) -> list[OrderPayment]:
    """M-Pesa payments toward orders an operator watches, oldest first: being returned
    (owed back until M-Pesa confirms the reversal) or in review (the reversal failed,
    or M-Pesa's answer disagreed with the confirmation; `result_desc` says why)."""
    with uow:
        return uow.order_payments.held(limit)
