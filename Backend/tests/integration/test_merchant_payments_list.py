"""GET /api/v1/merchant/payments over real HTTP and PostgreSQL: a merchant reads the
payments to its own till, newest first, page by page, payers shown as on a receipt."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from tests.conftest import LiveServer
from tests.support.merchants import Keyed, fresh_timestamp, keyed_merchant, signed_request
from tests.support.wallets import fund, phone_of, register, registration_secrets

PATH = "/api/v1/merchant/payments"


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def get(http: httpx.Client, keyed: Keyed, path: str) -> httpx.Response:
    t = fresh_timestamp(keyed.key_id, "GET", path)
    return signed_request(http, keyed, "GET", path, timestamp=t)


def pay(database, payer: int, till: str, amount: int, key: str) -> str:
    request = MerchantPaymentRequest(payer, till, amount, key)
    return merchant_payments.pay(UnitOfWork(database), request).reference


def test_a_merchant_reads_its_own_payments_newest_first_page_by_page(
    http, clean_database, live_settings
):
    shop = keyed_merchant(clean_database, live_settings, till="512345")
    other = keyed_merchant(clean_database, live_settings, till="612345")
    box, pin_hash = registration_secrets(live_settings, "4821")
    jane = register(clean_database, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku Otieno")
    fund(clean_database, phone_of(1), 1_000_000)
    first = pay(clean_database, jane, "512345", 10_000, "k1")
    pay(clean_database, jane, "612345", 20_000, "k2")  # another merchant's
    second = pay(clean_database, jane, "512345", 30_000, "k3")

    page = get(http, shop, f"{PATH}?limit=1")
    assert page.status_code == 200, page.text
    (newest,) = page.json()["payments"]
    assert newest["reference"] == second and newest["amount"] == 30_000
    assert newest["net"] == newest["amount"] - newest["fee"]
    assert newest["payer"] == {
        "name": "Jane O.",
        "phone": phone_of(1)[:5] + "****" + phone_of(1)[-4:],
        "stellar_address": None,  # a wallet's payer: no rail named them
    }
    assert newest["rail_receipt"] is None
    cursor = page.json()["next_cursor"]
    assert cursor is not None
    rest = get(http, shop, f"{PATH}?limit=1&cursor={cursor}").json()
    assert [p["reference"] for p in rest["payments"]] == [first] and rest["next_cursor"] is None

    theirs = get(http, other, PATH).json()["payments"]
    assert [p["amount"] for p in theirs] == [20_000]  # never the first merchant's
    bad = get(http, shop, f"{PATH}?cursor=not-a-cursor")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_cursor"
    assert get(http, shop, f"{PATH}?limit=0").status_code == 422
