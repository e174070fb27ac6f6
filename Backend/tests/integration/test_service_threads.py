"""A channel's service call runs on the runtime's service threads, with a fresh unit of
work and the request's id: PostgreSQL sees it in the transaction (the outbox's rows
take it as their default)."""

from __future__ import annotations

import asyncio
import threading

import redis.asyncio as aioredis

from app.infra.request_context import current_request_id
from app.runtime import Runtime
from app.services.channel.calling import ChannelCore


def test_a_service_call_runs_on_a_service_thread_with_the_requests_id(settings, clean_database):
    def service(uow):
        with uow, uow.conn.cursor() as cur:
            cur.execute("SELECT current_setting('paytrace.request_id', true)")
            return threading.current_thread().name, cur.fetchone()[0]

    async def main():
        client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        runtime = Runtime(settings=settings, database=clean_database, redis=client)
        try:
            current_request_id.set("req-service-threads-1")
            return await ChannelCore(runtime).run(service)
        finally:
            runtime.service_threads.close()
            await client.aclose()

    name, seen = asyncio.run(main())
    assert name.startswith("service")
    assert seen == "req-service-threads-1"
