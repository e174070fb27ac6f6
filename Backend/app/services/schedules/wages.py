"""Recurring pay runs: a worker's pay on a schedule (docs/wages.md, "Recurring pay
runs"). A wage schedule is a scheduled payment of kind 'wage' (services/schedules/):
the same dates (monthly on a day, 31 the month's last; weekly on a weekday), the same
day-before SMS to the employer, the same no-funds policy (retried twice a day apart,
then skipped; three skips in a row pause it). Each occurrence makes and approves a
pay run of the worker (WageExecutor); pausing, resuming and stopping are the
scheduled payments' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.domain.records.schedules import Schedule
from app.errors import refused
from app.services.schedules import manage
from app.services.wages import employers, pay_runs

KIND = "wage"
# A worker paid daily has no schedule of this kind: schedules are weekly or monthly.
SCHEDULED_FREQUENCIES = ("weekly", "monthly")


@dataclass(frozen=True)
class NewWageSchedule:
    employer_user_id: int
    worker_id: int
    day: int  # monthly: 1-31 (31: the last day); weekly: 1-7 (Monday 1)
    at_time: time  # Nairobi
    start_date: date
    idempotency_key: str
    channel: str  # ussd | api
    until_date: date | None = None
    count: int | None = None


def schedule_pay(uow: UnitOfWork, new: NewWageSchedule, now: datetime) -> manage.Created:
    """The worker's pay on a schedule, at the worker's frequency; commits. Its amount is
    the worker's whole cost (gross pay and the employer's shares) under today's rules:
    what the day-before SMS asks the employer to have. Idempotent as manage.create.
    Raises NotAnEmployer, WorkerNotFound, IdempotencyConflict, ValidationFailed
    ('daily_not_scheduled', 'no_rule_in_force', 'pay_too_low' and manage.create's)."""
    worker = employers.find_worker(uow, new.employer_user_id, new.worker_id)
    if worker.frequency not in SCHEDULED_FREQUENCIES:
        raise refused("daily_not_scheduled", "a worker paid daily is paid by a pay run")
    with uow:
        [(_, slip)] = pay_runs.payslips(uow, [worker], nairobi_day(now))
    return manage.create(
        uow,
        manage.NewSchedule(
            owner_user_id=new.employer_user_id,
            kind=KIND,
            payee=str(worker.id),
            amount=slip.gross + slip.employer_contributions,
            frequency=worker.frequency,
            day=new.day,
            at_time=new.at_time,
            start_date=new.start_date,
            until_date=new.until_date,
            count=new.count,
            idempotency_key=new.idempotency_key,
            channel=new.channel,
        ),
        now,
    )


def list_wage_schedules(uow: UnitOfWork, employer_user_id: int) -> list[Schedule]:
    """The employer's wage schedules, newest first (live and the latest ended); reads
    only. Raises nothing."""
    found = manage.list_for(uow, employer_user_id, limit=manage.MAX_SHOWN)
    return [schedule for schedule in found if schedule.kind == KIND]


def next_pay_dates(uow: UnitOfWork, user_id: int, limit: int = 3) -> list[tuple[str, datetime]]:
    """For the user as a worker: each employer's name and the next instant an active wage
    schedule pays them, soonest first; reads only. Raises nothing."""
    with uow:
        user = uow.users.get_by_id(user_id)
        return [] if user is None else uow.wages.next_pay_dates(user.phone, limit)
