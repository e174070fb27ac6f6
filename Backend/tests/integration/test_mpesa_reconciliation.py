"""M-Pesa reconciliation over real HTTP: deposits and withdrawals made through
PayTrace's M-Pesa flow, paid by the local Daraja sandbox, compared with the sandbox's
statement; the report stored, versioned per day, read through the admin API, run by
the command and the daily worker loop. It reports and never moves money."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg2
import pytest

from app.cli import reconcile_mpesa
from app.db import leases
from app.db.leases import Lease
from app.db.unit_of_work import UnitOfWork
from app.domain.mpesa_reconciliation import (
    AMOUNT_MISMATCH,
    EAT,
    MISSING_AT_MPESA,
    MISSING_AT_PAYTRACE,
    STATE_MISMATCH,
    StatementEntry,
    eat_day,
)
from app.integrations.mpesa_statement import StatementFiles, StatementUnavailable
from app.integrations.mpesa_statement_fake import FakeStatement
from app.services.mpesa_reconciliation import reconcile_day
from app.worker.mpesa_reconciliation import MpesaReconciliationJob
from tests.support.mpesa import CALLBACK_FIRST, rows
from tests.support.mpesa_recon import (
    KES,
    deposit_left_pending,
    deposit_settled,
    mpesa_loses,
    mpesa_paid_instead,
    paid_at_mpesa_only,
    receipt_of,
    recon_rig,
    withdrawal_settled,
)


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with recon_rig(live_settings, database, tmp_path) as rig:
        yield rig


@pytest.fixture
def callback_first_rig(live_settings, database, tmp_path):
    """The rig for a test whose pushes must be settled by callbacks (they carry receipts)."""
    with recon_rig(live_settings, database, tmp_path, **CALLBACK_FIRST) as rig:
        yield rig


def today() -> date:
    return eat_day(datetime.now(UTC))


def money(database) -> list[tuple]:
    """Every ledger balance and the journal's size: what must not move."""
    return rows(
        database,
        "SELECT code, balance FROM ledger_accounts ORDER BY id",
    ) + rows(database, "SELECT count(*) FROM journal_transactions")


def stored_items(database, report_id: int) -> list[tuple]:
    return rows(
        database,
        "SELECT kind, direction, paytrace_reference, mpesa_receipt, delta"
        " FROM mpesa_reconciliation_items WHERE report_id = %(r)s ORDER BY id",
        r=report_id,
    )


def test_what_paytrace_moved_through_m_pesa_agrees_with_the_sandbox_statement(
    callback_first_rig,
):
    rig = callback_first_rig
    paid_in = [
        deposit_settled(rig, 500 * KES, "completed"),
        deposit_settled(rig, 40 * KES, "completed"),
    ]
    deposit_settled(rig, 132 * KES, "failed")  # cancelled by the customer: nothing paid
    paid_out = withdrawal_settled(rig, 300 * KES, "completed")
    withdrawal_settled(rig, 111 * KES, "released")  # M-Pesa could not pay: nothing paid
    before = money(rig.database)

    report = reconcile_day(UnitOfWork(rig.database), rig.statement, today())

    assert report.sound, report.comparison.differences
    assert (report.comparison.matched, report.version, report.source) == (3, 1, "daraja_sandbox")
    totals = report.comparison.totals
    assert (totals.mpesa_in, totals.paytrace_in) == (540 * KES, 540 * KES)
    assert (totals.mpesa_out, totals.paytrace_out) == (300 * KES, 300 * KES)
    assert all(receipt_of(rig, ref) for ref in [*paid_in, paid_out])
    assert money(rig.database) == before
    assert rows(
        rig.database, "SELECT day, version, matched, differences FROM mpesa_reconciliation_reports"
    ) == [(today(), 1, 3, 0)]


