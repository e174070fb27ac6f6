"""Hostile input to the merchant order endpoints, signed (so that it reaches the routes
and the services), over real HTTP, PostgreSQL and Redis: bad amounts, floats, strings,
negative and huge numbers, unknown fields, junk JSON, oversized bodies, bad ids and
keys. Every answer is a clear 4xx JSON body, never a 500, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.security.admin_audit_world import query
from tests.support.merchants import Keyed, fresh_timestamp, keyed_merchant, signed_request

ORDERS = "/api/v1/merchant/orders"
GOOD = {"amount": 25_000, "description": "Sukuma wiki", "merchant_reference": "INV-42"}


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def shop(clean_database, live_settings) -> Keyed:
    return keyed_merchant(clean_database, live_settings)


def send(http, shop: Keyed, method: str, path: str, raw: bytes = b"", key: str | None = "k"):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    t = fresh_timestamp(shop.key_id, method, path, raw)
    return signed_request(http, shop, method, path, raw, timestamp=t, headers=headers)


def stored(database) -> tuple[int, int]:
    orders = query(database, "SELECT count(*) FROM pay_orders")[0][0]
    keys = query(database, "SELECT count(*) FROM merchant_idempotency_keys")[0][0]
    return orders, keys


def assert_4xx(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail"}, body
    if code is not None:
        assert body["error"] == code, body


BAD_BODIES = [
    {"amount": 0},
    {"amount": -1},
    {"amount": -(2**63)},
    {"amount": 2**63},
    {"amount": 10**40},
    {"amount": 100_000_000_01},  # over MAX_AMOUNT
    {"amount": 250.0},  # a float, even a whole one
    {"amount": 250.5},
    {"amount": 1e308},
    {"amount": "25000"},
    {"amount": True},
    {"amount": None},
    {"amount": [25000]},
    {"amount": {"cents": 25000}},
    {},
    {**GOOD, "currency": "USD"},  # unknown field: currency is KES, not the caller's
    {**GOOD, "merchant_id": 2},  # no merchant but the signer's
    {**GOOD, "status": "paid"},
    {**GOOD, "code": "48213575"},
    {**GOOD, "expires_in_minutes": 0},
    {**GOOD, "expires_in_minutes": 1441},
    {**GOOD, "expires_in_minutes": 15.0},
    {**GOOD, "expires_in_minutes": -5},
    {**GOOD, "expires_in_minutes": 2**70},
    {**GOOD, "description": ""},
    {**GOOD, "description": "x" * 41},
    {**GOOD, "description": "tomatoes 🍅"},
    {**GOOD, "description": "nul\x00byte"},
    {**GOOD, "description": "line\nbreak"},
    {**GOOD, "description": " padded"},
    {**GOOD, "description": 42},
    {**GOOD, "merchant_reference": ""},
    {**GOOD, "merchant_reference": "r" * 65},
    {**GOOD, "merchant_reference": "nul\x00"},
    {**GOOD, "merchant_reference": "tab\there"},
    {**GOOD, "merchant_reference": ["INV"]},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: json.dumps(b)[:40])
def test_a_bad_order_body_is_422_and_stores_nothing(http, shop, clean_database, body):
    response = send(http, shop, "POST", ORDERS, json.dumps(body).encode())
    assert_4xx(response, 422)
    assert stored(clean_database) == (0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        b"[]",
        b"null",
        b'"25000"',
        b'{"amount": 25000',
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": 25000, "amount": 1}',  # duplicate key: the last wins, still one order
        b"\xff\xfe{}",
        b'{"amount": 1' + b"0" * 5000 + b"}",
        b"[" * 5000 + b"]" * 5000,
    ],
    ids=lambda r: r[:20].decode("latin-1"),
)
def test_junk_json_is_a_4xx_never_a_500(http, shop, clean_database, raw):
    response = send(http, shop, "POST", ORDERS, raw)
    assert response.status_code < 500, response.text
    if response.status_code != 201:
        assert_4xx(response, response.status_code)
        assert stored(clean_database) == (0, 0)


def test_a_huge_body_is_413_before_it_is_read(http, shop, clean_database, live_settings):
    raw = json.dumps({**GOOD, "description": "x" * (live_settings.api_max_body_bytes * 4)})
    response = send(http, shop, "POST", ORDERS, raw.encode())
    assert_4xx(response, 413, "payload_too_large")
    assert stored(clean_database) == (0, 0)


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 400, "idempotency_key_required"),
        ("", 400, "idempotency_key_required"),
        ("k" * 129, 422, "invalid_idempotency_key"),
        ("has space", 422, "invalid_idempotency_key"),
        ("tab\tkey", 422, "invalid_idempotency_key"),
    ],
)
def test_a_bad_idempotency_key_is_refused_before_anything_is_done(
    http, shop, clean_database, key, status, code
):
    response = send(http, shop, "POST", ORDERS, json.dumps(GOOD).encode(), key=key)
    assert_4xx(response, status, code)
    cancel = send(http, shop, "POST", f"{ORDERS}/1/cancel", key=key)
    assert_4xx(cancel, status, code)
    assert stored(clean_database) == (0, 0)


def test_a_non_ascii_idempotency_key_is_refused(http, shop, clean_database):
    raw = json.dumps(GOOD).encode()
    t = fresh_timestamp(shop.key_id, "POST", ORDERS, raw)
    headers = [(b"Idempotency-Key", "clé-é".encode("latin-1"))]
    response = signed_request(http, shop, "POST", ORDERS, raw, timestamp=t, headers=dict(headers))
    assert_4xx(response, 422, "invalid_idempotency_key")
    assert stored(clean_database) == (0, 0)


@pytest.mark.parametrize(
    "order_id", ["0", "-1", str(2**63), "1e3", "1.5", "abc", "%00", "9" * 40, "1;DROP"]
)
def test_a_bad_order_id_is_4xx(http, shop, clean_database, order_id):
    for method, path in (("GET", f"{ORDERS}/{order_id}"), ("POST", f"{ORDERS}/{order_id}/cancel")):
        response = send(http, shop, method, path)
        assert response.status_code in (404, 422), response.text
        assert_4xx(response, response.status_code)
    assert stored(clean_database) == (0, 0)


@pytest.mark.parametrize(
    "query_string",
    [
        "status=" + "x" * 21,
        "status=%00",
        "created_from=9999-99-99T00:00:00Z",
        "created_from=0001-01-01T00:00:00%2B14:00",
        "created_to=9999-12-31T23:59:59-14:00",
        "created_from=2223-04-22T11:20:02.43%2B16:22",  # beyond PostgreSQL's offsets
        "created_to=0001-01-01T00:00:00%2B23:59",  # before year 1 in UTC
        "created_to=9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
        "limit=-1",
        "limit=1e9",
        "cursor=" + "A" * 41,
        "cursor=%FF%FE",
    ],
)
def test_hostile_list_queries_never_answer_500(http, shop, query_string):
    response = send(http, shop, "GET", f"{ORDERS}?{query_string}")
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_4xx(response, 422)
