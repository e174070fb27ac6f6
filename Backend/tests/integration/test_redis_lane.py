"""The USSD hop's Redis lane (app/infra/redis_lane.py) against a real Redis: the same
answers and errors as the client, a connection Redis closed while idle tried once
more, a cancelled command never leaving its answer for the next one, no crossed
answers under concurrency, every connection closed at shutdown."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.infra.redis_lane import RedisLane


def run(test):
    """Run an async test body on its own loop, with a client and a lane on redis_url."""

    def runner(redis_url: str, redis_prefix: str) -> None:
        async def body() -> None:
            client = aioredis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
            lane = RedisLane(client)
            try:
                await test(client, lane, redis_prefix)
            finally:
                await lane.close()
                await client.aclose()

        asyncio.run(body())

    runner.__name__ = test.__name__
    runner.__doc__ = test.__doc__
    return runner


@run
async def test_the_lane_answers_as_the_client_does(client, lane, prefix):
    await lane.execute("SET", f"{prefix}a", "jambo", "EX", 60)
    assert await client.get(f"{prefix}a") == "jambo"
    assert await client.ttl(f"{prefix}a") > 50
    assert await lane.execute("MGET", f"{prefix}a", f"{prefix}missing") == ["jambo", None]
    with pytest.raises(ResponseError):
        await lane.execute("INCR", f"{prefix}a")  # not an integer: Redis says so
    assert await lane.execute("GET", f"{prefix}a") == "jambo"  # and the lane goes on


@run
async def test_a_connection_redis_closed_while_idle_is_tried_once_more(client, lane, prefix):
    await lane.execute("SET", f"{prefix}k", "1")
    lane_id = await lane.execute("CLIENT", "ID")
    assert await client.execute_command("CLIENT", "KILL", "ID", lane_id) == 1

    assert await lane.execute("GET", f"{prefix}k") == "1"
    assert await lane.execute("CLIENT", "ID") != lane_id  # a fresh connection


@run
async def test_a_cancelled_command_never_leaves_its_answer_for_the_next(client, lane, prefix):
    waiting = asyncio.create_task(lane.execute("BLPOP", f"{prefix}list", 3))
    await asyncio.sleep(0.2)  # BLPOP sent, its answer not come
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await client.rpush(f"{prefix}list", "stale")  # what BLPOP would now answer
    await client.set(f"{prefix}k", "fresh")

    # Redis may still have popped it for the dead connection: only the answer matters.
    assert await lane.execute("GET", f"{prefix}k") == "fresh"


@run
async def test_answers_never_cross_under_concurrency(client, lane, prefix):
    keys = [f"{prefix}c{i}" for i in range(400)]
    await asyncio.gather(*(lane.execute("SET", k, k) for k in keys))
    got = await asyncio.gather(*(lane.execute("MGET", k, f"{prefix}none") for k in keys))
    assert got == [[k, None] for k in keys]


@run
async def test_close_disconnects_every_connection(client, lane, prefix):
    name = f"{prefix}lane"[:60]
    await asyncio.gather(*(lane.execute("CLIENT", "SETNAME", name) for _ in range(5)))
    listed = await client.client_list()
    assert any(c.get("name") == name for c in listed)

    await lane.close()

    await asyncio.sleep(0.1)
    listed = await client.client_list()
    assert not any(c.get("name") == name for c in listed)


@run
async def test_a_pipeline_answers_in_order_and_an_error_leaves_the_lane_in_step(
    client, lane, prefix
):
    answers = await lane.pipeline(
        (("SET", f"{prefix}p1", "a", "EX", 60), ("SET", f"{prefix}p2", "b"), ("GET", f"{prefix}p1"))
    )
    assert answers == ["OK", "OK", "a"]  # Redis's replies, decoded
    with pytest.raises(ResponseError):
        await lane.pipeline(
            (("INCR", f"{prefix}p1"), ("SET", f"{prefix}p3", "c"), ("GET", f"{prefix}p2"))
        )
    assert await client.get(f"{prefix}p3") == "c"  # the commands after the error ran
    # Every answer of the failed pipeline was read: the next command gets its own.
    assert await lane.execute("GET", f"{prefix}p2") == "b"


def test_a_command_past_the_clients_socket_timeout_fails_and_the_lane_goes_on(
    redis_url, redis_prefix
):
    async def body() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=0.3)
        lane = RedisLane(client)
        try:
            with pytest.raises(RedisTimeoutError):
                await lane.execute("BLPOP", f"{redis_prefix}never", 2)  # Redis waits 2 s
            await client.rpush(f"{redis_prefix}never", "late")  # BLPOP's answer, had it lived
            await client.set(f"{redis_prefix}k", "v")
            assert await lane.execute("GET", f"{redis_prefix}k") == "v"
        finally:
            await lane.close()
            await client.aclose()

    asyncio.run(body())
