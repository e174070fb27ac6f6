"""Paying a merchant's pay order by its code on real PostgreSQL: the order's merchant and
amount, the same movement as a till's, the order marked paid and the payment's row
naming it, the SMS naming its description; a replay after it is paid, a wrong amount,
expired, canceled, unknown and mistyped codes; and the issue's "an order paid twice at
once from two channels is paid once": many payers (and their retries) at once, exactly
one paid, nothing moved for the others, the ledger check sound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as pay_order_rules
from app.domain.merchants import FeeRule
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    OrderNotFound,
    OrderNotPayable,
    ValidationFailed,
    WrongOrderAmount,
)
from app.services import merchants, orders
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments import tills
from app.services.merchant_payments.payments import MerchantPayment, MerchantPaymentRequest
from app.services.pins import PinHasher, PinPolicy
from tests.integration.test_ledger_concurrency import errors_of, run_together
from tests.support.merchants import application, execute
from tests.support.mpesa import rows
from tests.support.wallets import (
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

PIN = "4821"
TILL = "512345"
RULE = FeeRule(50, 100, 20_000)
AMOUNT = 250_00
FEE = RULE.fee_for(AMOUNT)  # 125


@pytest.fixture
def world(clean_database: Database, settings):
    box, pin_hash = registration_secrets(settings, PIN)
    payer = register(clean_database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    other = register(
        clean_database, box, pin_hash, phone=phone_of(2), name="Baraka Mwangi", language="sw"
    )
    fund(clean_database, phone_of(1), 1_000_000)
    fund(clean_database, phone_of(2), 1_000_000)
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    return clean_database, payer, other, merchant


def new_order(database: Database, merchant_id: int, key: str = "o1", **kw: object) -> dict:
    draft = orders.Draft(
        amount=kw.pop("amount", AMOUNT),  # type: ignore[arg-type]
        merchant_reference=kw.pop("reference", "INV-42"),  # type: ignore[arg-type]
        description=kw.pop("description", "Sukuma wiki"),  # type: ignore[arg-type]
    )
    answer = orders.create(UnitOfWork(database), merchant_id, key, draft, datetime.now(UTC))
    assert answer.status == 201
    return answer.body


def pay_order(
    database: Database, payer: int, code: str, key: str, amount: int | None = None
) -> MerchantPayment:
    request = MerchantPaymentRequest(payer, None, amount, key, channel="api", order_code=code)
    return merchant_payments.pay(UnitOfWork(database), request)


def order_row(database: Database, order_id: int) -> tuple:
    (row,) = rows(
        database,
        "SELECT status, paid_amount, payment_transaction_id FROM pay_orders WHERE id = %(id)s",
        id=order_id,
    )
    return row


def merchant_balance(database: Database, merchant_id: int) -> int:
    row = merchants.get(UnitOfWork(database), merchant_id)
    assert row is not None
    return row.balance


def test_an_order_is_paid_with_its_amount_to_its_merchant_and_marked_paid(world):
    database, payer, _, merchant = world
    order = new_order(database, merchant.id)

    quote = tills.quote_payment(UnitOfWork(database), payer_user_id=payer, order_code=order["code"])
    assert (quote.display_name, quote.amount, quote.payer_fee, quote.description) == (
        "MAMA MBOGA",
        AMOUNT,
        0,
        "Sukuma wiki",
    )
    paid = pay_order(database, payer, order["code"], "k1")

    assert (paid.amount, paid.payer_fee, paid.merchant_fee, paid.till) == (AMOUNT, 0, FEE, TILL)
    assert (paid.order_code, paid.order_description, paid.order_reference) == (
        order["code"],
        "Sukuma wiki",
        "INV-42",
    )
    assert order_row(database, order["id"]) == ("paid", AMOUNT, paid.transaction_id)
    assert wallet_balance(database, payer) == 1_000_000 - AMOUNT
    assert merchant_balance(database, merchant.id) == AMOUNT - FEE
    legs = rows(
        database,
        "SELECT a.kind, l.amount FROM journal_legs l JOIN ledger_accounts a"
        " ON a.id = l.account_id WHERE l.transaction_id = %(tx)s ORDER BY l.id",
        tx=paid.transaction_id,
    )
    assert legs == [("wallet", -AMOUNT), ("merchant", AMOUNT), ("merchant", -FEE), ("fees", FEE)]
    assert rows(
        database, "SELECT note FROM journal_transactions WHERE id = %(tx)s", tx=paid.transaction_id
    ) == [(f"MAMA MBOGA (order {order['code']})",)]
    assert rows(
        database, "SELECT merchant_id, payer_user_id, amount, fee, channel, order_id"
        " FROM merchant_payments"
    ) == [(merchant.id, payer, AMOUNT, FEE, "api", order["id"])]  # fmt: skip
    sms = dict(
        rows(
            database,
            "SELECT payload->>'template', payload->>'message' FROM outbox"
            " WHERE kind = 'sms' AND payload->>'template' LIKE 'merchant%%'",
        )
    )
    assert "Paid KES 250 to MAMA MBOGA for Sukuma wiki" in sms["merchant_order_paid"]
    told = sms["merchant_order_payment_received"]
    assert f"order {order['code']} (Sukuma wiki, INV-42) paid, KES 250, by Amina Njeri" in told
    assert check_ledger(database).sound


def test_a_replay_answers_the_same_after_the_order_is_paid_and_nothing_moves(world):
    database, payer, other, merchant = world
    order = new_order(database, merchant.id)
    first = pay_order(database, payer, order["code"], "k1")
    before = ledger_snapshot(database)

    again = pay_order(database, payer, order["code"], "k1")
    assert again.replayed and again.transaction_id == first.transaction_id
    assert (again.order_code, again.order_description, again.balance) == (
        order["code"],
        "Sukuma wiki",
        first.balance,
    )
    with pytest.raises(OrderNotPayable) as late:
        pay_order(database, other, order["code"], "k1")  # another payer's own key
    assert late.value.code == "order_paid" and late.value.status_code == 409
    with pytest.raises(IdempotencyConflict):  # this payer's key with another amount
        pay_order(database, payer, order["code"], "k1", amount=AMOUNT)
    assert ledger_snapshot(database) == before
    assert check_ledger(database).sound


def test_an_amount_other_than_the_orders_is_refused_and_its_own_is_paid(world):
    database, payer, _, merchant = world
    order = new_order(database, merchant.id)
    before = ledger_snapshot(database)
    for wrong in (AMOUNT - 1, AMOUNT + 1, 1):
        with pytest.raises(WrongOrderAmount) as refused:
            pay_order(database, payer, order["code"], f"w{wrong}", amount=wrong)
        assert refused.value.code == "wrong_amount"
        with pytest.raises(WrongOrderAmount):
            tills.quote_payment(
                UnitOfWork(database), payer_user_id=payer, order_code=order["code"], amount=wrong
            )
    assert ledger_snapshot(database) == before
    assert order_row(database, order["id"])[0] == "awaiting_payment"
    assert pay_order(database, payer, order["code"], "exact", amount=AMOUNT).amount == AMOUNT


def test_both_a_till_and_a_code_or_a_mistyped_code_are_refused(world):
    database, payer, _, merchant = world
    order = new_order(database, merchant.id)
    code = order["code"]
    mistyped = code[:-1] + str((int(code[-1]) + 1) % 10)
    cases = [
        (MerchantPaymentRequest(payer, TILL, AMOUNT, "b", order_code=code), "invalid_payment"),
        (MerchantPaymentRequest(payer, None, None, "m", order_code=mistyped), "invalid_order_code"),
        (MerchantPaymentRequest(payer, None, None, "s", order_code="51234"), "invalid_order_code"),
        (MerchantPaymentRequest(payer, None, 0, "z", order_code=code), "invalid_amount"),
    ]
    for request, code_ in cases:
        with pytest.raises(ValidationFailed) as refused:
            merchant_payments.pay(UnitOfWork(database), request)
        assert refused.value.code == code_


def test_unknown_expired_and_canceled_orders_are_refused_with_nothing_moved(world):
    database, payer, _, merchant = world
    canceled = new_order(database, merchant.id, "c")
    orders.cancel(UnitOfWork(database), merchant.id, canceled["id"], "cancel", datetime.now(UTC))
    expired = new_order(database, merchant.id, "e")
    overdue = datetime.now(UTC) + timedelta(minutes=16)  # past its 15 minutes
    before = ledger_snapshot(database)

    with pytest.raises(OrderNotPayable) as refused:
        pay_order(database, payer, canceled["code"], "k1")
    assert refused.value.code == "order_canceled"
    request = MerchantPaymentRequest(payer, None, None, "k2", order_code=expired["code"])
    with pytest.raises(OrderNotPayable) as refused:
        merchant_payments.pay(UnitOfWork(database), request, now=overdue)
    assert refused.value.code == "order_expired"
    unknown = next(
        code
        for code in iter(pay_order_rules.new_order_code, None)
        if code not in (canceled["code"], expired["code"])
    )
    with pytest.raises(OrderNotFound):
        pay_order(database, payer, unknown, "k3")
    assert ledger_snapshot(database) == before
    assert rows(database, "SELECT 1 FROM merchant_payments") == []


def test_a_payment_beyond_the_balance_leaves_the_order_payable(world):
    database, payer, _, merchant = world
    order = new_order(database, merchant.id, amount=2_000_000)
    with pytest.raises(InsufficientFunds):
        pay_order(database, payer, order["code"], "k1")
    assert order_row(database, order["id"]) == ("awaiting_payment", None, None)


def test_pay_merchant_checks_the_pin_then_pays_the_order(world, settings):
    database, payer, _, merchant = world
    order = new_order(database, merchant.id)
    request = MerchantPaymentRequest(payer, None, None, "pin", order_code=order["code"])
    paid = merchant_payments.pay_merchant(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        request,
        pin=PIN,
    )
    assert paid.order_code == order["code"]


PAYERS = 12


def test_one_order_paid_by_many_at_once_is_paid_once(clean_database, crowd, settings):
    """The issue's "an order paid twice at once from two channels is paid once": payers
    on USSD and on the API, each with a retry racing its original, all at once, while
    another payer pays the same merchant's till. The order's row is locked before any
    account, so none of them deadlocks: one payment wins, every other payer is refused
    `order_paid` with nothing moved, the winner's retry replays it."""
    box, pin_hash = registration_secrets(settings, PIN)
    payers = []
    for n in range(1, PAYERS + 2):
        payers.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 100_000)
    till_payer = payers.pop()
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    order = new_order(clean_database, merchant.id)

    def attempt(payer: int, channel: str):
        request = MerchantPaymentRequest(
            payer, None, None, f"{channel}:{payer}", channel=channel, order_code=order["code"]
        )
        return lambda: merchant_payments.pay(UnitOfWork(crowd), request)

    calls = [attempt(p, "ussd" if i % 2 else "api") for i, p in enumerate(payers)]
    till = MerchantPaymentRequest(till_payer, TILL, 100_00, "till")
    outcomes = run_together(
        [*calls, *calls, lambda: merchant_payments.pay(UnitOfWork(crowd), till)]
    )

    refused = [o for o in outcomes if isinstance(o, OrderNotPayable)]
    paid = [o for o in outcomes if isinstance(o, MerchantPayment)]
    assert errors_of([o for o in outcomes if not isinstance(o, OrderNotPayable)]) == []
    assert {r.code for r in refused} == {"order_paid"}
    firsts = [p for p in paid if not p.replayed and p.order_code]
    assert len(firsts) == 1
    (winner,) = firsts
    # The winner's retry waits on the order's row and replays it; every other payer
    # (and its retry) is refused.
    order_paid = [p for p in paid if p.order_code]
    assert [p.replayed for p in order_paid].count(True) == 1 and len(order_paid) == 2
    assert all(p.transaction_id == winner.transaction_id for p in order_paid)
    assert len(refused) == 2 * PAYERS - 2
    assert order_row(clean_database, order["id"]) == ("paid", AMOUNT, winner.transaction_id)
    debited = [p for p in payers if wallet_balance(clean_database, p) != 100_000]
    assert len(debited) == 1 and wallet_balance(clean_database, debited[0]) == 100_000 - AMOUNT
    till_fee = tills.merchant_fee(RULE, 100_00)
    assert merchant_balance(clean_database, merchant.id) == AMOUNT - FEE + 100_00 - till_fee
    assert rows(
        clean_database, "SELECT count(*) FROM merchant_payments WHERE order_id = %(id)s",
        id=order["id"],
    ) == [(1,)]  # fmt: skip
    assert ledger_snapshot(clean_database).balances["fees"] == FEE + till_fee
    assert check_ledger(clean_database).sound


