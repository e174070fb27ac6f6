"""USSD sessions in Redis: one hash per AT session.

Fields: `state` (the engine's JSON state) and `h:<hop digest>` (the answer given
to that hop), so a gateway retry of a hop gets the same answer without running
anything again. Loading a hop is one round trip (a pipeline that also fetches
the caller's cached profile); saving is another.
"""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from app.ussd.ports import ProfileDict

_NO_USER = "-"  # a cached "this phone is not registered"
NEGATIVE_TTL_S = 30


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
        self, session_id: str, hop_digest: str, phone: str
    ) -> tuple[str | None, str | None, ProfileDict | None, bool]:
        """(state JSON, cached answer to this hop, cached profile, profile known)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(self._session_key(session_id), "state", f"h:{hop_digest}")
        pipe.get(self._profile_key(phone))
        (state, answer), profile = await pipe.execute()
        if profile is None:
            return state, answer, None, False
        if profile == _NO_USER:
            return state, answer, None, True
        return state, answer, json.loads(profile), True

    async def save(self, session_id: str, state_json: str, hop_digest: str, answer: str) -> None:
        key = self._session_key(session_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"state": state_json, f"h:{hop_digest}": answer})
        pipe.expire(key, self._ttl)
        await pipe.execute()

    async def cache_profile(self, phone: str, profile: ProfileDict | None) -> None:
        if profile is None:
            await self._redis.set(self._profile_key(phone), _NO_USER, ex=NEGATIVE_TTL_S)
        else:
            await self._redis.set(
                self._profile_key(phone), json.dumps(profile), ex=self._profile_ttl
            )
