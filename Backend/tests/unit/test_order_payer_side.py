"""The payer side's two calls, orders.lock_payable and orders.mark_paid, on a
hand-written store of orders (no PostgreSQL): which orders they refuse and why, and that
nothing but the exact amount marks an order paid. tests/integration/
test_pay_orders_database.py runs them on PostgreSQL with the row lock and the trigger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as rules
from app.domain.records.pay_orders import PayOrderRow
from app.errors import OrderNotFound, OrderNotPayable, ValidationFailed, WrongOrderAmount
from app.services import orders

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CODE = "4821357" + rules.luhn_digit("4821357")


def row(order_id: int = 1, status: str = "awaiting_payment", code: str = CODE) -> PayOrderRow:
    return PayOrderRow(
        id=order_id, merchant_id=7, code=code, amount=25_000, currency="KES",
        merchant_reference=None, description=None, status=status, created_at=T0,
        expires_at=T0 + timedelta(minutes=15), paid_at=None, expired_at=None,
        canceled_at=None, paid_amount=None, refunded_amount=0, payment_transaction_id=None,
    )  # fmt: skip


class FakeOrders:
    """PayOrderRepository's reads and mark_paid, over a dict; records the locks taken."""

    def __init__(self, *rows: PayOrderRow) -> None:
        self.rows = {r.id: r for r in rows}
        self.locked: list[int] = []

    def get(self, order_id: int, *, for_update: bool = False) -> PayOrderRow | None:
        found = self.rows.get(order_id)
        if found and for_update:
            self.locked.append(order_id)
        return found

    def newest_by_code(self, code: str, *, for_update: bool = False) -> PayOrderRow | None:
        found = max((r for r in self.rows.values() if r.code == code), default=None,
                    key=lambda r: r.id)  # fmt: skip
        if found and for_update:
            self.locked.append(found.id)
        return found

    def mark_paid(self, order_id: int, *, transaction_id: int, amount: int, now: datetime):
        current = self.rows[order_id]
        if current.status != "awaiting_payment" or now >= current.expires_at:
            return None
        if amount != current.amount:
            return None
        paid = replace(current, status="paid", paid_at=now, paid_amount=amount,
                       payment_transaction_id=transaction_id)  # fmt: skip
        self.rows[order_id] = paid
        return paid


