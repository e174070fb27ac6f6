"""What people read about campaigns: their contributions and how they are doing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.repositories.campaigns import CampaignRow
from app.db.repositories.contributions import ContributionRow, ContributionTotals, DailyTotal
from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.errors import NotFound
from app.services.harambee.common import campaign_not_found, check_limit

STATS_DAYS = 30


@dataclass(frozen=True)
class CampaignStats:
    campaign: CampaignRow
    totals: ContributionTotals
    daily: list[DailyTotal]  # the last 30 Nairobi days, oldest first, every day listed
    # Per pledge status: (pledges, cents promised, cents paid toward them).
    pledges: dict[str, tuple[int, int, int]]

    @property
    def average(self) -> int:
        """The mean contribution in whole cents, rounded half up."""
        count = self.totals.contributions
        return (2 * self.totals.amount + count) // (2 * count) if count else 0


def campaign_stats(
    uow: UnitOfWork, campaign_id: int, *, now: datetime | None = None
) -> CampaignStats:
    """What a campaign raised and how: totals, the last 30 days, its pledges; one
    snapshot. Raises NotFound."""
    today = nairobi_day(now or datetime.now(UTC))
    with uow:
        uow.campaigns.snapshot()
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None:
            raise campaign_not_found()
        totals = uow.contributions.totals(campaign_id)
        daily = uow.contributions.daily(campaign_id, today - timedelta(days=STATS_DAYS - 1), today)
        pledges = uow.pledges.statuses(campaign_id, today)
    return CampaignStats(campaign, totals, daily, pledges)


def get_contribution(uow: UnitOfWork, *, contribution_id: int, viewer_id: int) -> ContributionRow:
    """One contribution, for its contributor or the campaign's organiser; raises
    NotFound for anyone else (whether it exists is nobody else's business)."""
    with uow:
        row = uow.contributions.get(contribution_id)
        campaign = uow.campaigns.head(row.campaign_id) if row else None
    if row is None or campaign is None or viewer_id not in (row.user_id, campaign.organiser_id):
        raise NotFound("no such contribution")
    return row


def campaign_contributions(
    uow: UnitOfWork, *, campaign_id: int, before_id: int | None, limit: int
) -> tuple[list[ContributionRow], bool]:
    """One page of a campaign's contributions, newest first, and whether more exist.
    Raises NotFound, ValidationFailed ('invalid_limit')."""
    check_limit(limit)
    with uow:
        if uow.campaigns.head(campaign_id) is None:
            raise campaign_not_found()
        rows = uow.contributions.of_campaign(campaign_id, before_id=before_id, limit=limit + 1)
    return rows[:limit], len(rows) > limit
