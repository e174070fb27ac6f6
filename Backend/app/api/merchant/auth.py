"""Who signed a merchant request: the `SignedMerchant` dependency every merchant route
takes, so that a route cannot be added without the check.

In order, cheapest first, each refusal a 401 `invalid_signature`: the header's shape
and the time window (no I/O); the key, its merchant and the MAC (one PostgreSQL read
in the thread pool); then the replay guard (one Redis SET NX, only for a signature that
verified, so strangers cannot fill Redis). Without Redis the request is refused with
503: a signature that cannot be checked for a replay is never accepted. Nothing is
written for a refused request; last_used_at is kept only for one that passed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from redis.exceptions import RedisError
from starlette.types import Scope

from app.api.v1.context import Api
from app.errors import InvalidSignature, ServiceUnavailable
from app.runtime import Runtime
from app.services import merchant_keys
from app.services import merchant_signatures as signatures
from app.services.merchant_keys import SignedCaller
from app.services.merchant_signatures import Signature

_scheme = APIKeyHeader(
    name=signatures.HEADER,
    auto_error=False,
    scheme_name="MerchantSignature",
    description="t=<unix>,kid=<key id>,v1=<hex HMAC-SHA256 of t, method, path and the"
    " body's SHA-256> (docs/merchants.md)",
)
# A signature is good for WINDOW_S either side of its t: remembered that long after
# the last moment it could be accepted again, whatever the clocks.
_SEEN_TTL_S = 2 * signatures.WINDOW_S + 1


def signed_path(scope: Scope) -> str:
    """The path and query as the client sent them on the wire (percent-encoding
    untouched): what the client signed."""
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    text = raw.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


async def first_sighting(runtime: Runtime, signature: Signature) -> None:
    """Remember the signature; raises InvalidSignature when it was seen inside the
    window, ServiceUnavailable when Redis cannot say."""
    key = runtime.key("merchant", "sig", signature.replay_id)
    try:
        first = await runtime.redis.set(key, "1", nx=True, ex=_SEEN_TTL_S)
    except RedisError as exc:
        raise ServiceUnavailable("cannot check the signature for a replay; retry") from exc
    if not first:
        raise InvalidSignature("this signature was used before: sign every request anew")


async def _signed_merchant(
    request: Request, api: Api, header: Annotated[str | None, Security(_scheme)]
) -> SignedCaller:
    signature = signatures.parse(header)
    signatures.check_fresh(signature, time.time())
    # Read once, through BodyLimit's cap; Starlette keeps it for the route's own parsing.
    body = await request.body()
    caller = await api.services.run(
        merchant_keys.verify,
        api.services.box,
        signature,
        request.method,
        signed_path(request.scope),
        body,
    )
    await first_sighting(api.runtime, signature)
    now = datetime.now(UTC)
    if merchant_keys.use_is_stale(caller, now):  # at most once a minute per key
        await api.services.run(merchant_keys.record_use, caller, now)
    return caller


SignedMerchant = Annotated[SignedCaller, Security(_signed_merchant)]
