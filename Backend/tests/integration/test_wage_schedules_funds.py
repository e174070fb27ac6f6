"""A wage schedule's run short of funds, on real PostgreSQL with a controlled clock: it
waits 'approved' (nothing held), a retry that finds the money holds it once (two
workers racing on it too), a skipped occurrence (no funds to the end, the schedule
paused) cancels it, and the database refuses any step back."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import psycopg2
import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import InsufficientFunds
from app.services.schedules import manage, runs
from app.services.schedules.kinds import EXECUTORS
from app.services.wages import pay_runs, reports
from tests.integration.test_wage_schedules import (
    CLEAN,
    MINIMUM_WAGE,
    NET,
    household,  # noqa: F401 (a fixture)
    job_at,
    pay_lines,
    runs_of,
    schedule,
)
from tests.support.schedules import eat, occurrences, sms_keys
from tests.support.wallets import check_ledger, fund, phone_of, wallet_balance

DUE = eat(2027, 1, 31, 9)
COST = MINIMUM_WAGE + 96_683 + 24_171  # gross and the employer's NSSF and levy


def run_row(db) -> tuple:
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, status, approved_at, hold_id, ended_at FROM pay_runs")
        (found,) = cur.fetchall()
        conn.rollback()
    return found


def holds(db) -> int:
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM journal_transactions WHERE kind = 'wage_hold'")
        found = cur.fetchone()[0]
        conn.rollback()
    return found


def test_a_run_short_of_funds_waits_approved_and_the_retry_that_finds_them_holds_once(
    household,  # noqa: F811
):
    db, employer, worker_user, worker = household
    fund(db, phone_of(1), COST - 1)  # one cent short
    made = schedule(db, employer, worker.id, day=31).schedule

    first = job_at(db, DUE).run_once().ran
    assert [(r.status, r.reason) for r in first] == [("retrying", "no_funds")]
    assert run_row(db)[1:] == ("approved", DUE, None, None)
    second = job_at(db, DUE + timedelta(days=1)).run_once().ran
    assert [r.status for r in second] == ["retrying"]
    assert run_row(db)[1:3] == ("approved", DUE)  # still waiting, approved when it was
    assert wallet_balance(db, employer) == COST - 1  # nothing held meanwhile

    fund(db, phone_of(1), 1, reference="the last cent")
    third = job_at(db, DUE + timedelta(days=2)).run_once().ran
    assert [r.status for r in third] == ["paid"]
    assert run_row(db)[1:3] == ("funded", DUE)
    assert job_at(db, DUE + timedelta(days=3)).run_once().ran == []
    pay_lines(db)
    assert run_row(db)[1] == "completed"
    assert (holds(db), wallet_balance(db, employer)) == (1, 0)
    assert wallet_balance(db, worker_user) == NET
    assert [o.status for o in occurrences(db, made.id)] == ["paid"]
    assert len(sms_keys(db, "schedule_short:")) == 2
    assert sms_keys(db, "schedule_skipped:") == []
    # Held, the run counts in the month's dues; waiting or canceled ones never do.
    assert len(reports.dues_rows(UnitOfWork(db), employer, 2027, 1)) > 0
    assert check_ledger(db) == CLEAN


def test_the_employer_approving_the_waiting_run_pays_it_and_the_retry_records_it(
    household,  # noqa: F811
):
    db, employer, worker_user, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    job_at(db, DUE).run_once()
    run_id = run_row(db)[0]
    with pytest.raises(InsufficientFunds):  # the employer's own approval: still short
        pay_runs.approve_pay_run(UnitOfWork(db), employer_user_id=employer, run_id=run_id)
    fund(db, phone_of(1), COST, reference="payday")
    funded = pay_runs.approve_pay_run(UnitOfWork(db), employer_user_id=employer, run_id=run_id)
    assert funded.run.status == "funded" and not funded.replayed

    ran = job_at(db, DUE + timedelta(days=1)).run_once().ran
    assert [(r.status, r.reference) for r in ran] == [("paid", funded.run.reference)]
    pay_lines(db)
    assert (holds(db), wallet_balance(db, worker_user)) == (1, NET)
    assert [o.status for o in occurrences(db, made.id)] == ["paid"]
    assert check_ledger(db) == CLEAN


def test_two_workers_retrying_the_same_waiting_run_hold_it_once(household):  # noqa: F811
    db, employer, _, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    job_at(db, DUE).run_once()
    assert run_row(db)[1] == "approved"
    fund(db, phone_of(1), 3 * COST)
    with UnitOfWork(db) as uow:
        kept = uow.schedules.get(made.id)
    (occurrence,) = occurrences(db, made.id)
    key = runs.occurrence_key(occurrence.id)
    later = DUE + timedelta(days=1)
    start = threading.Barrier(2)
    paid = []

    def retry() -> None:
        start.wait()
        paid.append(EXECUTORS["wage"].pay(UnitOfWork(db), kept, key, later, DUE, bill_rails=()))

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(paid) == 2 and paid[0] == paid[1]  # the same hold, answered twice
    assert (holds(db), wallet_balance(db, employer)) == (1, 2 * COST)
    assert run_row(db)[1] == "funded"
    assert check_ledger(db) == CLEAN


def test_pausing_a_schedule_cancels_the_run_waiting_for_funds(household):  # noqa: F811
    db, employer, _, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    job_at(db, DUE).run_once()
    manage.pause(UnitOfWork(db), employer, made.id, DUE + timedelta(hours=1))
    run_id, status, approved_at, hold_id, ended_at = run_row(db)
    assert (status, approved_at, hold_id, ended_at) == (
        "canceled", DUE, None, DUE + timedelta(hours=1))  # fmt: skip
    assert [o.status for o in occurrences(db, made.id)] == ["skipped"]
    # Canceled for good: neither the employer's approval nor resuming revives it.
    fund(db, phone_of(1), COST, reference="payday")
    again = pay_runs.approve_pay_run(UnitOfWork(db), employer_user_id=employer, run_id=run_id)
    assert (again.run.status, again.replayed) == ("canceled", True)
    manage.resume(UnitOfWork(db), employer, made.id, DUE + timedelta(hours=2))
    assert run_row(db)[1] == "canceled"
    assert (holds(db), wallet_balance(db, employer)) == (0, COST)
    assert runs_of(db) == [(date(2027, 1, 31), "canceled", "system")]


@pytest.mark.parametrize(
    "change",
    [
        "status = 'draft', approved_at = NULL, ended_at = NULL",  # canceled -> draft
        "status = 'approved', ended_at = NULL",  # canceled -> approved
        "total_cost = total_cost + 1",  # an ended run's terms
    ],
)
def test_the_database_keeps_a_canceled_run_canceled(household, change):  # noqa: F811
    db, employer, _, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    job_at(db, DUE).run_once()
    manage.stop(UnitOfWork(db), employer, made.id, DUE + timedelta(hours=1))
    assert run_row(db)[1] == "canceled"
    with db.connection() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute(f"UPDATE pay_runs SET {change}")
        conn.rollback()


def test_the_database_refuses_a_run_going_back_or_deleted(household):  # noqa: F811
    db, employer, _, worker = household
    schedule(db, employer, worker.id, day=31)
    job_at(db, DUE).run_once()  # approved, waiting
    for sql in (
        "UPDATE pay_runs SET status = 'draft', approved_at = NULL",
        "UPDATE pay_runs SET status = 'paying'",
        "DELETE FROM pay_runs",
    ):
        with db.connection() as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.errors.CheckViolation):
                cur.execute(sql)
            conn.rollback()
