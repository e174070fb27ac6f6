"""Custody end to end, as the PWA and an agent drive PayTrace over real HTTP: three
users register through the API, cash in through the admin API, send money around at
random, the worker runs to quiescence, and every wallet's KES on PayTrace's local
Stellar network equals its ledger balance (and the treasury's equals the fees)."""

from __future__ import annotations

import random

import httpx
import pytest

from app.integrations.stellar import Horizon
from tests.support.stellar import (
    books,
    custody_settings,
    local_network,
    prepared_system,
    settler,
)

PHONES = ("+254711000101", "+254711000102", "+254711000103")
NAMES = ("Jane Wanjiku", "Amina Otieno", "Baraka Mwangi")
PIN = "4821"


@pytest.fixture
def custody_net(tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        yield net


@pytest.fixture
def live_settings(live_settings, custody_net):
    """The API and worker of this test run with custody on, against the local network."""
    return custody_settings(live_settings, custody_net.url, stellar_channels=4)


def test_registered_funded_users_sending_at_random_end_with_equal_books(
    pwa, live_settings, database
):
    system = prepared_system(live_settings)
    horizon = Horizon(live_settings.stellar_horizon_url)
    for phone, name in zip(PHONES, NAMES, strict=True):
        pwa.register(phone, name, PIN)
    pwa.deliver_sms()  # the worker: SMS, and each wallet's activation on-chain
    admin = {"Authorization": f"Bearer {live_settings.admin_token.get_secret_value()}"}
    for n, phone in enumerate(PHONES):
        answer = httpx.post(
            f"{pwa.base_url}/api/v1/admin/cash-in",
            json={"phone": phone, "amount": 800_00, "reference": f"agent-{n}"},
            headers=admin,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    tokens = {phone: pwa.sign_in(phone, PIN) for phone in PHONES}
    wallet = pwa.http.get("/wallet", headers=pwa.bearer(tokens[PHONES[0]])).json()
    assert wallet["stellar_address"].startswith("G")

    rng = random.Random(2026)
    sent = refused = 0
    for _ in range(150):
        sender, recipient = rng.sample(PHONES, 2)
        answer = pwa.send(tokens[sender], recipient, rng.randint(1_00, 300_00), PIN)
        if answer.status_code == 201:
            sent += 1
        else:
            assert answer.status_code == 422, answer.text  # not enough money: refused
            refused += 1
    assert sent > 50

    pwa.deliver_sms()
    settler(live_settings, database, system).settle_all()
    ledger, on_chain = books(database, horizon, system)
    assert on_chain == ledger
    assert sum(ledger.values()) == 3 * 800_00  # everything cashed in, nothing more
