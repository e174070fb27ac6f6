"""Bills and airtime as scheduled payments on real PostgreSQL: made with the biller's
checks, each occurrence held once by the worker (channel 'system', the occurrence's own
key) and then ended by the rail like any bill; no funds: retried twice over two days,
then skipped with an SMS, as every scheduled payment."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import AT_AIRTIME, BUILT_RAILS
from app.errors import BillerNotFound, BillerUnavailable, ValidationFailed
from app.services.schedules import manage, runs
from app.services.schedules.kinds import EXECUTORS
from app.worker.schedules import ScheduledPaymentsJob
from tests.support import seeds
from tests.support.bills import rows
from tests.support.schedules import eat, occurrences, sms_keys
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100
NOW = eat(2027, 6, 1, 10)
METER = "12345678901"
KPLC = seeds.biller("kplc_prepaid")


@pytest.fixture
def jane(clean_database, settings):
    box, pin_hash = registration_secrets(settings)
    return register(clean_database, box, pin_hash, phone=phone_of(1))


def new(owner: int, kind: str, payee: str, amount: int = 500 * KES, key: str = "k1"):
    return manage.NewSchedule(
        owner_user_id=owner, kind=kind, payee=payee, amount=amount, frequency="monthly",
        day=5, at_time=time(9, 0), start_date=date(2027, 6, 1), idempotency_key=key,
        channel="api",
    )  # fmt: skip


def create(db, schedule: manage.NewSchedule, rails=BUILT_RAILS) -> int:
    return manage.create(UnitOfWork(db), schedule, NOW, bill_rails=rails).schedule.id


def job(db, at, rails=BUILT_RAILS) -> ScheduledPaymentsJob:
    return ScheduledPaymentsJob(db, shortcode="*384#", bill_rails=rails, clock=lambda: at)


def test_a_monthly_kplc_bill_is_held_once_per_occurrence(clean_database, jane):
    db = clean_database
    fund(db, phone_of(1), 2_000 * KES)
    made = create(db, new(jane, "bill", f"kplc_prepaid:{METER}"))
    [(name,)] = rows(db, "SELECT payee_name FROM scheduled_payments")
    assert name == f"KPLC prepaid {METER}"
    due = eat(2027, 6, 5, 9)
    for at in (due, due + timedelta(minutes=1), due + timedelta(hours=2)):
        job(db, at).run_once()  # the same occurrence, run again: one bill
    [seen] = occurrences(db, made)
    assert seen.status == "paid" and seen.amount == 500 * KES
    [(account, channel, status)] = rows(db, "SELECT account, channel, status FROM bill_payments")
    assert (account, channel, status) == (METER, "system", "held")
    fee = seeds.fee(KPLC.fee_kind, 500 * KES)
    assert wallet_balance(db, jane) == 2_000 * KES - 500 * KES - fee
    [(kind,)] = rows(db, "SELECT kind FROM outbox WHERE kind <> 'sms'")
    assert kind == "daraja_b2b" and check_ledger(db).sound


def test_airtime_with_no_funds_is_retried_twice_then_skipped(clean_database, jane):
    db = clean_database
    made = create(db, new(jane, "airtime", f"airtime_safaricom:{phone_of(1)}", 100 * KES))
    due = eat(2027, 6, 5, 9)
    for days in range(3):
        job(db, due + timedelta(days=days, minutes=1)).run_once()
    [seen] = occurrences(db, made)
    assert (seen.status, seen.attempts, seen.reason) == ("skipped", 3, "no_funds")
    assert len(sms_keys(db, "schedule_short:")) == 2 and sms_keys(db, "schedule_skipped:")
    assert rows(db, "SELECT id FROM bill_payments") == []


@pytest.mark.parametrize(
    ("kind", "payee", "amount", "refused"),
    [
        ("bill", "kplc_prepaid", 500 * KES, "invalid_payee"),
        ("bill", f"airtime_safaricom:{phone_of(1)}", 500 * KES, "invalid_payee"),
        ("airtime", f"kplc_prepaid:{METER}", 500 * KES, "invalid_payee"),
        ("bill", "kplc_prepaid:123", 500 * KES, "invalid_account"),
        ("bill", f"kplc_prepaid:{METER}", KPLC.min_amount - KES, "invalid_amount"),
        ("bill", f"nobody:{METER}", 500 * KES, BillerNotFound),
    ],
)
def test_a_bill_schedule_is_checked_against_its_biller(clean_database, jane, kind, payee,
                                                       amount, refused):  # fmt: skip
    with pytest.raises((ValidationFailed, BillerNotFound)) as caught:
        create(clean_database, new(jane, kind, payee, amount))
    if isinstance(refused, str):
        assert caught.value.code == refused
    else:
        assert isinstance(caught.value, refused)


def test_a_biller_whose_rail_is_closed_here_cannot_be_scheduled(clean_database, jane):
    with pytest.raises(BillerUnavailable):
        create(clean_database, new(jane, "bill", f"kplc_prepaid:{METER}"), rails=(AT_AIRTIME,))


def test_a_bill_held_before_a_crash_is_recorded_paid_when_the_schedule_is_then_paused(
    clean_database, jane
):
    """The worker held the occurrence's bill, then died before recording it; the owner
    then pauses: the occurrence is recorded paid with that hold (its money moved), never
    skipped, and the bill is never held twice."""
    db = clean_database
    fund(db, phone_of(1), 2_000 * KES)
    made = create(db, new(jane, "bill", f"kplc_prepaid:{METER}"))
    due = eat(2027, 6, 5, 9)
    runs.materialise_due(UnitOfWork(db), due, shortcode="*384#")
    [occurrence] = occurrences(db, made)
    with UnitOfWork(db) as uow:
        schedule = uow.schedules.get(made)
    held = EXECUTORS["bill"].pay(
        UnitOfWork(db),
        schedule,
        runs.occurrence_key(occurrence.id),
        due,
        due,
        bill_rails=BUILT_RAILS,
    )
    manage.pause(UnitOfWork(db), jane, made, due + timedelta(minutes=1))

    [after] = occurrences(db, made)
    assert (after.status, after.transaction_id) == ("paid", held.transaction_id)
    job(db, due + timedelta(days=1)).run_once()
    assert len(rows(db, "SELECT id FROM bill_payments")) == 1
    assert check_ledger(db).sound
