"""Pay orders paid from M-Pesa's menu (Paybill, the order code as account number) over
real HTTP: the local Daraja sandbox validates with PayTrace, confirms, and PayTrace asks
M-Pesa (transaction status) before the order is paid - once, with the merchant's fee,
SMS and the order.paid event. Codes PayTrace must refuse are refused at validation;
hostile confirmations (forged, replayed, malformed, wrong token) move nothing; and the
issue's race: one order paid at once from a wallet and from M-Pesa is paid once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import psycopg2.errors
import pytest
from pydantic import SecretStr

from app.cli import register_c2b
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes
from app.errors import OrderNotPayable
from app.services import orders
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from tests.integration.test_credited_account_locked_last import held
from tests.support.daraja import reversal_body
from tests.support.merchants import (
    Keyed,
    account_paid_by,
    fresh_timestamp,
    key_for,
    signed_request,
)
from tests.support.mpesa import CALLBACK_FIRST, mpesa_rig, rows
from tests.support.mpesa_recon import deposit_settled
from tests.support.order_mpesa import (
    AMOUNT,
    CUSTOMER,
    FEE,
    MERCHANT_PHONE,
    after_the_hold,
    c2b_body,
    float_balance,
    merchant_holds,
    new_order,
    onboard,
    order_payments,
    order_status,
    owed_back,
    pay_from_mpesa,
    pay_from_wallet,
    register,
)
from tests.support.wallets import check_ledger, fund, phone_of, registration_secrets
from tests.support.wallets import register as register_user

KES = AMOUNT // 100


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        rig.merchant = onboard(database)
        register(rig)
        yield rig


@pytest.fixture
def callback_rig(live_settings, database, tmp_path):
    """The rig, its STK queries waiting 8 s: a deposit's receipt comes only with
    M-Pesa's callback, which a loaded machine can deliver after a quick query has
    already settled the deposit without one."""
    with mpesa_rig(live_settings, database, tmp_path, **CALLBACK_FIRST) as rig:
        rig.merchant = onboard(database)
        register(rig)
        yield rig


def get(http: httpx.Client, keyed: Keyed, path: str) -> httpx.Response:
    t = fresh_timestamp(keyed.key_id, "GET", path)
    return signed_request(http, keyed, "GET", path, timestamp=t)


def post(http: httpx.Client, keyed: Keyed, body: dict, key: str = "r1") -> httpx.Response:
    path, raw = "/api/v1/merchant/refunds", json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    t = fresh_timestamp(keyed.key_id, "POST", path, raw)
    return signed_request(http, keyed, "POST", path, raw, timestamp=t, headers=headers)


def c2b_callbacks(rig) -> list[tuple[str, str]]:
    return [(kind, outcome) for kind, _, outcome, _, _ in rig.callbacks() if "c2b" in kind]


def test_an_order_paid_from_the_paybill_is_paid_once_m_pesa_confirmed(rig):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)

    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")

    [(trans_id, code, amount, status, order_id, tx_id)] = order_payments(rig.database)
    assert (code, amount, status, order_id) == (order["code"], AMOUNT, "paid", order["id"])
    assert merchant_holds(rig.database, rig.merchant.id) == AMOUNT - FEE
    assert float_balance(rig.database) == -AMOUNT
    [(journal_id, _, journal_amount, fee)] = rig.journal("mpesa_order_payment")
    assert (journal_id, journal_amount, fee) == (tx_id, AMOUNT, FEE)
    # The confirmation alone moved nothing: M-Pesa's status answer did.
    assert c2b_callbacks(rig) == [
        ("c2b_validation", "accepted"),
        ("c2b_confirmation", "confirming"),
    ]
    assert ("status_result", "paid") in [(k, o) for k, _, o, _, _ in rig.callbacks()]
    [merchant_sms] = rig.sms(MERCHANT_PHONE, about=order["code"])
    assert f"order {order['code']} (Sukuma wiki, INV-42) paid, KES {KES}" in merchant_sms
    [payer_sms] = rig.sms("+" + CUSTOMER, about=trans_id)
    assert f"KES {KES} received from M-Pesa {trans_id} for Sukuma wiki at MAMA MBOGA" in payer_sms
    [(event,)] = rows(
        rig.database,
        "SELECT type FROM merchant_events WHERE merchant_id = %(m)s",
        m=rig.merchant.id,
    )
    assert event == "order.paid"
    rig.settle_for(0.5)  # nothing more happens
    assert len(rig.journal("mpesa_order_payment")) == 1
    assert check_ledger(rig.database).sound


def test_an_order_paid_from_m_pesa_is_listed_with_its_receipt_and_a_masked_phone(rig):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")
    [(trans_id, *_, tx_id)] = order_payments(rig.database)
    keyed = key_for(rig.database, rig.settings, rig.merchant.id)

    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        listed = get(http, keyed, "/api/v1/merchant/payments")
        refused = post(http, keyed, {"payment": listed.json()["payments"][0]["reference"]})

    assert listed.status_code == 200, listed.text
    [payment] = listed.json()["payments"]
    assert payment == {
        "reference": rig.journal("mpesa_order_payment")[0][1],
        "amount": AMOUNT,
        "fee": FEE,
        "net": AMOUNT - FEE,
        "payer": {"name": "Sandbox C.", "phone": "+2547****0777", "stellar_address": None},
        "channel": "mpesa",
        "rail_receipt": trans_id,
        "created_at": payment["created_at"],
    }
    # Written with the order's payment: the same journal transaction, the order's row.
    assert rows(
        rig.database,
        "SELECT transaction_id, order_id, payer_user_id, rail_payer FROM merchant_payments",
    ) == [(tx_id, order["id"], None, "+2547****0777")]
    assert CUSTOMER[3:] not in listed.text  # the whole number is never shown
    # Refunded by its listed reference back through M-Pesa (test_order_mpesa_refunds.py);
    # all of it and its M-Pesa fee are more than the merchant holds: nothing moved.
    assert (refused.status_code, refused.json()["error"]) == (
        409,
        "insufficient_merchant_balance",
    )
    assert rows(rig.database, "SELECT count(*) FROM merchant_refunds") == [(0,)]
    assert merchant_holds(rig.database, rig.merchant.id) == AMOUNT - FEE
    assert order_status(rig.database, order["id"]) == "paid"


def test_the_database_refuses_a_rail_payment_with_a_whole_phone_or_a_wallet_payer(rig, payer):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")
    for change in (
        "rail_payer = '+254712000777'",
        f"payer_user_id = {payer}",
        "rail_receipt = NULL",
        "channel = 'ussd'",
        "order_id = NULL",
        "channel = 'stellar'",
    ):
        refused = pytest.raises(psycopg2.errors.CheckViolation, match="merchant_payments_payer")
        with refused, rig.database.connection() as conn, conn.cursor() as cur:
            cur.execute(f"UPDATE merchant_payments SET {change}")


@pytest.mark.parametrize(
    ("case", "outcome"),
    [
        ("unknown", "invalid_account"),
        ("not a code", "invalid_account"),
        ("expired", "invalid_account"),
        ("canceled", "invalid_account"),
        ("wrong amount", "invalid_amount"),
    ],
)
def test_validation_refuses_a_code_no_order_awaits_and_nothing_is_paid(rig, case, outcome):
    past = datetime.now(UTC) - timedelta(minutes=20) if case == "expired" else None
    order = new_order(rig.database, rig.merchant.id, created_at=past)
    code, kes = order["code"], KES
    if case == "unknown":
        code = "12345674" if order["code"] != "12345674" else "23456781"
    elif case == "not a code":
        code = "INVOICE-9"
    elif case == "canceled":
        orders.cancel(
            UnitOfWork(rig.database), rig.merchant.id, order["id"], "c", datetime.now(UTC)
        )
    else:
        kes = KES - 1
    pay_from_mpesa(rig, code, kes)

    rig.until(lambda: c2b_callbacks(rig))
    rig.settle_for(0.5)
    assert c2b_callbacks(rig) == [("c2b_validation", outcome)]
    assert order_payments(rig.database) == []
    assert rig.journal("mpesa_order_payment") == []


def test_a_paid_order_refuses_a_second_payment_at_validation(rig):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")

    pay_from_mpesa(rig, order["code"], KES, phone="254712000888")
    rig.until(lambda: len(c2b_callbacks(rig)) == 3)
    rig.settle_for(0.5)
    assert c2b_callbacks(rig)[-1] == ("c2b_validation", "invalid_account")
    assert len(rig.journal("mpesa_order_payment")) == 1


# ---- hostile confirmations ------------------------------------------------------------


def post_confirmation(rig, body: object, token: str | None = None) -> httpx.Response:
    token = token or rig.settings.mpesa_callback_token.get_secret_value()
    url = f"{rig.paytrace.url}/callbacks/c2b/confirmation/{token}"
    return httpx.post(url, json=body, timeout=10)


def test_a_forged_confirmation_m_pesa_never_saw_moves_nothing(rig):
    order = new_order(rig.database, rig.merchant.id)
    shortcode = rig.settings.daraja_shortcode
    answer = post_confirmation(rig, c2b_body(order["code"], KES, "UKT0FORGED", shortcode))
    assert answer.status_code == 200

    rig.until(lambda: order_payments(rig.database)[0][3] == "not_found")
    assert order_status(rig.database, order["id"]) == "awaiting_payment"
    assert rig.journal("mpesa_order_payment") == []
    assert float_balance(rig.database) == 0


def test_a_replayed_confirmation_pays_once(rig):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")
    trans_id = order_payments(rig.database)[0][0]
    [delivery] = rig.sandbox.callbacks(trans_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: post_confirmation(rig, delivery["body"]), range(20)))
    rig.settle_for(0.5)

    assert {a.status_code for a in answers} == {200}
    assert len(order_payments(rig.database)) == 1
    assert len(rig.journal("mpesa_order_payment")) == 1
    outcomes = [o for k, o in c2b_callbacks(rig) if k == "c2b_confirmation"]
    assert outcomes.count("duplicate") == 20


def test_a_confirmation_carrying_a_deposits_receipt_is_refused_and_counts_once(callback_rig):
    rig = callback_rig
    # A user's own M-Pesa deposit, paid to PayTrace's paybill and credited to her wallet.
    box, pin_hash = registration_secrets(rig.settings)
    rig.user_id = register_user(rig.database, box, pin_hash, phone=phone_of(3))
    deposit = deposit_settled(rig, AMOUNT, "completed")
    receipt = rig.deposit(deposit)[4]
    order = new_order(rig.database, rig.merchant.id)
    shortcode = rig.settings.daraja_shortcode
    # Its receipt replayed as a paybill payment of an order of the same amount: M-Pesa's
    # status answer would say it happened, to this paybill, for KES 250.
    body = c2b_body(order["code"], KES, receipt, shortcode, phone=phone_of(3)[1:])

    answer = post_confirmation(rig, body)
    rig.settle_for(0.5)

    assert answer.status_code == 200
    assert [o for k, o in c2b_callbacks(rig) if k == "c2b_confirmation"] == ["deposit_receipt"]
    assert order_payments(rig.database) == []
    assert order_status(rig.database, order["id"]) == "awaiting_payment"
    assert rig.journal("mpesa_order_payment") == []
    assert merchant_holds(rig.database, rig.merchant.id) == 0
    assert float_balance(rig.database) == -AMOUNT  # the deposit's, once
    assert check_ledger(rig.database).sound


@pytest.mark.parametrize(
    "body",
    [
        {"TransID": "UKT1234567"},
        {"TransID": "UKT1234567", "TransAmount": "12.50", "BusinessShortCode": "174379"},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_confirmation_is_400_and_moves_nothing(rig, body):
    answer = post_confirmation(rig, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_callback"
    assert c2b_callbacks(rig) == [("c2b_confirmation", "malformed")]
    assert order_payments(rig.database) == []


def test_a_confirmation_with_a_wrong_token_is_refused_and_stored(rig):
    order = new_order(rig.database, rig.merchant.id)
    body = c2b_body(order["code"], KES, "UKT1234567", rig.settings.daraja_shortcode)
    answer = post_confirmation(rig, body, token="not-the-token")
    assert answer.status_code == 403
    assert [(k, v) for k, v, _, _, _ in rig.callbacks()] == [("c2b_confirmation", "token_mismatch")]
    assert order_payments(rig.database) == []


def test_a_confirmation_for_another_paybill_is_not_taken(rig):
    order = new_order(rig.database, rig.merchant.id)
    answer = post_confirmation(rig, c2b_body(order["code"], KES, "UKT1234567", "999999"))
    assert answer.status_code == 200
    assert c2b_callbacks(rig) == [("c2b_confirmation", "wrong_shortcode")]
    assert order_payments(rig.database) == []


# ---- the same order paid at once from a wallet and from M-Pesa -------------------------


@pytest.fixture
def payer(rig):
    box, pin_hash = registration_secrets(rig.settings, "4821")
    user_id = register_user(rig.database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    fund(rig.database, phone_of(1), 1_000_000)
    return user_id


def settled(rig) -> bool:
    """The paybill payment was refused at validation, or has ended (paid, returned)."""
    kinds = [kind for kind, _ in c2b_callbacks(rig)]
    payments = order_payments(rig.database)
    if "c2b_validation" not in kinds:
        return False
    return all(p[3] in ("paid", "returned") for p in payments) and (
        bool(payments) or ("c2b_validation", "accepted") not in c2b_callbacks(rig)
    )


@pytest.mark.parametrize("wallet_delay_s", [0.0, 0.02, 0.05, 0.1])
def test_an_order_paid_at_once_from_a_wallet_and_m_pesa_is_paid_once(rig, payer, wallet_delay_s):
    order = new_order(rig.database, rig.merchant.id)
    funded = float_balance(rig.database)  # the payer's wallet came from the float

    def wallet() -> object:
        time.sleep(wallet_delay_s)
        return pay_from_wallet(rig, payer, order["code"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        paying = pool.submit(wallet)
        pay_from_mpesa(rig, order["code"], KES)
        wallet_result = paying.result()
    rig.until(lambda: settled(rig))

    paid_by_wallet = not isinstance(wallet_result, OrderNotPayable)
    assert order_status(rig.database, order["id"]) == "paid"
    # Exactly one of the two paid the order; the other was refused (the wallet told
    # order_paid or order_in_progress, M-Pesa's validation refused) or returned.
    assert len(rig.journal("merchant_payment")) + len(rig.journal("mpesa_order_payment")) == 1
    assert len(rig.journal("merchant_payment")) == int(paid_by_wallet)
    if not paid_by_wallet:
        assert wallet_result.code in ("order_paid", "order_in_progress")
    assert merchant_holds(rig.database, rig.merchant.id) == AMOUNT - FEE
    assert float_balance(rig.database) == funded - (0 if paid_by_wallet else AMOUNT)
    assert owed_back(rig.database) == 0
    assert check_ledger(rig.database).sound


def test_a_wallet_payer_is_told_a_payment_is_in_progress_while_m_pesa_confirms(rig, payer):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    recorded_unchecked(rig)

    assert pay_from_wallet(rig, payer, order["code"]).code == "order_in_progress"
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")
    assert rig.journal("merchant_payment") == []


def recorded_unchecked(rig) -> list[tuple]:
    """The confirmation recorded by PayTrace's API, the checker not run (the test runs
    it): M-Pesa has the money, PayTrace has not asked about it yet."""
    deadline = time.monotonic() + 5
    while not (found := order_payments(rig.database)):
        assert time.monotonic() < deadline, "no confirmation came"
        time.sleep(0.02)
    return found


def test_a_wallet_payment_first_sends_the_m_pesa_payment_back_never_kept(rig, payer):
    order = new_order(rig.database, rig.merchant.id)
    funded = float_balance(rig.database)
    pay_from_mpesa(rig, order["code"], KES)
    recorded_unchecked(rig)
    # Past the hold M-Pesa's payment put on the order (its checker was down, say).
    paid = pay_from_wallet(rig, payer, order["code"], now=after_the_hold())
    assert paid.order_code == order["code"]

    # Owed back on the books from M-Pesa's first answer until it confirms the reversal.
    rig.until(lambda: order_payments(rig.database)[0][3] != "confirming")
    assert order_payments(rig.database)[0][3] == "returning"
    assert owed_back(rig.database) == AMOUNT
    rig.until(lambda: order_payments(rig.database)[0][3] == "returned")

    [(trans_id, _, _, _, _, tx_id)] = order_payments(rig.database)
    assert tx_id is None and rig.journal("mpesa_order_payment") == []
    [(_, _, owed, _)] = rig.journal("mpesa_owed_back")
    [(_, _, returned, _)] = rig.journal("mpesa_order_returned")
    assert owed == returned == AMOUNT
    assert owed_back(rig.database) == 0 and float_balance(rig.database) == funded
    [sms] = rig.sms("+" + CUSTOMER, about="returned")
    assert f"M-Pesa payment {trans_id} of KES {KES} for account {order['code']}" in sms
    rig.settle_for(0.5)
    assert len(rig.journal("mpesa_order_returned")) == 1
    assert check_ledger(rig.database).sound


def test_a_payment_whose_order_was_canceled_after_validation_goes_back(rig):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    recorded_unchecked(rig)
    orders.cancel(UnitOfWork(rig.database), rig.merchant.id, order["id"], "c", datetime.now(UTC))

    rig.until(lambda: order_payments(rig.database)[0][3] == "returned")
    assert order_status(rig.database, order["id"]) == "canceled"
    assert float_balance(rig.database) == 0 and owed_back(rig.database) == 0


def test_a_reversal_m_pesa_refuses_stays_owed_back_for_an_operator(rig, payer):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    [(trans_id, *_)] = recorded_unchecked(rig)
    assert pay_from_wallet(rig, payer, order["code"], now=after_the_hold()).order_code
    # Someone reversed it at M-Pesa by hand first: PayTrace's reversal is refused.
    answer = rig.sandbox.post(
        "/mpesa/reversal/v1/request",
        reversal_body(rig.sandbox.config, trans_id, KES, "http://127.0.0.1:9/nowhere"),
    )
    assert answer.status_code == 200

    rig.until(lambda: order_payments(rig.database)[0][3] == "review")
    assert owed_back(rig.database) == AMOUNT
    assert rig.journal("mpesa_order_returned") == []
    # ... and the operator sees it on the admin API, owed back, with why.
    token = rig.settings.admin_token.get_secret_value()
    answer = httpx.get(
        f"{rig.paytrace.url}/api/v1/admin/mpesa/held-order-payments",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    [shown] = answer.json()["items"]
    assert (shown["trans_id"], shown["status"], shown["amount"]) == (trans_id, "review", AMOUNT)
    assert shown["result_desc"] == "reversal failed" and shown["owed_transaction_id"]
    assert check_ledger(rig.database).sound


def test_a_forged_reversal_result_moves_nothing(rig, payer):
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": "12345-67890123-1",
            "ConversationID": "AG_20261204_00001234abcd",
            "TransactionID": "ULA1B2C3D4",
        }
    }
    answer = rig.post_callback("reversal/result", body)
    assert answer.status_code == 200
    assert [(k, o) for k, _, o, _, _ in rig.callbacks()] == [("reversal_result", "unknown_request")]
    assert rig.journal("mpesa_order_returned") == []


def test_an_m_pesa_payment_first_refuses_the_wallet(rig, payer):
    order = new_order(rig.database, rig.merchant.id)
    pay_from_mpesa(rig, order["code"], KES)
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")

    refused = pay_from_wallet(rig, payer, order["code"])
    assert isinstance(refused, OrderNotPayable) and refused.code == "order_paid"
    assert rig.journal("merchant_payment") == []


# ---- hostile validations, and the registration command ---------------------------------


def post_validation(rig, body: object, token: str | None = None) -> httpx.Response:
    token = token or rig.settings.mpesa_callback_token.get_secret_value()
    return httpx.post(f"{rig.paytrace.url}/callbacks/c2b/validation/{token}", json=body, timeout=10)


def test_a_malformed_validation_is_400_and_a_wrong_token_403_with_nothing_taken(rig):
    order = new_order(rig.database, rig.merchant.id)
    assert post_validation(rig, {"TransID": "UKT1234567"}).status_code == 400
    body = c2b_body(order["code"], KES, "UKT1234567", rig.settings.daraja_shortcode)
    assert post_validation(rig, body, token="not-the-token").status_code == 403
    assert [(k, v, o) for k, v, o, _, _ in rig.callbacks()] == [
        ("c2b_validation", "token_matched", "malformed"),
        ("c2b_validation", "token_mismatch", "rejected"),
    ]
    assert order_payments(rig.database) == []


def test_the_registration_command_registers_the_paybill_or_says_why_not(rig, capsys):
    assert register_c2b.register(rig.settings) == register_c2b.OK
    shown = capsys.readouterr().out
    assert "/callbacks/c2b/validation/***" in shown and "/callbacks/c2b/confirmation/***" in shown
    assert rig.settings.mpesa_callback_token.get_secret_value() not in shown
    # Daraja refuses a URL with a word it forbids, even inside a random token.
    unlucky = rig.settings.model_copy(update={"mpesa_callback_token": SecretStr("x" * 30 + "sql")})
    assert register_c2b.register(unlucky) == register_c2b.REFUSED


def test_an_order_paid_from_m_pesa_locks_only_the_merchants_first_account(rig, payer):
    """Money from M-Pesa goes to the merchant's shard 0 (migration 0062), locking that
    one alone: a till payer holding another shard does not hold it up, and the
    merchant's notice still tells what every shard holds."""
    paid = pay_at_till(rig.database, payer, 100_00)
    shard = account_paid_by(rig.database, rig.merchant.id, payer)
    assert shard != rig.merchant.account_id  # the payer's shard is not shard 0
    order = new_order(rig.database, rig.merchant.id)

    with held(rig.database, shard):  # a till payment on that shard, mid-way
        pay_from_mpesa(rig, order["code"], KES)
        rig.until(lambda: order_status(rig.database, order["id"]) == "paid")

    total = paid.amount - paid.merchant_fee + AMOUNT - FEE
    assert merchant_holds(rig.database, rig.merchant.id) == total
    [(notice,)] = rows(
        rig.database,
        "SELECT payload->>'message' FROM outbox"
        " WHERE payload->>'template' = 'merchant_order_payment_received'",
    )
    assert f"KES {format_kes(total)}" in notice
    assert check_ledger(rig.database).sound


def pay_at_till(database, payer: int, amount: int):
    request = MerchantPaymentRequest(payer, "512345", amount, "till-first")
    return merchant_payments.pay(UnitOfWork(database), request)
