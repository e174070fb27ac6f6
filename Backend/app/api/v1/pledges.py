"""Pledges over REST: promise an amount to a harambee by a date, then pay it all or in
parts from the wallet (as USSD's Harambee > My pledges does)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.v1.context import Api, CurrentUser
from app.api.v1.harambee_models import (
    MAX_ID,
    PledgeIn,
    PledgeOut,
    PledgePage,
    PledgePaymentIn,
    PledgePaymentOut,
    PledgeStatus,
)
from app.api.v1.harambee_views import (
    Cursor,
    Limit,
    OptionalKey,
    decode_cursor,
    encode_cursor,
    pledge_out,
    receipt_out,
)
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.domain.records.harambee import PledgeFilter
from app.services.harambee import pledges
from app.services.keys import keyed_digest

router = APIRouter(prefix="/api/v1/pledges", tags=["harambee"], responses={**COMMON, **SIGNED_IN})

PledgeId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
_CURSOR = "p"


@router.post(
    "", summary="Pledge to a harambee", status_code=status.HTTP_201_CREATED, responses=errors(409)
)
async def make_pledge(
    body: PledgeIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: OptionalKey = None,
) -> PledgeOut:
    """A promise to pay `amount` cents by `due_date` (on or before the campaign's end
    date); nothing moves until it is paid. An SMS confirms it. Errors:
    `campaign_not_open` / `idempotency_key_reused` (409), `invalid_due_date` (422)."""
    made = await api.services.run(
        pledges.make_pledge,
        user_id=caller.user_id,
        campaign_id=body.campaign_id,
        amount=body.amount,
        due_date=body.due_date,
        is_anonymous=body.is_anonymous,
        message=body.message,
        key=f"api:{idempotency_key or uuid.uuid4()}",
        shortcode=api.otp_kit.shortcode,
        channel="api",
    )
    if made.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return pledge_out(made.pledge)


@router.get("", summary="My pledges, newest first")
async def list_pledges(
    api: Api,
    caller: CurrentUser,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[PledgeStatus | None, Query(description="one status only")] = None,
    campaign_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> PledgePage:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null."""
    where = PledgeFilter(
        user_id=caller.user_id,
        campaign_id=campaign_id,
        status=status,
        before_id=decode_cursor(_CURSOR, cursor),
    )
    rows, more = await api.services.run(pledges.list_pledges, where=where, limit=limit)
    return PledgePage(
        items=[pledge_out(row) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
    )


@router.get("/{pledge_id}", summary="One of my pledges")
async def get_pledge(pledge_id: PledgeId, api: Api, caller: CurrentUser) -> PledgeOut:
    """What was promised, what has been paid and what remains."""
    row = await api.services.run(pledges.get_pledge, pledge_id=pledge_id, user_id=caller.user_id)
    return pledge_out(row)


@router.post(
    "/{pledge_id}/payments",
    summary="Pay toward my pledge from my wallet",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(403, 409),
        201: {
            "description": "paid; a replay of an earlier request with the same key and body"
            " answers the same, with `Idempotent-Replayed: true`"
        },
    },
)
async def pay_pledge(
    pledge_id: PledgeId,
    body: PledgePaymentIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> PledgePaymentOut:
    """A contribution toward the pledge: `amount` cents, or all that remains when it is
    left out. Errors as for contributions, and `exceeds_pledge` (422: more than
    remains), `pledge_not_open` (409: fulfilled or cancelled)."""
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    attempt_key = f"api-pledge-pay:{caller.user_id}:{idempotency_key}:{pin_digest}"
    done, pledge = await api.services.pay_pledge(
        user_id=caller.user_id,
        pledge_id=pledge_id,
        amount=body.amount,
        key=f"api:{idempotency_key}",
        channel="api",
        pin=body.pin,
        attempt_key=attempt_key,
    )
    if done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return PledgePaymentOut(pledge=pledge_out(pledge), contribution=receipt_out(done))


@router.post("/{pledge_id}/cancel", summary="Withdraw my pledge", responses=errors(409))
async def cancel_pledge(pledge_id: PledgeId, api: Api, caller: CurrentUser) -> PledgeOut:
    """What was already paid toward it stays with the campaign. Cancelling again answers
    the same. Errors: `pledge_not_open` (409: fulfilled)."""
    row = await api.services.run(pledges.cancel_pledge, pledge_id=pledge_id, user_id=caller.user_id)
    return pledge_out(row)
