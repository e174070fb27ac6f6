"""What one settlement round takes: the work waiting, and the plan for it.

The settler (app/worker/settlement.py) asks these each round; the rules of the plan
itself are app/services/settlement_plan.py (pure). Each function is one transaction on
the `UnitOfWork` it is given, like every other service: the settler makes a fresh one
per call, as the API does with `runtime.uow()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db.repositories.stellar import SignedEnvelope
from app.db.unit_of_work import UnitOfWork
from app.services import settlement_plan
from app.services.settlement_plan import Batch

PENDING_SCAN = 2000  # movements looked at per round
ACTIVATIONS_PER_ENVELOPE = 18  # 20 signatures: the channel's, the treasury's, 18 users'


@dataclass(frozen=True)
class Round:
    """The batches planned for the free channels, in order, and how many movements
    needed no payment at all (recorded settled already)."""

    batches: list[Batch] = field(default_factory=list)
    settled_without_payment: int = 0

    def __bool__(self) -> bool:  # the round did something
        return bool(self.batches or self.settled_without_payment)


def plan_round(uow: UnitOfWork, *, max_batches: int) -> Round:
    """Plan the pending movements into at most `max_batches` batches; movements that net
    to no payment are recorded settled (committed) here. Raises nothing of its own."""
    with uow:
        # Parked and in-flight parties before the pending movements: one an operator
        # puts back to pending in between is then seen twice (held back a round),
        # never not at all (later movements of its parties would go ahead of it).
        blocked = uow.settlements.blocking_parties()
        pending = uow.settlements.pending(PENDING_SCAN)
        if not pending:
            return Round()
        batches, empty = settlement_plan.plan(pending, blocked, max_batches=max_batches)
        if empty:
            uow.settlements.mark_settled_without_payment([s.transaction_id for s in empty])
            uow.commit()
    return Round(batches, len(empty))


def waiting_activations(uow: UnitOfWork, *, channels: int) -> list[list[tuple[str, str]]]:
    """Wallets waiting for their account on-chain, (address, secret token), grouped one
    envelope's worth at a time for up to `channels` envelopes. Read only."""
    with uow:
        waiting = uow.settlements.pending_activations(ACTIVATIONS_PER_ENVELOPE * channels)
    return [
        waiting[start : start + ACTIVATIONS_PER_ENVELOPE]
        for start in range(0, len(waiting), ACTIVATIONS_PER_ENVELOPE)
    ]


def signed_envelopes(uow: UnitOfWork) -> list[tuple[str, SignedEnvelope]]:
    """Envelopes saved but not yet answered, (purpose, envelope): after a restart they are
    sent again, as they are, before anything new is built. Read only."""
    with uow:
        return uow.settlements.signed_envelopes()


def outstanding(uow: UnitOfWork) -> int:
    """Movements not yet settled, plus one if any wallet waits for activation (zero:
    nothing is left to do). Read only."""
    with uow:
        return uow.settlements.unsettled_count() + len(uow.settlements.pending_activations(1))
