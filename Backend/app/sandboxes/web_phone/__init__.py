"""The web phone (`/sandbox/phone`): PayTrace dialled from a browser - a development tool.

Plain HTML and JavaScript served as static files (no build step, no CDN). The page
speaks Africa's Talking's USSD protocol to PayTrace's own `POST /ussd`, as AT does (form
posts of sessionId, serviceCode, phoneNumber, networkCode and the cumulative text, a new
sessionId per dial), shows each phone's SMS from the AT sandbox's outbox
(`GET /sandbox/sms?to=`), and the 182-character budget of every screen. Each phone
chooses how it answers M-Pesa's prompts: on the phone when the push arrives (`ask`:
the page polls `GET /sandbox/phone/mpesa/prompts?phone=` and answers with
`POST /sandbox/phone/mpesa/prompts/{CheckoutRequestID}`, both passed on to the Daraja
sandbox's prompts), or beforehand (accept, cancel, or let it time out). The choice
becomes a rule for that phone's STK pushes in the local Daraja sandbox
(`POST /sandbox/scenarios`), set through `POST /sandbox/phone/mpesa`: the page may
talk to its own origin only. Mounted by `app/api/dev_wiring.py` outside production only;
absent (404) in production.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from app.domain.gsm7 import GSM7_CHARS, USSD_MAX_CHARS

STATIC_DIR = Path(__file__).parent / "static"
DEV_ONLY = "Development tool (the web phone); absent in production."
# The page's own scripts and styles only; it talks to this origin only.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

router = APIRouter(tags=["sandbox"], include_in_schema=False)
# The phone's answer to M-Pesa's prompt, as the Daraja sandbox's STK result; "amount"
# removes the phone's rule: the sandbox's default by amount applies again.
ANSWERS = {
    "ask": "ask",
    "accept": "success",
    "cancel": "cancelled",
    "ignore": "timeout",
    "amount": None,
}
_CHECKOUT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MSISDN = re.compile(r"^\+?(254[0-9]{9})$")


@router.get("/sandbox/phone", summary="The web phone (sandbox)", description=DEV_ONLY)
def phone_page() -> HTMLResponse:
    # Read and sent whole (a few KiB): a file response would listen for the client
    # going away by reading the request's body, which a GET has no business reading.
    return HTMLResponse((STATIC_DIR / "phone.html").read_bytes(), headers=HEADERS)


@router.get("/sandbox/phone/config.json", summary="What the web phone dials", description=DEV_ONLY)
def phone_config(request: Request) -> JSONResponse:
    """The shortcodes PayTrace answers, the screen budget and the GSM-7 alphabet (named
    once, in app/domain/gsm7.py), whether SMS can be read from the AT sandbox, and
    whether /ussd wants a callback token (then the page asks for it)."""
    settings = request.app.state.runtime.settings
    return JSONResponse(
        {
            "service_codes": list(settings.ussd_service_codes),
            "screen_max": USSD_MAX_CHARS,
            "gsm7": "".join(sorted(GSM7_CHARS)),
            "sms_sandbox": settings.sms_sandbox_enabled,
            "token_required": settings.ussd_callback_token is not None,
            "mpesa_prompts": settings.daraja_sandbox_enabled,
        },
        headers=HEADERS,
    )


def _error(code: str, detail: str, status: int) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=HEADERS)


@router.post("/sandbox/phone/mpesa", summary="How a phone answers M-Pesa", description=DEV_ONLY)
async def answer_mpesa(request: Request) -> JSONResponse:
    """`{"phone": "+2547...", "answer": "ask" | "accept" | "cancel" | "ignore" | "amount"}`: the
    Daraja sandbox's rule for that phone's STK pushes, replacing any earlier one."""
    settings = request.app.state.runtime.settings
    if not settings.daraja_sandbox_enabled:
        return _error("not_found", "no local Daraja sandbox: M-Pesa is real here", 404)
    try:
        body = json.loads(await request.body() or b"null")
        msisdn = _MSISDN.match(str(body["phone"]).strip())
        answer = body["answer"]
    except (ValueError, TypeError, KeyError):
        return _error("invalid_request", 'send {"phone", "answer"}', 422)
    if msisdn is None or answer not in ANSWERS:
        return _error("invalid_request", f"a Kenyan phone and one of {', '.join(ANSWERS)}", 422)
    phone = msisdn.group(1)
    base = settings.daraja_base_url.rstrip("/")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5.0) as sandbox:
            rules = (await sandbox.get("/sandbox/scenarios")).json()["rules"]
            for rule in rules:
                if rule.get("phone") == phone and rule.get("api") == "stk":
                    await sandbox.delete(f"/sandbox/scenarios/{rule['id']}")
            if ANSWERS[answer] is not None:
                rule = {"phone": phone, "result": ANSWERS[answer], "api": "stk"}
                (await sandbox.post("/sandbox/scenarios", json=rule)).raise_for_status()
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return _error("service_unavailable", "the local Daraja sandbox did not answer", 503)
    return JSONResponse({"phone": f"+{phone}", "answer": answer}, headers=HEADERS)


async def _to_sandbox(request: Request, method: str, path: str, **sent: object) -> JSONResponse:
    """The Daraja sandbox's answer to `method path`, passed on as it is (its 4xx
    bodies are `{"error", "detail"}` already); 404 where there is no such sandbox."""
    settings = request.app.state.runtime.settings
    if not settings.daraja_sandbox_enabled:
        return _error("not_found", "no local Daraja sandbox: M-Pesa is real here", 404)
    base = settings.daraja_base_url.rstrip("/")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5.0) as sandbox:
            answer = await sandbox.request(method, path, **sent)
        body = answer.json()
    except (httpx.HTTPError, ValueError):
        return _error("service_unavailable", "the local Daraja sandbox did not answer", 503)
    status = answer.status_code if answer.status_code < 500 else 503
    return JSONResponse(body, status_code=status, headers=HEADERS)


@router.get(
    "/sandbox/phone/mpesa/prompts", summary="A phone's M-Pesa prompts", description=DEV_ONLY
)
async def mpesa_prompts(request: Request, phone: str = "") -> JSONResponse:
    """The STK prompts on the phone's screen now (pushes under its `ask` rule)."""
    msisdn = _MSISDN.match(phone.strip().replace(" ", "+", 1))
    if msisdn is None:
        return _error("invalid_request", "a Kenyan phone such as +254712345678", 422)
    return await _to_sandbox(request, "GET", "/sandbox/prompts", params={"phone": msisdn.group(1)})


@router.post(
    "/sandbox/phone/mpesa/prompts/{checkout_request_id}",
    summary="Answer an M-Pesa prompt",
    description=DEV_ONLY,
)
async def answer_mpesa_prompt(request: Request, checkout_request_id: str) -> JSONResponse:
    """`{"answer": "accept", "pin": "1234"}` or `{"answer": "cancel"}`, as the customer
    answers the prompt on the phone."""
    if not _CHECKOUT.match(checkout_request_id):
        return _error("invalid_request", "not a CheckoutRequestID", 422)
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error("invalid_request", 'send {"answer", "pin"?}', 422)
    path = f"/sandbox/prompts/{checkout_request_id}"
    return await _to_sandbox(request, "POST", path, json=body)
