"""What the network's answer to an envelope means, recorded; and what the settler does next.

For both kinds of envelope (settlement, activations):

* applied: the envelope and what it carried are recorded settled, with hash and ledger;
* retry (timeout, 5xx): nothing is recorded; the very same bytes go again later;
* bad sequence / too late: the network is asked (app/services/settlement_expiry.py);
  dead only on its word (what the envelope carried is planned again and the channel's
  sequence reloaded), else the same bytes go again later;
* refused: movements whose operations failed are parked for an operator (they block
  later movements spending from the same parties), the others are planned again;
  wallets already on-chain count as active, the others are parked.

Each function records on the `UnitOfWork` it is given, in one transaction (a refused
activation in two, around the network's answers: see there), and returns a `Next` for
the settler's own state (its channels, their sequences, when to resend). The network
is asked before any transaction opens, so no connection waits on Horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.db.repositories.settlements import OpenSettlement
from app.db.repositories.stellar import SignedEnvelope
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import StellarNetwork, Submission, SubmitResult
from app.services import settlement_expiry, settlement_plan
from app.services.settlement_expiry import EnvelopeBounds, Fate

log = logging.getLogger("paytrace.settlement")


class Step(StrEnum):
    DONE = "done"  # recorded applied: the channel is free, its sequence moved on as counted
    FREED = "freed"  # recorded dead or refused: the channel is free, reload its sequence
    RESEND = "resend"  # the same bytes go again after a wait
    LIVE = "live"  # the network says it may still apply: resend once before asking again


@dataclass(frozen=True)
class Next:
    step: Step
    why: str = ""


def record_answer(
    uow: UnitOfWork,
    network: StellarNetwork,
    envelope: SignedEnvelope,
    purpose: str,
    result: SubmitResult,
) -> Next:
    """Record the network's answer to a submission of `envelope` ('settlement' or
    'activations'). Raises StellarUnavailable when the network, asked about the
    envelope, cannot answer (nothing is recorded then: ask again later)."""
    if result.outcome is Submission.APPLIED:
        return record_applied(uow, envelope, purpose, result.ledger or 0)
    if result.outcome is Submission.RETRY:
        return Next(Step.RESEND, result.error or "retry")
    if result.outcome in (Submission.BAD_SEQUENCE, Submission.EXPIRED):
        return record_if_unusable(uow, network, envelope, purpose)
    if purpose == "activations":
        return _activations_refused(uow, network, envelope, result.result_codes)
    return _settlement_refused(uow, envelope, result.result_codes)


def ask_before_resending(envelope: SignedEnvelope, *, now: datetime, live_by_network: bool) -> bool:
    """Whether to ask the network about the envelope (record_if_unusable) rather than send
    it again: when this clock says its time bound has passed, unless the network has just
    said it may still apply. This clock is only a hint to ask; it never kills. Pure."""
    return now > envelope.max_time and not live_by_network


def record_if_unusable(
    uow: UnitOfWork, network: StellarNetwork, envelope: SignedEnvelope, purpose: str
) -> Next:
    """The envelope may be past use: settled if it applied, dead only if the network
    shows it never can; otherwise the same bytes go again later. Raises
    StellarUnavailable (nothing decided)."""
    verdict = settlement_expiry.fate(network, EnvelopeBounds.of(envelope))
    if verdict.fate is Fate.APPLIED:  # it did apply; the answer saying so was lost
        return record_applied(uow, envelope, purpose, verdict.ledger or 0)
    if verdict.fate is Fate.LIVE:
        # This clock may be ahead of the network's: the same bytes go again once the
        # wait is over (the network then applies them or answers too late).
        return Next(Step.LIVE, f"not dead yet: {verdict.why}")
    with uow:
        if purpose == "activations":
            uow.settlements.finish_activations(envelope.id, "dead")
        else:
            uow.settlements.release(envelope.id, "dead")
        uow.commit()
    log.info("envelope dead; what it carried will be built again", extra={"why": verdict.why})
    return Next(Step.FREED, verdict.why)


def record_applied(uow: UnitOfWork, envelope: SignedEnvelope, purpose: str, ledger: int) -> Next:
    """Record the envelope applied in `ledger`, with what it carried. Raises nothing."""
    activations = purpose == "activations"
    with uow:
        if activations:
            wallets = uow.settlements.activating(envelope.id)
            uow.settlements.finish_activations(
                envelope.id, "applied", ledger=ledger, active=wallets
            )
            count = len(wallets)
        else:
            count = uow.settlements.mark_settled(
                envelope.id, tx_hash=envelope.tx_hash, ledger=ledger
            )
        uow.commit()
    log.info(
        "applied on stellar",
        extra={"what": "activations" if activations else "movements", "count": count},
    )
    return Next(Step.DONE)


def _settlement_refused(uow: UnitOfWork, envelope: SignedEnvelope, codes: dict) -> Next:
    with uow:
        failed = failing_movements(uow.settlements.of_envelope(envelope.id), codes)
        uow.settlements.release(envelope.id, "failed", failed=failed, result_codes=codes)
        uow.commit()
    log.error(
        "settlement refused by the network; movements parked for an operator",
        extra={"parked": len(failed), "result_codes": codes},
    )
    # A refused transaction may have used its sequence number.
    return Next(Step.FREED, "refused")


def _activations_refused(
    uow: UnitOfWork, network: StellarNetwork, envelope: SignedEnvelope, codes: dict
) -> Next:
    # Two short transactions around the network's answers, so that no connection
    # waits in a transaction on Horizon.
    with uow:
        wallets = uow.settlements.activating(envelope.id)
    active, failed = refused_activations(
        wallets, codes, on_chain=lambda a: network.account(a) is not None
    )
    with uow:
        uow.settlements.finish_activations(
            envelope.id, "failed", active=active, failed=failed, result_codes=codes
        )
        uow.commit()
    log.error(
        "activation refused by the network",
        extra={"parked": len(failed), "already_active": len(active), "result_codes": codes},
    )
    return Next(Step.FREED, "refused")


def failing_movements(carried: list[OpenSettlement], codes: dict) -> dict[int, str]:
    """Which movements of a refused envelope failed (their operations did), with why.
    When the network names no failing operation, all of them are parked. Pure."""
    operations = codes.get("operations") or []
    failed: dict[int, str] = {}
    index = 0
    for settlement in carried:
        count = len(settlement_plan.payments_for(settlement))
        own = operations[index : index + count]
        index += count
        bad = [code for code in own if code != "op_success"]
        if bad:
            failed[settlement.transaction_id] = ", ".join(bad)
    if not failed:
        why = str(codes.get("transaction") or "refused")
        failed = {s.transaction_id: why for s in carried}
    return failed


def refused_activations(
    wallets: list[str], codes: dict, *, on_chain: Callable[[str], bool]
) -> tuple[list[str], list[str]]:
    """(active, failed) among the wallets of a refused activation envelope, whose four
    operations each failed: already on-chain (activated before, e.g. by an earlier
    version) counts as active, otherwise parked. A wallet whose operations all succeeded
    was refused for another's sake and goes again (in neither list). When the network
    names no operation, every wallet not on-chain is parked. Raises what `on_chain` does."""
    operations = codes.get("operations") or []
    active, failed = [], []
    for index, address in enumerate(wallets):
        own = operations[4 * index : 4 * index + 4]
        if own and all(code == "op_success" for code in own):
            continue  # refused for another wallet's sake: it goes again
        if on_chain(address):
            active.append(address)
        else:
            failed.append(address)
    if not active and not failed:  # the network named no operation: park them all
        failed = [a for a in wallets if not on_chain(a)]
        active = [a for a in wallets if a not in failed]
    return active, failed
