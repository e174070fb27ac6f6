"""USSD sessions in Redis: one string key per AT session.

The value is the engine's state plus the answers given to the session's last
few hops (keyed by hop digest), so a gateway retry of a hop gets the same
answer without running anything again. Loading a hop is one MGET (session and
the caller's cached profile); saving it is one SET with the session TTL: the
same two commands as the bare Redis endpoint the benchmark compares against.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis

from app.services.accounts import Profile

_NO_USER = "-"  # a cached "this phone is not registered"
NEGATIVE_TTL_S = 30
# AT only retries the hop in flight; a few more cover a retry overtaken by the next hop.
ANSWERS_KEPT = 4


class SessionStore:
    def __init__(self, client: aioredis.Redis, prefix: str, ttl_s: int, profile_ttl_s: int) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl_s
        self._profile_ttl = profile_ttl_s

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}ussd:s:{session_id}"

    def _profile_key(self, phone: str) -> str:
        return f"{self._prefix}profile:{phone}"

    async def load(
        self, session_id: str, phone: str
    ) -> tuple[dict[str, Any] | None, Profile | None, bool]:
        """(stored session or None, cached profile, whether the profile cache answered)."""
        session, profile = await self._redis.mget(
            self._session_key(session_id), self._profile_key(phone)
        )
        stored = json.loads(session) if session else None
        if profile is None:
            return stored, None, False
        if profile == _NO_USER:
            return stored, None, True
        return stored, Profile(**json.loads(profile)), True

    async def save(
        self,
        session_id: str,
        stored: dict[str, Any] | None,
        state: dict[str, Any],
        digest: str,
        answer: str,
    ) -> None:
        answers = dict(stored["answers"]) if stored else {}
        answers[digest] = answer
        while len(answers) > ANSWERS_KEPT:
            answers.pop(next(iter(answers)))
        value = json.dumps({"state": state, "answers": answers}, separators=(",", ":"))
        await self._redis.set(self._session_key(session_id), value, ex=self._ttl)

    async def cache_profile(self, phone: str, profile: Profile | None) -> None:
        if profile is None:
            await self._redis.set(self._profile_key(phone), _NO_USER, ex=NEGATIVE_TTL_S)
        else:
            await self._redis.set(
                self._profile_key(phone), json.dumps(asdict(profile)), ex=self._profile_ttl
            )

    async def forget_profile(self, phone: str) -> None:
        """Drop a cached profile (changed elsewhere, e.g. over the REST API)."""
        await self._redis.delete(self._profile_key(phone))
