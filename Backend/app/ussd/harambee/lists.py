"""The Harambee menu's lists: pages of campaigns and pledges, as the session keeps them.

The services answer with their own rows (`CampaignRow`, `PledgeRow`); a screen needs
a few plain values of each, and the session stores them as JSON so that 98 and a
choice on the next hop touch Redis only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.domain import harambee as rules
from app.domain.money import nairobi_day
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.ussd.engine import Context, Goto
from app.ussd.texts import text

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


Fetch = Callable[..., Awaitable[Page]]  # (ctx, *, limit, after_id=None) -> Page


@dataclass(frozen=True)
class Paged:
    """One list screen of the menu: what it fetches, where the session keeps the page,
    and the screen that shows it. 98 shows the next page; a number picks an item."""

    screen: str  # the list's screen, shown again after 98
    items_key: str  # the session keys of the page and of "more to come"
    more_key: str
    fetch: Fetch
    per_screen: int

    async def open(self, ctx: Context) -> list[dict[str, Any]]:
        """The first page, kept in the session; the items (empty: nothing to list)."""
        found, more = await self.fetch(ctx, limit=self.per_screen)
        ctx.state.data.update({self.items_key: found, self.more_key: more})
        return found

    def lines(self, ctx: Context, line: Callable[[int, dict[str, Any]], str]) -> str:
        """The page's numbered lines, and "98. More" while there is more to show."""
        data = ctx.state.data
        shown = [line(n, item) for n, item in enumerate(data.get(self.items_key, []), 1)]
        if data.get(self.more_key):
            shown.append(text(ctx.lang, "nav.more"))
        return "\n".join(shown)

    async def pick(self, ctx: Context, value: str) -> Goto | dict[str, Any] | None:
        """Goto this screen once 98 brought the next page; else the item numbered value,
        or None."""
        data = ctx.state.data
        items = data.get(self.items_key, [])
        if value == "98" and data.get(self.more_key) and items:
            found, more = await self.fetch(ctx, limit=self.per_screen, after_id=items[-1]["id"])
            data.update({self.items_key: found, self.more_key: more})
            return Goto(self.screen)
        if value.isascii() and value.isdigit() and 1 <= int(value) <= len(items):
            return items[int(value) - 1]
        return None
