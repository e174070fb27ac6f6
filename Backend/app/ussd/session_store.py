"""USSD sessions in Redis: one string key per AT session.

The value is the engine's state plus the answers given to the session's last
few hops (keyed by hop digest), so a gateway retry of a hop gets the same
answer without running anything again. Loading a hop is one MGET (session, the
caller's cached profile and their "a merchant asked you to pay" flag); saving it is
one SET with the session TTL: the same two commands as the bare Redis endpoint the
benchmark compares against.

The flag (`flag_pay_request`, set by the merchant API once a request to pay is
committed) only says "look": the first hop of a flagged caller's next dial asks
PostgreSQL for the request (app/ussd/pay/requests.py), and drops the flag when
nothing is pending any more. So no caller without a request pays a round trip for
the feature, and a flag that outlives its request costs one read, once.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis

from app.infra.redis_lane import RedisLane
from app.services.accounts import Profile

_NO_USER = "-"  # a cached "this phone is not registered"
KEEP = object()  # save(): leave the cached profile as it is
NEGATIVE_TTL_S = 30
# AT only retries the hop in flight; a few more cover a retry overtaken by the next hop.
ANSWERS_KEPT = 4
# An order is payable for at most 1,440 minutes (app/domain/pay_orders.py), so its
# request's flag can never be needed longer than a day.
PAY_REQUEST_FLAG_TTL_S = 24 * 3600 + 60


# The caller's phone is each key's hash tag ({...}): on Redis Cluster a hop's three
# keys live in one slot, so loading a hop stays one MGET (CROSSSLOT otherwise). The
# session key carries the phone too, which also keeps one caller's session id from
# ever naming another caller's session.
def session_key(prefix: str, phone: str, session_id: str) -> str:
    return f"{prefix}ussd:s:{{{phone}}}:{session_id}"


def profile_key(prefix: str, phone: str) -> str:
    return f"{prefix}profile:{{{phone}}}"


def pay_request_key(prefix: str, phone: str) -> str:
    return f"{prefix}payreq:{{{phone}}}"


class SessionStore:
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        ttl_s: int,
        profile_ttl_s: int,
        lane: RedisLane | None = None,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl_s
        self._profile_ttl = profile_ttl_s
        # Every hop's MGET and SET: on the lane when there is one (app/infra/redis_lane.py),
        # else through the client's own execute_command (a cluster's, a test's fake).
        self._lane = lane
        self._command = lane.execute if lane is not None else client.execute_command

    def _profile_key(self, phone: str) -> str:
        return profile_key(self._prefix, phone)

    def _pay_request_key(self, phone: str) -> str:
        return pay_request_key(self._prefix, phone)

    async def load(
        self, session_id: str, phone: str
    ) -> tuple[dict[str, Any] | None, Profile | None, bool, bool]:
        """(stored session or None, cached profile, whether the profile cache answered,
        whether the phone is flagged as asked to pay)."""
        session, profile, asked = await self._command(
            "MGET",
            session_key(self._prefix, phone, session_id),
            self._profile_key(phone),
            self._pay_request_key(phone),
        )
        stored = json.loads(session) if session else None
        flagged = asked is not None
        if profile is None:
            return stored, None, False, flagged
        if profile == _NO_USER:
            return stored, None, True, flagged
        return stored, Profile(**json.loads(profile)), True, flagged

    async def save(
        self,
        session_id: str,
        phone: str,
        stored: dict[str, Any] | None,
        state: dict[str, Any],
        digest: str,
        answer: str,
        profile: Profile | object | None = KEEP,
    ) -> None:
        """One SET; with a profile to cache too (a first hop that read PostgreSQL, or a
        changed profile), both SETs in one pipeline: still one round trip."""
        answers = dict(stored["answers"]) if stored else {}
        answers[digest] = answer
        while len(answers) > ANSWERS_KEPT:
            answers.pop(next(iter(answers)))
        value = json.dumps({"state": state, "answers": answers}, separators=(",", ":"))
        key = session_key(self._prefix, phone, session_id)
        if profile is KEEP:
            await self._command("SET", key, value, "EX", self._ttl)
            return
        # The two keys share the phone's hash tag: one slot on Redis Cluster too.
        cached, ttl = self._profile_value(profile)  # type: ignore[arg-type]
        if self._lane is not None:
            await self._lane.pipeline(
                (
                    ("SET", key, value, "EX", self._ttl),
                    ("SET", self._profile_key(phone), cached, "EX", ttl),
                )
            )
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(key, value, ex=self._ttl)
            pipe.set(self._profile_key(phone), cached, ex=ttl)
            await pipe.execute()

    def _profile_value(self, profile: Profile | None) -> tuple[str, int]:
        if profile is None:
            return _NO_USER, NEGATIVE_TTL_S
        return json.dumps(asdict(profile)), self._profile_ttl

    async def forget_profile(self, phone: str) -> None:
        """Drop a cached profile (changed elsewhere, e.g. over the REST API)."""
        await self._redis.delete(self._profile_key(phone))

    async def flag_pay_request(self, phone: str) -> None:
        """A merchant asked this phone to pay: its next dial looks for the request."""
        await self._redis.set(self._pay_request_key(phone), "1", ex=PAY_REQUEST_FLAG_TTL_S)

    async def forget_pay_request(self, phone: str) -> None:
        await self._redis.delete(self._pay_request_key(phone))
