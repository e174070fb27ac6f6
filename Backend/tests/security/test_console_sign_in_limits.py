"""Console sign-ins over the real app (its lifespan run, each client at its own
address): one address that keeps failing is refused for a while, whatever accounts it
tries, while the others sign in; and the password checks take their turns apart from
USSD's PIN checks, so a flood of sign-ins never makes a USSD PIN hop wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from app.api.app import create_app
from app.config import Settings
from app.services.console_sign_in_limits import address_bucket
from app.services.facade import ChannelServices
from tests.support.console import PASSWORD, csrf_of, make_operator

GUESSER = "203.0.113.9"
COLLEAGUE = "198.51.100.7"
WAIT_S = 10


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str, code: str, **headers: str
) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "email": email, "password": password, "code": code},
        headers=headers,
    )


def with_app(settings: Settings, work: Callable[..., Awaitable[None]]) -> None:
    """work(app, client_from) inside the app's lifespan; client_from(address) is an HTTP
    client whose requests arrive from that address."""
    app = create_app(settings)

    async def go() -> None:
        async with app.router.lifespan_context(app):

            def client_from(address: str) -> httpx.AsyncClient:
                transport = httpx.ASGITransport(app=app, client=(address, 40000))
                return httpx.AsyncClient(transport=transport, base_url="http://paytrace")

            await work(app, client_from)

    asyncio.run(go())


def test_an_address_that_keeps_failing_is_refused_for_a_while(settings, clean_database):
    limited = settings.model_copy(
        update={"console_sign_in_failures_per_address": 3, "console_sign_in_window_s": 600}
    )
    who = make_operator(limited, clean_database, "admin", "ops@paytrace.test")

    async def work(app, client_from) -> None:
        async with client_from(GUESSER) as guesser, client_from(COLLEAGUE) as colleague:
            # Spread over accounts, so no account's own slow-down is reached.
            for n in range(3):
                wrong = await sign_in(guesser, f"guess{n}@paytrace.test", "not it", "000000")
                assert wrong.status_code == 401
            # Now even the right password and code are not checked from there.
            refused = await sign_in(guesser, who.email, PASSWORD, who.code())
            assert refused.status_code == 429
            assert "too many failed sign-ins from your address" in refused.text
            assert 0 < int(refused.headers["retry-after"]) <= 600
            as_json = await sign_in(
                guesser, who.email, PASSWORD, who.code(), accept="application/json"
            )
            assert as_json.status_code == 429
            assert as_json.json()["error"] == "sign_in_throttled"
            assert "retry-after" in as_json.headers
            # Another address is not held up by it.
            assert (await sign_in(colleague, who.email, PASSWORD, who.code())).status_code == 303

    with_app(limited, work)


def test_console_sign_ins_do_not_wait_for_ussd_pin_checks(settings, clean_database):
    who = make_operator(settings, clean_database, "admin", "ops@paytrace.test")

    async def work(app, client_from) -> None:
        runtime = app.state.runtime
        for _ in range(settings.pin_checks_in_flight):  # USSD's PIN checks all busy
            await runtime.pin_checks.acquire()
        async with client_from(COLLEAGUE) as client:
            answer = await asyncio.wait_for(
                sign_in(client, who.email, PASSWORD, who.code()), WAIT_S
            )
        assert answer.status_code == 303

    with_app(settings, work)


def test_a_flood_of_console_sign_ins_leaves_ussd_pin_checks_their_turn(settings, clean_database):
    async def work(app, client_from) -> None:
        runtime = app.state.runtime
        for _ in range(settings.console_sign_ins_in_flight):  # every sign-in slot taken
            await runtime.console_sign_ins.acquire()
        checked = ChannelServices(runtime).with_pin(lambda: "checked")
        assert await asyncio.wait_for(checked, WAIT_S) == "checked"

    assert settings.console_sign_ins_in_flight < settings.pin_checks_in_flight
    with_app(settings, work)


def test_an_ipv6_host_counts_with_its_whole_64():
    assert address_bucket("2001:db8:1:2::1") == address_bucket("2001:db8:1:2:ffff::9")
    assert address_bucket("2001:db8:1:2::1") != address_bucket("2001:db8:1:3::1")
    assert address_bucket("::ffff:203.0.113.9") == address_bucket("203.0.113.9")
    assert address_bucket("203.0.113.9") != address_bucket("203.0.113.10")
