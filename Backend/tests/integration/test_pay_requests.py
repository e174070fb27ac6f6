"""Requests to pay over the signed merchant API on real PostgreSQL and Redis: a request to
a PayTrace user, its SMS and its Redis flag; its refusals; its life with its order
(approved, canceled, expired, declined with an event); the database's own guard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg2
import pytest
import redis

from app.db.unit_of_work import UnitOfWork
from app.domain.gsm7 import is_gsm7
from app.errors import PayRequestNotPending
from app.services import orders, pay_requests
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.ussd.session_store import pay_request_key
from tests.conftest import LiveServer
from tests.support.merchants import Keyed, execute, fresh_timestamp, keyed_merchant, signed_request
from tests.support.mpesa import rows
from tests.support.wallets import fund, phone_of, register, registration_secrets

AMOUNT = 250_00


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def world(clean_database, live_settings):
    shop = keyed_merchant(clean_database, live_settings, till="512345")
    other = keyed_merchant(clean_database, live_settings, till="612345")
    box, pin_hash = registration_secrets(live_settings, "4821")
    amina = register(clean_database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    baraka = register(
        clean_database, box, pin_hash, phone=phone_of(2), name="Baraka Mwangi", language="sw"
    )
    fund(clean_database, phone_of(1), 1_000_000)
    fund(clean_database, phone_of(2), 1_000_000)
    return clean_database, live_settings, shop, other, amina, baraka


def new_order(database, merchant_id: int, key: str, now: datetime | None = None) -> dict:
    draft = orders.Draft(amount=AMOUNT, description="Sukuma wiki")
    when = now or datetime.now(UTC)
    return orders.create(UnitOfWork(database), merchant_id, key, draft, when).body


def post(http: httpx.Client, keyed: Keyed, order_id: int, body: dict, key: str) -> httpx.Response:
    path = f"/api/v1/merchant/orders/{order_id}/requests"
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    t = fresh_timestamp(keyed.key_id, "POST", path, raw)
    return signed_request(http, keyed, "POST", path, raw, timestamp=t, headers=headers)


def listed(http: httpx.Client, keyed: Keyed, order_id: int) -> httpx.Response:
    path = f"/api/v1/merchant/orders/{order_id}/requests"
    t = fresh_timestamp(keyed.key_id, "GET", path)
    return signed_request(http, keyed, "GET", path, timestamp=t)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def ask(database, merchant_id: int, order_id: int, phone: str, key: str, now=None):
    return pay_requests.ask(
        UnitOfWork(database),
        merchant_id,
        order_id,
        key,
        phone,
        now or datetime.now(UTC),
        shortcode="*384*123#",
    ).body


def statuses(database, order_id: int) -> list[str]:
    return [
        status
        for (status,) in rows(
            database,
            "SELECT status FROM pay_requests WHERE order_id = %(o)s ORDER BY id",
            o=order_id,
        )
    ]


def test_a_request_to_a_user_is_stored_told_by_sms_and_flagged(http, world):
    database, settings, shop, other, _amina, _baraka = world
    order = new_order(database, shop.merchant_id, "o1")
    asked = post(http, shop, order["id"], {"phone": "0711000002"}, "r1")  # Baraka, local form
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert (body["status"], body["phone"], body["order_id"]) == (
        "pending",
        phone_of(2),
        order["id"],
    )
    assert body["expires_at"] == order["expires_at"]
    again = post(http, shop, order["id"], {"phone": "0711000002"}, "r1")
    assert again.status_code == 201 and again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"

    (sms,) = rows(
        database,
        "SELECT payload->>'to', payload->>'message' FROM outbox"
        " WHERE payload->>'template' = 'pay_request'",
    )
    assert sms[0] == phone_of(2)
    assert sms[1].startswith("PayTrace: MAMA MBOGA anaomba KES 250 kwa Sukuma wiki. Piga *384")
    assert len(sms[1]) <= 160 and is_gsm7(sms[1])
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert client.get(pay_request_key(settings.redis_prefix, phone_of(2))) == b"1"
    finally:
        client.close()
    assert listed(http, shop, order["id"]).json() == {"requests": [body]}
    assert error_of(listed(http, other, order["id"])) == (404, "order_not_found")


def test_refusals_store_nothing(http, world):
    database, _settings, shop, other, amina, _baraka = world
    order = new_order(database, shop.merchant_id, "o1")
    oid = order["id"]
    assert error_of(post(http, shop, oid, {"phone": "0799999999"}, "a")) == (
        422,
        "payer_not_registered",
    )
    assert error_of(post(http, shop, oid, {"phone": "12"}, "b")) == (422, "invalid_phone")
    assert error_of(post(http, shop, oid, {"phone": 712}, "c"))[0] == 422
    assert error_of(post(http, other, oid, {"phone": phone_of(1)}, "d")) == (
        404,
        "order_not_found",
    )
    assert post(http, shop, oid, {"phone": phone_of(1)}, "e").status_code == 201
    assert error_of(post(http, shop, oid, {"phone": phone_of(2)}, "f")) == (
        409,
        "order_already_requested",
    )
    assert error_of(post(http, shop, oid, {"phone": phone_of(2)}, "e")) == (
        409,
        "idempotency_key_reused",
    )
    paid = new_order(database, shop.merchant_id, "o2")
    merchant_payments.pay(
        UnitOfWork(database),
        MerchantPaymentRequest(amina, None, None, "p2", channel="api", order_code=paid["code"]),
    )
    assert error_of(post(http, shop, paid["id"], {"phone": phone_of(2)}, "g")) == (
        409,
        "order_paid",
    )
    assert rows(database, "SELECT count(*) FROM pay_requests")[0][0] == 1


def test_a_request_follows_its_order(world):
    database, _settings, shop, _other, amina, baraka = world
    mid = shop.merchant_id
    # Paid by the payer asked: approved. Paid by somebody else: canceled.
    mine = new_order(database, mid, "o1")
    ask(database, mid, mine["id"], phone_of(1), "r1")
    merchant_payments.pay(
        UnitOfWork(database),
        MerchantPaymentRequest(amina, None, None, "p1", channel="ussd", order_code=mine["code"]),
    )
    theirs = new_order(database, mid, "o2")
    ask(database, mid, theirs["id"], phone_of(1), "r2")
    merchant_payments.pay(
        UnitOfWork(database),
        MerchantPaymentRequest(baraka, None, None, "p2", channel="ussd", order_code=theirs["code"]),
    )
    # Canceled with its order; expired with it (the worker's loop).
    dropped = new_order(database, mid, "o3")
    ask(database, mid, dropped["id"], phone_of(1), "r3")
    orders.cancel(UnitOfWork(database), mid, dropped["id"], "c3", datetime.now(UTC))
    past = datetime.now(UTC) - timedelta(minutes=16)
    late = new_order(database, mid, "o4", now=past)
    ask(database, mid, late["id"], phone_of(1), "r4", now=past)
    assert pay_requests.pending_for(UnitOfWork(database), amina, datetime.now(UTC)) is None
    assert orders.expire_due(UnitOfWork(database), datetime.now(UTC)) == 1
    assert [statuses(database, o["id"]) for o in (mine, theirs, dropped, late)] == [
        ["approved"],
        ["canceled"],
        ["canceled"],
        ["expired"],
    ]
    (expired,) = pay_requests.for_order(UnitOfWork(database), mid, late["id"], datetime.now(UTC))
    assert expired.expired_at == expired.expires_at


def test_declining_is_an_event_for_the_merchant_and_shown_to_it(http, world):
    database, _settings, shop, _other, amina, baraka = world
    order = new_order(database, shop.merchant_id, "o1")
    asked = ask(database, shop.merchant_id, order["id"], phone_of(1), "r1")
    pending = pay_requests.pending_for(UnitOfWork(database), amina, datetime.now(UTC))
    assert pending is not None and (pending.id, pending.order_code) == (asked["id"], order["code"])
    with pytest.raises(PayRequestNotPending):
        pay_requests.decline(UnitOfWork(database), baraka, asked["id"], datetime.now(UTC))
    pay_requests.decline(UnitOfWork(database), amina, asked["id"], datetime.now(UTC))
    (shown,) = listed(http, shop, order["id"]).json()["requests"]
    assert shown["status"] == "declined" and shown["declined_at"]
    (event,) = rows(
        database,
        "SELECT type, object_id, payload FROM merchant_events"
        " WHERE merchant_id = %(m)s AND type LIKE 'payment_request.%%'",
        m=shop.merchant_id,
    )
    assert event[:2] == ("payment_request.declined", f"payment_request:{asked['id']}")
    assert event[2]["object"] == "payment_request" and event[2]["status"] == "declined"
    assert event[2]["order"]["status"] == "awaiting_payment"
    # The order stays payable by its code; a new request may be made for it.
    assert post(http, shop, order["id"], {"phone": phone_of(2)}, "r2").status_code == 201


def test_the_database_refuses_wrong_request_steps_by_raw_sql(world):
    database, _settings, shop, _other, amina, _baraka = world
    order = new_order(database, shop.merchant_id, "o1")
    asked = ask(database, shop.merchant_id, order["id"], phone_of(1), "r1")
    pay_requests.decline(UnitOfWork(database), amina, asked["id"], datetime.now(UTC))
    params = {"id": asked["id"], "order": order["id"], "m": shop.merchant_id, "u": amina}
    for sql in (
        "UPDATE pay_requests SET status = 'pending', declined_at = NULL WHERE id = %(id)s",
        "UPDATE pay_requests SET status = 'approved', approved_at = now(), declined_at = NULL"
        " WHERE id = %(id)s",
        "UPDATE pay_requests SET phone = '+254711000009' WHERE id = %(id)s",
        "UPDATE pay_requests SET declined_at = now() WHERE id = %(id)s",
        "DELETE FROM pay_requests WHERE id = %(id)s",
        "INSERT INTO pay_requests (order_id, merchant_id, payer_user_id, phone, status,"
        " created_at, expires_at, approved_at)"
        " VALUES (%(order)s, %(m)s, %(u)s, '+254711000001', 'approved', now(),"
        " now() + interval '1 minute', now())",
    ):
        with pytest.raises(psycopg2.Error):
            execute(database, sql, params)
    ask(database, shop.merchant_id, order["id"], phone_of(1), "r2")
    with pytest.raises(psycopg2.Error, match="pay_requests_live_order_idx"):
        execute(  # a second pending request for one order
            database,
            "INSERT INTO pay_requests (order_id, merchant_id, payer_user_id, phone, created_at,"
            " expires_at) VALUES (%(order)s, %(m)s, %(u)s, '+254711000001', now(),"
            " now() + interval '1 minute')",
            params,
        )
    assert statuses(database, order["id"]) == ["declined", "pending"]
