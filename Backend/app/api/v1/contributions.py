"""Contributing to a harambee over REST: the same service, limits, PIN lock and SMS
as USSD's Harambee > Contribute > Pay now.

`POST /api/v1/contributions` needs an `Idempotency-Key` header, as Send money does:
the same key and body answer the original contribution again and move nothing.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.v1.context import Api, CurrentUser
from app.api.v1.harambee_models import (
    MAX_ID,
    ContributionIn,
    ContributionOut,
    ContributionReceiptOut,
)
from app.api.v1.harambee_views import contribution_out, receipt_out
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.services.harambee import reports
from app.services.harambee.contributions import ContributionRequest
from app.services.keys import keyed_digest

log = logging.getLogger("paytrace.api")

router = APIRouter(
    prefix="/api/v1/contributions", tags=["harambee"], responses={**COMMON, **SIGNED_IN}
)


@router.post(
    "",
    summary="Contribute to a harambee from my wallet",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(403, 409),
        201: {
            "description": "contributed; a replay of an earlier request with the same key and"
            " body answers the same, with `Idempotent-Replayed: true`"
        },
    },
)
async def contribute(
    body: ContributionIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> ContributionReceiptOut:
    """Move `amount` cents into the campaign's escrow; the contributor gets an SMS
    receipt, the organiser an SMS at 50 % and 100 % of the target. Errors: `wrong_pin`
    (401), `pin_locked` (403), `not_found` (404), `campaign_not_open` /
    `idempotency_key_reused` (409), `insufficient_funds` / `limit_exceeded` (422)."""
    request = ContributionRequest(
        user_id=caller.user_id,
        campaign_id=body.campaign_id,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
        is_anonymous=body.is_anonymous,
        message=body.message,
    )
    # As for transfers: a retry with the same PIN replays its outcome, a corrected PIN
    # is a new attempt; the PIN itself is never stored.
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    attempt_key = f"api-contribute:{caller.user_id}:{idempotency_key}:{pin_digest}"
    done = await api.services.contribute(request, pin=body.pin, attempt_key=attempt_key)
    if done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log.info("api contribution", extra={"transaction_id": done.transaction_id})
    return receipt_out(done)


@router.get("/{contribution_id}", summary="One contribution (mine, or to my campaign)")
async def get_contribution(
    contribution_id: Annotated[int, Path(ge=1, le=MAX_ID)], api: Api, caller: CurrentUser
) -> ContributionOut:
    """Its contributor and the campaign's organiser may read it; to the organiser an
    anonymous contribution has no name."""
    row = await api.services.run(
        reports.get_contribution, contribution_id=contribution_id, viewer_id=caller.user_id
    )
    return contribution_out(row, caller.user_id)
