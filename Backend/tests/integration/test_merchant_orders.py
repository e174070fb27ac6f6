"""Pay orders over the signed merchant API, real HTTP, PostgreSQL and Redis: create, get,
list (paging, filters), cancel; the Idempotency-Key's replay and 409; another
merchant's order answered as absent; an overdue order never shown awaiting payment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from stellar_sdk.sep.stellar_uri import PayStellarUri

from app.db.unit_of_work import UnitOfWork
from app.services import orders, stellar_order_links
from app.services.stellar_order_links import payee_from_settings
from tests.conftest import LiveServer
from tests.security.admin_audit_world import query
from tests.support.merchants import Keyed, fresh_timestamp, keyed_merchant, signed_request
from tests.support.stellar import custody_settings

ORDERS = "/api/v1/merchant/orders"
BODY = {"amount": 25_000, "merchant_reference": "INV-42", "description": "Sukuma wiki"}


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def shop(clean_database, live_settings) -> Keyed:
    return keyed_merchant(clean_database, live_settings)


@pytest.fixture
def other_shop(clean_database, live_settings) -> Keyed:
    return keyed_merchant(clean_database, live_settings, till="612345")


def post(http, keyed: Keyed, path: str, body: dict | None, key: str | None) -> httpx.Response:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    t = fresh_timestamp(keyed.key_id, "POST", path, raw)
    return signed_request(http, keyed, "POST", path, raw, timestamp=t, headers=headers)


def get(http, keyed: Keyed, path: str) -> httpx.Response:
    t = fresh_timestamp(keyed.key_id, "GET", path)
    return signed_request(http, keyed, "GET", path, timestamp=t)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.text


def order_count(database) -> int:
    return query(database, "SELECT count(*) FROM pay_orders")[0][0]


def made_at(database, keyed: Keyed, when: datetime, key: str, **draft: object) -> dict:
    """An order created at `when` through the service (the past, for expiry and dates)."""
    fields = {"amount": 10_000, **draft}
    answer = orders.create(
        UnitOfWork(database), keyed.merchant_id, key, orders.Draft(**fields), when
    )
    return answer.body


# ---- create and get --------------------------------------------------------------------


def test_a_merchant_creates_an_order_and_reads_it_back(http, shop, clean_database):
    created = post(http, shop, ORDERS, BODY, "k-1")
    assert created.status_code == 201, created.text
    order = created.json()
    assert (order["amount"], order["currency"], order["status"]) == (
        25_000,
        "KES",
        "awaiting_payment",
    )
    assert (order["merchant_reference"], order["description"]) == ("INV-42", "Sukuma wiki")
    assert len(order["code"]) == 8 and order["code"][0] != "0"
    expires = datetime.fromisoformat(order["expires_at"]) - datetime.fromisoformat(
        order["created_at"]
    )
    assert expires == timedelta(minutes=15)
    assert "idempotent-replayed" not in created.headers
    read = get(http, shop, f"{ORDERS}/{order['id']}")
    assert read.status_code == 200 and read.json() == order
    (merchant_id,) = query(clean_database, "SELECT merchant_id FROM pay_orders")[0]
    assert merchant_id == shop.merchant_id


def test_every_order_answer_says_how_to_pay_it_from_any_stellar_wallet(
    live_settings, clean_database
):
    from app.api.app import create_app

    # Custody on: the payee is read from the seeds at start-up (no network is asked).
    custody = custody_settings(live_settings, "http://127.0.0.1:9")
    payee = payee_from_settings(custody)
    assert payee is not None
    shop = keyed_merchant(clean_database, custody)
    with (
        LiveServer(create_app(custody), custody.port) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        created = post(http, shop, ORDERS, BODY, "k-1")
        replayed = post(http, shop, ORDERS, BODY, "k-1")
        order = created.json()
        read = get(http, shop, f"{ORDERS}/{order['id']}").json()
        listed = get(http, shop, ORDERS).json()["orders"]

    stellar = order["stellar"]
    assert stellar == stellar_order_links.pay_details(payee, order)
    assert (stellar["destination"], stellar["memo_type"], stellar["memo"]) == (
        payee.address,
        "text",
        order["code"],
    )
    assert (stellar["asset_code"], stellar["asset_issuer"], stellar["amount"]) == (
        "KES",
        payee.asset_issuer,
        "250.00",
    )
    assert PayStellarUri.from_uri(stellar["uri"]).memo == order["code"]
    assert replayed.json() == order and read == order and listed == [order]


def test_without_a_stellar_network_an_order_has_no_stellar_block(http, shop):
    assert post(http, shop, ORDERS, BODY, "k-1").json()["stellar"] is None


def test_the_same_key_and_body_replay_the_first_answer_and_make_one_order(
    http, shop, clean_database
):
    first = post(http, shop, ORDERS, BODY, "k-1")
    again = post(http, shop, ORDERS, BODY, "k-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert order_count(clean_database) == 1


def test_the_same_key_with_another_body_is_409_and_makes_nothing(http, shop, clean_database):
    post(http, shop, ORDERS, BODY, "k-1")
    other = post(http, shop, ORDERS, {**BODY, "amount": 25_001}, "k-1")
    assert_error(other, 409, "idempotency_key_reused")
    assert order_count(clean_database) == 1


def test_keys_are_the_merchants_own(http, shop, other_shop, clean_database):
    mine = post(http, shop, ORDERS, BODY, "shared-key")
    theirs = post(http, other_shop, ORDERS, {**BODY, "amount": 7}, "shared-key")
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]
    assert order_count(clean_database) == 2


@pytest.mark.parametrize("key", [None, ""])
def test_a_post_without_an_idempotency_key_is_refused_and_makes_nothing(
    http, shop, clean_database, key
):
    assert_error(post(http, shop, ORDERS, BODY, key), 400, "idempotency_key_required")
    assert order_count(clean_database) == 0


def test_a_refused_create_stores_no_answer_so_a_corrected_retry_goes_through(
    http, shop, clean_database
):
    bad = post(http, shop, ORDERS, {**BODY, "description": "emoji 🍅"}, "k-1")
    assert_error(bad, 422, "invalid_description")
    assert query(clean_database, "SELECT count(*) FROM merchant_idempotency_keys")[0][0] == 0
    assert post(http, shop, ORDERS, BODY, "k-1").status_code == 201


def test_the_expiry_is_chosen_within_1_to_1440_minutes(http, shop):
    day = post(http, shop, ORDERS, {**BODY, "expires_in_minutes": 1440}, "a").json()
    span = datetime.fromisoformat(day["expires_at"]) - datetime.fromisoformat(day["created_at"])
    assert span == timedelta(days=1)
    for minutes in (0, 1441):
        body = {**BODY, "expires_in_minutes": minutes}
        assert_error(post(http, shop, ORDERS, body, f"m{minutes}"), 422, "validation_failed")


def test_another_merchants_order_is_404_as_if_absent(http, shop, other_shop, clean_database):
    order = post(http, shop, ORDERS, BODY, "k-1").json()
    absent = get(http, other_shop, f"{ORDERS}/999999")
    theirs = get(http, other_shop, f"{ORDERS}/{order['id']}")
    assert_error(theirs, 404, "order_not_found")
    assert theirs.json() == absent.json()
    cancel = post(http, other_shop, f"{ORDERS}/{order['id']}/cancel", None, "c-1")
    assert_error(cancel, 404, "order_not_found")
    listed = get(http, other_shop, ORDERS).json()
    assert listed == {"orders": [], "next_cursor": None}
    assert query(clean_database, "SELECT status FROM pay_orders")[0][0] == "awaiting_payment"


# ---- expiry on read ------------------------------------------------------------------------


def test_an_overdue_order_reads_as_expired_before_the_worker_writes_it(http, shop, clean_database):
    late = made_at(clean_database, shop, datetime.now(UTC) - timedelta(minutes=16), "late")
    assert query(clean_database, "SELECT status FROM pay_orders")[0][0] == "awaiting_payment"
    read = get(http, shop, f"{ORDERS}/{late['id']}").json()
    assert (read["status"], read["expired_at"]) == ("expired", late["expires_at"])
    waiting = get(http, shop, f"{ORDERS}?status=awaiting_payment").json()["orders"]
    assert waiting == []
    expired = get(http, shop, f"{ORDERS}?status=expired").json()["orders"]
    assert [o["id"] for o in expired] == [late["id"]]
    cancel = post(http, shop, f"{ORDERS}/{late['id']}/cancel", None, "c-1")
    assert_error(cancel, 409, "order_not_cancelable")


# ---- cancel ------------------------------------------------------------------------------


def test_cancel_cancels_once_and_again_answers_the_same(http, shop, clean_database):
    order = post(http, shop, ORDERS, BODY, "k-1").json()
    path = f"{ORDERS}/{order['id']}/cancel"
    canceled = post(http, shop, path, None, "c-1")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled" and canceled.json()["canceled_at"]
    replay = post(http, shop, path, None, "c-1")
    assert replay.json() == canceled.json() and replay.headers["idempotent-replayed"] == "true"
    again = post(http, shop, path, None, "c-2")  # a new key: the order as it is
    assert (again.status_code, again.json()) == (200, canceled.json())
    assert get(http, shop, f"{ORDERS}/{order['id']}").json() == canceled.json()
    # The create's key for the cancel: another request.
    assert_error(post(http, shop, path, None, "k-1"), 409, "idempotency_key_reused")


def test_a_paid_order_cannot_be_canceled(http, shop, clean_database, live_settings):
    from tests.support.wallets import fund, phone_of, register, registration_secrets

    order = post(http, shop, ORDERS, BODY, "k-1").json()
    box, pin_hash = registration_secrets(live_settings)
    register(clean_database, box, pin_hash, phone=phone_of(1))
    fund(clean_database, phone_of(1), 100_000)
    (tx,) = query(clean_database, "SELECT max(id) FROM journal_transactions")[0]
    uow = UnitOfWork(clean_database)
    with uow:
        orders.mark_paid(uow, order["id"], tx, order["amount"], datetime.now(UTC))
        uow.commit()
    refused = post(http, shop, f"{ORDERS}/{order['id']}/cancel", None, "c-1")
    assert_error(refused, 409, "order_not_cancelable")
    assert get(http, shop, f"{ORDERS}/{order['id']}").json()["status"] == "paid"


# ---- list: paging and filters ------------------------------------------------------------


def test_the_list_pages_newest_first_with_cursors(http, shop, other_shop):
    ids = [post(http, shop, ORDERS, {**BODY, "amount": 100 + i}, f"k{i}").json()["id"]
           for i in range(5)]  # fmt: skip
    post(http, other_shop, ORDERS, BODY, "theirs")
    seen, path = [], f"{ORDERS}?limit=2"
    while True:
        page = get(http, shop, path).json()
        seen += [o["id"] for o in page["orders"]]
        if page["next_cursor"] is None:
            break
        path = f"{ORDERS}?limit=2&cursor={page['next_cursor']}"
    assert seen == ids[::-1]


def test_the_list_filters_by_status_and_creation_time(http, shop, clean_database):
    now = datetime.now(UTC).replace(microsecond=0)
    old = made_at(clean_database, shop, now - timedelta(minutes=50), "old", expires_in_minutes=120)
    mid = made_at(clean_database, shop, now - timedelta(minutes=30), "mid", expires_in_minutes=120)
    new = made_at(clean_database, shop, now - timedelta(minutes=10), "new", expires_in_minutes=120)
    post(http, shop, f"{ORDERS}/{mid['id']}/cancel", None, "c")

    def ids(query: str) -> list[int]:
        response = get(http, shop, f"{ORDERS}?{query}")
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["orders"]]

    stamp = (now - timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"created_from={stamp}") == [new["id"], mid["id"]]
    assert ids(f"created_to={until}") == [mid["id"], old["id"]]  # the end is exclusive
    assert ids(f"created_from={stamp}&created_to={until}") == [mid["id"]]
    assert ids("status=canceled") == [mid["id"]]
    assert ids("status=awaiting_payment") == [new["id"], old["id"]]
    assert ids(f"status=awaiting_payment&created_from={stamp}") == [new["id"]]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=lost", "invalid_status"),
        ("cursor=junk", "invalid_cursor"),
        ("created_from=2026-12-04T10:00:00", "validation_failed"),  # no time zone
        ("created_from=yesterday", "validation_failed"),
        ("limit=0", "validation_failed"),
        ("limit=201", "validation_failed"),
    ],
)
def test_bad_list_queries_are_422(http, shop, query, code):
    assert_error(get(http, shop, f"{ORDERS}?{query}"), 422, code)
