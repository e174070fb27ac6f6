"""Paying a merchant's till over real HTTP: the PWA's `/api/v1/payments` and USSD's
*5. Pay* as AT drives it, the same service, limits, PIN lock and SMS."""

from __future__ import annotations

import uuid

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.services import merchants
from tests.e2e.at_gateway import AtGateway
from tests.support.merchants import application, execute
from tests.support.wallets import check_ledger, fund, phone_of

JANE, PIN = phone_of(1), "4821"
TILL = "512345"
KES = 100
RULE = FeeRule(50, 100, 20_000)
MERCHANT_PHONE = "+254711000101"  # application()'s contact phone


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.text


@pytest.fixture
def jane(pwa, database) -> dict:
    tokens = pwa.register(JANE, "Jane Wanjiku", PIN)
    fund(database, JANE, 1_000 * KES)
    return tokens


@pytest.fixture
def merchant(database):
    return merchants.onboard(UnitOfWork(database), application(TILL, fee=RULE)).merchant


def pay(pwa, tokens, body: dict, key: str | None = None):
    headers = {**pwa.bearer(tokens), "Idempotency-Key": key or str(uuid.uuid4())}
    return pwa.http.post("/payments", json=body, headers=headers)


def test_quote_then_pay_a_till_and_both_sides_get_an_sms(pwa, jane, merchant, database):
    quote = pwa.http.get(
        "/payments/quote", params={"till": TILL, "amount": 250 * KES}, headers=pwa.bearer(jane)
    )
    assert quote.json() == {
        "till": TILL,
        "merchant_name": "MAMA MBOGA",
        "amount": 25_000,
        "fee": 0,
        "total": 25_000,
        "balance": 100_000,
    }
    paid = pay(pwa, jane, {"till": TILL, "amount": 250 * KES, "pin": PIN})
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["till"], body["merchant_name"], body["amount"], body["fee"]) == (
        TILL,
        "MAMA MBOGA",
        25_000,
        0,
    )
    assert body["balance"] == 75_000
    assert merchants.get(UnitOfWork(database), merchant.id).balance == 25_000 - 125
    history = pwa.http.get("/wallet/transactions", headers=pwa.bearer(jane)).json()["items"]
    assert (history[0]["type"], history[0]["amount"], history[0]["note"]) == (
        "merchant_payment",
        25_000,
        f"MAMA MBOGA (till {TILL})",
    )
    pwa.deliver_sms()
    assert any(f"Paid KES 250 to MAMA MBOGA (till {TILL})" in t for t in pwa.inbox(JANE))
    assert any(body["id"] in t and "Fee KES 1.25" in t for t in pwa.inbox(MERCHANT_PHONE))
    assert check_ledger(database).sound


def test_the_same_key_and_body_answers_the_first_payment_and_moves_nothing(
    pwa, jane, merchant, database
):
    key = str(uuid.uuid4())
    body = {"till": TILL, "amount": 100 * KES, "pin": PIN}
    first, again = pay(pwa, jane, body, key), pay(pwa, jane, body, key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert merchants.get(UnitOfWork(database), merchant.id).balance == 100 * KES - 100
    assert_error(pay(pwa, jane, {**body, "amount": 101 * KES}, key), 409, "idempotency_key_reused")


def test_a_payment_needs_an_idempotency_key(pwa, jane, merchant):
    response = pwa.http.post(
        "/payments", json={"till": TILL, "amount": 100, "pin": PIN}, headers=pwa.bearer(jane)
    )
    assert_error(response, 422, "validation_failed")
    assert "Idempotency-Key" in response.json()["detail"]


def test_refusals_are_clear_and_move_nothing(pwa, jane, merchant, database):
    def body(**changes):
        return {"till": TILL, "amount": 100 * KES, "pin": PIN, **changes}

    assert_error(pay(pwa, jane, body(till="999999")), 404, "merchant_not_found")
    assert_error(pay(pwa, jane, body(till="012345")), 422, "validation_failed")
    assert_error(pay(pwa, jane, body(till=512345)), 422, "validation_failed")
    assert_error(pay(pwa, jane, body(amount=2_000 * KES)), 422, "insufficient_funds")
    assert_error(pay(pwa, jane, body(amount=80_000 * KES)), 422, "limit_exceeded")
    assert_error(pay(pwa, jane, body(amount=1.5)), 422, "validation_failed")
    assert_error(pay(pwa, jane, body(pin="9047")), 401, "wrong_pin")
    assert_error(pay(pwa, jane, body(order_code="AB12")), 422, "validation_failed")
    execute(database, "UPDATE merchants SET status = 'suspended' WHERE id = %(id)s",
            {"id": merchant.id})  # fmt: skip
    assert_error(pay(pwa, jane, body()), 422, "merchant_unavailable")
    quote = pwa.http.get(
        "/payments/quote", params={"till": TILL, "amount": 100}, headers=pwa.bearer(jane)
    )
    assert_error(quote, 422, "merchant_unavailable")
    bad_quote = pwa.http.get(
        "/payments/quote", params={"till": "12", "amount": 100}, headers=pwa.bearer(jane)
    )
    assert_error(bad_quote, 422, "validation_failed")
    assert pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()["balance"] == 1_000 * KES
    assert merchants.get(UnitOfWork(database), merchant.id).balance == 0


def test_ussd_pay_over_the_gateway_pays_once(jane, merchant, live_server, database):
    gateway = AtGateway(live_server.url, JANE)
    end = gateway.walk("5", TILL, "250", PIN)
    assert end.startswith(f"END Paid KES 250 to MAMA MBOGA (till {TILL}). Ref ")
    assert merchants.get(UnitOfWork(database), merchant.id).balance == 25_000 - 125
    assert check_ledger(database).sound
