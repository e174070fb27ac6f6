"""From the harambee services' records to the API's bodies, and list cursors."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query

from app.api.cursors import decode_cursor, encode_cursor  # noqa: F401 (the lists' own)
from app.api.v1.harambee_models import (
    CampaignContributionOut,
    CampaignOut,
    CampaignStatsOut,
    ContributionOut,
    ContributionReceiptOut,
    DayOut,
    PledgeOut,
    PledgeStatusCounts,
)
from app.domain.harambee import percent_of
from app.domain.records.harambee import CampaignRow, ContributionRow, PledgeRow
from app.services.harambee.common import PAGE_MAX
from app.services.harambee.contributions import Contribution
from app.services.harambee.reports import CampaignStats
from app.services.ledger import MAX_KEY_LENGTH

Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]
Cursor = Annotated[
    str | None, Query(max_length=40, description="`next_cursor` of the previous page")
]
OptionalKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="optional: send one to retry safely (the same key and body answer"
        " what the first request made)",
    ),
]


def campaign_out(row: CampaignRow, caller_id: int) -> CampaignOut:
    return CampaignOut(
        id=row.id,
        code=row.code,
        title=row.title,
        description=row.description,
        target_amount=row.target_amount,
        current_amount=row.current_amount,
        progress_percent=percent_of(row.current_amount, row.target_amount),
        status=row.status,
        end_date=row.end_date,
        organiser_name=row.organiser_name,
        is_organiser=row.organiser_id == caller_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )


def contribution_out(row: ContributionRow, caller_id: int) -> ContributionOut:
    shown = not row.is_anonymous or row.user_id == caller_id
    return ContributionOut(
        id=row.id,
        reference=row.reference,
        campaign_id=row.campaign_id,
        amount=row.amount,
        is_anonymous=row.is_anonymous,
        message=row.message,
        contributor_name=row.contributor_name if shown else None,
        pledge_id=row.pledge_id,
        created_at=row.created_at,
    )


def receipt_out(done: Contribution) -> ContributionReceiptOut:
    return ContributionReceiptOut(
        id=done.id,
        reference=done.reference,
        campaign_id=done.campaign_id,
        amount=done.amount,
        is_anonymous=done.is_anonymous,
        message=done.message,
        contributor_name=done.contributor_name,
        pledge_id=done.pledge_id,
        created_at=done.created_at,
        balance=done.balance,
        campaign_current_amount=done.raised,
    )


def listed_out(row: ContributionRow) -> CampaignContributionOut:
    return CampaignContributionOut(
        id=row.id,
        amount=row.amount,
        contributor_name=None if row.is_anonymous else row.contributor_name,
        is_anonymous=row.is_anonymous,
        message=row.message,
        created_at=row.created_at,
    )


def pledge_out(row: PledgeRow) -> PledgeOut:
    return PledgeOut(
        id=row.id,
        campaign_id=row.campaign_id,
        campaign_code=row.campaign_code,
        campaign_title=row.campaign_title,
        amount=row.amount,
        paid_amount=row.paid_amount,
        remaining_amount=row.remaining,
        due_date=row.due_date,
        status=row.status,
        is_anonymous=row.is_anonymous,
        message=row.message,
        created_at=row.created_at,
    )


def stats_out(stats: CampaignStats) -> CampaignStatsOut:
    live = {status: figures for status, figures in stats.pledges.items() if status != "cancelled"}
    return CampaignStatsOut(
        campaign_id=stats.campaign.id,
        target_amount=stats.campaign.target_amount,
        total_raised=stats.campaign.current_amount,
        contributions=stats.totals.contributions,
        contributors=stats.totals.contributors,
        average_contribution=stats.average,
        pledged_amount=sum(promised for _, promised, _ in live.values()),
        pledge_paid_amount=sum(paid for _, _, paid in live.values()),
        daily=[
            DayOut(date=d.day, amount=d.amount, contributions=d.contributions) for d in stats.daily
        ],
        pledge_statuses=PledgeStatusCounts(
            **{status: count for status, (count, _, _) in stats.pledges.items()}
        ),
    )
