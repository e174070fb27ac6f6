"""Recurring pay runs on real PostgreSQL: a worker's pay on a schedule, paid through the
scheduled payments' machinery (the 31st on the last day of February, leap or not), the
day-before SMS once, the no-funds policy, a run approved before a crash recorded paid,
and the worker paid once by the outbox. A run waiting for funds:
test_wage_schedules_funds.py."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import ValidationFailed, WorkerNotFound
from app.services.schedules import manage, runs
from app.services.schedules import wages as wage_schedules
from app.services.schedules.kinds import EXECUTORS
from app.services.wages import employers
from app.worker.handlers import HandlerRegistry
from app.worker.outbox import OutboxWorker
from app.worker.schedules import ScheduledPaymentsJob
from app.worker.wage_handlers import WageLineHandler
from tests.support.schedules import eat, occurrences, schedule_status, sms_keys
from tests.support.wallets import (
    LedgerCheck,
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

CLEAN = LedgerCheck(0, 0, 0, 0, 0)
NOW = eat(2027, 1, 20, 10)
MINIMUM_WAGE = 1_611_375  # Nairobi domestic worker, KES 16,113.75 a month
NET = 1_446_208  # its net pay under the 2026 rules (docs/wages.md)


@pytest.fixture
def household(clean_database, settings):
    """An employer and one registered worker paid the minimum wage monthly."""
    box, pin_hash = registration_secrets(settings)
    db = clean_database
    employer = register(db, box, pin_hash, phone=phone_of(1), name="Wanjiru Kamau")
    worker_user = register(db, box, pin_hash, phone=phone_of(2), name="Achieng Odhiambo")
    assert employers.become_employer(UnitOfWork(db), employer)
    worker = add(db, employer, phone_of(2), "Achieng", "monthly")
    return db, employer, worker_user, worker


def add(db, employer: int, phone: str, name: str, frequency: str):
    return employers.add_worker(
        UnitOfWork(db),
        employer_user_id=employer,
        phone=phone,
        display_name=name,
        gross_pay=MINIMUM_WAGE,
        frequency=frequency,
        deductions=["nssf", "shif", "ahl", "paye"],
    )


def schedule(db, employer: int, worker_id: int, day: int, key: str = "k1", now=NOW, **more):
    return wage_schedules.schedule_pay(
        UnitOfWork(db),
        wage_schedules.NewWageSchedule(
            employer_user_id=employer,
            worker_id=worker_id,
            day=day,
            at_time=time(9, 0),
            start_date=now.date(),
            idempotency_key=key,
            channel="api",
            **more,
        ),
        now,
    )


def job_at(db, when) -> ScheduledPaymentsJob:
    return ScheduledPaymentsJob(db, shortcode="*1#", clock=lambda: when)


def pay_lines(db) -> None:
    handlers = HandlerRegistry(WageLineHandler())
    OutboxWorker(db, handlers, backoff=lambda attempt: 0.0, batch_size=5_000).run_once()


def runs_of(db) -> list[tuple[date, str, str]]:
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pay_date, status, channel FROM pay_runs ORDER BY id")
        found = cur.fetchall()
        conn.rollback()
    return found


def test_the_31st_pays_on_the_last_day_of_february_and_the_worker_is_paid_once(household):
    db, employer, worker_user, worker = household
    fund(db, phone_of(1), 10_000_000)
    made = schedule(db, employer, worker.id, day=31).schedule
    assert (made.kind, made.payee, made.payee_name) == ("wage", str(worker.id), "Achieng")
    assert made.amount > MINIMUM_WAGE  # the whole cost: the employer's shares too
    assert made.next_due_at == eat(2027, 1, 31, 9)

    for due in (eat(2027, 1, 31, 9), eat(2027, 2, 28, 9)):
        ran = job_at(db, due).run_once().ran
        assert [r.status for r in ran] == ["paid"]
        pay_lines(db)
        again = job_at(db, due + timedelta(minutes=1)).run_once().ran
        assert again == []  # nothing paid twice
    assert runs_of(db) == [
        (date(2027, 1, 31), "completed", "system"),
        (date(2027, 2, 28), "completed", "system"),
    ]
    assert wallet_balance(db, worker_user) == 2 * NET
    with UnitOfWork(db) as uow:
        assert uow.schedules.get(made.id).next_due_at == eat(2027, 3, 31, 9)
    assert [o.status for o in occurrences(db, made.id)] == ["paid", "paid"]
    assert check_ledger(db) == CLEAN


def test_the_31st_in_a_leap_year_pays_on_the_29th_of_february(household):
    db, employer, _, worker = household
    made = schedule(db, employer, worker.id, day=31, now=eat(2028, 2, 1, 10)).schedule
    assert made.next_due_at == eat(2028, 2, 29, 9)


def test_the_employer_is_reminded_the_day_before_once(household):
    db, employer, _, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    assert job_at(db, eat(2027, 1, 30, 10)).run_once().reminded == 1
    assert job_at(db, eat(2027, 1, 30, 11)).run_once().reminded == 0
    assert sms_keys(db, "schedule_reminder:") == [
        f"schedule_reminder:{made.id}:{runs.instant_key(eat(2027, 1, 31, 9))}"
    ]


def test_no_funds_is_retried_then_skipped_and_three_skips_pause(household):
    db, employer, worker_user, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    due = eat(2027, 1, 31, 9)
    for day in range(3):
        ran = job_at(db, due + timedelta(days=day)).run_once().ran
        assert [(r.status, r.reason) for r in ran] == [
            ("retrying" if day < 2 else "skipped", "no_funds")
        ]
    assert schedule_status(db, made.id) == ("active", 1)
    assert len(sms_keys(db, "schedule_short:")) == 2
    assert len(sms_keys(db, "schedule_skipped:")) == 1
    # The run waited approved, then was canceled with its occurrence: nothing held.
    assert runs_of(db) == [(date(2027, 1, 31), "canceled", "system")]
    assert wallet_balance(db, worker_user) == 0
    for due in (eat(2027, 2, 28, 9), eat(2027, 3, 31, 9)):
        for day in range(3):
            job_at(db, due + timedelta(days=day)).run_once()
    assert schedule_status(db, made.id) == ("paused", 3)
    assert len(sms_keys(db, "schedule_paused:")) == 1
    # No run of a skipped occurrence is left open.
    assert {status for _, status, _ in runs_of(db)} == {"canceled"}
    assert check_ledger(db) == CLEAN


def test_a_run_approved_before_a_crash_is_recorded_paid_not_made_again(household):
    db, employer, worker_user, worker = household
    fund(db, phone_of(1), 10_000_000)
    made = schedule(db, employer, worker.id, day=31).schedule
    due = eat(2027, 1, 31, 9)
    runs.materialise_due(UnitOfWork(db), due, shortcode="*1#")
    (occurrence,) = occurrences(db, made.id)
    with UnitOfWork(db) as uow:
        kept = uow.schedules.get(made.id)
    # The worker made and approved the run, then died before recording it.
    paid = EXECUTORS["wage"].pay(
        UnitOfWork(db), kept, runs.occurrence_key(occurrence.id), due, due, bill_rails=()
    )
    ran = job_at(db, due + timedelta(minutes=5)).run_once().ran
    assert [(r.status, r.reference) for r in ran] == [("paid", paid.reference)]
    (after,) = occurrences(db, made.id)
    assert after.transaction_id == paid.transaction_id
    pay_lines(db)
    assert len(runs_of(db)) == 1
    assert wallet_balance(db, worker_user) == NET
    assert check_ledger(db) == CLEAN


def test_a_removed_worker_is_skipped_and_a_daily_worker_has_no_schedule(household):
    db, employer, _, worker = household
    made = schedule(db, employer, worker.id, day=31).schedule
    employers.remove_worker(UnitOfWork(db), employer, worker.id)
    ran = job_at(db, eat(2027, 1, 31, 9)).run_once().ran
    assert [(r.status, r.reason) for r in ran] == [("skipped", "refused:no_workers")]
    assert schedule_status(db, made.id) == ("active", 1)
    with pytest.raises(WorkerNotFound):
        schedule(db, employer, worker.id, day=31, key="k2")
    daily = add(db, employer, phone_of(3), "Kiprop", "daily")
    with pytest.raises(ValidationFailed) as refused:
        schedule(db, employer, daily.id, day=1, key="k3")
    assert refused.value.code == "daily_not_scheduled"


def test_a_weekly_worker_is_paid_on_the_weekday_and_listed_and_stopped(household):
    db, employer, _, _ = household
    weekly = add(db, employer, phone_of(3), "Kiprop", "weekly")
    made = schedule(db, employer, weekly.id, day=5).schedule  # Friday
    assert made.next_due_at == eat(2027, 1, 22, 9)
    assert [s.id for s in wage_schedules.list_wage_schedules(UnitOfWork(db), employer)] == [made.id]
    stopped = manage.stop(UnitOfWork(db), employer, made.id, NOW)
    assert stopped.status == "stopped"
    assert job_at(db, eat(2027, 1, 22, 9)).run_once().ran == []


def test_edited_terms_pay_the_next_run_and_a_scheduled_worker_keeps_the_frequency(household):
    db, employer, worker_user, worker = household
    fund(db, phone_of(1), 10_000_000)
    made = schedule(db, employer, worker.id, day=31).schedule
    edited = employers.edit_worker(
        UnitOfWork(db), employer, worker.id, display_name=" Achieng O ", gross_pay=2_000_000,
        deductions=["paye", "nssf"],
    )  # fmt: skip
    assert (edited.display_name, edited.gross_pay, edited.frequency, edited.deductions) == (
        "Achieng O", 2_000_000, "monthly", ("nssf", "paye"))  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        employers.edit_worker(UnitOfWork(db), employer, worker.id, frequency="weekly")
    assert refused.value.code == "frequency_scheduled"
    with pytest.raises(ValidationFailed) as refused:
        employers.edit_worker(UnitOfWork(db), employer, worker.id, deductions=["lottery"])
    assert refused.value.code == "invalid_deductions"
    with pytest.raises(WorkerNotFound):
        employers.edit_worker(UnitOfWork(db), employer, worker.id + 99, gross_pay=1)

    assert [r.status for r in job_at(db, eat(2027, 1, 31, 9)).run_once().ran] == ["paid"]
    pay_lines(db)
    # KES 20,000 gross: NSSF 6 % (1,200), no SHIF nor levy; PAYE on 18,800 (1,880) is
    # under the relief (2,400), so none.
    assert wallet_balance(db, worker_user) == 2_000_000 - 120_000
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT display_name, gross FROM pay_run_lines")
        assert cur.fetchall() == [("Achieng O", 2_000_000)]
        conn.rollback()

    manage.stop(UnitOfWork(db), employer, made.id, eat(2027, 2, 1))
    weekly = employers.edit_worker(UnitOfWork(db), employer, worker.id, frequency="weekly")
    assert weekly.frequency == "weekly"
    assert check_ledger(db) == CLEAN
