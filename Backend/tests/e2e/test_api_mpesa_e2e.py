"""Deposits and withdrawals over REST as the PWA makes them, against PayTrace's local
Daraja sandbox over real HTTP: 202 then the status by GET, Idempotency-Key replays,
cents refused, another user's deposit not found."""

from __future__ import annotations

import time

import pytest

from tests.support.mpesa import mpesa_rig
from tests.support.pwa import Pwa
from tests.support.wallets import phone_of

KES = 100
JANE, AMINA = phone_of(1), phone_of(2)
PIN = "4821"


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        pwa = Pwa(rig.paytrace.url, rig.settings, database)
        rig.pwa = pwa
        rig.jane = pwa.register(JANE, "Jane Wanjiku", PIN)
        yield rig
        pwa.close()


def post(rig, path: str, body: dict, key: str, tokens=None):
    headers = {**Pwa.bearer(tokens or rig.jane), "Idempotency-Key": key}
    return rig.pwa.http.post(path, json=body, headers=headers)


def get(rig, path: str, tokens=None):
    return rig.pwa.http.get(path, headers=Pwa.bearer(tokens or rig.jane))


def test_a_deposit_then_a_withdrawal_over_rest(rig):
    asked = post(rig, "/deposits", {"amount": 800 * KES}, "dep-1")
    assert asked.status_code == 202, asked.text
    deposit = asked.json()
    assert (deposit["status"], deposit["amount"], deposit["phone"]) == ("pending", 80_000, JANE)
    again = post(rig, "/deposits", {"amount": 800 * KES}, "dep-1")
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == deposit["id"]

    done = rig.until(
        lambda: (d := get(rig, f"/deposits/{deposit['id']}").json())["status"] == "completed" and d
    )
    assert done["mpesa_receipt"] and done["result"]
    assert get(rig, "/wallet").json()["balance"] == 800 * KES

    quote = get(rig, "/withdrawals/quote?amount=50000").json()
    assert quote == {"amount": 50_000, "fee": 1_500, "total": 51_500, "balance": 80_000}
    taken = post(rig, "/withdrawals", {"amount": 500 * KES, "pin": PIN}, "wd-1")
    assert taken.status_code == 202, taken.text
    withdrawal = taken.json()
    assert (withdrawal["status"], withdrawal["total"], withdrawal["balance"]) == (
        "pending",
        51_500,
        28_500,
    )
    replay = post(rig, "/withdrawals", {"amount": 500 * KES, "pin": PIN}, "wd-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == withdrawal["id"]
    conflict = post(rig, "/withdrawals", {"amount": 400 * KES, "pin": PIN}, "wd-1")
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_key_reused"

    finished = rig.until(
        lambda: (
            (w := get(rig, f"/withdrawals/{withdrawal['id']}").json())["status"] == "completed"
            and w
        )
    )
    assert finished["mpesa_receipt"]
    history = get(rig, "/wallet/transactions").json()["items"]
    assert [(i["type"], i["direction"], i["amount"], i["fee"]) for i in history[:2]] == [
        ("withdrawal", "out", 51_500, 1_500),
        ("deposit", "in", 80_000, 0),
    ]


def test_cents_wrong_pins_and_other_users_records_are_refused(rig):
    cents = post(rig, "/deposits", {"amount": 10_050}, "c1")
    assert cents.status_code == 422 and cents.json()["error"] == "invalid_amount"
    small = post(rig, "/withdrawals", {"amount": 500, "pin": PIN}, "c2")
    assert small.status_code == 422 and small.json()["error"] == "invalid_amount"
    poor = post(rig, "/withdrawals", {"amount": 100 * KES, "pin": PIN}, "c3")
    assert poor.status_code == 422 and poor.json()["error"] == "insufficient_funds"
    wrong = post(rig, "/withdrawals", {"amount": 100 * KES, "pin": "1111"}, "c4")
    assert wrong.status_code == 401 and wrong.json()["error"] == "wrong_pin"

    deposit = post(rig, "/deposits", {"amount": 100 * KES}, "c5").json()
    amina = rig.pwa.register(AMINA, "Amina Otieno", "5937")
    assert get(rig, f"/deposits/{deposit['id']}", tokens=amina).status_code == 404
    assert get(rig, "/withdrawals/ABCDEFGHJK").status_code == 404
    assert get(rig, "/deposits/not-an-id").status_code == 422


def processed(callbacks: list[tuple]) -> list[tuple]:
    return [callback for callback in callbacks if callback[2] != "received"]


def test_a_deposit_called_back_is_pending_until_m_pesa_confirms_it(rig):
    deposit = post(rig, "/deposits", {"amount": 300 * KES}, "dep-c").json()
    deadline = time.monotonic() + 10
    # Only the outbox worker runs: the push goes out and its callback comes back (and is
    # processed: it is stored 'received' first).
    while not processed(rig.callbacks()) and time.monotonic() < deadline:
        rig.worker.run_once()
        time.sleep(0.05)
    assert [outcome for _, _, outcome, _, _ in rig.callbacks()] == ["confirming"]
    internal = rig.deposit(deposit["id"])[0]
    assert internal == "confirming"
    assert get(rig, f"/deposits/{deposit['id']}").json()["status"] == "pending"
    assert get(rig, "/wallet").json()["balance"] == 0  # the callback alone credits nothing

    rig.until(lambda: get(rig, f"/deposits/{deposit['id']}").json()["status"] == "completed")
    assert get(rig, "/wallet").json()["balance"] == 300 * KES
