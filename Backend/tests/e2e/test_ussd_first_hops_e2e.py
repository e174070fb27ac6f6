"""First hops of many callers at once over real HTTP, as AT sends them: no cache knows
them, so their profiles are read from PostgreSQL, gathered into shared reads while two
are out (app/infra/coalesced_reads.py). Each caller must still see their own screen: a
registered caller greeted by their own first name in their own language, a new number
offered registration. A mix-up here would show one caller another's account."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import phone_of, register, registration_secrets

FIRST_NAMES = (
    "Amina", "Baraka", "Cheptoo", "Daudi", "Esther", "Faraji",
    "Gathoni", "Hassan", "Imani", "Jabali", "Kerubo", "Lemayian",
)  # fmt: skip
CALLERS_AT_ONCE = 36


def test_callers_dialling_at_once_each_see_their_own_first_screen(
    live_server, live_settings, database
):
    box, pin_hash = registration_secrets(live_settings)
    expected: dict[str, str] = {}
    for n, first in enumerate(FIRST_NAMES):
        language = "sw" if n % 2 else "en"
        register(database, box, pin_hash, phone=phone_of(n), name=f"{first} Otieno",
                 language=language)  # fmt: skip
        greeting = "Habari" if language == "sw" else "Hi"
        expected[phone_of(n)] = f"CON PayTrace - {greeting} {first}\n"
    for n in range(len(FIRST_NAMES)):
        expected[phone_of(500 + n)] = "CON Welcome to PayTrace\n"
    # Each registered caller twice and each new number once, interleaved.
    phones = [phone_of(n) for n in range(len(FIRST_NAMES))] * 2
    phones += [phone_of(500 + n) for n in range(len(FIRST_NAMES))]
    phones = phones[::2] + phones[1::2]
    assert len(phones) == CALLERS_AT_ONCE

    def first_screen(phone: str) -> str:
        return AtGateway(live_server.url, phone).dial()

    with ThreadPoolExecutor(CALLERS_AT_ONCE) as pool:
        screens = list(pool.map(first_screen, phones))

    for phone, screen in zip(phones, screens, strict=True):
        assert screen.startswith(expected[phone]), (phone, screen)
