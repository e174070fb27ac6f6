"""Paying a merchant's till or a pay order over real HTTP: the PWA's `/api/v1/payments`
and USSD's *5. Pay* as AT drives it, the same service, limits, PIN lock and SMS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.services import merchants, orders
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
        "order_code": None,
        "description": None,
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


# ---- Pay orders ---------------------------------------------------------------------


def new_order(database, merchant_id: int, key: str = "o1", description: str = "Sukuma wiki"):
    draft = orders.Draft(amount=250 * KES, merchant_reference="INV-42", description=description)
    return orders.create(UnitOfWork(database), merchant_id, key, draft, datetime.now(UTC)).body


def test_quote_then_pay_an_order_by_its_code(pwa, jane, merchant, database):
    order = new_order(database, merchant.id)
    quote = pwa.http.get(
        "/payments/quote", params={"order_code": order["code"]}, headers=pwa.bearer(jane)
    )
    assert quote.json() == {
        "till": TILL,
        "merchant_name": "MAMA MBOGA",
        "amount": 25_000,
        "fee": 0,
        "total": 25_000,
        "balance": 100_000,
        "order_code": order["code"],
        "description": "Sukuma wiki",
    }
    key = str(uuid.uuid4())
    paid = pay(pwa, jane, {"order_code": order["code"], "pin": PIN}, key)
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["order_code"], body["description"], body["amount"], body["balance"]) == (
        order["code"],
        "Sukuma wiki",
        25_000,
        75_000,
    )
    again = pay(pwa, jane, {"order_code": order["code"], "pin": PIN}, key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == body["id"]
    assert orders.get(UnitOfWork(database), merchant.id, order["id"], datetime.now(UTC)).status == (
        "paid"
    )
    assert merchants.get(UnitOfWork(database), merchant.id).balance == 25_000 - 125
    pwa.deliver_sms()
    assert any("Paid KES 250 to MAMA MBOGA for Sukuma wiki" in t for t in pwa.inbox(JANE))
    assert any(
        f"order {order['code']} (Sukuma wiki, INV-42)" in t for t in pwa.inbox(MERCHANT_PHONE)
    )
    assert check_ledger(database).sound


def test_order_refusals_are_clear_and_move_nothing(pwa, jane, merchant, database):
    order = new_order(database, merchant.id)
    code = order["code"]
    mistyped = code[:-1] + str((int(code[-1]) + 1) % 10)
    both = {"till": TILL, "order_code": code, "amount": 25_000, "pin": PIN}
    assert_error(pay(pwa, jane, both), 422, "validation_failed")
    assert_error(pay(pwa, jane, {"pin": PIN}), 422, "validation_failed")
    assert_error(pay(pwa, jane, {"till": TILL, "pin": PIN}), 422, "validation_failed")
    assert_error(pay(pwa, jane, {"order_code": 12345678, "pin": PIN}), 422, "validation_failed")
    assert_error(pay(pwa, jane, {"order_code": mistyped, "pin": PIN}), 422, "invalid_order_code")
    wrong = {"order_code": code, "amount": 24_999, "pin": PIN}
    assert_error(pay(pwa, jane, wrong), 422, "wrong_amount")
    for params in ({"till": TILL, "order_code": code}, {}, {"till": TILL}):
        quote = pwa.http.get("/payments/quote", params=params, headers=pwa.bearer(jane))
        assert_error(quote, 422, "validation_failed")
    canceled = new_order(database, merchant.id, "o2")
    orders.cancel(UnitOfWork(database), merchant.id, canceled["id"], "c", datetime.now(UTC))
    assert_error(
        pay(pwa, jane, {"order_code": canceled["code"], "pin": PIN}), 409, "order_canceled"
    )
    assert pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()["balance"] == 1_000 * KES

    # Somebody else pays it first: this payer is refused, nothing moves for them.
    tokens = pwa.register(phone_of(2), "Baraka Mwangi", PIN)
    fund(database, phone_of(2), 1_000 * KES)
    assert pay(pwa, tokens, {"order_code": code, "pin": PIN}).status_code == 201
    assert_error(pay(pwa, jane, {"order_code": code, "pin": PIN}), 409, "order_paid")
    quote = pwa.http.get("/payments/quote", params={"order_code": code}, headers=pwa.bearer(jane))
    assert_error(quote, 409, "order_paid")
    assert pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()["balance"] == 1_000 * KES
    assert check_ledger(database).sound


def test_ussd_pays_an_order_over_the_gateway_once(jane, merchant, live_server, database):
    order = new_order(database, merchant.id)
    gateway = AtGateway(live_server.url, JANE)
    end = gateway.walk("5", order["code"], PIN)
    assert end.startswith("END Paid KES 250 to MAMA MBOGA for Sukuma wiki. Ref ")
    assert orders.get(UnitOfWork(database), merchant.id, order["id"], datetime.now(UTC)).status == (
        "paid"
    )
    assert merchants.get(UnitOfWork(database), merchant.id).balance == 25_000 - 125
    again = AtGateway(live_server.url, JANE).walk("5", order["code"])
    assert again.startswith("CON That order is already paid.")
    assert check_ledger(database).sound
