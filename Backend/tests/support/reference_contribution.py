"""A contribution posted the way PayTrace posted it before ledger_contribute (migration
0045): statement by statement in one transaction (read the campaign's head, lock the
wallet and the escrow in the lock order, read the key, outflows, campaign and pledge, check in
Python, `LedgerRepository.post`, record the contribution), then COMMIT.

Tests hold the one-statement path to it: the same requests must leave the same journal,
legs, settlements, outflows, contributions and SMS, and meet the same refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.repositories.contributions import PledgeState
from app.db.repositories.ledger import Party
from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import format_kes, nairobi_day, new_reference
from app.errors import InsufficientFunds, NotFound, refused
from app.services.harambee.common import CampaignNotOpen, PledgeNotOpen, campaign_not_found
from app.services.harambee.contributions import (
    Contribution,
    ContributionRequest,
    _checked,
    _receipt,
    _why_not_open,
    milestone_sms,
    receipt_sms,
)
from app.services.ledger import check_limits, earlier_result, run_idempotent


def contribute_by_statements(
    uow: UnitOfWork, request: ContributionRequest, *, now: datetime | None = None
) -> Contribution:
    """What services.harambee.contributions.contribute did before migration 0045."""
    request, key, fingerprint = _checked(request)
    done = run_idempotent(uow, key, fingerprint, lambda: _once(uow, request, key, fingerprint, now))
    return done if isinstance(done, Contribution) else _receipt(uow, done)


def _once(uow, request: ContributionRequest, key: str, fingerprint: str, now):
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        head = uow.campaigns.head(request.campaign_id)
        if head is None:
            raise campaign_not_found()
        # The escrow account this wallet pays: its shard (migration 0059), else shard 0.
        escrows = uow.campaigns.escrow_accounts(head.id)
        found = uow.ledger.accounts(user_ids=[request.user_id], for_update=False)
        if not found:
            raise NotFound("no wallet for this user")
        shard = found[0].id % 8
        escrow_id = escrows[shard] if shard < len(escrows) else escrows[0]
        locked = uow.ledger.accounts(user_ids=[request.user_id], account_ids=[escrow_id])
        wallet = next(a for a in locked if a.user_id == request.user_id)
        escrow = next(a for a in locked if a.id == escrow_id)
        others = uow.ledger.accounts(
            account_ids=[e for e in escrows if e != escrow_id], for_update=False
        )
        held = escrow.balance + sum(a.balance for a in others)  # the campaign's escrow
        state = uow.contributions.state_after_lock(
            key=key,
            campaign_id=head.id,
            wallet_account_id=wallet.id,
            today=today,
            pledge_id=request.pledge_id,
        )
        assert state is not None
        if state.earlier_id is not None:
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
        if not rules.takes_money(state.status, state.end_date, today):
            raise CampaignNotOpen(_why_not_open(state.status))
        amount = request.amount
        if request.pledge_id is not None:
            amount = _pledge_payment(state.pledge, request)
        assert amount is not None and wallet.limits is not None
        check_limits(wallet.limits, amount, state.day_total, state.rolling_total)
        if wallet.balance < amount:
            raise InsufficientFunds(balance=wallet.balance, needed=amount)
        reference = new_reference()
        balance, raised = wallet.balance - amount, held + amount
        assert wallet.user_id is not None and wallet.full_name is not None
        assert wallet.phone is not None and wallet.language is not None
        contributor = Party(wallet.user_id, wallet.full_name, wallet.phone, wallet.language)
        target = state.target_amount
        messages = [
            receipt_sms(
                head,
                contributor,
                reference,
                now,
                amount=format_kes(amount),
                balance=format_kes(balance),
                raised=format_kes(raised),
                target=format_kes(target),
            )
        ]
        milestone = rules.milestone_reached(held, raised, target)
        if milestone is not None:
            messages.append(
                milestone_sms(
                    head,
                    milestone,
                    raised=format_kes(raised),
                    target=format_kes(target),
                    target_cents=str(target),
                )
            )
        tx_id = uow.ledger.post(
            reference=reference,
            kind="contribution",
            amount=amount,
            fee=0,
            idempotency_key=key,
            request_hash=fingerprint,
            legs=[(wallet.id, -amount), (escrow.id, amount)],
            channel=request.channel,
            created_at=now,
            initiator_user_id=request.user_id,
            note=head.title,
            outflow=(wallet.id, today, amount),
            messages=tuple(messages),
        )
        contribution_id = uow.contributions.record(
            transaction_id=tx_id,
            campaign_id=head.id,
            user_id=request.user_id,
            pledge_id=request.pledge_id,
            is_anonymous=request.is_anonymous,
            message=request.message,
        )
        uow.commit()
    return Contribution(
        id=contribution_id,
        transaction_id=tx_id,
        reference=reference,
        campaign_id=head.id,
        user_id=request.user_id,
        contributor_name=contributor.full_name,
        amount=amount,
        pledge_id=request.pledge_id,
        is_anonymous=request.is_anonymous,
        message=request.message,
        created_at=now,
        balance=balance,
        raised=raised,
        replayed=False,
    )


def _pledge_payment(pledge: PledgeState | None, request: ContributionRequest) -> int:
    if pledge is None or pledge.user_id != request.user_id:
        raise NotFound("no such pledge")
    if pledge.status in ("fulfilled", "cancelled"):
        raise PledgeNotOpen(f"the pledge is {pledge.status}")
    remaining = pledge.amount - pledge.paid
    amount = remaining if request.amount is None else request.amount
    if amount > remaining:
        raise refused("exceeds_pledge", f"{remaining} cents remain to pay on this pledge")
    return amount
