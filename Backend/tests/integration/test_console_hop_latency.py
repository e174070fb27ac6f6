"""USSD hop latency on the console's dashboard: hops counted in memory by each API
process, flushed to Redis in one write, read back per hour over the last 24 hours with
their 50th, 95th and 99th percentiles; every figure checked against latencies the test
fed itself."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator

import httpx
import pytest
from redis.exceptions import RedisError

from app.runtime import redis_client
from app.services import hop_latency
from app.services.hop_latency import BOUNDS_S, HopLatencies
from tests.conftest import LiveServer
from tests.support.console import PASSWORD, make_operator, sign_in

# Seconds: most hops are navigation (ms), a few money hops (argon2, the ledger) slower.
FED = {
    0: [0.003] * 50 + [0.04] * 45 + [0.3] * 4 + [2.0],  # the current hour
    3: [0.02] * 9 + [0.9],  # three hours ago
    23: [0.001, 0.012, 12.0],  # the oldest hour shown; 12 s: past every bucket
    24: [0.5] * 7,  # a day ago: no longer shown
}


def expected_ms(latencies: list[float], q: float) -> int | None:
    """The smallest bucket bound at or under which at least q of the hops fell."""
    if not latencies:
        return None
    needed = math.ceil(q * len(latencies))
    for bound in BOUNDS_S:
        if sum(1 for s in latencies if s <= bound) >= needed:
            return round(bound * 1000)
    return round(BOUNDS_S[-1] * 1000)


def feed(now: float) -> list[HopLatencies]:
    """Two API processes, each with half of every hour's hops."""
    processes = [HopLatencies(), HopLatencies()]
    for hours_ago, latencies in FED.items():
        at = (int(now // 3600) - hours_ago) * 3600 + 90  # 1.5 minutes into that hour
        for n, seconds in enumerate(latencies):
            processes[n % 2].record(seconds, at=at + n)  # spread over minutes
    return processes


async def flush_all(settings, processes: list[HopLatencies]) -> int:
    redis = redis_client(settings)
    try:
        return sum([await hop_latency.flush(p, redis, settings.redis_prefix) for p in processes])
    finally:
        await redis.aclose()


async def read(settings, now: float):
    redis = redis_client(settings)
    try:
        return await hop_latency.hourly(redis, settings.redis_prefix, now)
    finally:
        await redis.aclose()


def test_hours_of_hops_are_the_latencies_fed_by_every_process(settings):
    now = time.time()
    processes = feed(now)
    written = asyncio.run(flush_all(settings, processes))
    assert written == sum(len(v) for v in FED.values())
    assert asyncio.run(flush_all(settings, processes)) == 0  # taken once

    hours = asyncio.run(read(settings, now))
    assert len(hours) == 24
    assert hours[-1].hour.timestamp() == int(now // 3600) * 3600  # the current hour last
    for hours_ago, got in zip(range(23, -1, -1), hours, strict=True):
        fed = FED.get(hours_ago, [])
        assert got.hops == len(fed), hours_ago  # zero-filled where none
        assert (got.p50_ms, got.p95_ms, got.p99_ms) == tuple(
            expected_ms(fed, q) for q in (0.50, 0.95, 0.99)
        ), hours_ago
    assert (hours[-1].p50_ms, hours[-1].p95_ms, hours[-1].p99_ms) == (5, 50, 500)
    assert hours[-24].p99_ms == 10_000


def test_a_flush_redis_refuses_keeps_the_counts_for_the_next(settings):
    latencies = HopLatencies()
    latencies.record(0.02)
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with pytest.raises((RedisError, OSError)):
        asyncio.run(flush_all(broken, [latencies]))
    assert asyncio.run(flush_all(settings, [latencies])) == 1


@pytest.fixture
def operator(live_server: LiveServer, live_settings, clean_database) -> Iterator[httpx.Client]:
    who = make_operator(live_settings, clean_database, "viewer", "viewer@paytrace.test")
    with httpx.Client(base_url=live_server.url, timeout=10, follow_redirects=True) as client:
        assert sign_in(client, who.email, PASSWORD, who.code()).status_code == 200
        yield client


def test_the_dashboard_shows_hops_and_percentiles_per_hour(operator, live_settings):
    now = time.time()
    asyncio.run(flush_all(live_settings, feed(now)))
    data = operator.get("/console/hop_latency.json").json()
    assert len(data["hours"]) == len(data["hops"]) == len(data["p95_ms"]) == 24
    assert data["hops"][-1] == len(FED[0]) and data["hops"][-4] == len(FED[3])
    assert data["hops"][-2] == 0 and data["p50_ms"][-2] is None
    assert (data["p50_ms"][-1], data["p95_ms"][-1], data["p99_ms"][-1]) == (5, 50, 500)
    assert data["p99_ms"][-4] == expected_ms(FED[3], 0.99) == 1000
    page = operator.get("/console")
    assert page.status_code == 200
    assert 'id="hop-latency"' in page.text
    current = data["hours"][-1]
    assert f'data-hour="{current}"><td>' in page.text


def test_a_real_hop_is_counted_and_written_when_the_process_stops(live_settings):
    from app.api.app import create_app

    with LiveServer(create_app(live_settings), live_settings.port) as server:
        form = {
            "sessionId": "ATUid_latency",
            "serviceCode": live_settings.ussd_service_codes[0],
            "phoneNumber": "+254711000009",
            "networkCode": "63902",
            "text": "",
        }
        answer = httpx.post(f"{server.url}/ussd", data=form, timeout=10)
        assert answer.text.startswith("CON ")
    # Stopping, the process writes what it still holds (its last seconds count too).
    hours = asyncio.run(read(live_settings, time.time()))
    assert sum(h.hops for h in hours) == 1
    assert hours[-1].hops + hours[-2].hops == 1
