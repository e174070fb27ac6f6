"""Buy airtime over /ussd as AT drives it, against the local AT Airtime sandbox over real
HTTP: airtime for another number held once (the PIN hop repeated), topped up by the
worker through the official SDK, delivered on AT's verified status callback, the SMS
with its receipt; a top-up AT fails is released once. Balances and the ledger checked."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.worker.outbox import build_worker
from tests.e2e.at_gateway import AtGateway
from tests.support import seeds
from tests.support.bills import journal_kinds, rows
from tests.support.wallets import check_ledger, fund, phone_of, register, wallet_balance

JANE, PIN = phone_of(1), "4821"
KES = 100
FEE = seeds.fee("airtime", 100 * KES)
ENDED = re.compile(
    r"^END Airtime Safaricom KES 100 for (0711 000 \d{3}) is on its way\. Ref ([A-Z2-9]{10})\. "
    r"New balance KES ([0-9,]+)\. An SMS will confirm\.$"
)


@pytest.fixture
def jane(live_settings, database):
    box, hasher = SecretBox.from_settings(live_settings), PinHasher.from_settings(live_settings)
    user_id = register(database, box, hasher.hash(PIN), phone=JANE, name="Jane Wanjiku")
    fund(database, JANE, 1_000 * KES)
    return user_id


def buy(server_url: str, number: str) -> tuple[AtGateway, str]:
    gateway = AtGateway(server_url, JANE)
    screen = gateway.walk("5", "1", "1", "2", number, "100")
    assert screen.startswith(
        f"CON Airtime Safaricom {number[:4]} {number[4:7]} {number[7:]} KES 100 + fee KES "
    )
    return gateway, gateway.send(PIN)


def settle(live_settings, database, reference: str, status: str) -> None:
    """The worker sends the top-up (and the SMS); AT's callback, checked with AT, ends it."""
    worker = build_worker(live_settings, database)
    deadline = time.monotonic() + 10
    while True:
        while worker.run_once():
            pass
        [(found,)] = rows(
            database, "SELECT status FROM bill_payments WHERE reference = %(r)s", {"r": reference}
        )
        if found == status:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    while worker.run_once():  # the SMS of the ending
        pass


def inbox(live_settings) -> list[str]:
    answer = httpx.get(f"{live_settings.base_url}/sandbox/sms", params={"to": JANE})
    return [m["message"] for m in answer.json()]


def test_airtime_for_another_number_over_ussd(live_server, live_settings, database, jane):
    gateway, end = buy(live_server.url, "0711000201")
    number, reference, balance = ENDED.match(end).groups()
    assert balance == f"{(1_000 * KES - 100 * KES - FEE) // KES:,}"
    assert gateway.hop() == end  # AT repeats the PIN hop: held once
    assert journal_kinds(database) == ["bill_hold"]

    settle(live_settings, database, reference, "delivered")
    assert journal_kinds(database) == ["bill_hold", "bill_payment"]
    [sms] = [text for text in inbox(live_settings) if reference in text]
    assert "Airtime Safaricom +2547****0201 KES 100 paid" in sms and "Receipt ATQid_" in sms
    assert wallet_balance(database, jane) == 1_000 * KES - 100 * KES - FEE
    assert number == "0711 000 201" and check_ledger(database).sound


def test_airtime_at_fails_is_released_once_over_ussd(live_server, live_settings, database, jane):
    _, end = buy(live_server.url, "0711000410")
    reference = ENDED.match(end).group(2)
    settle(live_settings, database, reference, "failed")
    assert journal_kinds(database) == ["bill_hold", "bill_release"]
    [sms] = [text for text in inbox(live_settings) if reference in text]
    assert "is back in your wallet. New balance KES 1,000." in sms
    assert wallet_balance(database, jane) == 1_000 * KES and check_ledger(database).sound
