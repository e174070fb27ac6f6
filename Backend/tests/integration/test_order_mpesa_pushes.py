"""A merchant has a pay order paid by STK push over real HTTP (the signed merchant API,
PayTrace's outbox worker, the local Daraja sandbox): the prompt for the order's exact
amount with its code, the callback recorded and confirmed with M-Pesa before the order
is paid; a push the customer cancels moves nothing; a forged push callback is refused;
and an order paid from a wallet while the prompt is out has the M-Pesa payment
returned, never kept."""

from __future__ import annotations

import json

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import merchant_keys, merchants
from app.services.custody import SecretBox
from tests.support.merchants import Keyed, application, fresh_timestamp, signed_request
from tests.support.mpesa import mpesa_rig, rows, stk_paid_body
from tests.support.order_mpesa import (
    AMOUNT,
    FEE,
    after_the_hold,
    float_balance,
    merchant_holds,
    new_order,
    onboard,
    order_payments,
    order_status,
    owed_back,
    pay_from_wallet,
)
from tests.support.wallets import check_ledger, fund, phone_of, registration_secrets
from tests.support.wallets import register as register_user

CUSTOMER = "0712000555"
MSISDN = "254712000555"


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        rig.merchant = onboard(database)
        issued = merchant_keys.issue_key(
            UnitOfWork(database), SecretBox.from_settings(rig.settings), rig.merchant.id
        )
        rig.keyed = Keyed(rig.merchant.id, issued.key.key_id, issued.secret)
        rig.api = httpx.Client(base_url=rig.paytrace.url, timeout=10)
        yield rig
        rig.api.close()


def push(rig, order_id: int, phone: str = CUSTOMER, key: str = "p1") -> httpx.Response:
    body = json.dumps({"phone": phone}).encode()
    path = f"/api/v1/merchant/orders/{order_id}/mpesa-push"
    return signed_request(
        rig.api,
        rig.keyed,
        "POST",
        path,
        body,
        timestamp=fresh_timestamp(rig.keyed.key_id, "POST", path, body),
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )


def pushes(rig) -> list[tuple]:
    return rows(rig.database, "SELECT status, checkout_request_id FROM mpesa_order_pushes")


