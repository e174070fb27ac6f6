"""The first hop's profile reads on real PostgreSQL: several phones read in one
statement (accounts.get_profiles, migration 0063) answer as one read per phone
(accounts.get_profile) does, and the channel's profile() asked for many callers at once
(their reads coalesced, app/infra/coalesced_reads.py) gives each caller their own."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from app.db.unit_of_work import UnitOfWork
from app.runtime import Runtime
from app.services import accounts
from app.services.facade import ChannelServices
from tests.support.wallets import phone_of, register, registration_secrets

NAMES = ("Amina Njeri", "Baraka Otieno", "Cheptoo Kiprono", "Daudi Mwangi", "Esther Achieng")


def _register_some(database, settings, count: int) -> list[str]:
    box, pin_hash = registration_secrets(settings)
    phones = [phone_of(n) for n in range(count)]
    for n, phone in enumerate(phones):
        language = "sw" if n % 2 else "en"
        register(database, box, pin_hash, phone=phone, name=NAMES[n % 5], language=language)
    return phones


def test_several_phones_read_at_once_answer_as_each_read_alone(clean_database, settings):
    registered = _register_some(clean_database, settings, 5)
    unknown = [phone_of(900 + n) for n in range(3)]
    asked = [unknown[0], *registered, unknown[1], registered[2], unknown[2]]

    found = accounts.get_profiles(UnitOfWork(clean_database), asked)

    alone = {p: accounts.get_profile(UnitOfWork(clean_database), p) for p in asked}
    assert found == {phone: profile for phone, profile in alone.items() if profile is not None}
    assert sorted(found) == sorted(registered)
    assert {p.language for p in found.values()} == {"en", "sw"}
    assert accounts.get_profiles(UnitOfWork(clean_database), []) == {}


def test_many_callers_at_once_each_get_their_own_profile(clean_database, settings):
    registered = _register_some(clean_database, settings, 12)
    unknown = [phone_of(500 + n) for n in range(12)]
    # Registered and unknown callers interleaved, some of them twice at once.
    asked = [p for pair in zip(registered, unknown, strict=True) for p in pair] + registered[:4]
    expected = [accounts.get_profile(UnitOfWork(clean_database), p) for p in asked]

    async def main():
        client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        runtime = Runtime(settings=settings, database=clean_database, redis=client)
        services = ChannelServices(runtime)
        try:
            return await asyncio.gather(*(services.profile(p) for p in asked))
        finally:
            runtime.service_threads.close()
            runtime.pin_pool.close()
            await client.aclose()

    answers = asyncio.run(main())
    assert answers == expected
    assert [a.phone if a else None for a in answers] == [
        p if p in registered else None for p in asked
    ]
