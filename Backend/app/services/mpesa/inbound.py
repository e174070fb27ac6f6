"""M-Pesa's callbacks, once stored (app/services/inbound_callbacks.py), processed.

`process_mpesa` reads a stored callback and hands it to the deposit or withdrawal
service, which records its outcome in the transaction that acts on it. The worker
processes again any M-Pesa callback still 'received' after a while (processing is
idempotent: the same callback a hundred times credits once).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from app.db.repositories.callbacks import InboundCallback
from app.db.unit_of_work import UnitOfWork
from app.integrations.daraja_payloads import (
    MalformedPayload,
    biller_items,
    parse_b2b_notice,
    parse_b2c_result,
    parse_status_result,
    parse_stk_callback,
    read_json,
)
from app.services.bills import b2b_answers
from app.services.inbound_callbacks import record_outcome
from app.services.mpesa import (
    order_payment_results,
    order_payments,
    order_pushes,
    order_returns,
    payouts,
    stk_results,
)

log = logging.getLogger("paytrace.callbacks")

MPESA_KINDS = (
    "stk",
    "b2c_result",
    "b2c_timeout",
    "status_result",
    "status_timeout",
    "c2b_validation",
    "c2b_confirmation",
    "reversal_result",
    "reversal_timeout",
    "order_stk",
    "b2b_result",
    "b2b_timeout",
)
STATUS_KINDS = ("status_result", "status_timeout")
# A callback still 'received' this long after it arrived is processed again.
STALE_AFTER = timedelta(seconds=60)


def process_mpesa(
    uow: UnitOfWork,
    callback_id: int,
    *,
    kind: str,
    body: bytes,
    query: str | None,
    policy: payouts.CheckPolicy,
    now: datetime | None = None,
    early_check: bool = True,
) -> str:
    """Act on a stored M-Pesa callback, once whatever the number of deliveries;
    returns its outcome ('malformed' when it is not a body Daraja sends)."""
    if kind == "c2b_confirmation":
        return order_payments.confirm(
            uow, callback_id, body, shortcode=policy.paybill, now=now or datetime.now(UTC)
        )
    if kind == "order_stk":
        return order_pushes.callback(uow, callback_id, body, now=now or datetime.now(UTC))
    if kind == "c2b_validation":
        # Answered when it came, or never: M-Pesa has long decided without it.
        record_outcome(uow, callback_id, "unanswered", "its processing failed when it came")
        return "unanswered"
    try:
        payload = read_json(body)
        if kind == "stk":
            outcome = parse_stk_callback(payload)
            return stk_results.settle(
                uow,
                outcome,
                deposit_hint=_hint(query),
                callback_id=callback_id,
                confirm_over=policy.confirm_deposits_over_cents,
                now=now,
            )
        if kind.startswith("b2b"):
            return b2b_answers.notice(uow, callback_id, parse_b2b_notice(payload), now=now)
        if kind.startswith("reversal"):
            reversal = parse_b2c_result(payload, queue_timeout=kind.endswith("_timeout"))
            return order_returns.reversal_hint(
                uow, callback_id, reversal.originator_conversation_id
            )
        parse = parse_b2c_result if kind.startswith("b2c") else parse_status_result
        payment = parse(payload, queue_timeout=kind.endswith("_timeout"))
    except MalformedPayload as exc:
        log.warning("malformed M-Pesa callback", extra={"callback_id": callback_id, "kind": kind})
        record_outcome(uow, callback_id, "malformed", str(exc))
        return "malformed"
    if kind.startswith("status") and b2b_answers.answers(uow, payment.query_conversation_id):
        return b2b_answers.settle(
            uow,
            callback_id,
            payment,
            biller_items(payload),
            release_after_not_found=policy.release_after_not_found,
            recheck_s=policy.status_interval_s,
            now=now,
        )
    if kind.startswith("status") and order_payment_results.answers(
        uow, payment.query_conversation_id
    ):
        return order_payment_results.settle(
            uow, payment, policy=policy, callback_id=callback_id, now=now
        )
    outcome = payouts.settle(uow, payment, policy=policy, callback_id=callback_id, now=now)
    asked = payment.query_conversation_id or ""
    # PayTrace may have recorded the query between the look above and now: the asker
    # looks for early answers after its record commits, and this looks for the record
    # after the answer's outcome commits, so one of the two sees the other.
    if (
        outcome == "unknown_request"
        and kind in STATUS_KINDS
        and early_check
        and _asked(uow, asked)
        and answer_early(uow, asked, policy=policy, now=now)
    ):
        with uow:
            found = uow.callbacks.get(callback_id)
        return found.outcome if found else outcome
    return outcome


def answer_early(
    uow: UnitOfWork, conversation_id: str, *, policy: payouts.CheckPolicy, now: datetime | None
) -> int:
    """Process the status answers that came before PayTrace's record of the query they
    answer (M-Pesa answered while PayTrace was still writing its question down), each
    by one caller; returns how many. Called by whoever records a status query, once
    the record has committed."""
    with uow:
        waiting = uow.callbacks.reclaim_unmatched(
            provider="mpesa", kinds=STATUS_KINDS, reference=conversation_id
        )
        uow.commit()
    for callback in waiting:
        _again(uow, callback, policy, now or datetime.now(UTC), early_check=False)
    return len(waiting)


def _asked(uow: UnitOfWork, conversation_id: str) -> bool:
    """Whether PayTrace has recorded a status query with this ConversationID."""
    with uow:
        found = uow.status_queries.find(conversation_id)  # a withdrawal's or an order's
    return found is not None or b2b_answers.answers(uow, conversation_id)


def _hint(query: str | None) -> str | None:
    """The deposit reference PayTrace put in the STK callback URL (?deposit=...)."""
    values = parse_qs(query or "").get("deposit") or [None]
    hint = values[0]
    return hint if hint and len(hint) <= 20 else None


def process_stale(
    uow: UnitOfWork, *, policy: payouts.CheckPolicy, limit: int = 50, now: datetime | None = None
) -> int:
    """Process again the M-Pesa callbacks still 'received' (their first processing
    failed or was cut off); one that fails again is marked 'error' for an operator.
    Returns how many were processed."""
    now = now or datetime.now(UTC)
    with uow:
        stale = uow.callbacks.unprocessed(
            provider="mpesa", received_before=now - STALE_AFTER, limit=limit
        )
    for callback in stale:
        _again(uow, callback, policy, now)
    return len(stale)


def _again(
    uow: UnitOfWork,
    callback: InboundCallback,
    policy: payouts.CheckPolicy,
    now: datetime,
    *,
    early_check: bool = True,
) -> None:
    try:
        outcome = process_mpesa(
            uow,
            callback.id,
            kind=callback.kind,
            body=callback.body.encode(),
            query=callback.query,
            policy=policy,
            now=now,
            early_check=early_check,
        )
    except Exception as exc:
        log.exception("M-Pesa callback failed again", extra={"callback_id": callback.id})
        record_outcome(uow, callback.id, "error", f"{type(exc).__name__}: {exc}"[:500])
        return
    log.warning(
        "M-Pesa callback processed again",
        extra={"callback_id": callback.id, "outcome": outcome},
    )
