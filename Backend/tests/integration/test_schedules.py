"""Scheduled payments on real PostgreSQL: the owner's side, the database's guards, a
crash between paying and recording, and workers racing on the same occurrences."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

import psycopg2
import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import (
    IdempotencyConflict,
    RecipientNotRegistered,
    ScheduleEnded,
    ScheduleNotFound,
    ValidationFailed,
)
from app.services.schedules import manage, runs
from app.services.schedules.kinds import EXECUTORS
from app.worker.schedules import ScheduledPaymentsJob
from tests.support.schedules import (
    eat,
    occurrences,
    schedule_status,
    schedule_transfer,
    scheduled_payment_keys,
)
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
NOW = eat(2027, 6, 1, 10)
AMOUNT = 300_000


@pytest.fixture
def users(clean_database, settings):
    box, pin_hash = registration_secrets(settings)
    return [register(clean_database, box, pin_hash, phone=phone_of(n)) for n in range(1, 11)]


def new(owner: int, to: str, key: str = "k1", **changes) -> manage.NewSchedule:
    fields = dict(
        owner_user_id=owner,
        kind="transfer",
        payee=to,
        amount=AMOUNT,
        frequency="monthly",
        day=5,
        at_time=time(9, 0),
        start_date=date(2027, 6, 1),
        idempotency_key=key,
        channel="api",
    )
    return manage.NewSchedule(**{**fields, **changes})


def test_the_same_key_answers_the_same_schedule_and_another_request_is_refused(
    clean_database, users
):
    db = clean_database
    first = manage.create(UnitOfWork(db), new(users[0], phone_of(2)), NOW)
    again = manage.create(UnitOfWork(db), new(users[0], phone_of(2)), NOW)
    assert (again.schedule.id, again.replayed, first.replayed) == (first.schedule.id, True, False)
    assert first.schedule.next_due_at == eat(2027, 6, 5, 9)
    assert first.schedule.payee_name == "Amani Otieno"
    with pytest.raises(IdempotencyConflict):
        manage.create(UnitOfWork(db), new(users[0], phone_of(2), amount=AMOUNT + 1), NOW)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kind": "lottery"}, "invalid_kind"),
        ({"amount": 0}, "invalid_amount"),
        ({"frequency": "daily"}, "invalid_schedule"),
        ({"day": 32}, "invalid_schedule"),
        ({"start_date": date(2027, 5, 31)}, "invalid_start"),
        ({"start_date": date(9998, 1, 31)}, "invalid_start"),  # past date.max in 5 years
        ({"until_date": date(2027, 6, 4)}, "invalid_schedule"),  # no date left
        ({"count": 2, "until_date": date(2027, 9, 1)}, "invalid_schedule"),
        ({"note": "x" * 101}, "invalid_note"),
        ({"payee": phone_of(1)}, "send_to_self"),
    ],
)
def test_a_wrong_schedule_is_refused_with_its_reason(clean_database, users, changes, code):
    with pytest.raises(ValidationFailed) as refused:
        manage.create(UnitOfWork(clean_database), new(users[0], phone_of(2), **changes), NOW)
    assert refused.value.code == code


def test_a_stranger_cannot_be_scheduled(clean_database, users):
    with pytest.raises(RecipientNotRegistered):
        manage.create(UnitOfWork(clean_database), new(users[0], "+254799000000"), NOW)


def test_a_user_has_at_most_max_live_schedules(clean_database, users):
    for n in range(manage.MAX_LIVE):
        manage.create(UnitOfWork(clean_database), new(users[0], phone_of(2), f"k{n}"), NOW)
    with pytest.raises(ValidationFailed) as refused:
        manage.create(UnitOfWork(clean_database), new(users[0], phone_of(2), "one-more"), NOW)
    assert refused.value.code == "too_many_schedules"


def test_only_the_owner_sees_or_changes_a_schedule(clean_database, users):
    db = clean_database
    made = manage.create(UnitOfWork(db), new(users[0], phone_of(2)), NOW).schedule
    for change in (manage.pause, manage.resume, manage.stop):
        with pytest.raises(ScheduleNotFound):
            change(UnitOfWork(db), users[1], made.id, NOW)
    with pytest.raises(ScheduleNotFound):
        manage.show(UnitOfWork(db), users[1], made.id)
    assert manage.list_for(UnitOfWork(db), users[1]) == []
    assert [s.id for s in manage.list_for(UnitOfWork(db), users[0])] == [made.id]


def test_pausing_skips_the_open_occurrence_and_resuming_does_not_make_up_for_it(
    clean_database, users
):
    db = clean_database
    made = schedule_transfer(
        db, owner=users[0], to=phone_of(2), amount=AMOUNT, frequency="monthly", day=5,
        at=time(9, 0), start=date(2027, 6, 1), now=NOW,
    )  # fmt: skip
    runs.materialise_due(UnitOfWork(db), eat(2027, 6, 5, 9), shortcode="*1#")  # no funds
    job = ScheduledPaymentsJob(db, shortcode="*1#", clock=lambda: eat(2027, 6, 5, 9))
    assert [r.status for r in job.run_once().ran] == ["retrying"]
    manage.pause(UnitOfWork(db), users[0], made, eat(2027, 6, 5, 12))
    assert [(o.status, o.reason) for o in occurrences(db, made)] == [("skipped", "paused")]
    assert manage.pause(UnitOfWork(db), users[0], made, eat(2027, 6, 6)).status == "paused"
    resumed = manage.resume(UnitOfWork(db), users[0], made, eat(2027, 8, 1))
    assert (resumed.status, resumed.next_due_at) == ("active", eat(2027, 8, 5, 9))
    stopped = manage.stop(UnitOfWork(db), users[0], made, eat(2027, 8, 2))
    assert stopped.status == "stopped"
    with pytest.raises(ScheduleEnded):
        manage.resume(UnitOfWork(db), users[0], made, eat(2027, 8, 3))
    shown = manage.show(UnitOfWork(db), users[0], made)
    assert [o.status for o in shown.occurrences] == ["skipped"]


def test_a_payment_made_before_a_crash_is_recorded_and_not_made_again(clean_database, users):
    db = clean_database
    fund(db, phone_of(1), 10 * AMOUNT)
    made = schedule_transfer(
        db, owner=users[0], to=phone_of(2), amount=AMOUNT, frequency="weekly", day=1,
        at=time(9, 0), start=date(2027, 6, 1), now=NOW,
    )  # fmt: skip
    due = eat(2027, 6, 7, 9)
    runs.materialise_due(UnitOfWork(db), due, shortcode="*1#")
    (occurrence,) = occurrences(db, made)
    with UnitOfWork(db) as uow:
        schedule = uow.schedules.get(made)
    # The worker paid, then died before recording it: the payment is committed, the
    # occurrence still due.
    paid = EXECUTORS["transfer"].pay(
        UnitOfWork(db), schedule, runs.occurrence_key(occurrence.id), due, due, bill_rails=()
    )
    ran = runs.run_next(UnitOfWork(db), UnitOfWork(db), due + timedelta(minutes=5), shortcode="*1")
    assert (ran.status, ran.reference) == ("paid", paid.reference)
    (after,) = occurrences(db, made)
    assert (after.status, after.transaction_id, after.attempts) == ("paid", paid.transaction_id, 1)
    assert wallet_balance(db, users[1]) == AMOUNT
    assert len(scheduled_payment_keys(db)) == 1
    assert check_ledger(db) == CLEAN


@pytest.mark.parametrize("change", [manage.pause, manage.stop])
def test_a_payment_made_before_a_crash_is_recorded_paid_when_the_schedule_is_then_halted(
    clean_database, users, change
):
    db = clean_database
    fund(db, phone_of(1), 10 * AMOUNT)
    made = schedule_transfer(
        db, owner=users[0], to=phone_of(2), amount=AMOUNT, frequency="weekly", day=1,
        at=time(9, 0), start=date(2027, 6, 1), now=NOW,
    )  # fmt: skip
    due = eat(2027, 6, 7, 9)
    runs.materialise_due(UnitOfWork(db), due, shortcode="*1#")
    (occurrence,) = occurrences(db, made)
    with UnitOfWork(db) as uow:
        schedule = uow.schedules.get(made)
    # The worker paid, then died before recording it; the owner then pauses or stops.
    paid = EXECUTORS["transfer"].pay(
        UnitOfWork(db), schedule, runs.occurrence_key(occurrence.id), due, due, bill_rails=()
    )
    change(UnitOfWork(db), users[0], made, due + timedelta(minutes=1))

    (after,) = occurrences(db, made)
    assert (after.status, after.transaction_id) == ("paid", paid.transaction_id)
    assert after.reason is None
    assert (
        runs.run_next(UnitOfWork(db), UnitOfWork(db), due + timedelta(days=1), shortcode="*1")
        is None
    )
    assert wallet_balance(db, users[1]) == AMOUNT
    assert check_ledger(db) == CLEAN


def test_workers_racing_on_the_same_occurrences_pay_each_once(crowd, users):
    payers = users[:5]
    for n in range(1, 6):
        fund(crowd, phone_of(n), 10 * AMOUNT)
    made = [
        schedule_transfer(
            crowd,
            owner=payer,
            to=phone_of(10),
            amount=AMOUNT,
            frequency="weekly",
            day=1,
            at=time(9, 0),
            start=date(2027, 6, 1),
            now=NOW,
        )
        for payer in payers
    ]
    due = eat(2027, 6, 7, 9)
    jobs = [ScheduledPaymentsJob(crowd, shortcode="*1#", clock=lambda: due) for _ in range(4)]
    barrier = threading.Barrier(len(jobs))
    passes: list = []

    def work(job: ScheduledPaymentsJob) -> None:
        barrier.wait()
        passes.append(job.run_once())

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran = [r for done in passes for r in done.ran]
    assert sorted(r.schedule_id for r in ran) == sorted(made)
    assert {r.status for r in ran} == {"paid"}
    for schedule in made:
        assert [o.status for o in occurrences(crowd, schedule)] == ["paid"]
    assert len(scheduled_payment_keys(crowd)) == 5
    assert wallet_balance(crowd, users[9]) == 5 * AMOUNT
    assert check_ledger(crowd) == CLEAN


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE scheduled_occurrences SET status = 'due', paid_at = NULL, transaction_id = NULL",
        "UPDATE scheduled_occurrences SET due_at = due_at + interval '1 day'",
        "DELETE FROM scheduled_occurrences",
        "UPDATE scheduled_payments SET amount = amount + 1",
        "DELETE FROM scheduled_payments",
    ],
)
def test_the_database_refuses_to_undo_or_edit_what_happened(clean_database, users, statement):
    db = clean_database
    fund(db, phone_of(1), 10 * AMOUNT)
    schedule_transfer(
        db, owner=users[0], to=phone_of(2), amount=AMOUNT, frequency="weekly", day=1,
        at=time(9, 0), start=date(2027, 6, 1), now=NOW,
    )  # fmt: skip
    ScheduledPaymentsJob(db, shortcode="*1#", clock=lambda: eat(2027, 6, 7, 9)).run_once()
    with db.connection() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute(statement)
        conn.rollback()


def test_a_stopped_schedule_stays_stopped_in_the_database(clean_database, users):
    db = clean_database
    made = schedule_transfer(
        db, owner=users[0], to=phone_of(2), amount=AMOUNT, frequency="weekly", day=1,
        at=time(9, 0), start=date(2027, 6, 1), now=NOW,
    )  # fmt: skip
    manage.stop(UnitOfWork(db), users[0], made, NOW)
    assert schedule_status(db, made) == ("stopped", 0)
    with db.connection() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute(
                "UPDATE scheduled_payments SET status = 'active', stopped_at = NULL WHERE id = %s",
                (made,),
            )
        conn.rollback()


def test_every_worker_runs_the_scheduled_payments_job(settings, clean_database):
    from app.worker import loops as worker_loops

    names = [loop.name for loop in worker_loops.build_loops(settings, clean_database)]
    assert "scheduled-payments" in names
