"""'9. Repeat monthly' on Send money's confirmation, end to end over /ussd as AT drives
it against PostgreSQL: the money moved once and one monthly schedule on today's day,
listed under Scheduled payments, however often AT posts the PIN hop; a payment refused
at the PIN hop schedules nothing."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from app.db.pool import Database
from app.domain.money import nairobi_day
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.ussd.repeat.flow import day_words
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import check_ledger, fund, phone_of, register

JANE, AMINA = phone_of(1), phone_of(2)
AMINA_LOCAL = "0711000002"
JANE_PIN = "4821"
KES = 100


@pytest.fixture
def two_users(live_settings, database):
    """Jane (KES 1,000 cashed in) and Amina, registered through the real services."""
    hasher = PinHasher.from_settings(live_settings)
    box = SecretBox.from_settings(live_settings)
    ids = {
        JANE: register(database, box, hasher.hash(JANE_PIN), phone=JANE, name="Jane Wanjiku"),
        AMINA: register(database, box, hasher.hash("5937"), phone=AMINA, name="Amina Otieno"),
    }
    fund(database, JANE, 1_000 * KES)
    return ids


def rows(database: Database, sql: str):
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        found = cur.fetchall()
        conn.rollback()
    return found


def at_repeat(server_url: str, amount: str) -> AtGateway:
    gateway = AtGateway(server_url, JANE)
    gateway.walk("1", AMINA_LOCAL)
    assert gateway.send(amount).endswith("Enter PIN\n9. Repeat monthly\n0. Back 00. Home")
    on = day_words("en", nairobi_day(datetime.now(UTC)).day)
    assert gateway.send("9").startswith(
        f"CON Send KES {amount} to Amina Otieno +2547****0002 now and every month on {on}?"
    )
    return gateway


def test_a_send_repeated_monthly_moves_once_and_is_listed_once_however_often_the_pin_hop_comes(
    live_server, database, two_users
):
    today = nairobi_day(datetime.now(UTC))
    gateway = at_repeat(live_server.url, "250")
    gateway.inputs.append(JANE_PIN)
    with ThreadPoolExecutor(max_workers=2) as pool:  # AT posts the PIN hop twice at once
        answers = list(pool.map(lambda _: gateway.hop(), range(2)))
    end = gateway.hop()  # and once more, later
    assert answers == [end, end]
    assert re.fullmatch(
        r"END Sent KES 250 to Amina Otieno \+2547\*\*\*\*0002\. Ref [A-Z2-9]{10}\. "
        rf"Repeats monthly on {re.escape(day_words('en', today.day))}\. "
        r"Manage: My account > Scheduled payments\.",
        end,
    ), end

    transfers = rows(
        database, "SELECT amount, fee FROM journal_transactions WHERE kind = 'transfer'"
    )
    assert transfers == [(250 * KES, 5 * KES)]
    schedules = rows(
        database,
        "SELECT owner_user_id, kind, payee, amount, frequency, day, start_date, channel,"
        " idempotency_key, next_due_at FROM scheduled_payments",
    )
    assert len(schedules) == 1
    owner, kind, payee, amount, frequency, day, start, channel, key, due = schedules[0]
    assert (owner, kind, payee, amount, frequency, day, channel) == (
        two_users[JANE], "transfer", AMINA, 250 * KES, "monthly", today.day, "ussd",
    )  # fmt: skip
    assert start == today + timedelta(days=1) and key.startswith("repeat:ussd:")
    assert nairobi_day(due) > today + timedelta(days=27)  # next month's, not today's again
    assert check_ledger(database).sound

    listed = AtGateway(live_server.url, JANE).walk("6", "7")
    assert listed.startswith(f"CON Scheduled payments\n1. Amina O. 250 m{today.day}\n"), listed


def test_a_send_refused_at_the_pin_hop_makes_no_schedule(live_server, database, two_users):
    gateway = at_repeat(live_server.url, "600")
    assert gateway.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.\nSend KES 600")
    # Meanwhile Jane spends the money in another session: the repeat can no longer pay.
    other = AtGateway(live_server.url, JANE)
    other.walk("1", AMINA_LOCAL, "600")
    assert other.send(JANE_PIN).startswith("END Sent KES 600")
    assert gateway.send(JANE_PIN).startswith("END Not sent. Balance too low: KES 390.")
    assert len(rows(database, "SELECT 1 FROM journal_transactions WHERE kind = 'transfer'")) == 1
    assert rows(database, "SELECT id FROM scheduled_payments") == []
    assert "None yet." in AtGateway(live_server.url, JANE).walk("6", "7")
