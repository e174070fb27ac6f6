"""What a Stellar payment naming an order cannot pay, on the hand-written order store of
test_order_payer_side.py (no PostgreSQL): each refusal is an `owed_back` answer with its
reason, the order's row locked first and nothing else touched (the fake has no ledger:
reaching it would fail). tests/integration/test_stellar_order_payments.py pays and
refuses on the local network and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from app.domain.records.merchants import MerchantRow
from app.services.stellar_order_links import OrderNamed
from app.services.stellar_order_payments import OWED_BACK, take
from tests.unit.test_order_payer_side import CODE, T0, row, uow_of


@dataclass(frozen=True)
class Payment:
    operation_id: str = "4294971393"
    tx_hash: str = "b" * 64
    from_address: str = "G" + "A" * 55
    cents: int = 25_000
    reason: str | None = None
    closed_at: datetime | None = T0 + timedelta(seconds=5)


def owed(payment: Payment, named: OrderNamed, *rows, now: datetime = T0 + timedelta(seconds=6)):
    uow, store = uow_of(*rows)
    taken = take(uow, payment, named, now)
    assert taken.outcome == OWED_BACK and taken.transaction_id is None
    return taken, store


BY_CODE = OrderNamed(code=CODE)
MISTYPED = CODE[:-1] + str((int(CODE[-1]) + 1) % 10)  # the check digit wrong: no lookup
WRONG = "wrong amount: paid KES {paid}, order " + CODE + " is KES 250.00"
FRACTION = "amount not whole cents: 250.0000001 KES"


@pytest.mark.parametrize(
    ("payment", "named", "rows", "reason"),
    [
        (Payment(cents=24_999), BY_CODE, [row()], WRONG.format(paid="249.99")),
        (Payment(cents=25_001), BY_CODE, [row()], WRONG.format(paid="250.01")),
        (Payment(reason=FRACTION), BY_CODE, [row()], FRACTION),
        (Payment(), BY_CODE, [row(status="canceled")], f"order {CODE} is canceled"),
        (Payment(), BY_CODE, [row(status="paid")], f"order {CODE} is paid"),
        (Payment(), BY_CODE, [], f"no order with code {CODE}"),
        (Payment(), OrderNamed(code=MISTYPED), [row()], f"no order with code {MISTYPED}"),
        (Payment(), OrderNamed(order_id=2), [row()], "no order with order id 2"),
        (Payment(), OrderNamed(order_id=2**64 - 1), [row()], f"no order with order id {2**64 - 1}"),
    ],
    ids=["less", "more", "fraction", "canceled", "paid", "unknown", "mistyped", "no-id", "huge-id"],
)
def test_each_refusal_is_owed_back_with_its_reason(payment, named, rows, reason):
    taken, _ = owed(payment, named, *rows)
    assert taken.reason == reason


def test_a_late_payment_is_owed_back():
    # Late by its ledger's close time, whatever the watcher's clock says.
    late = Payment(closed_at=T0 + timedelta(minutes=15))
    taken, store = owed(late, OrderNamed(code=CODE), row(), now=T0 + timedelta(seconds=10))
    assert taken.reason == f"order {CODE} is expired"
    assert store.locked == [1]


def test_a_payment_made_before_the_order_existed_was_meant_for_an_older_one():
    # The code came round again: a payment whose ledger closed well before this order
    # was created named an older order with the same code, whatever its amount.
    early = Payment(closed_at=T0 - timedelta(minutes=2))
    taken, _ = owed(early, OrderNamed(code=CODE), row())
    assert (taken.reason, taken.order_id) == (f"paid before order {CODE} was created", None)


class FakeMerchants:
    def __init__(self, merchant: MerchantRow) -> None:
        self.merchant = merchant

    def get(self, merchant_id: int) -> MerchantRow | None:
        return self.merchant if merchant_id == self.merchant.id else None


def test_a_suspended_merchants_order_is_owed_back():
    uow, _ = uow_of(row())
    suspended = MerchantRow(
        id=7, legal_name="Mama Mboga Groceries Ltd", display_name="MAMA MBOGA",
        till_number="512345", contact_phone="+254711000101", payout_phone="+254711000102",
        payout_schedule="daily", fee_bps=50, fee_min_cents=0, fee_max_cents=20_000,
        status="suspended", account_id=99, balance=0, created_at=T0,
    )  # fmt: skip
    uow.merchants = FakeMerchants(suspended)  # type: ignore[misc]

    taken = take(uow, Payment(), BY_CODE, T0 + timedelta(seconds=6))

    assert (taken.outcome, taken.reason, taken.order_id) == (
        OWED_BACK,
        "merchant 512345 is suspended",
        1,
    )
