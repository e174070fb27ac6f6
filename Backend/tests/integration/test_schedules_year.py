"""A year of scheduled payments driven by a clock, through the worker's own job.

From 1 Dec 2027 to 1 Dec 2028 (2028 is a leap year), the job runs every hour on the
hour, except for three days when the worker is down. Schedules: rent monthly on the
31st, school fees monthly on the 29th (12 times), wages weekly on Fridays, and a payer
who runs out of funds. At the end every occurrence is accounted for exactly once: paid
by one journal transaction, or skipped with its reason; the ledger checks clean.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.schedules import manage
from app.services.schedules.runs import instant_key
from app.worker.schedules import ScheduledPaymentsJob
from tests.support.schedules import (
    eat,
    occurrences,
    schedule_status,
    schedule_transfer,
    scheduled_payment_keys,
    sms_keys,
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
START = eat(2027, 12, 1)
END = eat(2028, 12, 1)
DOWN_FROM, DOWN_UNTIL = eat(2028, 3, 29), eat(2028, 4, 1)
RENT, FEES, WAGES, SMALL = 1_500_000, 1_000_000, 300_000, 100_000
# The seeded transfer fee of each amount (0002_ledger.sql).
FEE = {RENT: 5_000, FEES: 5_000, WAGES: 2_500, SMALL: 1_000}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self):
        return self.now


@pytest.fixture
def people(clean_database, settings):
    box, pin_hash = registration_secrets(settings)
    names = ["tenant", "landlord", "school", "employer", "worker", "saver", "chama"]
    return {
        name: register(clean_database, box, pin_hash, phone=phone_of(n), name=name.title())
        for n, name in enumerate(names, start=1)
    }


def test_a_year_of_schedules_accounts_for_every_occurrence_once(clean_database, people):
    db, clock = clean_database, Clock()
    phone = {name: phone_of(n) for n, name in enumerate(people, start=1)}
    fund(db, phone["tenant"], 12 * (RENT + FEE[RENT]) + 12 * (FEES + FEE[FEES]), "tenant")
    # The employer has ten weeks of wages, then tops up the Saturday after the 11th
    # Friday: that Friday's wages are short, and paid by the retry a day later.
    fund(db, phone["employer"], 10 * (WAGES + FEE[WAGES]), "employer-1")
    # The saver can pay twice, then nothing until June.
    fund(db, phone["saver"], 2 * (SMALL + FEE[SMALL]) + 5_000, "saver-1")

    rent = schedule_transfer(
        db, owner=people["tenant"], to=phone["landlord"], amount=RENT, frequency="monthly",
        day=31, at=time(9, 0), start=date(2027, 12, 1), until=date(2028, 11, 30), now=START,
    )  # fmt: skip
    fees = schedule_transfer(
        db, owner=people["tenant"], to=phone["school"], amount=FEES, frequency="monthly",
        day=29, at=time(8, 0), start=date(2027, 12, 1), count=12, now=START,
    )  # fmt: skip
    wages = schedule_transfer(
        db, owner=people["employer"], to=phone["worker"], amount=WAGES, frequency="weekly",
        day=5, at=time(17, 0), start=date(2027, 12, 1), until=date(2028, 11, 30), now=START,
    )  # fmt: skip
    savings = schedule_transfer(
        db, owner=people["saver"], to=phone["chama"], amount=SMALL, frequency="monthly",
        day=15, at=time(12, 0), start=date(2027, 12, 1), count=12, now=START,
    )  # fmt: skip

    job = ScheduledPaymentsJob(db, shortcode="*384*123#", clock=clock)
    fridays = [eat(2027, 12, 3, 17) + timedelta(weeks=n) for n in range(52)]
    employer_top_up = fridays[10] + timedelta(hours=19)  # Saturday 12:00
    saver_back = eat(2028, 6, 1, 10)
    while clock.now < END:
        if clock.now == employer_top_up:
            fund(db, phone["employer"], 42 * (WAGES + FEE[WAGES]), "employer-2")
        if clock.now == saver_back:
            fund(db, phone["saver"], 6 * (SMALL + FEE[SMALL]), "saver-2")
            assert schedule_status(db, savings) == ("paused", 3)
            manage.resume(UnitOfWork(db), people["saver"], savings, clock.now)
        if not DOWN_FROM <= clock.now < DOWN_UNTIL:
            job.run_once()
        clock.now += timedelta(hours=1)

    # Rent on the 31st: the last day of shorter months, 29 Feb in 2028.
    rent_seen = occurrences(db, rent)
    assert [o.due_at for o in rent_seen] == [
        eat(2027, 12, 31, 9), eat(2028, 1, 31, 9), eat(2028, 2, 29, 9), eat(2028, 3, 31, 9),
        eat(2028, 4, 30, 9), eat(2028, 5, 31, 9), eat(2028, 6, 30, 9), eat(2028, 7, 31, 9),
        eat(2028, 8, 31, 9), eat(2028, 9, 30, 9), eat(2028, 10, 31, 9), eat(2028, 11, 30, 9),
    ]  # fmt: skip
    assert {(o.status, o.attempts, o.amount) for o in rent_seen} == {("paid", 1, RENT)}
    assert schedule_status(db, rent) == ("finished", 0)
    assert wallet_balance(db, people["landlord"]) == 12 * RENT

    # School fees on the 29th, twelve times: 29 Feb exists in 2028.
    fees_seen = occurrences(db, fees)
    assert [o.due_at.astimezone(eat(2028, 1, 1).tzinfo).date() for o in fees_seen] == [
        date(2027, 12, 29), date(2028, 1, 29), date(2028, 2, 29), date(2028, 3, 29),
        date(2028, 4, 29), date(2028, 5, 29), date(2028, 6, 29), date(2028, 7, 29),
        date(2028, 8, 29), date(2028, 9, 29), date(2028, 10, 29), date(2028, 11, 29),
    ]  # fmt: skip
    assert {o.status for o in fees_seen} == {"paid"}
    assert wallet_balance(db, people["school"]) == 12 * FEES
    assert wallet_balance(db, people["tenant"]) == 0

    # Wages every Friday; the 11th short once and paid by the retry a day later.
    wages_seen = occurrences(db, wages)
    assert [o.due_at for o in wages_seen] == fridays[:52]
    assert [o.attempts for o in wages_seen] == [1] * 10 + [2] + [1] * 41
    assert {o.status for o in wages_seen} == {"paid"}
    assert wallet_balance(db, people["worker"]) == 52 * WAGES
    assert sms_keys(db, "schedule_short:") == [f"schedule_short:{wages_seen[10].id}:1"] + [
        f"schedule_short:{o.id}:{n}" for o in occurrences(db, savings)[2:5] for n in (1, 2)
    ]

    # The saver: two paid, three skipped after three tries each (paused by the third),
    # nothing made while paused, then resumed in June and paid to the twelfth date.
    saved = occurrences(db, savings)
    assert [(o.due_at.month, o.status, o.attempts, o.reason) for o in saved] == [
        (12, "paid", 1, None),
        (1, "paid", 1, None),
        (2, "skipped", 3, "no_funds"),
        (3, "skipped", 3, "no_funds"),
        (4, "skipped", 3, "no_funds"),
        (6, "paid", 1, None),
        (7, "paid", 1, None),
        (8, "paid", 1, None),
        (9, "paid", 1, None),
        (10, "paid", 1, None),
        (11, "paid", 1, None),
    ]
    assert schedule_status(db, savings) == ("finished", 0)  # count 12 reached (May unpaid)
    assert wallet_balance(db, people["chama"]) == 8 * SMALL
    assert sms_keys(db, "schedule_skipped:") == [f"schedule_skipped:{o.id}" for o in saved[2:4]]
    assert sms_keys(db, "schedule_paused:") == [f"schedule_paused:{saved[4].id}"]

    # The three days down: what fell due then was made and paid on the first pass after,
    # each owner told once per schedule.
    late = [o for o in rent_seen + fees_seen + wages_seen if DOWN_FROM <= o.due_at < DOWN_UNTIL]
    assert len(late) == 3 and {o.status for o in late} == {"paid"}
    assert sorted(sms_keys(db, "schedule_caught_up:")) == sorted(
        f"schedule_caught_up:{schedule}:{instant_key(o.due_at)}"
        for schedule, o in zip(
            (rent, fees, wages), late_by_schedule(late, rent_seen, fees_seen), strict=True
        )
    )

    # Exactly once: one journal transaction per paid occurrence, and no other.
    paid = [o for o in rent_seen + fees_seen + wages_seen + saved if o.status == "paid"]
    assert len({o.transaction_id for o in paid}) == len(paid)
    keys = scheduled_payment_keys(db)
    assert sorted(keys) == sorted(set(keys))
    assert {key.rsplit(":", 1)[1] for key in keys} == {str(o.id) for o in paid}
    # One reminder per instant at most, a day before; none for instants missed while down.
    reminders = sms_keys(db, "schedule_reminder:")
    assert len(reminders) == len(set(reminders))
    assert f"schedule_reminder:{rent}:{instant_key(eat(2028, 2, 29, 9))}" in reminders
    assert f"schedule_reminder:{rent}:{instant_key(eat(2028, 3, 31, 9))}" not in reminders
    assert check_ledger(db) == CLEAN


def late_by_schedule(late, rent_seen, fees_seen):
    """The late occurrences in the order rent, fees, wages."""
    rent_ids, fees_ids = {o.id for o in rent_seen}, {o.id for o in fees_seen}
    return (
        next(o for o in late if o.id in rent_ids),
        next(o for o in late if o.id in fees_ids),
        next(o for o in late if o.id not in rent_ids | fees_ids),
    )
