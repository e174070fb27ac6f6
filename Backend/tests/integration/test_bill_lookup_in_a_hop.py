"""A USSD hop never waits on a slow biller past its own deadline: Daraja's account
lookup that does not answer within USSD_LOOKUP_WAIT_S leaves the account checked by
its form only (looked_up False), well inside the hop's 1.5 s."""

from __future__ import annotations

import asyncio
import socket
import time

import redis.asyncio as aioredis

from app.runtime import Runtime
from app.services.facade import USSD_LOOKUP_WAIT_S, ChannelServices


def test_a_biller_that_never_answers_is_not_waited_for(settings, clean_database):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        slow = settings.model_copy(update={"daraja_base_url": url})
        assert slow.ussd_hop_deadline_s > USSD_LOOKUP_WAIT_S + 0.5

        async def main():
            client = aioredis.Redis.from_url(slow.redis_url, decode_responses=True)
            services = ChannelServices(
                Runtime(settings=slow, database=clean_database, redis=client)
            )
            try:
                started = time.monotonic()
                check = await services.validate_bill_account(
                    biller_code="kplc_prepaid", account="12345678901"
                )
                return check, time.monotonic() - started
            finally:
                await client.aclose()

        check, took = asyncio.run(main())
    assert (check.account, check.holder_name, check.looked_up) == ("12345678901", None, False)
    assert took < slow.ussd_hop_deadline_s
