"""The admin API's bill reversal over real HTTP: 201 once, the same request again 200
with the same reversal, another body 409, and every refusal a 4xx JSON body with the
audit row saying who asked and why."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.bills import journal_kinds, rows
from tests.support.promotions import airtime_rule, deliver, fund_promotions, hold_bill
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100
BODY = {"refund_reference": "SAF-REV-2026-9", "reason": "airtime reversed by Safaricom"}


@pytest.fixture
def admin(live_server, live_settings) -> Iterator[httpx.Client]:
    assert live_settings.admin_token is not None
    with httpx.Client(
        base_url=live_server.url + "/api/v1/admin",
        headers={"Authorization": f"Bearer {live_settings.admin_token.get_secret_value()}"},
        timeout=10,
    ) as client:
        yield client


def test_an_operator_reverses_a_delivered_bill_once_over_http(admin, live_settings, clean_database):
    db = clean_database
    box, pin_hash = registration_secrets(live_settings)
    user = register(db, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku")
    fund(db, phone_of(1), 1_000 * KES)
    airtime_rule(db, rate_bp=200, cap=100 * KES)
    fund_promotions(db, 100 * KES)
    held = hold_bill(live_settings, db, user, phone_of(1), 500 * KES)
    open_bill = hold_bill(live_settings, db, user, phone_of(1), 100 * KES)
    assert admin.post(f"/bills/{held}/reverse", json=BODY).json()["error"] == "not_reversible"
    deliver(db, held)

    first = admin.post(f"/bills/{held}/reverse", json=BODY)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["bill"], body["amount"], body["fee"]) == (held, 500 * KES, 0)
    assert (body["refunded"], body["cashback_returned"], body["replayed"]) == (
        490 * KES, 10 * KES, False,
    )  # fmt: skip
    again = admin.post(f"/bills/{held}/reverse", json=BODY)
    assert again.status_code == 200 and again.json() == {**body, "replayed": True}
    other = admin.post(f"/bills/{held}/reverse", json={**BODY, "reason": "something else"})
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    assert wallet_balance(db, user) == 1_000 * KES - 100 * KES  # the open bill still held
    assert journal_kinds(db, "bill_reversal") == ["bill_reversal"] and check_ledger(db).sound
    audit = rows(
        db,
        "SELECT reason, target_id, outcome FROM admin_audit"
        " WHERE action = 'reverse_bill' ORDER BY id",
    )
    assert audit == [
        (BODY["reason"], held, "refused"),  # still held
        (BODY["reason"], held, "done"),
        (BODY["reason"], held, "done"),  # the replay
        ("something else", held, "refused"),
    ]

    refusals = [
        (f"/bills/{open_bill}/reverse", BODY, 409, "not_reversible"),
        ("/bills/ZZZZZZZZZZ/reverse", BODY, 404, "not_found"),
        ("/bills/TOOLONGREFERENCE/reverse", BODY, 422, "validation_failed"),
        (f"/bills/{open_bill}/reverse", {**BODY, "refund_reference": "a b"}, 422,
         "invalid_refund_reference"),
        (f"/bills/{open_bill}/reverse", {**BODY, "reason": " "}, 422, "invalid_reason"),
        (f"/bills/{open_bill}/reverse", {"reason": "no refund"}, 422, "validation_failed"),
        (f"/bills/{open_bill}/reverse", {**BODY, "amount": 1}, 422, "validation_failed"),
        (f"/bills/{open_bill}/reverse", {**BODY, "refund_reference": 7}, 422,
         "validation_failed"),
    ]  # fmt: skip
    for url, json, status, code in refusals:
        answer = admin.post(url, json=json)
        assert (answer.status_code, answer.json()["error"]) == (status, code), (url, json)
        assert answer.json()["detail"]
    answer = admin.post(f"/bills/{open_bill}/reverse", content=b"{", headers={})
    assert answer.status_code in (400, 422) and "error" in answer.json()
    anonymous = httpx.post(admin.base_url.join(f"bills/{held}/reverse"), json=BODY, timeout=10)
    assert anonymous.status_code == 401
    assert journal_kinds(db, "bill_reversal") == ["bill_reversal"]
