"""Hostile STK callbacks: forged, truncated, replayed, reordered, and the ?deposit=
hint abused. None of them credits a shilling; each leaves the books as they were, or
(where the callback names a real deposit but not what was asked) holds the deposit
for an operator without crediting it."""

from __future__ import annotations

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.mpesa.deposits import DepositRequest, held_deposits, request_deposit
from tests.security.mpesa_state import books, fault, outcomes
from tests.support.mpesa import mpesa_rig, one, stk_paid_body
from tests.support.wallets import phone_of, register, registration_secrets

KES = 100
JANE, AMINA = phone_of(1), phone_of(2)
MSISDN = JANE.removeprefix("+")


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings)
        rig.user_id = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        rig.amina = register(database, box, pin_hash, phone=AMINA, name="Amina Hassan")
        yield rig


def ask(rig, amount: int, user_id: int | None = None, key: str = "k1") -> str:
    requested = request_deposit(
        UnitOfWork(rig.database),
        DepositRequest(user_id or rig.user_id, amount, key, "api"),
        query_after_s=rig.settings.mpesa_stk_query_after_s,
    )
    return requested.deposit.reference


def pushed_without_callback(rig, amount: int) -> tuple[str, str]:
    """A deposit M-Pesa took (the sandbox pays it but sends no callback)."""
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    reference = ask(rig, amount)
    return reference, rig.until(lambda: rig.deposit(reference)[1])


def lose_push_answer(rig, reference: str) -> None:
    """As if the push went out and the worker died before Daraja's answer came back."""
    with UnitOfWork(rig.database) as uow:
        uow.conn.cursor().execute(
            "UPDATE outbox SET status = 'unknown' WHERE dedupe_key = %(k)s",
            {"k": f"mpesa:stk:{reference}"},
        )
        uow.conn.cursor().execute(
            "UPDATE mpesa_deposits SET status = 'unknown' WHERE reference = %(r)s",
            {"r": reference},
        )
        uow.commit()


def without(body: dict, name: str) -> dict:
    metadata = body["Body"]["stkCallback"]["CallbackMetadata"]
    metadata["Item"] = [item for item in metadata["Item"] if item["Name"] != name]
    return body


# ---- truncated: a paid result must name amount, receipt and phone ----------------------


