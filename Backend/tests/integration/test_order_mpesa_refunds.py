"""Refunds of pay orders paid from M-Pesa, over real HTTP: the signed merchant API on
PayTrace, the B2C payment to the payer's phone through the outbox to the local Daraja
sandbox, its result and the status query that confirms it - the withdrawals' very
machinery, the merchant's account as the source. Pending until M-Pesa's confirmed word,
then succeeded (the order moved) or failed (the merchant's money back, the order as it
was); never more than was paid, even asked twice at once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.mpesa_reconciliation import MISSING_AT_MPESA, eat_day
from app.errors import NotRefundable
from app.integrations.mpesa_statement import SandboxStatement
from app.sandboxes.daraja.store import DB_FILE
from app.services import merchant_refunds
from app.services.mpesa_reconciliation import reconcile_day
from tests.integration.test_ledger_concurrency import run_together
from tests.support.merchants import fresh_timestamp, key_for, signed_request
from tests.support.mpesa import mpesa_rig, one, rows
from tests.support.mpesa_recon import mpesa_loses
from tests.support.order_mpesa import (
    AMOUNT,
    CUSTOMER,
    FEE,
    merchant_holds,
    new_order,
    onboard,
    order_status,
    pay_from_mpesa,
    register,
)
from tests.support.wallets import check_ledger

KES = 100
PATH = "/api/v1/merchant/refunds"
HELD = AMOUNT - FEE  # what the merchant's account holds once the order is paid


@pytest.fixture
def rig(live_settings, database, tmp_path):
    """A merchant whose order of KES 250 was paid from M-Pesa by CUSTOMER."""
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        rig.merchant = onboard(database)
        register(rig)
        rig.keyed = key_for(database, rig.settings, rig.merchant.id)
        rig.order = new_order(database, rig.merchant.id)
        pay_from_mpesa(rig, rig.order["code"], AMOUNT // KES)
        rig.until(lambda: order_status(database, rig.order["id"]) == "paid")
        rig.payment = one(
            database,
            "SELECT t.reference FROM merchant_payments p"
            " JOIN journal_transactions t ON t.id = p.transaction_id",
        )[0]
        yield rig


def post(rig, body: dict, key: str | None = None) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key or uuid.uuid4().hex}
    t = fresh_timestamp(rig.keyed.key_id, "POST", PATH, raw)
    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        return signed_request(http, rig.keyed, "POST", PATH, raw, timestamp=t, headers=headers)


def get(rig, refund_id: str) -> dict:
    path = f"{PATH}/{refund_id}"
    t = fresh_timestamp(rig.keyed.key_id, "GET", path)
    with httpx.Client(base_url=rig.paytrace.url, timeout=10) as http:
        return signed_request(http, rig.keyed, "GET", path, timestamp=t).json()


def ended(rig, refund_id: str, status: str) -> dict:
    return rig.until(lambda: (shown := get(rig, refund_id))["status"] == status and shown)


def b2c_fee(rig, amount: int) -> int:
    with UnitOfWork(rig.database) as uow:
        fee = uow.ledger.fee("withdrawal", amount)
    assert fee is not None
    return fee


def merchant_balance(rig) -> int:
    return merchant_holds(rig.database, rig.merchant.id)


def refunded_of_payment(rig) -> int:
    return one(rig.database, "SELECT refunded_amount FROM merchant_payments")[0]


def events(rig, prefix: str) -> list[tuple[str, dict]]:
    return rows(
        rig.database,
        "SELECT type, payload FROM merchant_events WHERE type LIKE %(p)s ORDER BY id",
        p=prefix + "%",
    )


def test_a_refund_is_held_at_once_then_paid_to_the_payers_phone_on_m_pesas_word(rig, tmp_path):
    amount, fee = 100 * KES, b2c_fee(rig, 100 * KES)

    made = post(rig, {"payment": rig.payment, "amount": amount, "reason": "one item short"})

    assert made.status_code == 201, made.text
    refund = made.json()
    assert (refund["status"], refund["amount"], refund["refund_reference"]) == (
        "pending",
        amount,
        None,
    )
    # Held at once, counted at once against the payment; the order moves on success only.
    assert merchant_balance(rig) == HELD - amount - fee
    assert refunded_of_payment(rig) == amount
    assert order_status(rig.database, rig.order["id"]) == "paid"
    [(phone, withdrawal_amount, withdrawal_fee, user_id)] = rows(
        rig.database, "SELECT phone, amount, fee, user_id FROM mpesa_withdrawals"
    )
    assert (phone, withdrawal_amount, withdrawal_fee, user_id) == (
        "+" + CUSTOMER,
        amount,
        fee,
        None,
    )

    done = ended(rig, refund["id"], "succeeded")

    assert done["refund_reference"] and done["succeeded_at"] and done["failure_reason"] is None
    assert merchant_balance(rig) == HELD - amount - fee
    assert order_status(rig.database, rig.order["id"]) == "partially_refunded"
    [(_, reference, _, _)] = rig.journal("withdrawal_payout")
    assert done["refund_reference"] == reference
    # The B2C result alone paid nothing out: M-Pesa's status answer confirmed it.
    b2c = [(k, o) for k, _, o, _, _ in rig.callbacks() if k.startswith(("b2c", "status"))]
    assert ("b2c_result", "confirming") in b2c and b2c[-1] == ("status_result", "paid")
    [(kind, body)] = events(rig, "refund.")
    assert (kind, body["id"], body["status"]) == ("refund.succeeded", refund["id"], "succeeded")
    assert body["order"]["status"] == "partially_refunded"
    assert [kind for kind, _ in events(rig, "order.")] == ["order.paid", "order.partially_refunded"]
    assert [kind for kind, _ in events(rig, "payout.")] == []  # a refund, not a payout
    assert check_ledger(rig.database).sound
    # M-Pesa's statement shows the order's payment in and the refund out, each matched,
    # the refund as a refund (not as the merchant's payout).
    statement = SandboxStatement(rig.settings.daraja_base_url)
    report = reconcile_day(UnitOfWork(rig.database), statement, eat_day(datetime.now(UTC)))
    assert report.sound, report.comparison.differences
    assert report.comparison.matched == 2
    assert report.comparison.totals.paytrace_out == report.comparison.totals.mpesa_out == amount
    records = rows(
        rig.database,
        "SELECT record FROM mpesa_reconciliation_items WHERE report_id = %(r)s",
        r=report.id,
    )
    assert records == []  # nothing to report: both matched
    # M-Pesa loses the refund: the report names it as the order's refund.
    [(receipt,)] = rows(rig.database, "SELECT receipt FROM mpesa_withdrawals")
    rig.sandbox_db = tmp_path / "daraja" / DB_FILE
    mpesa_loses(rig, receipt)
    drifted = reconcile_day(UnitOfWork(rig.database), statement, eat_day(datetime.now(UTC)))
    assert rows(
        rig.database,
        "SELECT kind, direction, record, delta FROM mpesa_reconciliation_items"
        " WHERE report_id = %(r)s",
        r=drifted.id,
    ) == [(MISSING_AT_MPESA, "out", "order_refund", -amount)]


def test_the_rest_refunded_later_refunds_the_order_in_full(rig):
    first = post(rig, {"payment": rig.payment, "amount": 100 * KES}).json()
    ended(rig, first["id"], "succeeded")
    # The merchant's account is topped up by a second order paid from M-Pesa.
    second = new_order(rig.database, rig.merchant.id, "o2")
    pay_from_mpesa(rig, second["code"], AMOUNT // KES)
    rig.until(lambda: order_status(rig.database, second["id"]) == "paid")

    rest = post(rig, {"payment": rig.payment})

    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == AMOUNT - 100 * KES
    ended(rig, rest.json()["id"], "succeeded")
    assert order_status(rig.database, rig.order["id"]) == "refunded"
    again = post(rig, {"payment": rig.payment})
    assert (again.status_code, again.json()["error"]) == (409, "payment_fully_refunded")
    assert check_ledger(rig.database).sound


def test_a_refund_m_pesa_fails_gives_the_merchant_its_money_back_and_the_order_stays_paid(rig):
    rig.sandbox.scenario(phone=CUSTOMER, result="insufficient_funds", api="b2c")
    refund = post(rig, {"payment": rig.payment, "amount": 100 * KES}).json()

    failed = ended(rig, refund["id"], "failed")

    assert failed["failure_reason"] and failed["failed_at"] and failed["refund_reference"] is None
    assert merchant_balance(rig) == HELD  # amount and fee released
    assert refunded_of_payment(rig) == 0  # refundable again
    assert order_status(rig.database, rig.order["id"]) == "paid"
    assert rig.journal("withdrawal_payout") == [] and len(rig.journal("withdrawal_release")) == 1
    [(kind, body)] = events(rig, "refund.")
    assert (kind, body["status"], body["order"]["status"]) == ("refund.failed", "failed", "paid")
    assert [kind for kind, _ in events(rig, "order.")] == ["order.paid"]
    assert check_ledger(rig.database).sound


def test_two_refunds_asked_at_once_never_exceed_what_was_paid(rig):
    ask = merchant_refunds.RefundAsk(rig.payment, 150 * KES)

    def refund(key: str):
        return merchant_refunds.refund(
            UnitOfWork(rig.database), rig.merchant.id, key, ask, datetime.now(UTC)
        )

    outcomes = run_together([lambda: refund("a"), lambda: refund("b")])

    made = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(made) == 1 and made[0].status == 201 and made[0].body["status"] == "pending"
    assert [(type(e), e.code) for e in refused] == [(NotRefundable, "exceeds_refundable")]
    assert refunded_of_payment(rig) == 150 * KES
    assert merchant_balance(rig) == HELD - 150 * KES - b2c_fee(rig, 150 * KES)
    assert len(rows(rig.database, "SELECT 1 FROM mpesa_withdrawals")) == 1
    assert check_ledger(rig.database).sound


@pytest.mark.parametrize("amount", [100 * KES + 50, 9 * KES])
def test_an_amount_m_pesa_cannot_pay_back_is_refused_and_nothing_moves(rig, amount):
    refused = post(rig, {"payment": rig.payment, "amount": amount})

    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_amount")
    assert merchant_balance(rig) == HELD and refunded_of_payment(rig) == 0
    assert rows(rig.database, "SELECT count(*) FROM merchant_refunds") == [(0,)]
    assert rows(rig.database, "SELECT count(*) FROM mpesa_withdrawals") == [(0,)]
