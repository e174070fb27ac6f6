"""Nobody can lock a user out of REST sign-in without their phone: a stranger's junk
codes are counted against the stranger's own address, and the per-phone count starts
only once a right code is shown. Real HTTP from two client addresses (127.0.0.2 is
the stranger, 127.0.0.1 the owner), real PostgreSQL and Redis, codes read off the
AT sandbox's phone."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.api.app import create_app
from tests.conftest import LiveServer, free_port
from tests.support.pwa import Pwa
from tests.support.wallets import phone_of, register, registration_secrets

PIN = "4821"
JANE = phone_of(1)
STRANGER_ADDRESS = "127.0.0.2"


@pytest.fixture
def pwa(live_server, live_settings, database) -> Iterator[Pwa]:
    client = Pwa(live_server.url, live_settings, database)
    yield client
    client.close()


@pytest.fixture
def stranger(live_server) -> Iterator[httpx.Client]:
    """A client on another address: the loopback network is all of 127.0.0.0/8."""
    transport = httpx.HTTPTransport(local_address=STRANGER_ADDRESS)
    with httpx.Client(
        base_url=live_server.url + "/api/v1", transport=transport, timeout=10
    ) as client:
        yield client


@pytest.fixture
def jane(settings, clean_database) -> int:
    box, pin_hash = registration_secrets(settings, PIN)
    return register(clean_database, box, pin_hash, phone=JANE, name="Jane Wanjiku")


def junk(client: httpx.Client, tries: int) -> list[int]:
    return [
        client.post(
            "/auth/token", json={"phone": JANE, "otp": f"{n:06d}", "pin": "9047"}
        ).status_code
        for n in range(tries)
    ]


def pin_state(database, user_id: int) -> tuple:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT failed_attempts, locked_until, lock_count FROM user_credentials"
            " WHERE user_id = %(id)s",
            {"id": user_id},
        )
        found = cur.fetchone()
        conn.rollback()
    return found


def test_a_strangers_junk_codes_do_not_stop_the_owner_signing_in(
    pwa, stranger, live_settings, clean_database, jane
):
    code = pwa.new_code(JANE)  # the owner's code is live while the stranger tries
    tries = live_settings.login_attempts_per_phone_and_address + 5

    statuses = junk(stranger, tries)

    limit = live_settings.login_attempts_per_phone_and_address
    assert statuses[:limit] == [401] * limit
    assert statuses[limit:] == [429] * (tries - limit)  # the stranger's own address is spent
    signed_in = pwa.token(JANE, code, PIN)
    assert signed_in.status_code == 200, signed_in.text
    assert pin_state(clean_database, jane) == (0, None, 0)  # no PIN attempt was spent


def test_a_strangers_junk_kills_the_code_for_their_address_only(
    pwa, stranger, live_settings, clean_database, jane
):
    code = pwa.new_code(JANE)
    junk(stranger, live_settings.otp_max_attempts)
    # Even the right code is refused from the stranger's address now...
    stolen = stranger.post("/auth/token", json={"phone": JANE, "otp": code, "pin": PIN})
    assert stolen.status_code == 401
    # ...while the owner's phone and address still sign in with it.
    assert pwa.token(JANE, code, PIN).status_code == 200


def test_junk_from_many_sign_ins_of_one_address_is_capped_for_that_address(
    pwa, stranger, live_settings, jane
):
    junk(stranger, live_settings.login_attempts_per_address + 1)
    other_phone = stranger.post(
        "/auth/token", json={"phone": phone_of(9), "otp": "123456", "pin": "9047"}
    )
    assert other_phone.status_code == 429  # the address's own budget is spent
    assert pwa.sign_in(JANE, PIN)["access_token"]


def test_wrong_pins_after_a_right_code_count_against_the_phone(settings, clean_database, jane):
    # The per-phone count only starts after a right code: here it is reached at once.
    port = free_port()
    limited = settings.model_copy(
        update={
            "login_attempts_per_phone": 0,
            "port": port,
            "at_base_url": f"http://127.0.0.1:{port}/sandbox/at",
        }
    )
    with LiveServer(create_app(limited), port) as server:
        client = Pwa(server.url, limited, clean_database)
        try:
            junk_answer = client.token(JANE, "000000", PIN)
            code = client.new_code(JANE)
            holder_answer = client.token(JANE, code, "9047")
        finally:
            client.close()
    assert junk_answer.status_code == 401  # a wrong code never reaches the phone's count
    assert holder_answer.status_code == 429
    assert pin_state(clean_database, jane) == (0, None, 0)
