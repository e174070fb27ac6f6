"""What M-Pesa's statement must say before a stuck Paybill bill is resolved: the
receipt's line a debit to the biller's paybill, of the bill's amount and account, within
its window, listed once; every day of the window there before "no payment" is proved."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.mpesa_reconciliation import StatementEntry
from app.domain.records.bills import BillPayment
from app.integrations.mpesa_statement_fake import FakeStatement
from app.services.bills import rail_evidence as evidence
from tests.support.seeds import biller

KPLC = biller("kplc_prepaid")
HELD_AT = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)  # 23:30 EAT: the window spans midnight
NOW = HELD_AT + timedelta(hours=2)


def bill(amount: int = 80_000) -> BillPayment:
    return BillPayment(
        1, "K7QX2M9PLA", 7, KPLC.id, KPLC.code, KPLC.name, KPLC.rail, "12345678901", amount,
        0, "unknown", "ussd", 1, date(2026, 3, 10), None, None, None, "read timeout", None,
        HELD_AT, None,
    )  # fmt: skip


def paid(receipt: str = "UKT7ZQ4M2P", **changes) -> StatementEntry:
    fields = {
        "receipt": receipt,
        "completed_at": HELD_AT + timedelta(seconds=40),
        "amount": 80_000,
        "direction": "out",
        "counterparty": KPLC.paybill,
        "reference": "12345678901",
    }
    return StatementEntry(**{**fields, **changes})


def test_the_bill_s_own_payment_is_its_receipt():
    assert evidence.pays_bill(paid(), bill(), KPLC, NOW) is None


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"direction": "in"}, "paid in"),
        ({"counterparty": "888888"}, "not paybill"),
        ({"amount": 79_900}, "amount"),
        ({"reference": "99999999999"}, "another account"),
        ({"completed_at": HELD_AT - timedelta(hours=1)}, "outside"),
        ({"completed_at": NOW + timedelta(minutes=1)}, "outside"),
    ],
)
def test_a_line_that_differs_in_anything_is_not_the_bill_s_payment(changes, why):
    assert why in (evidence.pays_bill(paid(**changes), bill(), KPLC, NOW) or "")


def test_the_window_reads_every_day_from_the_hold_to_now_and_names_those_missing():
    statement = FakeStatement(missing={date(2026, 3, 11)})
    statement.add(paid())
    window = evidence.statement_window(statement, bill(), NOW)
    assert statement.asked == [date(2026, 3, 10), date(2026, 3, 11)]
    assert window.missing_days == ["2026-03-11"] and [e.receipt for e in window.entries] == [
        "UKT7ZQ4M2P"
    ]


def test_a_receipt_listed_twice_or_absent_is_refused():
    statement = FakeStatement()
    statement.add(paid(), paid())
    window = evidence.statement_window(statement, bill(), NOW)
    with pytest.raises(evidence.ResolutionRefused) as twice:
        evidence.receipt_on_statement(window, "UKT7ZQ4M2P", bill(), KPLC, NOW)
    assert twice.value.code == "receipt_mismatch"
    with pytest.raises(evidence.ResolutionRefused) as absent:
        evidence.receipt_on_statement(window, "NOPE000000", bill(), KPLC, NOW)
    assert absent.value.code == "receipt_not_on_statement"


def test_an_unreadable_or_absent_statement_is_unavailable_not_proof():
    with pytest.raises(evidence.StatementUnreadable):
        evidence.statement_window(None, bill(), NOW)
    with pytest.raises(evidence.StatementUnreadable):
        evidence.statement_window(FakeStatement(broken={date(2026, 3, 10)}), bill(), NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"counterparty": ""},  # the parser could not read the paybill: no alibi
        {"reference": ""},
    ],
)
def test_proving_nothing_paid_counts_any_line_that_could_be_the_bill_s(changes):
    assert evidence.may_pay_bill(paid(**changes), bill(), KPLC, NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"direction": "in"},
        {"amount": 79_900},
        {"counterparty": "888888"},
        {"reference": "99999999999"},
        {"completed_at": HELD_AT - timedelta(hours=1)},
    ],
)
def test_a_line_that_plainly_is_another_payment_is_no_payment_of_the_bill(changes):
    assert not evidence.may_pay_bill(paid(**changes), bill(), KPLC, NOW)
