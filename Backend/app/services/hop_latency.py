"""USSD hop latency for the console's dashboard, kept off the hop's hot path.

A hop only counts itself in memory (`HopLatencies.record`: a clock read, a bisect and
an increment; no Redis, no PostgreSQL): each API process keeps a fixed-bucket
histogram per minute, and a background task (`keep_flushing`) adds them into Redis
every few seconds with one pipelined write (HINCRBY per bucket into one hash per UTC
hour, `<REDIS_PREFIX>ussd:hop_latency:<hour>`, kept 26 hours). The console reads the
last 24 hours (`hourly`): hops per hour and their 50th, 95th and 99th percentiles, each
the upper bound of the bucket that holds it (what a fixed-bucket histogram can say).
Prometheus's `paytrace_ussd_hop_seconds` times the same span over the same buckets,
but for 1.5 s (the hop's deadline) and 10 s, which only these have.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from bisect import bisect_left
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("paytrace.hop_latency")

# Seconds; the last bucket also holds anything slower (a hop past every deadline).
BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0)
FLUSH_EVERY_S = 5.0
HOURS = 24
KEEP_S = 26 * 3600
QUANTILES = (0.50, 0.95, 0.99)
# Minutes held in memory while Redis is unreachable: a day's, then the oldest go.
MAX_PENDING_MINUTES = 24 * 60


def key_of(prefix: str, hour: int) -> str:
    return f"{prefix}ussd:hop_latency:{hour}"


class HopLatencies:
    """One process's hop latencies not yet written, by minute: `record` is all a hop
    pays. Single-threaded (the event loop), so no lock."""

    def __init__(self) -> None:
        self._pending: dict[int, list[int]] = {}

    def record(self, seconds: float, at: float | None = None) -> None:
        minute = int((time.time() if at is None else at) // 60)
        counts = self._pending.get(minute)
        if counts is None:
            counts = self._pending[minute] = [0] * len(BOUNDS_S)
        counts[min(bisect_left(BOUNDS_S, seconds), len(BOUNDS_S) - 1)] += 1

    def take(self) -> dict[int, list[int]]:
        """Everything recorded so far, forgotten here."""
        taken, self._pending = self._pending, {}
        return taken

    def give_back(self, taken: dict[int, list[int]]) -> None:
        """Counts a flush could not write, kept for the next one (newest minutes first
        when there are too many)."""
        for minute, counts in taken.items():
            mine = self._pending.setdefault(minute, [0] * len(BOUNDS_S))
            for i, count in enumerate(counts):
                mine[i] += count
        for minute in sorted(self._pending)[:-MAX_PENDING_MINUTES]:
            del self._pending[minute]


async def flush(latencies: HopLatencies, redis: aioredis.Redis, prefix: str) -> int:
    """Write what `latencies` holds into Redis in one pipelined round trip; the hops
    written. On a Redis error the counts are kept for the next flush, and it raises."""
    taken = latencies.take()
    if not taken:
        return 0
    by_hour: dict[int, list[int]] = {}
    for minute, counts in taken.items():
        hour = by_hour.setdefault(minute // 60, [0] * len(BOUNDS_S))
        for i, count in enumerate(counts):
            hour[i] += count
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for hour, counts in by_hour.items():
                key = key_of(prefix, hour)
                for i, count in enumerate(counts):
                    if count:
                        pipe.hincrby(key, str(i), count)
                pipe.expire(key, KEEP_S)
            await pipe.execute()
    except (RedisError, OSError):
        latencies.give_back(taken)
        raise
    return sum(sum(counts) for counts in by_hour.values())


async def keep_flushing(
    latencies: HopLatencies, redis: aioredis.Redis, prefix: str, every_s: float = FLUSH_EVERY_S
) -> None:
    """Flush every `every_s` until cancelled, then once more (a stopping process's
    last seconds count too)."""
    try:
        while True:
            await asyncio.sleep(every_s)
            try:
                await flush(latencies, redis, prefix)
            except (RedisError, OSError) as exc:
                log.warning("hop latencies not written; kept", extra={"error": type(exc).__name__})
    finally:
        with suppress(RedisError, OSError, asyncio.CancelledError):
            await flush(latencies, redis, prefix)


@dataclass(frozen=True)
class HourOfHops:
    hour: datetime  # the hour's start, UTC
    hops: int
    p50_ms: int | None  # None: no hop that hour
    p95_ms: int | None
    p99_ms: int | None


def percentile_ms(counts: list[int], q: float) -> int | None:
    """The upper bound (ms) of the bucket holding the q-th quantile: the smallest
    bound at or under which at least q of the hops fell."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen = math.ceil(q * total), 0
    for bound, count in zip(BOUNDS_S, counts, strict=True):
        seen += count
        if seen >= rank:
            return round(bound * 1000)
    return round(BOUNDS_S[-1] * 1000)


def summarise(hour: int, counts: Iterable[int]) -> HourOfHops:
    counts = list(counts)
    p50, p95, p99 = (percentile_ms(counts, q) for q in QUANTILES)
    return HourOfHops(datetime.fromtimestamp(hour * 3600, UTC), sum(counts), p50, p95, p99)


async def hourly(redis: aioredis.Redis, prefix: str, now: float | None = None) -> list[HourOfHops]:
    """The last HOURS hours (the current one last), every hour present (no hop: 0 hops,
    no percentiles), from every API process's flushed counts. Raises RedisError."""
    last = int((time.time() if now is None else now) // 3600)
    hours = range(last - HOURS + 1, last + 1)
    async with redis.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hgetall(key_of(prefix, hour))
        found = await pipe.execute()
    figures = []
    for hour, fields in zip(hours, found, strict=True):
        counts = [0] * len(BOUNDS_S)
        for field, value in fields.items():
            index = int(field)
            if 0 <= index < len(BOUNDS_S):
                counts[index] = int(value)
        figures.append(summarise(hour, counts))
    return figures
