"""An operator's mark on a hot account: locked last in the ledger's lock order.

Every movement locks the ledger accounts it touches in one order, (locked_last, id),
which is what makes deadlocks impossible (migration 0058). A movement that only
credits the account that sorts last leaves that lock to its leg's UPDATE, so a marked
account everyone pays (a busy shop's wallet, a merchant's account, a harambee's
escrow) is held for a movement's legs, SMS and COMMIT instead of all its checks and
rows: docs/architecture.md, "The lock order"; docs/benchmarks.md measures it.

Changing the order while movements run could let two of them lock the same accounts
in opposite orders, so a change first waits until no transaction that read the
accounts is running and keeps new ones out until it commits (an ACCESS EXCLUSIVE
lock). Every ledger read that comes meanwhile queues behind it, so it waits briefly
(FENCE_WAIT_MS) and tries again after a pause, a few times: a long read (a
reconciliation's scan) costs the ledger a quarter of a second per try, never seconds.
If every try finds the ledger busy, nothing changes and LedgerBusy says to retry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from app.db.unit_of_work import UnitOfWork
from app.domain.records.ledger import AccountLockOrder
from app.errors import LedgerBusy, NotFound

FENCE_WAIT_MS = 250  # what a ledger read may wait at most for one try of a change
FENCE_TRIES = 5
FENCE_PAUSE_S = 0.1  # between tries: what was queued behind one runs
MARKED_PAGE_MAX = 500


@dataclass(frozen=True)
class Owner:
    """Whose account: exactly one of a wallet's phone (E.164), a merchant, a campaign."""

    phone: str | None = None
    merchant_id: int | None = None
    campaign_code: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.phone, self.merchant_id, self.campaign_code) if v is not None]
        if len(given) != 1:
            raise ValueError("an Owner names exactly one account")


def account_of(uow: UnitOfWork, owner: Owner) -> AccountLockOrder:
    """The owner's account and its place in the lock order. Raises NotFound."""
    with uow:
        found = uow.lock_order.find(
            phone=owner.phone, merchant_id=owner.merchant_id, campaign_code=owner.campaign_code
        )
    if found is None:
        raise NotFound("no PayTrace account belongs to this owner")
    return found


def marked(uow: UnitOfWork, limit: int = MARKED_PAGE_MAX) -> list[AccountLockOrder]:
    """The accounts marked locked last."""
    with uow:
        return uow.lock_order.marked(limit)


def mark_locked_last(
    uow: UnitOfWork,
    owner: Owner,
    locked_last: bool,
    *,
    wait_ms: int = FENCE_WAIT_MS,
    tries: int = FENCE_TRIES,
) -> tuple[AccountLockOrder, bool]:
    """Mark (or unmark) the owner's account locked last; commits. Returns the account
    and whether anything changed (marking it again changes nothing and takes no
    fence). Raises NotFound, LedgerBusy (no try had the fence within wait_ms;
    nothing changed)."""
    found = account_of(uow, owner)
    if found.locked_last == locked_last:
        return found, False
    for attempt in range(1, tries + 1):
        try:
            with uow:
                uow.lock_order.fence(wait_ms)
                # Under the fence: another operator's change may have come first.
                changed = uow.lock_order.mark(found.account_id, locked_last)
                if changed:
                    uow.commit()
            return replace(found, locked_last=locked_last), changed
        except LedgerBusy:
            if attempt == tries:
                raise
            time.sleep(FENCE_PAUSE_S)
    raise AssertionError("unreachable: the last try returns or raises")
