"""Merchant payouts to M-Pesa over real HTTP: the signed merchant API (and the admin
API) on PayTrace, the B2C request through the outbox to the local Daraja sandbox, its
result, the status query that confirms it, to the one payout or the one release - the
withdrawals' very machinery with a merchant's account as the source. Never below zero,
never paid twice, a day's payout made once."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import PayoutRefused
from app.services import merchant_refunds, merchants
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.mpesa import merchant_payouts
from app.worker.merchant_payouts import DailyPayoutJob
from tests.support.merchants import Keyed, fresh_timestamp, keyed_merchant, signed_request
from tests.support.mpesa import mpesa_rig, one, rows
from tests.support.wallets import check_ledger, fund, phone_of, register, registration_secrets

KES = 100
PATH = "/api/v1/merchant/payouts"
TILL = "512345"
PAYOUT_MSISDN = "254711000102"  # tests/support/merchants.py: the payout phone
CONTACT = "+254711000101"
PAID_IN = 5_000 * KES  # Jane pays the till this; the merchant's fee is 0.5 %
HELD = PAID_IN - 25 * KES  # what the merchant's account holds


@pytest.fixture
def rig(live_settings, clean_database, tmp_path):
    with mpesa_rig(live_settings, clean_database, tmp_path) as rig:
        rig.shop = keyed_merchant(clean_database, rig.settings, till=TILL)
        box, pin_hash = registration_secrets(rig.settings, "4821")
        rig.jane = register(clean_database, box, pin_hash, phone=phone_of(1), name="Jane")
        fund(clean_database, phone_of(1), 10_000 * KES)
        rig.payment = merchant_payments.pay(
            UnitOfWork(clean_database), MerchantPaymentRequest(rig.jane, TILL, PAID_IN, "p1")
        )
        assert balance(rig) == HELD
        yield rig


def post(rig, keyed: Keyed, body: dict, key: str | None = None) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key or uuid.uuid4().hex}
    t = fresh_timestamp(keyed.key_id, "POST", PATH, raw)
    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        return signed_request(http, keyed, "POST", PATH, raw, timestamp=t, headers=headers)


def get(rig, keyed: Keyed, path: str) -> httpx.Response:
    t = fresh_timestamp(keyed.key_id, "GET", path)
    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        return signed_request(http, keyed, "GET", path, timestamp=t)


def balance(rig) -> int:
    found = merchants.get(UnitOfWork(rig.database), rig.shop.merchant_id)
    assert found is not None
    return found.balance


def ended(rig, payout_id: str, status: str) -> dict:
    def read():
        shown = get(rig, rig.shop, f"{PATH}/{payout_id}").json()
        return shown if shown["status"] == status else None

    return rig.until(read)


def events(rig, event_type: str) -> list[dict]:
    found = rows(
        rig.database,
        "SELECT payload FROM merchant_events WHERE type = %(t)s ORDER BY id",
        t=event_type,
    )
    return [payload for (payload,) in found]


def test_a_payout_is_held_at_once_then_paid_on_m_pesas_confirmed_word(rig):
    made = post(rig, rig.shop, {"amount": 3_000 * KES})

    assert made.status_code == 201, made.text
    payout = made.json()
    assert (payout["status"], payout["amount"], payout["fee"]) == ("pending", 300_000, 2_500)
    assert (payout["phone"], payout["origin"]) == ("+" + PAYOUT_MSISDN, "request")
    assert balance(rig) == HELD - 300_000 - 2_500  # held at once

    paid = ended(rig, payout["id"], "paid")

    assert paid["mpesa_receipt"] and paid["failure_reason"] is None
    assert balance(rig) == HELD - 302_500
    assert len(rig.journal("withdrawal_payout")) == 1 and rig.journal("withdrawal_release") == []
    # The result alone paid nothing out: M-Pesa's status answer confirmed it.
    assert [(k, o) for k, _, o, _, _ in rig.callbacks()] == [
        ("b2c_result", "confirming"),
        ("status_result", "paid"),
    ]
    [event] = events(rig, "payout.paid")
    assert (event["id"], event["status"], event["amount"]) == (payout["id"], "paid", 300_000)
    [sms] = rig.sms(CONTACT, about="payout")
    assert "MAMA MBOGA payout of KES 3,000 sent to M-Pesa +2547" in sms
    assert f"Till balance KES {(HELD - 302_500) // KES:,}." in sms
    listed = get(rig, rig.shop, PATH).json()
    assert [p["id"] for p in listed["payouts"]] == [payout["id"]]
    assert check_ledger(rig.database).sound


def test_a_failed_payout_releases_the_amount_and_fee_back_to_the_merchant(rig):
    rig.sandbox.scenario(phone=PAYOUT_MSISDN, result="insufficient_funds", api="b2c")
    payout = post(rig, rig.shop, {"amount": "all"}).json()
    # All available: the largest whole-shilling amount whose fee fits with it.
    assert (payout["amount"], payout["fee"], balance(rig)) == (HELD - 2_500, 2_500, 0)

    failed = ended(rig, payout["id"], "failed")

    assert failed["failure_reason"]
    assert balance(rig) == HELD
    assert len(rig.journal("withdrawal_release")) == 1 and rig.journal("withdrawal_payout") == []
    assert [e["id"] for e in events(rig, "payout.failed")] == [payout["id"]]
    assert events(rig, "payout.paid") == []
    assert rig.sms(CONTACT, about="payout") == []
    assert check_ledger(rig.database).sound


def test_a_payout_never_takes_the_account_below_zero(rig):
    too_much = post(rig, rig.shop, {"amount": HELD})  # its fee does not fit
    assert (too_much.status_code, too_much.json()["error"]) == (
        409,
        "insufficient_merchant_balance",
    )
    bad = post(rig, rig.shop, {"amount": 1_050})  # not whole shillings
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_amount")
    assert balance(rig) == HELD and rows(rig.database, "SELECT id FROM mpesa_withdrawals") == []


def test_a_payout_and_a_refund_at_once_cannot_overdraw_the_account(rig):
    now = datetime.now(UTC)

    def pay_out():
        return merchant_payouts.request_payout(
            UnitOfWork(rig.database),
            rig.shop.merchant_id,
            "race-payout",
            3_000 * KES,  # with its fee and the refund's 4,000, more than HELD: one fits
            result_wait_s=rig.settings.mpesa_result_wait_s,
            now=now,
        )

    def refund():
        ask = merchant_refunds.RefundAsk(rig.payment.reference, 4_000 * KES)
        return merchant_refunds.refund(
            UnitOfWork(rig.database), rig.shop.merchant_id, "race-refund", ask, now
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(pay_out), pool.submit(refund)]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result().status)
        except Exception as exc:  # the loser is refused: not enough left for it
            outcomes.append(exc.code)  # type: ignore[attr-defined]

    assert sorted(outcomes, key=str) in (
        [201, "insufficient_merchant_balance"],
        ["insufficient_merchant_balance", 201],
    )
    assert balance(rig) >= 0
    assert check_ledger(rig.database).sound


def test_the_same_request_makes_one_payout_and_another_body_is_refused(rig):
    first = post(rig, rig.shop, {"amount": 1_000 * KES}, key="payout-1")
    again = post(rig, rig.shop, {"amount": 1_000 * KES}, key="payout-1")
    other = post(rig, rig.shop, {"amount": 2_000 * KES}, key="payout-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    assert one(rig.database, "SELECT count(*) FROM merchant_payouts")[0] == 1
    assert balance(rig) == HELD - 100_000 - 1_500


def test_a_callback_alone_moves_no_money(rig):
    payout = post(rig, rig.shop, {"amount": 1_000 * KES}).json()
    originator = one(rig.database, "SELECT originator_conversation_id FROM mpesa_withdrawals")[0]
    forged = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": originator,
            "ConversationID": "AG_20261204_forged",
            "TransactionID": "UKT3Q8XSZ9",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "TransactionAmount", "Value": 1_000},
                    {"Key": "TransactionReceipt", "Value": "UKT3Q8XSZ9"},
                ]
            },
        }
    }

    assert rig.post_callback("b2c/result", forged).status_code == 200

    assert [o for _, _, o, _, _ in rig.callbacks()] == ["confirming"]
    assert rig.journal("withdrawal_payout") == [] and events(rig, "payout.paid") == []
    shown = get(rig, rig.shop, f"{PATH}/{payout['id']}").json()
    assert shown["status"] == "pending"
    # M-Pesa's own answer then pays it once.
    ended(rig, payout["id"], "paid")
    assert len(rig.journal("withdrawal_payout")) == 1


def test_the_daily_run_pays_each_daily_merchant_once_a_day_however_often_it_runs(rig):
    manual = keyed_merchant(rig.database, rig.settings, till="612345")
    merchants.update(
        UnitOfWork(rig.database),
        manual.merchant_id,
        merchants.Changes(payout_schedule="on_request"),
    )
    merchant_payments.pay(
        UnitOfWork(rig.database), MerchantPaymentRequest(rig.jane, "612345", 1_000 * KES, "p2")
    )
    job = DailyPayoutJob(rig.database, result_wait_s=rig.settings.mpesa_result_wait_s)

    with ThreadPoolExecutor(max_workers=2) as pool:
        made = list(pool.map(lambda _: job.run_once(), range(2)))
    assert job.run_once() == 0  # and a restart later the same day

    assert sum(made) == 1
    [(merchant_id, origin, day)] = rows(
        rig.database, "SELECT merchant_id, origin, payout_day FROM merchant_payouts"
    )
    assert (merchant_id, origin) == (rig.shop.merchant_id, "daily")
    assert balance(rig) == 0  # all available went
    [payout] = get(rig, rig.shop, PATH).json()["payouts"]
    assert payout["payout_day"] == day.isoformat()
    ended(rig, payout["id"], "paid")
    assert len(rig.journal("withdrawal_payout")) == 1
    assert check_ledger(rig.database).sound


def daily_payouts(rig) -> list[tuple[int, int]]:
    """(amount, fee) of each daily payout made."""
    return rows(
        rig.database,
        "SELECT w.amount, w.fee FROM merchant_payouts p"
        " JOIN mpesa_withdrawals w ON w.id = p.withdrawal_id WHERE p.origin = 'daily'",
    )


def test_a_daily_payout_leaves_the_minimum_to_keep_in_the_account(rig):
    keep = 1_000 * KES
    merchants.update(
        UnitOfWork(rig.database),
        rig.shop.merchant_id,
        merchants.Changes(payout_keep_cents=keep),
    )
    job = DailyPayoutJob(rig.database, result_wait_s=rig.settings.mpesa_result_wait_s)

    assert job.run_once() == 1
    assert job.run_once() == 0  # still one a day

    [(amount, fee)] = daily_payouts(rig)
    # All above the minimum went (the largest whole-shilling amount whose fee fits).
    assert amount + fee <= HELD - keep
    assert HELD - keep - (amount + fee) < KES
    assert balance(rig) >= keep
    [payout] = get(rig, rig.shop, PATH).json()["payouts"]
    ended(rig, payout["id"], "paid")
    assert balance(rig) == HELD - amount - fee
    assert check_ledger(rig.database).sound


def test_no_daily_payout_below_the_threshold_nor_when_the_minimum_takes_it_all(rig):
    job = DailyPayoutJob(rig.database, result_wait_s=rig.settings.mpesa_result_wait_s)
    spare = 500 * KES  # the threshold is this above what is available over the minimum

    def configure(keep: int, threshold: int) -> None:
        merchants.update(
            UnitOfWork(rig.database),
            rig.shop.merchant_id,
            merchants.Changes(payout_keep_cents=keep, payout_threshold_cents=threshold),
        )

    configure(1_000 * KES, HELD - 1_000 * KES + spare)
    assert job.run_once() == 0
    configure(HELD + 1, 0)  # keeping more than the account holds: never below zero
    assert job.run_once() == 0
    assert (daily_payouts(rig), balance(rig)) == ([], HELD)

    # At the threshold exactly, the payout is made.
    configure(1_000 * KES, HELD - 1_000 * KES)
    assert job.run_once() == 1
    [(amount, fee)] = daily_payouts(rig)
    assert amount + fee <= HELD - 1_000 * KES
    assert check_ledger(rig.database).sound


def test_an_operator_pays_a_merchant_out(rig):
    token = rig.settings.admin_token.get_secret_value()
    path = f"/api/v1/admin/merchants/{rig.shop.merchant_id}/payouts"
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": "op-1",
        "X-Audit-Reason": "merchant asked by phone",
    }
    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        made = http.post(path, json={"amount": 500 * KES}, headers=headers)
        again = http.post(path, json={"amount": 500 * KES}, headers=headers)
        broke = http.post(
            path, json={"amount": 250_000 * KES}, headers={**headers, "Idempotency-Key": "op-2"}
        )

    assert made.status_code == 201, made.text
    assert (made.json()["origin"], again.json()) == ("admin", made.json())
    assert (broke.status_code, broke.json()["error"]) == (409, "insufficient_merchant_balance")
    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        nobody = http.post(
            "/api/v1/admin/merchants/999999/payouts", json={"amount": "all"}, headers=headers
        )
    assert (nobody.status_code, nobody.json()["error"]) == (404, "not_found")
    ended(rig, made.json()["id"], "paid")


def test_nothing_to_pay_out_is_refused_clearly(rig):
    def pay_all(key: str):
        return merchant_payouts.request_payout(
            UnitOfWork(rig.database),
            rig.shop.merchant_id,
            key,
            None,
            result_wait_s=60,
            now=datetime.now(UTC),
        )

    assert pay_all("drain").status == 201
    with pytest.raises(PayoutRefused) as refused:
        pay_all("drained")
    assert refused.value.code == "nothing_to_pay_out"
    assert balance(rig) == 0
