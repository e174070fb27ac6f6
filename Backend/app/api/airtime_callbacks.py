"""AT's airtime status callback: hostile input that only names a top-up to ask AT about.

AT POSTs a form (phoneNumber, description, status, requestId, discount, value) once a
top-up is final. Its status is never believed: the route stores the callback, then the
service asks AT's transaction status for that requestId and acts on AT's answer only
(services/bills/rail_answers.py). With AT_CALLBACK_TOKEN set, AT is configured to call
`/callbacks/at/airtime-status/<token>` and any other token is refused.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from app.api.callback_store import store
from app.errors import Forbidden, PayTraceError
from app.integrations.at_forms import MalformedForm, parse_form
from app.services.bills import rail_answers
from app.services.facade import ChannelServices
from app.services.inbound_callbacks import record_outcome

log = logging.getLogger("paytrace.callbacks")

router = APIRouter(prefix="/callbacks/at", tags=["callbacks"])


class MalformedCallback(PayTraceError):
    status_code = 400
    code = "malformed_callback"


@router.post("/airtime-status", summary="AT airtime status")
async def airtime_status(request: Request) -> dict[str, str]:
    """Ask AT about the top-up the callback names (deployments without a token)."""
    return await _handle(request, token=None)


@router.post("/airtime-status/{token}", summary="AT airtime status (tokened URL)")
async def airtime_status_with_token(request: Request, token: str) -> dict[str, str]:
    """Ask AT about the top-up the callback names, sent to the secret URL."""
    return await _handle(request, token=token)


async def _handle(request: Request, token: str | None) -> dict[str, str]:
    services: ChannelServices = request.app.state.services
    settings = services.settings
    stored = await store(
        request,
        provider="at",
        kind="airtime_status",
        expected=settings.at_callback_token,
        given=token,
        previous=settings.at_callback_token_previous,
    )
    if not stored.verified:
        log.warning("airtime status with a wrong callback token refused")
        raise Forbidden("invalid callback token")
    try:
        form = parse_form(request.headers.get("content-type"), stored.body)
    except MalformedForm as exc:
        await services.run(record_outcome, stored.callback_id, "malformed", str(exc))
        raise MalformedCallback(str(exc)) from exc
    request_id = form.get("requestId", "").strip()
    if not request_id or len(request_id) > 100:
        await services.run(record_outcome, stored.callback_id, "malformed", "no requestId")
        raise MalformedCallback("field 'requestId' is required")
    outcome = await services.run(
        rail_answers.status_reported,
        services.airtime,
        request_id=request_id,
        recheck_s=settings.bill_status_check_s,
        now=None,
    )
    await services.run(record_outcome, stored.callback_id, outcome, None, request_id)
    return {"status": outcome}
