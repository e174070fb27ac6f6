"""Pay-order rules (app/domain/pay_orders.py), pure: the code's format and check digit,
the expiry bounds, the one-way transitions, what a read shows, and schema.sql holding
the same numbers (a change on one side alone fails here)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain import merchants
from app.domain import pay_orders as rules
from app.domain.records.pay_orders import PayOrderRow, snapshot

SCHEMA = (Path(__file__).resolve().parents[3] / "schema.sql").read_text()
PAY_ORDERS = SCHEMA[SCHEMA.index("CREATE TABLE pay_orders (") :]
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


# ---- the order code --------------------------------------------------------------------


def test_a_drawn_code_is_eight_digits_without_a_leading_zero_and_checks():
    for _ in range(2_000):
        code = rules.new_order_code()
        assert len(code) == rules.CODE_LENGTH and code[0] != "0" and code.isdigit()
        assert rules.is_order_code(code)


def test_an_order_code_can_never_be_read_as_a_till_nor_a_till_as_an_order():
    for _ in range(500):
        assert not merchants.is_till(rules.new_order_code())
    for till in ("12345", "512345", "9999999"):
        assert not rules.is_order_code(till)
    # A dropped digit leaves 7 digits: a till's format, but never a check that passes
    # as an order (and USSD tells them apart by length before any lookup).
    assert not rules.is_order_code(rules.new_order_code()[:-1])


def test_every_single_mistyped_digit_is_caught_by_the_check_digit():
    code = "4821357" + rules.luhn_digit("4821357")
    assert rules.is_order_code(code)
    for position in range(len(code)):
        for digit in "0123456789":
            typo = code[:position] + digit + code[position + 1 :]
            if typo != code:
                assert not rules.is_order_code(typo), typo


def test_swapped_neighbours_are_caught():
    code = "4821357" + rules.luhn_digit("4821357")
    for i in range(len(code) - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code and {code[i], code[i + 1]} != {"0", "9"}:
            assert not rules.is_order_code(swapped), swapped


@pytest.mark.parametrize(
    "text", ["", "0821357" + "1", "4821357", "482135700", "4821357a", "48213５75"]
)
def test_what_is_not_an_order_code(text):
    assert not rules.is_order_code(text)


def test_the_luhn_digit_is_the_textbook_one():
    assert rules.luhn_digit("7992739871") == "3"  # the standard example: 79927398713


# ---- expiry, amounts, words ------------------------------------------------------------


@pytest.mark.parametrize("minutes", [1, 15, 1_440])
def test_expiry_within_bounds_is_accepted(minutes):
    assert rules.expiry_problem(minutes) is None
    assert rules.expires_at(T0, minutes) - T0 == timedelta(minutes=minutes)


@pytest.mark.parametrize("minutes", [0, -1, 1_441, 10**12, 15.0, "15", True, None])
def test_expiry_out_of_bounds_or_not_whole_is_refused(minutes):
    assert rules.expiry_problem(minutes) is not None


def test_the_default_expiry_is_fifteen_minutes():
    assert rules.EXPIRY_DEFAULT_MINUTES == 15


@pytest.mark.parametrize("amount", [0, -1, rules.MAX_AMOUNT + 1, 2**63, 100.0, "100", True])
def test_bad_amounts_are_refused(amount):
    assert rules.amount_problem(amount) is not None


def test_whole_positive_cents_are_accepted():
    assert rules.amount_problem(1) is None and rules.amount_problem(rules.MAX_AMOUNT) is None


@pytest.mark.parametrize("text", ["", " x", "x ", "a" * 41, "tomatoes\n", "日本", "emoji 🍅"])
def test_descriptions_a_handset_cannot_show_are_refused(text):
    assert rules.description_problem(text) is not None


def test_a_gsm7_description_is_accepted():
    assert rules.description_problem("Sukuma wiki & tomatoes @ 250/=") is None


# ---- transitions -----------------------------------------------------------------------

ALLOWED = {
    ("awaiting_payment", "paid"),
    ("awaiting_payment", "expired"),
    ("awaiting_payment", "canceled"),
    ("paid", "refunded"),
    ("paid", "partially_refunded"),
    ("partially_refunded", "partially_refunded"),
    ("partially_refunded", "refunded"),
}


@pytest.mark.parametrize("current", rules.STATUSES)
@pytest.mark.parametrize("new", rules.STATUSES)
def test_only_the_forward_transitions_are_allowed(current, new):
    assert rules.may_become(current, new) == ((current, new) in ALLOWED)


def test_the_trigger_allows_exactly_the_same_transitions():
    trigger = PAY_ORDERS[PAY_ORDERS.index("CREATE FUNCTION pay_orders_guard") :]
    trigger = trigger[: trigger.index("$$;")]  # the function alone, not the tables after it
    pairs = set()
    for old, news in re.findall(r"OLD\.status = '(\w+)'\s+AND NEW\.status IN \(([^)]*)\)", trigger):
        pairs |= {(old, new) for new in re.findall(r"'(\w+)'", news)}
    assert pairs == ALLOWED


def test_the_schemas_statuses_bounds_and_code_are_the_domains():
    (statuses,) = re.search(r"status\s+TEXT[^;]*?status IN \(([^)]*)\)", PAY_ORDERS).groups()
    assert tuple(re.findall(r"'(\w+)'", statuses)) == rules.STATUSES
    (code,) = re.search(r"code ~ '\^([^$']+)\$'", PAY_ORDERS).groups()
    assert code == rules.CODE_PATTERN.pattern
    assert re.search(r"amount BETWEEN 1 AND (\d+)", PAY_ORDERS).group(1) == str(rules.MAX_AMOUNT)
    assert re.search(r"length\(description\) BETWEEN 1 AND (\d+)", PAY_ORDERS).group(1) == str(
        rules.DESCRIPTION_MAX
    )
    assert re.search(r"length\(merchant_reference\) BETWEEN 1 AND (\d+)", PAY_ORDERS).group(
        1
    ) == str(rules.REFERENCE_MAX)
    minutes = re.search(
        r"created_at \+ interval '(\d+) minute'\s+AND created_at \+ interval '(\d+) minutes'",
        PAY_ORDERS,
    ).groups()
    assert minutes == (str(rules.EXPIRY_MIN_MINUTES), str(rules.EXPIRY_MAX_MINUTES))


# ---- what a read shows -----------------------------------------------------------------


def order(status: str = "awaiting_payment", **changes: object) -> PayOrderRow:
    fields: dict[str, object] = {
        "id": 1,
        "merchant_id": 1,
        "code": "48213575",
        "amount": 25_000,
        "currency": "KES",
        "merchant_reference": None,
        "description": None,
        "status": status,
        "created_at": T0,
        "expires_at": T0 + timedelta(minutes=15),
        "paid_at": None,
        "expired_at": None,
        "canceled_at": None,
        "paid_amount": None,
        "refunded_amount": 0,
        "payment_transaction_id": None,
    }
    fields.update(changes)
    return PayOrderRow(**fields)  # type: ignore[arg-type]


def test_an_overdue_order_is_never_shown_awaiting_payment():
    due = T0 + timedelta(minutes=15)
    assert order().shown(due - timedelta(microseconds=1)).status == "awaiting_payment"
    shown = order().shown(due)
    assert (shown.status, shown.expired_at) == ("expired", due)
    assert snapshot(shown)["status"] == "expired"


def test_a_settled_order_is_shown_as_it_is_whatever_the_time():
    late = T0 + timedelta(days=3)
    for status in ("paid", "canceled", "refunded", "expired"):
        assert order(status).shown(late).status == status


@pytest.mark.parametrize(
    ("status", "minutes", "problem"),
    [
        ("awaiting_payment", 14, None),
        ("awaiting_payment", 15, "expired"),
        ("expired", 1, "expired"),
        ("canceled", 1, "canceled"),
        ("paid", 1, "paid"),
        ("refunded", 1, "paid"),
        ("partially_refunded", 1, "paid"),
    ],
)
def test_what_can_be_paid(status, minutes, problem):
    now = T0 + timedelta(minutes=minutes)
    assert rules.payable_problem(status, T0 + timedelta(minutes=15), now) == problem
