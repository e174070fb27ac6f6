"""The organiser's milestone SMS that a contribution could not send.

A contribution sends the milestone the escrow's total has reached when its SMS was not
written yet (ledger_contribute, migration 0059). The escrow is in eight shards, and two
contributions committing on two shards at the same moment may each not count the
other's money: if together they reach a milestone and nobody contributes after them,
neither sent it. The harambee job (app/worker/harambee.py) looks every minute for such
campaigns and sends it, once: the outbox's dedupe key is the one the contribution would
have written, so a contribution and the job racing for it send one SMS.
"""

from __future__ import annotations

from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import format_kes
from app.services.harambee.contributions import milestone_sms

BATCH = 100


def tell_untold_milestones(uow: UnitOfWork, *, limit: int = BATCH) -> int:
    """Queue the milestone SMS of active campaigns that reached one and were not told;
    commits. Returns how many were queued (at most `limit` a call)."""
    with uow:
        untold = uow.campaigns.untold_milestones(rules.MILESTONES, limit)
        queued = 0
        for head, percent, raised, target in untold:
            message = milestone_sms(
                head,
                percent,
                raised=format_kes(raised),
                target=format_kes(target),
                target_cents=str(target),
            )
            added = uow.outbox.add(
                kind=message.kind, payload=message.payload, dedupe_key=message.dedupe_key
            )
            queued += added is not None
        uow.commit()
    return queued
