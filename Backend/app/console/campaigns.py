"""The console's harambee campaigns: the list, a campaign's page, and finishing the
refunds of a cancelled campaign (operator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.console.trail import ConsoleRoute, Operating, Viewer
from app.console.web import redirect
from app.domain import harambee as rules
from app.services import console_campaigns

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]
CAMPAIGNS_PAGE = 50


@router.get("/campaigns", name="campaigns")
async def campaign_list(
    console: Viewer,
    q: Annotated[str, Query(max_length=80)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    if q.strip():
        console.audit.detail["query"] = q.strip()
    rows, more = await console.run(
        console_campaigns.page,
        search=q,
        status=status,
        before_id=before,
        limit=CAMPAIGNS_PAGE,
    )
    return console.page(
        "campaigns.html",
        rows=rows,
        q=q,
        status=status,
        statuses=rules.CAMPAIGN_STATUSES,
        older=rows[-1].id if more and rows else None,
    )


@router.get("/campaigns/{campaign_id}", name="campaign")
async def campaign(
    campaign_id: CampaignId,
    console: Viewer,
    refunded: Annotated[int | None, Query(ge=0, le=10**9)] = None,
) -> Response:
    console.audit.target("campaign", str(campaign_id))
    card = await console.run(console_campaigns.card, campaign_id)
    return console.page(
        "campaign.html",
        card=card,
        c=card.stats.campaign,
        refunded=refunded,
        csrf=console.session.csrf,
        may_act=console.session.role != "viewer",
    )


@router.post("/campaigns/{campaign_id}/refund", name="refund_contributors")
async def refund(campaign_id: CampaignId, console: Operating) -> Response:
    """Refund the contributors of a cancelled campaign not refunded yet, now."""
    console.audit.target("campaign", str(campaign_id))
    made = await console.run(console_campaigns.finish_refunds, campaign_id)
    console.audit.detail["refunds"] = made
    return redirect(f"/console/campaigns/{campaign_id}?refunded={made}")
