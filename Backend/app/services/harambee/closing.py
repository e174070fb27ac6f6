"""Ending a campaign: closing pays the escrow out to the organiser; cancelling
refunds every contributor exactly what they paid.

Both first change the campaign's status under the escrow's lock, the lock every
contribution takes, so no contribution can slip in after the campaign ended. A
refund is one ledger movement per contributor (escrow to wallet, with an SMS),
keyed 'campaign_refund:<campaign>:<user>': however often cancelling is repeated
or resumed (by the organiser, or by the worker after a crash), each contributor
is refunded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.campaigns import CampaignHead, CampaignRow
from app.db.repositories.ledger import KeyTaken, LockedAccount, ReferenceTaken
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.errors import Conflict, NotFound, ServiceUnavailable
from app.services.harambee.common import CampaignEnded, NotOrganiser, campaign_not_found
from app.services.ledger import (
    Movement,
    earlier_result,
    request_hash,
    run_idempotent,
    sms_time,
)
from app.services.notifications import journal_sms_key, sms_message

REFUND_BATCH = 100
_ATTEMPTS = 5


@dataclass(frozen=True)
class Closed:
    campaign: CampaignRow
    payout: Movement | None  # None: the escrow held nothing to pay out


@dataclass(frozen=True)
class Cancelled:
    campaign: CampaignRow
    refunds: list[Movement]  # the refunds this call made (earlier ones are not repeated)


def payout_key(campaign_id: int) -> str:
    return f"campaign_payout:{campaign_id}"


def refund_key(campaign_id: int, user_id: int) -> str:
    return f"campaign_refund:{campaign_id}:{user_id}"


def _organisers_head(uow: UnitOfWork, campaign_id: int, user_id: int) -> CampaignHead:
    with uow:
        head = uow.campaigns.head(campaign_id)
    if head is None:
        raise campaign_not_found()
    if head.organiser_id != user_id:
        raise NotOrganiser()
    return head


def close_campaign(
    uow: UnitOfWork,
    *,
    campaign_id: int,
    user_id: int,
    channel: str = "ussd",
    now: datetime | None = None,
) -> Closed:
    """Close the campaign and pay everything its escrow holds into the organiser's
    wallet (SMS to the organiser); commits. Closing a closed campaign answers the
    same payout again. Raises NotFound, NotOrganiser, CampaignEnded (cancelled)."""
    head = _organisers_head(uow, campaign_id, user_id)
    fingerprint = request_hash(kind="campaign_payout", campaign=campaign_id)
    for _ in range(_ATTEMPTS):
        try:
            return _close_once(uow, head, fingerprint, channel, now or datetime.now(UTC))
        except (ReferenceTaken, KeyTaken):
            continue  # a redraw, or a concurrent close that committed: see it next time
    raise ServiceUnavailable("could not close the campaign; retry")


def _close_once(
    uow: UnitOfWork, head: CampaignHead, fingerprint: str, channel: str, now: datetime
) -> Closed:
    key = payout_key(head.id)
    with uow:
        escrow_ids = uow.campaigns.escrow_accounts(head.id)
        locked = uow.ledger.accounts(user_ids=[head.organiser_id], account_ids=escrow_ids)
        escrows, wallet = _split(locked, escrow_ids, head.organiser_id)
        status = uow.campaigns.stored_status(head.id)
        if status == "cancelled":
            raise CampaignEnded("the campaign was cancelled")
        if status == "closed":
            earlier = earlier_result(uow, key, fingerprint)
            campaign = uow.campaigns.get(head.id)
            assert campaign is not None
            return Closed(campaign, earlier)
        payout = None
        held = sum(e.balance for e in escrows)
        if held > 0:
            payout = _post(
                uow,
                kind="campaign_payout",
                template="harambee_payout",
                head=head,
                draws=[(e.id, e.balance) for e in escrows if e.balance],
                wallet=wallet,
                key=key,
                fingerprint=fingerprint,
                channel=channel,
                now=now,
            )
        uow.campaigns.end(
            head.id,
            status="closed",
            payout_id=payout.transaction_id if payout else None,
            now=now,
        )
        campaign = uow.campaigns.get(head.id)
        uow.commit()
    assert campaign is not None
    return Closed(campaign, payout)


def cancel_campaign(
    uow: UnitOfWork,
    *,
    campaign_id: int,
    user_id: int,
    channel: str = "ussd",
    now: datetime | None = None,
) -> Cancelled:
    """Cancel the campaign, then refund every contributor what they paid (one
    movement and one SMS each); commits once per step. Repeating it finishes what
    an interrupted call left and refunds nobody twice. Raises NotFound,
    NotOrganiser, CampaignEnded (closed and paid out)."""
    _organisers_head(uow, campaign_id, user_id)  # raises unless the caller organises it
    with uow:
        # The escrow's locks: every contribution takes one of them and reads the status
        # after.
        uow.ledger.accounts(account_ids=uow.campaigns.escrow_accounts(campaign_id))
        status = uow.campaigns.stored_status(campaign_id)
        if status == "closed":
            raise CampaignEnded("the campaign was closed and paid out")
        if status == "active":
            uow.campaigns.end(
                campaign_id, status="cancelled", payout_id=None, now=now or datetime.now(UTC)
            )
            uow.commit()
    refunds = refund_contributors(uow, campaign_id=campaign_id, channel=channel, now=now)
    with uow:
        campaign = uow.campaigns.get(campaign_id)
    assert campaign is not None
    return Cancelled(campaign, [r for r in refunds if not r.replayed])


def refund_contributors(
    uow: UnitOfWork,
    *,
    campaign_id: int,
    channel: str = "system",
    now: datetime | None = None,
) -> list[Movement]:
    """Refund each contributor of a cancelled campaign not refunded yet; returns
    the refunds. Raises Conflict ('not_cancelled') for a campaign not cancelled."""
    made: list[Movement] = []
    while True:
        with uow:
            users = uow.contributions.unrefunded(campaign_id, REFUND_BATCH)
        if not users:
            return made
        for user_id in users:
            made.append(
                refund_contributor(
                    uow, campaign_id=campaign_id, user_id=user_id, channel=channel, now=now
                )
            )


class NotCancelled(Conflict):
    code = "not_cancelled"


def refund_contributor(
    uow: UnitOfWork,
    *,
    campaign_id: int,
    user_id: int,
    channel: str = "system",
    now: datetime | None = None,
) -> Movement:
    """Pay one contributor of a cancelled campaign back everything they contributed
    to it, once (a repeat returns that refund, replayed=True); commits. Raises
    NotFound, NotCancelled."""
    key = refund_key(campaign_id, user_id)
    fingerprint = request_hash(kind="campaign_refund", campaign=campaign_id, user=user_id)

    def attempt() -> Movement:
        with uow:
            head = uow.campaigns.head(campaign_id)
            if head is None:
                raise campaign_not_found()
            escrow_ids = uow.campaigns.escrow_accounts(campaign_id)
            locked = uow.ledger.accounts(user_ids=[user_id], account_ids=escrow_ids)
            _, wallet = _split(locked, escrow_ids, user_id)
            earlier = earlier_result(uow, key, fingerprint)
            if earlier is not None:
                return earlier
            if uow.campaigns.stored_status(campaign_id) != "cancelled":
                raise NotCancelled("only a cancelled campaign refunds its contributors")
            # From the escrow accounts the user's contributions went to, each its part.
            draws = uow.contributions.contributed_by_account(campaign_id, user_id)
            if not draws:
                raise NotFound("this user did not contribute to the campaign")
            movement = _post(
                uow,
                kind="campaign_refund",
                template="harambee_refund",
                head=head,
                draws=draws,
                wallet=wallet,
                key=key,
                fingerprint=fingerprint,
                channel=channel,
                now=now or datetime.now(UTC),
            )
            uow.commit()
        return movement

    return run_idempotent(uow, key, fingerprint, attempt)


def finish_refunds(uow: UnitOfWork, *, campaigns: int = 10) -> int:
    """Refund the contributors of cancelled campaigns that still hold money (a
    cancel interrupted part way); the worker runs it. Returns refunds made."""
    with uow:
        pending = uow.campaigns.cancelled_holding_money(campaigns)
    return sum(
        len([r for r in refund_contributors(uow, campaign_id=c) if not r.replayed]) for c in pending
    )


def _split(
    locked: list[LockedAccount], escrow_ids: list[int], user_id: int
) -> tuple[list[LockedAccount], LockedAccount]:
    """The campaign's escrow accounts and the user's wallet, from one locking read."""
    escrows = [a for a in locked if a.id in escrow_ids]
    wallet = next((a for a in locked if a.user_id == user_id), None)
    if wallet is None:
        raise NotFound("no wallet for this user")
    return escrows, wallet


def _post(
    uow: UnitOfWork,
    *,
    kind: str,
    template: str,
    head: CampaignHead,
    draws: list[tuple[int, int]],
    wallet: LockedAccount,
    key: str,
    fingerprint: str,
    channel: str,
    now: datetime,
) -> Movement:
    """Escrow to wallet: a payout or a refund, with its SMS, in the open transaction.
    `draws`: (escrow account, cents) from each escrow account it takes money from."""
    assert wallet.user_id is not None and wallet.phone is not None
    amount = sum(cents for _, cents in draws)
    reference = new_reference()
    balance = wallet.balance + amount
    tx_id = uow.ledger.post(
        reference=reference,
        kind=kind,
        amount=amount,
        fee=0,
        idempotency_key=key,
        request_hash=fingerprint,
        legs=[*((account, -cents) for account, cents in draws), (wallet.id, amount)],
        channel=channel,
        created_at=now,
        note=head.title,
        messages=(
            sms_message(
                to=wallet.phone,
                template=template,
                language=wallet.language or "en",
                dedupe_key=journal_sms_key(reference, wallet.user_id),
                reference=reference,
                code=head.code,
                title=head.title,
                amount=format_kes(amount),
                when=sms_time(now),
                balance=format_kes(balance),
            ),
        ),
    )
    return Movement(tx_id, reference, kind, amount, 0, now, {wallet.user_id: balance})
