"""Harambee over real HTTP, as AT drives /ussd: a campaign is started, two people
contribute and pledge, one pays a pledge in two parts, the organiser cancels and both
are refunded; the ledger agrees and the SMS sandbox holds each message once."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from app.db.pool import Database
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.worker.outbox import build_worker
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import check_ledger, fund, phone_of, register

WANJIRU, OTIENO, AKINYI = phone_of(1), phone_of(2), phone_of(3)
PIN = {WANJIRU: "4821", OTIENO: "5937", AKINYI: "7305"}
KES = 100
RECEIPT = re.compile(r"^PayTrace [A-Z2-9]{10} confirmed\. KES [0-9,]+ to harambee ")


@pytest.fixture
def people(live_settings, database):
    """Three users through the real services; the two contributors have KES 5,000."""
    hasher = PinHasher.from_settings(live_settings)
    box = SecretBox.from_settings(live_settings)
    names = {WANJIRU: "Wanjiru Kamau", OTIENO: "Otieno Ouma", AKINYI: "Akinyi Njeri"}
    ids = {
        phone: register(database, box, hasher.hash(PIN[phone]), phone=phone, name=name)
        for phone, name in names.items()
    }
    for phone in (OTIENO, AKINYI):
        fund(database, phone, 5_000 * KES)
    return ids


def option(screen: str, label: str) -> str:
    match = re.search(rf"(\d+)\. {re.escape(label)}", screen)
    assert match, screen
    return match.group(1)


def harambee(gateway: AtGateway) -> str:
    home = gateway.dial()
    return gateway.send(option(home, "Harambee"))


def balances(database: Database) -> dict[str, int]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT u.phone, a.balance FROM ledger_accounts a JOIN users u ON u.id = a.user_id"
        )
        found = dict(cur.fetchall())
        conn.rollback()
    return found


def deliver_sms(settings, database) -> list[dict]:
    worker = build_worker(settings, database)
    while worker.run_once():
        pass
    return httpx.get(f"{settings.base_url}/sandbox/sms").json()


def contribute(server: str, phone: str, code: str, shillings: int) -> str:
    gateway = AtGateway(server, phone)
    gateway.send(option(harambee(gateway), "Contribute"))
    assert "Raised KES" in gateway.send(code)
    how = gateway.send(str(shillings))
    gateway.send(option(how, "Pay now"))
    return gateway.send(PIN[phone])


def pledge(server: str, phone: str, code: str, shillings: int) -> str:
    gateway = AtGateway(server, phone)
    gateway.send(option(harambee(gateway), "Contribute"))
    gateway.send(code)
    how = gateway.send(str(shillings))
    due = gateway.send(option(how, "Pledge to pay later"))
    gateway.send(option(due, "In 2 weeks"))
    return gateway.send(PIN[phone])


def pay_pledge(server: str, phone: str, shillings: int | None) -> str:
    gateway = AtGateway(server, phone)
    listed = gateway.send(option(harambee(gateway), "My pledges"))
    assert listed.startswith("CON Your pledges"), listed
    chosen = gateway.send("1")
    if shillings is None:
        gateway.send(option(chosen, "Pay all"))
    else:
        gateway.send(option(chosen, "Pay part"))
        gateway.send(str(shillings))
    return gateway.send(PIN[phone])


def test_a_harambee_started_contributed_pledged_and_cancelled_over_ussd(
    live_server, live_settings, database, people
):
    server = live_server.url
    organiser = AtGateway(server, WANJIRU)
    organiser.send(option(harambee(organiser), "Start a harambee"))
    organiser.send("School fees for Amani")
    ends = organiser.send("20000")
    organiser.send(option(ends, "In 1 month"))
    started = organiser.send(PIN[WANJIRU])
    assert started.startswith("END Your harambee School fees for Amani is open."), started
    code = re.search(r"Its code is (\d{6})", started).group(1)

    paid = contribute(server, OTIENO, code, 1_500)
    assert paid.startswith("END Paid KES 1,500 to School fees for Amani."), paid
    assert "Raised KES 1,500 of 20,000" in paid
    assert pledge(server, AKINYI, code, 1_000).startswith("END You pledged KES 1,000")
    assert pledge(server, OTIENO, code, 500).startswith("END You pledged KES 500")
    first = pay_pledge(server, AKINYI, 400)
    assert "Left to pay KES 600" in first, first
    second = pay_pledge(server, AKINYI, None)
    assert "Paid KES 600 toward School fees for Amani" in second and "Left to pay KES 0" in second
    held = balances(database)
    assert held[OTIENO] == 3_500 * KES and held[AKINYI] == 4_000 * KES

    mine = organiser.send(option(harambee(organiser), "My harambees"))
    assert "1. School fees 12%" in mine, mine
    manage = organiser.send("1")
    organiser.send(option(manage, "Cancel, refund everyone"))
    cancelled = organiser.send(PIN[WANJIRU])
    assert cancelled.startswith(
        "END School fees for Amani is cancelled. 2 contributor(s) refunded KES 2,500"
    ), cancelled

    assert balances(database) == {WANJIRU: 0, OTIENO: 5_000 * KES, AKINYI: 5_000 * KES}
    assert check_ledger(database).sound
    inbox = deliver_sms(live_settings, database)
    sent = Counter((message["to"], message["message"]) for message in inbox)
    assert all(count == 1 for count in sent.values()), sent  # each message once
    texts = {phone: [m["message"] for m in inbox if m["to"] == phone] for phone in PIN}
    assert any(f"Its code is {code}" in t for t in texts[WANJIRU])
    receipts = {phone: [t for t in texts[phone] if RECEIPT.search(t)] for phone in PIN}
    assert len(receipts[OTIENO]) == 1  # one contribution
    assert len(receipts[AKINYI]) == 2  # the pledge, paid in two parts
    assert sum("you pledged" in t.lower() for t in texts[AKINYI] + texts[OTIENO]) == 2
    for phone in (OTIENO, AKINYI):
        refunds = [t for t in texts[phone] if "was cancelled" in t]
        assert len(refunds) == 1, texts[phone]
    assert "KES 1,500 returned" in " ".join(texts[OTIENO])
    assert "KES 1,000 returned" in " ".join(texts[AKINYI])


def test_a_retried_pin_hop_contributes_once(live_server, live_settings, database, people):
    organiser = AtGateway(live_server.url, WANJIRU)
    organiser.send(option(harambee(organiser), "Start a harambee"))
    organiser.send("Roof for St Mark")
    ends = organiser.send("5000")
    organiser.send(option(ends, "No end date"))
    code = re.search(r"Its code is (\d{6})", organiser.send(PIN[WANJIRU])).group(1)

    gateway = AtGateway(live_server.url, OTIENO)
    gateway.send(option(harambee(gateway), "Contribute"))
    gateway.send(code)
    how = gateway.send("250")
    gateway.send(option(how, "Pay now, anonymously"))
    done = gateway.send(PIN[OTIENO])
    assert gateway.hop() == done  # AT sends the same hop again
    assert balances(database)[OTIENO] == 4_750 * KES
