"""The web phone (`/sandbox/phone`): PayTrace dialled from a browser - a development tool.

Plain HTML and JavaScript served as static files (no build step, no CDN). The page
speaks Africa's Talking's USSD protocol to PayTrace's own `POST /ussd`, as AT does (form
posts of sessionId, serviceCode, phoneNumber, networkCode and the cumulative text, a new
sessionId per dial), shows each phone's SMS from the AT sandbox's outbox
(`GET /sandbox/sms?to=`), and the 182-character budget of every screen. Mounted by
`app/api/dev_wiring.py` outside production only; absent (404) in production.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

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


@router.get("/sandbox/phone", summary="The web phone (sandbox)", description=DEV_ONLY)
def phone_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "phone.html", media_type="text/html", headers=HEADERS)


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
        },
        headers=HEADERS,
    )
