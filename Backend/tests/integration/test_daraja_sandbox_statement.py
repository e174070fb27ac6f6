"""The local Daraja sandbox's account statement over real HTTP: what it actually paid
and was paid on an East Africa Time day, in the org portal's columns, read by the same
parser as a production CSV. The port's fake is held to it (and to the CSV files) by
test_mpesa_statement_port_contract.py."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.mpesa_reconciliation import eat_day
from app.integrations.mpesa_statement import entry_from_row
from tests.support.daraja import items

SETTLED_S = 0.4  # past the 0.1 s callback delay: the customer has answered


def today() -> date:
    return eat_day(datetime.now(UTC))


def statement_rows(daraja, day: date, phone: str) -> list[dict]:
    answer = daraja.http.get("/sandbox/statement", params={"date": day.isoformat()})
    assert answer.status_code == 200, answer.text
    return [row for row in answer.json()["entries"] if row["Other Party Info"].startswith(phone)]


def test_the_statement_lists_what_completed_and_nothing_that_failed(daraja, receiver, phone):
    paid = daraja.stk_push(phone, 150, receiver.url("/s"), AccountReference="DEPREF1").json()
    daraja.stk_push(phone, 132, receiver.url("/s"))  # cancelled by the customer
    payout = daraja.b2c(phone, 300, receiver.url("/r"), receiver.url("/t"), Occasion="WDR1").json()
    daraja.b2c(phone, 111, receiver.url("/r"), receiver.url("/t"))  # not enough money
    daraja.b2c(phone, 137, receiver.url("/r"), receiver.url("/t"))  # timed out in the queue
    time.sleep(SETTLED_S)

    rows = statement_rows(daraja, today(), phone)
    entries = [entry_from_row(row) for row in rows]

    assert [(e.direction, e.amount, e.reference, e.conversation_id) for e in entries] == [
        ("in", 15_000, "DEPREF1", paid["CheckoutRequestID"]),
        ("out", 30_000, "WDR1", payout["ConversationID"]),
    ]
    [stk] = daraja.callbacks(paid["CheckoutRequestID"])
    assert entries[0].receipt == items(stk["body"])["MpesaReceiptNumber"]
    assert all(e.counterparty == phone and eat_day(e.completed_at) == today() for e in entries)
    assert rows[1]["Withdrawn"] == "-300.00" and rows[0]["Paid In"] == "150.00"


def test_another_day_s_statement_does_not_list_today_s_payments(daraja, receiver, phone):
    daraja.stk_push(phone, 150, receiver.url("/s"))
    time.sleep(SETTLED_S)
    assert statement_rows(daraja, today() - timedelta(days=1), phone) == []
    assert statement_rows(daraja, today() + timedelta(days=1), phone) == []


@pytest.mark.parametrize("bad", ["29-11-2026", "2026-13-01", "2026-11-29T00:00", "", "x" * 500])
def test_a_date_that_is_not_a_day_is_400_with_a_json_body(daraja, bad):
    answer = daraja.http.get("/sandbox/statement", params={"date": bad})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_date"
