"""What every /api/v1 route shares: the services' ports, the caller, rate limits.

Built once per process at start-up (`ApiServices.build`) and reached through
FastAPI dependencies: `Api` for the kit, `CurrentUser` for the signed-in caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError

from app.errors import InvalidToken, RateLimited, ServiceUnavailable, Unauthorized
from app.http.client_address import request_client
from app.runtime import Runtime
from app.services.access_tokens import AccessClaims, AccessTokens
from app.services.facade import ChannelServices
from app.services.keys import session_key
from app.services.otp import OtpKit
from app.services.stellar_order_links import StellarPayee, payee_from_settings


class SignInRequired(Unauthorized):
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class RateLimiter:
    """Fixed-window counters in Redis: at most `limit` hits per key and window."""

    def __init__(self, runtime: Runtime, window_s: int) -> None:
        self._runtime = runtime
        self._window_s = window_s

    async def hit(self, *parts: str, limit: int) -> None:
        """Count one hit; raises RateLimited past the limit, ServiceUnavailable without Redis."""
        key = self._runtime.key("api", "rl", *parts)
        try:
            async with self._runtime.redis.pipeline(transaction=True) as pipe:
                # SET NX EX then INCR: the window starts at the first hit (Redis 6 has
                # no EXPIRE NX), all three in one round trip.
                pipe.set(key, 0, ex=self._window_s, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
                _, count, ttl = await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable("rate limits unavailable; retry shortly") from exc
        if count > limit:
            raise RateLimited(max(1, int(ttl)))


@dataclass
class ApiServices:
    services: ChannelServices  # the facade USSD calls too: run, with_pin, named calls
    otp_kit: OtpKit
    tokens: AccessTokens
    limiter: RateLimiter
    refresh_ttl: timedelta
    # Keys the PIN inside a transfer's attempt key (see transfers route).
    attempt_key: bytes
    # Drops a phone's cached USSD profile after it changes here.
    forget_profile: Callable[[str], Awaitable[None]]
    # Flags a phone a merchant asked to pay: its next USSD dial opens on the request.
    flag_pay_request: Callable[[str], Awaitable[None]]
    # Where pay orders are paid on Stellar (the merchant API shows it), None without a
    # network. Public addresses only: read from the seeds once, at start-up.
    stellar_payee: StellarPayee | None = None

    @classmethod
    def build(
        cls,
        services: ChannelServices,
        forget_profile: Callable[[str], Awaitable[None]],
        *,
        flag_pay_request: Callable[[str], Awaitable[None]],
    ) -> ApiServices:
        settings = services.settings
        return cls(
            services=services,
            otp_kit=OtpKit.from_settings(settings),
            tokens=AccessTokens.from_settings(settings),
            limiter=RateLimiter(services.runtime, settings.api_rate_window_s),
            refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
            attempt_key=session_key(settings, "api-pin-attempt"),
            forget_profile=forget_profile,
            flag_pay_request=flag_pay_request,
            stellar_payee=payee_from_settings(settings),
        )

    @property
    def runtime(self) -> Runtime:
        return self.services.runtime

    def _revoked_key(self, session_id: uuid.UUID) -> str:
        return self.runtime.key("api", "revoked", str(session_id))

    async def end_access(self, session_id: uuid.UUID) -> None:
        """Make the session's access tokens fail before they expire."""
        try:
            await self.runtime.redis.set(
                self._revoked_key(session_id), "1", ex=self.tokens.ttl_s + 60
            )
        except RedisError as exc:
            raise ServiceUnavailable("could not end the session; retry") from exc

    async def caller(self, token: str) -> AccessClaims:
        """The claims of a live access token; raises InvalidToken, ServiceUnavailable."""
        claims = self.tokens.verify(token)
        try:
            ended = await self.runtime.redis.exists(self._revoked_key(claims.session_id))
        except RedisError as exc:
            raise ServiceUnavailable("cannot check the session; retry") from exc
        if ended:
            raise InvalidToken("the session has ended: sign in again")
        return claims


def _api(request: Request) -> ApiServices:
    return request.app.state.api


Api = Annotated[ApiServices, Depends(_api)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AccessToken",
    description="`access_token` from POST /api/v1/auth/token (or /auth/refresh)",
)


async def _current_user(
    api: Api, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> AccessClaims:
    if credentials is None:
        raise SignInRequired("sign in first: send Authorization: Bearer <access_token>")
    return await api.caller(credentials.credentials)


CurrentUser = Annotated[AccessClaims, Security(_current_user)]


def client_address(request: Request) -> str:
    """The caller's address: the peer, or behind TRUSTED_PROXIES the right-most
    untrusted X-Forwarded-For entry (app/http/client_address.py)."""
    return request_client(request, request.app.state.runtime.settings.trusted_proxies)
