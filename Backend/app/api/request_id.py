"""X-Request-ID: one id per request, answered in the response header, kept in the
admin audit trail, on every log line of the request and on the outbox rows it writes
(app/infra/request_context.py), so an operator can follow it from a proxy's or a
client's log into the worker's."""

from __future__ import annotations

import random

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.infra.request_context import SANE_ID, request_scope

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
# A caller's (or a proxy's) own id is kept when it is sane: short, and characters that
# can go into a log line or a header unescaped. Anything else is replaced, not refused.
_SANE = SANE_ID


def sane_request_id(given: str | None) -> str:
    """The given id when it is sane, else a new one (32 hex digits)."""
    if given is not None and _SANE.fullmatch(given):
        return given
    # 32 hex digits as uuid4().hex gave (random all through, where a UUID fixes six
    # bits). An id only has to be unique and say nothing (not a count of requests); it
    # is no secret, so it comes from the process's seeded generator (reseeded in a
    # forked child by the random module itself) rather than a getrandom system call on
    # every AT hop: 0.3 us against secrets.token_hex's 0.6 us.
    return f"{random.getrandbits(128):032x}"


def request_id_of(request: Request) -> str:
    """This request's id (RequestId sets it; a request that bypassed it gets a new one)."""
    found = getattr(request.state, "request_id", None)
    return found if isinstance(found, str) else sane_request_id(None)


class RequestId:
    """Sets `request.state.request_id` and the X-Request-ID header of every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = sane_request_id(given)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message["headers"])
                if any(name == _HEADER_KEY for name, _ in headers):
                    MutableHeaders(scope=message)[HEADER] = request_id  # replaced in place
                else:
                    # The common case, appended as MutableHeaders would, without it.
                    headers.append((_HEADER_KEY, request_id.encode("latin-1")))
            await send(message)

        with request_scope(request_id):  # every log line and outbox row of the request
            await self.app(scope, receive, send_with_id)