def test_a_cancel_racing_payments_leaves_exactly_one_outcome(clean_database, crowd, settings):
    """The merchant cancels while payers pay: cancel takes the same row lock, so the
    order ends either paid once or canceled with nothing moved."""
    box, pin_hash = registration_secrets(settings, PIN)
    payers = []
    for n in range(1, 5):
        payers.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 100_000)
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    order = new_order(clean_database, merchant.id)
    calls = [
        (lambda p=p: pay_order(crowd, p, order["code"], f"k{p}"))
        for p in payers
    ] + [
        lambda: orders.cancel(
            UnitOfWork(crowd), merchant.id, order["id"], "cancel", datetime.now(UTC)
        )
    ]  # fmt: skip
    outcomes = run_together(calls)
    status = order_row(clean_database, order["id"])[0]
    paid = [o for o in outcomes if isinstance(o, MerchantPayment)]
    assert status in ("paid", "canceled")
    assert len(paid) == (1 if status == "paid" else 0)
    moved = sum(100_000 - wallet_balance(clean_database, p) for p in payers)
    assert moved == (AMOUNT if status == "paid" else 0)
    assert check_ledger(clean_database).sound


def test_the_database_keeps_one_payment_per_order(world):
    database, payer, _, merchant = world
    order = new_order(database, merchant.id)
    paid = pay_order(database, payer, order["code"], "k1")
    tx = rows(database, "SELECT max(id) FROM journal_transactions WHERE id <> %(tx)s",
              tx=paid.transaction_id)[0][0]  # fmt: skip
    with pytest.raises(Exception, match="merchant_payments_order_idx"):
        execute(
            database,
            "INSERT INTO merchant_payments (transaction_id, merchant_id, payer_user_id, amount,"
            " fee, channel, created_at, order_id) VALUES (%(tx)s, %(m)s, %(p)s, 1, 0, 'api',"
            " now(), %(o)s)",
            {"tx": tx, "m": merchant.id, "p": payer, "o": order["id"]},
        )


