"""A local stand-in for Africa's Talking's SMS API - a development tool only.

Mounted only when no AT API key is configured (`settings.sms_sandbox_enabled`).
It speaks AT's wire format, so the worker's real SDK code path runs unchanged:
`POST /sandbox/at/version1/messaging` is what `africastalking.SMS.send` calls.
Accepted messages are kept in Redis (under the runtime's key prefix), listed by
`GET /sandbox/sms`, and confirmed by an AT-shaped delivery report POSTed to
PayTrace's own callback after a short delay, as AT does.

Test numbers (by their last four digits) produce AT's failures:

  ...0403  403 InvalidPhoneNumber          (permanent)
  ...0406  406 UserInBlacklist             (permanent)
  ...0500  500 InternalServerError on the first 2 tries of that number, then Success
  ...0502  502 RejectedByGateway every time (retryable, until attempts run out)
  ...0408  Success, but answered only after 1.5 s (a read timeout for a hasty client)
  ...0410  Success, then a delivery report saying Failed (AbsentSubscriber)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.integrations.at_forms import MalformedForm, parse_form

log = logging.getLogger("paytrace.sandbox.at")

# Every key of the AT sandbox shares one hash tag: its index and messages are read with
# one MGET and written in one MULTI, which Redis Cluster allows within a slot only.
AT = "{at}"

router = APIRouter(tags=["sandbox"])

DELIVERY_REPORT_DELAY_S = 0.2
SLOW_ANSWER_S = 1.5
TRANSIENT_FAILURES = 2
KEEP_MESSAGES = 1000
UNIT_COST = 0.8
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_FAILURES = {
    "0403": (403, "InvalidPhoneNumber"),
    "0406": (406, "UserInBlacklist"),
    "0502": (502, "RejectedByGateway"),
}
_DEV_ONLY = "Development tool (local Africa's Talking sandbox); absent in production."


@router.post(
    "/sandbox/at/version1/messaging",
    summary="AT bulk SMS endpoint (sandbox)",
    description=_DEV_ONLY,
    status_code=201,
)
async def send_messages(request: Request, background: BackgroundTasks) -> Response:
    """Accept an SMS exactly as AT's `POST /version1/messaging` does."""
    if not request.headers.get("apikey"):
        return PlainTextResponse("The supplied authentication is invalid", status_code=401)
    try:
        form = parse_form(request.headers.get("content-type"), await request.body())
    except MalformedForm as exc:
        return PlainTextResponse(str(exc), status_code=400)
    for name in ("username", "to", "message"):
        if not form.get(name):
            return PlainTextResponse(f"Request is missing required form field '{name}'", 400)
    runtime = request.app.state.runtime
    answers, slow = [], False
    for number in (part.strip() for part in form["to"].split(",") if part.strip()):
        code, status = await _status_for(runtime, number)
        answer = {"statusCode": code, "number": number, "status": status}
        if code == 101:
            answer |= {"cost": f"KES {UNIT_COST:.4f}", "messageId": f"ATXid_{uuid.uuid4().hex}"}
            await _store(runtime, answer["messageId"], number, form)
            background.add_task(_deliver_report, runtime, answer["messageId"], number)
            slow = slow or number.endswith("0408")
        else:
            answer |= {"cost": "0", "messageId": "None"}
        answers.append(answer)
    sent = sum(1 for a in answers if a["statusCode"] == 101)
    if slow:
        await asyncio.sleep(SLOW_ANSWER_S)
    body = {
        "SMSMessageData": {
            "Message": f"Sent to {sent}/{len(answers)} Total Cost: KES {sent * UNIT_COST:.4f}",
            "Recipients": answers,
        }
    }
    return JSONResponse(body, status_code=201)


@router.get("/sandbox/sms", summary="SMS the sandbox accepted (sandbox)", description=_DEV_ONLY)
async def list_messages(request: Request, to: str | None = None) -> list[dict]:
    """Messages accepted by the sandbox, oldest first, optionally for one number."""
    runtime = request.app.state.runtime
    ids = await runtime.redis.lrange(runtime.key("sandbox", AT, "sms"), 0, -1)
    if not ids:
        return []
    raw = await runtime.redis.mget([runtime.key("sandbox", AT, "sms", i) for i in ids])
    messages = [json.loads(item) for item in raw if item]
    if to:
        # A '+' typed into a query string arrives as a space.
        wanted = "+" + to.strip().lstrip("+")
        messages = [m for m in messages if m["to"] == wanted]
    return messages


async def _status_for(runtime, number: str) -> tuple[int, str]:
    if not _E164.match(number):
        return 403, "InvalidPhoneNumber"
    if number[-4:] in _FAILURES:
        return _FAILURES[number[-4:]]
    if number.endswith("0500"):
        tries = await runtime.redis.incr(runtime.key("sandbox", AT, "tries", number))
        if tries <= TRANSIENT_FAILURES:
            return 500, "InternalServerError"
    return 101, "Success"


async def _store(runtime, message_id: str, number: str, form: dict[str, str]) -> None:
    record = {
        "id": message_id,
        "to": number,
        "from": form.get("from") or "AFRICASTKNG",
        "message": form["message"],
        "status": "Sent",
        "created_at": datetime.now(UTC).isoformat(),
    }
    index = runtime.key("sandbox", AT, "sms")
    async with runtime.redis.pipeline(transaction=True) as pipe:
        pipe.set(runtime.key("sandbox", AT, "sms", message_id), json.dumps(record), ex=86400)
        pipe.rpush(index, message_id)
        pipe.ltrim(index, -KEEP_MESSAGES, -1)
        pipe.expire(index, 86400)
        await pipe.execute()


async def _deliver_report(runtime, message_id: str, number: str) -> None:
    """POST AT's delivery report to PayTrace's callback, then update our record."""
    await asyncio.sleep(DELIVERY_REPORT_DELAY_S)
    settings = runtime.settings
    form = {
        "id": message_id,
        "status": "Success",
        "phoneNumber": number,
        "networkCode": "63902",
        "retryCount": "0",
    }
    if number.endswith("0410"):
        form |= {"status": "Failed", "failureReason": "AbsentSubscriber"}
    url = settings.base_url.rstrip("/") + "/callbacks/at/sms-delivery"
    if settings.at_callback_token is not None:
        url += "/" + settings.at_callback_token.get_secret_value()
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.post(url, data=form)
        if response.status_code != 200:
            log.warning("delivery report refused", extra={"status": response.status_code})
    except httpx.HTTPError as exc:
        log.warning("delivery report not delivered", extra={"error": type(exc).__name__})
    key = runtime.key("sandbox", AT, "sms", message_id)
    raw = await runtime.redis.get(key)
    if raw:
        record = json.loads(raw) | {"status": form["status"]}
        await runtime.redis.set(key, json.dumps(record), ex=86400)