def test_an_order_pushed_to_a_phone_is_paid_once_m_pesa_confirmed(rig):
    order = new_order(rig.database, rig.merchant.id)
    answer = push(rig, order["id"])
    assert answer.status_code == 202, answer.text
    shown = answer.json()
    assert (shown["phone"], shown["amount"], shown["status"]) == ("+" + MSISDN, AMOUNT, "requested")
    again = push(rig, order["id"])  # the same key and body: the same push, no second prompt
    assert again.json() == shown and again.headers["Idempotent-Replayed"] == "true"

    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")

    [(status, checkout)] = pushes(rig)
    assert status == "answered"
    [stk] = [d for d in rig.sandbox.callbacks(checkout) if d["kind"] == "stk_callback"]
    items = {
        i["Name"]: i.get("Value")
        for i in stk["body"]["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    }
    [(trans_id, code, amount, paid, order_id, _)] = order_payments(rig.database)
    assert (trans_id, code, amount, paid, order_id) == (
        items["MpesaReceiptNumber"],
        order["code"],
        AMOUNT,
        "paid",
        order["id"],
    )
    assert merchant_holds(rig.database, rig.merchant.id) == AMOUNT - FEE
    assert len(rig.journal("mpesa_order_payment")) == 1
    assert [o for k, _, o, _, _ in rig.callbacks() if k == "order_stk"] == ["confirming"]
    assert check_ledger(rig.database).sound


def test_a_push_the_customer_cancels_moves_nothing(rig):
    rig.sandbox.scenario(phone=MSISDN, result="cancelled", api="stk")
    order = new_order(rig.database, rig.merchant.id)
    assert push(rig, order["id"]).status_code == 202

    rig.until(lambda: pushes(rig)[0][0] == "failed")
    rig.settle_for(0.5)
    assert order_status(rig.database, order["id"]) == "awaiting_payment"
    assert order_payments(rig.database) == [] and rig.journal("mpesa_order_payment") == []


def test_a_push_for_an_order_that_cannot_be_paid_is_refused(rig):
    order = new_order(rig.database, rig.merchant.id)
    assert push(rig, order["id"], phone="12345").json()["error"] == "invalid_phone"
    assert push(rig, 999_999, key="p2").status_code == 404
    rig.until(lambda: True)
    assert pushes(rig) == []


def test_another_merchants_order_is_not_found(rig):
    other = merchants.onboard(UnitOfWork(rig.database), application("612345")).merchant
    theirs = new_order(rig.database, other.id)
    answer = push(rig, theirs["id"])
    assert answer.status_code == 404 and answer.json()["error"] == "order_not_found"
    assert pushes(rig) == []


def test_a_forged_push_callback_moves_nothing(rig):
    order = new_order(rig.database, rig.merchant.id)
    body = stk_paid_body("ws_CO_01012026000000000712000555", AMOUNT // 100, MSISDN)
    answer = rig.post_callback("order-stk", body)
    assert answer.status_code == 200
    assert [(k, o) for k, _, o, _, _ in rig.callbacks()] == [("order_stk", "unknown_request")]
    assert order_payments(rig.database) == []
    assert order_status(rig.database, order["id"]) == "awaiting_payment"


def test_an_order_paid_from_a_wallet_once_the_hold_lapsed_returns_the_m_pesa_payment(rig):
    box, pin_hash = registration_secrets(rig.settings, "4821")
    payer = register_user(rig.database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    fund(rig.database, phone_of(1), 1_000_000)
    funded = float_balance(rig.database)
    order = new_order(rig.database, rig.merchant.id)
    assert push(rig, order["id"]).status_code == 202
    rig.worker.run_once()  # the prompt goes out; the customer will pay
    paid = pay_from_wallet(rig, payer, order["code"], now=after_the_hold())
    assert paid.order_code == order["code"]

    rig.until(lambda: (p := order_payments(rig.database)) and p[0][3] == "returned")
    assert order_status(rig.database, order["id"]) == "paid"
    assert rig.journal("mpesa_order_payment") == []
    assert owed_back(rig.database) == 0 and float_balance(rig.database) == funded
    assert check_ledger(rig.database).sound


def test_a_push_whose_callback_never_comes_is_settled_by_an_stk_query(rig):
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    order = new_order(rig.database, rig.merchant.id)
    assert push(rig, order["id"]).status_code == 202

    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")

    [(status, checkout)] = pushes(rig)
    assert status == "answered" and rig.callbacks() == []
    [(trans_id, _, amount, paid, _, _)] = order_payments(rig.database)
    # No receipt came: the CheckoutRequestID stands in for it.
    assert (trans_id, amount, paid) == (checkout, AMOUNT, "paid")
    assert len(rig.journal("mpesa_order_payment")) == 1
    assert check_ledger(rig.database).sound


def test_a_push_settled_by_query_for_an_order_paid_meanwhile_is_owed_back_for_an_operator(rig):
    box, pin_hash = registration_secrets(rig.settings, "4821")
    payer = register_user(rig.database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    fund(rig.database, phone_of(1), 1_000_000)
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    order = new_order(rig.database, rig.merchant.id)
    assert push(rig, order["id"]).status_code == 202
    rig.worker.run_once()
    assert pay_from_wallet(rig, payer, order["code"], now=after_the_hold()).order_code

    rig.until(lambda: (p := order_payments(rig.database)) and p[0][3] == "review")
    # M-Pesa gave no receipt to reverse by: owed back on the books, for an operator.
    assert owed_back(rig.database) == AMOUNT
    assert rig.journal("mpesa_order_payment") == [] and rig.journal("mpesa_order_returned") == []
    assert check_ledger(rig.database).sound


def test_a_wallet_payer_is_told_a_payment_is_in_progress_while_the_prompt_is_out(rig):
    box, pin_hash = registration_secrets(rig.settings, "4821")
    payer = register_user(rig.database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    fund(rig.database, phone_of(1), 1_000_000)
    order = new_order(rig.database, rig.merchant.id)
    assert push(rig, order["id"]).status_code == 202
    # A second prompt for it is refused as well: one at a time.
    assert push(rig, order["id"], phone="0712000666", key="p2").json()["error"] == (
        "order_in_progress"
    )

    refused = pay_from_wallet(rig, payer, order["code"])
    assert refused.code == "order_in_progress"

    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")
    assert rig.journal("merchant_payment") == []
    assert len(rig.journal("mpesa_order_payment")) == 1
    assert pay_from_wallet(rig, payer, order["code"]).code == "order_paid"
