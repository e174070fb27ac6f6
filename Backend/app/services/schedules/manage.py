"""The owner's side of scheduled payments: create, list, show, pause, resume, stop.

Only the owner sees or changes a schedule: another user's id answers ScheduleNotFound,
as if absent. Pausing or stopping skips the open occurrences in the same transaction
(reason 'paused' / 'stopped'), under the schedule's row lock, so the worker never pays
an occurrence of a schedule the owner has paused: it claims the schedule's row with the
occurrence's (services/schedules/runs.py) and skips what it cannot lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain import schedules as rules
from app.domain.bills import AT_AIRTIME
from app.domain.money import nairobi_day
from app.domain.records.schedules import (
    ACTIVE,
    FINISHED,
    PAUSED,
    STOPPED,
    Schedule,
    ScheduleWithOccurrences,
)
from app.errors import IdempotencyConflict, ScheduleEnded, ScheduleNotFound, refused
from app.services.ledger import check_amount, check_key, request_hash
from app.services.schedules import runs
from app.services.schedules.kinds import EXECUTORS
from app.services.transfers import NOTE_MAX

# A user's active and paused schedules at most: a bound on what the dial pages through
# and on what one wallet can have the worker do.
MAX_LIVE = 20
# A list shows this many at most: every live one, and the latest ended ones.
MAX_SHOWN = 50
OCCURRENCES_SHOWN = 50
CHANNELS = ("ussd", "api")

_RULE_PROBLEMS = {
    "frequency": "frequency: weekly or monthly",
    "day": "day: 1-7 (Monday 1) weekly, 1-31 monthly",
    "until": f"until: on or after start, at most {rules.MAX_YEARS} years on",
    "count": f"count: 1 to {rules.MAX_COUNT}",
    "until_and_count": "give until or count, not both",
}


@dataclass(frozen=True)
class NewSchedule:
    owner_user_id: int
    kind: str  # transfer
    payee: str  # transfer: the recipient's E.164 phone
    amount: int  # cents
    frequency: str
    day: int
    at_time: time  # Nairobi
    start_date: date
    idempotency_key: str
    channel: str
    until_date: date | None = None
    count: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Created:
    schedule: Schedule
    replayed: bool


# How far ahead a schedule may start.
START_WITHIN = timedelta(days=366)


def create(
    uow: UnitOfWork,
    new: NewSchedule,
    now: datetime,
    *,
    bill_rails: tuple[str, ...] = (AT_AIRTIME,),
) -> Created:
    """A new active schedule, its first occurrence the first instant after `now`;
    commits. The same key with the same request answers the same schedule (replayed);
    with another request, IdempotencyConflict. Raises ValidationFailed ('invalid_kind',
    'invalid_amount', 'invalid_schedule', 'invalid_start', 'invalid_note',
    'invalid_channel', 'invalid_idempotency_key', 'too_many_schedules', 'send_to_self';
    a bill's 'invalid_payee', 'invalid_account', 'not_on_network'), RecipientNotRegistered,
    BillerNotFound, BillerUnavailable (its rail is not among `bill_rails`:
    Settings.bill_rails)."""
    executor = EXECUTORS.get(new.kind)
    if executor is None:
        raise refused("invalid_kind", f"kind: one of {', '.join(EXECUTORS)}")
    check_amount(new.amount, maximum=executor.max_amount)
    key = check_key(new.idempotency_key)
    if new.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    if new.note is not None and len(new.note) > NOTE_MAX:
        raise refused("invalid_note", f"a note is at most {NOTE_MAX} characters")
    rule = rules.Recurrence(
        new.frequency, new.day, new.at_time, new.start_date, until=new.until_date, count=new.count
    )
    # Dates past year 9994 cannot even be reasoned about (five years on is past
    # date.max); nobody schedules rent that far out.
    if new.start_date > nairobi_day(now) + START_WITHIN:
        raise refused("invalid_start", "start: within a year from today")
    try:
        rules.check(rule)
    except rules.InvalidSchedule as bad:
        raise refused("invalid_schedule", _RULE_PROBLEMS[bad.reason]) from None
    if new.start_date < nairobi_day(now):
        raise refused("invalid_start", "start: today or later")
    first = rules.next_due(rule, now)
    if first is None:
        raise refused("invalid_schedule", "no date of this schedule is still to come")
    fingerprint = request_hash(
        kind=new.kind,
        payee=new.payee,
        amount=new.amount,
        frequency=new.frequency,
        day=new.day,
        at=new.at_time.isoformat(),
        start=new.start_date.isoformat(),
        until=new.until_date and new.until_date.isoformat(),
        count=new.count,
        note=new.note,
    )
    with uow:
        earlier = uow.schedules.by_key(new.owner_user_id, key)
    if earlier is not None:
        return _replay(earlier, fingerprint)
    payee = executor.payee(
        uow, new.owner_user_id, new.payee, amount=new.amount, bill_rails=bill_rails
    )
    with uow:
        if uow.schedules.lock_owner_and_count_live(new.owner_user_id) >= MAX_LIVE:
            raise refused("too_many_schedules", f"at most {MAX_LIVE} scheduled payments")
        made = uow.schedules.insert(
            owner_user_id=new.owner_user_id,
            kind=new.kind,
            payee=payee.key,
            payee_name=payee.name,
            amount=new.amount,
            note=new.note,
            frequency=new.frequency,
            day=new.day,
            at_time=new.at_time,
            start_date=new.start_date,
            until_date=new.until_date,
            max_count=new.count,
            next_due_at=first,
            channel=new.channel,
            idempotency_key=key,
            request_hash=fingerprint,
            created_at=now,
        )
        if made is None:  # a concurrent create with this key won
            earlier = uow.schedules.by_key(new.owner_user_id, key)
            assert earlier is not None
            return _replay(earlier, fingerprint)
        uow.commit()
    return Created(made, replayed=False)


def _replay(earlier: Schedule, fingerprint: str) -> Created:
    if earlier.request_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for another schedule")
    return Created(earlier, replayed=True)


def list_for(
    uow: UnitOfWork,
    owner_user_id: int,
    *,
    live_only: bool = False,
    limit: int = MAX_SHOWN,
    before_id: int | None = None,
) -> list[Schedule]:
    """The owner's schedules, newest first, older than before_id (live_only: active and
    paused); reads only."""
    with uow:
        return uow.schedules.for_owner(
            owner_user_id, live_only=live_only, limit=limit, before_id=before_id
        )


def show(uow: UnitOfWork, owner_user_id: int, schedule_id: int) -> ScheduleWithOccurrences:
    """The schedule with its latest occurrences and their outcomes; raises
    ScheduleNotFound."""
    with uow:
        schedule = _owned(uow, owner_user_id, schedule_id, for_update=False)
        found = uow.schedules.occurrences(schedule_id, OCCURRENCES_SHOWN)
    return ScheduleWithOccurrences(schedule, found)


def pause(uow: UnitOfWork, owner_user_id: int, schedule_id: int, now: datetime) -> Schedule:
    """Pause: nothing is paid until resumed, and open occurrences are skipped ('paused');
    commits. Pausing a paused schedule answers it as it is. Raises ScheduleNotFound,
    ScheduleEnded."""
    return _change(uow, owner_user_id, schedule_id, PAUSED, now)


def resume(uow: UnitOfWork, owner_user_id: int, schedule_id: int, now: datetime) -> Schedule:
    """Resume from the next instant after `now` (the paused ones are not made up for);
    finished when none is left; commits. Raises ScheduleNotFound, ScheduleEnded."""
    return _change(uow, owner_user_id, schedule_id, ACTIVE, now)


def stop(uow: UnitOfWork, owner_user_id: int, schedule_id: int, now: datetime) -> Schedule:
    """Stop for good; open occurrences are skipped ('stopped'); commits. Stopping a
    stopped schedule answers it as it is. Raises ScheduleNotFound, ScheduleEnded
    (finished)."""
    return _change(uow, owner_user_id, schedule_id, STOPPED, now)


CHANGES = {"pause": pause, "resume": resume, "stop": stop}


def _change(
    uow: UnitOfWork, owner_user_id: int, schedule_id: int, status: str, now: datetime
) -> Schedule:
    with uow:
        schedule = _owned(uow, owner_user_id, schedule_id, for_update=True)
        if schedule.status == status:
            return schedule
        if schedule.status in (STOPPED, FINISHED):
            raise ScheduleEnded(f"this scheduled payment is {schedule.status}")
        next_due = None
        if status == ACTIVE:
            next_due = rules.next_due(schedule.rule, now)
            status = ACTIVE if next_due is not None else FINISHED
        else:
            runs.halt_open(uow, schedule, status, now)
        changed = uow.schedules.set_status(
            schedule_id, status=status, now=now, next_due_at=next_due
        )
        assert changed is not None  # locked above, and live
        uow.commit()
    return changed


def _owned(uow: UnitOfWork, owner_user_id: int, schedule_id: int, *, for_update: bool) -> Schedule:
    schedule = uow.schedules.get(schedule_id, for_update=for_update)
    if schedule is None or schedule.owner_user_id != owner_user_id:
        raise ScheduleNotFound("no such scheduled payment")
    return schedule
