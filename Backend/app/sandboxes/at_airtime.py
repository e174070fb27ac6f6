"""A local stand-in for Africa's Talking's Airtime API - a development tool only.

Mounted with the SMS sandbox (no AT API key configured). It speaks AT's wire format,
so the worker's real SDK code path runs unchanged:

* `POST /sandbox/at/version1/airtime/send` (form: username, recipients as JSON;
  header Idempotency-Key) answers `{"errorMessage", "numSent", "totalAmount",
  "totalDiscount", "responses": [{"phoneNumber", "amount", "discount", "status",
  "requestId", "errorMessage"}]}`; a repeated Idempotency-Key gets the first answer and
  tops up nobody again;
* `GET /sandbox/at/query/transaction/find?username=&transactionId=` is AT's status;
* shortly after a top-up it POSTs AT's status callback (phoneNumber, description,
  status, requestId, discount, value) to PayTrace's `/callbacks/at/airtime-status`.

Test numbers (by their last four digits):

  ...0403  'Failed' at once (nothing sent)
  ...0408  topped up, but answered only after 6 s (a read timeout for a hasty client)
  ...0410  'Sent', then final status Failed
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import httpx
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.integrations.at_forms import MalformedForm, parse_form

log = logging.getLogger("paytrace.sandbox.at")

router = APIRouter(tags=["sandbox"])

STATUS_CALLBACK_DELAY_S = 0.2
SLOW_ANSWER_S = 6.0
DISCOUNT_RATE = 0.04  # what AT gives back on a top-up, as its answers show it
_DEV_ONLY = "Development tool (local Africa's Talking sandbox); absent in production."


@router.post(
    "/sandbox/at/version1/airtime/send",
    summary="AT airtime endpoint (sandbox)",
    description=_DEV_ONLY,
    status_code=201,
)
async def send_airtime(request: Request, background: BackgroundTasks) -> Response:
    """Top up as AT's `POST /version1/airtime/send` does."""
    if not request.headers.get("apikey"):
        return PlainTextResponse("The supplied authentication is invalid", status_code=401)
    try:
        form = parse_form(request.headers.get("content-type"), await request.body())
        recipients = json.loads(form.get("recipients") or "")
        assert isinstance(recipients, list) and recipients
    except (MalformedForm, ValueError, AssertionError):
        return PlainTextResponse("Invalid recipients", status_code=400)
    if not form.get("username"):
        return PlainTextResponse("Request is missing required form field 'username'", 400)
    runtime = request.app.state.runtime
    key = request.headers.get("idempotency-key")
    replay_key = runtime.key("sandbox", "at", "airtime", "key", key or "")
    if key and (earlier := await runtime.redis.get(replay_key)):
        return JSONResponse(json.loads(earlier), status_code=201)
    answers, slow = [], False
    for recipient in recipients:
        answer = await _top_up(runtime, recipient)
        if answer["status"] == "Sent":
            background.add_task(_status_callback, runtime, answer["requestId"])
        slow = slow or str(recipient.get("phoneNumber", "")).endswith("0408")
        answers.append(answer)
    sent = [a for a in answers if a["status"] == "Sent"]
    total = sum(float(a["amount"].split()[1]) for a in sent)
    body = {
        "errorMessage": "None",
        "numSent": len(sent),
        "totalAmount": f"KES {total:.4f}",
        "totalDiscount": f"KES {total * DISCOUNT_RATE:.4f}",
        "responses": answers,
    }
    if key:
        await runtime.redis.set(replay_key, json.dumps(body), ex=86400)
    if slow:
        await asyncio.sleep(SLOW_ANSWER_S)
    return JSONResponse(body, status_code=201)


@router.get(
    "/sandbox/at/query/transaction/find",
    summary="AT transaction status (sandbox)",
    description=_DEV_ONLY,
)
async def find_transaction(request: Request, transactionId: str = "") -> Response:
    """AT's status of one transaction, as `GET /query/transaction/find` answers it."""
    if not request.headers.get("apikey"):
        return PlainTextResponse("The supplied authentication is invalid", status_code=401)
    runtime = request.app.state.runtime
    raw = await runtime.redis.get(runtime.key("sandbox", "at", "airtime", transactionId))
    if not raw:
        return JSONResponse({"status": "Failure", "errorMessage": "Transaction not found"})
    record = json.loads(raw)
    data = {
        "requestMetadata": {},
        "sourceType": "Wallet",
        "source": "PaymentWallet",
        "provider": "Airtime",
        "destinationType": "PhoneNumber",
        "description": record["description"],
        "providerChannel": "AIRTIME",
        "transactionFee": "KES 0.0000",
        "providerRefId": record["requestId"],
        "providerMetadata": {},
        "status": record["status"],
        "productName": "Airtime",
        "category": "Airtime",
        "transactionDate": record["created"],
        "destination": record["phoneNumber"],
        "value": record["amount"],
        "transactionId": record["requestId"],
        "creationTime": record["created"],
    }
    return JSONResponse({"status": "Success", "data": data})


async def _top_up(runtime, recipient: dict) -> dict:
    phone = str(recipient.get("phoneNumber", ""))
    amount = str(recipient.get("amount", ""))
    answer = {"phoneNumber": phone, "amount": amount, "discount": "KES 0.0000"}
    parts = amount.split()
    if len(parts) != 2 or parts[0] != "KES" or phone.endswith("0403"):
        return answer | {"status": "Failed", "requestId": "None", "errorMessage": "Failed"}
    request_id = f"ATQid_{uuid.uuid4().hex}"
    final = "Failed" if phone.endswith("0410") else "Success"
    record = {
        "requestId": request_id,
        "phoneNumber": phone,
        "amount": f"KES {float(parts[1]):.4f}",
        "status": final,
        "description": "Airtime Delivered Successfully" if final == "Success" else "Failed",
        "created": "2026-01-01 00:00:00",
    }
    await runtime.redis.set(
        runtime.key("sandbox", "at", "airtime", request_id), json.dumps(record), ex=86400
    )
    discount = float(parts[1]) * DISCOUNT_RATE
    return answer | {
        "status": "Sent",
        "requestId": request_id,
        "discount": f"KES {discount:.4f}",
        "errorMessage": "None",
    }


async def _status_callback(runtime, request_id: str) -> None:
    """POST AT's airtime status callback to PayTrace, as AT does once it is final."""
    await asyncio.sleep(STATUS_CALLBACK_DELAY_S)
    raw = await runtime.redis.get(runtime.key("sandbox", "at", "airtime", request_id))
    if not raw:
        return
    record = json.loads(raw)
    settings = runtime.settings
    form = {
        "phoneNumber": record["phoneNumber"],
        "description": record["description"],
        "status": record["status"],
        "requestId": request_id,
        "discount": "KES 0.0000",
        "value": record["amount"],
    }
    url = settings.base_url.rstrip("/") + "/callbacks/at/airtime-status"
    if settings.at_callback_token is not None:
        url += "/" + settings.at_callback_token.get_secret_value()
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.post(url, data=form)
        if response.status_code != 200:
            log.warning("airtime status refused", extra={"status": response.status_code})
    except httpx.HTTPError as exc:
        log.warning("airtime status not delivered", extra={"error": type(exc).__name__})
