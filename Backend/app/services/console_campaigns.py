"""The console's harambee campaigns: the list (search by title or code, status, paging),
a campaign's page (escrow, totals, contributions, pledges, its payout and that payout's
settlement on Stellar), and the one operator action the harambee services offer a
third party: finishing the refunds of a cancelled campaign.

Closing and cancelling stay the organiser's (`closing.close_campaign` and
`cancel_campaign` check NotOrganiser); the console does not act in their name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import nairobi_day
from app.domain.records.harambee import (
    CampaignFilter,
    CampaignRow,
    ContributionRow,
    PledgeFilter,
    PledgeRow,
)
from app.services import console_transactions
from app.services.admin_views import TransactionView
from app.services.harambee import campaigns, closing, reports
from app.services.harambee.reports import CampaignStats

RECENT = 20  # contributions and pledges on a campaign's page


@dataclass(frozen=True)
class CampaignCard:
    stats: CampaignStats  # the campaign, its totals, its pledges by status
    contributions: tuple[ContributionRow, ...]  # newest first
    more_contributions: bool
    pledges: tuple[PledgeRow, ...]  # newest first
    payout: TransactionView | None  # the closing payout, with its settlement on Stellar
    refunds_owed: int  # contributors of a cancelled campaign not refunded yet (a page)


def page(
    uow: UnitOfWork, *, search: str, status: str | None, before_id: int | None, limit: int
) -> tuple[list[CampaignRow], bool]:
    """Campaigns newest first: a keypad code names one, other text searches titles.
    Raises ValidationFailed ('invalid_status', 'invalid_limit')."""
    search = search.strip()
    code = search if rules.is_campaign_code(search) else None
    where = CampaignFilter(
        status=status or None,
        search=None if code or not search else search,
        code=code,
        before_id=before_id,
    )
    return campaigns.list_campaigns(uow, where=where, limit=limit)


def card(uow: UnitOfWork, campaign_id: int, now: datetime | None = None) -> CampaignCard:
    """Everything a campaign's page shows. Raises NotFound."""
    now = now or datetime.now(UTC)
    stats = reports.campaign_stats(uow, campaign_id, now=now)
    given, more = reports.campaign_contributions(
        uow, campaign_id=campaign_id, before_id=None, limit=RECENT
    )
    with uow:
        pledged = uow.pledges.list(PledgeFilter(campaign_id=campaign_id), nairobi_day(now), RECENT)
        owed = (
            len(uow.contributions.unrefunded(campaign_id, closing.REFUND_BATCH))
            if stats.campaign.stored_status == "cancelled"
            else 0
        )
    payout_id = stats.campaign.payout_id
    payout = console_transactions.detail(uow, payout_id) if payout_id is not None else None
    return CampaignCard(stats, tuple(given), more, tuple(pledged), payout, owed)


def finish_refunds(uow: UnitOfWork, campaign_id: int) -> int:
    """Refund every contributor of a cancelled campaign not refunded yet (what the
    worker's `finish_refunds` would do later), each once; returns how many this call
    refunded. Raises NotFound, Conflict ('not_cancelled')."""
    campaign = campaigns.get_campaign(uow, campaign_id)
    if campaign.stored_status != "cancelled":
        raise closing.NotCancelled("only a cancelled campaign refunds its contributors")
    made = closing.refund_contributors(uow, campaign_id=campaign_id, channel="admin")
    return len([m for m in made if not m.replayed])