def test_every_kind_of_difference_is_found_stored_and_totalled(rig):
    lost = deposit_settled(rig, 500 * KES, "completed")
    changed = withdrawal_settled(rig, 300 * KES, "completed")
    pending = deposit_left_pending(rig, 250 * KES)
    stranger = paid_at_mpesa_only(rig, 70)
    mpesa_loses(rig, receipt_of(rig, lost))
    mpesa_paid_instead(rig, receipt_of(rig, changed), 3_000)
    before = money(rig.database)

    report = reconcile_day(UnitOfWork(rig.database), rig.statement, today())

    assert not report.sound and report.comparison.matched == 0
    assert sorted(stored_items(rig.database, report.id)) == sorted(
        [
            (MISSING_AT_MPESA, "in", lost, None, -500 * KES),
            (AMOUNT_MISMATCH, "out", changed, receipt_of(rig, changed), 2_700 * KES),
            (STATE_MISMATCH, "in", pending, _receipt_in_statement(rig, pending), 250 * KES),
            (MISSING_AT_PAYTRACE, "in", None, stranger, 70 * KES),
        ]
    )
    totals = report.comparison.totals
    assert (totals.difference_in, totals.difference_out) == ((-500 + 250 + 70) * KES, 2_700 * KES)
    assert money(rig.database) == before  # it reports; it never moves money


def _receipt_in_statement(rig, reference: str) -> str:
    [entry] = [e for e in rig.statement.entries(today()) if e.reference == reference]
    return entry.receipt


def test_a_day_run_again_is_a_new_version_and_the_admin_api_shows_the_latest(rig, live_settings):
    token = live_settings.admin_token.get_secret_value()
    url = f"{rig.paytrace.url}/api/v1/admin/reconciliation/mpesa"
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=auth).status_code == 404
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, params={"day": "29-11-2026"}, headers=auth).status_code == 422

    first = reconcile_day(UnitOfWork(rig.database), rig.statement, today())
    stranger = paid_at_mpesa_only(rig, 70)
    second = reconcile_day(UnitOfWork(rig.database), rig.statement, today())

    assert (first.version, first.sound, second.version, second.sound) == (1, True, 2, False)
    latest = httpx.get(url, headers=auth).json()
    by_day = httpx.get(url, params={"day": today().isoformat()}, headers=auth).json()
    assert latest == by_day
    assert (latest["id"], latest["version"], latest["sound"], latest["differences"]) == (
        second.id,
        2,
        False,
        1,
    )
    [item] = latest["items"]
    assert (item["kind"], item["mpesa_receipt"], item["delta"]) == (
        MISSING_AT_PAYTRACE,
        stranger,
        70 * KES,
    )
    assert latest["totals"]["difference_in"] == 70 * KES
    other_day = (today() - timedelta(days=3)).isoformat()
    assert httpx.get(url, params={"day": other_day}, headers=auth).status_code == 404
    # The first version stays as it was: reports are append-only.
    with pytest.raises(psycopg2.Error, match="append-only"):
        rows(rig.database, "UPDATE mpesa_reconciliation_reports SET differences = 0")
    versions = "SELECT version, differences FROM mpesa_reconciliation_reports ORDER BY 1"
    assert rows(rig.database, versions) == [(1, 0), (2, 1)]


