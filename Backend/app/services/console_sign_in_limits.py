"""How many failed console sign-ins one client address may make, counted in Redis.

The operator's own slow-down (operators.SignInPolicy) is asked of the account, so that a
guesser spread over many addresses is slowed all the same; this is the other half: one
address trying many accounts (each under its own free attempts) is stopped all the same.
At most `failures` failed sign-ins per address within `window_s` of its first one; past
that every try from it is refused without any check until the window ends. A right
sign-in clears nothing (a guesser holding one account must not reset the count). An IPv6
address counts with its /64: one host is handed a whole /64.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.config import Settings
from app.errors import ServiceUnavailable, SignInThrottled

UNAVAILABLE = "console sign-in limits are unavailable (Redis): retry"
IPV6_PREFIX = 64


@dataclass(frozen=True)
class AddressPolicy:
    """At most `failures` failed sign-ins per client address within `window_s`."""

    failures: int = 20
    window_s: int = 900

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        """CONSOLE_SIGN_IN_FAILURES_PER_ADDRESS and CONSOLE_SIGN_IN_WINDOW_S; raises
        nothing."""
        return cls(
            failures=settings.console_sign_in_failures_per_address,
            window_s=settings.console_sign_in_window_s,
        )


def address_bucket(address: str) -> str:
    """What an address is counted as: itself, or its /64 for IPv6 (text kept as is
    when it is not an address)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


class AddressThrottle:
    """Failed sign-ins per address under `prefix` in Redis (the runtime's namespace)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, policy: AddressPolicy) -> None:
        self._redis = redis
        self._prefix = prefix
        self.policy = policy

    def _key(self, address: str) -> str:
        return self._prefix + address_bucket(address)

    async def check(self, address: str) -> None:
        """Before any check is made. Raises SignInThrottled while the address has used
        its failures, ServiceUnavailable without Redis."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._key(address))
                pipe.ttl(self._key(address))
                count, ttl = await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable(UNAVAILABLE) from exc
        if count is not None and int(count) >= self.policy.failures:
            raise SignInThrottled(max(1, int(ttl)))

    async def failed(self, address: str) -> None:
        """Count one failed sign-in from the address. Raises ServiceUnavailable without
        Redis."""
        key = self._key(address)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                # SET NX EX then INCR: the window starts at the first failure, one round trip.
                pipe.set(key, 0, ex=self.policy.window_s, nx=True)
                pipe.incr(key)
                await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable(UNAVAILABLE) from exc
