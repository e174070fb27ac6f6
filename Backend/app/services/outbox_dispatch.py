"""The outbox's three transactions around a provider call: claim, finish, reclaim.

The worker (app/worker/outbox.py) performs each row's effect between the claim and the
finish, outside any transaction; these functions are the database side. A claim is
committed before the call - the at-most-once point - and a finish records the outcome
with whatever the row's handler writes, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from app.db.repositories.outbox import OutboxRow
from app.db.unit_of_work import UnitOfWork

# OutboxRow is the row the worker's handlers are handed (they import no repository).
__all__ = [
    "DONE",
    "FAILED",
    "RETRY",
    "UNKNOWN",
    "OutboxRow",
    "claim_one",
    "finish",
    "reclaim_stale",
]

# A row's outcome: done, failed for good, retried after delay_s, or unknown (an
# operator decides). The worker's Verdict names them.
DONE, FAILED, RETRY, UNKNOWN = "done", "failed", "retry", "unknown"


def reclaim_stale(uow: UnitOfWork, *, resumable_kinds: list[str]) -> list[OutboxRow]:
    """Move rows left in 'sending' past their lease to 'unknown', or back to 'pending'
    for a kind safe to perform again; returns them, each with its new status."""
    with uow:
        rows = uow.outbox.reclaim_stale(resumable_kinds=resumable_kinds)
        uow.commit()
    return rows


def claim_one(
    uow: UnitOfWork, *, kinds: list[str], worker_id: str, lease_s: float
) -> OutboxRow | None:
    """Claim one due row of these kinds (SKIP LOCKED) and mark it 'sending' under a
    lease, committed before the caller performs it; None when nothing is due."""
    with uow:
        rows = uow.outbox.claim(kinds=kinds, limit=1)
        if not rows:
            return None
        attempt = uow.outbox.mark_sending(rows[0].id, worker=worker_id, lease_s=lease_s)
        uow.commit()  # the at-most-once point: committed before the provider call
    return replace(rows[0], attempts=attempt, status="sending")


def finish(
    uow: UnitOfWork,
    row_id: int,
    outcome: str,
    *,
    error: str,
    delay_s: float = 0.0,
    record: Callable[[UnitOfWork], None] = lambda uow: None,
) -> bool:
    """Record a performed row's outcome (DONE, FAILED, RETRY after delay_s, UNKNOWN)
    and what its handler writes (record), in one transaction. False when the row was
    reclaimed meanwhile and its outcome not recorded."""
    with uow:
        record(uow)
        if outcome == DONE:
            settled = uow.outbox.mark_done(row_id)
        elif outcome == FAILED:
            settled = uow.outbox.mark_failed(row_id, error)
        elif outcome == RETRY:
            settled = uow.outbox.mark_retry(row_id, error=error, delay_s=delay_s)
        else:
            settled = uow.outbox.mark_unknown(row_id, error)
        uow.commit()
    return settled
