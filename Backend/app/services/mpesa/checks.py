"""The M-Pesa checker's transactions: what it claims, and what it writes around the
calls it makes to Daraja (app/worker/mpesa.py makes the calls, outside any transaction).

A claim moves each row's next check forward (a lease, committed at once), so a worker
that dies mid-call only delays the row, and other workers skip the rows it holds.
"""

from __future__ import annotations

from datetime import datetime

from app.db.repositories.mpesa_deposits import Deposit
from app.db.repositories.mpesa_withdrawals import Withdrawal
from app.db.unit_of_work import UnitOfWork
from app.services.mpesa import deposits

# Deposit and Withdrawal are the rows the checker is handed (it imports no repository).
__all__ = [
    "MAY_STILL_BE_SENT",
    "Deposit",
    "Withdrawal",
    "b2c_may_still_be_sent",
    "claim_due_deposits",
    "claim_due_withdrawals",
    "close_unpushed",
    "status_query_asked",
    "stk_query_failed",
    "stk_query_later",
]

# Outbox states in which a request (STK push, B2C payment) may still be sent.
MAY_STILL_BE_SENT = ("pending", "sending")


def claim_due_deposits(
    uow: UnitOfWork, *, now: datetime, lease_until: datetime, limit: int
) -> list[Deposit]:
    """Open deposits whose check is due, each leased until lease_until; commits."""
    with uow:
        claimed = uow.deposits.claim_due(now, lease_until, limit)
        uow.commit()
    return claimed


def claim_due_withdrawals(
    uow: UnitOfWork, *, now: datetime, lease_until: datetime, limit: int
) -> list[Withdrawal]:
    """Open withdrawals whose check is due, each leased until lease_until; commits."""
    with uow:
        claimed = uow.withdrawals.claim_due(now, lease_until, limit)
        uow.commit()
    return claimed


def stk_query_failed(
    uow: UnitOfWork, deposit_id: int, *, error: str, next_check_at: datetime
) -> int:
    """An STK query answered with an error decides nothing: count it and ask again at
    next_check_at; returns the deposit's query errors so far. Commits."""
    with uow:
        errors = uow.deposits.query_failed(deposit_id, error=error, next_check_at=next_check_at)
        uow.commit()
    return errors


def stk_query_later(uow: UnitOfWork, deposit_id: int, *, next_check_at: datetime) -> None:
    """The customer has not answered the prompt yet: ask again at next_check_at."""
    with uow:
        uow.deposits.checked(deposit_id, next_check_at=next_check_at)
        uow.commit()


def close_unpushed(uow: UnitOfWork, reference: str) -> bool:
    """Close a deposit whose push was never answered, unless the push may still be
    made: failed when the push failed, unknown when its answer was lost. True when it
    was closed now. Commits."""
    with uow:
        request = uow.deposits.push_request_state(reference)
        if request is None or request[0] in MAY_STILL_BE_SENT:
            return False  # the claim's lease already moved its next check
        unknown = request[0] != "failed"
        deposits.push_failed(uow, reference, reason=f"push {request[0]}", unknown=unknown)
        uow.commit()
    return True


def b2c_may_still_be_sent(uow: UnitOfWork, originator_conversation_id: str) -> bool:
    """True while the withdrawal's B2C request is still to be made (or has none)."""
    with uow:
        request = uow.withdrawals.payment_request_state(originator_conversation_id)
    return request is None or request[0] in MAY_STILL_BE_SENT


def status_query_asked(
    uow: UnitOfWork,
    withdrawal_id: int,
    *,
    conversation_id: str,
    originator_conversation_id: str | None,
) -> None:
    """Store a transaction status query Daraja accepted: its answer is matched to the
    withdrawal by these ids only. Commits."""
    with uow:
        uow.status_queries.add(
            withdrawal_id=withdrawal_id,
            conversation_id=conversation_id,
            originator_conversation_id=originator_conversation_id,
        )
        uow.withdrawals.queried(withdrawal_id, query_conversation_id=conversation_id)
        uow.commit()
