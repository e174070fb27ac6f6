"""How the console answers: HTML from Jinja templates, with the headers every page gets,
and the session cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.config import Settings
from app.domain.money import format_kes
from app.domain.phone import mask
from app.errors import refused
from app.services.admin_audit import REASON_MAX

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "pt_console"
# Before sign-in there is no session: the login form's CSRF token is a cookie of its own
# that the form posts back (double submit).
LOGIN_COOKIE = "pt_console_login"
FORM_MAX_FIELDS = 20

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_templates.filters["kes"] = format_kes
_templates.filters["masked"] = mask  # a worker's phone on a page

# No script or style from anywhere but the console itself; never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(to: str) -> Response:
    """A 303 (the browser follows with a GET), with the console's headers."""
    return Response(status_code=303, headers={**SECURITY_HEADERS, "Location": to})


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, path /console; Secure in production (development and
    tests speak plain HTTP to 127.0.0.1)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=settings.environment == "production",
    )


async def form_of(request: Request) -> dict[str, str]:
    """The posted urlencoded form (first value of each field). The body is capped by
    BodyLimit like every /api body; more than FORM_MAX_FIELDS fields are ignored."""
    body = (await request.body()).decode("utf-8", "replace")
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body, max_num_fields=None)[:FORM_MAX_FIELDS]:
        fields.setdefault(key, value)
    return fields


def reason_of(form: dict[str, str]) -> str:
    """The reason an operator gives for an action: required, printable, up to REASON_MAX
    characters. Raises ValidationFailed ('invalid_reason')."""
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > REASON_MAX or not reason.isprintable():
        raise refused("invalid_reason", f"give a reason, up to {REASON_MAX} characters")
    return reason
