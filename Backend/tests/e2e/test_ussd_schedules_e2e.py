"""A monthly rent to another wallet, end to end over /ussd as AT drives it: scheduled
with the PIN, reminded the day before and paid by the worker's job at its time, with the
SMS through the sandbox; then paused, with the PIN."""

from __future__ import annotations

from datetime import UTC, time, timedelta

import httpx
import pytest

from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.worker.outbox import build_worker
from app.worker.schedules import ScheduledPaymentsJob
from tests.e2e.at_gateway import AtGateway
from tests.support.schedules import occurrences, schedule_status
from tests.support.wallets import check_ledger, fund, phone_of, register, wallet_balance

JANE, AMINA = phone_of(1), phone_of(2)
JANE_PIN = "4821"
RENT = 1_500_00


@pytest.fixture
def two_users(live_settings, database):
    hasher = PinHasher.from_settings(live_settings)
    box = SecretBox.from_settings(live_settings)
    ids = {
        JANE: register(database, box, hasher.hash(JANE_PIN), phone=JANE, name="Jane Wanjiku"),
        AMINA: register(database, box, hasher.hash("5937"), phone=AMINA, name="Amina Otieno"),
    }
    fund(database, JANE, 10_000_00)
    return ids


def deliver_sms(settings, database) -> list[dict]:
    worker = build_worker(settings, database)
    while worker.run_once():
        pass
    return httpx.get(f"{settings.base_url}/sandbox/sms").json()


def test_a_monthly_rent_is_reminded_paid_once_and_paused_over_ussd(
    live_server, live_settings, database, two_users
):
    gateway = AtGateway(live_server.url, JANE)
    assert "None yet.\n9. New" in gateway.walk("6", "7")
    for value in ("9", "0711000002", "1500", "1", "31"):
        screen = gateway.send(value)
    assert screen.startswith("CON Send KES 1,500 to Amina Otieno: Monthly, day 31, 09:00"), screen
    made_screen = gateway.send(JANE_PIN)
    assert made_screen.startswith("END Scheduled: KES 1,500 to Amina Otieno"), made_screen
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, next_due_at, channel FROM scheduled_payments")
        ((made, due, channel),) = cur.fetchall()
        conn.rollback()
    assert channel == "ussd" and due.astimezone(UTC).time() == time(6, 0)

    shortcode = live_settings.ussd_service_codes[0]
    for moment in (due - timedelta(hours=23), due, due + timedelta(hours=1)):
        ScheduledPaymentsJob(database, shortcode=shortcode, clock=lambda m=moment: m).run_once()
    sms = deliver_sms(live_settings, database)
    to_jane = [m["message"] for m in sms if m["to"] == JANE]
    assert sum("scheduled payment KES 1,500 to Amina Otieno runs" in m for m in to_jane) == 1
    assert sum("KES 1,500 sent to Amina Otieno" in m for m in to_jane) == 1
    to_amina = [m["message"] for m in sms if m["to"] == AMINA]
    assert sum("received KES 1,500 from Jane Wanjiku" in m for m in to_amina) == 1
    (paid,) = occurrences(database, made)
    assert (paid.status, paid.amount) == ("paid", RENT)
    assert wallet_balance(database, two_users[AMINA]) == RENT
    assert check_ledger(database).sound

    gateway = AtGateway(live_server.url, JANE)
    listed = gateway.walk("6", "7")
    assert listed.startswith("CON Scheduled payments\n1. Amina O. 1,500 m31"), listed
    assert gateway.send("1").startswith("CON KES 1,500 to Amina Otieno\nMonthly, day 31, 09:00")
    gateway.send("1")
    assert gateway.send(JANE_PIN).startswith("END Paused: KES 1,500 to Amina Otieno.")
    assert schedule_status(database, made) == ("paused", 0)
