"""A money hop that outlasts the navigation deadline is not cut off mid-commit.

The hop deadline (USSD_HOP_DEADLINE_S) makes a sick dependency answer fast; but
once a hop has begun to commit, "sorry, unavailable" would be a lie if the money
then moves. These tests hold the sender's ledger row locked from outside, so the
confirm hop is slow for a reason we control.
"""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest

from app.api.app import create_app
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from tests.conftest import LiveServer, free_port
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import fund, phone_of, register, wallet_balance

JANE, AMINA = phone_of(1), phone_of(2)
PIN = "4821"
KES = 100


@pytest.fixture
def users(settings, database):
    box = SecretBox.from_settings(settings)
    pin_hash = PinHasher.from_settings(settings).hash(PIN)
    jane = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
    amina = register(database, box, pin_hash, phone=AMINA, name="Amina Otieno")
    fund(database, JANE, 1_000 * KES)
    return jane, amina


def serve(settings, *, hop_s: float, commit_s: float) -> LiveServer:
    port = free_port()
    tuned = settings.model_copy(
        update={
            "port": port,
            "ussd_hop_deadline_s": hop_s,
            "ussd_commit_deadline_s": commit_s,
            "at_base_url": f"http://127.0.0.1:{port}/sandbox/at",
        }
    )
    return LiveServer(create_app(tuned), port)


def hold_wallet_row(dsn: str, user_id: int, seconds: float) -> threading.Thread:
    """Lock the user's ledger row from another connection for a while."""
    locked = threading.Event()

    def hold() -> None:
        conn = psycopg2.connect(dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM ledger_accounts WHERE user_id = %s FOR UPDATE", (user_id,)
                )
                locked.set()
                time.sleep(seconds)
            conn.rollback()
        finally:
            conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(5)
    return thread


def up_to_pin(server_url: str) -> AtGateway:
    gateway = AtGateway(server_url, JANE)
    gateway.dial()
    gateway.send("1")
    gateway.send(AMINA)
    assert gateway.send("250").startswith("CON Send KES 250 to Amina Otieno")
    return gateway


def test_a_slow_send_past_the_hop_deadline_still_tells_the_caller_it_was_sent(
    settings, database, users
):
    jane, amina = users
    with serve(settings, hop_s=0.3, commit_s=10) as server:
        gateway = up_to_pin(server.url)
        holder = hold_wallet_row(database.dsn, jane, seconds=1.0)
        started = time.monotonic()
        answer = gateway.send(PIN)
        elapsed = time.monotonic() - started
        holder.join()

    assert answer.startswith("END Sent KES 250 to Amina Otieno"), answer
    assert elapsed > 0.3  # it did outlast the navigation deadline
    assert wallet_balance(database, jane) == 745 * KES
    assert wallet_balance(database, amina) == 250 * KES


def test_past_the_commit_deadline_the_caller_is_never_told_it_failed(settings, database, users):
    jane, amina = users
    with serve(settings, hop_s=0.3, commit_s=0.6) as server:
        gateway = up_to_pin(server.url)
        holder = hold_wallet_row(database.dsn, jane, seconds=1.5)
        answer = gateway.send(PIN)
        holder.join()
        # The transfer was already waiting on the lock: it completes afterwards.
        deadline = time.monotonic() + 5
        while wallet_balance(database, amina) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)

    assert answer.startswith("END We could not confirm your request in time."), answer
    assert "unavailable" not in answer
    assert wallet_balance(database, amina) == 250 * KES
    assert wallet_balance(database, jane) == 745 * KES
