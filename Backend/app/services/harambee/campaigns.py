"""Starting, changing, finding and reading campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.db.repositories.campaigns import (
    CampaignCodeTaken,
    CampaignFilter,
    CampaignKeyTaken,
    CampaignRow,
)
from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import format_kes, nairobi_day
from app.errors import IdempotencyConflict, NotFound, ServiceUnavailable, refused
from app.services.harambee.common import (
    MAX_ACTIVE_CAMPAIGNS,
    MAX_TARGET,
    CampaignEnded,
    NotOrganiser,
    campaign_not_found,
    check_cents,
    check_description,
    check_end_date,
    check_limit,
    check_title,
)
from app.services.ledger import CHANNELS, request_hash, scoped_key
from app.services.notifications import queue_sms

_CODE_DRAWS = 8  # 900,000 codes: a few redraws make a failure absurd for years
EDITABLE = ("title", "description", "target_amount", "end_date")


@dataclass(frozen=True)
class Started:
    campaign: CampaignRow
    replayed: bool  # True: an earlier call with this key started it


def start_campaign(
    uow: UnitOfWork,
    *,
    organiser_user_id: int,
    title: str,
    target_amount: int,
    key: str,
    shortcode: str,
    description: str = "",
    end_date: date | None = None,
    channel: str = "ussd",
    now: datetime | None = None,
) -> Started:
    """Open a campaign with its own escrow account, and text its code to the
    organiser; commits.

    Idempotent on key (scoped to the organiser): the same request again returns the
    campaign (replayed=True), another request with it raises IdempotencyConflict.
    Raises ValidationFailed ('invalid_title', 'invalid_description', 'invalid_target',
    'invalid_end_date', 'invalid_channel', 'invalid_idempotency_key',
    'too_many_campaigns') and NotFound for an unknown organiser.
    """
    now = now or datetime.now(UTC)
    title = check_title(title)
    description = check_description(description)
    target_amount = check_cents(target_amount, code="invalid_target", maximum=MAX_TARGET)
    end_date = check_end_date(end_date, nairobi_day(now))
    if channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    scoped = scoped_key("campaign", organiser_user_id, key)
    fingerprint = request_hash(
        kind="campaign",
        title=title,
        description=description,
        target=target_amount,
        end_date=end_date.isoformat() if end_date else None,
    )
    for _ in range(_CODE_DRAWS):
        try:
            with uow:
                earlier = _earlier(uow, scoped, fingerprint)
                if earlier is not None:
                    return earlier
                # The wallet's lock makes the cap on active campaigns exact.
                wallet = uow.ledger.accounts(user_ids=[organiser_user_id])
                if not wallet:
                    raise NotFound("no such user")
                if uow.campaigns.count_active(organiser_user_id) >= MAX_ACTIVE_CAMPAIGNS:
                    raise refused(
                        "too_many_campaigns",
                        f"at most {MAX_ACTIVE_CAMPAIGNS} active campaigns at a time",
                    )
                campaign_id = uow.campaigns.create(
                    code=rules.new_campaign_code(),
                    title=title,
                    description=description,
                    target_amount=target_amount,
                    organiser_id=organiser_user_id,
                    end_date=end_date,
                    creation_key=scoped,
                    request_hash=fingerprint,
                    now=now,
                )
                campaign = uow.campaigns.get(campaign_id)
                assert campaign is not None and wallet[0].phone is not None
                queue_sms(
                    uow,
                    to=wallet[0].phone,
                    template="harambee_started",
                    language=wallet[0].language or "en",
                    dedupe_key=f"harambee:{campaign_id}:started",
                    title=campaign.title,
                    code=campaign.code,
                    shortcode=shortcode,
                    target=format_kes(target_amount),
                )
                uow.commit()
            return Started(campaign, replayed=False)
        except CampaignCodeTaken:
            continue
        except CampaignKeyTaken:
            with uow:
                earlier = _earlier(uow, scoped, fingerprint)
            if earlier is None:
                raise ServiceUnavailable("could not start the campaign; retry") from None
            return earlier
    raise ServiceUnavailable("could not draw a free campaign code")


def _earlier(uow: UnitOfWork, key: str, fingerprint: str) -> Started | None:
    found = uow.campaigns.by_creation_key(key)
    if found is None:
        return None
    campaign, stored_hash = found
    if stored_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    return Started(campaign, replayed=True)


def update_campaign(
    uow: UnitOfWork,
    *,
    campaign_id: int,
    user_id: int,
    changes: dict[str, object],
    now: datetime | None = None,
) -> CampaignRow:
    """Change an active campaign's title, description, target or end date (None
    removes it); commits. Only its organiser may.

    Raises NotFound, NotOrganiser, CampaignEnded, ValidationFailed
    ('nothing_to_change', 'invalid_title', 'invalid_description', 'invalid_target',
    'invalid_end_date').
    """
    now = now or datetime.now(UTC)
    unknown = set(changes) - set(EDITABLE)
    if not changes or unknown:
        raise refused("nothing_to_change", f"change one or more of: {', '.join(EDITABLE)}")
    checked: dict[str, object] = {}
    if "title" in changes:
        checked["title"] = check_title(changes["title"])
    if "description" in changes:
        checked["description"] = check_description(changes["description"] or "")
    if "target_amount" in changes:
        checked["target_amount"] = check_cents(
            changes["target_amount"], code="invalid_target", maximum=MAX_TARGET
        )
    if "end_date" in changes:
        end_date = changes["end_date"]
        if end_date is not None and not isinstance(end_date, date):
            raise refused("invalid_end_date", "the end date must be a date")
        checked["end_date"] = check_end_date(end_date, nairobi_day(now))
    with uow:
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None:
            raise campaign_not_found()
        if campaign.organiser_id != user_id:
            raise NotOrganiser()
        if not uow.campaigns.update(campaign_id, checked, now):
            raise CampaignEnded(f"the campaign is {campaign.stored_status}")
        updated = uow.campaigns.get(campaign_id)
        uow.commit()
    assert updated is not None
    return updated


def get_campaign(uow: UnitOfWork, campaign_id: int) -> CampaignRow:
    """Raises NotFound."""
    with uow:
        campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise campaign_not_found()
    return campaign


def find_by_code(uow: UnitOfWork, code: str) -> CampaignRow:
    """The campaign a keypad code names; raises ValidationFailed ('invalid_code'), NotFound."""
    code = code.strip() if isinstance(code, str) else ""
    if not rules.is_campaign_code(code):
        raise refused("invalid_code", f"a campaign code is {rules.CODE_LENGTH} digits")
    with uow:
        found = uow.campaigns.list(CampaignFilter(code=code), limit=1)
    if not found:
        raise campaign_not_found()
    return found[0]


def list_campaigns(
    uow: UnitOfWork, *, where: CampaignFilter, limit: int
) -> tuple[list[CampaignRow], bool]:
    """One page of campaigns, newest first, and whether more match; raises
    ValidationFailed ('invalid_limit', 'invalid_status')."""
    check_limit(limit)
    if where.status is not None and where.status not in rules.CAMPAIGN_STATUSES:
        raise refused("invalid_status", f"one of {', '.join(rules.CAMPAIGN_STATUSES)}")
    with uow:
        found = uow.campaigns.list(where, limit + 1)
    return found[:limit], len(found) > limit
