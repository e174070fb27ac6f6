"""Bills and airtime over REST as the PWA pays them, against the local AT Airtime sandbox
over real HTTP: the billers, an account checked, a quote, a top-up for another number
paid with the PIN (202, then delivered by AT's verified status callback), the SMS with
its receipt, replays, another user's payment not found, and a Paybill biller refused
before anything is held."""

from __future__ import annotations

import time

import pytest

from tests.support import seeds
from tests.support.pwa import Pwa
from tests.support.wallets import fund, phone_of

KES = 100
JANE, AMINA = phone_of(1), phone_of(2)
MOTHER = "+254711000201"
PIN = "4821"
AIRTIME = "airtime_safaricom"


@pytest.fixture
def jane(pwa, database):
    tokens = pwa.register(JANE, "Jane Wanjiku", PIN)
    fund(database, JANE, 1_000 * KES)
    return tokens


def call(pwa, method: str, path: str, tokens, body=None, key: str | None = None):
    headers = Pwa.bearer(tokens) | ({"Idempotency-Key": key} if key else {})
    return pwa.http.request(method, path, json=body, headers=headers)


def until(check, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)
    return value


def test_airtime_for_another_number_over_rest(pwa, jane):
    billers = call(pwa, "GET", "/bills/billers", jane).json()
    assert [b["code"] for b in billers] == [b.code for b in seeds.billers()]
    # M-Pesa is on here (its local sandbox): Paybill billers are payable too.
    assert all(b["payable"] for b in billers)
    checked = call(
        pwa, "POST", "/bills/validate", jane, {"biller": AIRTIME, "account": "0711000201"}
    )
    assert checked.json() == {
        "biller": AIRTIME,
        "account": MOTHER,
        "holder_name": None,
        "looked_up": False,
    }
    fee = seeds.fee("airtime", 100 * KES)
    body = {"biller": AIRTIME, "account": "0711000201", "amount": 100 * KES}
    quote = call(pwa, "POST", "/bills/quote", jane, body).json()
    assert (quote["fee"], quote["total"], quote["balance"]) == (fee, 100 * KES + fee, 1_000 * KES)

    paid = call(pwa, "POST", "/bills/payments", jane, body | {"pin": PIN}, key="air-1")
    assert paid.status_code == 202, paid.text
    payment = paid.json()
    assert (payment["status"], payment["balance"]) == ("pending", 900 * KES - fee)
    replay = call(pwa, "POST", "/bills/payments", jane, body | {"pin": PIN}, key="air-1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json()["id"] == payment["id"]
    other = body | {"amount": 50 * KES, "pin": PIN}
    conflict = call(pwa, "POST", "/bills/payments", jane, other, key="air-1")
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_key_reused"

    pwa.deliver_sms()  # the worker sends the top-up; AT's callback is checked with AT
    path = f"/bills/payments/{payment['id']}"
    done = until(lambda: (p := call(pwa, "GET", path, jane).json())["status"] == "delivered" and p)
    assert done["receipt"]
    pwa.deliver_sms()
    [sms] = [text for text in pwa.inbox(JANE) if payment["id"] in text]
    assert done["receipt"] in sms and "Airtime Safaricom" in sms

    page = call(pwa, "GET", "/bills/payments?limit=1", jane).json()
    assert [p["id"] for p in page["items"]] == [payment["id"]] and page["next_cursor"] is None
    assert call(pwa, "GET", "/wallet", jane).json()["balance"] == 900 * KES - fee
    [line] = call(pwa, "GET", "/wallet/transactions?type=bill_hold", jane).json()["items"]
    assert (line["id"], line["direction"], line["amount"], line["fee"], line["note"]) == (
        payment["id"],
        "out",
        100 * KES + fee,
        fee,
        "Airtime Safaricom",
    )

    amina = pwa.register(AMINA, "Amina Hassan", PIN)
    assert call(pwa, "GET", path, amina).status_code == 404


def test_bad_bills_are_refused_and_hold_nothing(pwa, jane):
    kplc = seeds.biller("kplc_prepaid")
    meter = "1" * kplc.rule.min_length
    refusals = [
        (
            {"biller": "nobody", "account": meter, "amount": kplc.min_amount},
            404,
            "biller_not_found",
        ),
        ({"biller": kplc.code, "account": "12", "amount": kplc.min_amount}, 422, "invalid_account"),
        (
            {"biller": kplc.code, "account": meter, "amount": kplc.min_amount - KES},
            422,
            "invalid_amount",
        ),
        (
            {"biller": AIRTIME, "account": "+254733123456", "amount": 10 * KES},
            422,
            "not_on_network",
        ),
    ]
    for n, (body, code, error) in enumerate(refusals):
        answer = call(pwa, "POST", "/bills/payments", jane, body | {"pin": PIN}, key=f"bad-{n}")
        assert (answer.status_code, answer.json()["error"]) == (code, error), body
    assert call(pwa, "GET", "/bills/payments", jane).json()["items"] == []
    assert call(pwa, "GET", "/wallet", jane).json()["balance"] == 1_000 * KES
