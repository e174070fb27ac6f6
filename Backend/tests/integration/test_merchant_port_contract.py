"""The Pay part of the USSD port's contract: the fake (tests/unit/fake_merchants.py) and
the facade (app/services/facade.py) answer alike: the merchant found by till, the quote,
the payment once per key, and the same refusals in the same order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.services import merchants, orders, pay_requests
from app.services.facade import ChannelServices
from app.services.merchant_payments import tills
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.pins import PinPolicy
from tests.support.merchants import application, execute
from tests.support.port_contract import (
    AMINA,
    BARAKA,
    BASIC,
    PIN,
    WRONG,
    Side,
    make_sides,
    observe,
    outcome,
)
from tests.unit.fakes import FakeUssdServices

TILL, CLOSED = "512345", "612345"
RULE = FeeRule(50, 100, 20_000)


@pytest.fixture
def sides(request):
    return make_sides(request)


def add_merchant(side: Side, till: str, *, suspended: bool = False) -> None:
    """A merchant named MAMA MBOGA at till with RULE, on the fake or in PostgreSQL."""
    if isinstance(side.port, FakeUssdServices):
        side.port.add_merchant(till, "MAMA MBOGA", RULE, "suspended" if suspended else "active")
        return
    assert isinstance(side.port, ChannelServices)
    database = side.port.runtime.database
    made = merchants.onboard(UnitOfWork(database), application(till, fee=RULE)).merchant
    if suspended:
        execute(database, "UPDATE merchants SET status = 'suspended' WHERE id = %(id)s",
                {"id": made.id})  # fmt: skip


def pay(user: int, till: str, amount: int, key: str) -> MerchantPaymentRequest:
    return MerchantPaymentRequest(user, till, amount, key)


def test_a_merchant_is_found_by_its_till_or_refused(sides):
    async def scenario(side: Side):
        add_merchant(side, TILL)
        add_merchant(side, CLOSED, suspended=True)
        found = await side.port.find_merchant(till=TILL)
        return (
            (found.display_name, found.till),
            await outcome(side.port.find_merchant(till="999999")),
            await outcome(side.port.find_merchant(till=CLOSED)),
            await outcome(side.port.find_merchant(till="012345")),
        )

    found, unknown, closed, malformed = observe(sides, scenario)
    assert found == ("MAMA MBOGA", TILL)
    assert unknown == ("MerchantNotFound", {"code": "merchant_not_found"})
    assert closed == ("MerchantUnavailable", {"code": "merchant_unavailable"})
    assert malformed == ("ValidationFailed", {"code": "invalid_till"})


@pytest.mark.parametrize(
    "amount", [1, 100, 19_999, 20_000, 20_001, 4_000_000, BASIC.per_transaction]
)
def test_a_quote_shows_both_fees_at_the_rules_edges(sides, amount):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, BASIC.per_transaction)
        add_merchant(side, TILL)
        return await side.port.quote_merchant_payment(payer_user_id=amina, till=TILL, amount=amount)

    quote = observe(sides, scenario)
    assert (quote.payer_fee, quote.merchant_fee) == (0, min(amount, RULE.fee_for(amount)))


def test_quote_refusals_come_in_the_services_order(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 50_000)
        add_merchant(side, TILL)
        add_merchant(side, CLOSED, suspended=True)
        quote = side.port.quote_merchant_payment
        return [
            await outcome(quote(payer_user_id=amina, till="1234", amount=0)),
            await outcome(quote(payer_user_id=amina, till="999999", amount=0)),
            await outcome(quote(payer_user_id=amina, till="999999", amount=100)),
            await outcome(quote(payer_user_id=amina, till=CLOSED, amount=BASIC.daily + 1)),
            await outcome(quote(payer_user_id=amina, till=TILL, amount=BASIC.per_transaction + 1)),
            await outcome(quote(payer_user_id=amina, till=TILL, amount=50_001)),
        ]

    invalid_till, invalid_amount, unknown, closed, limit, funds = observe(sides, scenario)
    assert invalid_till[1]["code"] == "invalid_till"
    assert invalid_amount[1]["code"] == "invalid_amount"
    assert unknown[0] == "MerchantNotFound" and closed[0] == "MerchantUnavailable"
    assert limit[0] == "LimitExceeded" and limit[1]["limit"] == "per_transaction"
    assert funds == ("InsufficientFunds", {"code": "insufficient_funds", "balance": 50_000,
                                           "needed": 50_001})  # fmt: skip


def test_a_payment_moves_the_money_once_per_key(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 1_000_000)
        add_merchant(side, TILL)
        add_merchant(side, CLOSED, suspended=True)
        port = side.port
        paid = await port.pay_merchant(pay(amina, TILL, 250_00, "k1"), pin=PIN)
        again = await port.pay_merchant(pay(amina, TILL, 250_00, "k1"), pin=PIN)
        reused = await outcome(port.pay_merchant(pay(amina, TILL, 100_00, "k1"), pin=PIN))
        closed = await outcome(port.pay_merchant(pay(amina, CLOSED, 100_00, "k2"), pin=PIN))
        unknown = await outcome(port.pay_merchant(pay(amina, "999999", 100_00, "k3"), pin=PIN))
        wrong = await outcome(port.pay_merchant(pay(amina, TILL, 100_00, "k4"), pin=WRONG))
        lines = await port.mini_statement(user_id=amina, pin=PIN, attempt_key="s1")
        return (
            (paid.display_name, paid.till, paid.amount, paid.payer_fee, paid.merchant_fee),
            (paid.balance, paid.replayed),
            (again.reference == paid.reference, again.replayed, again.balance),
            reused,
            closed,
            unknown,
            wrong,
            await port.balance(user_id=amina, pin=PIN, attempt_key="b1"),
            (lines[0].kind, lines[0].amount),
            lines[0].reference == paid.reference,
        )

    got = observe(sides, scenario)
    paid, (balance, replayed), again, reused, closed, unknown, wrong, after, line, same = got
    assert paid == ("MAMA MBOGA", TILL, 250_00, 0, RULE.fee_for(250_00))
    assert (balance, replayed) == (1_000_000 - 250_00, False)
    assert again == (True, True, balance)
    assert reused[0] == "IdempotencyConflict"
    assert closed[0] == "MerchantUnavailable" and unknown[0] == "MerchantNotFound"
    attempts = PinPolicy().max_attempts - 1
    assert wrong == ("WrongPin", {"code": "wrong_pin", "attempts_left": attempts})
    assert after == balance and line == ("merchant_payment", -250_00) and same


def test_a_payment_counts_against_the_daily_limit(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, BASIC.daily + 1_000_000)
        add_merchant(side, TILL)
        for n in range(BASIC.daily // BASIC.per_transaction):
            await side.port.pay_merchant(pay(amina, TILL, BASIC.per_transaction, f"d{n}"), pin=PIN)
        return await outcome(
            side.port.pay_merchant(pay(amina, TILL, BASIC.per_transaction, "over"), pin=PIN)
        )

    refused = observe(sides, scenario)
    assert refused[0] == "LimitExceeded" and refused[1]["limit"] == "daily"


# ---- Pay orders: by code, on both sides ------------------------------------------------


def add_order(side: Side, amount: int, description: str | None, *, canceled: bool = False) -> str:
    """An order of MAMA MBOGA (at TILL) awaiting payment, or canceled; its code."""
    if isinstance(side.port, FakeUssdServices):
        code = "48291306" if not side.port.orders else "76543214"
        side.port.add_order(code, TILL, amount, description)
        if canceled:
            side.port.orders[code].status = "canceled"
        return code
    assert isinstance(side.port, ChannelServices)
    database = side.port.runtime.database
    with UnitOfWork(database) as uow:
        merchant = tills.by_till(uow, TILL)
    assert merchant is not None
    now = datetime.now(UTC)
    draft = orders.Draft(amount=amount, description=description)
    made = orders.create(UnitOfWork(database), merchant.id, f"o{amount}", draft, now).body
    if canceled:
        orders.cancel(UnitOfWork(database), merchant.id, int(made["id"]), f"c{amount}", now)
    return str(made["code"])


def by_code(user: int, code: str, key: str, amount: int | None = None) -> MerchantPaymentRequest:
    return MerchantPaymentRequest(user, None, amount, key, order_code=code)


def test_an_order_is_quoted_and_paid_once_by_its_code(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(AMINA, 1_000_000)
        side.fund(BARAKA, 1_000_000)
        add_merchant(side, TILL)
        code = add_order(side, 250_00, "Sukuma wiki")
        gone = add_order(side, 100_00, None, canceled=True)
        port = side.port
        quote = await port.quote_merchant_payment(payer_user_id=amina, order_code=code)
        wrong = await outcome(port.pay_merchant(by_code(amina, code, "w", 250_01), pin=PIN))
        both = await outcome(
            port.pay_merchant(
                MerchantPaymentRequest(amina, TILL, 250_00, "b", order_code=code), pin=PIN
            )
        )
        mistyped = code[:-1] + str((int(code[-1]) + 1) % 10)
        typo = await outcome(port.quote_merchant_payment(payer_user_id=amina, order_code=mistyped))
        paid = await port.pay_merchant(by_code(amina, code, "k1"), pin=PIN)
        again = await port.pay_merchant(by_code(amina, code, "k1"), pin=PIN)
        late = await outcome(port.pay_merchant(by_code(baraka, code, "k1"), pin=PIN))
        late_quote = await outcome(
            port.quote_merchant_payment(payer_user_id=baraka, order_code=code)
        )
        canceled = await outcome(port.pay_merchant(by_code(baraka, gone, "k2"), pin=PIN))
        return (
            (quote.display_name, quote.till, quote.amount, quote.payer_fee, quote.description),
            (quote.merchant_fee, quote.balance, quote.order_code == code),
            wrong,
            both,
            typo,
            (paid.display_name, paid.amount, paid.merchant_fee, paid.balance, paid.replayed),
            (paid.order_code == code, paid.order_description),
            (again.reference == paid.reference, again.replayed, again.balance),
            late,
            late_quote,
            canceled,
            await port.balance(user_id=baraka, pin=PIN, attempt_key="b1"),
        )

    got = observe(sides, scenario)
    quote, (fee, balance, same_code), wrong, both, typo, paid, named, again, *rest = got
    late, late_quote, canceled, untouched = rest
    assert quote == ("MAMA MBOGA", TILL, 250_00, 0, "Sukuma wiki")
    assert (fee, balance, same_code) == (RULE.fee_for(250_00), 1_000_000, True)
    assert wrong == ("WrongOrderAmount", {"code": "wrong_amount"})
    assert both == ("ValidationFailed", {"code": "invalid_payment"})
    assert typo == ("ValidationFailed", {"code": "invalid_order_code"})
    assert paid == ("MAMA MBOGA", 250_00, RULE.fee_for(250_00), 1_000_000 - 250_00, False)
    assert named == (True, "Sukuma wiki")
    assert again == (True, True, 1_000_000 - 250_00)
    assert late == late_quote == ("OrderNotPayable", {"code": "order_paid"})
    assert canceled == ("OrderNotPayable", {"code": "order_canceled"})
    assert untouched == 1_000_000


# ---- Requests to pay: the first screen of a dial ----------------------------------------


def ask_to_pay(side: Side, payer: int, phone: str, amount: int, key: str) -> tuple[str, int]:
    """MAMA MBOGA asks the user at phone to pay a new order: (its code, the request id)."""
    if isinstance(side.port, FakeUssdServices):
        code = add_order(side, amount, "Sukuma wiki")
        return code, side.port.add_pay_request(payer, code)
    assert isinstance(side.port, ChannelServices)
    database = side.port.runtime.database
    with UnitOfWork(database) as uow:
        merchant = tills.by_till(uow, TILL)
    assert merchant is not None
    now = datetime.now(UTC)
    draft = orders.Draft(amount=amount, description="Sukuma wiki")
    made = orders.create(UnitOfWork(database), merchant.id, key, draft, now).body
    asked = pay_requests.ask(
        UnitOfWork(database), merchant.id, int(made["id"]), f"r{key}", phone, now, shortcode="*1#"
    )
    return str(made["code"]), int(asked.body["id"])


def test_a_pending_request_is_found_paid_or_declined_alike(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(AMINA, 1_000_000)
        add_merchant(side, TILL)
        port = side.port
        nothing = await port.pending_pay_request(payer_user_id=amina)
        code, first = ask_to_pay(side, amina, AMINA, 250_00, "o1")
        pending = await port.pending_pay_request(payer_user_id=amina)
        not_theirs = await outcome(port.decline_pay_request(payer_user_id=baraka, request_id=first))
        declined = await port.decline_pay_request(payer_user_id=amina, request_id=first)
        twice = await outcome(port.decline_pay_request(payer_user_id=amina, request_id=first))
        after_decline = await port.pending_pay_request(payer_user_id=amina)
        code2, second = ask_to_pay(side, amina, AMINA, 100_00, "o2")
        newest = await port.pending_pay_request(payer_user_id=amina)
        await port.pay_merchant(by_code(amina, code2, "k1"), pin=PIN)
        after_paying = await port.pending_pay_request(payer_user_id=amina)
        paid_then_declined = await outcome(
            port.decline_pay_request(payer_user_id=amina, request_id=second)
        )
        assert pending is not None and newest is not None
        return (
            nothing,
            (pending.id == first, pending.order_code == code, pending.merchant_name),
            (pending.amount, pending.description),
            not_theirs,
            declined,
            twice,
            after_decline,
            (newest.id == second, newest.order_code == code2, newest.amount),
            after_paying,
            paid_then_declined,
        )

    got = observe(sides, scenario)
    nothing, found, terms, not_theirs, declined, twice, after_decline, *rest = got
    newest, after_paying, paid_then_declined = rest
    assert nothing is None
    assert found == (True, True, "MAMA MBOGA") and terms == (250_00, "Sukuma wiki")
    assert not_theirs == twice == ("PayRequestNotPending", {"code": "request_not_pending"})
    assert declined is None and after_decline is None
    assert newest == (True, True, 100_00)
    assert after_paying is None
    assert paid_then_declined == ("PayRequestNotPending", {"code": "request_not_pending"})
