"""M-Pesa reconciliation as a hostile edge: a statement that claims payments, one that
is malformed or oversized, and hostile requests to the admin route. Whatever the
statement says, no money moves, no deposit or withdrawal changes state and nothing is
queued; an unreadable statement stores nothing; a bad request is a 4xx with a JSON
body."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.mpesa_reconciliation import STATE_MISMATCH, StatementEntry, eat_day
from app.integrations.mpesa_statement import MAX_FILE_BYTES, StatementFiles, StatementUnavailable
from app.integrations.mpesa_statement_fake import FakeStatement
from app.services.mpesa.deposits import DepositRequest, request_deposit
from app.services.mpesa.withdrawals import WithdrawalRequest, withdraw
from app.services.mpesa_reconciliation import reconcile_day
from app.services.pins import PinHasher, PinPolicy
from tests.support.mpesa import rows
from tests.support.wallets import fund, phone_of, register, registration_secrets

KES = 100
PIN = "4821"
DAY = date(2026, 11, 29)


def state(database) -> list:
    """Everything reconciliation must leave as it is: balances, journal, deposits,
    withdrawals, the outbox and the SMS."""
    return [
        rows(database, "SELECT code, user_id, balance FROM ledger_accounts ORDER BY id"),
        rows(database, "SELECT count(*) FROM journal_transactions"),
        rows(database, "SELECT reference, status, receipt FROM mpesa_deposits ORDER BY id"),
        rows(database, "SELECT reference, status, receipt FROM mpesa_withdrawals ORDER BY id"),
        rows(database, "SELECT id, kind, status FROM outbox ORDER BY id"),
        rows(database, "SELECT count(*) FROM sms_messages"),
    ]


def test_a_statement_claiming_payments_moves_no_money_and_settles_nothing(settings, clean_database):
    box, pin_hash = registration_secrets(settings, PIN)
    user_id = register(clean_database, box, pin_hash, phone=phone_of(1))
    fund(clean_database, phone_of(1), 1_000 * KES)
    requested = request_deposit(
        UnitOfWork(clean_database),
        DepositRequest(user_id, 500 * KES, uuid.uuid4().hex, "api"),
        query_after_s=60,
    )
    held = withdraw(
        UnitOfWork(clean_database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        WithdrawalRequest(user_id, 300 * KES, uuid.uuid4().hex, "api"),
        pin=PIN,
        result_wait_s=60,
    )
    now = datetime.now(UTC)
    statement = FakeStatement()
    statement.add(
        # "Paid" for a deposit PayTrace has not heard of, and for a held withdrawal.
        StatementEntry("UKT0000AA1", now, 500 * KES, "in", "254", requested.deposit.reference),
        StatementEntry("UKT0000BB1", now, 300 * KES, "out", "254", held.withdrawal.reference),
        StatementEntry("UKT0000CC1", now, 9_999 * KES, "in", "254", "NOBODY"),
    )
    before = state(clean_database)

    report = reconcile_day(UnitOfWork(clean_database), statement, eat_day(now))

    assert [d.kind for d in report.comparison.differences].count(STATE_MISMATCH) == 2
    assert len(report.comparison.differences) == 3
    assert state(clean_database) == before


@pytest.mark.parametrize(
    "row",
    [
        # A spreadsheet formula where the reference goes is data, not code; the bad
        # amount beside it refuses the statement.
        "UKT0000AA1,2026-11-29 09:00:05,Completed,Infinity,,Pay Bill Online,2547,"
        '"=HYPERLINK(""x"")"',
        "UKT0000AA1,2026-11-29 09:00:05,Completed,1e400,,Pay Bill Online,254712345678,X",
        "UKT0000AA1,2026-11-29 09:00:05,Completed,99999999999999999999,,Pay Bill Online,2547,X",
        "UKT0000AA1,not a time,Completed,100.00,,Pay Bill Online,254712345678,X",
        "UKT0000AA1,2026-11-29 09:00:05,Completed,100.00,-100.00,Pay Bill Online,254712345678,X",
        "UKT0000AA1,2026-11-29 09:00:05,Completed," + "9" * 200_000 + ",,Pay Bill Online,2547,X",
    ],
)
def test_a_hostile_statement_file_stores_nothing(clean_database, tmp_path, row):
    header = "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn,Reason Type,"
    header += "Other Party Info,A/C No.\n"
    (tmp_path / f"{DAY}.csv").write_text(header + row + "\n")
    before = state(clean_database)

    with pytest.raises(StatementUnavailable):
        reconcile_day(UnitOfWork(clean_database), StatementFiles(tmp_path), DAY)

    assert rows(clean_database, "SELECT count(*) FROM mpesa_reconciliation_reports") == [(0,)]
    assert state(clean_database) == before


def test_an_oversized_statement_file_is_refused_before_it_is_read(clean_database, tmp_path):
    path = tmp_path / f"{DAY}.csv"
    with path.open("wb") as handle:  # sparse: no disk is spent
        handle.truncate(MAX_FILE_BYTES + 1)
    assert os.path.getsize(path) > MAX_FILE_BYTES

    with pytest.raises(StatementUnavailable, match="larger than"):
        reconcile_day(UnitOfWork(clean_database), StatementFiles(tmp_path), DAY)
    assert rows(clean_database, "SELECT count(*) FROM mpesa_reconciliation_reports") == [(0,)]


@pytest.fixture
def route(live_server, live_settings):
    token = live_settings.admin_token.get_secret_value()
    return f"{live_server.url}/api/v1/admin/reconciliation/mpesa", {
        "Authorization": f"Bearer {token}"
    }


@pytest.mark.parametrize(
    "day",
    ["29-11-2026", "2026-02-30", "../../etc/passwd", "2026-11-29'; DROP TABLE x;--", "9" * 5000,
     "", "\u0000", "2026-11-29 junk"],
)  # fmt: skip
def test_a_hostile_day_is_a_422_with_a_json_body(route, clean_database, day):
    url, auth = route
    answer = httpx.get(url, params={"day": day}, headers=auth)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]
    assert rows(clean_database, "SELECT count(*) FROM mpesa_reconciliation_reports") == [(0,)]


def test_the_route_needs_the_admin_token_and_only_reads(route, clean_database):
    url, auth = route
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = httpx.request(method, url, headers=auth, json={"day": str(DAY)})
        assert answer.status_code == 405 and answer.json()["error"]
    yesterday = (eat_day(datetime.now(UTC)) - timedelta(days=1)).isoformat()
    assert httpx.get(url, params={"day": yesterday}, headers=auth).status_code == 404
    assert rows(clean_database, "SELECT count(*) FROM mpesa_reconciliation_reports") == [(0,)]
