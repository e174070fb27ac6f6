"""Request-body size limits for every entry point, enforced while the body streams.

Nothing reads a body whole before its size is known: a declared Content-Length over
the limit is refused before a byte is read, and a chunked body is counted as it
arrives, so a client that lies about its size (or declares none) is stopped at the
limit with nothing more read into memory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.error_body import error_body

log = logging.getLogger("paytrace.api")


class BodyTooLarge(HTTPException):
    """Raised from receive(): FastAPI lets an HTTPException through its body parsing,
    and the app's handler renders it as 413 `payload_too_large`."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is over {max_bytes} bytes")


def declared_too_large(scope: Scope, max_bytes: int) -> bool:
    """The request declares a Content-Length over max_bytes (or one that is no number)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > max_bytes):
            return True
    return False


async def read_capped(scope: Scope, receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it is over max_bytes (nothing more is read).
    Read from `receive` as Request.stream() reads it (a client gone raises
    ClientDisconnect), without a Request object."""
    if declared_too_large(scope, max_bytes):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _under(path: str, prefix: str) -> bool:
    return path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/")


class BodyLimit:
    """Answers 413 `payload_too_large` for a body over its path's limit.

    `limits` maps path prefixes to their own limit (the longest matching prefix
    wins); every other path gets `max_bytes`. Paths under `exempt` pass untouched:
    /ussd must always answer a screen, so it caps its own body (read_capped).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        limits: Mapping[str, int] | None = None,
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = sorted((limits or {}).items(), key=lambda item: -len(item[0]))
        self.exempt = exempt

    def limit_for(self, path: str) -> int | None:
        """The body limit of `path`, or None when the path caps its own body."""
        if any(_under(path, prefix) for prefix in self.exempt):
            return None
        for prefix, limit in self.limits:
            if _under(path, prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope, limit):
            await self._refuse(scope, send, limit)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if started:
                        # The answer is already on its way (a file response listens for
                        # the client going away while it sends): the body is read no
                        # further, and the app is told the client left. A 413 can no
                        # longer be sent, and raising here would break the answer.
                        return {"type": "http.disconnect"}
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        client = scope.get("client")
        log.warning(
            "request body over the limit refused",
            extra={"path": scope["path"], "address": client[0] if client else None},
        )
        body = json.dumps(
            error_body("payload_too_large", f"the request body is over {limit} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
