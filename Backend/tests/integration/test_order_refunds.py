"""Refunds of a pay order's payment on real PostgreSQL: the order follows its payment to
partially_refunded, then refunded, each step stamped and sent to the merchant's webhook
endpoints; never more refunded than was paid, even by many refunds at once; and the
database refusing every wrong step whoever writes it."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg2
import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.errors import NotRefundable
from app.services import merchant_refunds, merchants, orders
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.merchant_refunds import RefundAsk
from tests.integration.test_ledger_concurrency import errors_of, run_together
from tests.support.merchants import application, execute
from tests.support.mpesa import rows
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

AMOUNT = 250_00


@pytest.fixture
def world(clean_database: Database, settings):
    box, pin_hash = registration_secrets(settings, "4821")
    payer = register(clean_database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    fund(clean_database, phone_of(1), 1_000_000)
    # Fee-free, so that the merchant's account holds all of the payment to give back.
    merchant = merchants.onboard(
        UnitOfWork(clean_database), application(fee=FeeRule(0, 0, 0))
    ).merchant
    answer = orders.create(
        UnitOfWork(clean_database),
        merchant.id,
        "o1",
        orders.Draft(amount=AMOUNT, description="Sukuma wiki"),
        datetime.now(UTC),
    )
    order = answer.body
    paid = merchant_payments.pay(
        UnitOfWork(clean_database),
        MerchantPaymentRequest(payer, None, None, "p1", channel="api", order_code=order["code"]),
    )
    return clean_database, payer, merchant.id, order["id"], paid


def refund(database: Database, merchant_id: int, reference: str, amount: int | None, key: str):
    return merchant_refunds.refund(
        UnitOfWork(database), merchant_id, key, RefundAsk(reference, amount), datetime.now(UTC)
    )


def order_row(database: Database, order_id: int) -> dict:
    return rows(database, "SELECT to_jsonb(o) FROM pay_orders o WHERE id = %(id)s", id=order_id)[0][
        0
    ]


def events(database: Database, merchant_id: int) -> list[tuple[str, dict]]:
    return [
        (kind, payload)
        for kind, payload in rows(
            database,
            "SELECT type, payload FROM merchant_events WHERE merchant_id = %(m)s ORDER BY id",
            m=merchant_id,
        )
    ]


def test_partial_then_full_refunds_move_the_order_and_tell_the_merchant(world):
    database, payer, merchant_id, order_id, paid = world
    before = wallet_balance(database, payer)

    first = refund(database, merchant_id, paid.reference, 10_000, "r1")
    assert first.status == 201
    order = order_row(database, order_id)
    assert (order["status"], order["refunded_amount"]) == ("partially_refunded", 10_000)
    assert order["partially_refunded_at"] and order["refunded_at"] is None

    with pytest.raises(NotRefundable) as over:
        refund(database, merchant_id, paid.reference, AMOUNT - 10_000 + 1, "r2")
    assert over.value.code == "exceeds_refundable"
    assert order_row(database, order_id)["refunded_amount"] == 10_000

    refund(database, merchant_id, paid.reference, None, "r3")  # the rest
    done = order_row(database, order_id)
    assert (done["status"], done["refunded_amount"]) == ("refunded", AMOUNT)
    assert done["refunded_at"] and done["partially_refunded_at"] == order["partially_refunded_at"]
    assert wallet_balance(database, payer) == before + AMOUNT
    with pytest.raises(NotRefundable) as again:
        refund(database, merchant_id, paid.reference, None, "r4")
    assert again.value.code == "payment_fully_refunded"

    told = events(database, merchant_id)
    assert [kind for kind, _ in told] == [
        "order.paid",
        "order.partially_refunded",
        "refund.succeeded",
        "order.refunded",
        "refund.succeeded",
    ]
    partial, last = told[2][1], told[4][1]
    assert partial["order"]["status"] == "partially_refunded"
    assert partial["order"]["refunded_amount"] == 10_000
    assert last["order"]["status"] == "refunded" and last["order"]["id"] == order_id
    assert check_ledger(database).sound


def test_a_full_refund_at_once_moves_the_order_straight_to_refunded(world):
    database, _payer, merchant_id, order_id, paid = world
    refund(database, merchant_id, paid.reference, None, "r1")
    order = order_row(database, order_id)
    assert (order["status"], order["refunded_amount"]) == ("refunded", AMOUNT)
    assert order["refunded_at"] and order["partially_refunded_at"] is None


def test_a_till_payment_refunds_as_before_with_no_order(world, settings):
    database, payer, merchant_id, _order_id, _paid = world
    till = merchant_payments.pay(
        UnitOfWork(database), MerchantPaymentRequest(payer, "512345", 5_000, "t1")
    )
    refund(database, merchant_id, till.reference, 2_000, "r1")
    assert events(database, merchant_id)[-1][1]["order"] is None


def test_concurrent_refunds_of_one_order_never_exceed_what_was_paid(world):
    database, payer, merchant_id, order_id, paid = world
    before = wallet_balance(database, payer)
    # 16 refunds of KES 30 each at once: only 8 fit in KES 250 (KES 240), and the order
    # ends partially refunded with exactly what the refunds that succeeded took.
    outcomes = run_together(
        [
            (lambda i=i: refund(database, merchant_id, paid.reference, 3_000, f"r{i}"))
            for i in range(16)
        ]
    )
    succeeded = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, NotRefundable)]
    assert len(succeeded) == 8 and len(refused) == 8, errors_of(outcomes)
    assert {o.code for o in refused} == {"exceeds_refundable"}
    order = order_row(database, order_id)
    assert (order["status"], order["refunded_amount"]) == ("partially_refunded", 24_000)
    assert wallet_balance(database, payer) == before + 24_000

    # Then the rest by two at once: one refunds it in full, the other finds nothing left.
    last = run_together(
        [
            (lambda i=i: refund(database, merchant_id, paid.reference, None, f"z{i}"))
            for i in range(2)
        ]
    )
    assert sorted(type(o).__name__ for o in last) == ["Answer", "NotRefundable"]
    assert order_row(database, order_id)["status"] == "refunded"
    assert wallet_balance(database, payer) == before + AMOUNT
    assert check_ledger(database).sound


def refused_by_database(database: Database, sql: str, order_id: int) -> None:
    with pytest.raises(psycopg2.Error):
        execute(database, sql, {"id": order_id})


def test_the_database_refuses_wrong_refund_steps_by_raw_sql(world):
    database, _payer, merchant_id, order_id, paid = world
    paid_row = order_row(database, order_id)
    for sql in (
        # refunded without all of it, or without its stamp
        "UPDATE pay_orders SET status = 'refunded', refunded_amount = 1,"
        " refunded_at = now() WHERE id = %(id)s",
        "UPDATE pay_orders SET status = 'refunded', refunded_amount = paid_amount"
        " WHERE id = %(id)s",
        # partially refunded without its stamp, or with all of it
        "UPDATE pay_orders SET status = 'partially_refunded', refunded_amount = 1"
        " WHERE id = %(id)s",
        "UPDATE pay_orders SET status = 'partially_refunded', refunded_amount = paid_amount,"
        " partially_refunded_at = now() WHERE id = %(id)s",
        # a refund stamped on an order still only paid
        "UPDATE pay_orders SET refunded_at = now() WHERE id = %(id)s",
        # back to awaiting payment or on to canceled
        "UPDATE pay_orders SET status = 'canceled', canceled_at = now() WHERE id = %(id)s",
    ):
        refused_by_database(database, sql, order_id)
    assert order_row(database, order_id) == paid_row

    refund(database, merchant_id, paid.reference, 1_000, "r1")
    partial = order_row(database, order_id)
    for sql in (
        "UPDATE pay_orders SET status = 'paid', refunded_amount = 0,"
        " partially_refunded_at = NULL WHERE id = %(id)s",
        "UPDATE pay_orders SET refunded_amount = refunded_amount - 1 WHERE id = %(id)s",
        "UPDATE pay_orders SET partially_refunded_at = now() WHERE id = %(id)s",
    ):
        refused_by_database(database, sql, order_id)
    assert order_row(database, order_id) == partial

    refund(database, merchant_id, paid.reference, None, "r2")
    full = order_row(database, order_id)
    for sql in (
        "UPDATE pay_orders SET status = 'partially_refunded', refunded_amount = 1,"
        " refunded_at = NULL WHERE id = %(id)s",
        "UPDATE pay_orders SET refunded_at = refunded_at + interval '1 second' WHERE id = %(id)s",
        "DELETE FROM pay_orders WHERE id = %(id)s",
    ):
        refused_by_database(database, sql, order_id)
    assert order_row(database, order_id) == full
