"""How a withdrawal ends: paid out, or released - exactly once, and never both.

`settle` is where everything M-Pesa says about a B2C payment lands: its result
callback, its queue-timeout notice, a transaction status answer, or the worker's
"refused outright". The withdrawal's row is locked first, so these queue on it; a
finished withdrawal is never finished again. A callback's word moves no money: a
result or queue timeout only makes the worker ask M-Pesa (transaction status). Only
the answer to a status query PayTrace stored (`mpesa_status_queries`, matched by its
ConversationID, once) pays out or releases: a failed payment, or - once the payment
request can no longer be sent - several answers that find no such transaction. A
payment reported after a release is parked for an operator ('review'), never paid
for twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.repositories.mpesa_withdrawals import Withdrawal
from app.db.unit_of_work import UnitOfWork
from app.integrations.daraja_payloads import PaymentOutcome, Verdict
from app.services.ledger import with_fresh_reference
from app.services.mpesa.checks import MAY_STILL_BE_SENT
from app.services.mpesa.hold_endings import pay_out, release

log = logging.getLogger("paytrace.mpesa")

# What a callback says is a reason to ask M-Pesa; what M-Pesa answers PayTrace's own
# status query (or PayTrace's record of an outright refusal) is acted on.
CALLBACK_SOURCES = ("b2c_result", "b2c_timeout")
STATUS_SOURCES = ("status_result", "status_timeout")
SERIOUS = ("conflict", "amount_mismatch", "paid_after_release", "mismatch")


@dataclass(frozen=True)
class CheckPolicy:
    """When to ask M-Pesa again, how many "no such transaction" answers release, which
    deposits a callback alone may not credit, and whose paybill PayTrace's is."""

    status_interval_s: float = 120.0
    release_after_not_found: int = 2
    # Deposits over this are credited only once an STK query confirms the callback.
    confirm_deposits_over_cents: int = 0
    # PayTrace's paybill: C2B payments to another shortcode are not PayTrace's.
    paybill: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckPolicy:
        return cls(
            status_interval_s=settings.mpesa_status_query_interval_s,
            release_after_not_found=settings.mpesa_release_after_not_found,
            confirm_deposits_over_cents=settings.mpesa_confirm_deposits_over_cents,
            paybill=settings.daraja_shortcode,
        )