def test_an_orders_paid_canceled_and_expired_are_events_for_its_merchant(world):
    database, payer, _, merchant = world
    paid = new_order(database, merchant.id, key="o1")
    pay_order(database, payer, paid["code"], "p1")
    pay_order(database, payer, paid["code"], "p1")  # a replay: no second event
    canceled = new_order(database, merchant.id, key="o2")
    orders.cancel(UnitOfWork(database), merchant.id, canceled["id"], "c1", datetime.now(UTC))
    orders.cancel(UnitOfWork(database), merchant.id, canceled["id"], "c2", datetime.now(UTC))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # the database judges expiry by its clock
    draft = orders.Draft(amount=AMOUNT, merchant_reference="INV-43", description="Mangoes")
    overdue = orders.create(UnitOfWork(database), merchant.id, "o3", draft, an_hour_ago).body
    assert orders.expire_due(UnitOfWork(database), datetime.now(UTC)) == 1

    events = rows(
        database,
        "SELECT type, object_id, payload->>'status', payload->>'object' FROM merchant_events"
        " WHERE merchant_id = %(m)s ORDER BY id",
        m=merchant.id,
    )
    assert events == [
        ("order.paid", f"order:{paid['id']}", "paid", "order"),
        ("order.canceled", f"order:{canceled['id']}", "canceled", "order"),
        ("order.expired", f"order:{overdue['id']}", "expired", "order"),
    ]