def test_a_paid_callback_without_metadata_credits_nothing_and_holds_the_deposit(rig):
    fault(rig, api="stk_callback", fault="no_metadata")  # the sandbox strips it
    reference = ask(rig, 500 * KES)

    rig.until(lambda: rig.deposit(reference)[0] == "disputed")
    rig.settle_for(1.0)  # the checker runs too: nothing credits it later

    assert rig.journal("deposit") == []
    assert outcomes(rig, "stk") == ["missing_metadata"]
    reason = one(rig.database, "SELECT result_desc FROM mpesa_deposits")[0]
    assert reason == "a paid callback without Amount, MpesaReceiptNumber, PhoneNumber"
    [held] = held_deposits(UnitOfWork(rig.database))
    assert (held.reference, held.status, held.result_desc) == (reference, "disputed", reason)
    # ... and the operator sees it, with the reason, on the admin API
    token = rig.settings.admin_token.get_secret_value()
    answer = httpx.get(
        f"{rig.paytrace.url}/api/v1/admin/mpesa/held-deposits",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    [shown] = answer.json()["items"]
    assert (shown["reference"], shown["status"], shown["amount"]) == (reference, "disputed", 50000)
    assert shown["result_desc"] == reason and shown["receipt"] is None


@pytest.mark.parametrize("missing", ["Amount", "MpesaReceiptNumber", "PhoneNumber"])
def test_a_paid_callback_missing_one_item_credits_nothing(rig, missing):
    reference, checkout = pushed_without_callback(rig, 100 * KES)
    body = without(stk_paid_body(checkout, 100, MSISDN), missing)

    assert rig.post_callback("stk", body).status_code == 200

    assert rig.deposit(reference)[0] == "disputed" and rig.journal("deposit") == []
    assert outcomes(rig, "stk") == ["missing_metadata"]


def test_a_body_cut_short_is_400_and_changes_nothing(rig):
    _, checkout = pushed_without_callback(rig, 100 * KES)
    before = books(rig.database)
    whole = httpx.Request("POST", "/", json=stk_paid_body(checkout, 100, MSISDN)).content
    for cut in (len(whole) // 2, len(whole) - 1, 10):
        answer = httpx.post(rig.callback_url("stk"), content=whole[:cut])
        assert answer.status_code == 400 and answer.json()["error"] == "malformed_callback"
    assert books(rig.database) == before
    assert outcomes(rig, "stk") == ["malformed"] * 3


# ---- forged: a callback's word is confirmed with M-Pesa before money moves -------------


def test_a_forged_paid_callback_credits_nothing_when_m_pesa_says_otherwise(rig):
    rig.sandbox.scenario(phone=MSISDN, result="cancelled", callback="none", api="stk")
    reference = ask(rig, 200 * KES)
    checkout = rig.until(lambda: rig.deposit(reference)[1])
    # Everything a real paid callback carries, and right: only M-Pesa can say it is false.
    forged = stk_paid_body(checkout, 200, MSISDN, receipt="UKTFORGED1")

    assert rig.post_callback("stk", forged).status_code == 200
    assert rig.deposit(reference)[0] == "confirming" and rig.journal("deposit") == []

    rig.until(lambda: rig.deposit(reference)[0] == "disputed")  # M-Pesa: 1032, cancelled
    rig.settle_for(0.5)
    assert rig.journal("deposit") == []
    assert outcomes(rig, "stk") == ["confirming"]


def test_a_wrong_token_changes_nothing(rig):
    _, checkout = pushed_without_callback(rig, 100 * KES)
    before = books(rig.database)
    for token in (
        "",
        "x",
        "not-the-token",
        rig.settings.mpesa_callback_token.get_secret_value()[:-1],
    ):
        answer = httpx.post(
            f"{rig.paytrace.url}/callbacks/mpesa/stk/{token}",
            json=stk_paid_body(checkout, 100, MSISDN),
        )
        assert answer.status_code in (403, 404, 405)
    assert books(rig.database) == before and rig.journal("deposit") == []


def test_a_callback_for_a_checkout_nobody_asked_for_changes_nothing(rig):
    pushed_without_callback(rig, 100 * KES)
    before = books(rig.database)
    assert rig.post_callback("stk", stk_paid_body("ws_CO_FORGED", 100, MSISDN)).status_code == 200
    assert books(rig.database) == before
    assert outcomes(rig, "stk") == ["unknown_request"]


# ---- the ?deposit= hint ---------------------------------------------------------------


def test_the_hint_never_binds_a_deposit_whose_push_was_never_sent(rig):
    reference = ask(rig, 100 * KES)  # the worker has not run: no push went out
    before = books(rig.database)

    body = stk_paid_body("ws_CO_FORGED_1", 100, MSISDN)
    assert rig.post_callback("stk", body, f"?deposit={reference}").status_code == 200

    assert books(rig.database) == before
    assert outcomes(rig, "stk") == ["hint_refused"]
    assert rig.deposit(reference)[:2] == ("requested", None)


def test_the_hint_never_binds_a_deposit_already_bound(rig):
    reference, checkout = pushed_without_callback(rig, 100 * KES)
    before = books(rig.database)

    body = stk_paid_body("ws_CO_FORGED_2", 100, MSISDN)
    rig.post_callback("stk", body, f"?deposit={reference}")

    assert books(rig.database) == before and rig.deposit(reference)[1] == checkout
    assert outcomes(rig, "stk") == ["hint_refused"]


def test_the_hint_never_binds_another_users_lost_deposit(rig):
    theirs = ask(rig, 100 * KES, user_id=rig.amina, key="amina")
    lose_push_answer(rig, theirs)
    before = books(rig.database)

    # Jane's phone in the metadata, Amina's deposit in the hint.
    body = stk_paid_body("ws_CO_FORGED_3", 100, MSISDN)
    rig.post_callback("stk", body, f"?deposit={theirs}")

    assert books(rig.database) == before
    assert outcomes(rig, "stk") == ["hint_refused"]


def test_the_hint_never_binds_an_unpaid_result(rig):
    reference = ask(rig, 100 * KES)
    lose_push_answer(rig, reference)
    before = books(rig.database)
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1-2-3",
                "CheckoutRequestID": "ws_CO_FORGED_4",
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    rig.post_callback("stk", body, f"?deposit={reference}")
    assert books(rig.database) == before
    assert outcomes(rig, "stk") == ["hint_refused"]


# ---- replayed and reordered -------------------------------------------------------------


def test_a_replayed_callback_after_the_credit_changes_nothing(rig):
    reference = ask(rig, 300 * KES)
    checkout = rig.until(lambda: (d := rig.deposit(reference))[0] == "completed" and d[1])
    [delivery] = [d for d in rig.sandbox.callbacks(checkout) if d["kind"] == "stk_callback"]
    before = books(rig.database)

    for _ in range(5):
        assert rig.post_callback("stk", delivery["body"]).status_code == 200
    rig.settle_for(0.5)

    assert books(rig.database) == before and len(rig.journal("deposit")) == 1
    assert outcomes(rig, "stk")[-5:] == ["duplicate"] * 5


def test_a_failure_arriving_after_the_credit_changes_nothing(rig):
    reference = ask(rig, 300 * KES)
    checkout = rig.until(lambda: (d := rig.deposit(reference))[0] == "completed" and d[1])
    before = books(rig.database)
    late = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1-2-3",
                "CheckoutRequestID": checkout,
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    rig.post_callback("stk", late)
    rig.settle_for(0.5)
    assert books(rig.database) == before
    assert outcomes(rig, "stk")[-1] == "duplicate"


def test_a_paid_callback_after_m_pesa_said_failed_changes_nothing(rig):
    rig.sandbox.scenario(phone=MSISDN, result="cancelled", callback="none", api="stk")
    reference = ask(rig, 100 * KES)
    rig.until(lambda: rig.deposit(reference)[0] == "failed")  # the STK query said 1032
    checkout = rig.deposit(reference)[1]
    before = books(rig.database)

    rig.post_callback("stk", stk_paid_body(checkout, 100, MSISDN))
    rig.settle_for(0.5)

    assert books(rig.database) == before  # still failed; flagged on the stored callback
    assert outcomes(rig, "stk") == ["conflict"]
