"""A merchant's request to pay, end to end over real HTTP: the merchant signs the request,
the payer's SMS goes out, and their next dial of `/ussd` (as Africa's Talking drives it)
opens on it: paid with the PIN (the order paid, the merchant's event written), declined
(an event the merchant reads), a wrong PIN and the lock as Send money, an expired request
never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from app.db.unit_of_work import UnitOfWork
from app.services import orders, pay_requests
from app.ussd.session_store import pay_request_key
from tests.e2e.at_gateway import AtGateway
from tests.support.merchants import fresh_timestamp, keyed_merchant, signed_request
from tests.support.mpesa import rows
from tests.support.wallets import check_ledger, fund, phone_of

JANE, PIN = phone_of(1), "4821"
KES = 100
MENU = "CON PayTrace - Hi Jane\n1. Send money"
ASKS = "CON MAMA MBOGA asks KES 250 for Sukuma wiki.\n1. Pay\n2. Decline\n0. Later"


@pytest.fixture
def jane(pwa, database) -> dict:
    tokens = pwa.register(JANE, "Jane Wanjiku", PIN)
    fund(database, JANE, 1_000 * KES)
    return tokens


@pytest.fixture
def shop(database, live_settings):
    return keyed_merchant(database, live_settings, till="512345")


@pytest.fixture
def merchant_http(live_server) -> Iterator[httpx.Client]:
    """The merchant's own HTTP client (the PWA's is rooted at /api/v1)."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def signed_post(http: httpx.Client, shop, path: str, body: dict, key: str):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    t = fresh_timestamp(shop.key_id, "POST", path, raw)
    return signed_request(http, shop, "POST", path, raw, timestamp=t, headers=headers)


def order_asked_of_jane(http: httpx.Client, shop, key: str) -> dict:
    """The merchant creates an order and asks Jane to pay it, over the signed API."""
    created = signed_post(
        http,
        shop,
        "/api/v1/merchant/orders",
        {"amount": 250 * KES, "description": "Sukuma wiki"},
        f"order-{key}",
    )
    assert created.status_code == 201, created.text
    order = created.json()
    asked = signed_post(
        http, shop, f"/api/v1/merchant/orders/{order['id']}/requests", {"phone": JANE}, key
    )
    assert asked.status_code == 201, asked.text
    return order


def event_types(database, merchant_id: int) -> list[str]:
    return [
        kind
        for (kind,) in rows(
            database,
            "SELECT type FROM merchant_events WHERE merchant_id = %(m)s ORDER BY id",
            m=merchant_id,
        )
    ]


def test_request_sms_next_dial_pay_with_pin_order_paid(
    pwa, jane, shop, merchant_http, live_server, database
):
    order = order_asked_of_jane(merchant_http, shop, "r1")
    pwa.deliver_sms()
    assert any(t.startswith("PayTrace: MAMA MBOGA asks KES 250 for Sukuma wiki.") for t in
               pwa.inbox(JANE))  # fmt: skip

    gateway = AtGateway(live_server.url, JANE)
    assert gateway.dial() == ASKS
    assert gateway.send("1").startswith("CON Pay MAMA MBOGA KES 250 for Sukuma wiki. Fee KES 0.")
    end = gateway.send(PIN)
    assert end.startswith("END Paid KES 250 to MAMA MBOGA for Sukuma wiki. Ref ")
    assert gateway.hop() == end  # AT's retry of the PIN hop: the same answer, paid once

    now = datetime.now(UTC)
    assert orders.get(UnitOfWork(database), shop.merchant_id, order["id"], now).status == "paid"
    (request,) = pay_requests.for_order(UnitOfWork(database), shop.merchant_id, order["id"], now)
    assert request.status == "approved"
    assert "order.paid" in event_types(database, shop.merchant_id)
    assert pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()["balance"] == 750 * KES
    assert AtGateway(live_server.url, JANE).dial().startswith(MENU)  # nothing pending now
    assert check_ledger(database).sound


def test_decline_is_an_event_and_the_order_stays_payable(
    pwa, jane, shop, merchant_http, live_server, database
):
    order = order_asked_of_jane(merchant_http, shop, "r1")
    gateway = AtGateway(live_server.url, JANE)
    assert gateway.dial() == ASKS
    assert gateway.send("2") == (
        "END You declined MAMA MBOGA's request for KES 250. Nothing was paid."
    )
    path = f"/api/v1/merchant/orders/{order['id']}/requests"
    t = fresh_timestamp(shop.key_id, "GET", path)
    seen = signed_request(merchant_http, shop, "GET", path, timestamp=t).json()["requests"]
    assert [r["status"] for r in seen] == ["declined"]
    assert event_types(database, shop.merchant_id)[-1] == "payment_request.declined"
    assert AtGateway(live_server.url, JANE).dial().startswith(MENU)
    # Declining a request is not canceling the order: Jane can still pay it by its code.
    end = AtGateway(live_server.url, JANE).walk("5", order["code"], PIN)
    assert end.startswith("END Paid KES 250 to MAMA MBOGA for Sukuma wiki.")


def test_an_expired_request_is_not_shown(jane, shop, live_server, live_settings, database):
    past = datetime.now(UTC) - timedelta(minutes=16)
    draft = orders.Draft(amount=250 * KES, description="Sukuma wiki")
    order = orders.create(UnitOfWork(database), shop.merchant_id, "o1", draft, past).body
    pay_requests.ask(
        UnitOfWork(database), shop.merchant_id, order["id"], "r1", JANE, past, shortcode="*1#"
    )
    # Flagged as the API flags it, but the request expired with its order: not shown,
    # and the stale flag dropped.
    client = redis.Redis.from_url(live_settings.redis_url)
    flag = pay_request_key(live_settings.redis_prefix, JANE)
    try:
        client.set(flag, "1")
        assert AtGateway(live_server.url, JANE).dial().startswith(MENU)
        assert client.get(flag) is None
    finally:
        client.close()


def test_a_wrong_pin_and_the_lock_as_send_money(
    pwa, jane, shop, merchant_http, live_server, database
):
    order = order_asked_of_jane(merchant_http, shop, "r1")
    gateway = AtGateway(live_server.url, JANE)
    assert gateway.dial() == ASKS
    gateway.send("1")
    assert gateway.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.\nPay MAMA MBOGA")
    gateway.send("1112")
    assert gateway.send("1113").startswith("END Wrong PIN 3 times.")
    again = AtGateway(live_server.url, JANE)
    assert again.dial() == ASKS  # still pending: nothing was paid
    assert again.send("1").startswith("END Your PIN is locked until")
    now = datetime.now(UTC)
    assert (
        orders.get(UnitOfWork(database), shop.merchant_id, order["id"], now).status
        == "awaiting_payment"
    )
    assert pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()["balance"] == 1_000 * KES
