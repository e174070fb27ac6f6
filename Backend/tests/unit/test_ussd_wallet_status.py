"""My account > My Stellar address: the wallet's on-chain status in words, and the address.

The caller's profile is cached in Redis for minutes, while the worker that activates
wallets has no Redis at hand: the status on this screen must come from the database.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from app.domain.gsm7 import USSD_MAX_CHARS, is_gsm7
from app.services.accounts import Profile
from app.ussd.engine import Context, State, _render_current
from app.ussd.flow import FLOW
from app.ussd.texts import LANGUAGES, text
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

ADDRESS = "G" + "A" * 55
SHOWN = {
    "en": {
        "pending": "Status: Activating",
        "active": "Status: Active",
        "failed": "Status: Activation delayed, we are on it",
    },
    "sw": {
        "pending": "Hali: Inawashwa",
        "active": "Hali: Inatumika",
        "failed": "Hali: Uwashaji umechelewa, tunaushughulikia",
    },
}


def caller(language: str = "en"):
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821", language=language)
    return services, make_phone(services=services)


def open_wallet(phone) -> str:
    phone.dial()
    phone.send("6")
    return phone.send("4")


def set_status(services: FakeUssdServices, status: str) -> None:
    """What the worker does: the database changes, the Redis profile cache does not."""
    services.users[PHONE] = replace(services.users[PHONE], activation_status=status)


def cached_status(phone) -> str:
    raw = asyncio.run(phone.store._redis.get(phone.store._profile_key(PHONE)))
    return json.loads(raw)["activation_status"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_status_flips_to_active_while_the_cached_profile_still_says_pending(language):
    services, phone = caller(language)
    screen = open_wallet(phone)
    assert screen.splitlines()[0] == f"CON {SHOWN[language]['pending']}"

    set_status(services, "active")
    assert cached_status(phone) == "pending"  # the cache has not expired
    screen = open_wallet(phone)
    assert screen.splitlines()[0] == f"CON {SHOWN[language]['active']}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_failed_activation_is_told_as_a_delay_we_are_handling(language):
    services, phone = caller(language)
    set_status(services, "failed")
    screen = open_wallet(phone)
    assert screen.splitlines()[0] == f"CON {SHOWN[language]['failed']}"
    assert "failed" not in screen.lower()


def test_status_is_read_once_on_the_way_in_and_paging_touches_only_redis():
    services, phone = caller()
    first = open_wallet(phone)
    assert services.calls.count("wallet_status") == 1
    second = phone.send("98")
    assert second.startswith("CON Anyone can pay you KES at this address.")
    assert phone.send("98") == first  # after the last page, the first again
    assert services.calls.count("wallet_status") == 1
    phone.send("0")  # back to My account, and in again: read again
    open_again = phone.send("4")
    assert open_again == first
    assert services.calls.count("wallet_status") == 2


def test_the_whole_address_is_on_the_first_page_with_the_status():
    _, phone = caller()
    screen = open_wallet(phone)
    lines = screen.splitlines()
    assert lines[:2] == ["CON Status: Activating", "Your wallet address on Stellar:"]
    address_lines = lines[2:6]
    assert all(len(line) <= 19 for line in address_lines)  # four groups of four a line
    assert "".join(address_lines).replace(" ", "") == ADDRESS
    assert lines[6:] == ["98. More", "0. Back 00. Home"]


def test_the_session_keeps_the_fresh_status():
    services, phone = caller()
    set_status(services, "active")
    open_wallet(phone)
    stored = asyncio.run(phone.store._redis.get(phone.session_key))
    assert json.loads(stored)["state"]["user"]["activation_status"] == "active"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", ["pending", "active", "failed"])
def test_every_status_fits_a_handset_with_the_longest_address_line(language, status):
    user = Profile(
        user_id=1,
        paytrace_id="PT12345678",
        phone=PHONE,
        full_name="W" * 30 + " " + "W" * 29,
        language=language,
        role="employer",
        stellar_address="G" + "W" * 55,
        activation_status=status,
    )
    state = State(phone=PHONE, language=language, user=user, stack=["main", "account", "address"])
    ctx = Context(state, FakeUssdServices(), "s", "h", "*384*123*999#", 1440)
    for page in range(3):
        for error in (None, ("err.invalid_option", {})):
            state.page = page
            response = _render_current(FLOW, ctx, error).response
            assert len(response) <= USSD_MAX_CHARS, (len(response), response)
            assert is_gsm7(response)
            if page % 2 == 0:
                assert text(language, f"address.{status}") in response
                compact = response.replace(" ", "").replace("\n", "")
                assert user.stellar_address in compact
