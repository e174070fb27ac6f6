"""Pay orders in PostgreSQL: the trigger refuses every illegal transition and edit,
whoever writes it (raw SQL here); the payer side's lock_payable and mark_paid; the
expiry loop."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as rules
from app.errors import (
    IdempotencyConflict,
    OrderNotFound,
    OrderNotPayable,
    ValidationFailed,
    WrongOrderAmount,
)
from app.services import orders
from app.worker.pay_orders import OrderExpiryJob
from tests.security.admin_audit_world import query
from tests.support.merchants import application, execute
from tests.support.wallets import fund, phone_of, register, registration_secrets

AMOUNT = 25_000
WAITING = "awaiting_payment"


@pytest.fixture
def merchant_id(clean_database) -> int:
    from app.services import merchants

    return merchants.onboard(UnitOfWork(clean_database), application()).merchant.id


@pytest.fixture
def transaction_id(clean_database, settings) -> int:
    """A real journal transaction (a cash-in) a payment can point at."""
    box, pin_hash = registration_secrets(settings)
    register(clean_database, box, pin_hash, phone=phone_of(1))
    fund(clean_database, phone_of(1), 100_000)
    return query(clean_database, "SELECT max(id) FROM journal_transactions")[0][0]


def create(database, merchant_id: int, key: str = "k1", now: datetime | None = None, **kw) -> dict:
    draft = orders.Draft(amount=kw.pop("amount", AMOUNT), **kw)
    answer = orders.create(UnitOfWork(database), merchant_id, key, draft, now or datetime.now(UTC))
    assert answer.status == 201
    return answer.body


def refused_by_database(database, sql: str, params: dict) -> str:
    with pytest.raises(psycopg2.Error) as caught:
        execute(database, sql, params)
    return str(caught.value)


def row(database, order_id: int) -> dict:
    return query(
        database, "SELECT to_jsonb(o) FROM pay_orders o WHERE id = %(id)s", {"id": order_id}
    )[0][0]


# ---- the database's own guard ----------------------------------------------------------


def test_a_paid_order_cannot_go_back_nor_be_canceled_nor_edited_by_raw_sql(
    clean_database, merchant_id, transaction_id
):
    order = create(clean_database, merchant_id)
    uow = UnitOfWork(clean_database)
    with uow:
        orders.lock_payable(uow, order["code"])
        orders.mark_paid(uow, order["id"], transaction_id, AMOUNT, datetime.now(UTC))
        uow.commit()
    before = row(clean_database, order["id"])
    assert before["status"] == "paid" and before["paid_amount"] == AMOUNT
    for sql in (
        "UPDATE pay_orders SET status = 'awaiting_payment', paid_at = NULL, paid_amount = NULL,"
        " payment_transaction_id = NULL WHERE id = %(id)s",
        "UPDATE pay_orders SET status = 'canceled', canceled_at = now(), paid_at = NULL,"
        " paid_amount = NULL, payment_transaction_id = NULL WHERE id = %(id)s",
        "UPDATE pay_orders SET amount = amount + 1, paid_amount = paid_amount + 1"
        " WHERE id = %(id)s",
        "UPDATE pay_orders SET paid_at = paid_at - interval '1 second' WHERE id = %(id)s",
        "UPDATE pay_orders SET payment_transaction_id = NULL WHERE id = %(id)s",
        "UPDATE pay_orders SET description = 'other' WHERE id = %(id)s",
        "UPDATE pay_orders SET expires_at = expires_at + interval '1 minute' WHERE id = %(id)s",
        "DELETE FROM pay_orders WHERE id = %(id)s",
    ):
        refused_by_database(clean_database, sql, {"id": order["id"]})
    assert row(clean_database, order["id"]) == before


def test_an_order_awaiting_payment_cannot_expire_early_nor_be_paid_in_part(
    clean_database, merchant_id, transaction_id
):
    order = create(clean_database, merchant_id)
    params = {"id": order["id"], "tx": transaction_id}
    message = refused_by_database(
        clean_database,
        "UPDATE pay_orders SET status = 'expired', expired_at = expires_at WHERE id = %(id)s",
        params,
    )
    assert "not before" in message
    refused_by_database(  # a partial payment: the CHECK wants paid_amount = amount
        clean_database,
        "UPDATE pay_orders SET status = 'paid', paid_at = now(), paid_amount = amount - 1,"
        " payment_transaction_id = %(tx)s WHERE id = %(id)s",
        params,
    )
    refused_by_database(  # straight to refunded
        clean_database,
        "UPDATE pay_orders SET status = 'refunded' WHERE id = %(id)s",
        params,
    )
    refused_by_database(  # canceled without its timestamp
        clean_database, "UPDATE pay_orders SET status = 'canceled' WHERE id = %(id)s", params
    )
    assert row(clean_database, order["id"])["status"] == "awaiting_payment"


def test_an_order_is_born_awaiting_payment_and_expiry_is_bounded(clean_database, merchant_id):
    base = (
        "INSERT INTO pay_orders (merchant_id, code, amount, created_at, expires_at, status)"
        " VALUES (%(m)s, '48213575', 100, now(), now() + %(ttl)s::interval, %(status)s)"
    )
    for ttl, status in (("15 minutes", "paid"), ("15 minutes", "canceled"),
                        ("30 seconds", WAITING), ("1441 minutes", WAITING)):  # fmt: skip
        refused_by_database(clean_database, base, {"m": merchant_id, "ttl": ttl, "status": status})
    execute(
        clean_database,
        base,
        {"m": merchant_id, "ttl": "1440 minutes", "status": "awaiting_payment"},
    )


def test_a_canceled_or_expired_order_stays_so(clean_database, merchant_id):
    canceled = create(clean_database, merchant_id, "c")
    orders.cancel(UnitOfWork(clean_database), merchant_id, canceled["id"], "c2", datetime.now(UTC))
    old = datetime.now(UTC) - timedelta(minutes=20)
    expired = create(clean_database, merchant_id, "e", now=old)
    assert OrderExpiryJob(clean_database).run_once() == 1
    for order, back in ((canceled, "awaiting_payment"), (expired, "awaiting_payment"),
                        (canceled, "expired"), (expired, "canceled")):  # fmt: skip
        refused_by_database(
            clean_database,
            "UPDATE pay_orders SET status = %(s)s, canceled_at = NULL, expired_at = NULL"
            " WHERE id = %(id)s",
            {"s": back, "id": order["id"]},
        )


def test_two_live_orders_never_share_a_code(clean_database, merchant_id):
    order = create(clean_database, merchant_id)
    refused_by_database(
        clean_database,
        "INSERT INTO pay_orders (merchant_id, code, amount, created_at, expires_at)"
        " VALUES (%(m)s, %(code)s, 100, now(), now() + interval '15 minutes')",
        {"m": merchant_id, "code": order["code"]},
    )


# ---- the payer's side: lock_payable and mark_paid ----------------------------------------


def test_lock_payable_finds_the_order_and_mark_paid_pays_it_in_the_callers_transaction(
    clean_database, merchant_id, transaction_id
):
    order = create(clean_database, merchant_id)
    now = datetime.now(UTC)
    uow = UnitOfWork(clean_database)
    with uow:
        locked = orders.lock_payable(uow, order["code"], now=now)
        assert (locked.id, locked.amount) == (order["id"], AMOUNT)
        paid = orders.mark_paid(uow, locked.id, transaction_id, AMOUNT, now)
        assert (paid.status, paid.paid_amount, paid.payment_transaction_id) == (
            "paid", AMOUNT, transaction_id)  # fmt: skip
        # Not committed yet: another transaction still sees it awaiting payment.
        assert row(clean_database, order["id"])["status"] == "awaiting_payment"
        uow.commit()
    assert row(clean_database, order["id"])["status"] == "paid"
    uow = UnitOfWork(clean_database)
    with uow, pytest.raises(OrderNotPayable) as again:
        orders.lock_payable(uow, order["code"])
    assert again.value.code == "order_paid"


def test_a_rolled_back_payment_leaves_the_order_payable(
    clean_database, merchant_id, transaction_id
):
    order = create(clean_database, merchant_id)
    uow = UnitOfWork(clean_database)
    with uow:
        orders.mark_paid(uow, order["id"], transaction_id, AMOUNT, datetime.now(UTC))
    assert row(clean_database, order["id"])["status"] == "awaiting_payment"


@pytest.mark.parametrize("amount", [AMOUNT - 1, AMOUNT + 1, 1])
def test_mark_paid_refuses_any_amount_but_the_orders(
    clean_database, merchant_id, transaction_id, amount
):
    order = create(clean_database, merchant_id)
    uow = UnitOfWork(clean_database)
    with uow, pytest.raises(WrongOrderAmount):
        orders.mark_paid(uow, order["id"], transaction_id, amount, datetime.now(UTC))
    assert row(clean_database, order["id"])["status"] == "awaiting_payment"


def test_lock_payable_refuses_expired_canceled_unknown_and_mistyped_codes(
    clean_database, merchant_id, transaction_id
):
    late = create(
        clean_database, merchant_id, "late", now=datetime.now(UTC) - timedelta(minutes=16)
    )
    canceled = create(clean_database, merchant_id, "cancel")
    orders.cancel(UnitOfWork(clean_database), merchant_id, canceled["id"], "x", datetime.now(UTC))
    uow = UnitOfWork(clean_database)
    with uow:
        for code, reason in ((late["code"], "order_expired"), (canceled["code"], "order_canceled")):
            with pytest.raises(OrderNotPayable) as caught:
                orders.lock_payable(uow, code)
            assert caught.value.code == reason
        with pytest.raises(OrderNotPayable):  # late, even written as awaiting payment
            orders.mark_paid(uow, late["id"], transaction_id, AMOUNT, datetime.now(UTC))
        unknown = "1234567" + rules.luhn_digit("1234567")
        with pytest.raises(OrderNotFound):
            orders.lock_payable(uow, unknown)
        typo = canceled["code"][:-1] + str((int(canceled["code"][-1]) + 1) % 10)
        with pytest.raises(ValidationFailed) as caught:
            orders.lock_payable(uow, typo)
        assert caught.value.code == "invalid_order_code"
        with pytest.raises(OrderNotFound):
            orders.mark_paid(uow, 10**9, transaction_id, AMOUNT, datetime.now(UTC))


# ---- idempotency in the service ------------------------------------------------------------


def test_the_same_key_and_draft_make_one_order_and_another_draft_is_refused(
    clean_database, merchant_id
):
    first = create(clean_database, merchant_id, "same")
    again = orders.create(UnitOfWork(clean_database), merchant_id, "same",
                          orders.Draft(amount=AMOUNT), datetime.now(UTC))  # fmt: skip
    assert (again.status, again.body, again.replayed) == (201, first, True)
    with pytest.raises(IdempotencyConflict):
        orders.create(UnitOfWork(clean_database), merchant_id, "same",
                      orders.Draft(amount=AMOUNT + 1), datetime.now(UTC))  # fmt: skip
    assert query(clean_database, "SELECT count(*) FROM pay_orders")[0][0] == 1


# ---- the expiry loop -------------------------------------------------------------------------


def test_the_expiry_loop_marks_overdue_orders_expired_in_batches_and_leaves_the_rest(
    clean_database, merchant_id
):
    old = datetime.now(UTC) - timedelta(minutes=20)
    overdue = [create(clean_database, merchant_id, f"o{i}", now=old)["id"] for i in range(5)]
    live = create(clean_database, merchant_id, "live")["id"]
    job = OrderExpiryJob(clean_database, batch=2)
    assert job.run_once() == 5
    for order_id in overdue:
        stored = row(clean_database, order_id)
        assert stored["status"] == "expired" and stored["expired_at"] == stored["expires_at"]
    assert row(clean_database, live)["status"] == "awaiting_payment"
    assert job.run_once() == 0


def test_the_expiry_loop_skips_an_order_being_paid(clean_database, merchant_id):
    order = create(clean_database, merchant_id, now=datetime.now(UTC) - timedelta(minutes=16))
    holder = UnitOfWork(clean_database)
    with holder:
        holder.pay_orders.get(order["id"], for_update=True)  # a payer holds the row
        assert OrderExpiryJob(clean_database).run_once() == 0
    assert OrderExpiryJob(clean_database).run_once() == 1


def test_eight_requests_with_one_key_at_once_make_one_order_and_one_answer(
    clean_database, merchant_id
):
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(8)

    def attempt(_: int) -> orders.Answer:
        barrier.wait()
        return orders.create(UnitOfWork(clean_database), merchant_id, "raced",
                             orders.Draft(amount=AMOUNT), datetime.now(UTC))  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert query(clean_database, "SELECT count(*) FROM pay_orders")[0][0] == 1
    assert len({json.dumps(a.body, sort_keys=True) for a in answers}) == 1
    assert sorted(a.replayed for a in answers) == [False] + [True] * 7


def test_answers_older_than_a_day_are_forgotten_and_the_key_is_free_again(
    clean_database, merchant_id
):
    create(clean_database, merchant_id, "old-key")
    create(clean_database, merchant_id, "new-key")
    execute(
        clean_database,
        "UPDATE merchant_idempotency_keys SET created_at = now() - interval '25 hours'"
        " WHERE idempotency_key = 'old-key'",
    )
    OrderExpiryJob(clean_database).run_once()
    keys = query(clean_database, "SELECT idempotency_key FROM merchant_idempotency_keys")
    assert keys == [("new-key",)]
    again = create(clean_database, merchant_id, "old-key")  # a new request now
    assert query(clean_database, "SELECT count(*) FROM pay_orders")[0][0] == 3 and again["id"] == 3
