"""Reading M-Pesa's statement: the org portal's rows (CSV in production, the same rows
from the sandbox) as entries; anything unreadable refuses the whole statement."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.domain.mpesa_reconciliation import EAT
from app.integrations.mpesa_statement import (
    StatementFiles,
    StatementUnavailable,
    entry_from_row,
)

HEADER = (
    "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,"
    "Withdrawn,Balance,Reason Type,Other Party Info,A/C No.\n"
)
ROWS = (
    'UKT0000AA1,2026-11-29 09:00:05,2026-11-29 09:00:01,Pay Bill Online,Completed,"1,500.00",,'
    "9000.00,Pay Bill Online,254712345678 - Jane Wanjiku,K7QX2M9PLA\n"
    "UKT0000BB1,29-11-2026 10:00:04,29-11-2026 10:00:00,Business Payment,Completed,,-500.00,"
    "8500.00,Business Payment to Customer via API,254712345678 - Jane Wanjiku,W2QX2M9PLA\n"
    "UKT0000CC1,2026-11-29 10:00:04,2026-11-29 10:00:00,Charge,Completed,,-15.00,8485.00,"
    "Business Payment Charge,,\n"
    "UKT0000DD1,2026-11-29 11:00:00,2026-11-29 11:00:00,Pay Bill Online,Failed,100.00,,"
    "8485.00,Pay Bill Online,254712345678 - Jane Wanjiku,X\n"
)


def test_a_statement_file_is_read_as_completed_customer_entries(tmp_path):
    (tmp_path / "2026-11-29.csv").write_text(HEADER + ROWS, encoding="utf-8-sig")

    entries = StatementFiles(tmp_path).entries(date(2026, 11, 29))

    assert [(e.receipt, e.direction, e.amount, e.reference, e.counterparty) for e in entries] == [
        ("UKT0000AA1", "in", 150_000, "K7QX2M9PLA", "254712345678"),
        ("UKT0000BB1", "out", 50_000, "W2QX2M9PLA", "254712345678"),
    ]
    assert entries[1].completed_at == datetime(2026, 11, 29, 10, 0, 4, tzinfo=EAT)


def test_a_day_without_its_file_has_no_statement_yet(tmp_path):
    assert StatementFiles(tmp_path).entries(date(2026, 11, 29)) is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("Paid In", "10.005", "not an amount"),
        ("Paid In", "ten", "not an amount"),
        ("Paid In", "1e3", "not an amount"),
        ("Paid In", "Infinity", "not an amount"),
        ("Paid In", "NaN", "not an amount"),
        ("Paid In", "1,00.00", "not an amount"),
        ("Paid In", "99999999999999999", "out of range"),
        ("Completion Time", "yesterday", "not a time"),
        ("Receipt No.", "", "no receipt"),
        ("Withdrawn", "-5.00", "both"),
    ],
)
def test_an_unreadable_row_refuses_the_whole_statement(field, value, reason):
    row = {
        "Receipt No.": "UKT0000AA1",
        "Completion Time": "2026-11-29 09:00:05",
        "Transaction Status": "Completed",
        "Paid In": "100.00",
        "Withdrawn": "",
        "Reason Type": "Pay Bill Online",
        field: value,
    }
    with pytest.raises(StatementUnavailable, match=reason):
        entry_from_row(row)


def test_a_file_that_is_not_text_is_unavailable_not_a_crash(tmp_path):
    (tmp_path / "2026-11-29.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(StatementUnavailable):
        StatementFiles(tmp_path).entries(date(2026, 11, 29))
