"""Refunds over the signed merchant API on real PostgreSQL: partial and full, never more
than was paid, idempotent, the merchant's account never below zero, the payer told by
SMS, another merchant's payment out of reach; the ledger check sound after."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import merchants
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from tests.conftest import LiveServer
from tests.support.merchants import Keyed, fresh_timestamp, keyed_merchant, signed_request
from tests.support.mpesa import rows
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

PATH = "/api/v1/merchant/refunds"


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def post(http: httpx.Client, keyed: Keyed, body: dict, key: str) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    t = fresh_timestamp(keyed.key_id, "POST", PATH, raw)
    return signed_request(http, keyed, "POST", PATH, raw, timestamp=t, headers=headers)


def get(http: httpx.Client, keyed: Keyed, path: str) -> httpx.Response:
    t = fresh_timestamp(keyed.key_id, "GET", path)
    return signed_request(http, keyed, "GET", path, timestamp=t)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def merchant_balance(database, merchant_id: int) -> int:
    found = merchants.get(UnitOfWork(database), merchant_id)
    assert found is not None
    return found.balance


@pytest.fixture
def world(clean_database, live_settings):
    shop = keyed_merchant(clean_database, live_settings, till="512345")
    other = keyed_merchant(clean_database, live_settings, till="612345")
    box, pin_hash = registration_secrets(live_settings, "4821")
    jane = register(clean_database, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku")
    fund(clean_database, phone_of(1), 1_000_000)
    paid = merchant_payments.pay(
        UnitOfWork(clean_database), MerchantPaymentRequest(jane, "512345", 10_000, "p1")
    )
    return clean_database, shop, other, jane, paid


def test_a_payment_is_refunded_in_parts_never_beyond_what_was_paid(http, world):
    database, shop, other, jane, paid = world
    before = wallet_balance(database, jane)
    held = merchant_balance(database, shop.merchant_id)
    assert held == 10_000 - paid.merchant_fee

    part = post(http, shop, {"payment": paid.reference, "amount": 4_000, "reason": "bruised"}, "r1")
    assert part.status_code == 201, part.text
    refund = part.json()
    assert (refund["status"], refund["amount"], refund["payment"]) == (
        "succeeded",
        4_000,
        paid.reference,
    )
    assert refund["id"].startswith("re_") and refund["refund_reference"]
    assert wallet_balance(database, jane) == before + 4_000
    assert merchant_balance(database, shop.merchant_id) == held - 4_000

    again = post(
        http, shop, {"payment": paid.reference, "amount": 4_000, "reason": "bruised"}, "r1"
    )
    assert again.status_code == 201 and again.json() == refund
    assert again.headers["Idempotent-Replayed"] == "true"
    assert error_of(post(http, shop, {"payment": paid.reference, "amount": 1}, "r1")) == (
        409, "idempotency_key_reused",
    )  # fmt: skip
    assert error_of(post(http, shop, {"payment": paid.reference, "amount": 6_001}, "r2")) == (
        409, "exceeds_refundable",
    )  # fmt: skip
    # Another merchant cannot reach this payment; a made-up reference is no payment.
    assert error_of(post(http, other, {"payment": paid.reference}, "x1")) == (
        404, "payment_not_found",
    )  # fmt: skip
    assert error_of(post(http, shop, {"payment": "NOSUCHREF1"}, "r3")) == (404, "payment_not_found")
    assert error_of(post(http, shop, {"payment": paid.reference, "amount": 0}, "r4"))[0] == 422
    assert error_of(post(http, shop, {"payment": paid.reference, "amount": 1.5}, "r5"))[0] == 422

    read = get(http, shop, f"{PATH}/{refund['id']}")
    assert read.status_code == 200 and read.json() == refund
    assert error_of(get(http, other, f"{PATH}/{refund['id']}")) == (404, "refund_not_found")

    # The rest: the fee stays with PayTrace, so the merchant holds less than the rest
    # of the payment unless other payments fill its account.
    rest = 10_000 - 4_000
    if paid.merchant_fee:
        assert error_of(post(http, shop, {"payment": paid.reference}, "r6")) == (
            409, "insufficient_merchant_balance",
        )  # fmt: skip
        merchant_payments.pay(
            UnitOfWork(database), MerchantPaymentRequest(jane, "512345", 5_000, "p2")
        )
    done = post(http, shop, {"payment": paid.reference}, "r7")
    assert done.status_code == 201, done.text
    assert done.json()["amount"] == rest
    assert error_of(post(http, shop, {"payment": paid.reference}, "r8")) == (
        409, "payment_fully_refunded",
    )  # fmt: skip
    sms = rows(
        database,
        "SELECT payload->>'to' FROM outbox WHERE payload->>'template' = 'merchant_refunded'",
    )
    assert sms == [(phone_of(1),), (phone_of(1),)]  # one per refund, none for the refusals
    assert check_ledger(database).sound


def test_the_database_refuses_refunding_more_than_was_paid(world):
    database, _shop, _other, _jane, paid = world
    with (
        pytest.raises(Exception, match="merchant_payments_refunded_check"),
        database.connection() as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "UPDATE merchant_payments SET refunded_amount = amount + 1"
            " WHERE transaction_id = %(tx)s",
            {"tx": paid.transaction_id},
        )
