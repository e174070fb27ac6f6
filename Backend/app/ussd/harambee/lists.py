"""The Harambee menu's lists: pages of campaigns and pledges, as the session keeps them.

The services answer with their own rows (`CampaignRow`, `PledgeRow`); a screen needs
a few plain values of each, and the session stores them as JSON so that 98 and a
choice on the next hop touch Redis only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from app.domain import harambee as rules
from app.domain.money import nairobi_day
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.ussd.engine import Context

Page = tuple[list[dict[str, Any]], bool]  # the items, and whether older ones exist


def today() -> date:
    return nairobi_day(datetime.now(UTC))


def campaign_item(row: CampaignRow, on: date) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "title": row.title,
        "raised": row.current_amount,
        "target": row.target_amount,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "takes_money": rules.takes_money(row.stored_status, row.end_date, on),
    }


def pledge_item(row: PledgeRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "campaign_title": row.campaign_title,
        "campaign_code": row.campaign_code,
        "amount": row.amount,
        "paid": row.paid_amount,
        "due_date": row.due_date.isoformat(),
        "status": row.status,
    }


async def open_campaigns(ctx: Context, *, limit: int, after_id: int | None = None) -> Page:
    """Campaigns taking money today, newest first."""
    on = today()
    where = CampaignFilter(before_id=after_id, stored_status="active", ends_from=on)
    rows, more = await ctx.services.campaigns(where=where, limit=limit)
    return [campaign_item(row, on) for row in rows], more


async def my_campaigns(ctx: Context, *, limit: int, after_id: int | None = None) -> Page:
    """The caller's active campaigns (to close or cancel), newest first."""
    where = CampaignFilter(
        organiser_id=ctx.user.user_id, before_id=after_id, stored_status="active"
    )
    rows, more = await ctx.services.campaigns(where=where, limit=limit)
    on = today()
    return [campaign_item(row, on) for row in rows], more


async def open_pledges(ctx: Context, *, limit: int, after_id: int | None = None) -> Page:
    """The caller's pledges still to pay (pledged, partially paid, overdue)."""
    where = PledgeFilter(user_id=ctx.user.user_id, before_id=after_id, payable_only=True)
    rows, more = await ctx.services.pledges(where=where, limit=limit)
    return [pledge_item(row) for row in rows], more