def test_the_command_exits_0_when_both_sides_agree_and_1_on_differences(rig, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(rig.settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", rig.database.dsn)
    monkeypatch.setenv("DARAJA_BASE_URL", rig.settings.daraja_base_url)
    day = today().isoformat()
    deposit_settled(rig, 500 * KES, "completed")

    assert reconcile_mpesa.main(["--day", day]) == 0
    paid_at_mpesa_only(rig, 70)
    assert reconcile_mpesa.main(["--day", day]) == 1
    assert rows(rig.database, "SELECT max(version) FROM mpesa_reconciliation_reports") == [(2,)]
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert reconcile_mpesa.main(["--day", tomorrow]) == 2  # a day not begun
    monkeypatch.setenv("MPESA_STATEMENT_DIR", str(rig.settings.data_dir / "no-statements"))
    assert reconcile_mpesa.main(["--day", day]) == 3  # no statement downloaded for it


# ---- without the sandbox: the statement files and the daily loop ---------------------------


def test_a_day_without_its_statement_file_stores_nothing(clean_database, tmp_path):
    with pytest.raises(StatementUnavailable, match="no M-Pesa statement"):
        reconcile_day(UnitOfWork(clean_database), StatementFiles(tmp_path), date(2026, 11, 29))
    assert rows(clean_database, "SELECT count(*) FROM mpesa_reconciliation_reports") == [(0,)]


def _clock(moment: datetime):
    return lambda: moment


def test_the_daily_job_reconciles_yesterday_once_after_its_delay(clean_database):
    statement = FakeStatement()
    day = date(2026, 11, 29)
    statement.add(
        StatementEntry("UKT0000ZZ9", datetime(2026, 11, 29, 12, tzinfo=EAT), 7_000, "in", "2547")
    )
    midnight = datetime(2026, 11, 30, tzinfo=EAT)

    early = MpesaReconciliationJob(
        clean_database, statement, delay_s=3600, clock=_clock(midnight + timedelta(minutes=30))
    )
    assert early.run_if_due() == pytest.approx(1800)
    assert statement.asked == []

    due = MpesaReconciliationJob(
        clean_database, statement, delay_s=3600, clock=_clock(midnight + timedelta(hours=2))
    )
    wait = due.run_if_due()
    assert wait == 3600  # looks again within the hour; tomorrow's run is 23 h away
    again = due.run_if_due()
    assert again == wait
    stored = "SELECT day, version, differences FROM mpesa_reconciliation_reports"
    assert rows(clean_database, stored) == [(day, 1, 1)]


def test_one_worker_at_a_time_runs_the_daily_job(clean_database):
    statement = FakeStatement()
    moment = datetime(2026, 11, 30, 3, tzinfo=EAT)
    job = MpesaReconciliationJob(clean_database, statement, delay_s=0, clock=_clock(moment))
    other = Lease(clean_database, leases.MPESA_RECONCILIATION)
    assert other.held()
    try:
        job.run_if_due()
        assert statement.asked == []
    finally:
        other.release()
    job.run_if_due()
    assert statement.asked  # once the other let go


def test_a_statement_not_there_yet_is_asked_for_again_later(clean_database):
    statement = FakeStatement(missing={date(2026, 11, 29)})
    moment = datetime(2026, 11, 30, 3, tzinfo=EAT)
    job = MpesaReconciliationJob(clean_database, statement, delay_s=0, clock=_clock(moment))

    with pytest.raises(StatementUnavailable):
        job.run_if_due()
    statement.missing.clear()
    job.run_if_due()
    assert rows(clean_database, "SELECT day FROM mpesa_reconciliation_reports") == [
        (date(2026, 11, 29),)
    ]


def test_the_worker_runs_the_daily_job_wherever_there_is_a_statement(settings, clean_database):
    from app.config import Settings
    from app.worker import loops as worker_loops

    def names(some: Settings) -> list[str]:
        return [loop.name for loop in worker_loops.build_loops(some, clean_database)]

    assert settings.daraja_sandbox_enabled and "mpesa-reconciliation" in names(settings)
    real_daraja = Settings(
        **{
            **settings.model_dump(exclude={"daraja_consumer_key"}),
            "daraja_consumer_key": "a-real-consumer-key",
        }
    )
    assert not real_daraja.daraja_sandbox_enabled
    assert "mpesa-reconciliation" not in names(real_daraja)  # nothing to compare with
    with_files = real_daraja.model_copy(update={"mpesa_statement_dir": "/srv/mpesa"})
    assert "mpesa-reconciliation" in names(with_files)


def test_the_latest_report_is_the_most_recent_day_s_even_after_an_older_day_is_run_again(
    clean_database,
):
    from app.db.unit_of_work import UnitOfWork
    from app.services import mpesa_reconciliation

    statement = FakeStatement()
    older, newer = date(2026, 11, 28), date(2026, 11, 29)
    reconcile_day(UnitOfWork(clean_database), statement, older)
    reconcile_day(UnitOfWork(clean_database), statement, newer)
    again = reconcile_day(UnitOfWork(clean_database), statement, older)

    latest, _ = mpesa_reconciliation.report(UnitOfWork(clean_database))
    of_older, _ = mpesa_reconciliation.report(UnitOfWork(clean_database), older)
    assert (latest.day, latest.version) == (newer, 1)
    assert (of_older.id, of_older.version) == (again.id, 2)
