"""Console sessions, kept server-side in Redis: the browser holds only a random token.

A session ends after `idle_s` without a request (the key's TTL, renewed by each one) and
in any case `absolute_s` after sign-in, and at sign-out. Redis stores the token's
SHA-256, never the token: a read of Redis does not hand out live sessions. Each session
has its own CSRF token, which every form posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.domain.records.console import Operator
from app.errors import ServiceUnavailable, SignInRequired

UNAVAILABLE = "console sessions are unavailable (Redis): retry"


@dataclass(frozen=True)
class Timeouts:
    idle_s: int
    absolute_s: int


@dataclass(frozen=True)
class ConsoleSession:
    operator_id: int
    email: str
    role: str
    csrf: str  # posted back by every form of this session
    started_at: float  # epoch seconds

    def csrf_matches(self, given: str | None) -> bool:
        # As bytes: compare_digest refuses str with non-ASCII characters.
        return bool(given) and hmac.compare_digest(self.csrf.encode(), (given or "").encode())

    def __repr__(self) -> str:
        return f"ConsoleSession(operator_id={self.operator_id}, role={self.role!r})"


class SessionStore:
    """Sessions under `prefix` in Redis (the runtime's namespace)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, timeouts: Timeouts) -> None:
        self._redis = redis
        self._prefix = prefix
        self.timeouts = timeouts

    def _key(self, token: str) -> str:
        return self._prefix + hashlib.sha256(token.encode()).hexdigest()

    async def open(self, operator: Operator, now: float) -> tuple[str, ConsoleSession]:
        """A new session for a signed-in operator: (the cookie's token, the session)."""
        token = secrets.token_urlsafe(32)
        session = ConsoleSession(
            operator_id=operator.id,
            email=operator.email,
            role=operator.role,
            csrf=secrets.token_urlsafe(32),
            started_at=now,
        )
        body = json.dumps(session.__dict__)
        try:
            await self._redis.set(self._key(token), body, ex=self.timeouts.idle_s)
        except RedisError as exc:
            raise ServiceUnavailable(UNAVAILABLE) from exc
        return token, session

    async def resume(self, token: str | None, now: float) -> ConsoleSession:
        """The live session of this token, its idle time renewed; raises SignInRequired
        for no token, an unknown or expired one (idle or absolute), ServiceUnavailable."""
        if not token or len(token) > 128:
            raise SignInRequired("sign in to use the console")
        try:
            return await self._resume(self._key(token), now)
        except RedisError as exc:
            raise ServiceUnavailable(UNAVAILABLE) from exc

    async def _resume(self, key: str, now: float) -> ConsoleSession:
        stored = await self._redis.get(key)
        if stored is None:
            raise SignInRequired("your session has ended: sign in again")
        session = ConsoleSession(**json.loads(stored))
        if now - session.started_at >= self.timeouts.absolute_s:
            await self._redis.delete(key)
            raise SignInRequired("your session has ended: sign in again")
        await self._redis.expire(key, self.timeouts.idle_s)
        return session

    async def close(self, token: str | None) -> None:
        """End the session (sign-out); nothing happens for an unknown token. Raises
        ServiceUnavailable."""
        if token and len(token) <= 128:
            try:
                await self._redis.delete(self._key(token))
            except RedisError as exc:
                raise ServiceUnavailable(UNAVAILABLE) from exc
