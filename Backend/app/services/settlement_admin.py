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
from app.db.repositories.stellar import SignedEnvelope
from app.db.unit_of_work import UnitOfWork
from app.errors import Conflict, NotFound, ServiceUnavailable
from app.integrations.stellar import StellarNetwork, StellarUnavailable
from app.services import settlement_expiry
from app.services.settlement_expiry import EnvelopeBounds, Fate

LISTED_STATUSES = ("failed", "pending", "submitted")
PAGE_MAX = 200


class NotRetryable(Conflict):
    """Only a parked ('failed') settlement can be retried, and only once the network shows
    the envelope it refused can never apply."""

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


def retry(
    uow: UnitOfWork, network: StellarNetwork | None, *, transaction_id: int
) -> tuple[SettlementState, bool]:
    """Put a parked settlement back to 'pending'; returns its state after, and whether it
    was parked. A 'pending' one is answered as it is (a retry repeated). Whether the
    refused envelope can never apply is asked of the network (app/services/
    settlement_expiry.py), not of any clock here. Raises NotFound (no such transaction,
    or one that moves nothing on-chain), NotRetryable (submitted, settled, or its refused
    envelope could still apply), ServiceUnavailable (the network cannot be asked)."""
    with uow:
        state = uow.settlements.state(transaction_id)
        if state is None:
            raise NotFound("no settlement on Stellar for this transaction")
        refused = uow.settlements.refused_envelope(transaction_id)
    if state.status == "pending":
        return state, False
    if state.status != "failed":
        raise NotRetryable(
            f"only a failed settlement can be retried; this one is {state.status}",
            status=state.status,
        )
    if refused is not None:
        _refuse_unless_dead(network, refused, state)
    with uow:
        retried = uow.settlements.retry(
            transaction_id, refused_envelope_id=refused.id if refused else None
        )
        after = uow.settlements.state(transaction_id)
        assert after is not None  # a settlement row is never deleted
        if not retried and after.status != "pending":
            raise NotRetryable(
                f"it changed meanwhile; it is {after.status}: look again", status=after.status
            )
        uow.commit()
    return after, retried


def _refuse_unless_dead(
    network: StellarNetwork | None, refused: SignedEnvelope, state: SettlementState
) -> None:
    """The refused envelope must be one the network shows can never apply: a new one for
    the same movement would otherwise pay twice if the refused one were applied later."""
    if network is None:
        raise ServiceUnavailable("no Stellar network is configured to ask about the envelope")
    try:
        verdict = settlement_expiry.fate(network, EnvelopeBounds.of(refused))
    except StellarUnavailable as exc:
        raise ServiceUnavailable("the Stellar network cannot be asked now; try again") from exc
    if verdict.fate is Fate.APPLIED:
        raise NotRetryable(
            f"the refused envelope is on the ledger ({verdict.ledger}): reconcile, do not retry",
            status=state.status,
        )
    if verdict.fate is Fate.LIVE:
        raise NotRetryable(
            "the refused envelope could still be applied: retry once the network has closed"
            f" a ledger after {refused.max_time.isoformat()}",
            status=state.status,
        )
