"""Harambee campaigns over REST: the same services as USSD's Harambee menu.

Anyone signed in may find and read campaigns; only a campaign's organiser may change,
close or cancel it. Closing pays the escrow into the organiser's wallet; cancelling
refunds every contributor, once, however often it is repeated.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.admin_models import PrintableStr
from app.api.v1.context import Api, CurrentUser
from app.api.v1.harambee_models import (
    MAX_ID,
    CampaignCancelledOut,
    CampaignClosedOut,
    CampaignContributionPage,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    CampaignStatsOut,
    CampaignStatus,
    MovementOut,
)
from app.api.v1.harambee_views import (
    Cursor,
    Limit,
    OptionalKey,
    campaign_out,
    decode_cursor,
    encode_cursor,
    listed_out,
    stats_out,
)
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.domain.harambee import TITLE_MAX
from app.domain.records.harambee import CampaignFilter
from app.services.harambee import campaigns, closing, reports

router = APIRouter(prefix="/api/v1/campaigns", tags=["harambee"], responses={**COMMON, **SIGNED_IN})

CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
_CURSOR = "c"
_CONTRIBUTIONS_CURSOR = "k"


@router.post(
    "",
    summary="Start a harambee",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def start(
    body: CampaignIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: OptionalKey = None,
) -> CampaignOut:
    """A campaign with its own escrow account and a six-digit code, texted to the
    organiser to share. Errors: `invalid_title`, `invalid_end_date`, `too_many_campaigns`
    (422), `idempotency_key_reused` (409)."""
    started = await api.services.run(
        campaigns.start_campaign,
        organiser_user_id=caller.user_id,
        title=body.title,
        description=body.description,
        target_amount=body.target_amount,
        end_date=body.end_date,
        key=f"api:{idempotency_key or uuid.uuid4()}",
        shortcode=api.otp_kit.shortcode,
        channel="api",
    )
    if started.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return campaign_out(started.campaign, caller.user_id)


@router.get("", summary="Find campaigns, newest first")
async def list_campaigns(
    api: Api,
    caller: CurrentUser,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[CampaignStatus | None, Query(description="one status only")] = None,
    mine: Annotated[bool, Query(description="only campaigns I organise")] = False,
    q: Annotated[
        PrintableStr | None, Query(min_length=1, max_length=TITLE_MAX, description="in the title")
    ] = None,
    code: Annotated[str | None, Query(pattern=r"^[0-9]{6}$", examples=["482913"])] = None,
) -> CampaignPage:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null. `code`
    finds the campaign a six-digit code names (USSD's way in)."""
    where = CampaignFilter(
        status=status,
        organiser_id=caller.user_id if mine else None,
        search=q,
        code=code,
        before_id=decode_cursor(_CURSOR, cursor),
    )
    rows, more = await api.services.run(campaigns.list_campaigns, where=where, limit=limit)
    return CampaignPage(
        items=[campaign_out(row, caller.user_id) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
    )


@router.get("/{campaign_id}", summary="One campaign")
async def get_campaign(campaign_id: CampaignId, api: Api, caller: CurrentUser) -> CampaignOut:
    """Its target, what it has raised (read from its escrow account) and its status."""
    row = await api.services.run(campaigns.get_campaign, campaign_id)
    return campaign_out(row, caller.user_id)


@router.patch("/{campaign_id}", summary="Change my campaign", responses=errors(403, 409))
async def patch_campaign(
    campaign_id: CampaignId, body: CampaignPatch, api: Api, caller: CurrentUser
) -> CampaignOut:
    """The organiser may change the title, description, target and end date (null
    removes it) of an active campaign. Errors: `not_organiser` (403), `campaign_ended`
    (409), `nothing_to_change` (422)."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    row = await api.services.run(
        campaigns.update_campaign, campaign_id=campaign_id, user_id=caller.user_id, changes=changes
    )
    return campaign_out(row, caller.user_id)


@router.delete(
    "/{campaign_id}",
    summary="Cancel my campaign and refund every contributor",
    responses=errors(403, 409),
)
async def cancel_campaign(
    campaign_id: CampaignId, api: Api, caller: CurrentUser
) -> CampaignCancelledOut:
    """Each contributor gets back exactly what they paid, by a ledger movement and an
    SMS. Repeating it refunds nobody twice (it finishes refunds an interrupted call
    left). Errors: `not_organiser` (403), `campaign_ended` (409: closed and paid out)."""
    done = await api.services.run(
        closing.cancel_campaign, campaign_id=campaign_id, user_id=caller.user_id, channel="api"
    )
    return CampaignCancelledOut(
        campaign=campaign_out(done.campaign, caller.user_id),
        refunded_contributors=len(done.refunds),
        refunded_amount=sum(refund.amount for refund in done.refunds),
    )


@router.post(
    "/{campaign_id}/close",
    summary="Close my campaign and take the money raised",
    responses=errors(403, 409),
)
async def close_campaign(
    campaign_id: CampaignId, api: Api, caller: CurrentUser
) -> CampaignClosedOut:
    """Everything the escrow holds goes into the organiser's wallet (SMS confirms it);
    the campaign takes no more money. Closing again answers the same payout. Errors:
    `not_organiser` (403), `campaign_ended` (409: cancelled)."""
    done = await api.services.run(
        closing.close_campaign, campaign_id=campaign_id, user_id=caller.user_id, channel="api"
    )
    payout = done.payout
    return CampaignClosedOut(
        campaign=campaign_out(done.campaign, caller.user_id),
        payout=MovementOut(
            reference=payout.reference, amount=payout.amount, created_at=payout.created_at
        )
        if payout
        else None,
    )


@router.get("/{campaign_id}/contributions", summary="A campaign's contributions, newest first")
async def list_contributions(
    campaign_id: CampaignId, api: Api, caller: CurrentUser, limit: Limit = 20, cursor: Cursor = None
) -> CampaignContributionPage:
    """Anonymous contributions are listed without a name."""
    before_id = decode_cursor(_CONTRIBUTIONS_CURSOR, cursor)
    rows, more = await api.services.run(
        reports.campaign_contributions, campaign_id=campaign_id, before_id=before_id, limit=limit
    )
    return CampaignContributionPage(
        items=[listed_out(row) for row in rows],
        next_cursor=encode_cursor(_CONTRIBUTIONS_CURSOR, rows[-1].id) if more and rows else None,
    )


@router.get("/{campaign_id}/stats", summary="How a campaign is doing")
async def stats(campaign_id: CampaignId, api: Api, caller: CurrentUser) -> CampaignStatsOut:
    """Total raised, contributors, the average contribution, pledged against paid, the
    last 30 days day by day and how many pledges are in each status."""
    found = await api.services.run(reports.campaign_stats, campaign_id)
    return stats_out(found)
