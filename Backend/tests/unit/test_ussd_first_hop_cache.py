"""A first hop whose caller no cache knows asks the services once and caches the
answer with the session's save (one Redis round trip): a registered caller's profile
for the profile TTL, an unregistered number's "not registered" briefly."""

import asyncio
import json

from app.ussd.session_store import NEGATIVE_TTL_S
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone


def _cached(phone) -> tuple[str | None, int]:
    redis, key = phone.store._redis, phone.store._profile_key(PHONE)
    return asyncio.run(redis.get(key)), asyncio.run(redis.ttl(key))


def test_an_unregistered_numbers_first_hop_is_cached_briefly_and_asked_once():
    services = FakeUssdServices()
    phone = make_phone(services=services)
    assert phone.dial().startswith("CON ")
    assert phone.dial().startswith("CON ")
    assert services.calls.count("profile") == 1
    value, ttl = _cached(phone)
    assert value == "-"
    assert 0 < ttl <= NEGATIVE_TTL_S


def test_a_registered_callers_first_hop_caches_the_profile_with_the_session():
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    phone = make_phone(services=services)
    phone.dial()
    phone.dial()
    assert services.calls.count("profile") == 1
    value, ttl = _cached(phone)
    assert json.loads(value)["full_name"] == "Jane Wanjiku"
    assert NEGATIVE_TTL_S < ttl <= 600
    assert asyncio.run(phone.store._redis.exists(phone.session_key)) == 1