def settle(
    uow: UnitOfWork,
    outcome: PaymentOutcome,
    *,
    policy: CheckPolicy,
    callback_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Apply what M-Pesa said about a payment; commits, with the callback's outcome when
    one is given. Returns that outcome: paid, released, released_not_found,
    check_scheduled, not_found, duplicate, unknown_request, conflict, amount_mismatch or
    paid_after_release, confirming (a callback: M-Pesa is asked first) or mismatch (a
    status answer that is not about what was asked)."""
    now = now or datetime.now(UTC)
    return with_fresh_reference(lambda: _settle_once(uow, outcome, policy, callback_id, now))


def _settle_once(
    uow: UnitOfWork,
    outcome: PaymentOutcome,
    policy: CheckPolicy,
    callback_id: int | None,
    now: datetime,
) -> str:
    with uow:
        withdrawal, query_id, verdict, detail = _match(uow, outcome)
        if verdict is None:
            verdict, detail = _apply(uow, withdrawal, outcome, policy, now)
            if query_id is not None:
                uow.status_queries.answered(query_id, verdict)
        if callback_id is not None:
            named = withdrawal.originator_conversation_id if withdrawal else None
            reference = named or outcome.originator_conversation_id or outcome.query_conversation_id
            if verdict == "unknown_request" and outcome.source in STATUS_SOURCES:
                # The query it answers, by which inbound.answer_early finds it should
                # PayTrace's record of that query commit after it.
                reference = outcome.query_conversation_id
            uow.callbacks.set_outcome(callback_id, verdict, detail, reference=reference)
        uow.commit()
    serious = verdict in SERIOUS
    log.log(
        logging.ERROR if serious else logging.INFO,
        "withdrawal result",
        extra={
            "withdrawal": withdrawal.reference if withdrawal else None,
            "source": outcome.source,
            "verdict": str(outcome.verdict),
            "outcome": verdict,
            "detail": detail,
        },
    )
    return verdict


def _match(
    uow: UnitOfWork, outcome: PaymentOutcome
) -> tuple[Withdrawal | None, int | None, str | None, str | None]:
    """The withdrawal the answer is about, locked, or why it is not acted on.

    A B2C result or queue timeout names PayTrace's own OriginatorConversationID. A
    status answer is matched ONLY by the ConversationID of a query PayTrace stored
    when it asked (never by its Occasion or the ids in its parameters), once.
    """
    if outcome.source not in STATUS_SOURCES:
        found = None
        if outcome.originator_conversation_id:
            found = uow.withdrawals.lock_by_originator(outcome.originator_conversation_id)
        if found is None:
            return None, None, "unknown_request", "no withdrawal has this OriginatorConversationID"
        return found, None, None, None
    query = uow.status_queries.lock(outcome.query_conversation_id or "")
    if query is None or query.withdrawal_id is None:
        return None, None, "unknown_request", "PayTrace asked no status query with this id"
    found = uow.withdrawals.lock_by_id(query.withdrawal_id)
    if query.answered_at is not None:
        return found, None, "duplicate", f"this query was answered already ({query.outcome})"
    if query.originator_conversation_id and outcome.query_originator_id not in (
        None,
        query.originator_conversation_id,
    ):
        return found, None, "mismatch", "OriginatorConversationID is not the query's"
    named = outcome.originator_conversation_id
    if found is not None and named is not None and named != found.originator_conversation_id:
        return found, None, "mismatch", "it is about another payment than the one asked about"
    return found, query.id, None, None


def _apply(
    uow: UnitOfWork,
    w: Withdrawal | None,
    outcome: PaymentOutcome,
    policy: CheckPolicy,
    now: datetime,
) -> tuple[str, str | None]:
    if w is None:
        return "unknown_request", "no withdrawal matches it"
    if outcome.source in CALLBACK_SOURCES:
        return _confirm(uow, w, outcome, now)
    verdict = outcome.verdict
    if verdict is Verdict.PAID:
        return _paid(uow, w, outcome, now)
    if verdict is Verdict.FAILED:
        if w.status == "completed":
            return "conflict", "M-Pesa said failed after it said paid: kept as paid"
        if not w.open:
            return "duplicate", f"the withdrawal is already {w.status}"
        # A status answer's ResultCode is the query's (0): the payment's word is "failed".
        code = "failed" if outcome.source in STATUS_SOURCES else outcome.result_code
        release(uow, w, code, outcome.result_desc, now)
        return "released", f"M-Pesa says {code}"
    if not w.open:
        return "duplicate", f"the withdrawal is already {w.status}"
    later = now + timedelta(seconds=policy.status_interval_s)
    if verdict is Verdict.UNKNOWN:
        # The status query itself failed or timed out: ask again later.
        uow.withdrawals.check_soon(w.id, later)
        return "check_scheduled", f"ResultCode {outcome.result_code}"
    return _not_found(uow, w, policy, later, now)


def _confirm(
    uow: UnitOfWork, w: Withdrawal, outcome: PaymentOutcome, now: datetime
) -> tuple[str, str | None]:
    """A B2C result or queue timeout moves no money on its own word: M-Pesa is asked
    (transaction status) at once, and its answer pays out or releases."""
    said = f"{outcome.verdict} (ResultCode {outcome.result_code})"
    if w.status == "released" and outcome.verdict is Verdict.PAID:
        # Flagged on the callback for an operator; only a status answer parks it.
        return "paid_after_release", f"a callback says paid after the release: {said}"
    if not w.open:
        return "duplicate", f"the withdrawal is already {w.status}"
    uow.withdrawals.ask_at(w.id, now)
    return "confirming", f"M-Pesa is asked to confirm: the callback says {said}"


def _paid(
    uow: UnitOfWork, w: Withdrawal, outcome: PaymentOutcome, now: datetime
) -> tuple[str, str | None]:
    if w.status in ("completed", "review"):
        return "duplicate", f"the withdrawal is already {w.status}"
    if w.status == "released":
        uow.withdrawals.finish(
            w.id,
            status="review",
            outcome_id=None,
            result_code=outcome.result_code,
            result_desc="paid after its hold was released",
            receipt=outcome.receipt,
        )
        return "paid_after_release", "M-Pesa paid after the hold was released: review"
    if outcome.amount != w.amount:  # a status answer that says paid names the amount
        uow.withdrawals.finish(
            w.id,
            status="review",
            outcome_id=None,
            result_code=outcome.result_code,
            result_desc=f"paid {outcome.amount} cents, asked {w.amount}",
            receipt=outcome.receipt,
        )
        return "amount_mismatch", f"paid {outcome.amount} cents, asked {w.amount}"
    pay_out(uow, w, outcome, now)
    return "paid", outcome.receipt


def _not_found(
    uow: UnitOfWork, w: Withdrawal, policy: CheckPolicy, later: datetime, now: datetime
) -> tuple[str, str | None]:
    request = uow.withdrawals.payment_request_state(w.originator_conversation_id)
    if request is None or request[0] in MAY_STILL_BE_SENT:
        # Not found yet, but the worker may still send it: nothing can be released.
        uow.withdrawals.check_soon(w.id, later)
        return "not_found", "its payment request may still be sent"
    answers = w.not_found + 1
    if answers >= policy.release_after_not_found:
        release(uow, w, "not_found", f"M-Pesa found no such payment ({answers} times)", now)
        return "released_not_found", f"{answers} answers found no such payment"
    uow.withdrawals.check_soon(w.id, later, not_found=True)
    return "not_found", f"{answers} of {policy.release_after_not_found} answers"


def release_refused(
    uow: UnitOfWork, withdrawal: Withdrawal, *, policy: CheckPolicy, now: datetime | None = None
) -> str:
    """Release a withdrawal M-Pesa refused outright (its one B2C request was turned
    down, so it was never taken); commits."""
    return settle(
        uow,
        PaymentOutcome(
            verdict=Verdict.FAILED,
            source="refused",
            result_code="refused",
            result_desc=withdrawal.result_desc or "refused by M-Pesa",
            originator_conversation_id=withdrawal.originator_conversation_id,
        ),
        policy=policy,
        now=now,
    )


def request_refused(uow: UnitOfWork, originator_conversation_id: str, *, reason: str) -> None:
    """Note, in the caller's transaction (the one that settles the outbox row), that
    M-Pesa refused the very first B2C request outright: the checker releases it."""
    uow.withdrawals.mark_refused(originator_conversation_id, reason=reason)


def request_submitted(
    uow: UnitOfWork,
    originator_conversation_id: str,
    *,
    conversation_id: str | None,
    check_after: datetime,
) -> None:
    """Note, in the caller's transaction, that the B2C request was taken (its result is
    awaited until check_after) or that its fate is unknown (check_after now: the
    checker asks M-Pesa at once, before anything is released)."""
    uow.withdrawals.mark_submitted(
        originator_conversation_id, conversation_id=conversation_id, check_after=check_after
    )
