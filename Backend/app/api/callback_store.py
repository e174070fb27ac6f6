"""What every callback route does first: read the body (capped), check the secret
token, and store the callback as it arrived - refused or not - before acting on it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from pydantic import SecretStr

from app.http.tokens import callback_token_matches
from app.services import inbound_callbacks
from app.services.facade import ChannelServices

# Far above any real callback (a few KB); a bigger body is kept cut at this size.
MAX_CALLBACK_BYTES = 64 * 1024
MASKED = "***"


@dataclass(frozen=True)
class Stored:
    callback_id: int
    body: bytes
    verified: bool
    truncated: bool


async def read_capped(request: Request) -> tuple[bytes, bool]:
    """The body, cut at MAX_CALLBACK_BYTES (True when it was)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            return b"".join(chunks)[:MAX_CALLBACK_BYTES], True
    return b"".join(chunks), False


def masked_path(path: str, token: str | None) -> str:
    """The request path with its secret token (its last segment) masked."""
    if token is None:
        return path
    head, _, _ = path.rstrip("/").rpartition("/")
    return f"{head}/{MASKED}"


async def store(
    request: Request,
    *,
    provider: str,
    kind: str,
    expected: SecretStr | None,
    given: str | None,
    previous: SecretStr | None = None,
) -> Stored:
    """Store the callback with its verification (`given` against `expected`, or the
    `previous` token during a rotation); raises ServiceUnavailable when the database
    cannot take it."""
    body, truncated = await read_capped(request)
    if expected is None:  # none configured for this route: nothing to check
        verification = "no_token"
    elif callback_token_matches(expected, previous, given):
        verification = "token_matched"
    else:
        verification = "token_mismatch"
    services: ChannelServices = request.app.state.services
    callback_id = await services.run(
        inbound_callbacks.receive,
        provider=provider,
        kind=kind,
        path=masked_path(request.url.path, given),
        query=request.url.query or None,
        content_type=request.headers.get("content-type"),
        body=body,
        verification=verification,
    )
    return Stored(callback_id, body, verification != "token_mismatch", truncated)