class FakeEvents:
    """The webhook repositories `emit` writes through: the events it was asked for."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def insert_event(self, *, merchant_id: int, event_type: str, **_: object) -> tuple[int, str]:
        self.events.append((merchant_id, event_type))
        return merchant_id, event_type

    def queue(self, event: object, when: object) -> None:
        pass


class FakeRequests:
    """The requests to pay mark_paid settles: which orders, for which payer."""

    def __init__(self) -> None:
        self.settled: list[tuple[int, int]] = []

    def settle_paid(self, order_id: int, payer_user_id: int, now: datetime) -> None:
        self.settled.append((order_id, payer_user_id))


class FakePushes:
    """Which orders have an M-Pesa payment under way, and since when."""

    def __init__(self) -> None:
        self.under_way: dict[int, datetime] = {}

    def payment_in_progress(self, order_id: int, since: datetime) -> bool:
        started = self.under_way.get(order_id)
        return started is not None and started >= since


class FakeUow:
    def __init__(self, *rows: PayOrderRow) -> None:
        self.pay_orders = FakeOrders(*rows)
        self.pay_requests = FakeRequests()
        self.webhooks = self.webhook_deliveries = FakeEvents()
        self.order_pushes = FakePushes()


def uow_of(*rows: PayOrderRow) -> tuple[UnitOfWork, FakeOrders]:
    fake = FakeUow(*rows)
    return cast(UnitOfWork, fake), fake.pay_orders


def test_lock_payable_locks_and_returns_the_order_awaiting_payment():
    uow, store = uow_of(row())
    assert orders.lock_payable(uow, CODE, now=T0).id == 1
    assert store.locked == [1]


def test_lock_payable_reads_a_code_as_its_newest_order():
    uow, _ = uow_of(row(1, "expired"), row(2))
    assert orders.lock_payable(uow, CODE, now=T0).id == 2


@pytest.mark.parametrize(
    ("status", "minutes", "code"),
    [
        ("awaiting_payment", 15, "order_expired"),  # overdue, not yet written
        ("expired", 1, "order_expired"),
        ("canceled", 1, "order_canceled"),
        ("paid", 1, "order_paid"),
        ("partially_refunded", 1, "order_paid"),
        ("refunded", 1, "order_paid"),
    ],
)
def test_lock_payable_refuses_an_order_that_cannot_be_paid(status, minutes, code):
    uow, _ = uow_of(row(status=status))
    with pytest.raises(OrderNotPayable) as refused:
        orders.lock_payable(uow, CODE, now=T0 + timedelta(minutes=minutes))
    assert refused.value.code == code and refused.value.status_code == 409


def test_lock_payable_refuses_unknown_and_mistyped_codes_before_any_lookup():
    uow, store = uow_of(row())
    unknown = "1234567" + rules.luhn_digit("1234567")
    with pytest.raises(OrderNotFound):
        orders.lock_payable(uow, unknown, now=T0)
    for typo in (CODE[:-1] + str((int(CODE[-1]) + 1) % 10), CODE[:-1], "512345", "", None):
        with pytest.raises(ValidationFailed) as refused:
            orders.lock_payable(uow, typo, now=T0)  # type: ignore[arg-type]
        assert refused.value.code == "invalid_order_code"
    assert store.locked == []


def test_mark_paid_pays_exactly_the_orders_amount():
    uow, store = uow_of(row())
    paid = orders.mark_paid(uow, 1, 99, 25_000, T0 + timedelta(minutes=5))
    assert (paid.status, paid.paid_amount, paid.payment_transaction_id) == ("paid", 25_000, 99)
    assert store.locked == [1]
    # The merchant's webhook event, in the same transaction as the payment.
    assert cast(FakeUow, uow).webhooks.events == [(paid.merchant_id, "order.paid")]


@pytest.mark.parametrize("amount", [24_999, 25_001, 1, 0, -25_000, 50_000])
def test_mark_paid_refuses_a_partial_or_excess_payment_and_keeps_nothing(amount):
    uow, store = uow_of(row())
    with pytest.raises(WrongOrderAmount) as refused:
        orders.mark_paid(uow, 1, 99, amount, T0)
    assert refused.value.status_code == 422
    assert cast(FakeUow, uow).webhooks.events == []  # nothing happened: no event
    assert store.rows[1].status == "awaiting_payment" and store.rows[1].paid_amount is None


def test_mark_paid_refuses_a_late_payment_and_a_second_one():
    uow, store = uow_of(row())
    with pytest.raises(OrderNotPayable) as late:
        orders.mark_paid(uow, 1, 99, 25_000, T0 + timedelta(minutes=15))
    assert late.value.code == "order_expired"
    orders.mark_paid(uow, 1, 99, 25_000, T0)
    with pytest.raises(OrderNotPayable) as twice:
        orders.mark_paid(uow, 1, 100, 25_000, T0)
    assert twice.value.code == "order_paid" and store.rows[1].payment_transaction_id == 99
    with pytest.raises(OrderNotFound):
        orders.mark_paid(uow, 2, 99, 25_000, T0)


def test_an_order_whose_m_pesa_payment_is_under_way_is_refused_until_the_hold_lapses():
    uow, _ = uow_of(row())
    cast(FakeUow, uow).order_pushes.under_way[1] = T0
    with pytest.raises(OrderNotPayable) as refused:
        orders.lock_payable(uow, CODE, now=T0 + timedelta(minutes=1))
    assert refused.value.code == "order_in_progress"
    lapsed = T0 + rules.PAYMENT_HOLD + timedelta(seconds=1)
    assert orders.lock_payable(uow, CODE, now=lapsed).id == 1
