"""Pledges: a promise to pay a campaign by a date, paid all at once or in parts.

A payment toward a pledge is a contribution that names it (contributions.py), so
it moves money exactly as paying now does. A pledge's state changes only under its
owner's wallet lock (a payment takes it too), so a payment and a cancellation of
the same pledge never cross.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.db.repositories.pledges import PledgeFilter, PledgeKeyTaken, PledgeRow
from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import format_kes, nairobi_day
from app.errors import IdempotencyConflict, NotFound, ServiceUnavailable, refused
from app.services import pins
from app.services.harambee.common import (
    MAX_PLEDGE,
    CampaignNotOpen,
    PledgeNotOpen,
    campaign_not_found,
    check_cents,
    check_limit,
    check_message,
)
from app.services.harambee.contributions import (
    Contribution,
    ContributionRequest,
    contribute,
    contribute_with_pin,
)
from app.services.ledger import CHANNELS, request_hash, scoped_key
from app.services.notifications import queue_sms


@dataclass(frozen=True)
class Pledged:
    pledge: PledgeRow
    replayed: bool  # True: an earlier call with this key made it


def make_pledge(
    uow: UnitOfWork,
    *,
    user_id: int,
    campaign_id: int,
    amount: int,
    due_date: date,
    key: str,
    shortcode: str,
    is_anonymous: bool = False,
    message: str | None = None,
    channel: str = "ussd",
    now: datetime | None = None,
) -> Pledged:
    """Promise amount to an open campaign by due_date, confirmed by SMS; commits.

    Idempotent on key (scoped to the user), like a contribution. Raises NotFound,
    CampaignNotOpen, IdempotencyConflict, ValidationFailed ('invalid_amount',
    'invalid_due_date', 'invalid_message', 'invalid_channel',
    'invalid_idempotency_key').
    """
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    amount = check_cents(amount, code="invalid_amount", maximum=MAX_PLEDGE)
    if not isinstance(due_date, date) or not rules.within_reach(due_date, today):
        raise refused("invalid_due_date", "the due date must be from today to a year ahead")
    message = check_message(message)
    if channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    scoped = scoped_key("pledge", user_id, key)
    fingerprint = request_hash(
        kind="pledge",
        campaign=campaign_id,
        amount=amount,
        due=due_date.isoformat(),
        anonymous=bool(is_anonymous),
        message=message,
    )
    try:
        with uow:
            earlier = _earlier(uow, scoped, fingerprint, today)
            if earlier is not None:
                return earlier
            campaign = uow.campaigns.get(campaign_id)
            user = uow.users.get_by_id(user_id)
            if campaign is None:
                raise campaign_not_found()
            if user is None:
                raise NotFound("no such user")
            if not rules.takes_money(campaign.stored_status, campaign.end_date, today):
                raise CampaignNotOpen(f"the campaign is {campaign.status} or past its end date")
            if campaign.end_date is not None and due_date > campaign.end_date:
                raise refused(
                    "invalid_due_date",
                    f"the campaign ends on {campaign.end_date.isoformat()}: pledge by then",
                )
            pledge_id = uow.pledges.create(
                campaign_id=campaign_id,
                user_id=user_id,
                amount=amount,
                due_date=due_date,
                is_anonymous=bool(is_anonymous),
                message=message,
                creation_key=scoped,
                request_hash=fingerprint,
                now=now,
            )
            queue_sms(
                uow,
                to=user.phone,
                template="harambee_pledged",
                language=user.language,
                dedupe_key=f"pledge:{pledge_id}:made",
                amount=format_kes(amount),
                code=campaign.code,
                title=campaign.title,
                due=due_date.strftime("%d/%m/%y"),
                shortcode=shortcode,
            )
            pledge = uow.pledges.get(pledge_id, today)
            uow.commit()
    except PledgeKeyTaken:
        with uow:
            earlier = _earlier(uow, scoped, fingerprint, today)
        if earlier is None:
            raise ServiceUnavailable("could not make the pledge; retry") from None
        return earlier
    assert pledge is not None
    return Pledged(pledge, replayed=False)


def _earlier(uow: UnitOfWork, key: str, fingerprint: str, today: date) -> Pledged | None:
    found = uow.pledges.by_creation_key(key)
    if found is None:
        return None
    pledge_id, stored_hash = found
    if stored_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    pledge = uow.pledges.get(pledge_id, today)
    assert pledge is not None
    return Pledged(pledge, replayed=True)


def get_pledge(
    uow: UnitOfWork, *, pledge_id: int, user_id: int, now: datetime | None = None
) -> PledgeRow:
    """One of the user's pledges; raises NotFound for anyone else's."""
    with uow:
        pledge = uow.pledges.get(pledge_id, nairobi_day(now or datetime.now(UTC)))
    if pledge is None or pledge.user_id != user_id:
        raise NotFound("no such pledge")
    return pledge


def list_pledges(
    uow: UnitOfWork, *, where: PledgeFilter, limit: int, now: datetime | None = None
) -> tuple[list[PledgeRow], bool]:
    """One page of pledges, newest first, and whether more match; raises
    ValidationFailed ('invalid_limit', 'invalid_status')."""
    check_limit(limit)
    if where.status is not None and where.status not in rules.PLEDGE_STATUSES:
        raise refused("invalid_status", f"one of {', '.join(rules.PLEDGE_STATUSES)}")
    with uow:
        rows = uow.pledges.list(where, nairobi_day(now or datetime.now(UTC)), limit + 1)
    return rows[:limit], len(rows) > limit


def cancel_pledge(
    uow: UnitOfWork, *, pledge_id: int, user_id: int, now: datetime | None = None
) -> PledgeRow:
    """Withdraw a pledge; what was already paid toward it stays with the campaign.
    Cancelling a cancelled pledge answers it again. Commits. Raises NotFound,
    PledgeNotOpen (fulfilled)."""
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        if not uow.ledger.accounts(user_ids=[user_id]):  # the pledge's lock: see above
            raise NotFound("no such pledge")
        pledge = uow.pledges.get(pledge_id, today)
        if pledge is None or pledge.user_id != user_id:
            raise NotFound("no such pledge")
        if pledge.status == "fulfilled":
            raise PledgeNotOpen("the pledge is fulfilled")
        if pledge.cancelled_at is None:
            uow.pledges.cancel(pledge_id, now)
            pledge = uow.pledges.get(pledge_id, today)
        uow.commit()
    assert pledge is not None
    return pledge


def _payment(
    uow: UnitOfWork,
    *,
    pledge_id: int,
    user_id: int,
    amount: int | None,
    key: str,
    channel: str,
) -> ContributionRequest:
    # Who owns a pledge and its campaign never change: safe to read before the locks.
    with uow:
        pledge = uow.pledges.get(pledge_id, nairobi_day(datetime.now(UTC)))
    if pledge is None or pledge.user_id != user_id:
        raise NotFound("no such pledge")
    return ContributionRequest(
        user_id=user_id,
        campaign_id=pledge.campaign_id,
        amount=amount,
        idempotency_key=key,
        channel=channel,
        pledge_id=pledge_id,
        is_anonymous=pledge.is_anonymous,
    )


def pay_pledge(
    uow: UnitOfWork,
    *,
    pledge_id: int,
    user_id: int,
    amount: int | None,
    key: str,
    channel: str = "ussd",
    now: datetime | None = None,
) -> Contribution:
    """Pay amount (None: all that remains) toward the user's pledge from their wallet.
    Raises what contributions.contribute raises, and ValidationFailed
    ('exceeds_pledge'), PledgeNotOpen."""
    request = _payment(
        uow, pledge_id=pledge_id, user_id=user_id, amount=amount, key=key, channel=channel
    )
    return contribute(uow, request, now=now)


def pay_pledge_with_pin(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    *,
    pledge_id: int,
    user_id: int,
    amount: int | None,
    key: str,
    pin: str,
    attempt_key: str | None = None,
    channel: str = "ussd",
    now: datetime | None = None,
) -> Contribution:
    """pay_pledge behind the user's PIN (WrongPin, PinLocked first)."""
    request = _payment(
        uow, pledge_id=pledge_id, user_id=user_id, amount=amount, key=key, channel=channel
    )
    return contribute_with_pin(
        uow, hasher, policy, request, pin=pin, attempt_key=attempt_key, now=now
    )
