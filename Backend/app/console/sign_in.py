"""Signing in and out of the console: email, password and TOTP code, then a session."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.console.trail import ConsoleRoute, Viewer, actor_of, sessions_of
from app.console.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    form_of,
    redirect,
    render,
    set_cookie,
)
from app.errors import CsrfRejected, SignInRefused, SignInSlowed, SignInThrottled
from app.http.client_address import request_client
from app.http.error_body import error_body
from app.runtime import Runtime
from app.services import operators
from app.services.console_sign_in_limits import AddressPolicy, AddressThrottle
from app.services.custody import SecretBox
from app.services.pins import PinHasher

LOGIN_FORM_TTL_S = 3600

pages = APIRouter(prefix="/console", include_in_schema=False)
actions = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)


def credentials_of(request: Request) -> tuple[PinHasher, SecretBox]:
    """The password hasher and the TOTP seeds' box, built once per app."""
    built = getattr(request.app.state, "console_credentials", None)
    if built is None:
        settings = request.app.state.runtime.settings
        built = (PinHasher.from_settings(settings), SecretBox.from_settings(settings))
        request.app.state.console_credentials = built
    return built


def _throttle(runtime: Runtime) -> AddressThrottle:
    return AddressThrottle(
        runtime.redis,
        runtime.key("console", "sign_in_failures", ""),
        AddressPolicy.from_settings(runtime.settings),
    )


def _refused(request: Request, exc: SignInRefused | SignInSlowed | SignInThrottled) -> Response:
    """The login page again with the reason, or the JSON error body for a client that
    asks for JSON only."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        response: Response = JSONResponse(
            error_body(exc.code, exc.detail), status_code=exc.status_code
        )
    else:
        response = _login_page(request, exc.status_code, exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _login_page(request: Request, status_code: int = 200, error: str | None = None) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render("login.html", status_code=status_code, csrf=token, error=error)
    set_cookie(response, runtime.settings, LOGIN_COOKIE, token, LOGIN_FORM_TTL_S)
    return response


@pages.get("/login")
async def login_page(request: Request) -> Response:
    return _login_page(request)


@actions.post("/login", name="sign_in")
async def sign_in(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    entry = request.state.console_audit
    form = await form_of(request)
    expected = request.cookies.get(LOGIN_COOKIE)
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 403).
    given = form.get("csrf", "").encode()
    if not expected or not hmac.compare_digest(expected.encode(), given):
        raise CsrfRejected("the sign-in form is stale: reload it and retry")
    email = operators.normalised_email(form.get("email", ""))[:128]
    entry.target("operator", email.encode("utf-8", "replace").decode().replace("\x00", ""))
    hasher, box = credentials_of(request)
    throttle = _throttle(runtime)
    address = request_client(request, runtime.settings.trusted_proxies)
    try:
        await throttle.check(address)  # before any check: nothing is learnt meanwhile
        # argon2 is costly: sign-ins take their own small turn on the event loop's cores,
        # never the PIN checks' (a flood of sign-ins must not make USSD PIN hops wait).
        async with runtime.console_sign_ins:
            operator = await run_in_threadpool(
                operators.sign_in,
                runtime.uow(),
                hasher,
                box,
                email=email,
                password=form.get("password", ""),
                code=form.get("code", ""),
                now=datetime.now(UTC),
            )
    except SignInRefused as exc:
        await throttle.failed(address)
        entry.detail["error"] = exc.code
        return _refused(request, exc)
    except (SignInSlowed, SignInThrottled) as exc:
        entry.detail["error"] = exc.code
        return _refused(request, exc)
    entry.actor = actor_of(operator.id)
    store = sessions_of(runtime)
    # A new token at every sign-in: a session id planted before it is worth nothing.
    await store.close(request.cookies.get(SESSION_COOKIE))
    token, _ = await store.open(operator, time.time())
    response = redirect("/console")
    set_cookie(response, runtime.settings, SESSION_COOKIE, token, store.timeouts.absolute_s)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@actions.post("/logout", name="sign_out")
async def sign_out(request: Request, console: Viewer) -> Response:
    await sessions_of(console.runtime).close(request.cookies.get(SESSION_COOKIE))
    response = redirect("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response
