"""Operators and settlements on Stellar: the movements parked, pending or in flight, and
the retry of a parked one once its cause is fixed.

A movement the network refused is parked ('failed', with the network's codes in
last_error) and holds back every later movement of the wallets it touches; the settler
never sends it again on its own. Retrying puts it back to 'pending': the settler then
plans it in journal order and signs a NEW envelope for it. That is safe because the
refused envelope moved nothing (Stellar applies all the operations of a transaction or
none of them) and can never apply later (see docs/stellar.md).
"""

from __future__ import annotations

from app.db.repositories.settlements import SettlementState
from app.db.unit_of_work import UnitOfWork
from app.errors import Conflict, NotFound

LISTED_STATUSES = ("failed", "pending", "submitted")
PAGE_MAX = 200


class NotRetryable(Conflict):
    """Only a parked ('failed') settlement can be retried, and only once the envelope the
    network refused is past its time bound (it can then never apply)."""

    code = "not_retryable"


def unsettled(
    uow: UnitOfWork, *, status: str, limit: int, after: int | None = None
) -> tuple[list[SettlementState], bool]:
    """One page of the settlements in `status`, oldest (journal order) first, after the
    journal transaction `after`, and whether more follow. Raises ValueError for a status
    or a limit out of range, ServiceUnavailable."""
    if status not in LISTED_STATUSES:
        raise ValueError(f"status must be one of {LISTED_STATUSES}")
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    with uow:
        rows = uow.settlements.unsettled_page(status, limit + 1, after)
    return rows[:limit], len(rows) > limit


def retry(uow: UnitOfWork, *, transaction_id: int) -> tuple[SettlementState, bool]:
    """Put a parked settlement back to 'pending'; returns its state after, and whether it
    was parked. A 'pending' one is answered as it is (a retry repeated); raises NotFound
    (no such transaction, or one that moves nothing on-chain), NotRetryable (submitted or
    settled), ServiceUnavailable."""
    with uow:
        retried = uow.settlements.retry(transaction_id)
        state = uow.settlements.state(transaction_id)
        if state is None:
            raise NotFound("no settlement on Stellar for this transaction")
        if not retried and state.status == "failed":
            until = uow.settlements.refused_envelope_live_until(transaction_id)
            raise NotRetryable(
                "the refused envelope could still be applied until"
                f" {until.isoformat() if until else 'its time bound'}; retry after that",
                status=state.status,
            )
        if not retried and state.status != "pending":
            raise NotRetryable(
                f"only a failed settlement can be retried; this one is {state.status}",
                status=state.status,
            )
        uow.commit()
    return state, retried
