"""Registration and the account menu over real HTTP, as AT drives them, checked in
PostgreSQL and in the SMS sandbox."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
import redis

from app.api.app import create_app
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.logging_setup import JsonFormatter
from app.services.custody import SecretBox
from app.ussd.session_store import profile_key
from app.worker.outbox import build_worker
from tests.conftest import LiveServer, free_port
from tests.e2e.at_gateway import AtGateway

PHONE = "+254712345678"
LOCAL_PHONE = "0712 345 678"  # AT sends E.164, but PayTrace accepts any format
CANARY_PIN = "5937"


def register(server_url: str, phone: str = PHONE, pin: str = CANARY_PIN) -> AtGateway:
    gateway = AtGateway(server_url, phone)
    screen = gateway.walk("1", "Jane Wanjiku", pin, pin, "1", "1")
    assert screen.startswith("END Welcome Jane! Your PayTrace ID is PT"), screen
    return gateway


def rows(database: Database, sql: str, **params):
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def deliver_sms(settings, database) -> list[dict]:
    worker = build_worker(settings, database)
    while worker.run_once():
        pass
    return httpx.get(f"{settings.base_url}/sandbox/sms").json()


def test_register_over_ussd_creates_wallet_and_sends_welcome_sms_once(
    live_server, live_settings, database
):
    gateway = register(live_server.url)
    users = rows(database, "SELECT id, paytrace_id, phone, full_name, language FROM users")
    assert len(users) == 1
    user_id, paytrace_id, phone, name, language = users[0]
    assert (phone, name, language) == (PHONE, "Jane Wanjiku", "en")
    [(address, secret_ct)] = rows(
        database,
        "SELECT stellar_address, stellar_secret_ct FROM wallets WHERE user_id = %(u)s",
        u=user_id,
    )
    seed = SecretBox.from_settings(live_settings).decrypt(secret_ct)
    assert seed.startswith("S") and seed not in secret_ct
    from stellar_sdk import Keypair

    assert Keypair.from_secret(seed).public_key == address

    # AT retries the final hop: same answer, nothing created twice.
    assert gateway.hop().startswith(f"END Welcome Jane! Your PayTrace ID is {paytrace_id}")
    assert len(rows(database, "SELECT 1 FROM users")) == 1
    assert len(rows(database, "SELECT 1 FROM outbox")) == 1

    inbox = deliver_sms(live_settings, database)
    welcomes = [m for m in inbox if m["to"] == PHONE]
    assert len(welcomes) == 1
    assert paytrace_id in welcomes[0]["message"]
    # The worker ran again: still one message.
    assert len(deliver_sms(live_settings, database)) == 1


def test_registered_caller_sees_main_menu_details_and_stellar_address(live_server, database):
    register(live_server.url)
    gateway = AtGateway(live_server.url, PHONE)
    assert gateway.dial().startswith("CON PayTrace - Hi Jane\n1. Send money")
    gateway.send("6")
    details = gateway.send("3")
    [(paytrace_id, address)] = rows(
        database,
        "SELECT paytrace_id, stellar_address FROM users JOIN wallets ON user_id = users.id",
    )
    assert f"PayTrace ID: {paytrace_id}" in details
    assert "Phone: +2547****5678" in details
    gateway.send("0")
    address_page = gateway.send("4")
    assert address_page.startswith("CON Status: Activating\nYour wallet address on Stellar:\n")
    shown = address_page.split("\n", 2)[2].split("\n98. More")[0]
    assert shown.replace(" ", "").replace("\n", "") == address


def test_wallet_status_flips_to_active_as_soon_as_the_database_says_so(
    live_server, live_settings, database
):
    register(live_server.url)
    gateway = AtGateway(live_server.url, PHONE)
    assert gateway.walk("6", "4").startswith("CON Status: Activating\n")
    [(address,)] = rows(database, "SELECT stellar_address FROM wallets")

    # What the worker records when the activation applies on Stellar (it has no Redis).
    with UnitOfWork(database) as uow:
        uow.stellar.set_wallet_status(address, "active")
        uow.commit()
    client = redis.Redis.from_url(live_settings.redis_url)
    try:
        cached = client.get(profile_key(live_settings.redis_prefix, PHONE))
    finally:
        client.close()
    assert json.loads(cached)["activation_status"] == "pending"  # still cached for minutes

    page = AtGateway(live_server.url, PHONE).walk("6", "4")
    assert page.startswith("CON Status: Active\nYour wallet address on Stellar:\n"), page
    assert address[:4] in page

    with UnitOfWork(database) as uow:
        uow.stellar.set_wallet_status(address, "failed")
        uow.commit()
    page = AtGateway(live_server.url, PHONE).walk("6", "6", "2", "4")  # in Kiswahili now
    assert page.startswith("CON Hali: Uwashaji umechelewa, tunaushughulikia\n"), page


def test_local_number_format_is_the_same_user(live_server, database):
    register(live_server.url, phone=LOCAL_PHONE)
    assert rows(database, "SELECT phone FROM users") == [(PHONE,)]
    assert AtGateway(live_server.url, PHONE).dial().startswith("CON PayTrace - Hi Jane")


def test_three_wrong_pins_lock_money_out_and_tell_the_user(live_server, live_settings, database):
    register(live_server.url)
    gateway = AtGateway(live_server.url, PHONE)
    gateway.walk("6", "5")
    assert gateway.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    # AT retries that hop: it is not counted again.
    assert gateway.hop().startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert gateway.send("2222").startswith("CON Wrong PIN. 1 attempt(s) left.")
    assert "locked" in gateway.send("3333")
    [(failed, locked_until)] = rows(
        database, "SELECT failed_attempts, locked_until FROM user_credentials"
    )
    assert failed == 3 and locked_until is not None
    # Even the right PIN is refused while locked, with the time left.
    later = AtGateway(live_server.url, PHONE)
    assert later.walk("6", "5", CANARY_PIN).startswith("END Your PIN is locked until ")
    inbox = deliver_sms(live_settings, database)
    assert [m["message"][:30] for m in inbox if "wrong PIN" in m["message"]] == [
        "PayTrace: 3 wrong PIN attempts"
    ]


def test_change_pin_then_the_new_pin_is_the_one_that_works(live_server, database):
    register(live_server.url)
    gateway = AtGateway(live_server.url, PHONE)
    assert gateway.walk("6", "5", CANARY_PIN, "7305", "7305").startswith(
        "END Your PIN has been changed."
    )
    again = AtGateway(live_server.url, PHONE)
    assert again.walk("6", "5", CANARY_PIN).startswith("CON Wrong PIN.")
    assert again.send("7305").startswith("CON Enter a new 4-digit PIN")


def test_language_change_is_kept_for_the_next_session(live_server, database):
    register(live_server.url)
    AtGateway(live_server.url, PHONE).walk("6", "6", "2")
    assert rows(database, "SELECT language FROM users") == [("sw",)]
    assert AtGateway(live_server.url, PHONE).dial().startswith("CON PayTrace - Habari Jane")


def test_canary_pin_never_reaches_the_logs(live_server, live_settings, database, caplog):
    caplog.set_level(logging.DEBUG)
    register(live_server.url)
    AtGateway(live_server.url, PHONE).walk("6", "5", "1111", CANARY_PIN, "7305", "7305")
    deliver_sms(live_settings, database)
    formatter = JsonFormatter()
    captured = "\n".join(formatter.format(record) for record in caplog.records)
    assert captured, "nothing was logged: the canary check would prove nothing"
    # The PIN as a number of its own: inside a longer one (a port, an id) it is not it.
    assert not re.search(rf"(?<![0-9]){CANARY_PIN}(?![0-9])", captured)
    assert f"{CANARY_PIN}*{CANARY_PIN}" not in captured


@pytest.fixture
def guarded_server(live_settings):
    from pydantic import SecretStr

    guarded = live_settings.model_copy(
        update={"ussd_callback_token": SecretStr("at-secret-token"), "port": free_port()}
    )
    with LiveServer(create_app(guarded), guarded.port) as server:
        yield server


def test_callback_token_is_required_when_configured(guarded_server, database):
    form = {"sessionId": "s1", "serviceCode": "*384*123#", "phoneNumber": PHONE, "text": ""}
    refused = httpx.post(f"{guarded_server.url}/ussd", data=form)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    wrong = httpx.post(f"{guarded_server.url}/ussd/not-the-token", data=form)
    assert wrong.status_code == 403
    by_path = httpx.post(f"{guarded_server.url}/ussd/at-secret-token", data=form)
    assert by_path.text.startswith("CON Welcome to PayTrace")
    by_header = httpx.post(
        f"{guarded_server.url}/ussd",
        data={**form, "sessionId": "s2"},
        headers={"Authorization": "Bearer at-secret-token"},
    )
    assert by_header.text.startswith("CON Welcome to PayTrace")


def test_concurrent_wrong_pin_hops_cannot_get_past_the_lock(live_server, database):
    from concurrent.futures import ThreadPoolExecutor

    register(live_server.url)
    gateways = [AtGateway(live_server.url, PHONE) for _ in range(8)]
    for gateway in gateways:
        gateway.walk("6", "5")  # each caller waits at "Enter your current PIN"
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda g: g.send("1111"), gateways))
    [(failed, locked_until)] = rows(
        database, "SELECT failed_attempts, locked_until FROM user_credentials"
    )
    assert failed == 3 and locked_until is not None
    assert sum("attempt(s) left" in a for a in answers) == 2
    assert all(a.startswith(("CON Wrong PIN.", "END ")) for a in answers)
    assert len(rows(database, "SELECT 1 FROM pin_attempts WHERE NOT succeeded")) == 3
