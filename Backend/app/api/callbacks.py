"""Callbacks from Africa's Talking: SMS delivery reports.

AT POSTs a form (id, status, phoneNumber, networkCode, failureReason, retryCount)
for each message it handled. Reports are idempotent and only move a message
forward; an unknown id is acknowledged (AT would otherwise keep retrying) and
logged. When AT_CALLBACK_TOKEN is set, AT is configured to call
`/callbacks/at/sms-delivery/<token>` and any other token is refused
(AT_CALLBACK_TOKEN_PREVIOUS is accepted too while a rotation is under way). Every report is
stored as it arrived first (inbound_callbacks), with its outcome once processed.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from app.api.callback_store import store
from app.errors import Forbidden, PayTraceError
from app.integrations.at_forms import MalformedForm, parse_form
from app.services.facade import ChannelServices
from app.services.inbound_callbacks import record_outcome
from app.services.notifications import DeliveryReport, record_delivery_report

log = logging.getLogger("paytrace.callbacks")

router = APIRouter(prefix="/callbacks/at", tags=["callbacks"])

# AT's delivery statuses -> ours. 'Sent', 'Submitted' and 'Buffered' are on the way.
DELIVERY_STATUSES = {
    "Success": "delivered",
    "Failed": "failed",
    "Rejected": "failed",
    "Sent": "sent",
    "Submitted": "sent",
    "Buffered": "sent",
}


class MalformedCallback(PayTraceError):
    status_code = 400
    code = "malformed_callback"


@router.post("/sms-delivery", summary="AT SMS delivery report")
async def sms_delivery(request: Request) -> dict[str, str]:
    """Record AT's delivery report (deployments without a callback token)."""
    return await _handle(request, token=None)


@router.post("/sms-delivery/{token}", summary="AT SMS delivery report (tokened URL)")
async def sms_delivery_with_token(request: Request, token: str) -> dict[str, str]:
    """Record AT's delivery report sent to the secret callback URL."""
    return await _handle(request, token=token)


async def _handle(request: Request, token: str | None) -> dict[str, str]:
    services: ChannelServices = request.app.state.services
    stored = await store(
        request,
        provider="at",
        kind="sms_delivery",
        expected=services.settings.at_callback_token,
        given=token,
        previous=services.settings.at_callback_token_previous,
    )
    if not stored.verified:
        log.warning("delivery report with a wrong callback token refused")
        raise Forbidden("invalid callback token")
    try:
        report = parse_delivery_report(request.headers.get("content-type"), stored.body)
    except MalformedCallback as exc:
        await services.run(record_outcome, stored.callback_id, "malformed", exc.detail)
        raise
    outcome = await services.run(record_delivery_report, report)
    await services.run(record_outcome, stored.callback_id, outcome, None, report.message_id)
    return {"status": outcome}


def parse_delivery_report(content_type: str | None, body: bytes) -> DeliveryReport:
    """Read AT's form; raises MalformedCallback."""
    try:
        form = parse_form(content_type, body)
    except MalformedForm as exc:
        raise MalformedCallback(str(exc)) from exc
    message_id, at_status = form.get("id", "").strip(), form.get("status", "").strip()
    if not message_id or len(message_id) > 128:
        raise MalformedCallback("field 'id' is required")
    if at_status not in DELIVERY_STATUSES:
        raise MalformedCallback("field 'status' must be one of " + ", ".join(DELIVERY_STATUSES))
    status = DELIVERY_STATUSES[at_status]
    return DeliveryReport(
        message_id=message_id,
        status=status,
        failure_reason=(form.get("failureReason") or at_status) if status == "failed" else None,
        network_code=form.get("networkCode") or None,
    )
