"""POST /ussd: Africa's Talking's USSD callback.

AT posts form fields (sessionId, serviceCode, phoneNumber, networkCode, text)
and wants `200 text/plain` starting `CON ` or `END `. Whatever arrives (missing
fields, junk, a dead database), the caller gets a screen: a re-prompt from the
flow, or an END that says what happened. Only a wrong callback token is refused
(403), because then the caller is not AT. The body is read with a cap (an AT hop is
a few hundred bytes): past USSD_MAX_BODY_BYTES nothing more is read, nothing is
stored, and the caller gets an END apology (200, which AT shows on the phone).

The routes below document the endpoint and serve a hop that carries an Origin header
(CORS applies); every other hop is claimed by `claim_hop` and answered by
`hop_endpoint`, a lean ASGI path the app factory puts ahead of the framework's routing
behind the same guards (request id, metrics, source networks). Both answer with the
same `answer_hop`, which reads the ASGI scope and receive itself, so the lean path
builds no Request or Response object (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import NamedTuple

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.domain.phone import InvalidPhone, normalise
from app.errors import ServiceUnavailable
from app.http.body_limit import read_capped
from app.http.client_address import request_client
from app.http.error_body import error_body
from app.http.tokens import callback_token_matches
from app.infra.metrics import USSD_HOP_SECONDS
from app.ussd.flow import FLOW
from app.ussd.form import form_fields
from app.ussd.hop import Hop, handle_hop
from app.ussd.texts import text

log = logging.getLogger("paytrace.ussd")
router = APIRouter(tags=["ussd"])

# AT's hop (five short form fields) is a few hundred bytes; the cumulative `text` of a
# long session stays well under 1 KiB.
USSD_MAX_BODY_BYTES = 4096
_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["sessionId", "serviceCode", "phoneNumber", "text"],
                    "properties": {
                        "sessionId": {"type": "string", "example": "ATUid_1b2c3d"},
                        "serviceCode": {"type": "string", "example": "*384*123#"},
                        "phoneNumber": {"type": "string", "example": "+254712345678"},
                        "networkCode": {"type": "string", "example": "63902"},
                        "text": {"type": "string", "example": "1*Jane Wanjiku"},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "The screen to show: `CON ...` continues, `END ...` closes",
            "content": {"text/plain": {"example": "CON Welcome to PayTrace\n1. Register"}},
        }
    },
}


class Answer(NamedTuple):
    """What a hop is answered: the same bytes on the lean path and the routed one."""

    status: int
    content_type: bytes
    body: bytes


_TEXT = b"text/plain; charset=utf-8"  # what PlainTextResponse sends
# Rendered once, by the class that rendered it per hop before: the same bytes.
_FORBIDDEN = Answer(
    403, b"application/json", JSONResponse(error_body("forbidden", "bad callback token")).body
)


def _screen(answer: str) -> Answer:
    return Answer(200, _TEXT, answer.encode())


def _end(key: str, **values: object) -> Answer:
    return _screen(f"END {text('en', key, **values)}")


def _token_ok(scope: Scope, settings: Settings, path_token: str | None) -> bool:
    given = path_token
    if not given:
        for name, value in scope["headers"]:
            if name == b"authorization":  # the first one, as Headers.get reads it
                auth = value.decode("latin-1")
                if auth.lower().startswith("bearer "):
                    given = auth[7:].strip()
                break
    return callback_token_matches(
        settings.ussd_callback_token, settings.ussd_callback_token_previous, given
    )


def _caller(scope: Scope, settings: Settings) -> str:
    return request_client(Request(scope), settings.trusted_proxies)


async def answer_hop(scope: Scope, receive: Receive, path_token: str | None) -> Answer:
    """One hop, read from the ASGI scope and receive: both routes and the lean path."""
    state = scope["app"].state
    settings = state.runtime.settings
    if not _token_ok(scope, settings, path_token):
        log.warning(
            "ussd hop with a wrong callback token refused",
            extra={"address": _caller(scope, settings)},
        )
        return _FORBIDDEN
    body = await read_capped(scope, receive, USSD_MAX_BODY_BYTES)
    if body is None:
        log.warning(
            "ussd hop over the body limit refused", extra={"address": _caller(scope, settings)}
        )
        return _end("end.bad_request")
    fields = form_fields(body)
    session_id = fields.get("sessionId", "")
    raw_phone = fields.get("phoneNumber", "")
    service_code = fields.get("serviceCode", "")
    if not session_id or len(session_id) > 128 or not raw_phone or not service_code:
        return _end("end.bad_request")
    hub = state.ussd
    if service_code not in hub.service_codes:
        return _end("end.unknown_code", shortcode=hub.service_codes[0])
    try:
        phone = normalise(raw_phone)
    except InvalidPhone:
        return _end("end.bad_request")
    hop = Hop(
        session_id=session_id,
        service_code=service_code,
        phone=phone,
        network_code=fields.get("networkCode", ""),
        text=fields.get("text", ""),
    )
    committing = False
    try:
        # asyncio.timeout, not wait_for: no extra task per hop on the hot path.
        async with asyncio.timeout(hub.deadline_s) as deadline:

            def give_commit_time() -> None:
                # Cutting a hop off while it commits would tell the caller "sorry"
                # about money that moved: from here the hop gets the commit deadline.
                nonlocal committing
                committing = True
                deadline.reschedule(asyncio.get_running_loop().time() + hub.commit_deadline_s)

            started = perf_counter()
            try:
                answer = await handle_hop(
                    hop, FLOW, hub.store, hub.services, hub.config, on_commit=give_commit_time
                )
            finally:
                # One clock read and two in-memory counts: no round trip on the hop.
                took = perf_counter() - started
                USSD_HOP_SECONDS.observe(took)
                hub.latencies.record(took)
    except (TimeoutError, ServiceUnavailable, RedisError, OSError) as exc:
        log.warning(
            "ussd hop unavailable", extra={"error": type(exc).__name__, "committing": committing}
        )
        # Past the commit point the outcome is unknown to us: never say "failed".
        return _end("end.unconfirmed" if committing else "end.sorry")
    except Exception:
        log.exception("ussd hop failed")
        return _end("end.sorry")
    return _screen(answer)


def _response(answer: Answer) -> Response:
    # Response sets content-length then content-type, as the lean path's _send does.
    return Response(answer.body, answer.status, media_type=answer.content_type.decode())


@router.post("/ussd", summary="Africa's Talking USSD callback", openapi_extra=_FORM_SCHEMA)
async def ussd(request: Request) -> Response:
    return _response(await answer_hop(request.scope, request.receive, None))


@router.post(
    "/ussd/{token}",
    summary="USSD callback with the token in the path",
    openapi_extra=_FORM_SCHEMA,
)
async def ussd_with_token(request: Request, token: str) -> Response:
    return _response(await answer_hop(request.scope, request.receive, token))


_PLAIN, _WITH_TOKEN = router.routes  # (/ussd, /ussd/{token}): their templates label metrics


def claim_hop(scope: Scope) -> bool:
    """True for a POST /ussd or /ussd/{token} the lean path answers; marks the scope
    with its route (the metrics' label) and path parameters as the router would."""
    if scope["method"] != "POST":
        return False
    path = scope["path"]
    if path == "/ussd":
        route, params = _PLAIN, {}
    elif path.startswith("/ussd/") and len(path) > 6 and "/" not in path[6:]:
        route, params = _WITH_TOKEN, {"token": path[6:]}
    else:
        return False
    for name, _ in scope["headers"]:
        if name == b"origin":  # a browser's hop: the full stack's CORS answers it
            return False
    scope["route"] = route
    scope["path_params"] = params
    return True


async def hop_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """A claimed hop: the routes' own answer_hop, without the router, FastAPI, or a
    Request and a Response object around it; the messages a Response would send."""
    answer = await answer_hop(scope, receive, scope["path_params"].get("token"))
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-length", str(len(answer.body)).encode()),
                (b"content-type", answer.content_type),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})
